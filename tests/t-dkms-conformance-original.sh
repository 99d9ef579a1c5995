#!/bin/bash
# A DKMS module named like a module the kernel ships (here the Debian
# kernel's own drivers/net/dummy.ko, copied into both sandbox roots), side
# by side with Debian's dkms 3.0.10:
# - on Debian (and Ubuntu) dkms 3.0.10 leaves the kernel's file where it is
#   (the kernel package owns it; depmod prefers updates/): no original_module,
#   no status suffix, the file untouched after uninstall;
# - on any other distribution it moves it to
#   <dkms_tree>/<module>/original_module/<kver>/<arch>/, shows
#   " (original_module exists)" and puts it back on uninstall.
# Ours also records where the file came from (NAME.ko.origin, as dkms 3.2+
# does) and puts it back there; 3.0.10 puts it in DEST_MODULE_LOCATION. Both
# places are the same in the side-by-side part; the difference is asserted on
# ours alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-conformance.sh"
cd "$T"
INTREE=kernel/drivers/net/dummy.ko
[ -f "/lib/modules/$K/$INTREE" ] || skip "linux-image-$K has no $INTREE"

mkdir -p src/dummy-1.0
sed 's/hello/dummy/g' "$FIXTURES/hello/hello.c" >src/dummy-1.0/dummy.c
echo 'obj-m := dummy.o' >src/dummy-1.0/Makefile
cat >src/dummy-1.0/dkms.conf <<'EOF'
PACKAGE_NAME="dummy"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="dummy"
DEST_MODULE_LOCATION[0]="/kernel/drivers/net"
AUTOINSTALL="yes"
EOF

# fresh_intree: both roots with the kernel's own dummy.ko (only that file).
fresh_intree() {
	fresh
	local r
	for r in "$TH" "$OU"; do
		mkdir -p "$r/lib/modules/$K/${INTREE%/*}"
		cp "/lib/modules/$K/$INTREE" "$r/lib/modules/$K/$INTREE"
	done
}
# intree_is ROOT present|absent: the kernel's file, byte for byte, or gone.
intree_is() {
	local f=$1/lib/modules/$K/$INTREE
	if [ "$2" = present ]; then
		cmp -s "/lib/modules/$K/$INTREE" "$f" || fail "$f is not the kernel's own dummy.ko"
	else
		[ ! -e "$f" ] || fail "$f is still there"
	fi
}

# --- Debian: the kernel's file stays where it is. ---
fresh_intree
both 0 install -k "$K" src/dummy-1.0
same_status "debian: installed over an in-tree module"
grep -qx "dummy/1.0, $K, $A_: installed" "$T/st.o" || fail "status: $(cat "$T/st.o")"
same_files "debian: installed over an in-tree module"
[ ! -e "$OU/var/lib/dkms/dummy/original_module" ] || fail "ours kept an original on Debian"
intree_is "$TH" present
intree_is "$OU" present
[ -f "$OU/lib/modules/$K/updates/dkms/dummy.ko" ] || fail "ours is not in updates/dkms"
both 0 uninstall -k "$K" -m dummy -v 1.0
same_status "debian: uninstalled"
same_files "debian: uninstalled"
intree_is "$OU" present
ok "Debian: the kernel's dummy.ko is left in place, as dkms 3.0.10 does"

# --- Another distribution (Arch: same updates/dkms destination). ---
printf 'NAME="Arch Linux"\nID=arch\n' >"$T/os-release.arch"
export THEIRS_OS_RELEASE=$T/os-release.arch
fresh_intree
cp "$T/os-release.arch" "$TH/etc/os-release"
cp "$T/os-release.arch" "$OU/etc/os-release"
both 0 install -k "$K" src/dummy-1.0
same_status "arch: original kept"
grep -qx "dummy/1.0, $K, $A_: installed (original_module exists)" "$T/st.o" ||
	fail "status: $(cat "$T/st.o")"
same_files "arch: original kept" '\.origin$'
intree_is "$TH" absent
intree_is "$OU" absent
keep=var/lib/dkms/dummy/original_module/$K/$A_
cmp -s "/lib/modules/$K/$INTREE" "$OU/$keep/dummy.ko" || fail "ours did not keep the kernel's dummy.ko"
[ "$(cat "$OU/$keep/dummy.ko.origin")" = "/lib/modules/$K/$INTREE" ] ||
	fail "origin: $(cat "$OU/$keep/dummy.ko.origin")"
ok "Arch: the kernel's dummy.ko kept in original_module/K/A, status says so"

# Installed again (--force): the kept original is not replaced by ours.
both 0 install -k "$K" -m dummy -v 1.0 --force
same_status "arch: forced reinstall"
cmp -s "/lib/modules/$K/$INTREE" "$OU/$keep/dummy.ko" || fail "--force lost the original"

both 0 uninstall -k "$K" -m dummy -v 1.0
same_status "arch: uninstalled"
grep -qx "dummy/1.0, $K, $A_: built" "$T/st.o" || fail "status: $(cat "$T/st.o")"
same_files "arch: uninstalled"
intree_is "$TH" present
intree_is "$OU" present
[ ! -e "$OU/var/lib/dkms/dummy/original_module" ] || fail "original_module left behind"
ok "Arch: uninstall puts the kernel's dummy.ko back and drops original_module"

both 0 install -k "$K" -m dummy -v 1.0
both 0 remove -m dummy -v 1.0 --all
same_status "arch: removed"
same_files "arch: removed"
intree_is "$OU" present
ok "Arch: remove --all puts it back too"

# --- Ours alone: an install interrupted after the original was kept (no
# kernel-K-A link) neither archives our own file nor loses the original; the
# original goes back where it came from even when DEST_MODULE_LOCATION names
# another directory (3.0.10 would put it in /updates here). ---
fresh_intree
cp "$T/os-release.arch" "$OU/etc/os-release"
sed -i 's|^DEST_MODULE_LOCATION.*|DEST_MODULE_LOCATION[0]="/updates"|' src/dummy-1.0/dkms.conf
ours_rc 0 install -k "$K" src/dummy-1.0
rm "$OU/var/lib/dkms/dummy/kernel-$K-$A_" # as if killed before the link
ours_rc 0 install -k "$K" -m dummy -v 1.0
cmp -s "/lib/modules/$K/$INTREE" "$OU/$keep/dummy.ko" || fail "the original was replaced"
ours status | grep -qx "dummy/1.0, $K, $A_: installed (original_module exists)" ||
	fail "status after the interrupted install: $(ours status)"
ours_rc 0 uninstall -k "$K" -m dummy -v 1.0
intree_is "$OU" present
[ ! -e "$OU/lib/modules/$K/updates/dummy.ko" ] || fail "the original went to DEST_MODULE_LOCATION"
ok "ours: an interrupted install keeps the original; it goes back where it came from"

# An uninstall interrupted after the link went (the original still kept):
# uninstall again puts it back.
ours_rc 0 install -k "$K" -m dummy -v 1.0
rm "$OU/var/lib/dkms/dummy/kernel-$K-$A_"
ours_rc 0 uninstall -k "$K" -m dummy -v 1.0
intree_is "$OU" present
[ ! -e "$OU/var/lib/dkms/dummy/original_module" ] || fail "original_module left behind"
ok "ours: an interrupted uninstall is finished by the next one"

# A bad .origin (outside the kernel's tree) is refused, the file goes to
# DEST_MODULE_LOCATION instead, and the message names the file.
ours_rc 0 install -k "$K" -m dummy -v 1.0
echo /etc/passwd >"$OU/$keep/dummy.ko.origin"
ours_rc 0 uninstall -k "$K" -m dummy -v 1.0
grep -q "Bad original location '/etc/passwd' in .*dummy.ko.origin" "$T/o.out" ||
	fail "no word about the bad origin: $(cat "$T/o.out")"
cmp -s "/lib/modules/$K/$INTREE" "$OU/lib/modules/$K/updates/dummy.ko" ||
	fail "the original did not go to DEST_MODULE_LOCATION"
ok "ours: a bad .origin is named and not followed"
