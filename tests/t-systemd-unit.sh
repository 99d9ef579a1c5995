#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# agent/dkms-agent.service: systemd-analyze verify accepts it with no warning,
# and the properties the agent relies on are set. ExecStart points at a copy
# of the built binary (or /bin/true before it exists) because verify insists
# that the command is executable.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
unit=$TOP/agent/dkms-agent.service
[ -f "$unit" ] || fail "missing $unit"

exe=/bin/true
[ -x "$DKMS_AGENT" ] && exe=$DKMS_AGENT
mkdir -p "$T/units"
sed "s|^ExecStart=/usr/sbin/dkms-agent |ExecStart=$exe |" "$unit" >"$T/units/dkms-agent.service"
grep -q "^ExecStart=$exe boot\$" "$T/units/dkms-agent.service" || fail "ExecStart is not '/usr/sbin/dkms-agent boot'"

rc=0
systemd-analyze verify --man=no "$T/units/dkms-agent.service" >"$T/verify.log" 2>&1 || rc=$?
cat "$T/verify.log"
[ "$rc" -eq 0 ] || fail "systemd-analyze verify exited $rc"
# verify only warns about unknown keys or bad values; treat any line about our unit as an error.
if grep -q 'dkms-agent.service' "$T/verify.log"; then fail "systemd-analyze verify complained"; fi
ok "systemd-analyze verify"

# key=value lines of the [Unit]/[Service]/[Install] sections, one per line.
has() { grep -qx "$1" "$unit" || fail "unit lacks '$1'"; }
has 'Type=oneshot'
has 'RemainAfterExit=yes'
has 'DefaultDependencies=no'
has 'WantedBy=multi-user.target'
has 'Conflicts=shutdown.target'
grep -q '^After=.*local-fs.target' "$unit" || fail "not ordered after local-fs.target"
grep -q '^Before=.*display-manager.service' "$unit" || fail "not ordered before display-manager.service"
grep -q '^Before=.*systemd-user-sessions.service' "$unit" || fail "not ordered before systemd-user-sessions.service"
grep -qE '^(After|Wants|Requires)=.*network' "$unit" && fail "unit must not wait for the network"
# It must never pull in the display manager or fail it: ordering only.
grep -qE '^(Requires|RequiredBy|BindsTo|PartOf)=' "$unit" && fail "unit must only order, not require"
ok "ordering and service type"

# The systemd timeout must sit above the agent's own budget.
to=$(sed -n 's/^TimeoutStartSec=//p' "$unit")
case $to in
*min) to_s=$((${to%min} * 60)) ;;
*s) to_s=${to%s} ;;
[0-9]*) to_s=$to ;;
*) fail "unexpected TimeoutStartSec=$to" ;;
esac
budget=300
conf=$TOP/agent/dkms-agent.conf
if [ -f "$conf" ]; then
	b=$(sed -n 's/^[#[:space:]]*boot_budget=\([0-9]*\).*/\1/p' "$conf" | head -n1)
	[ -n "$b" ] && budget=$b
fi
[ "$to_s" -gt "$budget" ] || fail "TimeoutStartSec ($to_s s) must exceed boot_budget ($budget s)"
ok "TimeoutStartSec=$to_s s above boot_budget=$budget s"
