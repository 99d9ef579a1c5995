#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-01-BOOT-RESCUE: a DKMS module is registered but was never built for
# the running kernel, and a (stand-in) display manager cannot start without
# it. Boot 1: dkms-agent.service, ordered before display-manager.service,
# builds, installs and loads it; the display manager then starts. Boot 2:
# nothing is missing and the agent takes its fast path; its run time (from
# systemd's bookkeeping of the unit) is printed for both boots.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 700 s (run-all starts the longest first; the last run's time wins)

test_setup() {
	qt_prepare
	qt_has_verb boot || qt_fail "dkms-agent has no 'boot' verb"
	qt_setup_boot
}

test_run() {
	local ms1 ms2
	qt_boot 1
	qt_expect "$QT_LAST_LOG" "STANDIN-DM-STARTED module hello loaded" "display manager after the rescue"
	qt_expect "$QT_LAST_LOG" "TEST-01-RESCUE-BOOT1-PASS-9e2b" "boot 1 (rescue) checks"
	ms1=$(qt_value "$QT_LAST_LOG" agent-ms)
	qt_boot 2
	qt_expect "$QT_LAST_LOG" "STANDIN-DM-STARTED module hello loaded" "display manager on the second boot"
	qt_expect "$QT_LAST_LOG" "TEST-01-RESCUE-BOOT2-PASS-9e2b" "boot 2 (fast path) checks"
	ms2=$(qt_value "$QT_LAST_LOG" agent-ms)
	printf '  %-24s %7s ms\n' "agent, boot 1 (build)" "$ms1" "agent, boot 2 (no-op)" "$ms2"
}

qt_main "$@"; exit $?
