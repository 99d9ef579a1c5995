# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Sourced by a test's guest scripts (setup, check) inside the guest, from the
# payload share (the current directory). POSIX sh: the guest runs them with
# dash.
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PAYLOAD=$(pwd)
KVER_BASE=$(cat "$PAYLOAD/kver-base")
KVER_NEW=$(cat "$PAYLOAD/kver-new")
export PAYLOAD KVER_BASE KVER_NEW

say() { echo "qemu-test: $*"; }
die() { echo "qemu-test: FAILED: $*"; exit 1; }

# install_payload: copy our `make install` tree into the root and enable the
# agent's unit the way a package's postinst would.
install_payload() {
	cp -a "$PAYLOAD/root/." /
	systemctl enable dkms-agent.service
	say "installed $(dkms-agent --version 2>&1 | head -n1)"
}

# fixture NAME: copy a fixture module's source to /usr/src/NAME-VERSION
# (never used in place: the payload is read-only and pristine).
fixture() {
	_v=$(sed -n 's/^PACKAGE_VERSION="*\([^"]*\)"*/\1/p' "$PAYLOAD/fixtures/$1/dkms.conf")
	rm -rf "/usr/src/$1-$_v"
	cp -a "$PAYLOAD/fixtures/$1" "/usr/src/$1-$_v"
	echo "$_v"
}

# standin_dm [REQUIRED-MODULE]: a stand-in for a display manager (there is no
# X server here): a unit installed under its own name with
# Alias=display-manager.service, as gdm3/sddm/lightdm do, pulled in by
# graphical.target. With a module name, it refuses to start unless that
# module is loaded, like a DM whose driver is missing.
standin_dm() {
	cat >/etc/systemd/system/standin-dm.service <<UNIT
[Unit]
Description=Stand-in display manager (QEMU test)
After=systemd-user-sessions.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/standin-dm ${1:-}
StandardOutput=journal+console

[Install]
Alias=display-manager.service
UNIT
	cat >/usr/local/sbin/standin-dm <<'SH'
#!/bin/sh
if [ -n "${1:-}" ] && ! grep -q "^$1 " /proc/modules; then
	echo "standin-dm: module $1 is not loaded: no display"
	exit 1
fi
echo "standin-dm: STANDIN-DM-STARTED ${1:+module $1 loaded} uptime $(cut -d' ' -f1 /proc/uptime)"
SH
	chmod 0755 /usr/local/sbin/standin-dm
	systemctl enable standin-dm.service
	systemctl set-default graphical.target
}

# unit_active UNIT: is UNIT active (started successfully)?
unit_active() { [ "$(systemctl is-active "$1" 2>/dev/null)" = active ]; }

# unit_ms UNIT: how long a oneshot unit's start took, in milliseconds, from
# systemd's own bookkeeping (the journal's start/finish).
unit_ms() {
	_a=$(systemctl show -P ExecMainStartTimestampMonotonic "$1")
	_b=$(systemctl show -P ExecMainExitTimestampMonotonic "$1")
	echo $(((_b - _a) / 1000))
}

# module_loaded NAME
module_loaded() { grep -q "^$1 " /proc/modules; }
