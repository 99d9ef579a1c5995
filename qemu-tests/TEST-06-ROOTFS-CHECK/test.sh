#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-06-ROOTFS-CHECK: inside a booted guest whose root is ext4 on a virtio
# disk, `dkms-agent check` (plain and --json) names the root file system's
# type and device, as libblkid sees them; blkid(8) and findmnt(8) in the
# guest are the reference.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 300 s (run-all starts the longest first; the last run's time wins)

test_setup() {
	qt_prepare
	qt_has_verb check || qt_fail "dkms-agent has no 'check' verb"
	qt_setup_boot
}

test_run() {
	qt_boot 1
	qt_expect "$QT_LAST_LOG" "TEST-06-ROOTFS-PASS-a41d" "root file system check"
}

qt_main "$@"; exit $?
