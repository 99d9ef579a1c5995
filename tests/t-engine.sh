#!/bin/bash
# The dkms verbs end to end under a sandbox root, with real kbuild against the
# installed Debian headers, real depmod and modinfo.
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
A=$(uname -m)
ROOT=$T/root
mk_root "$ROOT" "$K"
for m in hello twoko patched broken exclusive; do
	v=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$FIXTURES/$m/dkms.conf")
	add_fixture "$ROOT" "$m" "$v"
done

# add
dk add -m hello -v 1.0
[ -L "$ROOT/var/lib/dkms/hello/1.0/source" ] || fail "no source link"
[ -f "$ROOT/var/lib/dkms/hello/1.0/source/dkms.conf" ] || fail "source link does not resolve"
expect_rc 3 dk add -m hello -v 1.0
[ "$(dk status)" = "hello/1.0: added" ] || fail "status after add: $(dk status)"
ok add

# build, then status says built
dk build hello/1.0 -k "$K"
[ -f "$ROOT/var/lib/dkms/hello/1.0/$K/$A/module/hello.ko" ] || fail "no built module"
[ -f "$ROOT/var/lib/dkms/hello/1.0/$K/$A/log/make.log" ] || fail "no make.log"
[ "$(dk status)" = "hello/1.0, $K, $A: built" ] || fail "status after build: $(dk status)"
dk build hello/1.0 -k "$K" | grep -q "already built" || fail "second build not skipped"
ok build

# install: file in updates/dkms, link, depmod ran, vermagic = target kernel
dk install hello/1.0 -k "$K"
ko=$ROOT/lib/modules/$K/updates/dkms/hello.ko
[ -f "$ko" ] || fail "not installed at $ko"
[ "$(readlink "$ROOT/var/lib/dkms/hello/kernel-$K-$A")" = "1.0/$K/$A" ] || fail "bad kernel link"
grep -q "updates/dkms/hello.ko:" "$ROOT/lib/modules/$K/modules.dep" || fail "depmod did not run"
vm=$(/sbin/modinfo -F vermagic "$ko")
[ "${vm%% *}" = "$K" ] || fail "vermagic $vm is not $K"
[ "$(dk status)" = "hello/1.0, $K, $A: installed" ] || fail "status after install: $(dk status)"
ok install

# two .ko, DEST_MODULE_LOCATION overridden to updates/dkms as on Debian
dk install twoko/2.1 -k "$K"
for n in alpha beta; do
	[ -f "$ROOT/lib/modules/$K/updates/dkms/$n.ko" ] || fail "twoko: $n not installed"
done
ok twoko

# PATCH + MAKE_MATCH: the patch applied, MAKE[0] chosen
dk install patched/0.3 -k "$K"
/sbin/modinfo -F patched "$ROOT/lib/modules/$K/updates/dkms/patched.ko" | grep -qx yes || fail "patch not applied"
ok patched

# a module that fails to build: exit 10, log named, no built state
expect_rc 10 dk build broken/1.0 -k "$K"
[ ! -d "$ROOT/var/lib/dkms/broken/1.0/$K" ] || fail "failed build left a built state"
[ -f "$ROOT/var/lib/dkms/broken/1.0/.failed/$K-$A.log" ] || fail "failed build log not kept"
dk status broken | grep -qx "broken/1.0: added" || fail "broken status"
ok broken

# BUILD_EXCLUSIVE: exit 77
expect_rc 77 dk build exclusive/1.0 -k "$K"
ok exclusive

# a kernel without headers: exit 21
mkdir -p "$ROOT/lib/modules/9.9.9-nohdr"
expect_rc 21 dk build hello/1.0 -k 9.9.9-nohdr
ok no-headers

# unknown module / version
expect_rc 3 dk uninstall -m nosuch -v 1 -k "$K"
expect_rc 2 dk add -m nosuch -v 1
ok unknown

# uninstall puts the tree back to built; remove --all unregisters
dk uninstall hello/1.0 -k "$K"
[ ! -e "$ko" ] || fail "uninstall left the module"
[ "$(dk status hello)" = "hello/1.0, $K, $A: built" ] || fail "status after uninstall: $(dk status hello)"
dk remove -m hello -v 1.0 --all
[ ! -e "$ROOT/var/lib/dkms/hello" ] || fail "remove --all left the module in the tree"
ok remove

# autoinstall: builds and installs what is missing (broken fails: exit 11)
dk remove twoko/2.1 --all
dk add hello/1.0
dk add twoko/2.1
expect_rc 11 dk autoinstall -k "$K"
[ -f "$ko" ] || fail "autoinstall did not install hello"
[ -f "$ROOT/lib/modules/$K/updates/dkms/alpha.ko" ] || fail "autoinstall did not install twoko"
ok autoinstall

# the dkms name answers the same
ln -s "$DKMS_AGENT" "$T/dkms"
"$T/dkms" --root "$ROOT" status >"$T/a"
dk status >"$T/b"
diff -u "$T/a" "$T/b"
cat "$T/b"
ok dkms-name
