#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-04-APPEND-REFRESH: with initramfs=append and qtpci (a driver for QEMU's
# pci-testdev) among the early modules, boot 1's dkms-agent.service builds
# qtpci and appends a zstd cpio segment with it (and the module indexes) to
# the existing initramfs instead of regenerating it. The host checks the
# image's segments; boot 2 loads qtpci from that segment, inside the
# initramfs, before the switch to the real root.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 600 s (run-all starts the longest first; the last run's time wins)

QT_QEMU_ARGS=(-device pci-testdev)

test_setup() {
	qt_prepare
	qt_has_verb initramfs || qt_fail "dkms-agent has no 'initramfs' verb"
	qt_setup_boot
}

# segments FILE: "dkms-agent initramfs list" of the guest's image, by the
# host's binary (reading a test file, not the host's /boot).
segments() {
	"$TOP/$O/dkms-agent" initramfs list "$WORK/boot/initrd.img-$QT_KVER_BASE" >"$1" 2>&1 ||
		qt_fail "dkms-agent initramfs list failed: $(tail -n3 "$1")"
}

test_run() {
	local before=$LOGDIR/initramfs-before.txt after=$LOGDIR/initramfs-after.txt
	segments "$before"
	grep -q "qtpci" "$before" && qt_fail "qtpci is in the initramfs before the agent ran"
	qt_boot 1
	qt_expect "$QT_LAST_LOG" "TEST-04-APPEND-BOOT1-PASS-c7e1" "boot 1 (build + append)"
	segments "$after"
	grep -q "qtpci\.ko" "$after" || qt_fail "no qtpci.ko in the initramfs after the append (see $after)"
	grep -q -i "zstd" "$after" || qt_fail "no zstd segment in the initramfs (see $after)"
	[ "$(grep -c -i 'segment' "$after")" -gt "$(grep -c -i 'segment' "$before")" ] ||
		qt_fail "the initramfs has no more segments than before (see $before, $after)"
	qt_boot 2
	qt_expect "$QT_LAST_LOG" "TEST-04-APPEND-BOOT2-PASS-c7e1" "boot 2 (load from the appended segment)"
}

qt_main "$@"; exit $?
