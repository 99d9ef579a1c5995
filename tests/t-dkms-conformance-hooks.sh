#!/bin/bash
# POST_REMOVE and the kernel hook verbs.
# - POST_REMOVE runs each time an installed version leaves a kernel
#   (uninstall, unbuild, remove, install --force, kernel_prerm), never when
#   a version that was not installed is deleted: side by side with Debian's
#   dkms 3.0.10, which runs it from the same place.
# - dkms 3.1+ (ours alone, 3.0.10 has no such verbs or switch):
#   kernel_postinst is autoinstall for one kernel (21 when it has modules to
#   build and no headers), kernel_preinst unbuilds the AUTOINSTALL modules of
#   a kernel about to be reinstalled, kernel_prerm unbuilds every module of
#   it; all three want exactly one -k (4); /etc/dkms/no-autoinstall stops
#   autoinstall and kernel_postinst.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-conformance.sh"
cd "$T"
mkdir -p src
cp -r "$FIXTURES/hello" src/hello-1.0
cat >>src/hello-1.0/dkms.conf <<'CONF'
POST_REMOVE="after-remove.sh"
CONF
cat >src/hello-1.0/after-remove.sh <<'SH'
#!/bin/sh
echo "post_remove of hello ran"
SH
chmod +x src/hello-1.0/after-remove.sh

# post_remove_ran N WHAT: the last command ran POST_REMOVE N times, in both.
post_remove_ran() {
	local t o
	t=$(grep -c 'post_remove of hello ran' "$T/t.out" || true)
	o=$(grep -c 'post_remove of hello ran' "$T/o.out" || true)
	[ "$t" -eq "$1" ] || fail "theirs ran POST_REMOVE $t times, not $1 ($2)"
	[ "$o" -eq "$1" ] || fail "ours ran POST_REMOVE $o times, not $1 ($2)"
}

fresh
both 0 install -k "$K" src/hello-1.0
post_remove_ran 0 "install"
both 0 uninstall -k "$K" -m hello -v 1.0
post_remove_ran 1 "uninstall"
both 0 uninstall -k "$K" -m hello -v 1.0
post_remove_ran 0 "uninstall of what is not installed"
both 0 install -k "$K" -m hello -v 1.0
both 0 install -k "$K" -m hello -v 1.0 --force
post_remove_ran 1 "install --force"
both 0 unbuild -k "$K" -m hello -v 1.0
post_remove_ran 1 "unbuild"
both 0 build -k "$K" -m hello -v 1.0
both 0 remove -k "$K" -m hello -v 1.0
post_remove_ran 0 "remove of a version that was only built"
same_status "removed"
ok "POST_REMOVE runs when an installed version leaves a kernel, as in dkms"

# --- The kernel hook verbs (ours alone). ---
cp -r "$FIXTURES/hello" "$OU/usr/src/hello-1.0"
cp -r "$FIXTURES/hello" "$OU/usr/src/manual-1.0"
sed -i 's/hello/manual/g; s/^AUTOINSTALL=.*/AUTOINSTALL=""/' "$OU/usr/src/manual-1.0/dkms.conf"
mv "$OU/usr/src/manual-1.0/hello.c" "$OU/usr/src/manual-1.0/manual.c"
sed -i 's/hello/manual/g' "$OU/usr/src/manual-1.0/manual.c" "$OU/usr/src/manual-1.0/Makefile"
ours_rc 0 install -k "$K" -m hello -v 1.0
ours_rc 0 install -k "$K" -m manual -v 1.0
for v in kernel_preinst kernel_postinst kernel_prerm; do
	ours_rc 4 "$v"
	grep -q 'exactly one kernel' "$T/o.out" || fail "$v without -k: $(cat "$T/o.out")"
	ours_rc 4 "$v" -k "$K" -k "$K"
done
ok "the hook verbs want exactly one -k (4)"

ours_rc 0 kernel_preinst -k "$K"
ours status >"$T/st"
grep -qx "hello/1.0: added" "$T/st" || fail "kernel_preinst left hello: $(cat "$T/st")"
grep -qx "manual/1.0, $K, $A_: installed" "$T/st" || fail "kernel_preinst took manual: $(cat "$T/st")"
[ ! -e "$OU/lib/modules/$K/updates/dkms/hello.ko" ] || fail "hello.ko is still installed"
ok "kernel_preinst unbuilds the AUTOINSTALL modules of the kernel only"

ours_rc 21 kernel_postinst -k "$K-noheaders"
grep -q "headers for kernel $K-noheaders" "$T/o.out" || fail "no word about headers: $(cat "$T/o.out")"
ours_rc 0 kernel_postinst -k "$K"
ours status | grep -qx "hello/1.0, $K, $A_: installed" || fail "kernel_postinst did not install hello"
ok "kernel_postinst is autoinstall for that kernel (21 without its headers)"

ours_rc 0 kernel_prerm -k "$K"
ours status >"$T/st"
for m in hello manual; do
	grep -qx "$m/1.0: added" "$T/st" || fail "kernel_prerm left $m built: $(cat "$T/st")"
done
[ -z "$(find "$OU/lib/modules/$K" -name '*.ko')" ] || fail "kernel_prerm left modules installed"
ok "kernel_prerm takes every module out of the kernel and unbuilds it"

touch "$OU/etc/dkms/no-autoinstall"
for v in autoinstall kernel_postinst; do
	ours_rc 0 "$v" -k "$K"
	grep -q 'disabled' "$T/o.out" || fail "$v did not say autoinstall is off: $(cat "$T/o.out")"
done
ours status | grep -qx "hello/1.0: added" || fail "autoinstall ran despite /etc/dkms/no-autoinstall"
rm "$OU/etc/dkms/no-autoinstall"
ok "/etc/dkms/no-autoinstall stops autoinstall and kernel_postinst"
