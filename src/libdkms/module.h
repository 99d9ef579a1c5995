/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A module/version in context: its tree handle and its dkms.conf read for a
 * given kernel and arch (native parser first, cached bash otherwise). */
#pragma once

#include "ctx.h"
#include "pkg.h"
#include "tree.h"

/* Fills t with the host path of ctx's dkms tree. Free t->dir. */
void module_tree(const struct dk_ctx *ctx, struct dk_tree *t);

/* Reads conf_path (NULL: <dkms_tree>/m/v/source/dkms.conf) for kver/arch.
 * Returns 0, -EINVAL with *ret_error (names file and directive), or -errno
 * (file unreadable; *ret_error set too). */
int module_load(const struct dk_ctx *ctx, const char *m, const char *v, const char *conf_path,
		const char *kver, const char *arch, struct dk_pkg **ret, char **ret_error);

/* "KVER" or "KVER/ARCH" split into its parts, defaulting arch from ctx. */
void module_split_kernel(const struct dk_ctx *ctx, const char *spec, char **ret_kver,
			 char **ret_arch);

static inline void pkg_freep(struct dk_pkg **p)
{
	pkg_free(*p);
}
