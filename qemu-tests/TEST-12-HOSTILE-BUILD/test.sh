#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-12-HOSTILE-BUILD: bad DKMS packages at boot, beside a good one. The
# guest (Debian's defaults, our `make install` tree) has three modules
# registered for the running kernel, none built: hang (its build never
# ends), broken (a compile error) and hello (fine, listed in
# modules-load.d); boot_budget=60; a display manager that needs nothing.
# Boot 1: the agent holds the boot for its budget at most, then the boot
# goes on (the display manager starts after it); the journal names hang;
# `dkms-agent check` (and --json) reports hang and broken, with the
# compiler's error from broken's build log; nothing else is lost: hello is
# built, installed and loaded, and the initramfs is intact.
# (This covers what TEST-05-BUILD-FAILURE did.)
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 700 s (run-all starts the longest first; the last run's time wins)
QT_FLAVOUR=debian

test_setup() {
	qt_prepare
	qt_setup_boot
}

test_run() {
	local before=$LOGDIR/initramfs-before.txt after=$LOGDIR/initramfs-after.txt
	"$TOP/$O/dkms-agent" initramfs list "$WORK/boot/initrd.img-$QT_KVER_BASE" >"$before" 2>&1 ||
		qt_fail "cannot list the initramfs before the boot"
	qt_boot 1
	qt_expect "$QT_LAST_LOG" "STANDIN-DM-STARTED" "display manager despite the hung build"
	qt_expect "$QT_LAST_LOG" "TEST-12-HOSTILE-PASS-1c9d" "hung and failed build checks"
	"$TOP/$O/dkms-agent" initramfs list "$WORK/boot/initrd.img-$QT_KVER_BASE" >"$after" 2>&1 ||
		qt_fail "the initramfs cannot be read after the boot with a hung build"
	if ! diff <(grep -v -i segment "$before" | sort) <(grep -v -i segment "$after" | sort) >/dev/null; then
		grep -q "hello" "$after" || qt_fail "the initramfs changed, and not by hello (see $before, $after)"
	fi
	qt_proved "a build that never ends held the boot $(qt_value "$QT_LAST_LOG" agent-s) s (budget 60 s, exit status $(qt_value "$QT_LAST_LOG" agent-status)): the display manager started, the journal and check name hang, check shows broken's compiler error, hello was built, installed and loaded, the initramfs is intact"
}

qt_main "$@"; exit $?
