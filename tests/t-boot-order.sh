#!/bin/bash
# boot: BUILD_DEPENDS order (needshello starts only after hello is built),
# the time budget (boot returns while the build goes on in the background),
# and the in-kernel version sanity check of install.
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
ROOT=$T/root
mk_root "$ROOT" "$K"
add_fixture "$ROOT" hello 1.0
add_fixture "$ROOT" needshello 1.0
dk add needshello/1.0 >/dev/null
dk add hello/1.0 >/dev/null

dk boot -k "$K" -j 2 >"$T/out" 2>&1
cat "$T/out"
built_hello=$(grep -n "^Built hello/1.0" "$T/out" | cut -d: -f1)
start_needs=$(grep -n "^Building needshello/1.0" "$T/out" | cut -d: -f1)
if [ -z "$built_hello" ] || [ -z "$start_needs" ]; then fail "missing progress lines"; fi
[ "$built_hello" -lt "$start_needs" ] || fail "needshello started before hello was built"
ok "BUILD_DEPENDS order"

# budget: 1 s, and a build held until the test lets it go (its Makefile
# waits for a file "release" in the source, seen by the contained build at
# dkms's path of the source, and gives up if the source goes away or after
# 5 minutes): boot must give up waiting, exit 75 (budget spent, build going
# on) while the build is still held, and the build must finish in the
# background once released. No assertion on how long anything takes.
dk remove needshello/1.0 --all >/dev/null
S=$ROOT/usr/src/needshello-1.0
cat >>"$S/Makefile" <<HOLD
# Held by tests/t-boot-order.sh until it lets go.
\$(shell for i in \$\$(seq 3000); do for d in /var/lib/dkms/needshello/1.0/source $S; do [ -e \$\$d/release ] && exit; done; [ -e /var/lib/dkms/needshello/1.0/source/dkms.conf ] || [ -e $S/dkms.conf ] || exit; sleep 0.1; done)
HOLD
trap 'touch "$S/release" 2>/dev/null; rm -rf "$T"' EXIT
dk add needshello/1.0 >/dev/null
echo "boot_budget=1" >"$ROOT/etc/dkms-agent.conf"
rc=0
dk boot -k "$K" >"$T/out2" 2>&1 || rc=$?
cat "$T/out2"
[ "$rc" -eq 75 ] || fail "boot exited $rc, not 75 (budget spent, a build going on)"
grep -q "budget of 1 s spent" "$T/out2" || fail "no budget message"
[ ! -e "$ROOT/lib/modules/$K/updates/dkms/needshello.ko" ] || fail "boot waited for the build"
touch "$S/release"
for _ in $(seq 300); do
	[ -e "$ROOT/lib/modules/$K/updates/dkms/needshello.ko" ] && break
	sleep 1
done
[ -e "$ROOT/lib/modules/$K/updates/dkms/needshello.ko" ] || fail "the background build did not finish"
# wait for the background process to let go of the lock
flock "$ROOT/var/lib/dkms/.lock" true
ok "time budget: boot returned (75) while the build was held; it finished afterwards"

# version sanity: an in-kernel hello of a newer version wins unless --force
rm "$ROOT/etc/dkms-agent.conf"
dk remove hello/1.0 --all >/dev/null
mkdir -p "$ROOT/lib/modules/$K/kernel/drivers/misc"
cp "$ROOT/var/lib/dkms/needshello/1.0/$K/$(uname -m)/module/needshello.ko" "$T/n.ko"
dk add hello/1.0 >/dev/null
dk build hello/1.0 -k "$K" >/dev/null
# make a "newer" in-kernel hello: same module with version 9.0
sed 's/MODULE_VERSION("1.0")/MODULE_VERSION("9.0")/' "$ROOT/usr/src/hello-1.0/hello.c" >"$T/hello9.c"
mkdir -p "$T/h9" && cp "$T/hello9.c" "$T/h9/hello.c" && cp "$FIXTURES/hello/Makefile" "$T/h9/"
make -s -C "/usr/src/linux-headers-$K" M="$T/h9" modules >/dev/null 2>&1 || skip "cannot build the newer in-kernel module"
cp "$T/h9/hello.ko" "$ROOT/lib/modules/$K/kernel/drivers/misc/hello.ko"
depmod -b "$ROOT" "$K"
expect_rc 6 dk install hello/1.0 -k "$K"
[ ! -e "$ROOT/lib/modules/$K/updates/dkms/hello.ko" ] || fail "an older module shadowed a newer in-kernel one"
dk install hello/1.0 -k "$K" --force >/dev/null
[ -e "$ROOT/lib/modules/$K/updates/dkms/hello.ko" ] || fail "--force did not install"
ok "version sanity"
