#!/bin/bash
# Every dkms.conf of the corpus, read by the reference tool and by
# `dkms-agent conf` under several kernels/arches (and against the installed
# Debian kernel's real headers, whose .config packages test): the outputs must
# be identical, and the native parser must serve at least 90% of the files.
# The corpus and the tool live in ../shared beside the project.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
CORPUS=${CONF_CORPUS:-$SHARED/corpus/dkms-conf}
REF=${CONF_REFERENCE:-$SHARED/tools/dkms-conf-reference}
[ -d "$CORPUS" ] || skip "no corpus at $CORPUS"
[ -x "$REF" ] || skip "no reference tool at $REF"
[ -x "$DKMS_AGENT" ] || skip "no $DKMS_AGENT"

# Argument sets: the reference's defaults, another kernel/arch with an
# explicit source dir, explicit module/version and -j, and the host's kernel
# with its real source dir (CONFIG_ tests see real values).
configs=(
	""
	"-k 6.12.9+bpo-arm64 -a aarch64 -s /usr/src/linux-headers-6.12.9+bpo-arm64"
	"-k 5.10.0-30-686-pae -a i686 -m othermod -v 9.9 -j 3"
)
# The host's kernel is tried on the files that look at the kernel's tree
# (its .config, a command, a test); for the others only the paths differ,
# which the second set already covers.
real_kernel=""
if K=$(host_kver); then
	real_kernel="-k $K -a x86_64 -s /usr/src/linux-headers-$K"
	configs+=("$real_kernel")
else
	echo "no Debian kernel headers: the real source dir is not tried"
fi

total=0 same=0 native=0 bash=0 diffs=0
for f in "$CORPUS"/*; do
	b=${f##*/}
	case $b in INDEX* | SUMMARY.md) continue ;; esac
	[ -f "$f" ] || continue
	total=$((total + 1))
	# <module>-<version>/dkms.conf, the module named after the repository.
	m=$(printf '%s' "$b" | awk -F__ '{print $2}' | tr -c 'A-Za-z0-9_\n' '_')
	d=$T/$total/${m:-mod}-1.2.3
	mkdir -p "$d"
	cp "$f" "$d/dkms.conf"
	ok_all=1
	for i in "${!configs[@]}"; do
		if [ -n "$real_kernel" ] && [ "${configs[$i]}" = "$real_kernel" ] &&
			! grep -qE 'CONFIG_|\.config|kernel_config|\$\(|`|\[|test |if ' "$f"; then
			continue
		fi
		read -ra args <<<"${configs[$i]}"
		rc_ref=0 rc_agent=0
		"$REF" "${args[@]}" "$d/dkms.conf" >"$T/ref.out" 2>/dev/null || rc_ref=$?
		"$DKMS_AGENT" conf --explain "${args[@]}" "$d/dkms.conf" >"$T/agent.out" 2>"$T/agent.err" || rc_agent=$?
		if ! diff -u "$T/ref.out" "$T/agent.out" >"$T/diff" || [ "$rc_ref" -ne "$rc_agent" ]; then
			ok_all=0
			echo "DIFF $b [${configs[$i]}] (exit ref $rc_ref, agent $rc_agent)"
			head -n 20 "$T/diff"
		fi
		if [ "$i" -eq 0 ]; then
			if grep -q 'read by the native parser' "$T/agent.err"; then
				native=$((native + 1))
			else
				bash=$((bash + 1))
				echo "bash: $b: $(cat "$T/agent.err")"
			fi
		fi
	done
	if [ "$ok_all" -eq 1 ]; then same=$((same + 1)); else diffs=$((diffs + 1)); fi
done

echo "identical: $same/$total; native: $native/$total; bash: $bash/$total"
[ "$total" -gt 0 ] || fail "empty corpus"
[ "$diffs" -eq 0 ] || fail "$diffs files differ from the reference"
[ $((native * 100)) -ge $((total * 90)) ] || fail "native parser served only $native/$total (< 90%)"
ok "corpus"
