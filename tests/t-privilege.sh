#!/bin/bash
# shellcheck disable=SC2016 # dkms.conf lines and Makefiles below are for their own shells
# The privilege boundary (issue 12): one section per attack, each showing
# that it fails with nothing outside the sandbox changed. Two decoys: one
# next to the root ($T/decoy: root's files, where a symbolic link planted by
# a build would lead root's deletions) and one inside the root that anyone
# may write ($ROOT/opt/decoy, mode 0777: the system the build must not
# write). Each is compared by a checksum listing before and after.
#   1 a build's leftover processes swap a directory for a link while root
#     removes the build directory; none of them outlives the build
#   2 nothing of a source another user can write is read, evaluated or run
#     as root, on any verb
#   3 PACKAGE_NAME/PACKAGE_VERSION with '/' or '..' (add DIR)
#   4 a kernel version with '../' (kernel-install remove, -k)
#   5 root's environment does not reach the build
#   6 an installed file that cannot be removed: an error, not a loop
#   7 time limits: make, bash reading a dkms.conf, depmod (a stub: a hanging
#     depmod cannot be had otherwise)
#   8 boot's budget (the agent's tests: t-agent, t-boot-order)
#   9 the NULL dereference and the /dev/null leak: unit tests test-defects
#     and test-spawn; here, no descriptor of ours reaches a package script
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
[ "$(id -u)" -eq 0 ] || skip "needs root (the boundary is root's)"
A=$(uname -m)
MARK=dkms-agent-attack-$$

ROOT=$T/root
mk_root "$ROOT" "$K"
mkdir -p "$T/decoy/keep" "$ROOT/opt/decoy"
for i in $(seq 1 50); do echo "root's $i" >"$T/decoy/keep/f$i"; done
echo "anyone's" >"$ROOT/opt/decoy/file"
chmod 0777 "$ROOT/opt/decoy"
chmod 0666 "$ROOT/opt/decoy/file"
sum() { (cd "$1" && find . -printf '%p %y %m %u %s\n' | sort && find . -type f -exec sha256sum {} + | sort); }
sums() { sum "$T/decoy" && sum "$ROOT/opt/decoy"; }
unchanged() { # WHAT: the decoys are as they were
	[ "$(sums)" = "$before" ] || fail "$1: outside the sandbox changed: $(diff <(echo "$before") <(sums) | grep '^[<>]' | head -5 | tr '\n' ' ')"
}
# pids of processes whose command line holds the marker (ours to end)
marked() {
	local p
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "$MARK" && echo "${p#/proc/}"
	done
	return 0
}
cleanup_marked() { local p; for p in $(marked); do kill -9 "$p" 2>/dev/null || true; done; }
trap 'cleanup_marked; rm -rf "$T"' EXIT
before=$(sums)

# A package from the hello fixture: pkg NAME [dkms.conf lines...]
pkg() {
	local n=$1 d=$ROOT/usr/src/$1-1.0
	shift
	mkdir -p "$d"
	cp "$FIXTURES/hello/hello.c" "$d/"
	printf 'PACKAGE_NAME="%s"\nPACKAGE_VERSION="1.0"\nBUILT_MODULE_NAME[0]="hello"\nDEST_MODULE_LOCATION[0]="/updates/dkms"\n' "$n" >"$d/dkms.conf"
	local l
	for l in "$@"; do echo "$l" >>"$d/dkms.conf"; done
}

# ---- 1: leftover processes, a directory swapped for a link ------------------
# The Makefile builds the module, then leaves two loops behind (one in a
# session of its own) that keep swapping build/sub for a link to the decoy
# next to the root and keep writing to the decoy inside it. Root then
# removes the build directory.
pkg swapper
cat >"$ROOT/usr/src/swapper-1.0/Makefile" <<EOF
obj-m := hello.o
\$(shell mkdir -p \$(M)/sub/a && touch \$(M)/sub/a/f)
\$(shell setsid sh -c 'while :; do mv \$(M)/sub \$(M)/sub.old; ln -sfn $T/decoy \$(M)/sub; echo x >>$ROOT/opt/decoy/file; rm -f \$(M)/sub; mv \$(M)/sub.old \$(M)/sub; done # $MARK' >/dev/null 2>&1 </dev/null &)
\$(shell sh -c 'while :; do ln -sfn $T/decoy \$(M)/link\$\$\$\$; echo x >$ROOT/opt/decoy/new; done # $MARK' >/dev/null 2>&1 </dev/null &)
EOF
ln -s "$T/decoy" "$ROOT/usr/src/swapper-1.0/decoy-link" # the chown step must not follow it
dk add swapper/1.0 >/dev/null
dk build swapper/1.0 -k "$K" >"$T/out" 2>&1 || fail "1: the build failed: $(cat "$T/out")"
grep -q "in its own namespaces" "$ROOT/var/lib/dkms/swapper/1.0/$K/$A/log/make.log" || fail "1: the build did not run in namespaces"
[ -z "$(marked)" ] || fail "1: processes of the build outlived it: $(marked)"
[ -z "$(find "$ROOT/var/lib/dkms/swapper/1.0" -maxdepth 1 -name '.build-*')" ] || fail "1: the build directory is left"
unchanged "1 (namespaces)"
dk remove swapper/1.0 --all >/dev/null
unchanged "1 (remove)"
# Without namespaces (build_sandbox=user): the loops run on while root
# removes the build directory, by fd; the one in its own session escapes
# the kill by session (said in the log) and is ended here. Only the user
# protects the system then: the world-writable decoy is the build user's
# to write, root's files next to the root are not.
# (cache=no: the build cache would restore the namespaced build of above)
printf 'build_sandbox=user\ncache=no\n' >"$ROOT/etc/dkms-agent.conf"
root_decoy=$(sum "$T/decoy")
dk add swapper/1.0 >/dev/null
rc=0
dk build swapper/1.0 -k "$K" >"$T/out" 2>&1 || rc=$?
grep -q "no namespaces here" "$ROOT"/var/lib/dkms/swapper/1.0/{"$K/$A/log/make.log",.failed/*} 2>/dev/null ||
	fail "1: the fallback is not said in the log"
[ "$(sum "$T/decoy")" = "$root_decoy" ] || fail "1 (fallback, exit $rc): root's files next to the root changed"
cleanup_marked
dk remove swapper/1.0 --all >/dev/null 2>&1 || true
[ ! -e "$ROOT/var/lib/dkms/swapper" ] || fail "1: fallback: remove left $(find "$ROOT/var/lib/dkms/swapper" | head -3)"
[ "$(sum "$T/decoy")" = "$root_decoy" ] || fail "1 (fallback): root's files next to the root changed"
rm -f "$ROOT/etc/dkms-agent.conf"
echo "anyone's" >"$ROOT/opt/decoy/file"
rm -f "$ROOT/opt/decoy/new"
[ "$(sums)" = "$before" ] || fail "1: the decoys could not be reset"
ok "1: leftover processes killed with the namespace; removal by fd, decoys unchanged (also without namespaces)"

# ---- 2: trust before execution -----------------------------------------------
# A dkms.conf that needs bash, and a POST_ADD script: with a file that others
# can write, no verb reads, evaluates or runs anything of it.
pkg untrusted 'POST_ADD="post-add.sh"' 'MAKE[0]="make -C ${kernel_source_dir} M=$(pwd)/../build"'
cp "$FIXTURES/hello/Makefile" "$ROOT/usr/src/untrusted-1.0/"
printf '#!/bin/sh\necho post-add-ran >%s/opt/decoy/post-add 2>/dev/null\nexit 0\n' "$ROOT" >"$ROOT/usr/src/untrusted-1.0/post-add.sh"
chmod +x "$ROOT/usr/src/untrusted-1.0/post-add.sh"
chmod o+w "$ROOT/usr/src/untrusted-1.0/hello.c"
expect_rc 40 dk add untrusted/1.0 2>"$T/err"
grep -q "untrusted-1.0/hello.c is writable by everyone" "$T/err" || fail "2: add: $(cat "$T/err")"
# Registered while it was safe, made writable afterwards:
chmod o-w "$ROOT/usr/src/untrusted-1.0/hello.c"
dk add untrusted/1.0 >"$T/out" 2>&1 || fail "2: add of the safe tree: $(cat "$T/out")"
[ ! -e "$ROOT/opt/decoy/post-add" ] || fail "2: POST_ADD wrote outside its sandbox"
chmod o+w "$ROOT/usr/src/untrusted-1.0/hello.c"
rm -rf "$ROOT/var/lib/dkms/.cache"
for verb in "status" "build untrusted/1.0 -k $K" "install untrusted/1.0 -k $K" "autoinstall -k $K" "check -k $K" "boot -k $K"; do
	# shellcheck disable=SC2086 # the verb's words
	dk $verb >"$T/out" 2>&1 || true
	[ ! -e "$ROOT/var/lib/dkms/.cache" ] || fail "2: $verb: the dkms.conf was evaluated: $(ls "$ROOT/var/lib/dkms/.cache")"
	[ ! -d "$ROOT/var/lib/dkms/untrusted/1.0/$K" ] || fail "2: $verb built it"
	[ ! -e "$ROOT/opt/decoy/post-add" ] || fail "2: $verb ran POST_ADD"
done
expect_rc 40 dk build untrusted/1.0 -k "$K" 2>/dev/null
chmod o-w "$ROOT/usr/src/untrusted-1.0/hello.c"
dk remove untrusted/1.0 --all >/dev/null
unchanged 2
ok "2: an untrusted source is neither evaluated nor run (status, build, install, autoinstall, check, boot), exit 40"

# ---- 3: names with '/' or '..' in add DIR ------------------------------------
src_before=$(ls -R "$ROOT/usr/src" "$ROOT/var/lib/dkms")
for v in 'PACKAGE_NAME="../../../../../../opt/decoy/x"' 'PACKAGE_NAME="a/b"' 'PACKAGE_VERSION="1.0/../../../../../x"' 'PACKAGE_VERSION=".."' 'PACKAGE_NAME="-rf"'; do
	rm -rf "$T/pkgdir"
	mkdir -p "$T/pkgdir"
	cp "$FIXTURES/hello/"* "$T/pkgdir/"
	echo "$v" >>"$T/pkgdir/dkms.conf"
	expect_rc 8 dk add "$T/pkgdir" 2>"$T/err"
	grep -qF "$T/pkgdir/dkms.conf" "$T/err" || fail "3: $v: the file is not named: $(cat "$T/err")"
	grep -q "Invalid 'PACKAGE_" "$T/err" || fail "3: $v: the value is not named: $(cat "$T/err")"
done
# A binaries-only tarball names its module in a file of its own.
mkdir -p "$T/tb/dkms_binaries_only" "$T/tb/dkms_main_tree/$K/$A/module"
cp "$FIXTURES/hello/dkms.conf" "$T/tb/dkms_binaries_only/"
echo "../../../../../../opt/decoy/x" >"$T/tb/dkms_binaries_only/PACKAGE_NAME"
echo "1.0" >"$T/tb/dkms_binaries_only/PACKAGE_VERSION"
touch "$T/tb/dkms_main_tree/$K/$A/module/hello.ko"
tar -C "$T/tb" -czf "$T/evil.tar.gz" .
expect_rc 7 dk ldtarball "$T/evil.tar.gz" 2>"$T/err"
grep -q "contains '/'" "$T/err" || fail "3: ldtarball: $(cat "$T/err")"
expect_rc 2 dk add -m ../x -v 1.0 2>/dev/null
expect_rc 2 dk build hello/../../x -k "$K" 2>/dev/null
[ "$(ls -R "$ROOT/usr/src" "$ROOT/var/lib/dkms")" = "$src_before" ] || fail "3: the trees changed"
unchanged 3
ok "3: names with '/', '..' or a leading '-' refused (dkms.conf: 8, tarball: 7, command line: 2), nothing written"

# ---- 4: kernel versions with '../' -------------------------------------------
mkdir -p "$T/decoy/x86_64"
before=$(sums)
add_fixture "$ROOT" hello 1.0
dk add hello/1.0 >/dev/null
expect_rc 2 dk kernel-install remove "../../../../../../../../$T/decoy" 2>"$T/err"
grep -q "Invalid kernel version" "$T/err" || fail "4: kernel-install: $(cat "$T/err")"
expect_rc 2 dk kernel-install add ../x 2>/dev/null
for verb in build unbuild uninstall remove install; do
	expect_rc 2 dk "$verb" hello/1.0 -k "../../../../../../../../$T/decoy" 2>/dev/null
done
expect_rc 2 dk autoinstall -k ../x 2>/dev/null
expect_rc 2 dk build hello/1.0 -k "$K/../x" 2>/dev/null
unchanged 4
ok "4: '../' in a kernel version refused with exit 2 (kernel-install, -k), nothing removed"

# ---- 5: root's environment ---------------------------------------------------
pkg envdump
cat >"$ROOT/usr/src/envdump-1.0/Makefile" <<'EOF'
obj-m := hello.o
$(info ENV-BEGIN $(shell env | sort | tr '\n' ' ') ENV-END)
EOF
dk add envdump/1.0 >/dev/null
HOME=/root MAKEFLAGS=-j99 KBUILD_OUTPUT=/nonexistent SECRET_TOKEN=hunter2 MAKELEVEL=3 CROSS_COMPILE=evil- \
	PATH="/evil/bin:$PATH" dk build envdump/1.0 -k "$K" >"$T/out" 2>&1 || fail "5: the build failed: $(cat "$T/out")"
envline=$(grep -m1 'ENV-BEGIN' "$ROOT/var/lib/dkms/envdump/1.0/$K/$A/log/make.log")
for bad in HOME=/root MAKEFLAGS=-j99 KBUILD_OUTPUT SECRET_TOKEN hunter2 CROSS_COMPILE=evil- /evil/bin; do
	case $envline in *"$bad"*) fail "5: $bad reached the build: $envline" ;; esac
done
case $envline in *"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "*) ;; *) fail "5: PATH is not the fixed one: $envline" ;; esac
dk remove envdump/1.0 --all >/dev/null
unchanged 5
ok "5: the build sees a clean, fixed environment (no HOME, MAKEFLAGS, KBUILD_OUTPUT, secrets; fixed PATH)"

# ---- 6: an installed file that cannot be removed -----------------------------
dk install hello/1.0 -k "$K" >/dev/null
MD=$ROOT/lib/modules/$K/updates/dkms
rm "$MD/hello.ko"
mkdir "$MD/hello.ko"
touch "$MD/hello.ko/inside"
rc=0
timeout 300 "$DKMS_AGENT" --root "$ROOT" uninstall hello/1.0 -k "$K" >"$T/out" 2>&1 || rc=$?
[ "$rc" -ne 124 ] || fail "6: uninstall did not finish (a loop)"
[ "$rc" -ne 0 ] || fail "6: uninstall said it worked"
grep -q "Cannot remove .*hello.ko" "$T/out" || fail "6: the file is not named: $(cat "$T/out")"
case $(dk status hello) in "hello/1.0, $K, $A: installed"*) ;; *) fail "6: status after the failed uninstall: $(dk status hello)" ;; esac
rm -r "$MD/hello.ko"
dk uninstall hello/1.0 -k "$K" >/dev/null || fail "6: uninstall once the file can go"
unchanged 6
ok "6: a file that cannot be removed is an error (exit $rc, named), the module stays installed, no loop"

# ---- 7: time limits ----------------------------------------------------------
echo "build_timeout=20" >"$ROOT/etc/dkms-agent.conf"
pkg sleeper
printf 'obj-m := hello.o\n$(shell bash -c "sleep 600; :" %s)\n' "$MARK" >"$ROOT/usr/src/sleeper-1.0/Makefile"
dk add sleeper/1.0 >/dev/null
expect_rc 10 dk build sleeper/1.0 -k "$K" 2>"$T/err"
grep -q "timed out after 20 s" "$T/err" || fail "7: make: $(cat "$T/err")"
[ -z "$(marked)" ] || fail "7: make's children outlived the time limit"
pkg slowconf 'PACKAGE_VERSION="$(bash -c "sleep 600; :" '"$MARK"'; echo 1.0)"'
expect_rc 8 dk add slowconf/1.0 2>"$T/err"
grep -q "did not finish in time" "$T/err" || fail "7: bash reading dkms.conf: $(cat "$T/err")"
[ -z "$(marked)" ] || fail "7: bash's children outlived the time limit"
[ ! -e "$ROOT/var/lib/dkms/slowconf" ] || fail "7: a dkms.conf that timed out was added"
# depmod: a stub that hangs (a real depmod does not hang on demand).
mkdir -p "$T/stub"
printf '#!/bin/sh\nexec sleep 600 # %s\n' "$MARK" >"$T/stub/depmod"
chmod +x "$T/stub/depmod"
rc=0
PATH="$T/stub:$PATH" timeout 300 "$DKMS_AGENT" --root "$ROOT" install hello/1.0 -k "$K" >"$T/out" 2>&1 || rc=$?
[ "$rc" -ne 124 ] || fail "7: a hanging depmod held install"
grep -q "depmod failed" "$T/out" || fail "7: depmod's failure not said: $(cat "$T/out")"
[ -z "$(marked)" ] || fail "7: depmod outlived the time limit"
rm -f "$ROOT/etc/dkms-agent.conf"
dk remove hello/1.0 --all >/dev/null
dk remove sleeper/1.0 --all >/dev/null 2>&1 || true
unchanged 7
ok "7: make, bash reading a dkms.conf and depmod are killed at build_timeout= with what they started"

# ---- 9: no descriptor of ours reaches a package's script ---------------------
pkg fds 'POST_ADD="fds.sh"'
# (no pipe in the script: the shell's own pipe fds would show)
printf '#!/bin/sh\nls -l /proc/$$/fd >/tmp/fds\nsed -n "s/.* \\([0-9][0-9]*\\) -> .*/FD \\1/p" /tmp/fds\n' >"$ROOT/usr/src/fds-1.0/fds.sh"
chmod +x "$ROOT/usr/src/fds-1.0/fds.sh"
exec 7</dev/null 8>"$T/some-file"
dk add fds/1.0 >"$T/out" 2>&1 || fail "9: add: $(cat "$T/out")"
exec 7<&- 8>&-
fds=$(sed -n 's/^FD //p' "$T/out" | sort -n | tr '\n' ' ')
for f in $fds; do [ "$f" -le 2 ] || [ "$f" -ge 10 ] || fail "9: descriptor $f reached POST_ADD ($fds)"; done
case " $fds " in *" 7 "* | *" 8 "*) fail "9: our descriptors reached POST_ADD: $fds" ;; esac
[ -n "$fds" ] || fail "9: POST_ADD did not run: $(cat "$T/out")"
unchanged 9
ok "9: a package script gets no descriptor of ours (saw: $fds)"

# ---- Contained, as dkms: scripts and MAKE see dkms's paths ------------------
# A custom MAKE naming $dkms_tree/M/V/build works unchanged; POST_BUILD, as
# zfs-dkms's scripts/dkms.postbuild does, copies files into
# $dkms_tree/M/V/KVER/ARCH (which holds module/ and log/), and root keeps them.
pkg zfslike 'MAKE[0]="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"' \
	'PRE_BUILD="scripts/prebuild"' \
	'POST_BUILD="scripts/dkms.postbuild -n ${PACKAGE_NAME} -v ${PACKAGE_VERSION} -a ${arch} -k ${kernelver} -t ${dkms_tree}"'
cp "$FIXTURES/hello/Makefile" "$ROOT/usr/src/zfslike-1.0/"
mkdir -p "$ROOT/usr/src/zfslike-1.0/scripts"
cat >"$ROOT/usr/src/zfslike-1.0/scripts/prebuild" <<'SH'
#!/bin/sh
# dkms runs it in the build directory
[ "$(pwd)" = "$(cd ../build && pwd)" ] && echo "#define ZFS_CONFIG 1" >zfs_config.h
SH
cat >"$ROOT/usr/src/zfslike-1.0/scripts/dkms.postbuild" <<'SH'
#!/bin/sh
while getopts "a:k:n:t:v:" opt; do
	case $opt in
	a) arch=$OPTARG ;; k) kver=$OPTARG ;; n) pkgname=$OPTARG ;; t) tree=$OPTARG ;; v) pkgver=$OPTARG ;;
	*) exit 1 ;;
	esac
done
[ -d "${tree}/${pkgname}/${pkgver}/${kver}/${arch}/module" ] || exit 3
cp "${tree}/${pkgname}/${pkgver}/build/zfs_config.h" "${tree}/${pkgname}/${pkgver}/build/Module.symvers" \
	"${tree}/${pkgname}/${pkgver}/${kver}/${arch}/"
SH
chmod +x "$ROOT/usr/src/zfslike-1.0/scripts/"*
dk add zfslike/1.0 >/dev/null
dk build zfslike/1.0 -k "$K" >"$T/out" 2>&1 || fail "zfs-like: the build failed: $(cat "$T/out") $(cat "$ROOT"/var/lib/dkms/zfslike/1.0/.failed/* 2>/dev/null)"
base=$ROOT/var/lib/dkms/zfslike/1.0/$K/$A
{ [ -f "$base/zfs_config.h" ] && [ -f "$base/Module.symvers" ]; } || fail "zfs-like: POST_BUILD's files are not in $base: $(ls "$base")"
[ "$(stat -c %U "$base/zfs_config.h")" = root ] || fail "zfs-like: root did not take POST_BUILD's files over"
[ -f "$base/module/hello.ko" ] || fail "zfs-like: the module is missing"
dk remove zfslike/1.0 --all >/dev/null
unchanged "zfs-like"
ok "contained builds keep dkms's paths: a custom MAKE naming \$dkms_tree/M/V/build, a zfs-like POST_BUILD writing \$dkms_tree/M/V/K/A"

# ---- Paths by descriptor: an image's absolute links lead inside it ----------
# A root whose dkms tree and module directory are absolute links (as an
# image may have them): lock, build, install land inside the root; the
# host's paths of the same names are never created.
R2=$T/root2
mk_root "$R2" "$K"
HOSTP=/dkms-agent-test-$$
mkdir -p "$R2$HOSTP/dkms" "$R2$HOSTP/updates"
rm -rf "$R2/var/lib/dkms"
ln -s "$HOSTP/dkms" "$R2/var/lib/dkms"
ln -s "$HOSTP/updates" "$R2/lib/modules/$K/updates"
add_fixture "$R2" hello 1.0
rc=0
"$DKMS_AGENT" --root "$R2" install hello/1.0 -k "$K" >"$T/out" 2>&1 || rc=$?
if [ -e "$HOSTP" ]; then
	rm -rf "${HOSTP:?}"
	fail "links: the host's $HOSTP was written"
fi
[ "$rc" -eq 0 ] || fail "links: install failed: $(cat "$T/out")"
[ -f "$R2$HOSTP/dkms/hello/1.0/$K/$A/module/hello.ko" ] || fail "links: not built inside the root"
[ -f "$R2$HOSTP/updates/dkms/hello.ko" ] || fail "links: not installed inside the root: $(find "$R2" -name 'hello.ko*')"
unchanged "links"
ok "paths by descriptor: absolute links in --root's dkms tree and /lib/modules lead inside the root"
