#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dracut-module/90dkms-agent with Debian's real dracut: for the installed
# Debian kernel and a sandbox root holding the dkatest module (configured as
# early), `dracut --add dkms-agent` builds and installs the module, and
# lsinitrd shows the module, the agent and the pre-pivot hook in the image.
#
# dracut finds our module through a private dracutbasedir: a tree of
# symlinks to the host's /usr/lib/dracut whose modules.d also holds ours (the
# host's /usr/lib/dracut is never modified). Its configuration is an empty
# --conf/--confdir, its kernel modules come from the sandbox (--kmoddir).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-integration.sh
. "$TOP/tests/lib-integration.sh"
command -v dracut >/dev/null || skip "dracut not installed"
command -v lsinitrd >/dev/null || skip "lsinitrd not installed"
[ -d /usr/lib/dracut/modules.d ] || skip "no /usr/lib/dracut/modules.d"
need_headers
[ -d "/lib/modules/$KVER/kernel" ] || skip "kernel $KVER has headers but no installed modules"
need_agent kernel-install early-modules add

ROOT=$T/root
integ_root "$ROOT" "$KVER" dkatest
dk add -m dkatest -v 1.0 >/dev/null
printf 'early_modules=dkatest\ninitramfs=off\n' >"$ROOT/etc/dkms-agent.conf"

# The private dracut base directory.
BASE=$T/dracut
mkdir -p "$BASE/modules.d"
for f in /usr/lib/dracut/*; do
	[ "${f##*/}" = modules.d ] || ln -s "$f" "$BASE/${f##*/}"
done
for m in /usr/lib/dracut/modules.d/*; do
	ln -s "$m" "$BASE/modules.d/${m##*/}"
done
cp -r "$TOP/dracut-module/90dkms-agent" "$BASE/modules.d/"
mkdir -p "$T/dracut.conf.d" "$T/tmp"
: >"$T/dracut.conf"

IMG=$T/initrd.img
dracutbasedir=$BASE DKMS_ROOT=$ROOT DKMS_AGENT=$DKMS_AGENT \
	dracut --force --quiet --no-hostonly --no-early-microcode --no-compress \
	--conf "$T/dracut.conf" --confdir "$T/dracut.conf.d" --tmpdir "$T/tmp" \
	--kmoddir "$ROOT/lib/modules/$KVER" \
	-m base --add dkms-agent \
	"$IMG" "$KVER" >"$T/dracut.log" 2>&1 || { cat "$T/dracut.log"; fail "dracut failed"; }
[ -s "$IMG" ] || fail "no image written"
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/dracut.log"; fail "installkernel() did not build dkatest"; }

lsinitrd "$IMG" >"$T/list" 2>&1 || { cat "$T/list"; fail "lsinitrd failed"; }
has() { grep -Eq "$1" "$T/list" || { cat "$T/dracut.log"; fail "image lacks $1"; }; }
lsinitrd -m "$IMG" 2>/dev/null | grep -qx dkms-agent || fail "lsinitrd does not list the dkms-agent dracut module"
has " (usr/)?lib/modules/$KVER/updates/dkms/dkatest\.ko"
has " usr/bin/dkms-agent$"
has " (usr/)?lib/dracut/hooks/pre-pivot/90-dkms-agent-check\.sh$"
hook=$(grep -Eo '(usr/)?lib/dracut/hooks/pre-pivot/90-dkms-agent-check\.sh$' "$T/list")
lsinitrd -f "$hook" "$IMG" | cmp -s - "$TOP/dracut-module/90dkms-agent/dkms-agent-check.sh" ||
	fail "pre-pivot hook in the image differs from the source"
dep=$(grep -Eo '(usr/)?lib/modules/[^ ]*/modules\.dep$' "$T/list" | head -n1)
lsinitrd -f "$dep" "$IMG" | grep -q 'dkatest.ko' ||
	fail "dkatest not in the image's modules.dep"
ok "image has dkatest.ko, usr/bin/dkms-agent and the pre-pivot hook"

# Host-only mode (Debian's default) keeps only modules loaded right now; the
# early module, just built for this kernel, must be in the image all the same.
IMG2=$T/initrd-hostonly.img
dracutbasedir=$BASE DKMS_ROOT=$ROOT DKMS_AGENT=$DKMS_AGENT \
	dracut --force --quiet --hostonly --no-early-microcode --no-compress \
	--conf "$T/dracut.conf" --confdir "$T/dracut.conf.d" --tmpdir "$T/tmp" \
	--kmoddir "$ROOT/lib/modules/$KVER" \
	-m base --add dkms-agent \
	"$IMG2" "$KVER" >"$T/dracut2.log" 2>&1 || { cat "$T/dracut2.log"; fail "dracut --hostonly failed"; }
lsinitrd "$IMG2" 2>&1 | grep -Eq " (usr/)?lib/modules/$KVER/updates/dkms/dkatest\.ko" ||
	fail "a host-only image lacks the early module"
ok "host-only image has dkatest.ko"

# The host's dracut tree is untouched.
[ ! -e /usr/lib/dracut/modules.d/90dkms-agent ] || echo "note: a 90dkms-agent is installed on the host"

# dkms-agent check reads the real dracut image: the early module is in it,
# the same build as the installed one.
cp "$IMG" "$ROOT/boot/initrd.img-$KVER"
dk check -k "$KVER" >"$T/check" || true
cat "$T/check"
grep -q "initramfs holds dkatest (same build as installed)" "$T/check" ||
	fail "check does not see dkatest in the dracut image"
ok "check reads the dracut image"
