#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-07-DEBIAN-UPGRADE: a kernel upgrade on Debian, the default way. The
# guest has Debian's defaults (initramfs-tools) and runs kernel N-1.
#   boot 1 (kernel N-1, systemd): apt-get install our .deb (`make deb`; the
#     `make install` tree when there is none), then a real *-dkms package
#     from Debian's archive (acpi-call-dkms: its maintainer scripts build
#     acpi_call with our dkms), loaded at boot (modules-load.d) and early
#     (early_modules=); then apt-get install linux-image-N linux-headers-N:
#     our kernel hook builds acpi_call for N before initramfs-tools makes
#     N's image, which holds it (lsinitramfs, in the guest and on the host).
#   boot 2 (kernel N): acpi_call is loaded on the first boot, the agent had
#     nothing to build, check is clean.
# No setup boot: everything the user does is done with apt in boot 1.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 1500 s (run-all starts the longest first; the last run's time wins)
QT_FLAVOUR=debian

# Boot 1 installs two packages (one builds), then unpacks a whole Debian
# kernel under TCG (4,000 modules), builds acpi_call for it and runs
# initramfs-tools.
QT_BOOT_TIMEOUT=${QT_BOOT_TIMEOUT_UPGRADE:-3000}

test_setup() {
	qt_guest_kvers
	[ -n "$QT_KVER_NEW" ] || qt_skip "the archive has only one kernel ABI of this series: no upgrade to test"
	qt_prepare
}

test_run() {
	qt_boot 1 "$QT_KVER_BASE"
	qt_expect "$QT_LAST_LOG" "TEST-07-UPGRADE-BOOT1-PASS-0d3e" "boot 1 (apt-get install kernel $QT_KVER_NEW)"
	local how
	how=$(qt_value "$QT_LAST_LOG" agent-installed-as)
	"$TOP/$O/dkms-agent" initramfs list "$WORK/boot/initrd.img-$QT_KVER_NEW" >"$LOGDIR/initramfs-new.txt" 2>&1 ||
		qt_fail "cannot read the initramfs of $QT_KVER_NEW (see $LOGDIR/initramfs-new.txt)"
	grep -q "/$QT_DKMS_MOD\.ko" "$LOGDIR/initramfs-new.txt" ||
		qt_fail "the initramfs of $QT_KVER_NEW has no $QT_DKMS_MOD.ko (see $LOGDIR/initramfs-new.txt)"
	qt_boot 2 "$QT_KVER_NEW"
	qt_expect "$QT_LAST_LOG" "TEST-07-UPGRADE-BOOT2-PASS-0d3e" "boot 2 (first boot of $QT_KVER_NEW)"
	qt_proved "with our agent ($how) and initramfs-tools, apt-get install of kernel $QT_KVER_NEW built $QT_DKMS_MOD ($QT_DKMS_PKG, installed with apt) before the image was made, lsinitramfs shows it, and the first boot of $QT_KVER_NEW loaded it with nothing left to build"
}

qt_main "$@"; exit $?
