#!/bin/bash
# dkms 3.1/3.2 behaviour where Debian's 3.0.10 differs or has nothing, asserted
# against dkms(8) and dkms's exit codes (ours alone, in a --root sandbox):
# - PATCH naming a file outside patches/ ("..") is refused by the build
#   (exit 5, the module stays "added"), not by add;
# - add DIR with a dkms.conf dkms refuses (a module named twice: exit 8)
#   leaves its copy in the source tree, as dkms copies before it validates;
# - remove --all removes every instance, a build with a module file missing
#   too (dkms 3.0 left it behind, although its error says to remove it);
# - autoinstall names a broken module/version and does nothing else with it:
#   not a failed install (exit 0), the other modules and the module's other
#   versions still install;
# - framework.conf's post_transaction sees $kernelver: the kernel the verb
#   acted on (-k, or the first of remove --all), as dkms(8) documents.
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
[ "$(id -u)" -eq 0 ] || skip "needs root"
A=$(uname -m)
ROOT=$T/root
mk_root "$ROOT" "$K"
MD=lib/modules/$K/updates/dkms

# run RC ARGS...: dk ARGS exits RC; its output is in $T/out.
run() {
	local want=$1 rc=0
	shift
	dk "$@" >"$T/out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "dk $*: exit $rc, not $want: $(cat "$T/out")"
}

# A package in DIR (outside the source tree) made from a fixture, with
# sed expressions applied to its dkms.conf.
pkg_from() {
	local dir=$1 fixture=$2
	shift 2
	cp -r "$FIXTURES/$fixture" "$dir"
	local e
	for e in "$@"; do sed -i "$e" "$dir/dkms.conf"; done
}

# ---- PATCH with "..": add accepts, build refuses with 5 -------------------
pkg_from "$T/dotdot" hello 's/^PACKAGE_NAME=.*/PACKAGE_NAME="dotdot"/'
echo 'PATCH[0]="../outside.patch"' >>"$T/dotdot/dkms.conf"
mkdir -p "$T/dotdot/patches"
printf -- '--- a/hello.c\n+++ b/hello.c\n' >"$T/outside.patch"
cp "$T/outside.patch" "$T/dotdot/outside.patch"
run 0 add "$T/dotdot"
dk status dotdot/1.0 | grep -qx "dotdot/1.0: added" || fail "PATCH ..: not added: $(dk status)"
rc=0
dk build -k "$K" dotdot/1.0 >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 5 ] || fail "PATCH ..: build exited $rc, not 5: $(cat "$T/out")"
grep -q "Patch ../outside.patch as specified in dkms.conf contains '..' path component" "$T/out" ||
	fail "PATCH ..: the refusal does not name the patch: $(cat "$T/out")"
dk status dotdot/1.0 | grep -qx "dotdot/1.0: added" || fail "PATCH ..: not 'added' after the refused build: $(dk status)"
[ -z "$(find "$ROOT/var/lib/dkms/dotdot/1.0" -name '*.ko')" ] || fail "PATCH ..: a module was built"
run 0 remove --all dotdot/1.0
[ ! -e "$ROOT/var/lib/dkms/dotdot" ] || fail "PATCH ..: remove --all left $ROOT/var/lib/dkms/dotdot"
ok "PATCH with '..': added, build refused with exit 5, still 'added', removed cleanly"

# ---- add DIR of a refused dkms.conf: its copy stays in the source tree -----
pkg_from "$T/twice" hello 's/^PACKAGE_NAME=.*/PACKAGE_NAME="twice"/'
printf 'BUILT_MODULE_NAME[1]="hello"\nDEST_MODULE_LOCATION[1]="/extra"\n' >>"$T/twice/dkms.conf"
rc=0
dk add "$T/twice" >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 8 ] || fail "module named twice: add exited $rc, not 8: $(cat "$T/out")"
grep -q "Duplicate module 'hello'" "$T/out" || fail "module named twice: no reason: $(cat "$T/out")"
[ -f "$ROOT/usr/src/twice-1.0/dkms.conf" ] || fail "module named twice: no copy in the source tree"
[ ! -e "$ROOT/var/lib/dkms/twice" ] || fail "module named twice: it reached the dkms tree"
[ -z "$(dk status twice/1.0)" ] || fail "module named twice: status shows it: $(dk status)"
ok "add DIR with a module named twice: exit 8, the copy in the source tree, not added"

# ---- remove --all of an incomplete build ---------------------------------
add_fixture "$ROOT" hello 1.0
run 0 install -k "$K" hello/1.0
[ -f "$ROOT/$MD/hello.ko" ] || fail "hello not installed"
rm "$ROOT/var/lib/dkms/hello/1.0/$K/$A/module/hello.ko"
rc=0
dk install -k "$K" hello/1.0 >"$T/out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "incomplete: install of a build with its module missing succeeded"
run 0 remove --all -m hello -v 1.0
grep -q "completely from the DKMS tree" "$T/out" || fail "incomplete: remove --all did not delete it: $(cat "$T/out")"
[ ! -e "$ROOT/var/lib/dkms/hello" ] || fail "incomplete: remove --all left $(find "$ROOT/var/lib/dkms/hello")"
[ ! -e "$ROOT/$MD/hello.ko" ] || fail "incomplete: remove --all left the installed hello.ko"
[ -z "$(dk status)" ] || fail "incomplete: status after remove --all: $(dk status)"
run 0 add hello/1.0
ok "remove --all removes an incomplete build, and the version can be added again"

# ---- autoinstall with a broken module/version ----------------------------
# hello 1.0 broken (its source link gone), hello 2.0 and twoko fine.
cp -r "$FIXTURES/hello" "$ROOT/usr/src/hello-2.0"
sed -i 's/PACKAGE_VERSION="1.0"/PACKAGE_VERSION="2.0"/' "$ROOT/usr/src/hello-2.0/dkms.conf"
add_fixture "$ROOT" twoko 2.1
run 0 add hello/2.0
run 0 add twoko/2.1
rm "$ROOT/var/lib/dkms/hello/1.0/source"
rc=0
dk autoinstall -k "$K" >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "broken: autoinstall exited $rc, not 0: $(cat "$T/out")"
grep -q "hello/1.0 is broken" "$T/out" || fail "broken: autoinstall does not name hello/1.0: $(cat "$T/out")"
dk status >"$T/st" 2>/dev/null
grep -qx "hello/1.0: broken" "$T/st" || fail "broken: status: $(cat "$T/st")"
grep -qx "hello/2.0, $K, $A: installed" "$T/st" || fail "broken: hello 2.0 not installed: $(cat "$T/st")"
grep -qx "twoko/2.1, $K, $A: installed" "$T/st" || fail "broken: twoko not installed: $(cat "$T/st")"
ok "autoinstall: a broken version is named and skipped (exit 0); the others install"

# ---- post_transaction with $kernelver ------------------------------------
mkdir -p "$ROOT/etc/dkms/framework.conf.d"
# shellcheck disable=SC2016 # for dkms to expand
echo 'post_transaction="echo transaction for kernel $kernelver"' >"$ROOT/etc/dkms/framework.conf.d/pt.conf"
PT=$ROOT/var/lib/dkms/post_transaction.log
run 0 uninstall -k "$K" twoko/2.1
grep -qx "transaction for kernel $K" "$PT" || fail "post_transaction after uninstall -k: $(cat "$PT")"
: >"$PT"
run 0 install -k "$K" twoko/2.1
grep -qx "transaction for kernel $K" "$PT" || fail "post_transaction after install -k: $(cat "$PT")"
: >"$PT"
run 0 remove --all twoko/2.1
grep -qx "transaction for kernel $K" "$PT" || fail "post_transaction after remove --all: $(cat "$PT")"
rm "$ROOT/etc/dkms/framework.conf.d/pt.conf"
ok "post_transaction: \$kernelver is the kernel acted on"
