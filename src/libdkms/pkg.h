/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A DKMS package as dkms 3.x understands it after read_conf: dkms.conf plus
 * the /etc/dkms/<m>[-<v>[-<kver>[-<arch>]]].conf overrides, defaults applied,
 * validated. */
#pragma once

#include <stdbool.h>
#include "conf.h"

struct dk_built_module {
	char *built_name;     /* BUILT_MODULE_NAME[i], without .ko */
	char *built_location; /* BUILT_MODULE_LOCATION[i], relative to the build dir, "" or ends in / */
	char *dest_name;      /* DEST_MODULE_NAME[i] (default: built_name) */
	char *dest_location; /* DEST_MODULE_LOCATION[i] as written (install places under updates/dkms) */
	bool strip;	     /* STRIP[i] (default yes) */
};

struct dk_pkg {
	char *name;    /* PACKAGE_NAME */
	char *version; /* PACKAGE_VERSION */
	char *conf_path;
	struct dk_built_module *modules;
	size_t n_modules;
	char *make_command;   /* MAKE[0] or MAKE_MATCH-selected, raw (shell) */
	bool make_is_default; /* no MAKE given: use dkms's default */
	char *clean_command; /* CLEAN or NULL (then no clean step: the build dir is a fresh copy) */
	char **patches;	     /* PATCH[i] whose PATCH_MATCH matches kver */
	char *pre_build, *post_build, *pre_install, *post_install, *post_add, *post_remove;
	bool autoinstall;
	char **build_depends;
	char *build_exclusive_kernel, *build_exclusive_arch;
	char **build_exclusive_config;
	char *build_exclusive_kernel_min, *build_exclusive_kernel_max;
	char *obsolete_by;	    /* OBSOLETE_BY: a kernel version, or NULL */
	bool no_weak_modules;	    /* accepted; Debian has no weak-updates */
	bool build_depends_rebuild; /* rebuild when a BUILD_DEPENDS module changes version */
	bool remake_initrd;	    /* deprecated, accepted: its modules count as early modules */
	bool used_bash;
	char **warnings;   /* "Deprecated feature: REMAKE_INITRD (<file>)", ... */
	char **bash_said;  /* bash's stderr while sourcing: "FILE: line N: message" */
	char **conf_files; /* dkms.conf, then the /etc/dkms overrides that applied */
};

/* One problem found reading a package, for a clear message. */
struct dk_pkg_error {
	char *file;
	char *message;
	int exit_code; /* dkms's: 8 bad conf */
};

struct dk_pkg_env {
	struct dk_conf_env conf; /* kernelver/arch may be NULL-free defaults */
	const char *etc_dkms;	 /* host path of <root>/etc/dkms for overrides, or NULL */
	bool lenient;		 /* dkms's read_conf, not read_conf_strict: duplicates allowed
		       * (uninstall, unbuild, remove, status of a bad package) */
	const char *extra_conf;	 /* sourced last, after the overrides (dkms --directive), or NULL */
};

/* Reads and validates conf_path for (kver, arch). Returns 0, or -EINVAL with
 * *ret_error set (message names the file and the directive), or -errno when
 * the file cannot be read. */
int pkg_load(const char *conf_path, const struct dk_pkg_env *env, struct dk_pkg **ret,
	     char **ret_error);
void pkg_free(struct dk_pkg *p);
/* Why the package is excluded for this kernel/arch (BUILD_EXCLUSIVE_*), a
 * message, or NULL when it may build. kernel_config is a host path. */
char *pkg_exclusion(const struct dk_pkg *p, const char *kver, const char *arch,
		    const char *kernel_config);
