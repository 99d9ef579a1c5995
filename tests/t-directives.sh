#!/bin/bash
# dkms.conf directives given effect as dkms 3.x gives it, with real kbuild:
# validation (duplicate modules: 8; no modules: valid), BUILD_DEPENDS
# (missing or circular: 13 on build, 11 on autoinstall; --force builds; the
# .dep_* records and BUILD_DEPENDS_REBUILD), PRE_BUILD/POST_BUILD/PRE_INSTALL/
# POST_INSTALL/POST_ADD and their exit statuses, CLEAN, $parallel_jobs in
# MAKE, OBSOLETE_BY, REMAKE_INITRD and NO_WEAK_MODULES accepted.
# shellcheck disable=SC2016 # dkms.conf lines and scripts are written unexpanded
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
A=$(uname -m)
ROOT=$T/root
mk_root "$ROOT" "$K"
S=$ROOT/usr/src

# pkg NAME VERSION [dkms.conf lines...]: hello's source under another name.
pkg() {
	local n=$1 v=$2 d
	shift 2
	d=$S/$n-$v
	mkdir -p "$d"
	sed "s/hello/$n/g; s/MODULE_VERSION(\"1.0\")/MODULE_VERSION(\"$v\")/" "$FIXTURES/hello/hello.c" >"$d/$n.c"
	echo "obj-m := $n.o" >"$d/Makefile"
	{
		echo "PACKAGE_NAME=$n"
		echo "PACKAGE_VERSION=$v"
		echo "BUILT_MODULE_NAME[0]=$n"
		echo "DEST_MODULE_LOCATION[0]=/updates/dkms"
		printf '%s\n' "$@"
	} >"$d/dkms.conf"
}
script() { # script PKGDIR NAME BODY: an executable script in the source
	printf '#!/bin/sh\n%s\n' "$3" >"$1/$2"
	chmod 755 "$1/$2"
}

# --- validation (no build) ---
pkg dup 1.0 'BUILT_MODULE_NAME[1]=dup' 'DEST_MODULE_LOCATION[1]=/updates/dkms'
expect_rc 8 "$DKMS_AGENT" conf --check "$S/dup-1.0/dkms.conf" 2>"$T/err"
grep -q "Duplicate module 'dup' in 'BUILT_MODULE_NAME\[1\]'" "$T/err" || { cat "$T/err"; fail "no duplicate message"; }
expect_rc 8 dk add dup/1.0 2>/dev/null
mkdir -p "$S/nomod-1.0" && printf 'PACKAGE_NAME=nomod\nPACKAGE_VERSION=1.0\n' >"$S/nomod-1.0/dkms.conf"
"$DKMS_AGENT" conf --check "$S/nomod-1.0/dkms.conf" >/dev/null 2>"$T/err" || fail "no modules refused"
grep -q "Zero modules specified" "$T/err" || fail "no zero-modules warning"
dk add nomod/1.0 >/dev/null || fail "add of a package without modules"
pkg flags 1.0 'REMAKE_INITRD=yes' 'NO_WEAK_MODULES=yes' 'BUILD_DEPENDS_REBUILD=no' 'AUTOINSTALL=no'
"$DKMS_AGENT" conf --check "$S/flags-1.0/dkms.conf" >/dev/null 2>"$T/err" || { cat "$T/err"; fail "flags refused"; }
grep -q "Deprecated feature: REMAKE_INITRD" "$T/err" || fail "no REMAKE_INITRD deprecation"
ok "validation: duplicates 8, no modules valid, flags accepted"

# a dkms.conf that bash cannot read to its end: check shows bash's words
# (file, line) and advises fixing the file, not removing the module
pkg badsh 1.0
dk add badsh/1.0 >/dev/null
printf 'PACKAGE_NAME=badsh\nif then\nPACKAGE_VERSION=1.0\n' >"$S/badsh-1.0/dkms.conf"
dk check -k "$K" >"$T/check" 2>&1 || true
grep -q "badsh-1.0/dkms.conf: line 2" "$T/check" || { cat "$T/check"; fail "check does not show bash's error"; }
grep -q "fix its dkms.conf" "$T/check" || { cat "$T/check"; fail "check does not advise fixing dkms.conf"; }
rm -rf "$ROOT/var/lib/dkms/badsh" "$S/badsh-1.0"
ok "check: bash's error and the advice to fix dkms.conf"

# --- OBSOLETE_BY: a kernel past it does not build (dkms 3.4), no build run ---
pkg obs 1.0 'OBSOLETE_BY=5.0'
dk add obs/1.0 >/dev/null
expect_rc 77 dk build obs/1.0 -k "$K" 2>/dev/null
ok "OBSOLETE_BY"

# --- BUILD_DEPENDS ---
pkg base 1.0 'AUTOINSTALL=yes'
pkg dep 1.0 'AUTOINSTALL=yes' 'BUILD_DEPENDS=base' 'BUILD_DEPENDS_REBUILD=yes'
pkg cyca 1.0 'AUTOINSTALL=yes' 'BUILD_DEPENDS=cycb'
pkg cycb 1.0 'AUTOINSTALL=yes' 'BUILD_DEPENDS=cyca'
for p in base dep cyca cycb; do dk add $p/1.0 >/dev/null; done
expect_rc 13 dk build dep/1.0 -k "$K" 2>"$T/err"
grep -q "missing BUILD_DEPENDS: base" "$T/err" || { cat "$T/err"; fail "no missing-dependency message"; }
[ ! -d "$ROOT/var/lib/dkms/dep/1.0/$K" ] || fail "dep built without its dependency"
expect_rc 13 dk build cyca/1.0 -k "$K" 2>/dev/null
ok "missing BUILD_DEPENDS: 13"

# autoinstall: base before dep, the cycle fails the run with 11, the rest installs
expect_rc 11 dk autoinstall -k "$K" >"$T/out" 2>&1
cat "$T/out"
[ -e "$ROOT/lib/modules/$K/updates/dkms/dep.ko" ] || fail "dep not installed by autoinstall"
if [ -d "$ROOT/var/lib/dkms/cyca/1.0/$K" ] || [ -d "$ROOT/var/lib/dkms/cycb/1.0/$K" ]; then
	fail "a circular module was built"
fi
b=$(grep -n "^base/1.0 .*: built" "$T/out" | head -n1 | cut -d: -f1)
d=$(grep -n "^dep/1.0 .*: prepare" "$T/out" | head -n1 | cut -d: -f1)
if [ -z "$b" ] || [ -z "$d" ] || [ "$b" -ge "$d" ]; then fail "dep did not wait for base"; fi
grep -q "circular BUILD_DEPENDS" "$T/out" || fail "no circular message"
rec=$ROOT/var/lib/dkms/dep/1.0/$K/$A/.dep_base
[ "$(cat "$rec")" = 1.0 ] || fail ".dep_base is '$(cat "$rec" 2>/dev/null)'"
ok "autoinstall: order, circular BUILD_DEPENDS 11, .dep_base recorded"

# a new version of base: dep (BUILD_DEPENDS_REBUILD) is rebuilt against it
pkg base 2.0 'AUTOINSTALL=yes'
dk add base/2.0 >/dev/null
dk install base/2.0 -k "$K" >"$T/out" 2>&1 || { cat "$T/out"; fail "install base/2.0"; }
grep -q "Rebuilding module dep/1.0" "$T/out" || { cat "$T/out"; fail "dep not rebuilt"; }
[ "$(cat "$rec")" = 2.0 ] || fail ".dep_base is '$(cat "$rec" 2>/dev/null)' after the rebuild"
[ -L "$ROOT/var/lib/dkms/dep/kernel-$K-$A" ] || fail "dep not reinstalled"
ok "BUILD_DEPENDS_REBUILD"

# --force builds despite a missing dependency
dk remove cyca/1.0 --all >/dev/null 2>&1 || true
dk add cyca/1.0 >/dev/null
dk build cyca/1.0 -k "$K" --force >/dev/null 2>&1 || fail "--force did not build"
[ -d "$ROOT/var/lib/dkms/cyca/1.0/$K/$A/module" ] || fail "cyca not built with --force"
ok "--force overrides BUILD_DEPENDS"

# a dkms.conf that gained a duplicate after the build: remove still works
# (dkms's read_conf, not read_conf_strict), status still shows it
printf 'BUILT_MODULE_NAME[1]=cyca\nDEST_MODULE_LOCATION[1]=/updates/dkms\n' >>"$S/cyca-1.0/dkms.conf"
dk status cyca/1.0 | grep -q "cyca/1.0, $K, $A: built" || fail "status of a package with a duplicate"
dk remove cyca/1.0 --all >/dev/null 2>&1 || fail "remove of a package with a duplicate"
[ ! -d "$ROOT/var/lib/dkms/cyca/1.0" ] || fail "cyca/1.0 not removed"
ok "a duplicate does not block remove or status"

# --- scripts, CLEAN, $parallel_jobs ---
pkg scr 1.0 'PRE_BUILD="pre.sh ${kernelver}"' 'POST_BUILD=post.sh' \
	'PRE_INSTALL="preinst.sh ${kernelver}"' 'POST_INSTALL="postinst.sh ${kernelver} ${arch}"' \
	'POST_ADD=postadd.sh' 'CLEAN="echo cleaning-now"' \
	'MAKE="env make ${parallel_jobs+-j$parallel_jobs} -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"'
D=$S/scr-1.0
script "$D" pre.sh 'echo "pre_build in $PWD for $1"; [ -f Makefile ]'
script "$D" post.sh '[ -f scr.ko ]'
script "$D" preinst.sh '[ -e "$(dirname "$0")/allow" ] || exit 3'
# Scripts run as the build user with the system read-only: POST_INSTALL
# shows what it got on its output (it cannot write the source directory).
script "$D" postinst.sh 'echo "post_install got: $*"'
script "$D" postadd.sh 'exit 5'
expect_rc 5 dk add scr/1.0
dk build scr/1.0 -k "$K" -j 3 >/dev/null 2>&1 || fail "scr build"
log=$ROOT/var/lib/dkms/scr/1.0/$K/$A/log/make.log
grep -q "pre_build in .* for $K" "$log" || fail "PRE_BUILD did not run in the build directory"
grep -q "cleaning-now" "$log" || fail "CLEAN did not run"
grep -q "Building with: env make -j3 " "$log" || fail "\$parallel_jobs not in MAKE: $(grep 'Building with' "$log")"
# dkms takes $parallel_jobs from the environment too (-j wins).
parallel_jobs=5 dk build scr/1.0 -k "$K" --force >/dev/null 2>&1 || fail "scr rebuild"
grep -q "Building with: env make -j5 " "$log" || fail "\$parallel_jobs from the environment: $(grep 'Building with' "$log")"
parallel_jobs=5 dk build scr/1.0 -k "$K" -j 3 --force >/dev/null 2>&1 || fail "scr rebuild -j 3"
grep -q "Building with: env make -j3 " "$log" || fail "-j does not win over the environment: $(grep 'Building with' "$log")"
expect_rc 101 dk install scr/1.0 -k "$K" 2>/dev/null
[ ! -e "$ROOT/lib/modules/$K/updates/dkms/scr.ko" ] || fail "installed although PRE_INSTALL failed"
dk install scr/1.0 -k "$K" --force >"$T/inst.out" 2>&1 || fail "--force install"
grep -qx "post_install got: $K $A" "$T/inst.out" || fail "POST_INSTALL: $(cat "$T/inst.out")"
ok "PRE_BUILD, CLEAN, \$parallel_jobs, PRE_INSTALL 101, POST_INSTALL, POST_ADD status"

pkg prefail 1.0 'PRE_BUILD=pre.sh'
script "$S/prefail-1.0" pre.sh 'exit 42'
dk add prefail/1.0 >/dev/null
expect_rc 42 dk build prefail/1.0 -k "$K" 2>/dev/null
[ ! -d "$ROOT/var/lib/dkms/prefail/1.0/$K" ] || fail "built although PRE_BUILD failed"
ok "PRE_BUILD's exit status fails the build"
