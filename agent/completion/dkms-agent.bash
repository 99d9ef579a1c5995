# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for dkms-agent and dkms (the same program): verbs, options,
# module names and versions (source trees and the dkms tree), installed
# kernels, all below --root DIR (or $DKMS_ROOT) when one is given.
# shellcheck shell=bash

# _dkms_agent_root: the --root given earlier on the line (as "--root DIR",
# or "--root=DIR", which readline splits at '=' into three words), else
# $DKMS_ROOT, else empty.
_dkms_agent_root() {
	local i w
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == --root=?* ]]; then
			printf '%s' "${w#--root=}"
			return
		fi
		[[ $w == --root ]] || continue
		w=${COMP_WORDS[i + 1]}
		[[ $w == = ]] && w=${COMP_WORDS[i + 2]:-}
		printf '%s' "$w"
		return
	done
	printf '%s' "${DKMS_ROOT:-}"
}

# _dkms_agent_in_root ROOT PATH: PATH below ROOT, an absolute symbolic link
# at its end read as a chroot would (an /opt/NAME tree linked from /usr/src).
_dkms_agent_in_root() {
	local p=$1$2 t
	if [[ -n $1 && -L $p ]]; then
		t=$(readlink -- "$p")
		[[ $t == /* ]] && p=$1$t
	fi
	printf '%s' "$p"
}

# _dkms_agent_conf_value FILE KEY: a plain KEY=value of a dkms.conf (read as
# data, never run), else nothing.
_dkms_agent_conf_value() {
	local line re="^[[:space:]]*$2=[\"']?([^\"'\$\`]*)[\"']?[[:space:]]*\$"
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			printf '%s' "${BASH_REMATCH[1]}"
			return
		fi
	done <"$1"
}

# _dkms_agent_sources ROOT: "NAME VERSION" of each source tree under
# /usr/src holding a dkms.conf. The names come from the dkms.conf when it
# spells them plainly and they match the directory (versions may contain
# '-'), else from splitting NAME-VERSION at its last '-'.
_dkms_agent_sources() {
	local d base conf n v
	for d in "$1"/usr/src/*; do
		[[ -e $d ]] || continue
		base=${d##*/}
		conf=$(_dkms_agent_in_root "$1" "/usr/src/$base")/dkms.conf
		[[ -f $conf ]] || continue
		n=$(_dkms_agent_conf_value "$conf" PACKAGE_NAME)
		v=$(_dkms_agent_conf_value "$conf" PACKAGE_VERSION)
		if [[ -z $n || -z $v || $n-$v != "$base" ]]; then
			n=${base%-*}
			v=${base##*-}
		fi
		printf '%s %s\n' "$n" "$v"
	done
}

# _dkms_agent_added ROOT: "NAME VERSION" of each module in the dkms tree.
_dkms_agent_added() {
	local d n
	for d in "$1"/var/lib/dkms/*/*/; do
		d=${d%/}
		n=${d%/*}
		[[ -d $d && ${d##*/} != kernel-* ]] || continue
		printf '%s %s\n' "${n##*/}" "${d##*/}"
	done
}

_dkms_agent_modvers() {
	{
		_dkms_agent_sources "$1"
		_dkms_agent_added "$1"
	} | LC_ALL=C sort -u
}

_dkms_agent_modules() {
	local n v
	while read -r n v; do
		printf '%s\n' "$n"
	done < <(_dkms_agent_modvers "$1") | LC_ALL=C sort -u
}

_dkms_agent_versions() {
	local n v
	while read -r n v; do
		[[ $n == "$2" ]] && printf '%s\n' "$v"
	done < <(_dkms_agent_modvers "$1")
}

# NAME/VERSION pairs, the positional form of the module verbs.
_dkms_agent_pairs() {
	local n v
	while read -r n v; do
		printf '%s/%s\n' "$n" "$v"
	done < <(_dkms_agent_modvers "$1")
}

# Installed kernels: a module directory with a kernel image (Arch's
# vmlinuz, or /boot/vmlinuz-KVER), the kernel's own modules, or its
# headers. A directory holding only leftovers is no kernel.
_dkms_agent_kernels() {
	local d k
	for d in "$1"/lib/modules/*/; do
		d=${d%/}
		k=${d##*/}
		[[ -d $d ]] || continue
		if [[ -e $d/vmlinuz || -e $d/modules.order || -e $d/build || -e $1/boot/vmlinuz-$k ]]; then
			printf '%s\n' "$k"
		fi
	done
}

_dkms_agent() {
	local cur prev root verb='' i module='' words
	local verbs='add build unbuild install uninstall remove status autoinstall check boot kernel-install early-modules conf initramfs cache help'
	local opts='-m -v -k -a -q -j --all --force --no-depmod --no-initramfs --verbose --root'
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	# "--root=DIR" arrives as "--root" "=" "DIR".
	if [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == = ]]; then
		cur=''
	fi
	root=$(_dkms_agent_root)

	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--root | -m | -v | -k | -a | -j | --kernelsourcedir | --dkmstree | --sourcetree | --installtree)
			[[ ${COMP_WORDS[i]} == -m ]] && module=${COMP_WORDS[i + 1]}
			[[ ${COMP_WORDS[i + 1]:-} == = ]] && ((i++))
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
		words=$(_dkms_agent_modules "$root")
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		return ;;
	-v)
		words=$(_dkms_agent_versions "$root" "$module")
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
	cache)
		mapfile -t COMPREPLY < <(compgen -W 'list prune clear --json --max-size' -- "$cur")
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
