#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sources kept in /opt/NAME and linked from /usr/src/NAME-VERSION by an
# absolute link, as Arch's packaging guidelines allow, under --root: the link
# is followed inside the root, as a chroot would follow it (the host has no
# /opt/dkms-agent-test-*, and a link climbing with '..' stays in the root).
# add, build, install, status, check, the pacman hook and remove all work.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
ROOT=$T/root
# Arch's layout (merged /usr), which the pacman hook below expects.
mkdir -p "$ROOT/usr/lib"
ln -s usr/lib "$ROOT/lib"
mk_root "$ROOT" "$K"
opt=/opt/dkms-agent-test-$$
[ ! -e "$opt" ] || skip "$opt exists on this machine"
mkdir -p "$ROOT$opt"
cp -r "$FIXTURES/hello" "$ROOT$opt/hello"
ln -s "$opt/hello" "$ROOT/usr/src/hello-1.0"

dk add -m hello -v 1.0 >"$T/add.log" 2>&1 || { cat "$T/add.log"; fail "add of a source linked from /opt failed"; }
dk install -m hello -v 1.0 -k "$K" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "install failed"; }
[ -f "$ROOT/lib/modules/$K/updates/dkms/hello.ko" ] || ls "$ROOT/lib/modules/$K/updates/dkms/hello.ko"* >/dev/null 2>&1 ||
	fail "hello not installed"
[ "$(dk status -m hello -v 1.0)" = "hello/1.0, $K, $(uname -m): installed" ] || fail "status: $(dk status -m hello -v 1.0)"
dk check -k "$K" >"$T/check.log" 2>&1 || { cat "$T/check.log"; fail "check reports a problem"; }
ok "add, build, install, status, check through /usr/src/hello-1.0 -> $opt/hello"

dk remove -m hello -v 1.0 --all >/dev/null || fail "remove failed"
[ -z "$(find "$ROOT/lib/modules/$K" -name 'hello.ko*')" ] || fail "hello still installed after remove"
[ -d "$ROOT$opt/hello" ] || fail "remove deleted the sources in $opt"
ok "remove"

# A link that climbs above the root with '..' ends inside it, as in a chroot.
rm "$ROOT/usr/src/hello-1.0"
ln -s "/../../../../../../..$opt/hello" "$ROOT/usr/src/hello-1.0"
dk build -m hello -v 1.0 -k "$K" >"$T/build.log" 2>&1 || { cat "$T/build.log"; fail "build through a climbing link failed"; }
dk remove -m hello -v 1.0 --all >/dev/null || fail "remove failed"
ok "a link climbing above the root stays inside it"

# The pacman hook, fed the package's link as pacman gives it.
rm "$ROOT/usr/src/hello-1.0"
ln -s "$opt/hello" "$ROOT/usr/src/hello-1.0"
: >"$ROOT/lib/modules/$K/vmlinuz"
echo initramfs=off >"$ROOT/etc/dkms-agent.conf"
echo usr/src/hello-1.0 | DKMS_ROOT=$ROOT DKMS_AGENT=$DKMS_AGENT "$TOP/agent/pacman/dkms-agent-alpm" install >"$T/alpm.log" 2>&1
cat "$T/alpm.log"
[ "$(dk status -m hello -v 1.0)" = "hello/1.0, $K, $(uname -m): installed" ] || fail "the install hook did not build hello"
echo usr/src/hello-1.0 | DKMS_ROOT=$ROOT DKMS_AGENT=$DKMS_AGENT "$TOP/agent/pacman/dkms-agent-alpm" remove >"$T/alpm2.log" 2>&1
[ -z "$(dk status -m hello -v 1.0)" ] || { cat "$T/alpm2.log"; fail "the remove hook left hello"; }
ok "pacman hooks on a package holding the /usr/src link"

# Links to what exists on the host only: a chroot into the root would find
# nothing there, and neither must we (no host file read as a dkms.conf, no
# host directory taken for the sources or written to).
host=$T/host-only
# not_followed WHAT: hello/1.0 reads as broken, its build is refused, and
# nothing of the host's copy (its MAKE marker) was read.
not_followed() {
	local rc=0
	[ "$(dk status -m hello -v 1.0 2>/dev/null)" = "hello/1.0: broken" ] ||
		fail "$1: status $(dk status -m hello -v 1.0 2>&1)"
	dk build -m hello -v 1.0 -k "$K" >"$T/out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "$1: built"
	! grep -rqs HOST-FILE-READ "$T/out" "$ROOT/var/lib/dkms" || fail "$1: the host's copy was read"
}
mkdir -p "$host/hello"
cp -r "$FIXTURES/hello/." "$host/hello/"
echo 'MAKE[0]="echo HOST-FILE-READ"' >>"$host/hello/dkms.conf"
rm "$ROOT/usr/src/hello-1.0"
cp -r "$FIXTURES/hello" "$ROOT/usr/src/hello-1.0"
dk add -m hello -v 1.0 >/dev/null || fail "add failed"
rm "$ROOT/usr/src/hello-1.0/dkms.conf"
ln -s "$host/hello/dkms.conf" "$ROOT/usr/src/hello-1.0/dkms.conf"
not_followed "a dkms.conf linked to a host file"
rm "$ROOT/usr/src/hello-1.0/dkms.conf"
cp "$FIXTURES/hello/dkms.conf" "$ROOT/usr/src/hello-1.0/"
rm -r "$ROOT/usr/src/hello-1.0"
ln -s "$host/hello" "$ROOT/usr/src/hello-1.0"
not_followed "a source link to a host-only directory"
rm -rf "$ROOT/var/lib/dkms/hello"
# A link that names itself inside the root (a loop there) and the host's
# directory outside: the host must not resolve it for us either.
mkdir -p "$ROOT$host"
ln -s "$host/hello" "$ROOT$host/hello"
rc=0
dk add -m hello -v 1.0 >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "a source link looping in the root: add exited $rc: $(cat "$T/out")"
[ ! -e "$ROOT/var/lib/dkms/hello/1.0" ] || fail "a source link looping in the root was added"
mkdir -p "$ROOT/var/lib/dkms/hello/1.0"
ln -s /usr/src/hello-1.0 "$ROOT/var/lib/dkms/hello/1.0/source"
not_followed "a source link looping in the root"
rm -rf "$ROOT/var/lib/dkms/hello" "$ROOT$host/hello"
ok "links to host-only files and directories are not followed out of the root"

# add DIR copies into /usr/src/NAME-VERSION: a link there leads into the
# root (as in a chroot), never to the host's directory of that name.
rm "$ROOT/usr/src/hello-1.0"
ln -s "$host/target" "$ROOT/usr/src/hello-1.0"
cp -r "$FIXTURES/hello" "$T/pkgdir"
dk add "$T/pkgdir" >"$T/out" 2>&1 || { cat "$T/out"; fail "add DIR over a dangling link failed"; }
[ ! -e "$host/target" ] || fail "add DIR wrote to the host's $host/target"
[ -f "$ROOT$host/target/dkms.conf" ] || fail "add DIR did not copy into the root's $host/target"
# The kernel-K-A link by its text: an absolute one names the root's tree.
dk build -m hello -v 1.0 -k "$K" >/dev/null || fail "build failed"
ln -s "/var/lib/dkms/hello/1.0/$K/$(uname -m)" "$ROOT/var/lib/dkms/hello/kernel-$K-$(uname -m)"
[ "$(dk status -m hello -v 1.0)" = "hello/1.0, $K, $(uname -m): installed" ] ||
	fail "an absolute kernel link (as old dkms wrote): $(dk status -m hello -v 1.0)"
rm "$ROOT/var/lib/dkms/hello/kernel-$K-$(uname -m)"
ln -s "../../../../../../..$host" "$ROOT/var/lib/dkms/hello/kernel-$K-$(uname -m)"
[ "$(dk status -m hello -v 1.0)" = "hello/1.0, $K, $(uname -m): built" ] ||
	fail "a kernel link to elsewhere: $(dk status -m hello -v 1.0)"
ok "add DIR copies into the root through a link; kernel links are read by their text"
