#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-08-HEADERS-LATE: the kernel arrives without its headers (as on many
# desktops: linux-image-amd64 upgraded, no linux-headers-amd64), the headers
# later. The guest (Debian's defaults) has kernel N installed without its
# headers package (linux-headers-N-common, which is useless alone, is there)
# and boots it for the first time:
#   apt-get install our .deb and a real *-dkms package from the archive
#   (acpi-call-dkms, loaded at boot and early): nothing can be built for the
#   running kernel, check says the headers are missing. Then apt-get install
#   linux-headers-N: our header hook builds and installs acpi_call, loads it
#   into the running kernel without a reboot, and N's initramfs holds it.
# TEST-09-CONTROL-DEBIAN-DKMS runs the same steps with Debian's dkms.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 1200 s (run-all starts the longest first; the last run's time wins)
QT_FLAVOUR=debian-newk

# The boot installs three packages (one with 6,500 files) under TCG and
# builds once.
QT_BOOT_TIMEOUT=${QT_BOOT_TIMEOUT_HEADERS:-2400}

test_setup() {
	qt_guest_kvers
	[ -n "$QT_KVER_NEW" ] || qt_skip "the archive has only one kernel ABI of this series"
	qt_prepare
}

test_run() {
	qt_boot 1 "$QT_KVER_NEW"
	qt_expect "$QT_LAST_LOG" "TEST-08-HEADERS-LATE-PASS-7a41" "headers arriving late"
	local bg=
	[ "$(qt_value "$QT_LAST_LOG" hook-finished-in-background)" != yes ] ||
		bg=" (the hook's budget ran out: apt returned first, the agent finished in the background)"
	qt_proved "kernel $QT_KVER_NEW booted without headers: $QT_DKMS_MOD could not be built and check said why; apt-get install linux-headers-$QT_KVER_NEW then built, installed and loaded it in the running kernel (no reboot) and put it in $QT_KVER_NEW's initramfs$bg"
}

qt_main "$@"; exit $?
