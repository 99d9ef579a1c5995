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

DKMS_PKG=$(cut -d' ' -f1 "$PAYLOAD/dkms-pkg" 2>/dev/null || true)
DKMS_MOD=$(cut -d' ' -f2 "$PAYLOAD/dkms-pkg" 2>/dev/null || true)
export DKMS_PKG DKMS_MOD DEBIAN_FRONTEND=noninteractive

# apt_install PKG...: apt-get install from the image's own repository (the
# "debian" flavours: no network needed); its output as it comes, and in
# /tmp/apt.log.
apt_install() {
	{
		apt-get install -y --no-install-recommends "$@" 2>&1
		echo $? >/tmp/apt.rc
	} | tee /tmp/apt.log
	[ "$(cat /tmp/apt.rc)" -eq 0 ] || die "apt-get install $* failed"
}

# install_agent: our Debian package when the payload has one (make deb),
# with apt like any local .deb; otherwise our `make install` tree
# (install_payload).
install_agent() {
	if ls "$PAYLOAD"/agent-deb/dkms-agent_*.deb >/dev/null 2>&1; then
		apt_install "$PAYLOAD"/agent-deb/dkms-agent_*.deb
		say "installed the package $(dpkg-query -W -f='${Package} ${Version}' dkms-agent)"
	else
		install_payload
	fi
}

# agent_is_package: was our agent installed as a Debian package?
agent_is_package() { dpkg-query -W -f='${Status}' dkms-agent 2>/dev/null | grep -q 'ok installed'; }

# install_payload: copy our `make install` tree into the root and enable the
# agent's unit the way a package's postinst would.
install_payload() {
	# tar, not cp -a: keeps the guest's /lib -> usr/lib style symlinks.
	tar -C "$PAYLOAD/root" -cf - . | tar -C / -xf - --keep-directory-symlink --no-same-owner
	systemctl --root=/ enable dkms-agent.service
	say "installed $(dkms-agent --version 2>&1 | head -n1)"
}

# fixture NAME: copy a fixture module's source to /usr/src/NAME-VERSION
# (never used in place: the payload is read-only and pristine), owned by
# root and writable by root only, as a package would install it (the host's
# checkout may be group-writable, which the trust check rightly refuses).
fixture() {
	_v=$(sed -n 's/^PACKAGE_VERSION="*\([^"]*\)"*/\1/p' "$PAYLOAD/fixtures/$1/dkms.conf")
	rm -rf "/usr/src/$1-$_v"
	cp -R "$PAYLOAD/fixtures/$1" "/usr/src/$1-$_v"
	chown -R root:root "/usr/src/$1-$_v"
	chmod -R go-w "/usr/src/$1-$_v"
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

# mono_of_line UNIT REGEX: the monotonic time (seconds, from the journal) of
# the first line of UNIT matching REGEX in this boot; empty if none.
mono_of_line() {
	journalctl -b -u "$1" -o short-monotonic --no-pager |
		grep -m1 -E -- "$2" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'
}

# unit_start_s UNIT: when the unit's main process started (seconds, monotonic).
unit_start_s() {
	echo "scale=6; $(systemctl show -P ExecMainStartTimestampMonotonic "$1") / 1000000" | bc
}

# build_seconds UNIT: the sum of the agent's "Built M/V for K (A) in S s"
# lines of UNIT in this boot.
build_seconds() {
	journalctl -b -u "$1" -o cat --no-pager |
		sed -n 's/.*Built .* in \([0-9.]*\) s.*/\1/p' | { tr '\n' '+'; echo 0; } | bc
}

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
