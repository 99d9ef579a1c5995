#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make install DESTDIR=…: the file list matches tests/integration/install.list,
# modes are right, hooks point at SBINDIR, an existing configuration is kept,
# and make uninstall leaves only directories behind. Compiling is not this
# test's business: the built program is taken as it is (make -o).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
case $O in /*) B=$O ;; *) B=$TOP/$O ;; esac
[ -x "$B/dkms-agent" ] || skip "$B/dkms-agent not built (run make)"
D=$T/d
mi() {
	make -s -C "$TOP" O="$B" -o "$B/dkms-agent" -o "$B/dkms" \
		UNITDIR=/usr/lib/systemd/system BASHCOMPDIR=/usr/share/bash-completion/completions "$@"
}
mi install DESTDIR="$D" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; }

(cd "$D" && find . \( -type f -o -type l \) | sed 's|^\./|/|' | grep -v '/dkms-agent-static$' | LC_ALL=C sort) >"$T/list"
diff -u "$TOP/tests/integration/install.list" "$T/list" || fail "installed files differ from install.list"
ok "installed file list"

mode() { stat -c %a "$D$1"; }
for f in /usr/sbin/dkms-agent /usr/lib/kernel/install.d/45-dkms-agent.install \
	/etc/kernel/postinst.d/dkms-agent /etc/kernel/header_postinst.d/dkms-agent /etc/kernel/prerm.d/dkms-agent \
	/usr/share/libalpm/scripts/dkms-agent /usr/lib/dracut/modules.d/90dkms-agent/module-setup.sh; do
	[ "$(mode "$f")" = 755 ] || fail "$f has mode $(mode "$f"), want 755"
done
for f in /usr/lib/systemd/system/dkms-agent.service /etc/dkms-agent.conf /usr/share/man/man8/dkms-agent.8; do
	[ "$(mode "$f")" = 644 ] || fail "$f has mode $(mode "$f"), want 644"
done
[ "$(readlink "$D/usr/sbin/dkms")" = dkms-agent ] || fail "dkms is not a symlink to dkms-agent"
[ "$(readlink "$D/usr/share/bash-completion/completions/dkms")" = dkms-agent ] || fail "dkms completion symlink"
cmp -s "$B/dkms-agent" "$D/usr/sbin/dkms-agent" || fail "installed program differs from the build"
ok "modes and symlinks"

# Another SBINDIR: the unit and the hooks follow it; the admin's config stays.
echo "boot_budget=42" >"$T/custom.conf"
D2=$T/d2
mkdir -p "$D2/etc"
cp "$T/custom.conf" "$D2/etc/dkms-agent.conf"
mi install DESTDIR="$D2" SBINDIR=/usr/local/sbin >"$T/install2.log" 2>&1 || { cat "$T/install2.log"; fail "make install SBINDIR=… failed"; }
grep -qx 'ExecStart=/usr/local/sbin/dkms-agent boot' "$D2/usr/lib/systemd/system/dkms-agent.service" || fail "unit ignores SBINDIR"
grep -q '/usr/local/sbin/dkms-agent' "$D2/usr/lib/kernel/install.d/45-dkms-agent.install" || fail "plugin ignores SBINDIR"
if grep -rl '/usr/sbin/dkms-agent' "$D2" | grep -v '/man/'; then fail "files still name /usr/sbin/dkms-agent"; fi
cmp -s "$T/custom.conf" "$D2/etc/dkms-agent.conf" || fail "make install overwrote /etc/dkms-agent.conf"
ok "SBINDIR honoured, existing configuration kept"

mi uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1 || { cat "$T/uninstall.log"; fail "make uninstall failed"; }
left=$(find "$D" \( -type f -o -type l \) | sed "s|^$D||")
[ -z "$left" ] || fail "make uninstall left: $left"
ok "uninstall removes every file"

# Beside Debian's dkms (installed on this machine by .ci/packages): with the
# owner check on, the files dpkg says belong to a package are left alone and
# named, the rest is installed; uninstall removes only what the manifest says.
if dpkg-query -S /usr/sbin/dkms >/dev/null 2>&1; then
	D3=$T/d3
	mi install DESTDIR="$D3" OWNER_CHECK=yes >"$T/install3.log" 2>&1 || { cat "$T/install3.log"; fail "make install OWNER_CHECK=yes failed"; }
	for f in /usr/sbin/dkms /usr/lib/dkms/common.postinst /usr/lib/dkms/dkms_autoinstaller \
		/usr/share/man/man8/dkms.8 /usr/share/bash-completion/completions/dkms; do
		if [ -e "$D3$f" ] || [ -L "$D3$f" ]; then fail "$f installed although Debian's dkms owns it"; fi
		grep -q "skipped $f: it belongs to the Debian package 'dkms'" "$T/install3.log" ||
			{ cat "$T/install3.log"; fail "no word about skipping $f"; }
	done
	[ -x "$D3/usr/sbin/dkms-agent" ] || fail "dkms-agent not installed beside dkms"
	[ -x "$D3/etc/kernel/postinst.d/dkms-agent" ] || fail "kernel hook not installed beside dkms"
	# A file that is there and not ours is not overwritten either.
	echo "someone else's" >"$D3/usr/share/man/man5/dkms.conf.5"
	sed -i '\| /usr/share/man/man5/dkms.conf.5$|d' "$D3/usr/lib/dkms-agent/make-install.manifest"
	mi install DESTDIR="$D3" OWNER_CHECK=yes >"$T/install4.log" 2>&1 || fail "second make install failed"
	grep -qx "someone else's" "$D3/usr/share/man/man5/dkms.conf.5" || fail "overwrote a file that is not ours"
	grep -q 'skipped /usr/share/man/man5/dkms.conf.5: it exists and was not installed by us' "$T/install4.log" ||
		{ cat "$T/install4.log"; fail "no word about the foreign file"; }
	mi uninstall DESTDIR="$D3" OWNER_CHECK=yes >"$T/uninstall3.log" 2>&1 || fail "make uninstall failed"
	left=$(find "$D3" \( -type f -o -type l \) | sed "s|^$D3||")
	[ "$left" = /usr/share/man/man5/dkms.conf.5 ] || fail "make uninstall left or removed the wrong files: $left"
	ok "beside Debian's dkms: its files are left alone and named; uninstall removes only ours"
else
	echo "Debian's dkms is not installed: the owner check is not exercised"
fi
