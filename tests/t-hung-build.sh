#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A build that never ends does not hold back the other modules, even with
# one build slot asked for (-j 1, as on a one-CPU machine): "held" waits
# until the test lets it go, and hello is built and its file installed
# meanwhile. No assertion on how long anything takes.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
ROOT=$T/root
mk_root "$ROOT" "$K"
add_fixture "$ROOT" hello 1.0
S=$ROOT/usr/src/held-1.0
cp -r "$FIXTURES/hello" "$S"
sed -i 's/hello/held/g' "$S/dkms.conf" "$S/Makefile"
mv "$S/hello.c" "$S/held.c"
# Held until the test lets go (the release file, seen by the contained
# build at dkms's path of the source); gives up after 10 minutes (longer
# than the test waits for hello) or when the source goes away.
cat >>"$S/Makefile" <<HOLD
\$(shell for i in \$\$(seq 6000); do for d in /var/lib/dkms/held/1.0/source $S; do [ -e \$\$d/release ] && exit; done; [ -e /var/lib/dkms/held/1.0/source/dkms.conf ] || [ -e $S/dkms.conf ] || exit; sleep 0.1; done)
HOLD
trap 'touch "$S/release" 2>/dev/null; rm -rf "$T"' EXIT
dk add held/1.0 >/dev/null
dk add hello/1.0 >/dev/null
# held sorts first: with a single slot it would take it and keep it.
dk autoinstall -k "$K" -j 1 >"$T/out" 2>&1 &
pid=$!
M=$ROOT/lib/modules/$K/updates/dkms
for _ in $(seq 600); do
	[ -e "$M/hello.ko" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.5
done
hello_early=no held_early=no hello_installed=no
[ -e "$M/hello.ko" ] && hello_early=yes
[ -e "$M/held.ko" ] && held_early=yes
# hello does not wait for held to be installed either: its depmod runs once
# its files waited a while (30 s) for the kernel's other builds.
for _ in $(seq 240); do
	[ "$hello_early" = yes ] || break
	if dk status hello/1.0 -k "$K" | grep -q ": installed"; then
		hello_installed=yes
		break
	fi
	sleep 0.5
done
dk status >"$T/status-held"
touch "$S/release"
rc=0
wait "$pid" || rc=$?
cat "$T/out"
[ "$held_early" = no ] || fail "held was built although it was held"
[ "$hello_early" = yes ] || fail "hello was not installed while held's build was held"
[ -e "$M/hello.ko" ] || fail "hello was not installed"
[ "$hello_installed" = yes ] || fail "hello's install waited for held's build: $(cat "$T/status-held")"
grep -q "held/1.0.*installed" "$T/status-held" && fail "held installed while held: $(cat "$T/status-held")"
[ "$rc" -eq 0 ] || fail "autoinstall exited $rc"
[ -e "$M/held.ko" ] || fail "held was not installed once released"
ok "a held build did not hold back hello (-j 1): built, depmod, installed"
