#!/bin/bash
# Side by side with Debian's dkms 3.x on the same sandbox: our `status` prints
# what theirs prints on a tree written by either tool. Their dkms runs in a
# private mount namespace with a scratch /var/lib/dkms bound over the host's
# (it keeps its signing key there), with --no-depmod, so the host is untouched.
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
command -v dkms >/dev/null || skip "Debian's dkms is not installed"
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then skip "needs root and unshare"; fi
unshare -m true 2>/dev/null || skip "no mount namespaces here"
mkdir -p "$T/hostdkms"

theirs() {
	local root=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m sh -c 'mount --bind "$1" /var/lib/dkms && shift && exec "$@"' sh "$T/hostdkms" \
		env mok_signing_key="$T/hostdkms/mok.key" mok_certificate="$T/hostdkms/mok.pub" \
		dkms "$@" --dkmstree "$root/var/lib/dkms" --sourcetree "$root/usr/src" \
		--installtree "$root/lib/modules" --kernelsourcedir "/usr/src/linux-headers-$K" --no-depmod
}
ours() {
	local root=$1
	shift
	"$DKMS_AGENT" --root "$root" "$@"
}
same_status() {
	theirs "$1" status 2>/dev/null | grep -v '^Deprecated\|^WARNING' >"$T/theirs"
	ours "$1" status >"$T/ours"
	diff -u "$T/theirs" "$T/ours" || fail "status differs ($2)"
	[ -s "$T/ours" ] || fail "empty status ($2)"
	echo "--- $2"
	cat "$T/ours"
}

# A tree written by their dkms
A=$T/a
mk_root "$A" "$K"
for m in hello twoko patched; do
	v=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$FIXTURES/$m/dkms.conf")
	add_fixture "$A" "$m" "$v"
done
theirs "$A" add -m hello -v 1.0 >/dev/null
theirs "$A" add -m twoko -v 2.1 >/dev/null
theirs "$A" add -m patched -v 0.3 >/dev/null
same_status "$A" "theirs: added"
theirs "$A" build -m twoko -v 2.1 -k "$K" >/dev/null
same_status "$A" "theirs: built"
theirs "$A" install -m hello -v 1.0 -k "$K" >/dev/null
same_status "$A" "theirs: installed"
ok "their tree reads the same in our status"

# A tree written by us, read by them
B=$T/b
mk_root "$B" "$K"
add_fixture "$B" hello 1.0
add_fixture "$B" twoko 2.1
ours "$B" add hello/1.0 >/dev/null
ours "$B" add twoko/2.1 >/dev/null
same_status "$B" "ours: added"
ours "$B" build twoko/2.1 -k "$K" >/dev/null
same_status "$B" "ours: built"
ours "$B" install hello/1.0 -k "$K" >/dev/null
same_status "$B" "ours: installed"
ok "our tree reads the same in their status"

# Their remove works on our tree, and ours on theirs
theirs "$B" remove -m hello -v 1.0 --all >/dev/null
same_status "$B" "theirs removed ours"
ours "$A" remove twoko/2.1 --all >/dev/null
same_status "$A" "ours removed theirs"
ok "each removes what the other made"
