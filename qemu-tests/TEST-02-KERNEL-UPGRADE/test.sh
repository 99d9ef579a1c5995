#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-02-KERNEL-UPGRADE: the guest runs kernel ABI N-1 with hello built and
# installed. Boot 1 installs Debian's packages of the newest ABI N (image and
# headers, as an upgrade of linux-image-amd64 would) with dpkg: our
# /etc/kernel hooks build hello for N before dracut makes N's initramfs.
# Boot 2 runs kernel N: hello is there and loaded, and the boot-time agent
# had nothing to build.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 1500 s (run-all starts the longest first; the last run's time wins)

# Boot 1 unpacks a whole Debian kernel package (~4,000 modules) under TCG,
# then builds and runs dracut: far more than a plain boot.
QT_BOOT_TIMEOUT=${QT_BOOT_TIMEOUT_UPGRADE:-2400}

test_setup() {
	qt_guest_kvers
	[ -n "$QT_KVER_NEW" ] || qt_skip "the archive has only one kernel ABI of this series: no upgrade to test"
	qt_prepare
	qt_has_verb kernel-install || qt_fail "dkms-agent has no 'kernel-install' verb"
	# The new kernel's packages, fetched on the host with apt (cached).
	local debs=$QT_CACHE/debs/$QT_KVER_NEW p
	if ! [ -s "$debs/.complete" ]; then
		rm -rf "$debs"
		mkdir -p "$debs"
		for p in "linux-image-$QT_KVER_NEW" "linux-headers-$QT_KVER_NEW" \
			"linux-headers-${QT_KVER_NEW%-amd64}-common"; do
			(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$p" >/dev/null) || qt_fail "apt-get download $p failed"
		done
		touch "$debs/.complete"
	fi
	mkdir -p "$WORK/payload/debs"
	cp "$debs"/*.deb "$WORK/payload/debs/"
	qt_setup_boot
}

test_run() {
	qt_boot 1 "$QT_KVER_BASE"
	qt_expect "$QT_LAST_LOG" "TEST-02-UPGRADE-BOOT1-PASS-61fa" "boot 1 (install kernel $QT_KVER_NEW)"
	qt_boot 2 "$QT_KVER_NEW"
	qt_expect "$QT_LAST_LOG" "TEST-02-UPGRADE-BOOT2-PASS-61fa" "boot 2 (kernel $QT_KVER_NEW)"
}

qt_main "$@"; exit $?
