#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# agent/debian/common.postinst, the file every *-dkms package's dh_dkms
# postinst runs as "common.postinst NAME VERSION /usr/share/PKG '' OLD", and
# the commands the dh_dkms prerm runs ("dkms status -m N -v V", then "dkms
# remove -m N -v V --all"), against a sandbox root (DKMS_ROOT) with real
# builds. The running kernel is not in the sandbox, as in a chroot: a first
# install builds for every kernel there, an upgrade for the newest only.
# (make distro-check runs the real packages in a Debian chroot.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-integration.sh
. "$TOP/tests/lib-integration.sh"
need_agent add install remove status
need_headers
CP=$TOP/agent/debian/common.postinst
ROOT=$T/root
integ_root "$ROOT" "$KVER" dkatest dkabroken
# A second kernel without headers: named, skipped, not a failure.
mkdir -p "$ROOT/lib/modules/0.0.1-noheaders"
export DKMS_ROOT=$ROOT DKMS_AGENT
cp_run() { "$CP" "$@" >"$T/out" 2>&1; }

expect_rc 1 cp_run
grep -q Usage "$T/out" || fail "no usage message"
ok "no arguments: usage, exit 1"

mkdir -p "$ROOT/etc/dkms"
touch "$ROOT/etc/dkms/no-autoinstall"
expect_rc 0 cp_run dkatest 1.0 /usr/share/dkatest-dkms "" ""
[ ! -e "$ROOT/var/lib/dkms/dkatest" ] || fail "registered although autoinstall is off"
rm "$ROOT/etc/dkms/no-autoinstall"
ok "/etc/dkms/no-autoinstall: nothing done, exit 0"

# First install: registered, built and installed for the kernel with headers.
expect_rc 0 cp_run dkatest 1.0 /usr/share/dkatest-dkms "" ""
cat "$T/out"
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || fail "dkatest not installed for $KVER"
grep -q "0.0.1-noheaders: its headers" "$T/out" || fail "the kernel without headers is not named"
dk status -m dkatest -v 1.0 | grep -q "$KVER.*: installed" || fail "status does not say installed"
ok "first install: built and installed for $KVER, the kernel without headers named"

# Configured again (a reinstall): the registration is dropped and rebuilt.
expect_rc 0 cp_run dkatest 1.0 /usr/share/dkatest-dkms "" 1.0
grep -q 'dropping the existing registration' "$T/out" || { cat "$T/out"; fail "no fresh start"; }
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || fail "dkatest not installed after the reinstall"
ok "reconfigure: fresh registration, installed again"

# dh_dkms's prerm: status non-empty, then remove --all succeeds and empties.
[ -n "$(dk status -m dkatest -v 1.0)" ] || fail "status -m -v is empty"
expect_rc 0 dk remove -m dkatest -v 1.0 --all
[ -z "$(dk status -m dkatest -v 1.0)" ] || fail "status not empty after remove --all"
[ -z "$(find_mod "$ROOT" "$KVER" dkatest)" ] || fail "module left installed"
[ -z "$(dk status -m nosuch -v 1)" ] || fail "status of an unknown module is not empty"
ok "prerm commands: status -m -v, remove --all"

# A module that does not build: dkms's exit code, the log named, so dpkg
# leaves the package unconfigured.
rc=0
cp_run dkabroken 1.0 /usr/share/dkabroken-dkms "" "" || rc=$?
[ "$rc" -eq 10 ] || { cat "$T/out"; fail "expected exit 10 for a failed build, got $rc"; }
grep -q "failed for $KVER (status 10); the build log is under /var/lib/dkms/dkabroken/1.0/$KVER/" "$T/out" ||
	{ cat "$T/out"; fail "the failure does not point at the log"; }
ok "failed build: exit 10, the log named"

# No sources and no archive: nothing to build, not an error; a binary-only
# archive: exit 2.
expect_rc 0 cp_run nosuch 1.0 /usr/share/nosuch-dkms "" ""
mkdir -p "$ROOT/usr/share/binonly-dkms"
: >"$ROOT/usr/share/binonly-dkms/binonly-1.0.dkms.tar.gz"
expect_rc 2 cp_run binonly 1.0 /usr/share/binonly-dkms "" ""
ok "no sources: exit 0; binary-only archive: exit 2"
