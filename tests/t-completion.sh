#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# agent/completion/dkms-agent.bash: verbs, module names and versions from the
# source trees, kernels from lib/modules, all below --root.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../agent/completion/dkms-agent.bash
. "$TOP/agent/completion/dkms-agent.bash"
R=$T/r
mkdir -p "$R/usr/src/foo-1.0" "$R/usr/src/foo-2.1" "$R/usr/src/bar-baz-0.3" "$R/usr/src/nodkms-1" \
	"$R/lib/modules/6.1.0-1-amd64" "$R/lib/modules/6.2.0-9-amd64"
for d in foo-1.0 foo-2.1 bar-baz-0.3; do : >"$R/usr/src/$d/dkms.conf"; done

# complete WORD...: the completions of the last word of "dkms-agent WORD...".
complete_line() {
	COMP_WORDS=(dkms-agent "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_dkms_agent
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' '
}
expect() {
	local want=$1 got
	shift
	got=$(complete_line "$@")
	[ "$got" = "$want" ] || fail "completing '$*': want '$want', got '$got'"
}
expect "kernel-install " --root "$R" kern
expect "boot build " --root "$R" b
expect "bar-baz foo " --root "$R" install -m ''
expect "1.0 2.1 " --root "$R" install -m foo -v ''
expect "6.1.0-1-amd64 6.2.0-9-amd64 " --root "$R" build -m foo -k ''
expect "add remove " --root "$R" kernel-install ''
expect "6.2.0-9-amd64 " --root "$R" kernel-install add 6.2
expect "bar-baz/0.3 foo/1.0 foo/2.1 " --root "$R" build ''
expect "--all-kernels " --root "$R" check --all
ok "completion of verbs, modules, versions, kernels"
