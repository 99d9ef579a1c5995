#!/bin/bash
# run-upstream-suite.sh [-o OUTDIR] [-b BIN] [-s SECTION] SRC [ours|debian]...
#
# Runs the run_test.sh of an unpacked upstream dkms source (SRC) against our
# dkms (ours: BIN, default build/dkms-agent) and/or the installed dkms
# (debian: /usr/sbin/dkms as the host has it). Not part of `make check`: the
# upstream suite takes tens of minutes per tool.
#
# The host is never touched: each tool runs in a private mount namespace, in a
# chroot onto an overlay of / whose writable layer is a tmpfs (so
# /var/lib/dkms, /usr/src, /etc/dkms, /lib/modules, /boot and /etc/os-release
# writes all land in memory and vanish with the namespace); /var/lib/dkms and
# /etc/dkms/framework.conf.d start empty. KERNEL_VER is the newest installed
# linux-headers with a .config (never `uname -r`).
#
# Counting: the suite stops at its first mismatch (set -e). A copy of it is
# patched so that every check is recorded and the run goes on:
#   status   `dkms status` lines compared with the expected ones
#   exit     a command's exit code
#   output   a command's output (exact text after the suite's normalisation)
#   makelog  make.log / post_transaction.log content
#   other    the suite's own ad-hoc checks (files present or gone, a clean
#            environment) and any command that failed where the suite would
#            have stopped (only failures of these are seen)
# Results: OUTDIR/TOOL.results ("LINE<TAB>SECTION<TAB>KIND<TAB>pass|fail<TAB>what",
# LINE being the line of SRC/run_test.sh), OUTDIR/TOOL.log (the suite's
# output), a table per section and kind, and per tool a last line
# "TOOL: N passed, N failed". With two tools, the checks one passes and the
# other fails are listed (OUTDIR/compare.txt).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out='' bin="$top/build/dkms-agent" section=
while getopts o:b:s: opt; do
	case $opt in
	o) out=$OPTARG ;;
	b) bin=$OPTARG ;;
	s) section=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || {
	echo "usage: $0 [-o OUTDIR] [-b BIN] [-s SECTION] SRC [ours|debian]..." >&2
	exit 2
}
src=$(cd "$1" && pwd)
shift
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(ours debian)
if [ ! -f "$src/run_test.sh" ] || [ ! -d "$src/test" ]; then
	echo "$0: $src has no run_test.sh and test/ (an unpacked dkms source?)" >&2
	exit 2
fi
[ "$(id -u)" -eq 0 ] || {
	echo "$0: needs root (mount namespace, overlay, chroot)" >&2
	exit 2
}
kver=$(for d in /usr/src/linux-headers-*; do
	[ -f "$d/.config" ] && [ -f "$d/Makefile" ] && echo "${d#/usr/src/linux-headers-}"
done | sort -V | tail -n1)
[ -n "$kver" ] || {
	echo "$0: no kernel headers in /usr/src" >&2
	exit 2
}
[ -n "$out" ] || out=$(mktemp -d /tmp/upstream-suite.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
for t in "${tools[@]}"; do
	case $t in
	ours) [ -x "$bin" ] || {
		echo "$0: $bin not built (make all)" >&2
		exit 2
	} ;;
	debian) [ -x /usr/sbin/dkms ] || {
		echo "$0: no /usr/sbin/dkms" >&2
		exit 2
	} ;;
	*)
		echo "$0: tool must be ours or debian, not '$t'" >&2
		exit 2
		;;
	esac
done

# The counting helpers, sourced by the patched copy once the suite's own
# helpers are defined. They replace the suite's check helpers by ones that
# record the result and return 0; the suite's normalisation functions
# (generalize_expected_output, generalize_make_log) and its status filter
# (dkms_status_grep_dkms_module) are used as they are.
write_counting() {
	cat >"$1" <<'COUNTING'
_uc_sec=prologue
_uc_line() {
	# the line of run_test.sh that called the check (outermost frame)
	local n=${#BASH_LINENO[@]}
	echo "${BASH_LINENO[n - 2]}"
}
_uc_rec() {
	local line=$1 kind=$2 res=$3 what=${4//$'\n'/ }
	printf '%s\t%s\t%s\t%s\t%s\n' "$line" "$_uc_sec" "$kind" "$res" "$what" >>"$UC_RESULTS"
	[ "$res" = pass ] || echo "UPSTREAM-CHECK FAILED line $line [$_uc_sec $kind]: $what" >&2
}
_uc_diff() {
	# _uc_diff LINE KIND WHAT: the expected text against the one we got
	if diff -U3 test_cmd_expected_output.log test_cmd_output.log; then
		_uc_rec "$1" "$2" pass "$3"
	else
		_uc_rec "$1" "$2" fail "$3"
	fi
	rm -f test_cmd_expected_output.log test_cmd_output.log
}
run_with_expected_error() {
	local want=$1 rc=0 line
	line=$(_uc_line)
	shift
	cat >test_cmd_expected_output.log
	stdbuf -o L -e L "$@" >test_cmd_output.log 2>&1 || rc=$?
	if [ "$rc" = "$want" ]; then
		_uc_rec "$line" exit pass "$*"
	else
		_uc_rec "$line" exit fail "$* => $rc, expected $want"
	fi
	generalize_expected_output test_cmd_output.log "$2"
	_uc_diff "$line" output "$*"
	return 0
}
run_with_expected_output() { run_with_expected_error 0 "$@"; }
run_status_with_expected_output() {
	local line
	line=$(_uc_line)
	cat >test_cmd_expected_output.log
	dkms_status_grep_dkms_module "$1" >test_cmd_output.log 2>&1
	_uc_diff "$line" status "status of $1"
	return 0
}
check_make_log_content() {
	local line
	line=$(_uc_line)
	cat >test_cmd_expected_output.log
	cat "$1" >test_cmd_output.log 2>/dev/null || :
	generalize_make_log test_cmd_output.log
	_uc_diff "$line" makelog "$1"
	return 0
}
# The suite's ad-hoc checkers end in `exit 1`: run them in a subshell.
for _uc_f in check_no_dkms_test check_module_source_tree_created; do
	if declare -F "$_uc_f" >/dev/null; then
		eval "_uc_orig_$(declare -f "$_uc_f")"
		eval "$_uc_f() { local line; line=\$(_uc_line); if ( _uc_orig_$_uc_f \"\$@\" ); then _uc_rec \"\$line\" other pass \"$_uc_f \$*\"; else _uc_rec \"\$line\" other fail \"$_uc_f \$*\"; fi; return 0; }"
	fi
done
# `exit 1` of the suite's inline checks (rewritten by the patch)
_uc_adhoc() { _uc_rec "$1" other fail "inline check"; }
# a command that failed where the suite (set -e) would have stopped
trap '_uc_rec "$LINENO" other fail "stopped here: $BASH_COMMAND"' ERR
COUNTING
}

# The patched copy: same line numbers as SRC/run_test.sh (edits stay on their
# line): no set -e; the counting helpers sourced before the first
# clean_dkms_env; `exit 1` after that point recorded instead; sections named
# after the suite's `only` blocks (older suites, without them: after their
# "*** Testing ..." headers).
patch_suite() {
	local in=$1 outf=$2 has_only=0
	# shellcheck disable=SC2016 # a literal $only
	grep -q '^if \[\[ ! \$only || \$only = ' "$in" && has_only=1
	awk -v has_only="$has_only" '
	BEGIN { anchor = 0 }
	anchor && !has_only && /^ *echo .\*\*\* Testing / {
		s = tolower($0); sub(/^ *echo .\*\*\* testing /, "", s); gsub(/[^a-z0-9]+/, "-", s)
		sub(/^-+/, "", s); sub(/-+$/, "", s)
		print "_uc_sec=" substr(s, 1, 30) "; " $0; next
	}
	!anchor && /^set -e/ { sub(/^set -e/, "set -") ; sub(/^set -u?$/, "set -u") }
	!anchor && /^clean_dkms_env[ \t]*$/ { print ". ./upstream-counting.sh; " $0; anchor = 1; next }
	anchor { gsub(/exit 1;/, "_uc_adhoc " NR ";"); sub(/exit 1$/, "_uc_adhoc " NR) }
	anchor && /^if \[\[ ! \$only \|\| \$only = [A-Za-z0-9_-]+ \]\]; then/ {
		s = $0; sub(/^if \[\[ ! \$only \|\| \$only = /, "", s); sub(/ .*/, "", s)
		print "_uc_sec=" s "; " $0; next
	}
	{ print }
	END { if (!anchor) exit 3 }' "$in" >"$outf"
}

run_tool() {
	local tool=$1 work
	work=$(mktemp -d /tmp/upstream-suite-ns.XXXXXX)
	mkdir -p "$work/suite"
	cp -a "$src/run_test.sh" "$src/test" "$work/suite/"
	patch_suite "$src/run_test.sh" "$work/suite/run_test.sh" || {
		echo "$0: cannot patch $src/run_test.sh (no top-level clean_dkms_env line)" >&2
		rm -rf "$work"
		return 2
	}
	write_counting "$work/suite/upstream-counting.sh"
	: >"$out/$tool.results"
	echo "== $tool: upstream suite of $src, kernel $kver (log: $out/$tool.log)"
	# Everything below runs in its own mount namespace; $work is only a
	# staging directory the namespace reads from.
	unshare -m --propagation private bash -s -- "$tool" "$work" "$bin" "$kver" "$out" "$section" "$top" <<'INNER' || :
set -eu
tool=$1 work=$2 bin=$3 kver=$4 out=$5 section=$6 top=$7
ns=$work/ns
mkdir -p "$ns"
mount -t tmpfs -o size=4g tmpfs "$ns"
mkdir -p "$ns/upper" "$ns/work" "$ns/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$ns/upper,workdir=$ns/work" "$ns/root"
r=$ns/root
mount --rbind /dev "$r/dev"
mount -t proc proc "$r/proc"
mount --rbind /sys "$r/sys"
for d in tmp run var/lib/dkms var/cache/dkms-agent etc/dkms/framework.conf.d; do
	mkdir -p "$r/$d"
	mount -t tmpfs tmpfs "$r/$d"
done
# the kernel the suite builds for: headers reachable as /lib/modules/K/build
mkdir -p "$r/lib/modules/$kver"
[ -e "$r/lib/modules/$kver/build" ] || ln -s "/usr/src/linux-headers-$kver" "$r/lib/modules/$kver/build"
if [ "$tool" = ours ]; then
	install -m 755 "$bin" "$r/usr/sbin/dkms-agent"
	ln -sfn dkms-agent "$r/usr/sbin/dkms"
	mkdir -p "$r/usr/lib/dkms"
	install -m 755 "$top/agent/debian/dkms_autoinstaller" "$r/usr/lib/dkms/dkms_autoinstaller"
	install -m 755 "$top/agent/debian/common.postinst" "$r/usr/lib/dkms/common.postinst"
fi
mkdir -p "$r/root/upstream-suite"
cp -a "$work/suite/." "$r/root/upstream-suite/"
rc=0
chroot "$r" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 TERM=dumb KERNEL_VER="$kver" UC_RESULTS=/root/upstream-results \
	timeout 7200 bash /root/upstream-suite/run_test.sh ${section:+"$section"} \
	>"$out/$tool.log" 2>&1 || rc=$?
echo "suite exit status $rc" >>"$out/$tool.log"
cp "$r/root/upstream-results" "$out/$tool.results" 2>/dev/null || :
INNER
	rm -rf "$work"
}

summary() {
	local tool=$1
	echo "== $tool"
	awk -F'\t' '
	{ k = $2 SUBSEP $3; t[k]++; if ($4 == "pass") p[k]++; T[$3]++; if ($4 == "pass") P[$3]++; n++; if ($4 == "pass") np++ }
	END {
		for (k in t) { split(k, a, SUBSEP); printf "  %-22s %-8s %4d/%d\n", a[1], a[2], p[k], t[k] | "sort" }
		close("sort")
		for (k in T) printf "  %-22s %-8s %4d/%d\n", "TOTAL", k, P[k], T[k] | "sort"
		close("sort")
	}' "$out/$tool.results"
	awk -F'\t' -v tool="$tool" '$4 == "pass" { p++ } $4 != "pass" { f++ }
	END { printf "%s: %d passed, %d failed\n", tool, p, f }' "$out/$tool.results"
}

for t in "${tools[@]}"; do
	run_tool "$t"
done
if [ ${#tools[@]} -eq 2 ]; then
	# checks paired by their line in run_test.sh, kind and occurrence
	awk -F'\t' -v a="${tools[0]}" -v b="${tools[1]}" '
	{ k = $1 FS $3; n = ++seen[FILENAME, k]; k = k FS n }
	NR == FNR { ra[k] = $4; wa[k] = $2 " " $3 ": " $5; order[++m] = k; next }
	{ rb[k] = $4; if (!(k in ra)) { order[++m] = k; wa[k] = $2 " " $3 ": " $5 } }
	END {
		for (i = 1; i <= m; i++) {
			k = order[i]; split(k, f, FS)
			x = (k in ra) ? ra[k] : "absent"; y = (k in rb) ? rb[k] : "absent"
			if (x != y) printf "line %s: %s %s, %s %s: %s\n", f[1], a, x, b, y, wa[k]
		}
	}' "$out/${tools[0]}.results" "$out/${tools[1]}.results" >"$out/compare.txt"
	echo "== checks where ${tools[0]} and ${tools[1]} differ: $out/compare.txt ($(wc -l <"$out/compare.txt") lines)"
fi
for t in "${tools[@]}"; do
	summary "$t"
done
