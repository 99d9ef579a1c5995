#!/bin/bash
# Bad dkms.conf files: each is refused through pkg_load (`conf --check`) with
# a message naming the file and the problem, and a non-zero exit.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$DKMS_AGENT" ] || skip "no $DKMS_AGENT"

cp -r "$FIXTURES/bad-conf" "$T/"
B=$T/bad-conf

# expect_bad NAME PATTERN...: --check exits 8 and stderr holds every pattern
expect_bad() {
	local name=$1 rc=0 p
	shift
	"$DKMS_AGENT" conf --check "$B/$name/dkms.conf" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 8 ] || { cat "$T/err"; fail "$name: exit $rc, expected 8"; }
	grep -qF "$B/$name/dkms.conf" "$T/err" || fail "$name: message does not name the file"
	for p in "$@"; do
		grep -qF -- "$p" "$T/err" || { cat "$T/err"; fail "$name: no '$p' in the message"; }
	done
	ok "$name refused"
}

expect_bad no-name-1.0 "No 'PACKAGE_NAME' directive"
expect_bad ko-suffix-1.0 "'BUILT_MODULE_NAME' directive ends in '.o' or '.ko'"
expect_bad no-dest-1.0 "No 'DEST_MODULE_LOCATION' directive specified for record #0"
# bash's own words (file, line, message) say why the name is missing.
expect_bad garbage-1.0 "No 'PACKAGE_NAME' directive" "garbage-1.0/dkms.conf: line 1: unexpected EOF"

# A file that cannot be read: exit 2, the file named, both for conf and --check.
rc=0
"$DKMS_AGENT" conf "$T/missing-1.0/dkms.conf" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "missing file: exit $rc, expected 2"
grep -qF "$T/missing-1.0/dkms.conf" "$T/err" || fail "missing file not named"
rc=0
"$DKMS_AGENT" conf --check "$T/missing-1.0/dkms.conf" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "missing file (--check): exit $rc, expected 2"
grep -qF "$T/missing-1.0/dkms.conf" "$T/err" || fail "missing file not named (--check)"
rc=0
"$DKMS_AGENT" conf "$B" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "directory: exit $rc, expected 2"
ok "unreadable files"

# The good one passes; MAKE_MATCH picks MAKE[1] on 6.x, MAKE[0] elsewhere;
# BUILD_EXCLUSIVE_ARCH excludes armv7l; REMAKE_INITRD is a deprecation warning.
G=$B/good-2.1/dkms.conf
out=$("$DKMS_AGENT" conf --check "$G" 2>"$T/err")
[ "$out" = "good/2.1: 1 module(s), make: make new" ] || fail "good: $out"
grep -q "Deprecated feature: REMAKE_INITRD" "$T/err" || fail "no deprecation warning"
out=$("$DKMS_AGENT" conf --check -k 5.10.0-1-amd64 -a armv7l "$G" 2>/dev/null)
case $out in
*"make: make KVER=5.10.0-1-amd64"*"BUILD_EXCLUSIVE_ARCH"*) ok "MAKE_MATCH and BUILD_EXCLUSIVE_ARCH" ;;
*) fail "good on 5.10/armv7l: $out" ;;
esac

# Overrides in /etc/dkms are sourced on top of dkms.conf.
mkdir -p "$T/etc"
echo 'MAKE[1]="make overridden"' >"$T/etc/good-2.1.conf"
out=$("$DKMS_AGENT" conf --check --etc-dkms "$T/etc" "$G" 2>/dev/null)
[ "$out" = "good/2.1: 1 module(s), make: make overridden" ] || fail "override: $out"
ok "override"
