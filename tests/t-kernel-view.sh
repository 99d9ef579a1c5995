#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What a contained build sees of the kernel when the trees are given as
# dkms's options (--dkmstree, --sourcetree, --installtree, --kernelsourcedir)
# and live where the sandbox shows nothing of the host (a private /tmp), as
# in the long check of zfs-dkms:
#  - lib/modules/K/build is shown as the link it is: Debian's headers reach
#    kbuild's scripts through a relative link (scripts ->
#    ../../lib/linux-kbuild-V/scripts), which does not resolve from a copy
#    of the directory mounted elsewhere (modpost "not found");
#  - its sibling lib/modules/K/source is there too: zfs's dkms.conf gives
#    configure ${kernel_source_dir/%build/source}, which must hold the
#    kernel's sources (Debian's -common headers).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
KSRC=$(sed -n 's/^include \(\/usr\/src\/[^ ]*-common\)\/Makefile$/\1/p' "/usr/src/linux-headers-$K/Makefile" | head -n1)
[ -d "$KSRC" ] || skip "the headers of $K have no separate source tree"
A=$(uname -m)
R=$T/r
mkdir -p "$R/var/lib/dkms" "$R/usr/src" "$R/lib/modules/$K" "$R/etc"
ln -s "/usr/src/linux-headers-$K" "$R/lib/modules/$K/build"
ln -s "$KSRC" "$R/lib/modules/$K/source"
S=$R/usr/src/hello-1.0
cp -r "$FIXTURES/hello" "$S"
# PRE_BUILD checks, as zfs's configure does, that the source dir named the
# way zfs names it holds the kernel's own Makefile and headers.
cat >"$S/kernel-source.sh" <<'EOF'
#!/bin/sh
[ -f "$1/Makefile" ] && [ -f "$1/include/linux/module.h" ] || {
	echo "kernel-source.sh: no kernel sources at $1" >&2
	exit 1
}
echo "kernel sources at $1"
EOF
chmod +x "$S/kernel-source.sh"
# shellcheck disable=SC2016 # expanded by dkms.conf's reader
echo 'PRE_BUILD="kernel-source.sh ${kernel_source_dir/%build/source}"' >>"$S/dkms.conf"
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then skip "needs root and mount namespaces"; fi
# Without --root ours keeps its build cache in the host's
# /var/cache/dkms-agent: a tmpfs there, in a private mount namespace.
ours() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m sh -c 'mount -t tmpfs tmpfs /var/cache && exec "$@"' sh "$DKMS_AGENT" "$@"
}
opts=(--dkmstree "$R/var/lib/dkms" --sourcetree "$R/usr/src" --installtree "$R/lib/modules"
	--kernelsourcedir "$R/lib/modules/$K/build" --no-depmod)
ours add -m hello -v 1.0 "${opts[@]}" >/dev/null
rc=0
ours build -m hello -v 1.0 -k "$K" "${opts[@]}" >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "build exited $rc: $(cat "$T/out")"
[ -f "$R/var/lib/dkms/hello/1.0/$K/$A/module/hello.ko" ] || fail "no hello.ko built: $(cat "$T/out")"
grep -q "kernel sources at $R/lib/modules/$K/source" "$R/var/lib/dkms/hello/1.0/$K/$A/log/make.log" ||
	fail "PRE_BUILD did not see lib/modules/K/source: $(cat "$R/var/lib/dkms/hello/1.0/$K/$A/log/make.log")"
ok "a build through lib/modules/K/build links under a private /tmp: modpost ran, source was there"
