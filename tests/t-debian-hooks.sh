#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian kernel hooks of agent/debian: run-parts (as the kernel
# packages' maintainer scripts call it) orders ours before initramfs-tools'
# and dracut's; postinst.d builds the fixture for the kernel, header_postinst.d
# builds with or without the image, prerm.d removes; all exit 0 when a
# module fails to build. Run against a sandbox root through DKMS_ROOT.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-integration.sh
. "$TOP/tests/lib-integration.sh"
command -v run-parts >/dev/null || skip "run-parts not installed"
D=$TOP/agent/debian

# Install the hooks under the names `make install` gives them, next to the
# names Debian's dkms, initramfs-tools and dracut use, and ask run-parts for
# the order.
for dir in postinst.d header_postinst.d prerm.d; do
	mkdir -p "$T/etc/$dir"
	for other in dkms dracut initramfs-tools zz-update-grub; do
		printf '#!/bin/sh\n' >"$T/etc/$dir/$other"
		chmod +x "$T/etc/$dir/$other"
	done
done
install -m755 "$D/kernel-postinst.d-dkms-agent" "$T/etc/postinst.d/dkms-agent"
install -m755 "$D/header_postinst.d-dkms-agent" "$T/etc/header_postinst.d/dkms-agent"
install -m755 "$D/prerm.d-dkms-agent" "$T/etc/prerm.d/dkms-agent"
for dir in postinst.d header_postinst.d prerm.d; do
	order=$(run-parts --test "$T/etc/$dir" | sed 's|.*/||' | tr '\n' ' ')
	case $order in
	*dkms-agent*dracut*initramfs-tools*) ;;
	*) fail "$dir: run-parts order is '$order'" ;;
	esac
done
ok "run-parts runs dkms-agent before dracut and initramfs-tools"

need_agent kernel-install autoinstall add
need_headers
ROOT=$T/root
integ_root "$ROOT" "$KVER" dkatest dkabroken
dk add -m dkatest -v 1.0 >/dev/null
dk add -m dkabroken -v 1.0 >/dev/null
export DKMS_ROOT=$ROOT DKMS_AGENT

# postinst.d: builds (dkabroken fails) and still exits 0.
"$T/etc/postinst.d/dkms-agent" "$KVER" "/boot/vmlinuz-$KVER" >"$T/postinst.log" 2>&1 ||
	{ cat "$T/postinst.log"; fail "postinst.d hook failed"; }
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/postinst.log"; fail "postinst.d did not build dkatest"; }
[ -z "$(find_mod "$ROOT" "$KVER" dkabroken)" ] || fail "dkabroken got installed?"
ok "postinst.d built dkatest, survived dkabroken"

# prerm.d removes what was installed.
"$T/etc/prerm.d/dkms-agent" "$KVER" "/boot/vmlinuz-$KVER" >"$T/prerm.log" 2>&1 ||
	{ cat "$T/prerm.log"; fail "prerm.d hook failed"; }
[ -z "$(find_mod "$ROOT" "$KVER" dkatest)" ] || fail "prerm.d left dkatest installed"
ok "prerm.d uninstalled it"

# header_postinst.d: headers of a kernel that has nothing here: exits 0.
"$T/etc/header_postinst.d/dkms-agent" "0.0.0-not-installed" || fail "header_postinst.d failed"
# Headers before (or without) the image, as chroots and image builders
# install them: it builds anyway, as Debian's dkms does.
echo initramfs=off >"$ROOT/etc/dkms-agent.conf"
rm -f "$ROOT/boot/vmlinuz-$KVER"
rm -rf "$ROOT/lib/modules/$KVER/kernel"
"$T/etc/header_postinst.d/dkms-agent" "$KVER" >"$T/hdr0.log" 2>&1 ||
	{ cat "$T/hdr0.log"; fail "header_postinst.d hook failed"; }
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/hdr0.log"; fail "header_postinst.d did not build dkatest before the image"; }
ok "header_postinst.d built dkatest for a kernel whose image is not installed yet"
# ... and for an installed kernel (initramfs off in the sandbox).
dk uninstall -m dkatest -v 1.0 -k "$KVER" >/dev/null 2>&1 || fail "uninstall"
mkdir -p "$ROOT/lib/modules/$KVER/kernel"
: >"$ROOT/boot/vmlinuz-$KVER"
"$T/etc/header_postinst.d/dkms-agent" "$KVER" >"$T/hdr.log" 2>&1 ||
	{ cat "$T/hdr.log"; fail "header_postinst.d hook failed"; }
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/hdr.log"; fail "header_postinst.d did not build dkatest"; }
ok "header_postinst.d built dkatest for the installed kernel"

# Debian's own /etc/kernel/postinst.d/dkms runs "dkms autoinstall --kernelver
# K" (through dkms_autoinstaller): the long spelling must work with ours.
dk uninstall -m dkatest -v 1.0 -k "$KVER" >/dev/null 2>&1 || true
dk autoinstall --kernelver "$KVER" >"$T/ai.log" 2>&1 || true
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || { cat "$T/ai.log"; fail "autoinstall --kernelver did not install dkatest"; }
ok "autoinstall --kernelver K (as Debian's hook calls it)"
