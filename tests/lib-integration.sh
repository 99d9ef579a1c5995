# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers shared by the integration tests of the hooks and plugins
# (t-kernel-install, t-pacman-hooks, t-debian-hooks, t-mkinitcpio-hook,
# t-dracut-module). Sourced after tests/lib.sh.
INTEG=$TOP/tests/integration

# need_agent VERB...: skip unless the built binary exists and lists each VERB
# in its --help (or help) output (the verbs land one by one).
need_agent() {
	local v help
	[ -x "$DKMS_AGENT" ] || skip "$DKMS_AGENT not built (run make)"
	help=$({ "$DKMS_AGENT" --help || "$DKMS_AGENT" help; } 2>&1)
	for v in "$@"; do
		grep -qw -- "$v" <<<"$help" || skip "dkms-agent has no '$v' verb yet"
	done
}

# need_headers: sets KVER to the newest kernel with installed headers.
need_headers() {
	KVER=$(host_kver) || skip "no linux-headers installed"
	[ -n "$KVER" ] || skip "no linux-headers installed"
}

# integ_root ROOT KVER [FIXTURE...]: a sandbox root for KVER with each fixture
# of tests/integration copied to ROOT/usr/src/NAME-1.0 (default: dkatest).
integ_root() {
	local root=$1 kver=$2 f
	shift 2
	mk_root "$root" "$kver"
	[ $# -gt 0 ] || set -- dkatest
	for f in "$@"; do
		cp -r "$INTEG/$f" "$root/usr/src/$f-1.0"
	done
}

# find_mod ROOT KVER NAME: prints the installed module file, if any.
find_mod() {
	find "$1/lib/modules/$2" -name "$3.ko*" -not -path '*/build/*' 2>/dev/null | head -n1
}
