#!/bin/bash
# Trust and privilege: make runs as an unprivileged user unless configured
# otherwise; root refuses to build from a source tree another user can write.
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
[ "$(id -u)" -eq 0 ] || skip "needs root (the checks only apply to root)"
A=$(uname -m)
ROOT=$T/root
mk_root "$ROOT" "$K"
add_fixture "$ROOT" hello 1.0
log=$ROOT/var/lib/dkms/hello/1.0/$K/$A/log/make.log

# default: the build ran as an unprivileged user
dk build hello/1.0 -k "$K" >/dev/null
uid=$(sed -n 's/^build-uid=//p' "$log" | head -n1)
if [ -z "$uid" ] || [ "$uid" -eq 0 ]; then fail "make ran as uid '$uid'"; fi
grep -q "Building as uid $uid (unprivileged)" "$log" || fail "log does not say who built"
ok "unprivileged build (uid $uid)"

# build_as_root=yes turns it off
echo "build_as_root=yes" >"$ROOT/etc/dkms-agent.conf"
dk build hello/1.0 -k "$K" --force >/dev/null
[ "$(sed -n 's/^build-uid=//p' "$log" | head -n1)" = 0 ] || fail "build_as_root=yes still built unprivileged"
rm "$ROOT/etc/dkms-agent.conf"
ok "build_as_root=yes"

# a source file writable by others: refused at add (before dkms.conf is
# read), and at build if it became writable after add; exit 40 (ours,
# outside dkms's codes), the file and who can write it named, tree unchanged
dk remove hello/1.0 --all >/dev/null
chmod o+w "$ROOT/usr/src/hello-1.0/hello.c"
expect_rc 40 dk add hello/1.0 2>"$T/err"
grep -q "hello-1.0/hello.c is writable by everyone" "$T/err" || fail "add: message does not name the file and who: $(cat "$T/err")"
[ ! -e "$ROOT/var/lib/dkms/hello" ] || fail "a refused add left something in the tree"
chmod o-w "$ROOT/usr/src/hello-1.0/hello.c"
dk add hello/1.0 >/dev/null
chmod o+w "$ROOT/usr/src/hello-1.0/hello.c"
expect_rc 40 dk build hello/1.0 -k "$K" 2>"$T/err"
grep -q "hello-1.0/hello.c is writable by everyone (mode 0646)" "$T/err" || fail "build: message does not name the file: $(cat "$T/err")"
[ ! -d "$ROOT/var/lib/dkms/hello/1.0/$K" ] || fail "refused build left a built state"
ok "untrusted source refused"

# a file owned by another user: refused too, the user named
chmod o-w "$ROOT/usr/src/hello-1.0/hello.c"
chown nobody "$ROOT/usr/src/hello-1.0/Makefile"
expect_rc 40 dk build hello/1.0 -k "$K" 2>"$T/err"
grep -q "hello-1.0/Makefile is owned by user nobody" "$T/err" || fail "owner not named: $(cat "$T/err")"
chown root "$ROOT/usr/src/hello-1.0/Makefile"
ok "foreign owner refused"

# group write: refused for a group other users belong to (nogroup is
# nobody's primary group), accepted for root's own group: a tree root
# unpacks from a `git archive` tarball (root:root, 0664 files, 0775 dirs)
chgrp nogroup "$ROOT/usr/src/hello-1.0/hello.c"
chmod g+w "$ROOT/usr/src/hello-1.0/hello.c"
expect_rc 40 dk build hello/1.0 -k "$K" 2>"$T/err"
grep -q "hello.c is writable by group nogroup (.*nobody" "$T/err" || fail "group not named: $(cat "$T/err")"
chgrp root "$ROOT/usr/src/hello-1.0/hello.c"
dk remove hello/1.0 --all >/dev/null
find "$ROOT/usr/src/hello-1.0" -type d -exec chmod 0775 {} +
find "$ROOT/usr/src/hello-1.0" -type f -exec chmod 0664 {} +
dk add hello/1.0 >/dev/null || fail "a root:root 0664/0775 tree was refused at add"
dk build hello/1.0 -k "$K" >/dev/null || fail "a root:root 0664/0775 tree was refused at build"
find "$ROOT/usr/src/hello-1.0" -type d -exec chmod 0755 {} +
find "$ROOT/usr/src/hello-1.0" -type f -exec chmod 0644 {} +
ok "group write: refused for nogroup, accepted for root's own group (git archive tarballs)"

# a directory above the source that others can write: refused (sticky /tmp is fine)
dk remove hello/1.0 --all >/dev/null
chmod o+w "$ROOT/usr/src"
expect_rc 40 dk add hello/1.0 2>"$T/err"
grep -q "/usr/src is writable by everyone" "$T/err" || fail "parent not named: $(cat "$T/err")"
chmod o-w "$ROOT/usr/src"
dk add hello/1.0 >/dev/null
ok "writable parent refused"

# trust_unsafe_sources=yes is the explicit way out
chmod o+w "$ROOT/usr/src/hello-1.0/hello.c"
echo "trust_unsafe_sources=yes" >"$ROOT/etc/dkms-agent.conf"
dk build hello/1.0 -k "$K" --force >/dev/null
ok "trust_unsafe_sources=yes"

# a built module path planted as a symlink is not followed
chmod o-w "$ROOT/usr/src/hello-1.0/hello.c"
rm "$ROOT/etc/dkms-agent.conf"
dk remove hello/1.0 --all >/dev/null
mkdir -p "$T/evil"
cp -r "$FIXTURES/hello" "$T/evil/evil-1.0"
sed -i 's/hello/evil/g' "$T/evil/evil-1.0/dkms.conf"
cat >"$T/evil/evil-1.0/Makefile" <<'MK'
all:
	ln -sf /etc/shadow evil.ko
MK
sed -i 's/^PACKAGE_NAME=.*/PACKAGE_NAME="evil"\nMAKE[0]="make"/' "$T/evil/evil-1.0/dkms.conf"
cp -r "$T/evil/evil-1.0" "$ROOT/usr/src/"
chown -R root:root "$ROOT/usr/src/evil-1.0"
dk add evil/1.0 >/dev/null
expect_rc 7 dk build evil/1.0 -k "$K" >/dev/null 2>&1
! grep -rq root: "$ROOT/var/lib/dkms/evil" 2>/dev/null || fail "a planted link was followed"
ok "planted symlink not followed"
