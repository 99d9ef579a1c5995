/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A module/version in context: its tree handle and its dkms.conf read for a
 * given kernel and arch (native parser first, cached bash otherwise). */
#pragma once

#include "ctx.h"
#include "exitcode.h"
#include "pkg.h"
#include "tree.h"

/* Fills t with the host path of ctx's dkms tree. Free t->dir. */
void module_tree(const struct dk_ctx *ctx, struct dk_tree *t);

/* Reads conf_path (NULL: <dkms_tree>/m/v/source/dkms.conf) for kver/arch.
 * As root, the source directory, the dkms.conf and the directories above
 * them are checked first (trust.h) and nothing is read from a source another
 * user can change: -EPERM, *ret_error naming the path and who can write it.
 * Returns 0, -EINVAL with *ret_error (names file and directive), or -errno
 * (file unreadable; *ret_error set too). */
int module_load(const struct dk_ctx *ctx, const char *m, const char *v, const char *conf_path,
		const char *kver, const char *arch, struct dk_pkg **ret, char **ret_error);
/* The same with dkms's read_conf instead of read_conf_strict (duplicate
 * module names allowed): for uninstall, unbuild, remove and status, which
 * dkms lets a package with such a dkms.conf go through. */
int module_load_lenient(const struct dk_ctx *ctx, const char *m, const char *v,
			const char *conf_path, const char *kver, const char *arch,
			struct dk_pkg **ret, char **ret_error);
/* dkms's exit code for a module_load failure: 8 bad dkms.conf, or ours for
 * an untrusted source. */
int module_load_exit_code(int r);

/* "KVER" or "KVER/ARCH" split into its parts, defaulting arch from ctx. */
void module_split_kernel(const struct dk_ctx *ctx, const char *spec, char **ret_kver,
			 char **ret_arch);

static inline void pkg_freep(struct dk_pkg **p)
{
	pkg_free(*p);
}
