#!/bin/bash
# --config FILE is the kernel configuration dkms reads for the build: its
# CONFIG_MODULE_SIG_HASH chooses the signature's hash, wherever the line is
# in the file (a file of that one line included). Side by side with Debian's
# dkms 3.0.10, which reads it the same way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-conformance.sh"
command -v openssl >/dev/null || skip "openssl is not installed (no signing key)"
cd "$T"
mkdir -p src
cp -r "$FIXTURES/hello" src/hello-1.0
# sig_hash ROOT: the hash of the built hello.ko's signature ("" unsigned).
sig_hash() { modinfo -F sig_hashalgo "$1/var/lib/dkms/hello/1.0/$K/$A_/module/hello.ko"; }

fresh
both 0 build -k "$K" src/hello-1.0
default=$(sig_hash "$OU")
[ -n "$default" ] || fail "ours did not sign with the kernel's own configuration"
[ "$(sig_hash "$TH")" = "$default" ] || fail "theirs signed with $(sig_hash "$TH"), ours with $default"
other=sha384
[ "$default" != sha384 ] || other=sha224
for form in first later; do
	if [ $form = first ]; then
		printf 'CONFIG_MODULE_SIG_HASH="%s"\n' "$other" >"$T/kconfig"
	else
		printf '# a comment\nCONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH="%s"\n' "$other" >"$T/kconfig"
	fi
	both 0 build -k "$K" -m hello -v 1.0 --config "$T/kconfig" --force
	[ "$(sig_hash "$TH")" = "$other" ] || fail "theirs: $(sig_hash "$TH") with the hash on the $form line"
	[ "$(sig_hash "$OU")" = "$other" ] || fail "ours: $(sig_hash "$OU") with the hash on the $form line"
done
ok "--config FILE: its CONFIG_MODULE_SIG_HASH signs the module (line 1 or later), as dkms"
