#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mkinitcpio-hook/ through tests/mkinitcpio-harness.sh (mkinitcpio's hook API;
# mkinitcpio itself is not in Debian):
#  1. the harness itself: a hook using each API function against the host's
#     installed kernel modules (read only) places what it should, and counts
#     errors as mkinitcpio does;
#  2. our install hook, for a sandbox root whose dkatest module is configured
#     as early: builds it, adds it (with modules.dep), the agent and the
#     runtime hook; help() prints;
#  3. our runtime hook, run as the image's /init would: busybox ash in a
#     chroot of the image tree, the sandbox root bind-mounted on /new_root
#     (private mount namespace) and /dev/kmsg a plain file to read back:
#     silent on a healthy root, one warning record per line of the check's
#     report when a module is missing, silent with dkms_agent=0.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-integration.sh
. "$TOP/tests/lib-integration.sh"
H=$TOP/tests/mkinitcpio-harness.sh
HD=$TOP/mkinitcpio-hook
BUSYBOX=$(command -v busybox || true)

need_headers
# --- 1. the harness ------------------------------------------------------
if [ -d "/lib/modules/$KVER/kernel/fs" ] && [ -n "$BUSYBOX" ]; then
	mkdir -p "$T/hd/install" "$T/hd/hooks" "$T/data/sub"
	echo a >"$T/data/one.conf"
	echo b >"$T/data/sub/two.conf"
	echo c >"$T/data/skip.txt"
	printf 'run_hook() { :; }\n' >"$T/hd/hooks/selftest"
	cat >"$T/hd/install/selftest" <<SELF
build() {
	add_binary busybox /usr/bin/busybox
	add_file "$T/data/one.conf" /etc/one.conf 600
	add_dir /var/empty 700
	add_symlink /usr/bin/sh busybox
	add_full_dir "$T/data" '*.conf' "$T"
	map add_module ext4 no_such_module_xyz? vfat
	add_checked_modules /fs/isofs
	add_runscript
}
SELF
	"$H" -k "$KVER" -b "$T/self" -D "$T/hd" selftest >"$T/self.log" 2>&1 || { cat "$T/self.log"; fail "harness self-test failed"; }
	for f in usr/bin/busybox etc/one.conf data/one.conf data/sub/two.conf hooks/selftest \
		"usr/lib/modules/$KVER/modules.dep"; do
		[ -e "$T/self/$f" ] || fail "harness did not place $f"
	done
	[ ! -e "$T/self/data/skip.txt" ] || fail "add_full_dir ignored its glob"
	[ "$(stat -c %a "$T/self/etc/one.conf")" = 600 ] || fail "add_file ignored its mode"
	[ "$(readlink "$T/self/usr/bin/sh")" = busybox ] || fail "add_symlink"
	[ -d "$T/self/var/empty" ] || fail "add_dir"
	{ [ -L "$T/self/lib" ] && [ -L "$T/self/usr/sbin" ]; } || fail "no merged-/usr layout"
	for m in ext4 vfat; do
		grep -q "/$m.ko[^:]*:" "$T/self/usr/lib/modules/$KVER/modules.dep" || fail "add_module $m missing from modules.dep"
	done
	# ext4's dependencies came along (jbd2 at least, unless built in).
	if modinfo -k "$KVER" -F filename jbd2 2>/dev/null | grep -q '\.ko'; then
		find "$T/self/usr/lib/modules/$KVER" -name 'jbd2.ko*' | grep -q . || fail "add_module did not add dependencies"
	fi
	find "$T/self/usr/lib/modules/$KVER" -name 'isofs.ko*' | grep -q . || fail "add_checked_modules"
	# A missing module without '?' is a counted error and fails the build.
	cat >"$T/hd/install/bad" <<'BAD'
build() {
	add_module no_such_module_xyz
	add_file /no/such/file
}
BAD
	rc=0
	"$H" -k "$KVER" -b "$T/bad" -D "$T/hd" bad >"$T/bad.log" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || { cat "$T/bad.log"; fail "errors were not counted (exit $rc)"; }
	grep -q 'errors were encountered during the build: 2' "$T/bad.log" || { cat "$T/bad.log"; fail "expected 2 counted errors"; }
	ok "harness: API functions place files, errors are counted"
else
	echo "harness self-test skipped: no kernel modules for $KVER or no busybox"
fi

# --- 2. our install hook ---------------------------------------------------
"$H" -D "$HD" -H dkms-agent >"$T/help.txt" || fail "help() failed"
grep -qi 'dkms' "$T/help.txt" || fail "help() says nothing about dkms"
ok "help()"

need_agent kernel-install early-modules check add
ROOT=$T/root
integ_root "$ROOT" "$KVER" dkatest
dk add -m dkatest -v 1.0 >/dev/null
echo "early_modules=dkatest" >"$ROOT/etc/dkms-agent.conf"
echo "initramfs=off" >>"$ROOT/etc/dkms-agent.conf"

# "base-lite" stands in for mkinitcpio's base hook: busybox and its applets.
mkdir -p "$T/base/install"
cat >"$T/base/install/base-lite" <<'BASE'
build() {
	local applet
	add_binary busybox /usr/bin/busybox
	for applet in $(busybox --list); do
		[ "$applet" = busybox ] || add_symlink "/usr/bin/$applet" busybox
	done
}
BASE
IMG=$T/img
layers=$HD
[ -n "$BUSYBOX" ] && layers=$T/base:$HD
hooks=(dkms-agent)
[ -n "$BUSYBOX" ] && hooks=(base-lite dkms-agent)
# mkinitcpio runs hooks with PATH=/usr/bin:/bin: depmod (in /usr/sbin on
# Debian) is off it, and the agent must find it anyway.
DKMS_ROOT=$ROOT DKMS_AGENT=$DKMS_AGENT PATH=/usr/bin:/bin "$H" -k "$KVER" -r "$ROOT" -b "$IMG" -D "$layers" "${hooks[@]}" >"$T/build.log" 2>&1 ||
	{ cat "$T/build.log"; fail "the dkms-agent install hook failed"; }
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/build.log"; fail "build() did not build dkatest"; }
grep -q 'dkatest.ko:' "$ROOT/lib/modules/$KVER/modules.dep" || { cat "$T/build.log"; fail "depmod did not run for the root (PATH without sbin)"; }
find "$IMG/usr/lib/modules/$KVER" -name 'dkatest.ko*' | grep -q . || { cat "$T/build.log"; fail "dkatest not in the image"; }
grep -q 'dkatest.ko[^:]*:' "$IMG/usr/lib/modules/$KVER/modules.dep" || fail "dkatest not in the image's modules.dep"
[ -x "$IMG/usr/bin/dkms-agent" ] || fail "agent not in the image"
[ -x "$IMG/hooks/dkms-agent" ] || fail "runtime hook not in the image"
cmp -s "$IMG/hooks/dkms-agent" "$HD/hooks/dkms-agent" || fail "runtime hook differs from the source"
ok "install hook (PATH=/usr/bin:/bin): module built and depmod run, dkatest + agent + runtime hook placed"

# A systemd image (HOOKS=(base systemd ...)): runtime hooks do not run there;
# a unit wanted by initrd.target takes the runtime hook's place. mkinitcpio's
# systemd hook defines add_systemd_unit, which is how ours recognises it.
mkdir -p "$T/sd/install"
printf 'build() { :; }\nadd_systemd_unit() { :; }\n' >"$T/sd/install/systemd"
IMG2=$T/img-sd
DKMS_ROOT=$ROOT DKMS_AGENT=$DKMS_AGENT PATH=/usr/bin:/bin "$H" -k "$KVER" -r "$ROOT" -b "$IMG2" -D "$T/sd:$HD" systemd dkms-agent >"$T/build-sd.log" 2>&1 ||
	{ cat "$T/build-sd.log"; fail "the install hook failed in a systemd image"; }
U=$IMG2/usr/lib/systemd/system
[ -f "$U/dkms-agent-check.service" ] || { cat "$T/build-sd.log"; fail "no unit in the systemd image"; }
[ "$(readlink "$U/initrd.target.wants/dkms-agent-check.service")" = ../dkms-agent-check.service ] ||
	fail "the unit is not wanted by initrd.target"
grep -qx 'ExecStart=-/usr/bin/dkms-agent check --root /sysroot' "$U/dkms-agent-check.service" || fail "unit ExecStart"
grep -qx 'After=initrd-fs.target' "$U/dkms-agent-check.service" || fail "unit ordering"
[ ! -e "$IMG2/hooks/dkms-agent" ] || fail "the runtime hook was added to a systemd image"
find "$IMG2/usr/lib/modules/$KVER" -name 'dkatest.ko*' | grep -q . || fail "dkatest not in the systemd image"
if command -v systemd-analyze >/dev/null; then
	# The image's paths do not exist here: only the unit's syntax counts.
	systemd-analyze verify --man=no "$U/dkms-agent-check.service" >"$T/verify.log" 2>&1 || true
	if grep -v 'dkms-agent\|sysroot\|initrd' "$T/verify.log" | grep -q .; then
		cat "$T/verify.log"
		fail "systemd-analyze verify complains"
	fi
fi
ok "systemd image: dkms-agent-check.service wanted by initrd.target instead of the runtime hook"

# --- 3. the runtime hook under busybox ash ----------------------------------
[ -n "$BUSYBOX" ] || skip "busybox not installed: runtime hook not run"
[ "$(id -u)" -eq 0 ] || skip "runtime hook needs root (chroot, bind mount)"
command -v unshare >/dev/null || skip "unshare not installed"
unshare -m true 2>/dev/null || skip "no mount namespaces here"

# run_late NEWROOT [CMDLINE-ASSIGNMENT]: runs the late hook as /init would,
# prints what it wrote to /dev/kmsg.
run_late() {
	: >"$IMG/dev/kmsg"
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m /bin/sh -c '
		mount --bind "$1" "$2/new_root" && mount -t proc proc "$2/proc" &&
		chroot "$2" /usr/bin/busybox ash -c "PATH=/usr/bin; $3 . /hooks/dkms-agent; run_latehook"
	' run_late "$1" "$IMG" "${2:-}" || fail "run_latehook failed"
	cat "$IMG/dev/kmsg"
}

# The sandbox root as the image was built for it: dkatest is installed,
# nothing to report.
out=$(run_late "$ROOT")
[ -z "$out" ] || fail "a healthy root produced kernel log records: $out"
ok "healthy root: nothing logged"

# A module registered but never built (the image's build() did not see it):
# a problem, logged as warnings.
cp -r "$INTEG/dkabroken" "$ROOT/usr/src/dkabroken-1.0"
dk add -m dkabroken -v 1.0 >/dev/null
out=$(run_late "$ROOT")
[ -n "$out" ] || fail "a missing module left no kernel log record"
if printf '%s\n' "$out" | grep -v '^<4>dkms-agent: '; then fail "kmsg records not in '<4>dkms-agent: ' form"; fi
printf '%s\n' "$out" | grep -q 'dkabroken' || fail "the records do not name dkabroken: $out"
ok "late hook logged $(printf '%s\n' "$out" | wc -l) records, e.g. '$(printf '%s\n' "$out" | grep -m1 dkabroken)'"

# Switched off from the kernel command line (init sets cmdline variables).
out=$(run_late "$ROOT" "dkms_agent=0;")
[ -z "$out" ] || fail "dkms_agent=0 did not silence the hook"
ok "dkms_agent=0 silences it"
