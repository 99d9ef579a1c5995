#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The initramfs-tools hook and the Debian regeneration path with Debian's real
# update-initramfs/mkinitramfs, for the installed kernel, inside a private
# mount namespace: /lib/modules/K, /etc and /usr/src are overlays, /boot and
# /var/lib/dkms are tmpfs, /usr/share/initramfs-tools is a copy with our hook
# added; nothing of the host is written.
#  1. update-initramfs -c: the hook puts the early module (its dkms.conf
#     says REMAKE_INITRD=yes) and dkms-agent into the image;
#  2. `initramfs regenerate K --require M` checks the new image for M;
#  3. without our hook the new image lacks M: regenerate exits non-zero,
#     says so, and the old image stays;
#  4. an early module that cannot be copied (modules.dep does not know it)
#     fails the hook, so mkinitramfs fails and update-initramfs keeps the
#     old image.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

command -v update-initramfs >/dev/null || skip "initramfs-tools is not installed"
command -v unshare >/dev/null || skip "unshare is not installed"
unshare -m true 2>/dev/null || skip "cannot create a mount namespace"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip "no overlayfs"
K=$(host_kver) || skip "no linux-headers installed"
[ -d "/lib/modules/$K/kernel" ] || skip "the modules of $K are not installed"
[ -d /var/lib/dkms ] || skip "/var/lib/dkms does not exist to mount over"

mkdir -p "$T"/{mods,etc,src}.{up,work}
cp "/boot/config-$K" "$T/config" 2>/dev/null || skip "no /boot/config-$K"
cp -a /usr/share/initramfs-tools "$T/itools"
install -m 755 "$TOP/agent/initramfs-tools/hooks/dkms-agent" "$T/itools/hooks/dkms-agent"
install -D -m 755 "$TOP/agent/initramfs-tools/scripts/init-bottom/dkms-agent" \
	"$T/itools/scripts/init-bottom/dkms-agent"

cat >"$T/ns.sh" <<EOF
set -eu
K=$K T=$T
ov() { mount -t overlay overlay -o "lowerdir=\$1,upperdir=\$T/\$2.up,workdir=\$T/\$2.work" "\$1"; }
ov "/lib/modules/\$K" mods
ov /etc etc
ov /usr/src src
mount -t tmpfs tmpfs /boot
cp "\$T/config" "/boot/config-\$K"
mount -t tmpfs tmpfs /var/lib/dkms
# The build cache of a run without --root is the host's: a tmpfs here.
mount -t tmpfs tmpfs /var/cache
mount --bind "\$T/itools" /usr/share/initramfs-tools
# A small image: only the listed modules, plus what hooks add.
sed -i 's/^MODULES=.*/MODULES=list/' /etc/initramfs-tools/initramfs.conf
: >/etc/initramfs-tools/modules
printf 'initramfs=regenerate\n' >/etc/dkms-agent.conf
# Early by its dkms.conf (early_modules= is t-dracut-module's case).
cp -r "$FIXTURES/hello" /usr/src/hello-1.0
echo 'REMAKE_INITRD="yes"' >>/usr/src/hello-1.0/dkms.conf
"$DKMS_AGENT" add -m hello -v 1.0 >/dev/null
"$DKMS_AGENT" install -m hello -v 1.0 -k "\$K" >"\$T/install.log" 2>&1
"$DKMS_AGENT" early-modules -k "\$K" >"\$T/early.list"
img=/boot/initrd.img-\$K

# 1
update-initramfs -c -k "\$K" >"\$T/create.log" 2>&1
lsinitramfs "\$img" >"\$T/create.list"

# 2
cp "\$img" "\$T/img1"
"$DKMS_AGENT" initramfs regenerate "\$K" --require hello >"\$T/regen.out" 2>&1

# 3
mv "\$T/itools/hooks/dkms-agent" "\$T/hook.off"
cp "\$img" "\$T/img2"
rc=0
"$DKMS_AGENT" initramfs regenerate "\$K" --require hello >"\$T/regen-bad.out" 2>&1 || rc=\$?
echo "\$rc" >"\$T/regen-bad.rc"
cmp -s "\$img" "\$T/img2" && echo same >"\$T/regen-bad.kept"
ls -a /boot >"\$T/boot.ls"
mv "\$T/hook.off" "\$T/itools/hooks/dkms-agent"

# 4: modules.dep no longer knows hello (a stale depmod): modprobe cannot
# resolve it, so the hook cannot copy it in.
mkdir "\$T/away"
mv /lib/modules/\$K/updates/dkms/hello.ko* "\$T/away/"
depmod -a "\$K"
mv "\$T"/away/hello.ko* /lib/modules/\$K/updates/dkms/
cp "\$img" "\$T/img3"
rc=0
update-initramfs -u -k "\$K" >"\$T/hookfail.log" 2>&1 || rc=\$?
echo "\$rc" >"\$T/hookfail.rc"
cmp -s "\$img" "\$T/img3" && echo same >"\$T/hookfail.kept"
true
EOF
start=$(date +%s)
DKMS_AGENT=$DKMS_AGENT unshare -m --propagation private bash "$T/ns.sh" >"$T/ns.out" 2>&1 ||
	{ cat "$T/ns.out" "$T"/*.log 2>/dev/null | tail -n 60; fail "namespace script failed"; }
echo "update-initramfs runs: $(($(date +%s) - start)) s"

grep -q '/updates/dkms/hello\.ko' "$T/early.list" || { cat "$T/early.list"; fail "early-modules does not list hello"; }
grep -Eq 'lib/modules/[^/]+/updates/dkms/hello\.ko' "$T/create.list" ||
	{ cat "$T/create.log"; fail "update-initramfs -c: hello is not in the image"; }
grep -q 'usr/bin/dkms-agent$' "$T/create.list" || fail "dkms-agent is not in the image"
grep -q 'scripts/init-bottom/dkms-agent$' "$T/create.list" || fail "the init-bottom script is not in the image"
ok "the hook put the early module, dkms-agent and the init-bottom report into the image"

grep -qx update-initramfs "$T/regen.out" || { cat "$T/regen.out"; fail "regenerate --require hello failed"; }
ok "initramfs regenerate --require hello with update-initramfs"

[ "$(cat "$T/regen-bad.rc")" -ne 0 ] || fail "regenerate succeeded although the new image lacks hello"
grep -q 'lacks the early module(s) hello' "$T/regen-bad.out" || { cat "$T/regen-bad.out"; fail "no clear message"; }
[ -f "$T/regen-bad.kept" ] || fail "the old image was not kept"
grep -q 'dkms-keep' "$T/boot.ls" && fail "the kept copy was left in /boot"
ok "a new image without the early module: non-zero exit, '$(tail -n1 "$T/regen-bad.out")', old image kept"

[ "$(cat "$T/hookfail.rc")" -ne 0 ] || { cat "$T/hookfail.log"; fail "update-initramfs succeeded without the early module"; }
grep -q 'E: dkms-agent: early DKMS module(s) not in the image of .*hello' "$T/hookfail.log" ||
	{ cat "$T/hookfail.log"; fail "the hook did not say which module is missing"; }
[ -f "$T/hookfail.kept" ] || fail "update-initramfs replaced the image anyway"
ok "an early module that cannot be copied fails the hook; the old image stays"
