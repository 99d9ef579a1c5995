#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A stand-in for mkinitcpio (not packaged in Debian) that runs install hooks
# through the hook API documented in mkinitcpio(8), so our hook can be tested
# here. It implements the functions and variables a hook may use:
#
#   KERNELVERSION BUILDROOT
#   add_module NAME[?]       the module and its dependencies, found by modinfo
#                            in the kernel's module dir; a trailing '?' makes
#                            a missing module no error
#   add_checked_modules [-f FILTER] PATH...
#                            every module under kernel/PATH (autodetection is
#                            off: no filtering by the running system)
#   add_binary SRC [DEST]    a program (searched on PATH if SRC has no '/')
#                            plus, for a dynamic ELF, the libraries ldd names
#   add_file SRC [DEST [MODE]]   add_dir DIR [MODE]   add_symlink NAME [TARGET]
#   add_full_dir DIR [GLOB [STRIP_PREFIX]]
#   add_runscript [NAME]     hooks/NAME (default: the calling install hook's
#                            name) as /hooks/NAME
#   map FUNC ARG...          FUNC on each ARG; fails if any call failed
#   msg msg2 warning plain   messages; error: a message that counts as a build
#                            error, as mkinitcpio counts them
#
# The image tree starts with mkinitcpio's merged-/usr layout (bin, sbin, lib,
# lib64 and usr/sbin are symlinks), and depmod runs on it when modules were
# added. No cpio archive is made: the tree in BUILDROOT is the result.
#
# Usage: mkinitcpio-harness.sh -k KVER -b BUILDROOT -D HOOKDIR[:HOOKDIR...]
#                              [-r MODULEROOT] HOOK...
#        mkinitcpio-harness.sh -D HOOKDIR -H HOOK        (print a hook's help)
# HOOKDIR holds install/HOOK and hooks/HOOK. Exits 1 if any error was counted.
set -u
shopt -s nullglob

KERNELVERSION=
BUILDROOT=
_h_root=
_h_dirs=
_h_help=
_builderrors=0
declare -A _h_added_modules=() _h_runhooks=()

# The message functions take a printf format, as in mkinitcpio.
# shellcheck disable=SC2059
plain() { local f=$1; shift; printf "    $f\n" "$@" >&2; }
# shellcheck disable=SC2059
msg() { local f=$1; shift; printf "==> $f\n" "$@" >&2; }
# shellcheck disable=SC2059
msg2() { local f=$1; shift; printf "  -> $f\n" "$@" >&2; }
# shellcheck disable=SC2059
warning() { local f=$1; shift; printf "==> WARNING: $f\n" "$@" >&2; }
error() {
	local f=$1
	shift
	# shellcheck disable=SC2059
	printf "==> ERROR: $f\n" "$@" >&2
	_builderrors=$((_builderrors + 1))
	return 1
}

map() {
	local fn=$1 arg failed=0
	shift
	for arg in "$@"; do
		"$fn" "$arg" || failed=$((failed + 1))
	done
	return "$failed"
}

add_dir() {
	local dir=$1 mode=${2:-755}
	[[ $dir == /* ]] || { error "add_dir: not an absolute path: '%s'" "$dir"; return 1; }
	[[ -d $BUILDROOT$dir ]] && return 0
	mkdir -p -- "$BUILDROOT$dir" && chmod "$mode" -- "$BUILDROOT$dir"
}

add_symlink() {
	local name=$1 target=${2:-}
	if [[ -z $target ]]; then
		target=$(readlink -- "$name") || { error "add_symlink: not a symlink: '%s'" "$name"; return 1; }
	fi
	add_dir "${name%/*}"
	ln -sfn -- "$target" "$BUILDROOT$name"
}

add_file() {
	local src=$1 dest=${2:-$1} mode=${3:-}
	[[ -f $src ]] || { error "file not found: '%s'" "$src"; return 1; }
	[[ $dest == */ ]] && dest=$dest${src##*/}
	add_dir "${dest%/*}"
	cp -- "$src" "$BUILDROOT$dest" || { error "failed to copy '%s'" "$src"; return 1; }
	[[ -z $mode ]] || chmod "$mode" -- "$BUILDROOT$dest"
}

add_binary() {
	local src=$1 dest=${2:-} lib
	if [[ $src != */* ]]; then
		src=$(type -P -- "$src") || { error "binary not found: '%s'" "$1"; return 1; }
	fi
	[[ -f $src ]] || { error "binary not found: '%s'" "$src"; return 1; }
	add_file "$src" "${dest:-$src}" 755 || return 1
	# Only dynamic ELF programs have libraries to bring; a script or a
	# static program is fine as it is.
	LC_ALL=C file -bL -- "$src" | grep -q 'dynamically linked' || return 0
	while read -r lib; do
		[[ -n $lib ]] || continue
		add_file "$lib" "$lib" 755 || return 1
	done < <(ldd -- "$src" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
}

add_full_dir() {
	local dir=$1 glob=${2:-*} strip=${3:-} f rel
	[[ -d $dir ]] || { error "directory not found: '%s'" "$dir"; return 1; }
	for f in "$dir"/*; do
		rel=${f#"$strip"}
		# shellcheck disable=SC2053 # GLOB is a pattern
		if [[ -L $f ]]; then
			add_symlink "$rel" "$(readlink -- "$f")"
		elif [[ -d $f ]]; then
			add_dir "$rel"
			add_full_dir "$f" "$glob" "$strip"
		elif [[ ${f##*/} == $glob ]]; then
			add_file "$f" "$rel"
		fi
	done
}

# _h_modinfo FIELD MODULE: one field of the module, from the target kernel.
_h_modinfo() {
	# kmod's tools are in /usr/bin on Arch, on mkinitcpio's PATH; the hooks
	# themselves keep the PATH they were given.
	PATH=$PATH:/usr/sbin:/sbin modinfo ${_h_root:+-b "$_h_root"} -k "$KERNELVERSION" -F "$1" -- "$2" 2>/dev/null
}

add_module() {
	local name=$1 optional=0 path rel dep
	if [[ $name == *\? ]]; then
		optional=1
		name=${name%\?}
	fi
	name=${name%%.ko*}
	name=${name//-/_}
	[[ -n ${_h_added_modules[$name]:-} ]] && return 0
	path=$(_h_modinfo filename "$name" | head -n1)
	if [[ -z $path || $path == '(builtin)' ]]; then
		[[ $path == '(builtin)' || $optional -eq 1 ]] && return 0
		error "module not found: '%s'" "$name"
		return 1
	fi
	_h_added_modules[$name]=1
	rel=${path#"$_h_root"}
	rel=${rel#/usr}
	rel=${rel#/lib/modules/"$KERNELVERSION"/}
	add_file "$path" "/usr/lib/modules/$KERNELVERSION/$rel" 644 || return 1
	for dep in $(_h_modinfo depends "$name" | tr ',' ' '); do
		add_module "$dep" || return 1
	done
}

add_checked_modules() {
	local filter='' p f found=0
	if [[ ${1:-} == -f ]]; then
		filter=$2
		shift 2
	fi
	local kdir=$_h_root/lib/modules/$KERNELVERSION/kernel
	for p in "$@"; do
		p=${p#/}
		while IFS= read -r f; do
			f=${f##*/}
			f=${f%%.ko*}
			[[ -n $filter ]] && grep -Eq -- "$filter" <<<"$f" && continue
			add_module "$f?" && found=$((found + 1))
		done < <(find "$kdir/$p" -name '*.ko*' 2>/dev/null | LC_ALL=C sort)
	done
	((found > 0))
}

add_runscript() {
	local name=${1:-${_h_current_hook:-}} d
	local IFS=:
	for d in $_h_dirs; do
		if [[ -f $d/hooks/$name ]]; then
			add_file "$d/hooks/$name" "/hooks/$name" 755 || return 1
			_h_runhooks[$name]=1
			return 0
		fi
	done
	error "runtime hook not found: '%s'" "$name"
}

_h_find_install() {
	local d
	local IFS=:
	for d in $_h_dirs; do
		[[ -f $d/install/$1 ]] && { printf '%s\n' "$d/install/$1"; return 0; }
	done
	return 1
}

_h_init_buildroot() {
	local d
	mkdir -p "$BUILDROOT"/usr/{bin,lib} "$BUILDROOT"/{dev,proc,sys,run,tmp,etc,new_root,hooks}
	for d in bin sbin; do ln -sfn usr/bin "$BUILDROOT/$d"; done
	for d in lib lib64; do ln -sfn usr/lib "$BUILDROOT/$d"; done
	ln -sfn bin "$BUILDROOT/usr/sbin"
	ln -sfn lib "$BUILDROOT/usr/lib64"
}

while getopts 'k:b:D:r:H:' opt; do
	case $opt in
	k) KERNELVERSION=$OPTARG ;;
	b) BUILDROOT=$OPTARG ;;
	D) _h_dirs=$OPTARG ;;
	r) _h_root=${OPTARG%/} ;;
	H) _h_help=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ -n $_h_dirs ]] || { echo "usage: see the head of $0" >&2; exit 2; }

if [[ -n $_h_help ]]; then
	f=$(_h_find_install "$_h_help") || { echo "no hook '$_h_help'" >&2; exit 1; }
	# shellcheck source=/dev/null
	. "$f"
	declare -F help >/dev/null || { echo "hook '$_h_help' has no help()" >&2; exit 1; }
	help
	exit
fi
[[ -n $KERNELVERSION && -n $BUILDROOT && $# -gt 0 ]] || { echo "usage: see the head of $0" >&2; exit 2; }
_h_init_buildroot

for _h_current_hook in "$@"; do
	f=$(_h_find_install "$_h_current_hook") || { error "hook not found: '%s'" "$_h_current_hook"; continue; }
	unset -f build help
	# shellcheck source=/dev/null
	. "$f"
	declare -F build >/dev/null || { error "hook '%s' has no build()" "$_h_current_hook"; continue; }
	msg2 "Running build hook: [%s]" "$_h_current_hook"
	build
done

if ((${#_h_added_modules[@]} > 0)); then
	# mkinitcpio's own depmod: on Arch it is in /usr/bin, on its PATH.
	PATH=$PATH:/usr/sbin:/sbin depmod -b "$BUILDROOT" "$KERNELVERSION" || error "depmod failed"
fi
printf 'HOOKS="%s"\n' "${!_h_runhooks[*]}" >"$BUILDROOT/config"
if ((_builderrors > 0)); then
	warning "errors were encountered during the build: %d" "$_builderrors"
	exit 1
fi
msg "Image tree complete: %s" "$BUILDROOT"
