#!/bin/bash
# dkms-agent check and boot under a sandbox root: every module state, the
# fast path, a failure recorded and not retried, initramfs append verified
# by check, the root filesystem probed from an image file with libblkid,
# --json validated.
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
A=$(uname -m)
ROOT=$T/root
mk_root "$ROOT" "$K"
for m in hello broken exclusive twoko; do
	v=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$FIXTURES/$m/dkms.conf")
	add_fixture "$ROOT" "$m" "$v"
	dk add "$m/$v" >/dev/null
done

# An initramfs that already holds hello (an older build): a hand-made image,
# uncompressed cpio, like an early-microcode prefix plus a module.
mkdir -p "$T/img/lib/modules/$K/updates/dkms"
echo "old build" >"$T/img/lib/modules/$K/updates/dkms/hello.ko"
touch "$T/img/lib/modules/$K/modules.dep"
(cd "$T/img" && find . | cpio -o -H newc --quiet) >"$ROOT/boot/initrd.img-$K"
echo "initramfs=append" >"$ROOT/etc/dkms-agent.conf"

# check before: not built (problem), excluded (fine): exit 1
expect_rc 1 dk check -k "$K" >"$T/check1"
cat "$T/check1"
grep -q "hello/1.0: not-built" "$T/check1" || fail "check does not say hello is not built"
grep -q "exclusive/1.0: excluded" "$T/check1" || fail "check does not say exclusive is excluded"
grep -q "dkms-agent --root $ROOT boot -k $K" "$T/check1" || fail "no remedy line"
ok check-before

# boot: builds hello and twoko, broken fails; initramfs gets the new hello
expect_rc 1 dk boot -k "$K" >"$T/boot1" 2>&1
cat "$T/boot1"
[ -f "$ROOT/lib/modules/$K/updates/dkms/hello.ko" ] || fail "boot did not install hello"
grep -q "Appended" "$T/boot1" || fail "boot did not append to the initramfs"
"$DKMS_AGENT" initramfs list "$ROOT/boot/initrd.img-$K" >"$T/list"
grep -q "zstd" "$T/list" || fail "no zstd segment after append"
ok boot-repair

# check after: hello installed and the initramfs holds the same build;
# broken reported failed with its log
expect_rc 1 dk check -k "$K" >"$T/check2"
cat "$T/check2"
grep -q "✓ hello/1.0: installed" "$T/check2" || fail "hello not installed per check"
grep -q "initramfs holds hello (same build" "$T/check2" || fail "initramfs not verified"
grep -q "broken/1.0: failed — .*/.failed/$K-$A.log" "$T/check2" || fail "failure without log"
ok check-after

# the failed build is not retried at the next boot unless forced
log=$ROOT/var/lib/dkms/broken/1.0/.failed/$K-$A.log
before=$(stat -c %Y.%s "$log")
sleep 1
dk boot -k "$K" >"$T/boot2" 2>&1 || true
! grep -q "Building broken" "$T/boot2" || fail "failed build retried without change: $(cat "$T/boot2")"
[ "$(stat -c %Y.%s "$log")" = "$before" ] || fail "failure log rewritten"
# a change to its source makes the next boot retry it
touch "$ROOT/usr/src/broken-1.0/dkms.conf"
dk boot -k "$K" >"$T/boot3" 2>&1 || true
grep -q "Building broken" "$T/boot3" || fail "changed source not retried: $(cat "$T/boot3")"
ok no-retry

# fast path: with broken removed, nothing to do, no output, exit 0
dk remove broken/1.0 --all >/dev/null
out=$(dk boot -k "$K" 2>&1)
[ -z "$out" ] || fail "fast path printed: $out"
expect_rc 0 dk check -k "$K" >/dev/null
ok fast-path

# stale: a module whose vermagic names another kernel
cp "$ROOT/lib/modules/$K/updates/dkms/hello.ko" "$T/hello.good"
sed -i "s/vermagic=${K:0:1}/vermagic=X/" "$ROOT/lib/modules/$K/updates/dkms/hello.ko" 2>/dev/null || true
if ! /sbin/modinfo -F vermagic "$ROOT/lib/modules/$K/updates/dkms/hello.ko" | grep -q "^$K "; then
	expect_rc 1 dk check -k "$K" >"$T/check3"
	grep -q "hello/1.0: stale" "$T/check3" || fail "stale module not reported"
fi
cp "$T/hello.good" "$ROOT/lib/modules/$K/updates/dkms/hello.ko"
ok stale

# broken tree entry: a dangling source link is reported, others still shown
rm -rf "$ROOT/usr/src/twoko-2.1"
expect_rc 1 dk check -k "$K" >"$T/check4"
grep -q "twoko/2.1: .*dangling\|twoko/2.1: installed" "$T/check4" || fail "dangling source not handled"
grep -q "hello/1.0: installed" "$T/check4" || fail "a broken module hid the others"
dk status >/dev/null || fail "status fails on a dangling source"
ok broken-entry

# root filesystem from an image file, probed with libblkid
if command -v mkfs.ext4 >/dev/null; then
	truncate -s 8M "$T/rootfs.img"
	mkfs.ext4 -q -L dkroot "$T/rootfs.img"
	dk check -k "$K" --root-device "$T/rootfs.img" >"$T/check5" || true
	grep -q "Root filesystem: ext4 on $T/rootfs.img UUID=" "$T/check5" || fail "rootfs not probed: $(head -1 "$T/check5")"
	ok rootfs
fi

# --json is valid JSON with the same facts
dk check -k "$K" --json >"$T/json" || true
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kernels"][0]["kernel"]==sys.argv[2]; assert any(m["name"]=="hello" and m["state"]=="installed" for m in d["kernels"][0]["modules"])' "$T/json" "$K" || fail "bad json: $(cat "$T/json")"
fi
ok json

# bad input: a corrupt initramfs is reported, check goes on
head -c 100 "$ROOT/boot/initrd.img-$K" >"$T/trunc" && cp "$T/trunc" "$ROOT/boot/initrd.img-$K"
dk check -k "$K" >"$T/check6" || true
grep -q "cannot be read" "$T/check6" || fail "corrupt initramfs not reported"
grep -q "hello/1.0: installed" "$T/check6" || fail "check stopped at the corrupt image"
ok corrupt-initramfs
expect_rc 2 dk check extra-arg
ok usage

# ---------------------------------------------------------------------------
# boot judges by the files, in a few system calls, and exits honestly.
add_fixture "$ROOT" twoko 2.1 # its source was taken away above
(cd "$T/img" && find . | cpio -o -H newc --quiet) >"$ROOT/boot/initrd.img-$K"
dk boot -k "$K" --force >/dev/null 2>&1 || true
expect_rc 0 dk boot -k "$K"
MOD=$ROOT/lib/modules/$K/updates/dkms/hello.ko
BUILT=$ROOT/var/lib/dkms/hello/1.0/$K/$A/module/hello.ko

# The fast path reads no dkms.conf and starts no process, even with a module
# excluded for this kernel: the boot run before recorded that it needs
# nothing, and an edit of its dkms.conf voids that.
# (LeakSanitizer cannot run under ptrace: off for the traced runs of a
# SAN=1 build.)
STRACE=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq)
fastpath() { # WHAT
	"${STRACE[@]}" -e trace=openat,execve,clone,fork,vfork,clone3 -o "$T/strace" "$DKMS_AGENT" --root "$ROOT" boot -k "$K"
	! grep -q 'dkms.conf' "$T/strace" || fail "$1: the fast path read a dkms.conf: $(grep dkms.conf "$T/strace")"
	! grep -qE '^[0-9]+ +(clone|clone3|fork|vfork)\(' "$T/strace" || fail "$1: the fast path started a process"
}
if command -v strace >/dev/null; then
	fastpath "with an excluded module"
	touch "$ROOT/usr/src/exclusive-1.0/dkms.conf"
	"${STRACE[@]}" -e trace=clone,fork,clone3 -o "$T/strace" "$DKMS_AGENT" --root "$ROOT" boot -k "$K"
	grep -qE '^[0-9]+ +(clone|clone3|fork|vfork)\(' "$T/strace" || fail "an edited dkms.conf did not void the record"
	fastpath "after the edited dkms.conf was read again"
	ok "fast path: no dkms.conf, no process"
fi

# A .ko deleted from the module directory: missing, whatever the tree says.
rm "$MOD"
expect_rc 1 dk check -k "$K" >"$T/check7"
grep -q "hello/1.0: stale — $MOD is missing" "$T/check7" || fail "deleted module not reported: $(cat "$T/check7")"
if command -v strace >/dev/null; then
	# ... and dkms.conf is read only after the fork, under the budget.
	"${STRACE[@]}" -e trace=openat,clone,fork,clone3 -o "$T/strace2" "$DKMS_AGENT" --root "$ROOT" boot -k "$K" >"$T/boot7" 2>&1
	parent=$(head -n1 "$T/strace2" | awk '{ print $1 }')
	! grep "^$parent " "$T/strace2" | grep -q 'dkms.conf' || fail "boot read a dkms.conf before the budget fork"
else
	dk boot -k "$K" >"$T/boot7" 2>&1
fi
cat "$T/boot7"
[ -f "$MOD" ] || fail "boot did not reinstall the deleted module"
cmp -s "$MOD" "$BUILT" || fail "the reinstalled module differs from the build"
grep -q "1 module(s) missing for $K: hello/1.0" "$T/boot7" || fail "boot did not name the missing module"
expect_rc 0 dk check -k "$K" >/dev/null
ok "deleted .ko reinstalled by boot"

# A failed refresh: exit 74, the refresh stays owed (check says so), the
# next boot finishes it.
head -c 64 /dev/urandom >"$ROOT/boot/initrd.img-$K"
expect_rc 74 dk boot -k "$K" --force >"$T/boot8" 2>&1
grep -q "was not refreshed" "$T/boot8" || fail "no journal line for the failed refresh: $(cat "$T/boot8")"
expect_rc 1 dk check -k "$K" >"$T/check8"
grep -q "refresh of $K failed or was interrupted" "$T/check8" || fail "owed refresh not reported"
(cd "$T/img" && find . | cpio -o -H newc --quiet) >"$ROOT/boot/initrd.img-$K"
expect_rc 0 dk boot -k "$K" >"$T/boot9" 2>&1
[ ! -e "$ROOT/var/lib/dkms/.initramfs-pending-$K" ] || fail "the owed refresh was not done"
ok "failed refresh: exit 74, owed, done by the next boot"

# The budget runs out: exit 75 at once, a journal line naming what is still
# missing, check reports the build until it ends, the build completes.
cp -r "$FIXTURES/hello" "$ROOT/usr/src/slow-1.0"
sed -i 's/^PACKAGE_NAME=.*/PACKAGE_NAME="slow"/; s/^BUILT_MODULE_NAME\[0\]=.*/BUILT_MODULE_NAME[0]="slow"/' \
	"$ROOT/usr/src/slow-1.0/dkms.conf"
mv "$ROOT/usr/src/slow-1.0/hello.c" "$ROOT/usr/src/slow-1.0/slow.c"
# shellcheck disable=SC2016 # make's syntax, not the shell's
printf '%s\n' 'obj-m := slow.o' '$(info $(shell sleep 20))' >"$ROOT/usr/src/slow-1.0/Makefile"
dk add slow/1.0 >/dev/null
cp "$ROOT/etc/dkms-agent.conf" "$T/conf.keep"
echo "boot_budget=1" >>"$ROOT/etc/dkms-agent.conf"
start=$(date +%s)
expect_rc 75 dk boot -k "$K" >"$T/boot10" 2>&1
took=$(($(date +%s) - start))
cat "$T/boot10"
[ "$took" -lt 15 ] || fail "boot held the boot for $took s with a budget of 1 s"
grep -q "Boot budget of 1 s spent with modules still missing for $K (slow)" "$T/boot10" || fail "no journal line naming the missing module"
rec=$ROOT/var/lib/dkms/.boot-running-$K
[ -f "$rec" ] || fail "no record of the build going on"
pid=$(head -n1 "$rec")
expect_rc 1 dk check -k "$K" >"$T/check10"
grep -q "dkms-agent boot (pid $pid) is still building for $K after its budget: slow still missing" "$T/check10" ||
	fail "check does not report the running build: $(cat "$T/check10")"
for _ in $(seq 1 600); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.5
done
kill -0 "$pid" 2>/dev/null && fail "the background build did not end"
[ ! -e "$rec" ] || fail "record left after the build ended"
[ -f "$ROOT/lib/modules/$K/updates/dkms/slow.ko" ] || fail "the background build did not install slow"
cp "$T/conf.keep" "$ROOT/etc/dkms-agent.conf"
expect_rc 0 dk check -k "$K" >/dev/null
ok "budget spent: exit 75, build finished in the background"

# The same with the output read by a program that is gone once boot returns
# (apt's pipe when a kernel hook runs it): the build going on alone must not
# die of a write to that pipe before it installed, refreshed and cleaned up.
dk remove slow/1.0 --all >/dev/null
dk add slow/1.0 >/dev/null
printf 'boot_budget=1\ncache=off\n' >>"$ROOT/etc/dkms-agent.conf" # built again, not taken from the cache
dk boot -k "$K" 2>&1 | sed -n '/Boot budget of 1 s spent/{p;q}' >"$T/boot11"
grep -q "Boot budget of 1 s spent" "$T/boot11" || fail "closed pipe: no budget line: $(cat "$T/boot11")"
[ -f "$rec" ] || fail "closed pipe: no record of the build going on"
pid=$(head -n1 "$rec")
for _ in $(seq 1 600); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.5
done
kill -0 "$pid" 2>/dev/null && fail "closed pipe: the background build did not end"
[ -f "$ROOT/lib/modules/$K/updates/dkms/slow.ko" ] || fail "closed pipe: the background build died before it installed slow"
[ ! -e "$rec" ] || fail "closed pipe: the background build died before it removed its record"
[ ! -e "$ROOT/var/lib/dkms/.initramfs-pending-$K" ] || fail "closed pipe: the background build died before the initramfs refresh"
cp "$T/conf.keep" "$ROOT/etc/dkms-agent.conf"
expect_rc 0 dk check -k "$K" >/dev/null
ok "budget spent with the output's reader gone: the build finished in the background all the same"

# Type=notify: READY=1 reaches $NOTIFY_SOCKET when boot has nothing to do,
# and when it repaired a module (from the child that loads, before the
# initramfs refresh, and again when boot returns).
command -v python3 >/dev/null || skip "python3 is missing (the notify listener)"
listen() {
	rm -f "$T/notify.sock" "$1"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)  # never outlives a failed test by long
with open(sys.argv[2], "a") as out:
    while True:
        print(s.recv(4096).decode(), file=out, flush=True)
' "$T/notify.sock" "$1" &
	lpid=$!
	for _ in $(seq 1 100); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
	[ -S "$T/notify.sock" ] || fail "the notify listener did not start"
}
listen "$T/ready1"
NOTIFY_SOCKET=$T/notify.sock expect_rc 0 dk boot -k "$K" >/dev/null 2>&1
for _ in $(seq 1 100); do grep -q '^READY=1$' "$T/ready1" 2>/dev/null && break; sleep 0.1; done
kill "$lpid"
grep -q '^READY=1$' "$T/ready1" || fail "no READY=1 from a boot with nothing to do"
rm -f "$ROOT/lib/modules/$K/updates/dkms/hello.ko"
listen "$T/ready2"
NOTIFY_SOCKET=$T/notify.sock dk boot -k "$K" >"$T/boot11" 2>&1 || true
for _ in $(seq 1 100); do [ "$(grep -c '^READY=1$' "$T/ready2" 2>/dev/null)" -ge 2 ] && break; sleep 0.1; done
kill "$lpid"
[ -f "$ROOT/lib/modules/$K/updates/dkms/hello.ko" ] || fail "boot did not reinstall hello: $(cat "$T/boot11")"
[ "$(grep -c '^READY=1$' "$T/ready2")" -ge 2 ] || fail "READY=1 not sent by the repairing child and the run: $(cat "$T/ready2")"
ok "READY=1 for Type=notify, with nothing to do and after a repair"
