#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hand-made initramfs images: an uncompressed microcode-like prefix followed by
# zstd, gzip, xz and lz4 segments (made with the real cpio and compressors);
# truncated, garbage and unknown-compression images; appending a segment.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

for t in cpio zstd gzip xz lz4; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done

ai() { "$DKMS_AGENT" initramfs "$@"; }
newc() { (cd "$1" && find . | sort | cpio -o -H newc --quiet); }

mkdir -p "$T"/ucode/kernel/x86/microcode "$T"/a/etc "$T"/b/etc "$T"/c "$T"/d "$T"/m
echo ucode >"$T"/ucode/kernel/x86/microcode/GenuineIntel.bin
echo one >"$T"/a/etc/f
echo keep >"$T"/a/etc/keep
echo two >"$T"/b/etc/f
echo three >"$T"/c/g
echo four >"$T"/d/h
img=$T/img
{
	newc "$T"/ucode
	newc "$T"/a | zstd -q -c
	newc "$T"/b | gzip -c
	newc "$T"/c | xz --check=crc32 -c
} >"$img"
ai list "$img" >"$T"/list
cat "$T"/list
grep -q '^segment 0 offset=0 .*compression=none' "$T"/list || fail "no uncompressed prefix"
grep -q '^segment 1 offset=1024 .*compression=zstd' "$T"/list || fail "no zstd segment"
grep -q '^segment 2 .*compression=gzip' "$T"/list || fail "no gzip segment"
grep -q '^segment 3 .*compression=xz' "$T"/list || fail "no xz segment"
ai has "$img" etc/f "$T"/b/etc/f >/dev/null || fail "later segment does not override"
ai has "$img" /etc/keep "$T"/a/etc/keep >/dev/null || fail "etc/keep lost"
ai has "$img" kernel/x86/microcode/GenuineIntel.bin >/dev/null || fail "microcode missing"
expect_rc 1 ai has "$img" etc/f "$T"/a/etc/f
ok "ucode + zstd + gzip + xz"

# Append to it; the new file and every old one are there, the old bytes are
# untouched, the new segment starts on a 4-byte boundary after 4 NULs.
printf 'module\0bytes' >"$T"/m/foo.ko
size=$(stat -c %s "$img")
cp "$img" "$T"/orig
start=$(date +%s%N)
ai append "$img" "$T/m/foo.ko:/lib/modules/6.1.0-x/updates/dkms/foo.ko" "$T/m/foo.ko:etc/f"
echo "append took $((($(date +%s%N) - start) / 1000000)) ms"
cmp -n "$size" "$T"/orig "$img" || fail "append changed the existing bytes"
ai list "$img" >"$T"/list2
grep -q "^segment 4 offset=$(((size + 3) / 4 * 4 + 4)) .*compression=zstd" "$T"/list2 || fail "appended segment misplaced"
ai has "$img" lib/modules/6.1.0-x/updates/dkms/foo.ko "$T"/m/foo.ko >/dev/null || fail "appended module missing"
ai has "$img" etc/f "$T"/m/foo.ko >/dev/null || fail "appended override missing"
ai has "$img" etc/keep "$T"/a/etc/keep >/dev/null || fail "old file lost by append"
ai has "$img" g "$T"/c/g >/dev/null || fail "xz file lost by append"
# The appended segment is a plain zstd frame holding a newc archive.
tail -c +$(((size + 3) / 4 * 4 + 5)) "$img" | zstd -dc | cpio -it --quiet >"$T"/names
grep -qx 'lib/modules/6.1.0-x/updates/dkms/foo.ko' "$T"/names || fail "cpio cannot read the new segment"
ok "append"

# lz4 (legacy format, as the kernel reads it) as the last segment: list
# reads it. An lz4-compressed image (its main segment after the microcode is
# lz4) is refused by append, leaving the image as it was: the kernel's lz4
# reader would take the new segment for more lz4 blocks.
newc "$T"/d | lz4 -l -q -c >>"$img"
ai list "$img" | grep -q 'compression=lz4' || fail "no lz4 segment"
ai has "$img" h "$T"/d/h >/dev/null || fail "lz4 file missing"
{
	newc "$T"/ucode
	newc "$T"/d | lz4 -l -q -c
} >"$T"/lz4img
cp "$T"/lz4img "$T"/before
expect_rc 1 ai append "$T"/lz4img "$T/m/foo.ko:x.ko"
ai append "$T"/lz4img "$T/m/foo.ko:x.ko" 2>&1 | grep -q 'lz4-compressed image' || fail "lz4 refusal not explained"
cmp "$T"/before "$T"/lz4img || fail "failed append modified the image"
ok "lz4"

# Broken images: each fails with a reason, none crashes.
head -c 1100 "$T"/orig >"$T"/trunc
expect_rc 1 ai list "$T"/trunc
ai list "$T"/trunc 2>&1 | grep -q 'truncated' || fail "truncation not reported"
{ printf 'GARBAGE!'; head -c 4096 /dev/urandom; } >"$T"/garbage
ai list "$T"/garbage 2>&1 | grep -q 'not an initramfs' || fail "garbage not reported"
{ cat "$T"/orig; printf 'WHAT IS THIS'; } >"$T"/unknown
ai list "$T"/unknown 2>&1 | grep -q 'unknown compression' || fail "unknown compression not reported"
{ newc "$T"/ucode; echo hello | bzip2 -c; } >"$T"/bz 2>/dev/null || true
if command -v bzip2 >/dev/null; then
	ai list "$T"/bz 2>&1 | grep -q 'bzip2 compression is not supported' || fail "bzip2 not reported"
fi
echo not cpio | gzip -c >"$T"/notcpio
ai list "$T"/notcpio 2>&1 | grep -q 'does not hold a cpio archive' || fail "non-cpio content not reported"
: >"$T"/empty
expect_rc 1 ai list "$T"/empty
expect_rc 1 ai append "$T"/garbage "$T/m/foo.ko:x.ko"
expect_rc 1 ai append "$T"/empty "$T/m/foo.ko:x.ko"
head -c 8192 /dev/zero >"$T"/zeros
expect_rc 1 ai append "$T"/zeros "$T/m/foo.ko:x.ko"
ai append "$T"/zeros "$T/m/foo.ko:x.ko" 2>&1 | grep -q 'nothing but NUL bytes' || fail "all-NUL image not explained"
cmp -s "$T"/zeros <(head -c 8192 /dev/zero) || fail "all-NUL image modified"
# A damaged microcode prefix is refused; the main segment is not read by
# append (its cost must not grow with the image), list reports its damage.
head -c 100 "$T"/orig >"$T"/trunc-ucode
expect_rc 1 ai append "$T"/trunc-ucode "$T/m/foo.ko:x.ko"
ai append "$T"/trunc-ucode "$T/m/foo.ko:x.ko" 2>&1 | grep -q 'offset 0: truncated' || fail "truncated prefix not explained"
ok "broken images"
