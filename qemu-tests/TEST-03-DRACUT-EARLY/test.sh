#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-03-DRACUT-EARLY: with our dracut module installed (make install), a
# dracut run in the guest builds the DKMS modules for the image's kernel and
# puts the early one (qtpci, a driver for QEMU's pci-testdev, listed in
# early_modules=) into the image. At boot udev loads it inside the
# initramfs, before the switch to the real root, and the module's pre-pivot
# diagnostic reports a module that failed to build (broken).
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 700 s (run-all starts the longest first; the last run's time wins)

# The setup boot builds two modules and runs dracut under TCG.
QT_SETUP_TIMEOUT=${QT_SETUP_TIMEOUT_DRACUT:-1800}

QT_QEMU_ARGS=(-device pci-testdev)

test_setup() {
	qt_prepare
	qt_has_verb early-modules || qt_fail "dkms-agent has no 'early-modules' verb"
	qt_setup_boot
	local img=$WORK/boot/initrd.img-$QT_KVER_BASE
	if command -v lsinitrd >/dev/null; then
		lsinitrd "$img" >"$LOGDIR/lsinitrd.txt" 2>&1 || true
	else
		"$TOP/$O/dkms-agent" initramfs list "$img" >"$LOGDIR/lsinitrd.txt" 2>&1 || true
	fi
	grep -q "updates/dkms/qtpci\.ko" "$LOGDIR/lsinitrd.txt" ||
		qt_fail "the dracut image has no qtpci.ko (see $LOGDIR/lsinitrd.txt)"
	grep -q "dkms-agent" "$LOGDIR/lsinitrd.txt" ||
		qt_fail "the dracut image has no dkms-agent pre-pivot hook"
}

test_run() {
	qt_boot 1
	qt_expect "$QT_LAST_LOG" "qtpci: loaded" "qtpci's load message"
	qt_expect "$QT_LAST_LOG" "TEST-03-DRACUT-PASS-5d08" "early-load checks"
}

qt_main "$@"; exit $?
