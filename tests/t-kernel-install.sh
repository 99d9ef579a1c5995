#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# agent/45-dkms-agent.install under Debian's real kernel-install (systemd 252,
# a shell script with no --root): the plugin builds and installs the fixture
# module for the kernel given to "add" in a sandbox root, removes it on
# "remove", and exits 0 even when a module fails to build, so the plugins
# after it (the initramfs generator) still run.
#
# kernel-install is confined with its documented environment:
# KERNEL_INSTALL_PLUGINS (only our plugin and a recorder standing in for an
# initramfs generator: the host's 50-depmod would touch /lib/modules),
# KERNEL_INSTALL_CONF_ROOT (an empty install.conf), BOOT_ROOT and MACHINE_ID.
# DKMS_ROOT tells the plugin which root to work on.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-integration.sh
. "$TOP/tests/lib-integration.sh"
command -v kernel-install >/dev/null || skip "kernel-install not installed"
plugin=$TOP/agent/45-dkms-agent.install
[ -x "$plugin" ] || fail "$plugin missing or not executable"

# Ordering: before every initramfs generator's plugin, whatever its vendor.
for other in 50-depmod.install 50-dracut.install 50-mkinitcpio.install 85-initrd.install; do
	first=$(printf '%s\n' "$other" "${plugin##*/}" | LC_ALL=C sort | head -n1)
	[ "$first" = "${plugin##*/}" ] || fail "${plugin##*/} does not sort before $other"
done
ok "plugin sorts before the initramfs plugins"

need_agent kernel-install add remove
need_headers
ROOT=$T/root
integ_root "$ROOT" "$KVER" dkatest
dk add -m dkatest -v 1.0 >/dev/null

mkdir -p "$T/conf" "$T/boot" "$T/plugins"
: >"$T/conf/install.conf"
cat >"$T/plugins/60-record.install" <<REC
#!/bin/sh
echo "\$1 \$2" >>"$T/recorded"
REC
chmod +x "$T/plugins/60-record.install"

ki() {
	KERNEL_INSTALL_PLUGINS="$plugin $T/plugins/60-record.install" \
		KERNEL_INSTALL_CONF_ROOT=$T/conf BOOT_ROOT=$T/boot \
		MACHINE_ID=0123456789abcdef0123456789abcdef \
		DKMS_ROOT=$ROOT DKMS_AGENT=$DKMS_AGENT \
		kernel-install "$@"
}

ki -v add "$KVER" "$ROOT/boot/vmlinuz-$KVER" >"$T/add.log" 2>&1 || { cat "$T/add.log"; fail "kernel-install add failed"; }
grep -q "^+$DKMS_AGENT --root $ROOT kernel-install add $KVER" "$T/add.log" ||
	{ cat "$T/add.log"; fail "plugin was not run with the kernel-install arguments"; }
mod=$(find_mod "$ROOT" "$KVER" dkatest)
[ -n "$mod" ] || { cat "$T/add.log"; fail "dkatest not installed for $KVER"; }
grep -qx "add $KVER" "$T/recorded" || fail "the plugin after ours did not run"
ok "add built and installed ${mod#"$ROOT"}"

# The host was not touched.
[ -z "$(find_mod / "$KVER" dkatest)" ] || fail "module leaked into the host's /lib/modules"

ki remove "$KVER" >"$T/remove.log" 2>&1 || { cat "$T/remove.log"; fail "kernel-install remove failed"; }
[ -z "$(find_mod "$ROOT" "$KVER" dkatest)" ] || fail "dkatest still installed after remove"
grep -qx "remove $KVER" "$T/recorded" || fail "the plugin after ours did not run on remove"
ok "remove uninstalled it"

# A module that does not build: kernel-install still succeeds and the
# generator after us still runs; the good module is still installed.
cp -r "$INTEG/dkabroken" "$ROOT/usr/src/dkabroken-1.0"
dk add -m dkabroken -v 1.0 >/dev/null
: >"$T/recorded"
ki add "$KVER" "$ROOT/boot/vmlinuz-$KVER" >"$T/broken.log" 2>&1 || { cat "$T/broken.log"; fail "kernel-install add failed because of a broken module"; }
grep -qx "add $KVER" "$T/recorded" || fail "a failed build stopped the plugins after ours"
[ -n "$(find_mod "$ROOT" "$KVER" dkatest)" ] || fail "dkatest not installed next to a broken module"
[ -z "$(find_mod "$ROOT" "$KVER" dkabroken)" ] || fail "dkabroken installed?"
ok "a failed build leaves kernel-install at exit 0"

# The agent missing entirely is not an error either (only checked where no
# dkms-agent is installed on the host, which the plugin would then find).
if [ -e /usr/sbin/dkms-agent ] || PATH=/usr/bin:/bin command -v dkms-agent >/dev/null; then exit 0; fi
DKMS_ROOT=$ROOT KERNEL_INSTALL_PLUGINS=$plugin KERNEL_INSTALL_CONF_ROOT=$T/conf BOOT_ROOT=$T/boot \
	MACHINE_ID=0123456789abcdef0123456789abcdef DKMS_AGENT=$T/nonexistent PATH=/usr/bin:/bin \
	kernel-install add "$KVER" "$ROOT/boot/vmlinuz-$KVER" || fail "plugin failed without the agent"
ok "no agent installed: plugin is a no-op"
