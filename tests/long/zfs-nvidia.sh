#!/bin/bash
# Long check (make long-check, not part of make check): Debian's zfs-dkms
# (contrib) and nvidia-kernel-dkms (non-free), built side by side by Debian's
# dkms and by ours against the installed Debian kernel's headers, each in its
# own sandbox tree. Same exit codes, status lines, module names and vermagic.
# Prints "bench: <pkg>-build dkms=<s> ours=<s>" for the record; the speed
# goal (ours no slower) is bench/run's, not a pass/fail here.
#
# The packages come from Debian's archive through a private apt
# configuration under a scratch directory (the host's sources.list is left
# alone): contrib and non-free are enabled there only. Downloads are kept in
# $LONG_CACHE (default /var/tmp/dkms-agent-long) between runs.
# LONG_PKGS="nvidia zfs" picks the packages.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
command -v dkms >/dev/null || skip "Debian's dkms is not installed"
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then skip "needs root and unshare"; fi
unshare -m true 2>/dev/null || skip "no mount namespaces here"
A=$(uname -m)
# The kernel's source tree: Debian's -common headers, named by the -amd64
# tree's Makefile (found at run time, like the version).
KSRC=$(sed -n 's/^include \(\/usr\/src\/[^ ]*-common\)\/Makefile$/\1/p' "/usr/src/linux-headers-$K/Makefile" | head -n1)
[ -d "$KSRC" ] || KSRC=/usr/src/linux-headers-$K
CACHE=${LONG_CACHE:-/var/tmp/dkms-agent-long}
PKGS=${LONG_PKGS:-nvidia zfs}
failed=0 passed=0

# --- fetch with a private apt configuration ---
fetch() {
	local apt=$CACHE/apt suite
	suite=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
	mkdir -p "$apt"/{state/lists/partial,cache/archives/partial,etc/sources.list.d,etc/preferences.d} "$CACHE/debs"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${suite:-bookworm} contrib non-free" \
		>"$apt/etc/sources.list"
	APT=(-o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache"
		-o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=$apt/etc/sources.list.d"
		-o "Dir::Etc::Preferences=$apt/etc/preferences" -o "Dir::Etc::PreferencesParts=$apt/etc/preferences.d"
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	apt-get "${APT[@]}" -qq update || skip "Debian's archive cannot be reached"
	(cd "$CACHE/debs" && apt-get "${APT[@]}" -qq download "$@") || fail "apt-get download $*"
}
debs=()
for p in $PKGS; do
	case $p in
	nvidia) debs+=(nvidia-kernel-dkms) ;;
	zfs) debs+=(zfs-dkms) ;;
	*) fail "unknown package $p" ;;
	esac
done
fetch "${debs[@]}"

# srcdir DEB: the /usr/src/<name>-<version> tree it ships, extracted once.
srcdir() {
	local deb x
	deb=$(find "$CACHE/debs" -name "$1_*.deb" | sort -V | tail -n1)
	[ -n "$deb" ] || fail "no $1 package downloaded"
	x=$T/x/$1
	mkdir -p "$x"
	dpkg-deb -x "$deb" "$x"
	find "$x/usr/src" -mindepth 1 -maxdepth 1 -type d | head -n1
}

# run TOOL ROOT ARGS...: one tool on one sandbox tree, dkms's own options,
# the same for both; Debian's dkms keeps its MOK key in a scratch
# /var/lib/dkms bound in a private mount namespace.
run() {
	local tool=$1 root=$2
	shift 2
	local opts=(--dkmstree "$root/var/lib/dkms" --sourcetree "$root/usr/src"
		--installtree "$root/lib/modules" --kernelsourcedir "$root/lib/modules/$K/build" --no-depmod)
	if [ "$tool" = dkms ]; then
		mkdir -p "$T/hostdkms"
		# shellcheck disable=SC2016 # expanded by the inner shell
		unshare -m sh -c 'mount --bind "$1" /var/lib/dkms && shift && exec "$@"' sh "$T/hostdkms" \
			env mok_signing_key="$T/hostdkms/mok.key" mok_certificate="$T/hostdkms/mok.pub" \
			dkms "$@" "${opts[@]}"
	else
		# Without --root ours keeps its build cache in the host's
		# /var/cache/dkms-agent: a tmpfs there, in a private mount
		# namespace, keeps the host's alone (and every build a real one).
		# shellcheck disable=SC2016 # expanded by the inner shell
		unshare -m sh -c 'mount -t tmpfs tmpfs /var/cache && exec "$@"' sh \
			"$DKMS_AGENT" "$@" "${opts[@]}"
	fi
}

now() { date +%s.%N; }

check_pkg() {
	local p=$1 deb=$2 src name m v
	src=$(srcdir "$deb")
	name=${src##*/}
	m=$(sed -n 's/^PACKAGE_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$src/dkms.conf")
	v=${name#"$m"-}
	echo "=== $p: $m/$v on $K"
	declare -A rc secs
	for tool in dkms ours; do
		local R=$T/$p-$tool
		mkdir -p "$R/var/lib/dkms" "$R/usr/src" "$R/lib/modules/$K"
		# As a Debian kernel has them: build is the kbuild output, source
		# the -common tree. zfs's configure takes the sources from
		# ${kernel_source_dir/%build/source}, so the headers are reached
		# through lib/modules/K/build as on a real system.
		ln -sfn "/usr/src/linux-headers-$K" "$R/lib/modules/$K/build"
		ln -sfn "$KSRC" "$R/lib/modules/$K/source"
		cp -a "$src" "$R/usr/src/"
		run "$tool" "$R" add -m "$m" -v "$v" >"$T/$p-$tool.add" 2>&1 || fail "$tool add $m/$v: $(cat "$T/$p-$tool.add")"
		local t0 t1 r=0
		t0=$(now)
		run "$tool" "$R" build -m "$m" -v "$v" -k "$K" >"$T/$p-$tool.build" 2>&1 || r=$?
		t1=$(now)
		rc[$tool]=$r
		secs[$tool]=$(echo "$t1 - $t0" | bc)
		echo "$tool: exit $r in ${secs[$tool]} s"
		[ "$r" -eq 0 ] || tail -n 30 "$T/$p-$tool.build"
		run "$tool" "$R" status -m "$m" >"$T/$p-$tool.status" 2>/dev/null || true
		(cd "$R/var/lib/dkms/$m/$v/$K/$A/module" 2>/dev/null && ls) >"$T/$p-$tool.modules" || true
		: >"$T/$p-$tool.vermagic"
		for ko in "$R/var/lib/dkms/$m/$v/$K/$A/module/"*.ko*; do
			[ -e "$ko" ] || continue
			echo "${ko##*/} $(modinfo -F vermagic "$ko")" >>"$T/$p-$tool.vermagic"
		done
	done
	printf 'bench: %s-build dkms=%.1f ours=%.1f\n' "$p" "${secs[dkms]}" "${secs[ours]}"
	local bad=0
	[ "${rc[dkms]}" -eq "${rc[ours]}" ] || { echo "FAIL: $p: exit codes differ (dkms ${rc[dkms]}, ours ${rc[ours]})"; bad=1; }
	[ "${rc[dkms]}" -eq 0 ] || { echo "FAIL: $p: Debian's dkms did not build it"; bad=1; }
	diff -u "$T/$p-dkms.status" "$T/$p-ours.status" || { echo "FAIL: $p: status differs"; bad=1; }
	diff -u "$T/$p-dkms.modules" "$T/$p-ours.modules" || { echo "FAIL: $p: module names differ"; bad=1; }
	diff -u "$T/$p-dkms.vermagic" "$T/$p-ours.vermagic" || { echo "FAIL: $p: vermagic differs"; bad=1; }
	[ -s "$T/$p-ours.modules" ] || { echo "FAIL: $p: no modules built by ours"; bad=1; }
	# "Ours no slower" is a speed goal: bench/run measures it (its nvidia
	# phase, medians side by side); a test never fails on time. The line
	# above reports this one run's times.
	if [ "$p" = zfs ]; then
		# zfs's POST_BUILD copies zfs_config.h and Module.symvers from
		# $dkms_tree/zfs/V/build into $dkms_tree/zfs/V/K/A: it needs dkms's
		# paths (the build in build/, the K/A directory there and writable).
		local d
		for t in dkms ours; do
			d=$T/zfs-$t/var/lib/dkms/$m/$v/$K/$A
			if [ -f "$d/zfs_config.h" ] && [ -f "$d/Module.symvers" ]; then
				echo "$t: POST_BUILD copied zfs_config.h and Module.symvers"
			else
				echo "FAIL: $t: zfs's POST_BUILD output missing in $d"
				bad=1
			fi
		done
	fi
	if [ "$bad" -eq 0 ]; then
		ok "$p: same as Debian's dkms"
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

for p in $PKGS; do
	case $p in
	nvidia) check_pkg nvidia nvidia-kernel-dkms ;;
	zfs) check_pkg zfs zfs-dkms ;;
	esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
exit 0
