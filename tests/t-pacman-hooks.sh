#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# agent/pacman: the .hook files follow alpm-hooks(5) (sections, keys, values)
# and sort before 90-mkinitcpio-install.hook; the helper script, fed the
# matched paths on stdin as pacman does with NeedsTargets, builds for a new
# kernel, builds a new source package for every installed kernel, removes on
# removal, and exits 0 when a build fails. Pacman itself is not in Debian, so
# the sandbox root stands in for the root pacman chroots into (merged /usr).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-integration.sh
. "$TOP/tests/lib-integration.sh"
P=$TOP/agent/pacman

# check_hook FILE: the alpm-hooks(5) grammar, strictly.
check_hook() {
	awk -v f="$1" '
	function bad(m) { printf "%s:%d: %s\n", f, NR, m; err = 1 }
	/^[[:space:]]*(#|$)/ { next }
	/^\[Trigger\]$/ { sec = "T"; ntrig++; top[ntrig] = top[ntrig] ""; next }
	/^\[Action\]$/ { if (nact++) bad("second [Action]"); sec = "A"; next }
	/^\[/ { bad("unknown section " $0); next }
	{
		if (sec == "") { bad("key outside a section"); next }
		line = $0; key = line; val = ""
		if (index(line, "=")) { key = substr(line, 1, index(line, "=") - 1); val = substr(line, index(line, "=") + 1) }
		gsub(/^[ \t]+|[ \t]+$/, "", key); gsub(/^[ \t]+|[ \t]+$/, "", val)
		if (sec == "T") {
			if (key == "Operation") { if (val !~ /^(Install|Upgrade|Remove)$/) bad("bad Operation " val); tops[ntrig]++ }
			else if (key == "Type") { if (val !~ /^(Path|Package)$/) bad("bad Type " val); ttype[ntrig]++ }
			else if (key == "Target") { if (val == "" || val ~ /^\//) bad("bad Target " val); ttgt[ntrig]++ }
			else bad("unknown trigger key " key)
		} else {
			if (key == "When") { if (val !~ /^(PreTransaction|PostTransaction)$/) bad("bad When " val); when++ }
			else if (key == "Exec") { if (val !~ /^\//) bad("Exec needs an absolute path"); exec++ }
			else if (key == "Description" || key == "Depends") { }
			else if (key == "NeedsTargets" || key == "AbortOnFail") { if (val != "") bad(key " takes no value") }
			else bad("unknown action key " key)
		}
	}
	END {
		if (!ntrig) bad("no [Trigger]")
		for (i = 1; i <= ntrig; i++) if (!tops[i] || ttype[i] != 1 || !ttgt[i]) bad("incomplete [Trigger] #" i)
		if (nact != 1 || when != 1 || exec != 1) bad("[Action] needs one When and one Exec")
		exit err
	}' "$1"
}
n=0
for h in "$P"/*.hook; do
	check_hook "$h" || fail "$h is not a valid alpm hook"
	first=$(printf '%s\n' "90-mkinitcpio-install" "$(basename "$h" .hook)" | LC_ALL=C sort | head -n1)
	[ "$first" != 90-mkinitcpio-install ] || fail "$h does not run before 90-mkinitcpio-install.hook"
	grep -qx 'Exec = /usr/share/libalpm/scripts/dkms-agent \(install\|remove\|cleanup\)' "$h" || fail "$h: unexpected Exec"
	n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "expected install, remove and cleanup hooks"
grep -q '^When = PostTransaction' "$P/70-dkms-agent-install.hook" || fail "install hook must run after the transaction"
grep -q '^When = PreTransaction' "$P/70-dkms-agent-remove.hook" || fail "remove hook must run before the transaction"
grep -q '^When = PostTransaction' "$P/70-dkms-agent-cleanup.hook" || fail "cleanup hook must run after the transaction"
ok "$n hooks follow alpm-hooks(5), before 90-mkinitcpio-install"

need_agent kernel-install add install remove autoinstall
need_headers
ROOT=$T/root
mkdir -p "$ROOT/usr/lib"
ln -s usr/lib "$ROOT/lib"
integ_root "$ROOT" "$KVER" dkatest
: >"$ROOT/usr/lib/modules/$KVER/vmlinuz"
echo initramfs=off >"$ROOT/etc/dkms-agent.conf"
alpm() { DKMS_ROOT=$ROOT DKMS_AGENT=$DKMS_AGENT "$P/dkms-agent-alpm" "$@"; }

# A new source package: added and built for every installed kernel.
echo "usr/src/dkatest-1.0/dkms.conf" | alpm install >"$T/src.log" 2>&1 || { cat "$T/src.log"; fail "install hook failed"; }
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/src.log"; fail "dkatest not built for $KVER"; }
ok "new source package built for the installed kernel"

# Again, as after a package whose post_install ran `dkms install` itself:
# nothing to do, nothing reported. A kernel without headers is named.
mkdir -p "$ROOT/usr/lib/modules/9.9.9-noheaders"
: >"$ROOT/usr/lib/modules/9.9.9-noheaders/vmlinuz"
echo "usr/src/dkatest-1.0/dkms.conf" | alpm install >"$T/again.log" 2>&1 || { cat "$T/again.log"; fail "install hook failed"; }
cat "$T/again.log"
if grep -v 9.9.9-noheaders "$T/again.log" | grep -q .; then fail "a second run did or said more than naming the kernel without headers"; fi
grep -q 'dkatest/1.0 is not built for 9.9.9-noheaders: its headers are not installed' "$T/again.log" ||
	fail "the kernel without headers was not named"
rm -r "$ROOT/usr/lib/modules/9.9.9-noheaders"
ok "already added and installed: left alone; a kernel without headers is named"

# Its removal: gone from every kernel.
echo "usr/src/dkatest-1.0/dkms.conf" | alpm remove >"$T/rm.log" 2>&1 || { cat "$T/rm.log"; fail "remove hook failed"; }
[ -z "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/rm.log"; fail "dkatest still installed"; }
ok "source package removal uninstalled it"

# A kernel (image and headers in one transaction), with a broken module next
# to the good one: the good one is built, the hook still exits 0.
dk add -m dkatest -v 1.0 >/dev/null
cp -r "$INTEG/dkabroken" "$ROOT/usr/src/dkabroken-1.0"
dk add -m dkabroken -v 1.0 >/dev/null
printf '%s\n' "usr/lib/modules/$KVER/vmlinuz" "usr/lib/modules/$KVER/build/Makefile" |
	alpm install >"$T/k.log" 2>&1 || { cat "$T/k.log"; fail "install hook failed on a broken module"; }
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/k.log"; fail "dkatest not built for the new kernel"; }
ok "new kernel: modules built, broken one reported, exit 0"

# The kernel's removal (also what an upgrade does to the old version).
echo "usr/lib/modules/$KVER/vmlinuz" | alpm remove >"$T/krm.log" 2>&1 || { cat "$T/krm.log"; fail "remove hook failed"; }
[ -z "$(find_mod "$ROOT" "$KVER" dkatest)" ] || fail "dkatest still installed for the removed kernel"
ok "kernel removal uninstalled its modules"

# Pacman then deletes the kernel's files; the cleanup hook takes what depmod
# wrote, and the directory goes.
[ -e "$ROOT/usr/lib/modules/$KVER/modules.dep" ] || fail "test setup: depmod wrote no modules.dep"
rm "$ROOT/usr/lib/modules/$KVER"/{vmlinuz,modules.order,modules.builtin,modules.builtin.modinfo,build}
echo "usr/lib/modules/$KVER/vmlinuz" | alpm cleanup >"$T/clean.log" 2>&1 || { cat "$T/clean.log"; fail "cleanup hook failed"; }
[ ! -e "$ROOT/usr/lib/modules/$KVER" ] || fail "left in the removed kernel's directory: $(find "$ROOT/usr/lib/modules/$KVER")"
ok "removed kernel: nothing of ours left in its module directory"
