#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# check, boot and the initramfs on the host's real layout with Debian's real
# dracut, lsinitramfs and lsinitrd, inside a private mount namespace where
# every path written is an overlay or a tmpfs (the host's /boot, /etc,
# /usr/src, /var/lib/dkms, /lib/modules and /usr/lib/dracut stay untouched):
#  - an early module (REMAKE_INITRD=yes) missing from the image is a problem;
#    every remedy check prints is run, and fixes it (boot --force appends);
#  - the appended image: lsinitramfs fails on it, check says it carries an
#    appended segment, the next hook run (kernel-install add of another
#    kernel) regenerates it with dracut and lsinitramfs reads it whole;
#  - an uninstalled module's copy left in the image is a problem whose
#    remedy (regenerate) runs and fixes it;
#  - a deleted .ko: check names it, boot reinstalls it;
#  - with no kernel installed but a fake one, check looks at that one only,
#    not at the running kernel (a chroot or an image build).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

for c in dracut lsinitramfs lsinitrd unshare; do
	command -v "$c" >/dev/null || skip "$c is not installed"
done
[ -d /usr/lib/dracut/modules.d ] || skip "no /usr/lib/dracut/modules.d"
K=
for d in /lib/modules/*/; do
	[ -f "$d/modules.dep" ] && [ -d "$d/kernel" ] && [ -f "/usr/src/linux-headers-$(basename "$d")/Makefile" ] && K=$(basename "$d")
done
[ -n "$K" ] || skip "no kernel with both modules and headers installed"
unshare -m true 2>/dev/null || skip "cannot create a mount namespace"

cat >"$T/ns.sh" <<'EOF'
set -eu
mount --make-rprivate /
ovl() { # DIR: writes to DIR land in $T/ovl
	local n
	n=$(echo "$1" | tr / _)
	mkdir -p "$T/ovl/$n/up" "$T/ovl/$n/work"
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$T/ovl/$n/up,workdir=$T/ovl/$n/work" "$1"
}
ovl /etc
ovl "/lib/modules/$K"
ovl /usr/src
ovl /usr/lib/dracut/modules.d
mount -t tmpfs tmpfs /boot
# systemd as PID 1 cannot be had here: /run/systemd/system says it is, and a
# stub systemd-run records what boot schedules (never the host's systemd).
mkdir -p /run/systemd
mount -t tmpfs tmpfs /run/systemd
mkdir /run/systemd/system "$T/stub"
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >>"%s/systemd-run.log"\n' "$T" >"$T/stub/systemd-run"
chmod 755 "$T/stub/systemd-run"
export PATH="$T/stub:$PATH"
mkdir -p /var/lib/dkms
mount -t tmpfs tmpfs /var/lib/dkms
chmod 755 /var/lib/dkms
# The build cache of a run without --root is the host's: a tmpfs here.
mount -t tmpfs tmpfs /var/cache
rm -rf "/lib/modules/$K/updates"
rm -f /etc/dkms-agent.conf /etc/dracut.conf.d/*
# A dracut system: the generator the agent picks is dracut.
rm -rf /etc/initramfs-tools
mkdir -p /etc/dracut.conf.d
printf 'dracutmodules=" base dkms-agent "\nhostonly="no"\nearly_microcode="no"\ncompress="zstd"\n' \
	>/etc/dracut.conf.d/99-test.conf
cp -r "$TOP/dracut-module/90dkms-agent" /usr/lib/dracut/modules.d/
echo initramfs=append >/etc/dkms-agent.conf
export DKMS_AGENT
cp -r "$TOP/tests/fixtures/hello" /usr/src/hello-1.0
echo 'REMAKE_INITRD="yes"' >>/usr/src/hello-1.0/dkms.conf
exec bash "$T/steps.sh"
EOF

# The steps, inside the namespace.
cat >"$T/steps.sh" <<'EOF'
set -eu
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
ag() { "$DKMS_AGENT" "$@"; }
IMG=/boot/initrd.img-$K
MOD=/lib/modules/$K/updates/dkms/hello.ko

# run_remedies FILE: runs every command check printed after an arrow.
run_remedies() {
	local line n=0
	local -a words
	while IFS= read -r line; do
		line=${line#*→ }
		read -r -a words <<<"$line"
		[ "${words[0]}" = dkms-agent ] || continue
		echo "remedy: $line"
		"$DKMS_AGENT" "${words[@]:1}" >"$T/remedy.out" 2>&1 || { cat "$T/remedy.out"; fail "remedy failed: $line"; }
		n=$((n + 1))
	done < <(grep '→ ' "$1")
	[ "$n" -gt 0 ] || fail "no remedy to run in $1"
}

check_clean() { # WHAT
	local rc=0
	ag check -k "$K" >"$T/check.clean" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || { cat "$T/check.clean"; fail "$1: check still finds problems"; }
}

ag initramfs regenerate "$K" --tool dracut >/dev/null
ag add hello/1.0 >/dev/null
ag install hello/1.0 -k "$K" >/dev/null
[ -f "$MOD" ] || fail "hello not installed"
ag early-modules -k "$K" | grep -qx "$MOD" || fail "REMAKE_INITRD=yes does not make hello an early module"

# 1. The image was made before hello: an early module missing.
rc=0
ag check -k "$K" >"$T/check1" 2>&1 || rc=$?
cat "$T/check1"
[ "$rc" -eq 1 ] || fail "check exited $rc with an early module missing from the image"
grep -q "initramfs lacks hello, which early boot needs" "$T/check1" || fail "missing early module not reported"
run_remedies "$T/check1"
check_clean "after the remedies for a missing early module"
grep -q "initramfs holds hello (same build as installed)" "$T/check.clean" || fail "hello not in the image after the remedy"
grep -q "carries a segment appended by dkms-agent" "$T/check.clean" || fail "check does not say the image was appended to"
ok "early module missing: remedy run, fixed"
# After the boot-time append, the regeneration was handed to systemd, to run
# once the boot is over, at idle priority.
cat "$T/systemd-run.log"
for want in --no-block "--property=After=multi-user.target graphical.target" --nice=19 \
	--property=IOSchedulingClass=idle initramfs regenerate-appended "$K"; do
	grep -qxF -- "$want" "$T/systemd-run.log" || fail "systemd-run was not given $want"
done
ok "regeneration scheduled after boot"

# 2. The distribution's tools on the appended image.
rc=0
lsinitramfs "$IMG" >"$T/ls1" 2>&1 || rc=$?
if [ "$rc" -eq 0 ] && grep -q "updates/dkms/hello.ko" "$T/ls1"; then
	echo "lsinitramfs reads the appended image (not expected, but fine)"
else
	echo "lsinitramfs on the appended image: exit $rc, $(tail -n1 "$T/ls1")"
fi
lsinitrd "$IMG" 2>/dev/null | grep -q "updates/dkms/hello.ko" && echo "lsinitrd shows the appended module" ||
	echo "lsinitrd does not show the appended module"
[ -f "/var/lib/dkms/.initramfs-appended-$K" ] || fail "no record that the image carries an appended segment"
# The next hook run (another kernel added) brings it back to dracut's form.
ag kernel-install add 0.0.0-dkms-agent-test >"$T/hook.out" 2>&1 || true
cat "$T/hook.out"
grep -q "Regenerated the initramfs of $K" "$T/hook.out" || fail "the hook run did not regenerate the appended image"
[ ! -e "/var/lib/dkms/.initramfs-appended-$K" ] || fail "record left after the regeneration"
lsinitramfs "$IMG" >"$T/ls2" || fail "lsinitramfs cannot read the regenerated image"
grep -q "updates/dkms/hello.ko" "$T/ls2" || fail "the regenerated image lacks the early module"
! grep -q dkms-agent-appended "$T/ls2" || fail "the regenerated image still carries the appended segment"
check_clean "after the regeneration"
! grep -q "carries a segment appended" "$T/check.clean" || fail "check still reports an appended segment"
[ "$(ag initramfs regenerate-appended)" = "" ] || fail "regenerate-appended found work after the hook run"
ok "appended image regenerated at the next hook run; lsinitramfs reads it"

# 3. Stale copies. hello uninstalled (it is AUTOINSTALL): the copy in the
# image is not the installed build; the remedies put both right.
ag uninstall hello/1.0 -k "$K" >/dev/null
rc=0
ag check -k "$K" >"$T/check3" 2>&1 || rc=$?
cat "$T/check3"
[ "$rc" -eq 1 ] || fail "check exited $rc with a stale module in the image"
grep -q "a copy of hello/1.0 that is not the installed build" "$T/check3" || fail "stale copy not reported"
run_remedies "$T/check3"
check_clean "after the remedies for an uninstalled module"
# hello removed from DKMS altogether: its copy under updates/dkms is an orphan.
ag remove hello/1.0 --all >/dev/null
rc=0
ag check -k "$K" >"$T/check3b" 2>&1 || rc=$?
cat "$T/check3b"
[ "$rc" -eq 1 ] && grep -q "updates/dkms/hello.ko, a DKMS module no longer registered" "$T/check3b" ||
	fail "orphan copy in the image not reported"
run_remedies "$T/check3b"
check_clean "after the remedy for an orphan copy"
lsinitramfs "$IMG" | grep -q "updates/dkms/hello.ko" && fail "the orphan copy survived the remedy"
ok "stale and orphan copies in the image: remedies run, fixed"

# 4. A .ko deleted by hand: judged by the files, reinstalled by boot.
ag add hello/1.0 >/dev/null
ag install hello/1.0 -k "$K" >/dev/null
rm "$MOD"
rc=0
ag check -k "$K" >"$T/check4" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "hello/1.0: stale — $MOD is missing" "$T/check4" ||
	{ cat "$T/check4"; fail "a deleted module file is not reported"; }
run_remedies "$T/check4"
[ -f "$MOD" ] || fail "boot did not reinstall the deleted module"
cmp -s "$MOD" "/var/lib/dkms/hello/1.0/$K/$(uname -m)/module/hello.ko" || fail "reinstalled file differs from the build"
check_clean "after boot reinstalled the module"
ok "deleted .ko: reported, reinstalled by boot"

# 5. An image build: the only kernel installed is a fake one, not the
# running one; its headers are absent and check says so.
mount -t tmpfs tmpfs /lib/modules
mkdir -p /lib/modules/9.9.9-test/kernel
ag check >"$T/check5" 2>&1 || true
cat "$T/check5"
grep -q "^Kernel 9.9.9-test " "$T/check5" || fail "the installed kernel is not checked"
[ "$(grep -c '^Kernel ' "$T/check5")" -eq 1 ] || fail "check looks at a kernel that is not installed here"
grep -q "headers: missing (linux-headers-9.9.9-test)" "$T/check5" || fail "headers reported present"
ok "only installed kernels are checked; missing headers reported"
EOF
export T K TOP DKMS_AGENT
unshare -m --propagation private bash "$T/ns.sh" 2>&1 | tee "$T/ns.out" || true
grep -q "^ok: only installed kernels are checked" "$T/ns.out" || fail "see above"
ok "initramfs remedies, regeneration and file checks on the real layout"
