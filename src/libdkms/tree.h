/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dkms state tree, laid out exactly as dkms 3.x lays it out:
 *   <dkms_tree>/<m>/<v>/source                 -> /usr/src/<m>-<v>   (added)
 *   <dkms_tree>/<m>/<v>/<kver>/<arch>/module/   built modules          (built)
 *   <dkms_tree>/<m>/<v>/<kver>/<arch>/log/make.log
 *   <dkms_tree>/<m>/kernel-<kver>-<arch>       -> <v>/<kver>/<arch>   (installed)
 * Only reads and plain path arithmetic; paths given here are host paths
 * (root prefix included). */
#pragma once

#include <stdbool.h>
#include "util.h"

struct dk_tree {
	char *dir; /* host path of the dkms tree */
};

/* Module names (directories holding at least one version), sorted as bash globs sort. */
int tree_list_modules(const struct dk_tree *t, char ***ret);
/* Versions of module m that are directories, sorted as bash globs sort. */
int tree_list_versions(const struct dk_tree *t, const char *m, char ***ret);
/* "kver/arch" directories under m/v (kver starting with digits and a dot, as dkms globs). */
int tree_list_kernel_dirs(const struct dk_tree *t, const char *m, const char *v, char ***ret);

/* m/v has a source link or directory. */
bool tree_is_added(const struct dk_tree *t, const char *m, const char *v);
/* The kernel-<kver>-<arch> link of m names m/v/kver/arch ("v/kver/arch", as
 * dkms writes it, or a path ending in "/m/v/kver/arch") and that exists. */
bool tree_is_installed(const struct dk_tree *t, const char *m, const char *v, const char *kver,
		       const char *arch);
/* Version that kernel-<kver>-<arch> of m points to, or NULL. */
char *tree_installed_version(const struct dk_tree *t, const char *m, const char *kver,
			     const char *arch);

/* Host path of the built module file for dest name in dir, trying .ko and
 * the compressed suffixes, or NULL. */
char *tree_find_module_file(const char *dir, const char *name);

char *tree_path(const struct dk_tree *t, const char *m, const char *v, const char *kver,
		const char *arch);
char *tree_link_path(const struct dk_tree *t, const char *m, const char *kver, const char *arch);

/* Sort order of bash pathname expansion in the current locale. */
int tree_collate(const char *a, const char *b);
