#!/bin/bash
# Crash consistency: dkms-agent is killed with SIGKILL (its whole process
# group, started with setsid) at random points of install, autoinstall (with
# and without a build), uninstall, remove, boot with initramfs=append and
# `initramfs append`. After every kill the tree and the module directory must
# be consistent (status works, "built" has its files, "installed" has its
# files and its link, no half-written module is visible, temp files are
# ignored, the initramfs is the old one or a complete new one), and a
# following normal run must reach the fully installed state.
#
# CRASH_SEED=N replays a run; CRASH_SCALE=N multiplies the number of trials.
# Assertions marked "REGRESSION" guard bugs these tests found (all fixed); the test
# goes on after them and fails at the end.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
A=$(uname -m)
command -v setsid >/dev/null || skip "no setsid"
command -v cpio >/dev/null || skip "no cpio"
MODINFO=$(command -v modinfo || echo /sbin/modinfo)
SEED=${CRASH_SEED:-$(((($$ << 8) ^ $(date +%s)) & 0x7fff))}
SCALE=${CRASH_SCALE:-1}
RANDOM=$SEED
echo "seed $SEED (CRASH_SEED=$SEED replays this run)"
MD=lib/modules/$K/updates/dkms
IMG=boot/initrd.img-$K
START=$(date +%s)

bugs=()
# regression TEXT: a failed assertion guarding a fixed bug.
regression() {
	echo "REGRESSION: $*" >&2
	bugs+=("$*")
}

# A builtin sleep with sub-millisecond resolution: no fork between the start
# of the operation and the kill.
exec {NAPFD}<> <(:)
nap() { read -r -t "$1" -u "$NAPFD" _ || true; }

now_us() { echo $(($(date +%s%N) / 1000)); }

# crash DELAY_US CMD...: runs CMD in a new session and SIGKILLs its process
# group after DELAY_US microseconds. Sets crash_rc (137 when it was killed).
# Processes of the session that survive the group kill (children that made
# their own process group) are reported once, then killed by pid.
orphans_seen=0
# survivors SID: live processes (not zombies) of session SID
survivors() { ps -o pid=,stat=,args= -s "$1" 2>/dev/null | awk '$2 !~ /^Z/' || true; }
crash() {
	local delay=$1 pid left p
	shift
	setsid "$@" >"$T/crash.out" 2>&1 </dev/null &
	pid=$!
	nap "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
	# Before setsid() ran there is no group yet: then the pid is all there is.
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	crash_rc=0
	{ wait "$pid"; } 2>/dev/null || crash_rc=$?
	# Children tied to us by PR_SET_PDEATHSIG die a moment later: on a
	# loaded machine that moment can pass 50 ms. A survivor is one still
	# there after 2 s.
	left=$(survivors "$pid")
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -n "$left" ] || break
		nap 0.2
		left=$(survivors "$pid")
	done
	if [ -n "$left" ]; then
		if [ "$orphans_seen" -eq 0 ]; then
			# REGRESSION (fixed): spawn.c puts every child (make, depmod) in its own
			# process group, so killing dkms-agent's group leaves them running.
			regression "kill -KILL -- -PGID of dkms-agent left processes running: $(echo "$left" | head -3 | tr '\n' ';')"
		fi
		orphans_seen=$((orphans_seen + 1))
		for p in $(ps -o pid= -s "$pid" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null || true
		done
		while [ -n "$(survivors "$pid")" ]; do nap 0.01; done
	fi
}

# first PATH...: the first of the paths that exists
first() {
	local f
	for f in "$@"; do
		[ -e "$f" ] && echo "$f" && return 0
	done
	return 1
}

# rand_below N: uniform in [0, N)
rand_below() { echo $(((RANDOM << 15 | RANDOM) % $1)); }

# ---------------------------------------------------------------------------
# Templates: added, built, installed. The initramfs holds an older hello and
# a filler file, so that appending to it takes measurable time.
ROOT=$T/tpl-added
mk_root "$ROOT" "$K"
for m in hello twoko; do
	v=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$FIXTURES/$m/dkms.conf")
	add_fixture "$ROOT" "$m" "$v"
	dk add "$m/$v" >/dev/null
done
echo "initramfs=append" >"$ROOT/etc/dkms-agent.conf"
mkdir -p "$T/img/$MD" "$T/img/usr/share/filler"
echo "old build" >"$T/img/$MD/hello.ko"
touch "$T/img/lib/modules/$K/modules.dep"
head -c 3000000 /dev/urandom >"$T/img/usr/share/filler/blob"
(cd "$T/img" && find . | cpio -o -H newc --quiet) >"$ROOT/$IMG"
cp "$T/img/$MD/hello.ko" "$T/old-hello.ko"
cp "$ROOT/$IMG" "$T/old-initrd"
OLD_SIZE=$(stat -c %s "$T/old-initrd")
head -c 1500000 /dev/urandom >"$T/payload"

cp -a "$T/tpl-added" "$T/tpl-built"
ROOT=$T/tpl-built
t0=$(now_us)
dk build hello/1.0 -k "$K" >/dev/null
dk build twoko/2.1 -k "$K" >/dev/null
BUILD_US=$(($(now_us) - t0))
[ -d "$ROOT/var/lib/dkms/twoko/2.1/$K/$A/module" ] || fail "prebuild of twoko failed"
# Reference bytes of every built module (the templates never rebuild).
mkdir -p "$T/ref"
for f in "$ROOT"/var/lib/dkms/*/*/"$K/$A"/module/*.ko*; do
	cp "$f" "$T/ref/"
done
cp -a "$T/tpl-built" "$T/tpl-installed"
ROOT=$T/tpl-installed
dk install hello/1.0 -k "$K" >/dev/null
dk install twoko/2.1 -k "$K" >/dev/null
echo "prebuilt hello and twoko in $((BUILD_US / 1000)) ms"

# ---------------------------------------------------------------------------
# Invariants

declare -A MODS=([hello]=hello [twoko]="alpha beta") VER=([hello]=1.0 [twoko]=2.1)
# module_ok FILE: a complete module for K (modinfo reads it, vermagic is K)
module_ok() {
	local vm
	vm=$("$MODINFO" -F vermagic "$1" 2>/dev/null) || return 1
	[ "${vm%% *}" = "$K" ]
}

# kernel_view_ok WHAT IMAGE: past the old image's end, the kernel finds
# nothing, NULs (skipped), a complete zstd segment, or NULs followed by bytes
# that are no archive at all: it stops there with the old files unpacked and
# never unpacks a part of a new segment. (Our readers know the journal; the
# kernel does not: this looks at the bytes only.)
kernel_view_ok() {
	local what=$1 img=$2 size off magic
	size=$(stat -c %s "$img")
	[ "$size" -gt "$OLD_SIZE" ] || return 0
	off=$(tail -c +$((OLD_SIZE + 1)) "$img" | od -An -v -tx1 -w1 | awk '$1 != "00" { print NR - 1; exit }')
	[ -n "$off" ] || return 0
	magic=$(tail -c +$((OLD_SIZE + off + 1)) "$img" | head -c 6 | od -An -tx1 | tr -d ' \n')
	case $magic in
	28b52ffd*)
		mkdir -p "$T/kv"
		cp "$img" "$T/kv/image" # without the journal beside it: the kernel's view
		"$DKMS_AGENT" initramfs list "$T/kv/image" >/dev/null 2>&1 ||
			fail "$what: a zstd segment in place but incomplete: the kernel would unpack part of it"
		;;
	1f8b* | 1f9e* | fd377a585a00 | 02214c18* | 303730373031 | 303730373032 | 425a68* | 5d0000* | 894c5a4f*)
		fail "$what: an archive magic ($magic) in front of an unfinished segment" ;;
	esac
}

# invariants WHAT: checks the tree and module directory of $ROOT after a kill.
invariants() {
	local what=$1 line m v kk aa n f b st dir
	st=$(dk status 2>"$T/status.err") || fail "$what: status failed: $(cat "$T/status.err")"
	case $st in *dkms-tmp* | *.trash* | *.removing* | *.staging* | *.build-*)
		fail "$what: status shows a temporary entry: $st" ;;
	esac
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		if [[ $line =~ ^([a-z]+)/([0-9.]+):\ added$ ]]; then
			continue
		fi
		[[ $line =~ ^([a-z]+)/([0-9.]+),\ ([^,]+),\ ([^:]+):\ (built|installed)$ ]] ||
			fail "$what: malformed status line: $line"
		m=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]} kk=${BASH_REMATCH[3]} aa=${BASH_REMATCH[4]}
		[ "$kk/$aa" = "$K/$A" ] || fail "$what: status names another kernel: $line"
		dir=$ROOT/var/lib/dkms/$m/$v/$K/$A/module
		for n in ${MODS[$m]}; do
			f=$(first "$dir/$n".ko*)
			[ -n "$f" ] || fail "$what: $line but $dir/$n.ko* is missing"
			module_ok "$f" || fail "$what: $line but $f is not a complete module"
			if [ "${BASH_REMATCH[5]}" = installed ]; then
				b=$(basename "$f")
				[ -f "$ROOT/$MD/$b" ] || fail "$what: $line but $MD/$b is missing"
				cmp -s "$f" "$ROOT/$MD/$b" || fail "$what: $line but $MD/$b differs from the built copy"
			fi
		done
		if [ "${BASH_REMATCH[5]}" = installed ]; then
			[ -d "$ROOT/var/lib/dkms/$m/kernel-$K-$A/module" ] ||
				fail "$what: $line but kernel-$K-$A does not resolve"
		fi
	done <<<"$st"
	# Every module file visible in updates/dkms is complete.
	for f in "$ROOT/$MD"/*; do
		[ -e "$f" ] || continue
		case $f in *.dkms-tmp*) continue ;; esac
		module_ok "$f" || fail "$what: half-written module visible: $f ($(stat -c %s "$f") bytes)"
		b=$(basename "$f")
		if [ -f "$T/ref/$b" ] && [ "${what%%-*}" != build ]; then
			cmp -s "$f" "$T/ref/$b" || fail "$what: $f differs from the built module"
		fi
	done
	# Temp files are never taken for modules.
	if [ -f "$ROOT/lib/modules/$K/modules.dep" ] && grep -q dkms-tmp "$ROOT/lib/modules/$K/modules.dep"; then
		fail "$what: modules.dep lists a temp file"
	fi
	local rc=0
	dk check -k "$K" >"$T/check.out" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || fail "$what: check exited $rc: $(cat "$T/check.out")"
	! grep -q dkms-tmp "$T/check.out" || fail "$what: check shows a temp file: $(grep dkms-tmp "$T/check.out")"
	# The initramfs: the old image or a complete new one, as the kernel
	# reads it: appends happen in place, so the old bytes never change.
	cmp -s -n "$OLD_SIZE" "$ROOT/$IMG" "$T/old-initrd" || fail "$what: the old bytes of the initramfs changed"
	kernel_view_ok "$what" "$ROOT/$IMG"
	"$DKMS_AGENT" initramfs list "$ROOT/$IMG" >/dev/null 2>"$T/list.err" ||
		fail "$what: the initramfs cannot be read after the kill: $(cat "$T/list.err")"
	[ "$(dk initramfs find "$K")" = "$ROOT/$IMG" ] || fail "$what: initramfs find: $(dk initramfs find "$K")"
	if ! cmp -s "$ROOT/$IMG" "$T/old-initrd"; then
		"$DKMS_AGENT" initramfs has "$ROOT/$IMG" "$MD/hello.ko" "$T/old-hello.ko" >/dev/null ||
			"$DKMS_AGENT" initramfs has "$ROOT/$IMG" "$MD/hello.ko" "$ROOT/var/lib/dkms/hello/1.0/$K/$A/module/hello.ko" >/dev/null ||
			fail "$what: the initramfs holds a hello.ko that is neither the old nor the built one"
		local prc=0
		"$DKMS_AGENT" initramfs has "$ROOT/$IMG" /usr/lib/payload "$T/payload" >/dev/null 2>&1 || prc=$?
		if [ "$prc" -ne 0 ] && "$DKMS_AGENT" initramfs has "$ROOT/$IMG" /usr/lib/payload >/dev/null 2>&1; then
			fail "$what: the initramfs holds a payload that differs"
		fi
	fi
}

# fully_installed WHAT [MOD...]: the state after a repair run.
fully_installed() {
	local what=$1 m v n f
	shift
	for m in "$@"; do
		v=${VER[$m]}
		[ "$(dk status "$m")" = "$m/$v, $K, $A: installed" ] || fail "$what: after repair: $(dk status "$m")"
		for n in ${MODS[$m]}; do
			f=$(first "$ROOT/$MD/$n".ko*)
			[ -n "$f" ] || fail "$what: after repair $n is not installed"
			cmp -s "$f" "$ROOT/var/lib/dkms/$m/$v/$K/$A/module/$(basename "$f")" ||
				fail "$what: after repair $f differs from the built copy"
			if ! grep -qs "updates/dkms/$(basename "$f"):" "$ROOT/lib/modules/$K/modules.dep"; then
				# REGRESSION (fixed): killed after the kernel-K-A link but before depmod,
				# the module counts as installed and no later run reruns depmod.
				regression "$what: after kill + repair, $MD/$(basename "$f") is not in modules.dep"
			fi
		done
	done
}

# ---------------------------------------------------------------------------
# The operations: name, template, command, repair, expected final state.

declare -A DUR NTRIALS KILLED
reset_root() {
	rm -rf "$T/root"
	cp -a "$T/$1" "$T/root"
	ROOT=$T/root
}

op_cmd() {
	case $1 in
	install) echo "install twoko/2.1 -k $K" ;;
	autoinstall | autoinstall-build) echo "autoinstall -k $K" ;;
	uninstall) echo "uninstall twoko/2.1 -k $K" ;;
	remove) echo "remove hello/1.0 --all" ;;
	boot | boot-build) echo "boot -k $K" ;;
	esac
}
op_tpl() {
	case $1 in
	install | autoinstall | boot | append) echo tpl-built ;;
	autoinstall-build | boot-build) echo tpl-added ;;
	uninstall | remove) echo tpl-installed ;;
	esac
}

# run_op OP [DELAY_US]: the operation, under crash when a delay is given
run_op() {
	local op=$1 d=${2:-} c
	if [ "$op" = append ]; then
		c=("$DKMS_AGENT" initramfs append "$ROOT/$IMG" "$T/payload:/usr/lib/payload")
	else
		# shellcheck disable=SC2207 # op_cmd's words are the arguments
		c=("$DKMS_AGENT" --root "$ROOT" $(op_cmd "$op"))
	fi
	if [ -n "$d" ]; then
		crash "$d" "${c[@]}"
	else
		crash_rc=0
		"${c[@]}" >"$T/crash.out" 2>&1 || crash_rc=$?
	fi
}

repair_and_verify() { # OP
	local op=$1 rc=0 left
	case $op in
	install | autoinstall | autoinstall-build | uninstall)
		dk autoinstall -k "$K" >"$T/repair.out" 2>&1 || fail "$op: repair autoinstall failed: $(cat "$T/repair.out")"
		fully_installed "$op" hello twoko
		;;
	remove)
		dk remove hello/1.0 --all >"$T/repair.out" 2>&1 || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "remove: repeating it exited $rc: $(cat "$T/repair.out")"
		[ -z "$(dk status hello)" ] || fail "remove: hello still in the tree after repeating remove: $(dk status hello)"
		if first "$ROOT/$MD"/hello.ko* >/dev/null; then
			# REGRESSION (fixed): install_remove() unlinks kernel-K-A before the module
			# files; killed in between, the files stay and nothing removes them.
			regression "remove: $MD/hello.ko left behind after a kill and a repeated remove (rc $rc)"
		fi
		fully_installed "$op" twoko
		;;
	boot | boot-build)
		dk boot -k "$K" >"$T/repair.out" 2>&1 || fail "$op: repair boot failed: $(cat "$T/repair.out")"
		fully_installed "$op" hello twoko
		if ! "$DKMS_AGENT" initramfs has "$ROOT/$IMG" "$MD/hello.ko" "$ROOT/$MD/hello.ko" >/dev/null 2>&1; then
			# REGRESSION (fixed): killed after the install but before the append, the
			# next boot takes the fast path and never refreshes the initramfs.
			regression "$op: after kill ($crash_rc) + boot the initramfs still holds the old hello.ko"
		fi
		left=$(find "$ROOT/boot" -name '*.dkms-tmp*' -o -name '*.dkms-append')
		[ -z "$left" ] || fail "$op: left behind after a kill and a boot: $left"
		;;
	append)
		"$DKMS_AGENT" initramfs append "$ROOT/$IMG" "$T/payload:/usr/lib/payload" >"$T/repair.out" 2>&1 ||
			fail "append: repeating it failed: $(cat "$T/repair.out")"
		left=$(find "$ROOT/boot" -name '*.dkms-tmp*' -o -name '*.dkms-append')
		[ -z "$left" ] || fail "append: left behind after a kill and a repeated append: $left"
		"$DKMS_AGENT" initramfs has "$ROOT/$IMG" /usr/lib/payload "$T/payload" >/dev/null ||
			fail "append: the payload is not in the image after repeating the append"
		;;
	esac
}

# An uninstall cut short after its first file, laid out by hand (a kill
# lands there only now and then): the kernel-K-A link is already renamed to
# its marker, so status says "built"; the next uninstall, remove or install
# finishes or redoes the work and drops the marker.
L=var/lib/dkms/twoko/kernel-$K-$A
M=var/lib/dkms/twoko/.kernel-$K-$A.uninstalling
cut_short() { # MODULE: the state a kill after the first unlink leaves
	reset_root tpl-installed
	mv "$ROOT/var/lib/dkms/$1/kernel-$K-$A" "$ROOT/var/lib/dkms/$1/.kernel-$K-$A.uninstalling"
	rm "$ROOT/$MD/${MODS[$1]%% *}.ko"
	invariants "cut-short-$1"
}
cut_short twoko
[ "$(dk status twoko)" = "twoko/2.1, $K, $A: built" ] || fail "cut short: status: $(dk status twoko)"
dk uninstall twoko/2.1 -k "$K" >"$T/out" 2>&1 || fail "cut short: uninstall failed: $(cat "$T/out")"
[ ! -e "$ROOT/$MD/beta.ko" ] || fail "cut short: uninstall left beta.ko behind"
[ ! -L "$ROOT/$M" ] || fail "cut short: uninstall left the marker"
cut_short twoko
dk autoinstall -k "$K" >"$T/out" 2>&1 || fail "cut short: autoinstall failed: $(cat "$T/out")"
fully_installed cut-short-autoinstall hello twoko
if [ -L "$ROOT/$M" ] || [ ! -L "$ROOT/$L" ]; then
	fail "cut short: after install: $(ls -a "$ROOT/var/lib/dkms/twoko")"
fi
cut_short hello
rc=0
dk remove hello/1.0 --all >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "cut short: remove exited $rc: $(cat "$T/out")"
[ ! -e "$ROOT/var/lib/dkms/hello" ] || fail "cut short: remove left $(ls -a "$ROOT/var/lib/dkms/hello")"
! first "$ROOT/$MD"/hello.ko* >/dev/null || fail "cut short: remove left hello.ko"
ok "an uninstall cut short reads as built, and the next uninstall, install or remove finishes it"

# Durations of the uninterrupted operations (each must also succeed).
# The fast ones are timed three times (the shortest counts): a first run is
# slower (cold caches).
for op in install autoinstall uninstall remove boot append autoinstall-build boot-build; do
	DUR[$op]=0
	for ((i = 0; i < 3; i++)); do
		reset_root "$(op_tpl "$op")"
		t0=$(now_us)
		run_op "$op"
		t0=$(($(now_us) - t0))
		[ "$crash_rc" -eq 0 ] || fail "$op without a kill exited $crash_rc: $(cat "$T/crash.out")"
		case $op in *-build) invariants "build-$op" ;; *) invariants "$op-uninterrupted" ;; esac
		[ "${DUR[$op]}" -gt 0 ] && [ "${DUR[$op]}" -le "$t0" ] || DUR[$op]=$t0
		case $op in *-build) break ;; esac
	done
	echo "duration of $op: $((DUR[$op] / 1000)) ms"
done
[ ${#bugs[@]} -eq 0 ] || fail "uninterrupted operations: ${bugs[*]}"

# Trials per operation: the fast ones many times, the builds a few.
NTRIALS=([install]=22 [autoinstall]=20 [uninstall]=20 [remove]=20 [boot]=22 [append]=20
	[autoinstall-build]=3 [boot-build]=2)
for op in install autoinstall uninstall remove boot append autoinstall-build boot-build; do
	n=$((NTRIALS[$op] * SCALE))
	KILLED[$op]=0
	for ((i = 0; i < n; i++)); do
		reset_root "$(op_tpl "$op")"
		# Spread over the operation's duration and a little past it.
		d=$(rand_below $((DUR[$op] * 11 / 10 + 1)))
		run_op "$op" "$d"
		[ "$crash_rc" -eq 0 ] || KILLED[$op]=$((KILLED[$op] + 1))
		w=$op
		case $op in *-build) w=build-$op ;; esac
		invariants "$w"
		repair_and_verify "$op"
	done
	echo "trials of $op: $n ($((KILLED[$op])) killed before completion)"
done

total=0
for op in "${!NTRIALS[@]}"; do total=$((total + NTRIALS[$op] * SCALE)); done
echo "$total trials in $(($(date +%s) - START)) s, $orphans_seen kill(s) left processes behind"
if [ ${#bugs[@]} -gt 0 ]; then
	printf '%s\n' "${bugs[@]}" | sort | uniq -c >&2
	fail "${#bugs[@]} known-bug assertion(s) failed"
fi
ok "crash consistency"
