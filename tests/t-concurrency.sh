#!/bin/bash
# Concurrency: autoinstall for the kernel, install of another module, boot
# and status readers run at once, round after round. Writers serialise on the
# tree lock (<dkms_tree>/.lock), readers never wait for it and never see a
# torn state (every status line well-formed and backed by its files), and no
# install is lost at the end of a round.
# CONC_ROUNDS=N sets the number of fast rounds (default 20; 2 more rebuild).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
K=$(host_kver) || skip "no linux-headers installed"
A=$(uname -m)
command -v flock >/dev/null || skip "no flock"
MODINFO=$(command -v modinfo || echo /sbin/modinfo)
ROUNDS=${CONC_ROUNDS:-20}
MD=lib/modules/$K/updates/dkms
START=$(date +%s)
ROOT=$T/root
mk_root "$ROOT" "$K"
declare -A VER=([hello]=1.0 [twoko]=2.1 [patched]=0.3)
declare -A MODS=([hello]=hello [twoko]="alpha beta" [patched]=patched)
for m in hello twoko patched; do
	add_fixture "$ROOT" "$m" "${VER[$m]}"
	dk add "$m/${VER[$m]}" >/dev/null
	dk build "$m/${VER[$m]}" -k "$K" >/dev/null
done
LOCK=$ROOT/var/lib/dkms/.lock
# boot refreshes this initramfs by appending to it
mkdir -p "$T/img/$MD"
echo "old build" >"$T/img/$MD/hello.ko"
(cd "$T/img" && find . | cpio -o -H newc --quiet) >"$ROOT/boot/initrd.img-$K"
echo "initramfs=append" >"$ROOT/etc/dkms-agent.conf"
echo "prebuilt in $(($(date +%s) - START)) s"

first() {
	local f
	for f in "$@"; do
		[ -e "$f" ] && echo "$f" && return 0
	done
	return 1
}

# check_status OUTPUT: every line well-formed and backed by its files. Within
# a round the tree only grows (built, then installed), so what status said
# must still hold when the files are looked at.
check_status() {
	local line m v n f
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		[[ $line =~ ^([a-z]+)/([0-9.]+)(:\ added|,\ $K,\ $A:\ (built|installed))$ ]] ||
			{ echo "malformed status line: '$line'"; return 1; }
		m=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
		[ "${VER[$m]:-}" = "$v" ] || { echo "unknown module in: $line"; return 1; }
		[ -n "${BASH_REMATCH[4]}" ] || continue
		for n in ${MODS[$m]}; do
			f=$(first "$ROOT/var/lib/dkms/$m/$v/$K/$A/module/$n".ko*) ||
				{ echo "$line but no built $n"; return 1; }
			if [ "${BASH_REMATCH[4]}" = installed ]; then
				f=$(first "$ROOT/$MD/$n".ko*) || { echo "$line but no $MD/$n.ko"; return 1; }
				"$MODINFO" -F vermagic "$f" >/dev/null 2>&1 || { echo "$line but $f is torn"; return 1; }
			fi
		done
	done <<<"$1"
}

# reader: status (and now and then check) in a loop until $T/stop exists.
reader() {
	local out n=0 rc
	while [ ! -e "$T/stop" ]; do
		out=$(dk status 2>&1) || { echo "status failed: $out" >"$T/reader.fail"; return; }
		check_status "$out" >"$T/reader.msg" || { cat "$T/reader.msg" >"$T/reader.fail"; return; }
		n=$((n + 1))
		if [ $((n % 10)) -eq 0 ]; then
			rc=0
			dk check -k "$K" >/dev/null 2>&1 || rc=$?
			[ "$rc" -le 1 ] || { echo "check exited $rc" >"$T/reader.fail"; return; }
		fi
	done
	echo "$n" >>"$T/reads"
}

all_installed() {
	local what=$1 m n f
	for m in hello twoko patched; do
		[ "$(dk status "$m")" = "$m/${VER[$m]}, $K, $A: installed" ] ||
			fail "$what: lost install of $m: $(dk status "$m")"
		for n in ${MODS[$m]}; do
			f=$(first "$ROOT/$MD/$n".ko*) || fail "$what: $n.ko not installed"
			cmp -s "$f" "$ROOT/var/lib/dkms/$m/${VER[$m]}/$K/$A/module/${f##*/}" ||
				fail "$what: $f differs from the built copy"
			grep -q "updates/dkms/${f##*/}:" "$ROOT/lib/modules/$K/modules.dep" ||
				fail "$what: ${f##*/} not in modules.dep"
		done
	done
	[ -z "$(find "$ROOT" -name '*.dkms-tmp*' -o -name '.build-*' -o -name '.staging-*' -o -name '.trash-*')" ] ||
		fail "$what: leftovers: $(find "$ROOT" -name '*.dkms-tmp*' -o -name '.build-*' -o -name '.staging-*' -o -name '.trash-*')"
	"$DKMS_AGENT" initramfs list "$ROOT/boot/initrd.img-$K" >/dev/null || fail "$what: initramfs unreadable"
}

# --- The lock: writers wait for a held lock, readers do not. ---------------
all_installed_prep() {
	dk uninstall hello/1.0 -k "$K" >/dev/null
	dk uninstall twoko/2.1 -k "$K" >/dev/null
	dk uninstall patched/0.3 -k "$K" >/dev/null 2>&1 || true
}
all_installed_prep
exec {lockfd}>>"$LOCK"
flock -x "$lockfd"
dk autoinstall -k "$K" >"$T/w1" 2>&1 &
w1=$!
dk install twoko/2.1 -k "$K" >"$T/w2" 2>&1 &
w2=$!
dk boot -k "$K" >"$T/w3" 2>&1 &
w3=$!
t0=$(date +%s%N)
st=$(dk status)
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 1000 ] || fail "status waited for the tree lock ($(((t1 - t0) / 1000000)) ms)"
sleep 1
for p in $w1 $w2 $w3; do
	kill -0 "$p" 2>/dev/null || fail "a writer finished while the tree lock was held: $(cat "$T/w1" "$T/w2" "$T/w3")"
done
[ -z "$(find "$ROOT/$MD" -type f 2>/dev/null)" ] || fail "a writer installed while the tree lock was held"
[ "$(dk status)" = "$st" ] || fail "the tree changed while the lock was held: $(dk status)"
flock -u "$lockfd"
exec {lockfd}>&-
wait "$w1" || fail "autoinstall after the lock: $(cat "$T/w1")"
wait "$w2" || fail "install after the lock: $(cat "$T/w2")"
rc=0
wait "$w3" || rc=$?
[ "$rc" -eq 0 ] || fail "boot after the lock exited $rc: $(cat "$T/w3")"
all_installed "lock"
ok "writers wait for the tree lock, status does not"

# --- Rounds: 4 processes at once. -----------------------------------------
# round N [rebuild]: take modules out (and unbuild them for a rebuild round),
# then autoinstall, install twoko, boot and a status reader at once.
round() {
	local r=$1 rebuild=${2:-} m p rc
	all_installed_prep
	if [ -n "$rebuild" ]; then
		for m in hello twoko patched; do dk unbuild "$m/${VER[$m]}" -k "$K" >/dev/null; done
	fi
	rm -f "$T/stop" "$T/reader.fail"
	reader &
	local rd=$!
	dk autoinstall -k "$K" >"$T/w1" 2>&1 &
	local p1=$!
	dk install twoko/2.1 -k "$K" >"$T/w2" 2>&1 &
	local p2=$!
	dk boot -k "$K" >"$T/w3" 2>&1 &
	local p3=$!
	for p in $p1 $p2 $p3; do
		rc=0
		wait "$p" || rc=$?
		[ "$rc" -eq 0 ] || fail "round $r: a writer exited $rc: $(cat "$T/w1" "$T/w2" "$T/w3")"
	done
	touch "$T/stop"
	wait "$rd" || true
	[ ! -e "$T/reader.fail" ] || fail "round $r: reader saw a torn state: $(cat "$T/reader.fail")"
	all_installed "round $r"
}

for ((i = 1; i <= ROUNDS; i++)); do round "$i"; done
round "$((ROUNDS + 1))" rebuild
round "$((ROUNDS + 2))" rebuild
reads=$(awk '{s += $1} END {print s}' "$T/reads")
echo "$((ROUNDS + 2)) rounds (2 with rebuilds), $reads status reads, $(($(date +%s) - START)) s"
ok "concurrency"
