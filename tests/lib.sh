# shellcheck shell=bash
# Shared helpers for tests/t-*.sh. Each test sources this file, gets a scratch
# directory $T (removed at exit) and uses sandbox roots; nothing touches the
# host's /lib/modules, /var/lib/dkms, /usr/src or /boot.
set -eu
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
O=${O:-build}
DKMS_AGENT=${DKMS_AGENT:-$TOP/$O/dkms-agent}
FIXTURES=$TOP/tests/fixtures
T=$(mktemp -d "${TMPDIR:-/tmp}/dkms-agent-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
# Builds run as an unprivileged user, who must be able to reach the sandbox.
chmod 755 "$T"
export LC_ALL=C

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
ok() { echo "ok: $*"; }

# The newest kernel whose Debian headers are installed (found at run time).
host_kver() {
	local d
	for d in /usr/src/linux-headers-*; do
		if [ -f "$d/.config" ] && [ -f "$d/Makefile" ]; then
			echo "${d#/usr/src/linux-headers-}"
		fi
	done | sort -V | tail -n1 | grep .
}

# mk_root DIR [KVER...]: a sandbox root with lib/modules/KVER/build pointing at
# the host's headers, the kernel's modules.builtin* and modules.order (for
# depmod), and empty dkms/source trees.
mk_root() {
	local root=$1 k
	shift
	mkdir -p "$root"/{var/lib/dkms,usr/src,etc/dkms,boot,tmp}
	for k in "$@"; do
		mkdir -p "$root/lib/modules/$k"
		ln -sfn "/usr/src/linux-headers-$k" "$root/lib/modules/$k/build"
		for f in modules.builtin modules.builtin.modinfo modules.order; do
			if [ -f "/lib/modules/$k/$f" ]; then cp "/lib/modules/$k/$f" "$root/lib/modules/$k/"; else : >"$root/lib/modules/$k/$f"; fi
		done
		[ -f "/boot/config-$k" ] && cp "/boot/config-$k" "$root/boot/"
		: >"$root/boot/vmlinuz-$k"
	done
}

# add_fixture ROOT NAME VERSION: copies tests/fixtures/NAME into ROOT/usr/src/NAME-VERSION
add_fixture() {
	local root=$1 name=$2 ver=$3
	mkdir -p "$root/usr/src"
	cp -r "$FIXTURES/$name" "$root/usr/src/$name-$ver"
}

# shellcheck disable=SC2153 # ROOT is set by the test before it calls dk
dk() { "$DKMS_AGENT" --root "$ROOT" "$@"; }

# expect_rc RC CMD...: runs CMD, fails the test unless it exits RC.
expect_rc() {
	local want=$1 rc=0
	shift
	"$@" || rc=$?
	[ "$rc" -eq "$want" ] || fail "expected exit $want, got $rc: $*"
}
