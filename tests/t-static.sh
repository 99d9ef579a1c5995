#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make static: a dkms-agent with no shared library at all (libkmod.a built
# from Debian's kmod source by .ci/build-libkmod-static, libblkid.a,
# libzstd.a and liblzma.a from Debian's -dev packages). `file` says
# statically linked, ldd finds nothing to load, and the program runs.
# Skipped when the normal build is missing or Debian's source package cannot
# be fetched (no deb-src reachable).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
case $O in /*) B=$O ;; *) B=$TOP/$O ;; esac
# A sanitizer build cannot be linked statically (ASan needs its shared runtime).
case $O in *-san) skip "static linking is not possible with sanitizers (SAN=1)" ;; esac
[ -x "$B/dkms-agent" ] || skip "$B/dkms-agent not built (run make)"
deps=$TOP/build/static
if [ ! -f "$deps/lib/libkmod.a" ]; then
	"$TOP/.ci/build-libkmod-static" "$deps" >"$T/libkmod.log" 2>&1 || {
		cat "$T/libkmod.log"
		if grep -qiE 'unable to find a source package|failed to fetch|could not resolve|temporary failure' "$T/libkmod.log"; then
			skip "kmod source package not available"
		fi
		fail ".ci/build-libkmod-static failed"
	}
fi
make -s -C "$TOP" O="$T/o" STATIC_DEPS="$deps" static >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "make static failed"; }
bin=$T/o/dkms-agent-static
file -b "$bin" | grep -q 'statically linked' || fail "file: $(file -b "$bin")"
if ldd "$bin" >/dev/null 2>&1; then fail "ldd lists libraries: $(ldd "$bin")"; fi
"$bin" --help >"$T/help" 2>&1 || "$bin" help >"$T/help" 2>&1 || { cat "$T/help"; fail "static program does not run"; }
grep -q 'kernel-install' "$T/help" || fail "static program's help lacks its verbs"
ok "static: $(file -b "$bin" | cut -d, -f1-4)"
