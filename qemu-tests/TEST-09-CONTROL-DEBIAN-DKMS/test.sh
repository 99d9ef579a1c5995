#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-09-CONTROL-DEBIAN-DKMS: the control run of TEST-08, without our agent.
# Same guest, same packages, same steps, but Debian's own dkms (3.0.10, from
# the archive, pulled in by acpi-call-dkms) instead of ours: on the first
# boot of kernel N (no headers) acpi-call-dkms is installed, then
# linux-headers-N. Debian's header hook builds acpi_call, but it is not
# loaded (the machine needs another reboot) and N's initramfs lacks it.
# The test passes when that failure shows: it is what TEST-08 proves we
# prevent. If Debian's dkms ever loads the module here, TEST-08 proves
# nothing and this test fails.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 1100 s (run-all starts the longest first; the last run's time wins)
QT_FLAVOUR=debian-newk
QT_BOOT_TIMEOUT=${QT_BOOT_TIMEOUT_HEADERS:-2400}

test_setup() {
	qt_guest_kvers
	[ -n "$QT_KVER_NEW" ] || qt_skip "the archive has only one kernel ABI of this series"
	qt_prepare
}

test_run() {
	qt_boot 1 "$QT_KVER_NEW"
	qt_expect "$QT_LAST_LOG" "TEST-09-CONTROL-PASS-52c8" "control run"
	qt_proved "without our agent (Debian's dkms $(qt_value "$QT_LAST_LOG" debian-dkms)), after the headers of $QT_KVER_NEW arrived $QT_DKMS_MOD is $(qt_value "$QT_LAST_LOG" control-state): the failure TEST-08 prevents"
}

qt_main "$@"; exit $?
