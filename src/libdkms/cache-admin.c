// SPDX-License-Identifier: GPL-2.0-or-later
/* The build cache as a whole: listing, the size bound, clearing, and
 * filling it from built states that came from elsewhere (ldtarball). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "cache-internal.h"
#include "module.h"
#include "tree.h"

#define STALE_TMP_SEC 3600

int cache_fill(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
	       const char *arch)
{
	_cleanup_(cache_freep) struct dk_cache *c = NULL;
	_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
	_cleanup_free_ char *err = NULL, *inputs = NULL;
	char key[SHA256_HEX_SIZE];
	int r = cache_open(ctx, &c);
	if (r < 0)
		return r;
	if (!c->writable)
		return -EROFS;
	r = module_load(ctx, m, v, NULL, kver, arch, &pkg, &err);
	if (r >= 0)
		r = cache_key(c, pkg, kver, arch, key, &inputs);
	if (r >= 0)
		r = cache_store(c, key, inputs, pkg, kver, arch);
	if (r >= 0)
		cache_prune(c, ctx->cache_max_size, NULL);
	return r;
}

int cache_fill_all(const struct dk_ctx *ctx, const char *m, const char *v)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **ks = NULL;
	tree_list_kernel_dirs(&t, m, v, &ks);
	free(t.dir);
	int n = 0;
	for (size_t i = 0; ks && ks[i]; i++) {
		_cleanup_free_ char *kver = xstrdup(ks[i]);
		char *arch = strchr(kver, '/');
		if (!arch)
			continue;
		*arch++ = 0;
		n += cache_fill(ctx, m, v, kver, arch) >= 0;
	}
	return n;
}

/* ---- list, prune, clear ------------------------------------------------ */

static int list_at(int dfd, const char *name, char ***ret)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		*ret = NULL;
		return r == -ENOENT || r == -ENOTDIR ? 0 : r;
	}
	char **l = NULL;
	for (struct dirent *de; (de = readdir(d));)
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(&l, de->d_name);
	closedir(d);
	strv_sort(l, strcmp);
	*ret = l;
	return 0;
}

void cache_entries_free(struct cache_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].module);
		free(e[i].version);
		free(e[i].kver);
		free(e[i].arch);
	}
	free(e);
}

static void entry_info(struct dk_cache *c, const char *key, struct cache_entry *e)
{
	*e = (struct cache_entry){ 0 };
	memcpy(e->key, key, SHA256_HEX_SIZE);
	_cleanup_free_ char *name = entry_name(key);
	_cleanup_close_ int efd =
		openat(c->dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct manifest m = { 0 };
	if (efd < 0 || manifest_read(efd, &m) < 0)
		return;
	struct stat st;
	if (fstatat(efd, "manifest", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		e->used = st.st_mtim.tv_sec;
		e->used_nsec = st.st_mtim.tv_nsec;
	}
	for (size_t i = 0; i < m.n_files; i++)
		e->size += m.files[i].size;
	e->created = m.created;
	e->module = TAKE_PTR(m.module);
	e->version = TAKE_PTR(m.version);
	e->kver = TAKE_PTR(m.kver);
	e->arch = TAKE_PTR(m.arch);
	manifest_done(&m);
}

static int cmp_used(const void *a, const void *b)
{
	const struct cache_entry *x = a, *y = b;
	if (x->used != y->used)
		return x->used < y->used ? -1 : 1;
	if (x->used_nsec != y->used_nsec)
		return x->used_nsec < y->used_nsec ? -1 : 1;
	return strcmp(x->key, y->key);
}

int cache_list(struct dk_cache *c, struct cache_entry **ret, size_t *ret_n)
{
	_cleanup_strv_free_ char **top = NULL;
	int r = list_at(c->dir_fd, ".", &top);
	if (r < 0)
		return r;
	struct cache_entry *e = NULL;
	size_t n = 0;
	for (size_t i = 0; top && top[i]; i++) {
		if (strlen(top[i]) != 2)
			continue;
		_cleanup_strv_free_ char **keys = NULL;
		list_at(c->dir_fd, top[i], &keys);
		for (size_t k = 0; keys && keys[k]; k++) {
			if (!is_key(keys[k]) || strncmp(keys[k], top[i], 2) != 0)
				continue;
			e = xrealloc(e, (n + 1) * sizeof(*e));
			entry_info(c, keys[k], &e[n++]);
		}
	}
	if (n)
		qsort(e, n, sizeof(*e), cmp_used);
	*ret = e;
	*ret_n = n;
	return 0;
}

/* Temporaries of runs that died: older than an hour. */
static void prune_tmp(struct dk_cache *c)
{
	_cleanup_strv_free_ char **l = NULL;
	_cleanup_close_ int tfd =
		openat(c->dir_fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0 || list_at(tfd, ".", &l) < 0)
		return;
	time_t now = time(NULL);
	for (size_t i = 0; l && l[i]; i++) {
		struct stat st;
		if (fstatat(tfd, l[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime > STALE_TMP_SEC) {
			_cleanup_free_ char *rel = path_join("tmp", l[i]);
			remove_rel(c, rel);
		}
	}
}

int cache_prune(struct dk_cache *c, uint64_t max_bytes, uint64_t *ret_freed)
{
	if (!c->writable)
		return -EROFS;
	prune_tmp(c);
	struct cache_entry *e;
	size_t n;
	int r = cache_list(c, &e, &n);
	if (r < 0)
		return r;
	uint64_t total = 0, freed = 0;
	int removed = 0;
	for (size_t i = 0; i < n; i++)
		total += e[i].size;
	for (size_t i = 0; i < n; i++) {
		/* Unreadable ones first, whatever the size; then the oldest. */
		if (e[i].module && total <= max_bytes)
			continue;
		if (entry_remove(c, e[i].key) < 0)
			continue;
		removed++;
		freed += e[i].size;
		total -= e[i].size;
	}
	cache_entries_free(e, n);
	if (ret_freed)
		*ret_freed = freed;
	return removed;
}

int cache_clear(struct dk_cache *c)
{
	if (!c->writable)
		return -EROFS;
	struct cache_entry *e;
	size_t n;
	int r = cache_list(c, &e, &n);
	if (r < 0)
		return r;
	int removed = 0;
	for (size_t i = 0; i < n; i++)
		if (entry_remove(c, e[i].key) >= 0)
			removed++;
	cache_entries_free(e, n);
	prune_tmp(c);
	return removed;
}
