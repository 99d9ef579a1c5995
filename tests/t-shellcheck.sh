#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs shellcheck on every shell file of the repository: scripts under agent/,
# mkinitcpio-hook/, dracut-module/, packaging/, tests/, bench/, qemu-tests/
# and .ci/,
# recognised by extension (.sh, .bash, .install) or by a sh/bash/ash/dash
# shebang. Sourced files are followed where their path is known
# (-x, source paths relative to each script); SC1091 ("not following") is
# left out because test scripts source by computed paths.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
command -v shellcheck >/dev/null || skip "shellcheck not installed"
cd "$TOP"

is_shell() {
	case $1 in
	*.sh | *.bash | *.install | */PKGBUILD | */PKGBUILD.in) return 0 ;;
	*.service | *.hook | *.conf | *.md | *.c | *.h | *.list | *.[0-9] | */README | */Makefile) return 1 ;;
	esac
	head -n1 "$1" 2>/dev/null | grep -Eq '^#!(/usr)?/bin/(env )?(ba|da|a)?sh\b'
}

DIRS=(agent mkinitcpio-hook dracut-module packaging tests bench qemu-tests .ci)
# Every file of those folders: git's list in a work tree (committed and not
# yet committed, ignored ones left out), else (an unpacked release tarball)
# what is on disk.
list_files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files "${DIRS[@]}"
		git ls-files --others --exclude-standard "${DIRS[@]}"
	else
		find "${DIRS[@]}" -type f 2>/dev/null | grep -v '/\.cache/'
	fi
}
files=()
while IFS= read -r f; do
	is_shell "$f" && files+=("$f")
done < <(list_files | grep -v '^tests/fixtures/' | grep -v '^tests/integration/' |
	grep -Ev '^tests/fuzz/(corpus|regressions)/' | grep -v '^tests/out/' | LC_ALL=C sort -u)
[ ${#files[@]} -gt 0 ] || fail "no shell files found"

bad=()
for f in "${files[@]}"; do
	if ! shellcheck -x -P SCRIPTDIR -e SC1091 "$f" >"$T/out" 2>&1; then
		cat "$T/out"
		bad+=("$f")
	fi
done
echo "${#files[@]} shell files checked"
[ ${#bad[@]} -eq 0 ] || fail "shellcheck complains about: ${bad[*]}"
ok "all ${#files[@]} shell files are shellcheck-clean"
