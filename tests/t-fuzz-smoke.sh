#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The libFuzzer targets of tests/fuzz/, briefly: builds them with clang into
# build-fuzz/ (make fuzz-build), replays every input of tests/fuzz/regressions/
# (past findings, which must stay fixed), then fuzzes each target for
# FUZZ_SMOKE_SECONDS (10) seconds, all targets at once. `make fuzz` is the long
# run. Skipped when clang or its libFuzzer runtime is not installed.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v clang >/dev/null || skip "clang is not installed"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$T/probe.c"
clang -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" >"$T/probe.log" 2>&1 ||
	{ cat "$T/probe.log"; skip "clang cannot link libFuzzer (libclang-rt-14-dev missing?)"; }

start=$(date +%s)
make -s -C "$TOP" -j"$(nproc)" fuzz-build >"$T/build.log" 2>&1 || { tail -n 40 "$T/build.log"; fail "make fuzz-build failed"; }
echo "built the fuzz targets in $(($(date +%s) - start)) s"

targets=()
for f in "$TOP"/tests/fuzz/fuzz-*.c; do
	n=${f##*/fuzz-}
	n=${n%.c}
	[ "$n" = util ] || targets+=("$n")
done
[ ${#targets[@]} -gt 0 ] || fail "no fuzz targets found"
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-10} FUZZ_JOBS=${#targets[@]} SEEDS_DRACUT=0 FUZZ_CORPUS=$T/corpus \
	FUZZ_LOGS=$T/logs \
	"$TOP/tests/fuzz/run" "${targets[@]}" | tee "$T/run.log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	for f in "$T"/logs/*.log; do
		grep -qE 'ERROR|runtime error|check failed' "$f" || continue
		echo "== $f"
		grep -A 30 -E 'ERROR|runtime error|check failed' "$f" | head -n 40
	done
	fail "a fuzz target failed (artifacts in $TOP/build-fuzz/artifacts)"
fi
ok "${#targets[@]} fuzz targets: $(tail -n1 "$T/run.log")"
