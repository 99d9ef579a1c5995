#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# dracut pre-pivot hook (sourced by the initramfs's init; no exit here):
# the real root is mounted on $NEWROOT. Reports every DKMS module missing for
# the running kernel there on the kernel log, which survives into the
# journal even when the display manager then fails to start. It never stops
# the boot; repairing is dkms-agent.service's job, on the real root.
# Boot with dkms_agent=0 to skip it.

# shellcheck source=/dev/null
type getargbool >/dev/null 2>&1 || . /lib/dracut-lib.sh

if getargbool 1 dkms_agent && command -v dkms-agent >/dev/null 2>&1; then
	dkms_agent_rc=0
	dkms_agent_out=$(dkms-agent check --root "${NEWROOT:-/sysroot}" 2>&1) || dkms_agent_rc=$?
	if [ "$dkms_agent_rc" -ne 0 ]; then
		printf '%s\n' "$dkms_agent_out" | while IFS= read -r dkms_agent_line; do
			[ -n "$dkms_agent_line" ] && warn "dkms-agent: $dkms_agent_line"
		done
		[ "$dkms_agent_rc" -ne 1 ] && warn "dkms-agent: check exited with status $dkms_agent_rc"
	fi
	unset dkms_agent_rc dkms_agent_out dkms_agent_line
fi
