#!/bin/bash
# Modules are compressed the way the *target* kernel's own modules are: a
# kernel whose modules.dep lists .ko.zst gets hello.ko.zst (libzstd, content
# size in the frame, readable by libkmod), .ko.xz likewise, none for Debian's.
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
A=$(uname -m)
for suffix in .zst .xz ""; do
	ROOT=$T/root$suffix
	mk_root "$ROOT" "$K"
	if [ -n "$suffix" ]; then
		echo "kernel/fs/dummy.ko$suffix:" >"$ROOT/lib/modules/$K/modules.dep"
	fi
	add_fixture "$ROOT" hello 1.0
	dk install hello/1.0 -k "$K" >/dev/null
	f=$ROOT/lib/modules/$K/updates/dkms/hello.ko$suffix
	[ -f "$f" ] || fail "expected $f"
	[ "$(/sbin/modinfo -F version "$f")" = 1.0 ] || fail "libkmod cannot read $f"
	[ "$(dk status)" = "hello/1.0, $K, $A: installed" ] || fail "status with $suffix: $(dk status)"
	if [ "$suffix" = .zst ]; then
		zstd -lv "$f" 2>/dev/null | grep -q "Decompressed Size" || fail "zstd frame without content size"
	fi
	ok "compression '${suffix:-none}'"
done
