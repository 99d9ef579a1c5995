# shellcheck shell=bash
# Side by side with Debian's dkms 3.0.10: two identical sandbox roots, their
# dkms on one (private mount namespace, --dkmstree/--sourcetree/
# --installtree into the root, --no-depmod), ours on the other (--root).
# Sourced by tests/t-dkms-conformance*.sh after lib.sh.
K=$(host_kver) || skip "no linux-headers installed"
command -v dkms >/dev/null || skip "Debian's dkms is not installed"
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then skip "needs root and unshare"; fi
unshare -m true 2>/dev/null || skip "no mount namespaces here"
A_=$(uname -m)
export A_ # used by the tests that source this file
TH=$T/theirs OU=$T/ours
mkdir -p "$T/hostdkms"

# theirs ARGS...: Debian's dkms on $TH, from the current directory. With
# $THEIRS_OS_RELEASE set, that file is its /etc/os-release (dkms reads the
# host's; ours reads the root's: put the same file in $OU/etc).
theirs() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m sh -c 'mount --bind "$1" /var/lib/dkms && { [ -z "$2" ] || mount --bind "$2" /etc/os-release; } && shift 2 && exec "$@"' \
		sh "$T/hostdkms" "${THEIRS_OS_RELEASE:-}" \
		env mok_signing_key="$T/hostdkms/mok.key" mok_certificate="$T/hostdkms/mok.pub" \
		dkms "$@" --dkmstree "$TH/var/lib/dkms" --sourcetree "$TH/usr/src" \
		--installtree "$TH/lib/modules" --no-depmod
}
# ours ARGS...: ours on $OU.
ours() { "$DKMS_AGENT" --root "$OU" "$@" --no-depmod; }

fresh() {
	rm -rf "$TH" "$OU"
	mk_root "$TH" "$K"
	mk_root "$OU" "$K"
}

# both RC ARGS...: each tool on its root exits RC.
both() {
	local want=$1 rt=0 ro=0
	shift
	theirs "$@" >"$T/t.out" 2>&1 || rt=$?
	ours "$@" >"$T/o.out" 2>&1 || ro=$?
	[ "$rt" -eq "$want" ] || { cat "$T/t.out"; fail "theirs: expected exit $want, got $rt: $*"; }
	[ "$ro" -eq "$want" ] || { cat "$T/o.out"; fail "ours: expected exit $want, got $ro: $*"; }
}
# ours_rc RC ARGS...: ours alone (where 3.0.10 lacks the feature or differs
# from the documented behaviour, the brief's assertion is on ours).
ours_rc() {
	local want=$1 r=0
	shift
	ours "$@" >"$T/o.out" 2>&1 || r=$?
	[ "$r" -eq "$want" ] || { cat "$T/o.out"; fail "ours: expected exit $want, got $r: $*"; }
}
# same_status WHAT: both print the same status lines.
same_status() {
	theirs status 2>/dev/null | grep -v '^Deprecated\|^WARNING' >"$T/st.t" || true
	ours status >"$T/st.o" 2>/dev/null || true
	diff -u "$T/st.t" "$T/st.o" || fail "status differs ($1)"
}
# same_files WHAT [IGNORE]: the same files (names and types) in the dkms
# trees and under lib/modules/K (link targets differ by design: ours are
# relative); paths matching the grep pattern IGNORE are left out.
same_files() {
	local r
	for r in "$TH" "$OU"; do
		(cd "$r" && find var/lib/dkms lib/modules/"$K"/updates lib/modules/"$K"/extra \
			lib/modules/"$K"/kernel usr/src -printf '%y %p\n' 2>/dev/null |
			grep -v 'mok\.\|/log/\|/build\(/\|$\)\|/\.\|tarball' |
			grep -v "${2:-^\$}" | sort) >"$r.files"
	done
	diff -u "$TH.files" "$OU.files" || fail "files differ ($1)"
}
