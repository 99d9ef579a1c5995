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
