#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-11-MKINITCPIO: an initramfs made by the real mkinitcpio (Arch's
# generator, built at test time from its release tarball by
# .ci/build-mkinitcpio, never committed) with our hook, for the Debian
# kernel, and booted. In the setup boot, with our `make install` tree (the
# files Arch's package ships), qtpci (a driver for QEMU's pci-testdev) is
# registered but not built and listed in early_modules=; mkinitcpio runs
# with HOOKS=(... modconf dkms-agent ...): our hook builds qtpci and puts it
# in the image. The host boots that image: udev in the initramfs loads qtpci
# before the real root's systemd starts.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
QT_FLAVOUR=debian
# qt-estimate: 700 s (run-all starts the longest first; the last run's time wins)
QT_QEMU_ARGS=(-device pci-testdev)

# The setup boot installs libarchive-tools, builds qtpci and runs mkinitcpio.
QT_SETUP_TIMEOUT=${QT_SETUP_TIMEOUT_MKINITCPIO:-1800}

test_setup() {
	qt_prepare
	qt_has_verb early-modules || qt_fail "dkms-agent has no 'early-modules' verb"
	# bindir /usr/sbin: mkinitcpio runs with PATH=bindir:/bin, and Debian
	# keeps depmod, modprobe, blkid and switch_root in /usr/sbin.
	BINDIR=/usr/sbin "$TOP/.ci/build-mkinitcpio" "$WORK/payload/mkinitcpio" >"$LOGDIR/build-mkinitcpio.log" 2>&1 ||
		{ cat "$LOGDIR/build-mkinitcpio.log" >&2; qt_fail "building mkinitcpio from its tarball failed"; }
	qt_log "$(tail -n1 "$LOGDIR/build-mkinitcpio.log")"
	qt_setup_boot
	local img=$WORK/boot/initramfs-$QT_KVER_BASE.img
	[ -s "$img" ] || qt_fail "mkinitcpio made no /boot/initramfs-$QT_KVER_BASE.img"
	"$TOP/$O/dkms-agent" initramfs list "$img" >"$LOGDIR/lsinitcpio.txt" 2>&1 ||
		qt_fail "dkms-agent initramfs list cannot read mkinitcpio's image (see $LOGDIR/lsinitcpio.txt)"
	grep -q "updates/dkms/qtpci\.ko" "$LOGDIR/lsinitcpio.txt" ||
		qt_fail "the mkinitcpio image has no qtpci.ko (see $LOGDIR/lsinitcpio.txt)"
	grep -q "usr/bin/dkms-agent" "$LOGDIR/lsinitcpio.txt" ||
		qt_fail "the mkinitcpio image has no dkms-agent (the runtime hook's program)"
}

test_run() {
	# Debian's /sbin/init is an absolute link (/lib/systemd/systemd), which
	# mkinitcpio's init looks for under /new_root before switch_root, where
	# it resolves in the initramfs ("/sbin/init does not exist"); Arch's is
	# relative. The boot loader line names it, as on such a system.
	QT_CMDLINE="$QT_CMDLINE init=/lib/systemd/systemd" QT_INITRD=initramfs-$QT_KVER_BASE.img qt_boot 1
	qt_expect "$QT_LAST_LOG" "qtpci: loaded" "qtpci's load message"
	qt_expect "$QT_LAST_LOG" "TEST-11-MKINITCPIO-PASS-94b0" "early load from the mkinitcpio image"
	qt_proved "mkinitcpio $(qt_value "$QT_LAST_LOG" mkinitcpio-version) with our hook built qtpci for the Debian kernel $QT_KVER_BASE and put it in the image; booted, the initramfs loaded it before the real root's systemd started"
}

qt_main "$@"; exit $?
