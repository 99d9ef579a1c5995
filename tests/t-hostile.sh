#!/bin/bash
# Hostile and broken input: malformed dkms.conf files, paths with "..",
# a symlink planted in the dkms tree pointing outside the sandbox, a dangling
# source link, a kernel without headers, a read-only /boot and a full disk
# (the last two in a private mount namespace). Each must give a clear error
# with a documented exit code, touch nothing outside the sandbox root (a
# canary directory sits next to it) and lose nothing in the tree.
# Assertions marked "REGRESSION" guard bugs these tests found (all fixed); the test
# goes on after them and fails at the end.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
A=$(uname -m)
HOSTILE=$FIXTURES/hostile
MD=lib/modules/$K/updates/dkms
bugs=()
regression() {
	echo "REGRESSION: $*" >&2
	bugs+=("$*")
}

# A sandbox: $SB/root is the root, $SB/canary sits next to it.
new_sandbox() {
	SB=$1
	ROOT=$SB/root
	mkdir -p "$SB/canary/sub"
	echo "keep me" >"$SB/canary/file"
	echo "keep me too" >"$SB/canary/sub/file"
	printf -- '--- a/hello.c\n+++ b/hello.c\n@@ -1 +1 @@\n-x\n+y\n' >"$SB/canary/evil.patch"
	mk_root "$ROOT" "$K"
	add_fixture "$ROOT" hello 1.0
}
# outside: everything next to the root, with sizes, times and link targets
outside() { find "$SB" -path "$ROOT" -prune -o -printf '%p %y %s %T@ %l\n' | sort; }
# expect_err WHAT RC PATTERN CMD...: CMD exits RC and its output has PATTERN
expect_err() {
	local what=$1 want=$2 pat=$3 rc=0
	shift 3
	"$@" >"$T/out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "$what: exit $rc, expected $want: $(cat "$T/out")"
	grep -qF -- "$pat" "$T/out" || fail "$what: the message does not name '$pat': $(cat "$T/out")"
}

if [ "${1:-}" = --in-namespace ]; then
	# ---- read-only /boot and ENOSPC: run in a private mount namespace ----
	new_sandbox "$T/sb"
	mount -t tmpfs -o size=48m tmpfs "$ROOT" || skip "cannot mount a tmpfs"
	trap 'umount -l "$ROOT" 2>/dev/null || true; rm -rf "$T"' EXIT
	mk_root "$ROOT" "$K"
	add_fixture "$ROOT" hello 1.0
	add_fixture "$ROOT" twoko 2.1
	dk add hello/1.0 >/dev/null
	dk add twoko/2.1 >/dev/null
	before=$(outside)

	# ENOSPC while building: exit 10, the log named, the tree still "added"
	avail() { df -k --output=avail "$ROOT" | tail -n1; }
	fill_to() { # leave about $1 KiB free
		rm -f "$ROOT/filler"
		fallocate -l "$(($(avail) - $1))k" "$ROOT/filler" 2>/dev/null ||
			dd if=/dev/zero of="$ROOT/filler" bs=1k count="$(($(avail) - $1))" 2>/dev/null || true
	}
	fill_to 150
	expect_err "build on a full disk" 10 "hello/1.0 $K" dk build hello/1.0 -k "$K"
	grep -q "Consult .*hello/1.0/.failed/$K-$A.log" "$T/out" || grep -q "No space left" "$T/out" ||
		fail "build on a full disk: neither the log nor ENOSPC named: $(cat "$T/out")"
	[ "$(dk status hello)" = "hello/1.0: added" ] || fail "full disk: status after the failed build: $(dk status hello)"
	[ -z "$(find "$ROOT/var/lib/dkms" -name '.build-*' -o -name '.staging-*' -o -name "$K")" ] ||
		fail "full disk: the failed build left $(find "$ROOT/var/lib/dkms" -name '.build-*' -o -name '.staging-*' -o -name "$K")"
	rm -f "$ROOT/filler"
	dk build hello/1.0 -k "$K" >/dev/null || fail "build after freeing space"
	ok "ENOSPC while building: exit 10, tree still added, builds once there is space"

	# ENOSPC while installing: no half-written module visible, still "built"
	fill_to 4
	rc=0
	dk install hello/1.0 -k "$K" >"$T/out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "note: the install fitted into the last KiB; ENOSPC not reached"
	else
		[ "$rc" -eq 10 ] || [ "$rc" -eq 1 ] || fail "install on a full disk: exit $rc: $(cat "$T/out")"
		grep -q "hello" "$T/out" || fail "install on a full disk: module not named: $(cat "$T/out")"
		grep -q "No space left" "$T/out" || fail "install on a full disk: ENOSPC not said: $(cat "$T/out")"
		[ "$(dk status hello)" = "hello/1.0, $K, $A: built" ] || fail "install on a full disk: status $(dk status hello)"
		for f in "$ROOT/$MD"/*; do
			[ -e "$f" ] || continue
			case $f in *.dkms-tmp*) fail "install on a full disk left a temp file: $f" ;; esac
			cmp -s "$f" "$ROOT/var/lib/dkms/hello/1.0/$K/$A/module/${f##*/}" || fail "half-written $f visible"
		done
	fi
	rm -f "$ROOT/filler"
	dk install hello/1.0 -k "$K" >/dev/null || fail "install after freeing space"
	[ "$(dk status hello)" = "hello/1.0, $K, $A: installed" ] || fail "after freeing space: $(dk status hello)"
	ok "ENOSPC while installing: exit $rc, nothing half-written, installs once there is space"

	# Read-only /boot: boot installs, the append fails with the image named,
	# the old image is kept.
	mkdir -p "$T/img/$MD"
	echo "old build" >"$T/img/$MD/twoko.ko"
	(cd "$T/img" && find . | cpio -o -H newc --quiet) >"$ROOT/boot/initrd.img-$K"
	echo "initramfs=append" >"$ROOT/etc/dkms-agent.conf"
	dk build twoko/2.1 -k "$K" >/dev/null
	mkdir -p "$T/img/$MD" && cp "$ROOT/boot/initrd.img-$K" "$T/initrd.orig"
	mount --bind "$ROOT/boot" "$ROOT/boot" || skip "cannot bind-mount /boot"
	mount -o remount,ro,bind "$ROOT/boot" || skip "cannot mount /boot read-only"
	! touch "$ROOT/boot/probe" 2>/dev/null || skip "read-only bind mount is writable"
	# An image that holds twoko's modules, so boot must append.
	rc=0
	dk boot -k "$K" >"$T/out" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || fail "boot with a read-only /boot: exit $rc: $(cat "$T/out")"
	[ "$(dk status twoko)" = "twoko/2.1, $K, $A: installed" ] || fail "read-only /boot: twoko not installed: $(cat "$T/out")"
	cmp -s "$ROOT/boot/initrd.img-$K" "$T/initrd.orig" || fail "read-only /boot: the image changed"
	rc=0
	"$DKMS_AGENT" initramfs append "$ROOT/boot/initrd.img-$K" "$ROOT/$MD/hello.ko:/$MD/hello.ko" >"$T/out" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "append to a read-only /boot: exit $rc: $(cat "$T/out")"
	grep -qF "$ROOT/boot/initrd.img-$K" "$T/out" || fail "append to a read-only /boot: image not named: $(cat "$T/out")"
	grep -q "Read-only file system" "$T/out" || fail "append to a read-only /boot: no reason: $(cat "$T/out")"
	cmp -s "$ROOT/boot/initrd.img-$K" "$T/initrd.orig" || fail "read-only /boot: the image changed"
	umount "$ROOT/boot"
	ok "read-only /boot: append refused (exit 1, image named), old image kept"
	[ "$before" = "$(outside)" ] || fail "something outside the root changed"
	umount "$ROOT"
	exit 0
fi

new_sandbox "$T/sb"
before=$(outside)
host_before=$(ls -la --time-style=full-iso /var/lib/dkms "/lib/modules/$K" "/lib/modules/$K/updates" /boot 2>/dev/null || true)
dk add hello/1.0 >/dev/null
dk install hello/1.0 -k "$K" >/dev/null
tree_before=$(dk status)

# ---- Malformed dkms.conf: refused when added, exit 8, file named ----------
for n in empty unterminated nul bigindex ko-name; do
	mkdir -p "$ROOT/usr/src/$n-1.0"
	cp "$HOSTILE/$n-1.0/dkms.conf" "$ROOT/usr/src/$n-1.0/"
	cp "$FIXTURES/hello/hello.c" "$FIXTURES/hello/Makefile" "$ROOT/usr/src/$n-1.0/"
	expect_err "add $n" 8 "$ROOT/usr/src/$n-1.0/dkms.conf" dk add "$n/1.0"
	[ ! -e "$ROOT/var/lib/dkms/$n" ] || fail "add $n: a refused module left $ROOT/var/lib/dkms/$n"
	[ "$(dk status)" = "$tree_before" ] || fail "add $n: the tree changed: $(dk status)"
done
ok "malformed dkms.conf refused with exit 8 and the file named (5 files)"

# ---- Paths with "..": nothing outside the root is touched -----------------
# A distribution without a DEST_MODULE_LOCATION override (dkms keeps the
# package's location there), so the package's own paths are used.
echo "ID=gentoo" >"$ROOT/etc/os-release"
for n in dotdot-patch dotdot-loc dotdot-dest slash-name dotdot-destloc; do
	mkdir -p "$ROOT/usr/src/$n-1.0"
	cp "$HOSTILE/$n-1.0/dkms.conf" "$FIXTURES/hello/hello.c" "$FIXTURES/hello/Makefile" "$ROOT/usr/src/$n-1.0/"
	rc=0
	dk add "$n/1.0" >"$T/out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		rc=0
		dk install "$n/1.0" -k "$K" --force >"$T/out" 2>&1 || rc=$?
		if [ "$rc" -eq 0 ]; then
			# REGRESSION (fixed) (dotdot-destloc): DEST_MODULE_LOCATION with ".." is
			# used as is; the module lands next to the root, in the canary.
			regression "$n: installed although it names a path outside its directories: $(dk status "$n")"
		else
			grep -q "$n" "$T/out" || fail "$n: the error does not name the module: $(cat "$T/out")"
		fi
		dk remove "$n/1.0" --all >/dev/null 2>&1 || true
	else
		[ "$rc" -eq 8 ] || fail "$n: add exited $rc: $(cat "$T/out")"
		grep -qF "$ROOT/usr/src/$n-1.0/dkms.conf" "$T/out" || fail "$n: the file is not named: $(cat "$T/out")"
	fi
	echo "$n: exit $rc: $(grep -v '^Building\|^Creating' "$T/out" | head -n1)"
	if [ "$before" != "$(outside)" ]; then
		regression "$n: wrote outside the sandbox root: $(diff <(echo "$before") <(outside) | grep '^[<>]' | tr '\n' ' ')"
		rm -f "$SB/canary/hello.ko" "$SB/canary/evil.ko"
		before=$(outside)
	fi
done
rm -f "$ROOT/etc/os-release"
[ "$(dk status)" = "$tree_before" ] || fail "after the \"..\" packages the tree differs: $(dk status)"
[ -f "$ROOT/$MD/hello.ko" ] || fail "hello.ko lost after the \"..\" packages"
ok "paths with .. (5 packages)"

# ---- A symlink planted in the tree, pointing outside the sandbox ----------
add_fixture "$ROOT" twoko 2.1
dk add twoko/2.1 >/dev/null
mkdir -p "$ROOT/var/lib/dkms/twoko/2.1/$K"
ln -s "$SB/canary" "$ROOT/var/lib/dkms/twoko/2.1/$K/$A"
ln -s "$SB/canary/sub" "$ROOT/var/lib/dkms/twoko/kernel-$K-$A"
for c in "status" "check -k $K" "install twoko/2.1 -k $K" "uninstall twoko/2.1 -k $K" \
	"build twoko/2.1 -k $K --force" "unbuild twoko/2.1 -k $K" "remove twoko/2.1 --all"; do
	rc=0
	# shellcheck disable=SC2086 # c is a list of words
	dk $c >"$T/out" 2>&1 || rc=$?
	[ "$rc" -le 11 ] || fail "planted link: $c exited $rc: $(cat "$T/out")"
	[ "$before" = "$(outside)" ] || fail "planted link: '$c' changed something outside the root: $(diff <(echo "$before") <(outside))"
	echo "planted link: $c: exit $rc"
done
[ "$(dk status)" = "$tree_before" ] || fail "planted link: the tree differs: $(dk status)"
ok "a symlink planted in the tree is never followed outside"

# ---- A dangling source link: reported, nothing lost -----------------------
mv "$ROOT/usr/src/hello-1.0" "$T/hello-away"
rc=0
dk status >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "dangling source: status exited $rc"
grep -q "^hello/1.0" "$T/out" || fail "dangling source: hello not listed: $(cat "$T/out")"
expect_err "dangling source: build --force" 4 "hello" dk build hello/1.0 -k "$K" --force
rc=0
dk autoinstall -k "$K" --force >"$T/out" 2>&1 || rc=$?
grep -q "hello/1.0/source/dkms.conf" "$T/out" || fail "dangling source: autoinstall does not name the file: $(cat "$T/out")"
# A dangling source link is the "broken" state: dkms 3.1+ names it, does
# nothing else with it and does not count it as a failed install (exit 0).
[ "$rc" -eq 0 ] || fail "dangling source: autoinstall --force exits $rc, not 0 as dkms 3.1+, after: $(head -n1 "$T/out")"
grep -q "Manual intervention is required" "$T/out" || fail "dangling source: autoinstall does not say it is broken: $(cat "$T/out")"
rc=0
dk check -k "$K" >"$T/out" 2>&1 || rc=$?
[ "$rc" -le 1 ] || fail "dangling source: check exited $rc"
grep -q "hello/1.0" "$T/out" || fail "dangling source: check does not name hello"
[ -f "$ROOT/$MD/hello.ko" ] || fail "dangling source: the installed module was lost"
[ -d "$ROOT/var/lib/dkms/hello/1.0/$K/$A/module" ] || fail "dangling source: the build was lost"
mv "$T/hello-away" "$ROOT/usr/src/hello-1.0"
[ "$(dk status)" = "$tree_before" ] || fail "dangling source: the tree differs: $(dk status)"
ok "dangling source: exit 4 as dkms (build), error named and skipped (autoinstall), nothing lost"

# ---- The module directory a link that leads outside the root -------------
# A chroot into the root would find <root>$SB/canary/updates: uninstall must
# not remove (or install write) anything in the host's directory of that name.
mv "$ROOT/lib/modules/$K/updates" "$T/updates-away"
mkdir -p "$SB/canary/updates/dkms"
echo canary >"$SB/canary/updates/dkms/hello.ko"
ln -s "$SB/canary/updates" "$ROOT/lib/modules/$K/updates"
canary_before=$(outside)
dk uninstall hello/1.0 -k "$K" >"$T/out" 2>&1 || fail "updates linked outside: uninstall failed: $(cat "$T/out")"
[ "$(cat "$SB/canary/updates/dkms/hello.ko")" = canary ] || fail "updates linked outside: uninstall removed the file outside the root"
dk install hello/1.0 -k "$K" >"$T/out" 2>&1 || fail "updates linked outside: install failed: $(cat "$T/out")"
[ "$(cat "$SB/canary/updates/dkms/hello.ko")" = canary ] || fail "updates linked outside: install wrote outside the root"
[ -f "$ROOT$SB/canary/updates/dkms/hello.ko" ] || fail "updates linked outside: install did not follow the link inside the root"
[ "$canary_before" = "$(outside)" ] || fail "updates linked outside: changed outside the root: $(diff <(echo "$canary_before") <(outside))"
dk uninstall hello/1.0 -k "$K" >/dev/null
rm "$ROOT/lib/modules/$K/updates"
rm -r "$SB/canary/updates" "${ROOT:?}${SB:?}"
mv "$T/updates-away" "$ROOT/lib/modules/$K/updates"
dk install hello/1.0 -k "$K" >/dev/null
[ "$(dk status)" = "$tree_before" ] || fail "updates linked outside: the tree differs: $(dk status)"
before=$(outside) # the canary made and removed here changed its directory's time
ok "a module directory linked outside the root: uninstall and install stay inside it"

# ---- /boot a link that leads outside the root -----------------------------
# A chroot would find <root>$SB/canary/boot (nothing): no image outside the
# root is found, appended to or replaced.
mv "$ROOT/boot" "$T/boot-away"
mkdir -p "$SB/canary/boot" "$T/bimg/$MD"
echo "old build" >"$T/bimg/$MD/hello.ko"
(cd "$T/bimg" && find . | cpio -o -H newc --quiet) >"$SB/canary/boot/initrd.img-$K"
ln -s "$SB/canary/boot" "$ROOT/boot"
echo "initramfs=append" >"$ROOT/etc/dkms-agent.conf"
canary_before=$(outside)
[ -z "$(dk initramfs find "$K" 2>/dev/null)" ] || fail "/boot linked outside: initramfs find: $(dk initramfs find "$K")"
dk uninstall hello/1.0 -k "$K" >/dev/null
rc=0
dk boot -k "$K" >"$T/out" 2>&1 || rc=$?
[ "$rc" -le 1 ] || fail "/boot linked outside: boot exited $rc: $(cat "$T/out")"
[ "$canary_before" = "$(outside)" ] || fail "/boot linked outside: changed outside the root: $(diff <(echo "$canary_before") <(outside))"
rm "$ROOT/boot" "$ROOT/etc/dkms-agent.conf"
rm -r "$SB/canary/boot"
mv "$T/boot-away" "$ROOT/boot"
[ "$(dk status)" = "$tree_before" ] || fail "/boot linked outside: the tree differs: $(dk status)"
before=$(outside) # the canary made and removed here changed its directory's time
ok "/boot linked outside the root: no image there is found or written"

# ---- The signing key a link to a key outside the root ---------------------
# A chroot would find no key there: the host's key never signs a module
# built from the root's sources.
if command -v openssl >/dev/null; then
	openssl req -new -x509 -nodes -days 1 -subj "/CN=host-canary-key" -newkey rsa:2048 \
		-keyout "$T/canary.key" -outform DER -out "$T/canary.der" >/dev/null 2>&1 || fail "openssl req failed"
	mkdir -p "$SB/canary/keys"
	cp "$T/canary.key" "$T/canary.der" "$SB/canary/keys/"
	mv "$ROOT/var/lib/dkms/mok.key" "$T/mok.key.away" 2>/dev/null || true
	mv "$ROOT/var/lib/dkms/mok.pub" "$T/mok.pub.away" 2>/dev/null || true
	ln -s "$SB/canary/keys/canary.key" "$ROOT/var/lib/dkms/mok.key"
	ln -s "$SB/canary/keys/canary.der" "$ROOT/var/lib/dkms/mok.pub"
	canary_before=$(outside)
	dk build hello/1.0 -k "$K" --force >"$T/out" 2>&1 || fail "key linked outside: build failed: $(cat "$T/out")"
	signer=$(modinfo -F signer "$ROOT/var/lib/dkms/hello/1.0/$K/$A/module/hello.ko" 2>/dev/null || true)
	[ "$signer" != host-canary-key ] || fail "key linked outside: the host's key signed the root's module"
	[ "$canary_before" = "$(outside)" ] || fail "key linked outside: changed outside the root: $(diff <(echo "$canary_before") <(outside))"
	rm -f "$ROOT/var/lib/dkms/mok.key" "$ROOT/var/lib/dkms/mok.pub"
	mv "$T/mok.key.away" "$ROOT/var/lib/dkms/mok.key" 2>/dev/null || true
	mv "$T/mok.pub.away" "$ROOT/var/lib/dkms/mok.pub" 2>/dev/null || true
	rm -rf "$SB/canary/keys" "${ROOT:?}${SB:?}"
	dk install hello/1.0 -k "$K" --force >/dev/null || fail "key linked outside: reinstall failed"
	[ "$(dk status)" = "$tree_before" ] || fail "key linked outside: the tree differs: $(dk status)"
	before=$(outside) # the canary made and removed here changed its directory's time
	ok "a signing key linked outside the root is not used (signer: ${signer:-none})"
fi

# ---- A kernel without headers: exit 21 naming the kernel and package ------
NK=9.9.9-nohdr
mkdir -p "$ROOT/lib/modules/$NK"
expect_err "no headers: build" 21 "linux-headers-$NK" dk build hello/1.0 -k "$NK"
expect_err "no headers: install" 21 "$NK" dk install hello/1.0 -k "$NK"
expect_err "no headers: autoinstall" 21 "$NK" dk autoinstall -k "$NK"
rc=0
dk boot -k "$NK" >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "no headers: boot exited $rc: $(cat "$T/out")"
grep -q "$NK" "$T/out" || fail "no headers: boot does not name the kernel: $(cat "$T/out")"
[ ! -e "$ROOT/var/lib/dkms/hello/1.0/$NK" ] || fail "no headers: a build directory was left"
[ "$(dk status)" = "$tree_before" ] || fail "no headers: the tree differs: $(dk status)"
ok "no headers: exit 21 (build, install), 21 (autoinstall, as dkms 3.x), 1 (boot)"

[ "$before" = "$(outside)" ] || fail "something outside the root changed"
[ "$host_before" = "$(ls -la --time-style=full-iso /var/lib/dkms "/lib/modules/$K" "/lib/modules/$K/updates" /boot 2>/dev/null || true)" ] ||
	fail "the host's /var/lib/dkms, /lib/modules/$K or /boot changed"

# ---- read-only /boot and ENOSPC in a private mount namespace --------------
if ! command -v unshare >/dev/null || ! unshare -m true 2>/dev/null; then
	echo "note: no mount namespace here (unshare -m): read-only /boot and ENOSPC not tested"
else
	rc=0
	unshare -m --propagation private bash "$0" --in-namespace || rc=$?
	case $rc in
	0) ;;
	77) echo "note: namespace cases skipped" ;;
	*) fail "namespace cases (read-only /boot, ENOSPC) failed" ;;
	esac
fi

if [ ${#bugs[@]} -gt 0 ]; then
	printf '%s\n' "${bugs[@]}" >&2
	fail "${#bugs[@]} known-bug assertion(s) failed"
fi
ok "hostile input"
