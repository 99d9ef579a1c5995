#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# agent/completion/dkms-agent.bash as a user meets it: installed by make
# install, found by bash-completion's loader under the name typed (dkms or
# dkms-agent), run by readline in an interactive bash on a pseudo-terminal
# (tests/pty-complete.py). The lines are the Arch wiki's: modules, their
# versions and the installed kernels complete, from the source trees and the
# dkms tree below $DKMS_ROOT or --root.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
BC=/usr/share/bash-completion/bash_completion
[ -f "$BC" ] || skip "bash-completion is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
case $O in /*) B=$O ;; *) B=$TOP/$O ;; esac
[ -x "$B/dkms-agent" ] || skip "$B/dkms-agent not built (run make)"

D=$T/d
make -s -C "$TOP" O="$B" -o "$B/dkms-agent" -o "$B/dkms" UNITDIR=/usr/lib/systemd/system \
	BASHCOMPDIR=/usr/share/bash-completion/completions install DESTDIR="$D" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; fail "make install failed"; }

# A root: sources in /usr/src (one whose version holds a '-', one linked
# from /opt as Arch's guidelines allow), one module only in the dkms tree,
# two installed kernels and a leftover module directory that is no kernel.
R=$T/r
mkdir -p "$R/usr/src/foo-1.0" "$R/usr/src/foo-2.1" "$R/usr/src/bar-baz-0.3" "$R/usr/src/nodkms-1" \
	"$R/usr/src/rc-2.0-rc1" "$R/opt/nvidia" "$R/var/lib/dkms/nvidia/304.51" \
	"$R/var/lib/dkms/old/0.9" "$R/lib/modules/3.6.2-1-ARCH" "$R/lib/modules/6.2.0-9-amd64/build" \
	"$R/lib/modules/5.0.0-gone/updates/dkms" "$R/boot"
for d in foo-1.0 foo-2.1 bar-baz-0.3; do : >"$R/usr/src/$d/dkms.conf"; done
printf 'PACKAGE_NAME="rc"\nPACKAGE_VERSION="2.0-rc1"\n' >"$R/usr/src/rc-2.0-rc1/dkms.conf"
printf 'PACKAGE_NAME=nvidia\nPACKAGE_VERSION=304.51\n' >"$R/opt/nvidia/dkms.conf"
ln -s /opt/nvidia "$R/usr/src/nvidia-304.51"
ln -s 0.9/3.6.2-1-ARCH/x86_64 "$R/var/lib/dkms/old/kernel-3.6.2-1-ARCH-x86_64"
: >"$R/lib/modules/3.6.2-1-ARCH/vmlinuz"
: >"$R/lib/modules/5.0.0-gone/modules.dep"

cat >"$T/rc" <<RC
export PATH=$D/usr/sbin:\$PATH BASH_COMPLETION_USER_DIR=$D/usr/share/bash-completion DKMS_ROOT=$R
bind 'set bell-style none'
bind 'set enable-bracketed-paste off' 2>/dev/null
. $BC
RC

# Each case: the words of the line once completed, then the line typed.
cases=(
	"dkms install -m bar-baz foo nvidia old rc|dkms install -m "
	"dkms install -m nvidia -v 304.51|dkms install -m nv\t-v "
	"dkms install -m nvidia -v 304.51 -k 3.6.2-1-ARCH 6.2.0-9-amd64|dkms install -m nvidia -v 304.51 -k "
	"dkms install -m nvidia -v 304.51 -k 3.6.2-1-ARCH|dkms install -m nvidia -v 304.51 -k 3"
	"dkms remove -m foo -v 1.0 2.1|dkms remove -m foo -v "
	"dkms install -m rc -v 2.0-rc1|dkms install -m rc -v "
	"dkms autoinstall -k 3.6.2-1-ARCH 6.2.0-9-amd64|dkms autoinstall -k "
	"dkms build bar-baz/0.3 foo/1.0 foo/2.1 nvidia/304.51 old/0.9 rc/2.0-rc1|dkms build "
	"dkms-agent kernel-install add 6.2.0-9-amd64|dkms-agent kernel-install add 6"
	"dkms-agent check --all-kernels|dkms-agent check --all"
	"dkms-agent boot build|dkms-agent b"
	"dkms --root $R install -m bar-baz foo nvidia old rc|DKMS_ROOT=/nonexistent\rdkms --root $R install -m "
	"dkms --root=$R status -m foo -v 1.0 2.1|DKMS_ROOT=/nonexistent\rdkms --root=$R status -m foo -v "
)
lines=()
for c in "${cases[@]}"; do lines+=("$(printf '%b' "${c#*|}")"); done
python3 "$TOP/tests/pty-complete.py" "$T/rc" "${lines[@]}" >"$T/got" 2>"$T/err" ||
	{ cat "$T/err"; fail "the interactive bash failed"; }
i=0
bad=0
while IFS= read -r got; do
	want=${cases[i]%%|*}
	[ "$got" = "$want" ] || { echo "typed '${cases[i]#*|}': want '$want', got '$got'"; bad=1; }
	i=$((i + 1))
done <"$T/got"
[ -z "${PTY_DEBUG:-}" ] || cat "$T/err" # the bytes bash printed
[ "$i" -eq ${#cases[@]} ] || fail "got $i answers for ${#cases[@]} lines: $(cat "$T/got" "$T/err")"
[ "$bad" -eq 0 ] || fail "completion differs"
ok "$i command lines completed by readline: modules, versions, installed kernels, --root and \$DKMS_ROOT"
