// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tree.h"

int tree_collate(const char *a, const char *b)
{
	int r = strcoll(a, b);
	return r ? r : strcmp(a, b);
}

static int list_dirs(const char *p, char ***ret)
{
	_cleanup_strv_free_ char **all = NULL;
	int r = dir_list(p, &all);
	if (r < 0)
		return r;
	char **l = xcalloc(1, sizeof(char *));
	for (size_t i = 0; all[i]; i++) {
		if (all[i][0] == '.')
			continue;
		_cleanup_free_ char *c = path_join(p, all[i]);
		struct stat st;
		if (stat(c, &st) == 0 && S_ISDIR(st.st_mode))
			strv_push(&l, all[i]);
	}
	strv_sort(l, tree_collate);
	*ret = l;
	return 0;
}

int tree_list_modules(const struct dk_tree *t, char ***ret)
{
	return list_dirs(t->dir, ret);
}

int tree_list_versions(const struct dk_tree *t, const char *m, char ***ret)
{
	_cleanup_free_ char *p = path_join(t->dir, m);
	return list_dirs(p, ret);
}

/* dkms globs kernel directories as +([0-9]).* */
static bool is_kernel_dir_name(const char *s)
{
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s))
		s++;
	return *s == '.';
}

int tree_list_kernel_dirs(const struct dk_tree *t, const char *m, const char *v, char ***ret)
{
	_cleanup_free_ char *p = path_join(t->dir, m, v);
	_cleanup_strv_free_ char **ks = NULL;
	int r = list_dirs(p, &ks);
	if (r < 0)
		return r;
	char **l = xcalloc(1, sizeof(char *));
	for (size_t i = 0; ks[i]; i++) {
		if (!is_kernel_dir_name(ks[i]))
			continue;
		_cleanup_free_ char *kp = path_join(p, ks[i]);
		_cleanup_strv_free_ char **as = NULL;
		if (list_dirs(kp, &as) < 0)
			continue;
		for (size_t j = 0; as[j]; j++)
			strv_consume(&l, xasprintf("%s/%s", ks[i], as[j]));
	}
	*ret = l;
	return 0;
}

bool tree_is_added(const struct dk_tree *t, const char *m, const char *v)
{
	_cleanup_free_ char *p = path_join(t->dir, m, v, "source");
	struct stat st;
	if (lstat(p, &st) < 0)
		return false;
	return S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode);
}

char *tree_path(const struct dk_tree *t, const char *m, const char *v, const char *kver,
		const char *arch)
{
	return path_join(t->dir, m, v, kver, arch);
}

char *tree_link_path(const struct dk_tree *t, const char *m, const char *kver, const char *arch)
{
	_cleanup_free_ char *n = xasprintf("kernel-%s-%s", kver, arch);
	return path_join(t->dir, m, n);
}

bool tree_is_installed(const struct dk_tree *t, const char *m, const char *v, const char *kver,
		       const char *arch)
{
	/* By the link's text, as a chroot would read it (an absolute link
	 * names a path in the root): never followed on the host. */
	_cleanup_free_ char *link = tree_link_path(t, m, kver, arch);
	_cleanup_free_ char *target = NULL;
	if (readlink_malloc(link, &target) < 0)
		return false;
	_cleanup_free_ char *rel = xasprintf("%s/%s/%s", v, kver, arch);
	_cleanup_free_ char *abs = xasprintf("/%s/%s", m, rel);
	if (!streq(target, rel) && !endswith(target, abs))
		return false;
	_cleanup_free_ char *d = tree_path(t, m, v, kver, arch);
	return path_is_dir(d);
}

char *tree_installed_version(const struct dk_tree *t, const char *m, const char *kver,
			     const char *arch)
{
	_cleanup_free_ char *link = tree_link_path(t, m, kver, arch);
	_cleanup_free_ char *target = NULL;
	if (readlink_malloc(link, &target) < 0)
		return NULL;
	/* dkms writes "<v>/<kver>/<arch>"; accept absolute targets too. */
	_cleanup_free_ char *suffix = xasprintf("/%s/%s", kver, arch);
	if (!endswith(target, suffix))
		return NULL;
	target[strlen(target) - strlen(suffix)] = 0;
	return xstrdup(path_basename(target));
}

char *tree_find_module_file(const char *dir, const char *name)
{
	static const char *const suffixes[] = { ".ko", ".ko.zst", ".ko.xz", ".ko.gz" };
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		char *p = xasprintf("%s/%s%s", dir, name, suffixes[i]);
		if (path_exists(p))
			return p;
		free(p);
	}
	return NULL;
}
