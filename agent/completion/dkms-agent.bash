# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for dkms-agent and dkms (the same program).
# shellcheck shell=bash

# _dkms_agent_root: the --root given earlier on the line, or empty.
_dkms_agent_root() {
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		if [[ ${COMP_WORDS[i]} == --root ]]; then
			printf '%s' "${COMP_WORDS[i + 1]}"
			return
		fi
		if [[ ${COMP_WORDS[i]} == --root=* ]]; then
			printf '%s' "${COMP_WORDS[i]#--root=}"
			return
		fi
	done
}

# The source trees: NAME-VERSION directories with a dkms.conf.
_dkms_agent_sources() {
	local d
	for d in "$1"/usr/src/*/dkms.conf; do
		[[ -e $d ]] || continue
		d=${d%/dkms.conf}
		printf '%s\n' "${d##*/}"
	done
}

_dkms_agent_modules() {
	local s d
	while IFS= read -r s; do
		printf '%s\n' "${s%-*}"
	done < <(_dkms_agent_sources "$1")
	for d in "$1"/var/lib/dkms/*/; do
		d=${d%/}
		[[ -d $d ]] && printf '%s\n' "${d##*/}"
	done
}

_dkms_agent_versions() {
	local s d
	while IFS= read -r s; do
		[[ ${s%-*} == "$2" ]] && printf '%s\n' "${s##*-}"
	done < <(_dkms_agent_sources "$1")
	for d in "$1/var/lib/dkms/$2"/*/; do
		d=${d%/}
		[[ -d $d && ${d##*/} != kernel-* ]] && printf '%s\n' "${d##*/}"
	done
}

_dkms_agent_kernels() {
	local d
	for d in "$1"/lib/modules/*/; do
		d=${d%/}
		[[ -d $d ]] && printf '%s\n' "${d##*/}"
	done
}

# NAME/VERSION pairs, the positional form of the module verbs.
_dkms_agent_pairs() {
	local s
	while IFS= read -r s; do
		printf '%s\n' "${s%-*}/${s##*-}"
	done < <(_dkms_agent_sources "$1")
}

_dkms_agent() {
	local cur prev root verb='' i module='' words
	local verbs='add build unbuild install uninstall remove status autoinstall check boot kernel-install early-modules conf initramfs help'
	local opts='-m -v -k -a -q -j --all --force --no-depmod --no-initramfs --verbose --root'
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	root=$(_dkms_agent_root)

	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--root | -m | -v | -k | -a | -j | --kernelsourcedir | --dkmstree | --sourcetree | --installtree)
			[[ ${COMP_WORDS[i]} == -m ]] && module=${COMP_WORDS[i + 1]}
			((i++)) ;;
		-*) ;;
		*) [[ -z $verb ]] && verb=${COMP_WORDS[i]} ;;
		esac
	done

	case $prev in
	--root | --dkmstree | --sourcetree | --installtree | --kernelsourcedir)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return ;;
	-m)
		words=$(_dkms_agent_modules "$root" | sort -u)
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		return ;;
	-v)
		words=$(_dkms_agent_versions "$root" "$module" | sort -u)
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		return ;;
	-k)
		words=$(_dkms_agent_kernels "$root")
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		return ;;
	-a | -j)
		return ;;
	esac

	if [[ -z $verb ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W '--root --help -V' -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
		fi
		return
	fi

	case $verb in
	kernel-install)
		local nargs=0
		for ((i = 1; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == kernel-install ]] && nargs=$((COMP_CWORD - i - 1))
		done
		case $nargs in
		0) mapfile -t COMPREPLY < <(compgen -W 'add remove' -- "$cur") ;;
		1) mapfile -t COMPREPLY < <(compgen -W "$(_dkms_agent_kernels "$root")" -- "$cur") ;;
		*) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
		esac
		return ;;
	check)
		mapfile -t COMPREPLY < <(compgen -W '-k --all-kernels --json --root' -- "$cur")
		return ;;
	boot | early-modules | autoinstall)
		mapfile -t COMPREPLY < <(compgen -W '-k --all -q --no-initramfs' -- "$cur")
		return ;;
	add)
		if [[ $cur == */* || $cur == .* ]]; then
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
			return
		fi ;;
	help | status | conf | initramfs) ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -W "$(_dkms_agent_pairs "$root")" -- "$cur")
	fi
}

complete -F _dkms_agent dkms-agent dkms
