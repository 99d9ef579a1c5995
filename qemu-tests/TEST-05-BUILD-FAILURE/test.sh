#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TEST-05-BUILD-FAILURE: the only registered DKMS module does not compile.
# The boot goes on within the agent's budget, the (stand-in) display manager
# starts, and `dkms-agent check` reports the failure together with the
# compiler's error from the build log.
# shellcheck source=../test-functions
. "$(dirname "$0")/../test-functions"
# qt-estimate: 400 s (run-all starts the longest first; the last run's time wins)

test_setup() {
	qt_prepare
	qt_has_verb boot || qt_fail "dkms-agent has no 'boot' verb"
	qt_setup_boot
}

test_run() {
	qt_boot 1
	qt_expect "$QT_LAST_LOG" "STANDIN-DM-STARTED" "display manager despite the failed build"
	qt_expect "$QT_LAST_LOG" "TEST-05-FAILURE-PASS-3b70" "failure report checks"
	printf '  %-24s %7s ms\n' "agent (failed build)" "$(qt_value "$QT_LAST_LOG" agent-ms)"
}

qt_main "$@"; exit $?
