# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Sourced by a test's guest scripts (setup, check) inside the guest, from the
# payload share (the current directory). POSIX sh: the guest runs them with
# dash.
set -eu
# init= starts us with umask 0: files we create must not be world-writable.
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PAYLOAD=$(pwd)
KVER_BASE=$(cat "$PAYLOAD/kver-base")
KVER_NEW=$(cat "$PAYLOAD/kver-new")
export PAYLOAD KVER_BASE KVER_NEW

say() { echo "qemu-test: $*"; }
die() { echo "qemu-test: FAILED: $*"; exit 1; }

# Setup scripts run without systemd (init=): systemctl only with --root=/.

# install_payload: copy our `make install` tree into the root and enable the
# agent's unit the way a package's postinst would.
install_payload() {
	# tar, not cp -a: keeps the guest's /lib -> usr/lib style symlinks.
	tar -C "$PAYLOAD/root" -cf - . | tar -C / -xf - --keep-directory-symlink --no-same-owner
	systemctl --root=/ enable dkms-agent.service
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
	systemctl --root=/ enable standin-dm.service
	systemctl --root=/ set-default graphical.target
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

# loaded_before_switch_root PATTERN: the kernel's PATTERN message appears in
# this boot's journal before systemd's "Switching root." (i.e. the module was
# loaded by the initramfs).
loaded_before_switch_root() {
	journalctl -b -o short-monotonic --no-pager >/tmp/journal.txt
	_m=$(grep -n -m1 -- "$1" /tmp/journal.txt | cut -d: -f1)
	_s=$(grep -n -m1 -- "Switching root" /tmp/journal.txt | cut -d: -f1)
	[ -n "$_m" ] || { say "no '$1' in the journal"; return 1; }
	[ -n "$_s" ] || { say "no 'Switching root' in the journal"; return 1; }
	sed -n "${_m}p;${_s}p" /tmp/journal.txt
	[ "$_m" -lt "$_s" ]
}
