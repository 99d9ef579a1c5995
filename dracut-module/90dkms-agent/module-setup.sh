#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# kernel, moddir, initdir and the inst*/instmods/dwarn functions come from dracut.
# shellcheck disable=SC2154
#
# dracut module "dkms-agent": makes sure the DKMS modules are built for the
# kernel the image is made for, puts the DKMS modules needed in early boot
# into it, and adds a pre-pivot check that reports on the kernel log any DKMS
# module missing for the running kernel on the real root.
#
# DKMS_ROOT (another root; dracut's --sysroot is used otherwise) and
# DKMS_AGENT (the program) are for tests and image builders.
# DKMS_AGENT_NESTED is set by dkms-agent when it runs dracut itself: the
# modules are then already being built, by our caller.

# _dkms_agent_program: the agent to run and to put into the image; the static
# build when installed, since the image needs no libraries for it then.
_dkms_agent_program() {
	local p
	for p in ${DKMS_AGENT:+"$DKMS_AGENT"} /usr/lib/dkms-agent/dkms-agent-static /usr/sbin/dkms-agent /usr/bin/dkms-agent; do
		if [[ -x $p ]]; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}

# _dkms_agent CMD...: the agent, on the right root.
_dkms_agent() {
	local agent root=${DKMS_ROOT:-${dracutsysrootdir:-}}
	agent=$(_dkms_agent_program) || return 1
	if [[ -n $root ]]; then
		"$agent" --root "$root" "$@"
	else
		"$agent" "$@"
	fi
}

# Include whenever the agent is installed: images must carry the early DKMS
# modules even when nobody asked for this module by name.
check() {
	_dkms_agent_program >/dev/null || return 1
	return 0
}

depends() {
	return 0
}

installkernel() {
	local mod
	local -a early=()

	if [[ -z ${DKMS_AGENT_NESTED:-} ]]; then
		_dkms_agent kernel-install add "$kernel" ||
			dwarn "dkms-agent: some DKMS modules could not be built for $kernel"
	fi
	while IFS= read -r mod; do
		[[ -n $mod ]] || continue
		mod=${mod##*/}
		early+=("${mod%%.ko*}")
	done < <(_dkms_agent early-modules -k "$kernel")
	((${#early[@]})) || return 0
	# Not -o: a missing early module is an error, an image without the root
	# file system's driver does not boot. hostonly='': in a host-only image
	# dracut keeps only modules loaded right now, and an early module built a
	# moment ago for a new kernel is not loaded yet.
	hostonly='' instmods "${early[@]}"
}

install() {
	local agent
	agent=$(_dkms_agent_program) || return 1
	inst_binary "$agent" /usr/bin/dkms-agent
	# After 50 (mount-usr), so that a separate /usr is mounted under $NEWROOT.
	inst_hook pre-pivot 90 "$moddir/dkms-agent-check.sh"
}
