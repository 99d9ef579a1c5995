#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# agent/dkms-agent.service: systemd-analyze verify accepts it with no warning,
# the properties the agent relies on are set, it holds back the display
# manager and nothing else, and once installed `systemctl enable dkms.service`
# (dkms's name for it) enables it. ExecStart points at a copy
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
has 'Type=notify'
has 'RemainAfterExit=yes'
has 'DefaultDependencies=no'
has 'WantedBy=multi-user.target'
has 'Conflicts=shutdown.target'
grep -q '^After=.*local-fs.target' "$unit" || fail "not ordered after local-fs.target"
grep -q '^Before=.*display-manager.service' "$unit" || fail "not ordered before display-manager.service"
# Console and SSH logins must not wait for a boot-time build (up to
# TimeoutStartSec): an administrator has to be able to log in and look.
grep -qE '^(Before|RequiredBy|WantedBy)=.*(systemd-user-sessions|getty|sshd?)' "$unit" &&
	fail "unit holds back console or SSH logins"
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

# boot's exit statuses (src/tools/cmd-agent.c) and the unit agree: only
# "budget spent, the build goes on in the background" counts as success,
# so that systemd keeps that build alive; a failed build or refresh fails
# the unit. (t-agent runs boot into each of these statuses.)
src=$TOP/src/tools/cmd-agent.c
budget_rc=$(sed -n 's/.*BOOT_EXIT_BUDGET = \([0-9]*\),.*/\1/p' "$src")
refresh_rc=$(sed -n 's/.*BOOT_EXIT_REFRESH = \([0-9]*\),.*/\1/p' "$src")
if [ -z "$budget_rc" ] || [ -z "$refresh_rc" ]; then fail "boot's exit statuses not found in $src"; fi
grep -qx "SuccessExitStatus=$budget_rc" "$unit" || fail "unit lacks SuccessExitStatus=$budget_rc"
if ! grep -q "status $budget_rc" "$unit" || ! grep -q "$refresh_rc (the initramfs refresh" "$unit"; then
	fail "the unit's comment does not describe boot's statuses $budget_rc and $refresh_rc"
fi
ok "exit statuses: $budget_rc keeps the unit active, 1 and $refresh_rc fail it"

# As installed (make install), dkms.service is this unit: enabling it by that
# name is all a user does, and disabling it by either name undoes it.
case $O in /*) B=$O ;; *) B=$TOP/$O ;; esac
R=$T/root
make -s -C "$TOP" O="$B" -o "$B/dkms-agent" -o "$B/dkms" UNITDIR=/usr/lib/systemd/system \
	BASHCOMPDIR=/usr/share/bash-completion/completions install DESTDIR="$R" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; fail "make install failed"; }
[ "$(readlink "$R/usr/lib/systemd/system/dkms.service")" = dkms-agent.service ] ||
	fail "dkms.service is not an alias of dkms-agent.service"
mkdir -p "$R/etc/systemd/system"
systemctl --root="$R" enable dkms.service >"$T/enable.log" 2>&1 || { cat "$T/enable.log"; fail "systemctl enable dkms.service failed"; }
cat "$T/enable.log"
[ "$(readlink "$R/etc/systemd/system/multi-user.target.wants/dkms-agent.service")" = /usr/lib/systemd/system/dkms-agent.service ] ||
	fail "enabling dkms.service did not enable dkms-agent.service"
[ "$(systemctl --root="$R" is-enabled dkms-agent.service)" = enabled ] || fail "dkms-agent.service not enabled"
systemctl --root="$R" disable dkms-agent.service >/dev/null 2>&1 || fail "systemctl disable failed"
[ -z "$(find "$R/etc/systemd/system" -type l)" ] || fail "disable left links: $(find "$R/etc/systemd/system" -type l)"
ok "systemctl enable dkms.service enables dkms-agent.service"
