#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make dist's tarball, unpacked by root as a distribution's build does: it
# holds exactly the files git tracks (when run from a git work tree), owned
# by root, none writable by group or others (root's trust check refuses to
# build sources others can write), and the tests that used to need git work
# from it: t-shellcheck lists the files on disk there. Building it and
# running the whole `make check` from it is done by hand (see README).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$TOP"
V=$(sed -n 's/^#define VERSION "\(.*\)"/\1/p' src/tools/main.c)
packaging/mkdist "$T/dkms-agent-$V.tar.gz" "dkms-agent-$V" >"$T/mkdist.log" 2>&1 ||
	{ cat "$T/mkdist.log"; fail "packaging/mkdist failed"; }
mkdir "$T/u"
tar -C "$T/u" -xzf "$T/dkms-agent-$V.tar.gz"
U=$T/u/dkms-agent-$V
[ -d "$U" ] || fail "the tarball does not unpack to dkms-agent-$V/"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files | while IFS= read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done | LC_ALL=C sort >"$T/want"
	(cd "$U" && find . \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort) >"$T/got"
	diff -u "$T/want" "$T/got" || fail "the tarball's files differ from git's"
	ok "the tarball holds what git tracks ($(wc -l <"$T/got") files)"
fi
[ ! -e "$U/.git" ] || fail ".git in the tarball"
bad=$(find "$U" ! -type l -perm /022)
[ -z "$bad" ] || fail "group/other-writable in the tarball: $(echo "$bad" | head -n3)"
[ "$(stat -c %u:%g "$U/Makefile")" = "$(id -u):$(id -g)" ] || fail "unpacked files not owned by the unpacking user"
ok "no file writable by group or others"

# The same tarball twice: byte-identical (sorted, dated from the commit).
packaging/mkdist "$T/again.tar.gz" "dkms-agent-$V" >/dev/null 2>&1
cmp -s "$T/again.tar.gz" "$T/dkms-agent-$V.tar.gz" || fail "make dist is not reproducible"
ok "reproducible"

command -v shellcheck >/dev/null || skip "shellcheck not installed"
(cd "$U" && TOP=$U bash tests/t-shellcheck.sh) >"$T/sc.log" 2>&1 ||
	{ tail -n 20 "$T/sc.log"; fail "t-shellcheck fails in the unpacked tarball"; }
grep -q 'shell files are shellcheck-clean' "$T/sc.log" || fail "t-shellcheck did not check anything"
ok "t-shellcheck works without git: $(grep -o '[0-9]* shell files checked' "$T/sc.log")"
