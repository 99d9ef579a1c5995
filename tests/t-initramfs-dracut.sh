#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Images made by Debian's real dracut for the installed kernel: read them
# (gzip and zstd), append a module, check it with our reader and with
# lsinitrd; then `initramfs regenerate --tool dracut` inside a private mount
# namespace whose /boot is a tmpfs and whose /etc/dracut.conf.d is ours, so
# the host's /boot is never written.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

command -v dracut >/dev/null || skip "dracut is not installed"
kver=
for d in /lib/modules/*/; do
	[ -f "$d/modules.dep" ] && [ -d "$d/kernel" ] && kver=$(basename "$d")
done
[ -n "$kver" ] || skip "no kernel with modules under /lib/modules"
mod=$(find "/lib/modules/$kver/kernel" -name 'dummy.ko*' | head -n1)
[ -n "$mod" ] || mod=$(find "/lib/modules/$kver/kernel" -name '*.ko*' | head -n1)
ai() { "$DKMS_AGENT" initramfs "$@"; }
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

fast=(--no-hostonly --no-early-microcode -m base --kver "$kver" --force)
for comp in gzip zstd; do
	img=$T/$comp.img
	start=$(date +%s%N)
	dracut "${fast[@]}" --compress "$comp" "$img" >"$T/dracut-$comp.log" 2>&1 ||
		{ tail -n 20 "$T/dracut-$comp.log"; fail "dracut --compress $comp failed"; }
	echo "dracut $comp image: $(stat -c %s "$img") bytes in $(ms "$start") ms"
	start=$(date +%s%N)
	ai list "$img" >"$T/$comp.list"
	echo "list: $(ms "$start") ms, $(grep -c -v '^segment' "$T/$comp.list") files"
	head -n1 "$T/$comp.list"
	grep -q "^segment 0 offset=0 .*compression=$comp" "$T/$comp.list" || fail "$comp segment not seen"
	# dracut runs depmod for what it packed; modules.builtin is copied as is.
	ai has "$img" "lib/modules/$kver/modules.dep" >/dev/null || fail "no modules.dep in the $comp image"
	ai has "$img" "lib/modules/$kver/modules.builtin" "/lib/modules/$kver/modules.builtin" >/dev/null ||
		fail "modules.builtin missing or different in the $comp image"
	n_before=$(grep -c -v '^segment' "$T/$comp.list")

	dest=lib/modules/$kver/updates/dkms/$(basename "$mod")
	start=$(date +%s%N)
	ai append "$img" "$mod:$dest"
	echo "append: $(ms "$start") ms"
	ai list "$img" >"$T/$comp.list2"
	grep -c '^segment' "$T/$comp.list2" | grep -qx 2 || fail "expected two segments after append"
	ai has "$img" "$dest" "$mod" || fail "appended module missing"
	grep -q ' 0 usr/lib/modules/' "$T/$comp.list2" || fail "old modules lost"
	grep -q '^120777 .* lib -> usr/lib$' "$T/$comp.list2" || fail "lib symlink clobbered"
	n_after=$(grep -c -v '^segment' "$T/$comp.list2")
	# updates/, updates/dkms/, the module and the marker of an appended
	# image (lib/modules and lib/modules/K land on the existing usr/lib ones).
	[ "$n_after" -eq $((n_before + 4)) ] || fail "expected 4 new entries, got $((n_after - n_before))"
	grep -q ' 1 .dkms-agent-appended$' "$T/$comp.list2" || fail "no marker of the appended segment"
	# lsinitrd reads only the first compressed segment: report what it sees.
	if lsinitrd "$img" 2>/dev/null | grep -q "updates/dkms"; then
		echo "lsinitrd: shows the appended module"
	else
		echo "lsinitrd: does not show the appended segment"
	fi
	ok "dracut $comp image read and appended"
done

command -v unshare >/dev/null || skip "unshare is not installed"
unshare -m true 2>/dev/null || skip "cannot create a mount namespace"
mkdir -p "$T"/conf.d
printf 'dracutmodules=" base "\nhostonly="no"\nearly_microcode="no"\ncompress="zstd"\n' \
	>"$T"/conf.d/99-test.conf
cp "$T"/gzip.img "$T"/old.img
# An old image is in place; regenerate replaces it only once the new one
# reads back, and leaves no temporary file behind.
cat >"$T"/ns.sh <<EOF
set -eu
mount -t tmpfs tmpfs /boot
mount --bind "$T/conf.d" /etc/dracut.conf.d
cp "$T/old.img" "/boot/initrd.img-$kver"
"$DKMS_AGENT" initramfs find "$kver"
"$DKMS_AGENT" initramfs regenerate "$kver" --tool dracut
"$DKMS_AGENT" initramfs list "/boot/initrd.img-$kver" >"$T/regen.list"
ls -a /boot >"$T/boot.ls"
EOF
start=$(date +%s%N)
unshare -m bash "$T"/ns.sh >"$T"/ns.out 2>&1 || { cat "$T"/ns.out; fail "regenerate failed"; }
cat "$T"/ns.out
echo "regenerate: $(ms "$start") ms"
grep -qx dracut "$T"/ns.out || fail "regenerate did not report dracut"
grep -q '^segment 0 offset=0 .*compression=zstd' "$T"/regen.list || fail "new image is not the zstd one"
grep -q updates/dkms "$T"/regen.list && fail "the old image's appended module survived"
[ "$(grep -c . "$T"/boot.ls)" -eq 3 ] || { cat "$T"/boot.ls; fail "temporary files left in /boot"; }
[ -e "/boot/initrd.img-$kver.dkms-tmp" ] && fail "host /boot touched"
ok "regenerate with dracut"
