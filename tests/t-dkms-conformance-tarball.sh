#!/bin/bash
# mktarball/ldtarball in dkms 3.0.10's format, both directions: our tarball
# loaded by their ldtarball, theirs by ours (source and binaries-only), with
# the same status and files afterwards. Then the verbs 3.0.10 lacks or gets
# wrong, asserted against dkms(8) and dkms 3.1+: match --templatekernel,
# generate_mok, kernel_postinst, kernel_prerm, --directive, --config, and the
# progress lines in a pipe.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-conformance.sh"
cd "$T"
mkdir -p src
cp -r "$FIXTURES/hello" src/hello-1.0

fresh
both 0 install -k "$K" src/hello-1.0
# Source + binaries: each makes one, the other loads it into a fresh root.
theirs mktarball -m hello -v 1.0 -k "$K" --archive "$T/theirs-full.tar.gz" >/dev/null
ours mktarball -m hello -v 1.0 -k "$K" --archive "$T/ours-full.tar.gz" >"$T/o.out" ||
	fail "our mktarball: $(cat "$T/o.out")"
tar -tzf "$T/ours-full.tar.gz" | grep -q "dkms_main_tree/$K/$A_/module/hello.ko" ||
	fail "our tarball lacks the built module"
tar -tzf "$T/ours-full.tar.gz" | grep -q 'dkms_source_tree/dkms.conf' || fail "our tarball lacks the source"
fresh
theirs ldtarball "$T/ours-full.tar.gz" >"$T/t.out" 2>&1 || fail "their ldtarball of ours: $(cat "$T/t.out")"
ours ldtarball "$T/theirs-full.tar.gz" >"$T/o.out" 2>&1 || fail "our ldtarball of theirs: $(cat "$T/o.out")"
same_status "loaded full tarballs crosswise"
grep -q "^hello/1.0, $K, $A_: built$" "$T/st.o" || fail "not built after ldtarball: $(cat "$T/st.o")"
same_files "loaded full tarballs crosswise"
ok "source+binaries tarballs: ours loads theirs, theirs loads ours"

# Binaries only.
theirs mktarball -m hello -v 1.0 -k "$K" --binaries-only --archive "$T/theirs-bin.tar.gz" >/dev/null
ours mktarball -m hello -v 1.0 -k "$K" --binaries-only --archive "$T/ours-bin.tar.gz" >/dev/null
tar -tzf "$T/ours-bin.tar.gz" | grep -q 'dkms_binaries_only/PACKAGE_VERSION' || fail "no binaries-only marker"
fresh
theirs ldtarball "$T/ours-bin.tar.gz" >/dev/null 2>&1 || true # 3.0.10 exits 1 here by design
ours ldtarball "$T/theirs-bin.tar.gz" >"$T/o.out" 2>&1 || fail "our ldtarball (binaries): $(cat "$T/o.out")"
same_status "binaries-only crosswise"
same_files "binaries-only crosswise"
ok "binaries-only tarballs both ways"

# Source only; the default name and place.
fresh
both 0 add src/hello-1.0
ours mktarball hello/1.0 --source-only >"$T/o.out" || fail "source-only: $(cat "$T/o.out")"
[ -f "$OU/var/lib/dkms/hello/1.0/tarball/hello-1.0-source-only.dkms.tar.gz" ] || fail "default name: $(cat "$T/o.out")"
ours_rc 6 mktarball hello/1.0 -k "$K"
ours_rc 8 ldtarball "$OU/var/lib/dkms/hello/1.0/tarball/hello-1.0-source-only.dkms.tar.gz"
ours_rc 2 ldtarball /nonexistent.tar.gz
ok "source-only tarball, and the codes for not built / already added / missing"

# match: what the template kernel has, for another kernel (its headers may
# be the same ones: only the names matter here).
K2=$K-other
mkdir -p "$OU/lib/modules/$K2"
ln -s "/usr/src/linux-headers-$K" "$OU/lib/modules/$K2/build"
ours_rc 0 install -k "$K" hello/1.0
ours_rc 1 match -k "$K2"
ours_rc 2 match --templatekernel "$K" -k "$K"
ours_rc 0 match --templatekernel="$K" -k "$K2" --kernelsourcedir "/usr/src/linux-headers-$K"
ours status | grep -q "^hello/1.0, $K2, $A_: installed$" || fail "match did not install for $K2"
ok "match --templatekernel"

# The kernel hook verbs (dkms 3.1+): prerm takes every module out of a kernel.
ours_rc 0 kernel_prerm -k "$K2"
ours status | grep -q "$K2" && fail "kernel_prerm left $K2 in status"
ours_rc 21 kernel_postinst -k "$K-noheaders"
grep -q 'headers' "$T/o.out" || fail "kernel_postinst without headers did not name them"
ours_rc 0 kernel_preinst -k "$K"
ours_rc 4 kernel_postinst
ok "kernel_preinst, kernel_postinst, kernel_prerm"

# generate_mok: the key pair, where framework.conf says or in the tree.
if command -v openssl >/dev/null; then
	ours_rc 0 generate_mok
	if [ ! -s "$OU/var/lib/dkms/mok.key" ] || [ ! -s "$OU/var/lib/dkms/mok.pub" ]; then fail "no MOK pair"; fi
	grep -q "Signing key: $OU/var/lib/dkms/mok.key" "$T/o.out" || fail "generate_mok did not say where"
	ok "generate_mok"
fi

# --directive gives a dkms.conf value: a BUILD_EXCLUSIVE_ARCH that excludes.
ours_rc 0 uninstall -k "$K" hello/1.0
ours_rc 77 build -k "$K" hello/1.0 --force --directive "BUILD_EXCLUSIVE_ARCH=none"
ok "--directive NAME=value"

# --config: the kernel .config used for signing (a hash not the kernel's).
if command -v openssl >/dev/null; then
	printf 'CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH="sha384"\n' >"$T/kconfig"
	ours_rc 0 build -k "$K" hello/1.0 --force --config "$T/kconfig"
	h=$(modinfo -F sig_hashalgo "$OU/var/lib/dkms/hello/1.0/$K/$A_/module/hello.ko")
	[ "$h" = sha384 ] || fail "--config not used for signing (hash '$h')"
	ok "--config KERNEL-CONFIG"
fi

# In a pipe: one line per phase, the failure with its log's end and path.
cp -r "$FIXTURES/broken" src/broken-1.0
ours_rc 10 build -k "$K" src/broken-1.0
for p in prepare make; do
	grep -q "^broken/1.0 $K ($A_): $p" "$T/o.out" || fail "no '$p' line: $(cat "$T/o.out")"
done
grep -q 'Consult .*\.log for more information' "$T/o.out" || fail "no log path"
grep -q '  | ' "$T/o.out" || fail "no log tail"
ours_rc 0 build -k "$K" hello/1.0 --force --verbose
grep -q 'Building with' "$T/o.out" || fail "--verbose did not stream the build output"
ok "progress lines, failure log tail, --verbose"
