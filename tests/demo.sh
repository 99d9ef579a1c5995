#!/bin/bash
# make demo: a sandbox root where a DKMS module is registered but missing for
# the installed kernel; `dkms-agent check` shows the problem, `dkms-agent boot`
# repairs it (real kbuild against Debian's headers, real depmod), and check
# confirms. Nothing outside the sandbox is touched.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
AGENT=$TOP/$O/dkms-agent
# shellcheck source=tests/lib.sh
. "$TOP/tests/lib.sh"
trap - EXIT
DEMO=$TOP/demo
rm -rf "$DEMO"
K=$(host_kver) || { echo "No linux-headers installed: run .ci/deps as root" >&2; exit 1; }
ROOT=$DEMO/root
mk_root "$ROOT" "$K"
add_fixture "$ROOT" hello 1.0
# An initramfs for that kernel that holds an older build of hello, and the
# agent set to refresh it by appending a zstd segment.
mkdir -p "$DEMO/img/lib/modules/$K/updates/dkms"
echo "an older hello build" >"$DEMO/img/lib/modules/$K/updates/dkms/hello.ko"
: >"$DEMO/img/lib/modules/$K/modules.dep"
(cd "$DEMO/img" && find . | cpio -o -H newc --quiet) >"$ROOT/boot/initrd.img-$K"
echo "initramfs=append" >"$ROOT/etc/dkms-agent.conf"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "A sandbox root at $ROOT for kernel $K, with module hello/1.0 registered"
"$AGENT" --root "$ROOT" add hello/1.0
"$AGENT" --root "$ROOT" status

say "dkms-agent check: what is wrong"
"$AGENT" --root "$ROOT" check -k "$K" || true

say "dkms-agent boot -k $K: the agent repairs it"
time "$AGENT" --root "$ROOT" boot -k "$K"

say "dkms status and check after the repair"
"$AGENT" --root "$ROOT" status
"$AGENT" --root "$ROOT" check -k "$K"
say "The initramfs now ends with the appended segment"
"$AGENT" initramfs list "$ROOT/boot/initrd.img-$K" | grep -E 'segment|hello|^[0-9]' | head -8
say "The installed module, as modinfo sees it"
/sbin/modinfo "$ROOT/lib/modules/$K/updates/dkms/hello.ko" | grep -E '^(filename|version|vermagic|sig_id)'

say "A second boot is the fast path (nothing to do)"
time "$AGENT" --root "$ROOT" boot -k "$K"
echo
echo "Demo done: the sandbox stays in $DEMO for you to look at (make clean removes it)."
