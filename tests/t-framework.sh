#!/bin/bash
# framework.conf(.d) keys as dkms reads them (one build, real kbuild):
# files read in order, each seeing the earlier ones; values expanded twice
# (safe_source), the signing paths with $kernelver and $dkms_tree of the
# kernel being built; a key pair made when one of the two files is missing;
# parallel_jobs and tmp_location in MAKE; compress_xz_opts; symlink_modules;
# post_transaction and its log. modprobe_on_install cannot load a module on
# this machine: only its refusal under --root is shown.
# shellcheck disable=SC2016 # framework.conf and dkms.conf lines are written unexpanded
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
command -v openssl >/dev/null || skip "openssl not installed"
A=$(uname -m)
ROOT=$T/root
mk_root "$ROOT" "$K"
add_fixture "$ROOT" hello 1.0
cat >>"$ROOT/usr/src/hello-1.0/dkms.conf" <<'EOF'
MAKE="make -C ${kernel_source_dir} M=${dkms_tree}/hello/1.0/build TMPL=${tmp_location} JOBS=${parallel_jobs}"
EOF

mkdir -p "$ROOT/etc/dkms/framework.conf.d" "$ROOT/var/lib/dkms/keys"
cat >"$ROOT/etc/dkms/framework.conf" <<'EOF'
mok_signing_key='${dkms_tree}/keys/${kernelver}.key'
tmp_location=/srv/tmp
parallel_jobs=2
symlink_modules=yes
compress_xz_opts="--check=sha256 -1"
post_transaction="echo post-transaction-ran"
EOF
# a later file sees what the first set (the certificate next to the key)
cat >"$ROOT/etc/dkms/framework.conf.d/10-cert.conf" <<'EOF'
mok_certificate="${mok_signing_key%.key}.der"
EOF
# only the certificate exists: dkms makes a new pair at both paths
echo "not a certificate" >"$ROOT/var/lib/dkms/keys/$K.der"
# the kernel compresses its modules with xz (as modules.dep says)
echo "kernel/fake/fake.ko.xz:" >"$ROOT/lib/modules/$K/modules.dep"

dk add hello/1.0 >/dev/null
dk install hello/1.0 -k "$K" >"$T/out" 2>&1 || { cat "$T/out"; fail "install"; }
log=$ROOT/var/lib/dkms/hello/1.0/$K/$A/log/make.log
grep -q "Building with: make -j2 .* TMPL=/srv/tmp JOBS=2" "$log" || fail "MAKE: $(grep 'Building with' "$log")"
ok "parallel_jobs and tmp_location in MAKE"

key=$ROOT/var/lib/dkms/keys/$K.key cert=$ROOT/var/lib/dkms/keys/$K.der
[ -s "$key" ] || fail "no key made at $key"
openssl x509 -inform DER -in "$cert" -noout 2>/dev/null || fail "the certificate was not made anew"
built=$ROOT/var/lib/dkms/hello/1.0/$K/$A/module/hello.ko.xz
[ -f "$built" ] || fail "no xz-compressed module: $(ls "$ROOT/var/lib/dkms/hello/1.0/$K/$A/module")"
xz --robot -lvv "$built" | grep -q 'SHA-256' || fail "compress_xz_opts not used"
xz -dc "$built" >"$T/hello.ko"
modinfo -F signer "$T/hello.ko" | grep -q "DKMS module signing key" || fail "module not signed with the new key"
ok "signing paths with \$kernelver/\$dkms_tree, key pair made, compress_xz_opts"

dest=$ROOT/lib/modules/$K/updates/dkms/hello.ko.xz
[ -L "$dest" ] || fail "symlink_modules: $dest is not a link"
[ "$(readlink "$dest")" = "/var/lib/dkms/hello/1.0/$K/$A/module/hello.ko.xz" ] || fail "link to $(readlink "$dest")"
ok "symlink_modules"

grep -q "post-transaction-ran" "$ROOT/var/lib/dkms/post_transaction.log" || fail "post_transaction did not run"
: >"$ROOT/var/lib/dkms/post_transaction.log"
expect_rc 2 dk install nosuch/1.0 -k "$K" 2>/dev/null
[ ! -s "$ROOT/var/lib/dkms/post_transaction.log" ] || fail "post_transaction after a failed install"
dk uninstall hello/1.0 -k "$K" >/dev/null 2>&1 || fail "uninstall"
grep -q "post-transaction-ran" "$ROOT/var/lib/dkms/post_transaction.log" || fail "post_transaction after uninstall"
[ ! -e "$dest" ] || fail "uninstall left $dest"
ok "post_transaction"

echo "modprobe_on_install=yes" >>"$ROOT/etc/dkms/framework.conf"
command -v modprobe >/dev/null && mkdir -p "$T/bin" && printf '#!/bin/sh\ntouch "%s/modprobe-ran"\n' "$T" >"$T/bin/modprobe" && chmod 755 "$T/bin/modprobe"
PATH=$T/bin:$PATH dk install hello/1.0 -k "$K" >/dev/null 2>&1 || fail "install with modprobe_on_install"
[ ! -e "$T/modprobe-ran" ] || fail "modprobe ran for a --root install"
ok "modprobe_on_install does not load modules of another root"
