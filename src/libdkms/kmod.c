// SPDX-License-Identifier: GPL-2.0-or-later
/* libkmod is loaded with dlopen() on first use, as systemd does for its
 * optional libraries: libkmod pulls in libcrypto, whose relocation alone
 * costs more than the whole boot fast path, which never needs libkmod. A
 * static build (-DDK_KMOD_DIRECT) calls it directly. */
#include <dlfcn.h>
#include <libkmod.h>
#include <stdio.h>

#include "kmod.h"
#include "util.h"

#ifdef DK_KMOD_DIRECT
#define K(fn) fn
static int kmod_dl(void)
{
	return 0;
}
#else
#define K(fn) kmod_sym.fn
#define SYMBOLS(X)                                                                                 \
	X(kmod_new)                                                                                \
	X(kmod_unref)                                                                              \
	X(kmod_set_log_priority)                                                                   \
	X(kmod_load_resources)                                                                     \
	X(kmod_list_next)                                                                          \
	X(kmod_module_new_from_path)                                                               \
	X(kmod_module_new_from_name)                                                               \
	X(kmod_module_new_from_lookup)                                                             \
	X(kmod_module_unref)                                                                       \
	X(kmod_module_unref_list)                                                                  \
	X(kmod_module_get_module)                                                                  \
	X(kmod_module_get_name)                                                                    \
	X(kmod_module_get_path)                                                                    \
	X(kmod_module_get_info)                                                                    \
	X(kmod_module_info_get_key)                                                                \
	X(kmod_module_info_get_value)                                                              \
	X(kmod_module_info_free_list)                                                              \
	X(kmod_module_probe_insert_module)                                                         \
	X(kmod_module_insert_module)                                                               \
	X(kmod_module_get_options)

static struct {
#define DECLARE(f) typeof(f) *f;
	SYMBOLS(DECLARE)
} kmod_sym;

/* Loads libkmod once; -EOPNOTSUPP when it is not installed. */
static int kmod_dl(void)
{
	static int state = 1;
	if (state <= 0)
		return state;
	void *h = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h)
		return state = -EOPNOTSUPP;
#define RESOLVE(f)                                                                                 \
	if (!(kmod_sym.f = (typeof(f) *)dlsym(h, #f)))                                             \
		return state = -EOPNOTSUPP;
	SYMBOLS(RESOLVE)
	return state = 0;
}
#endif

static void kmod_unrefp(struct kmod_ctx **c)
{
	if (*c)
		K(kmod_unref)(*c);
}

static void kmod_module_unrefp(struct kmod_module **m)
{
	if (*m)
		K(kmod_module_unref)(*m);
}

static struct kmod_ctx *ctx_new(const char *moddir)
{
	if (kmod_dl() < 0)
		return NULL;
	const char *null_config = NULL;
	/* Never read the host's modprobe.d for a foreign module directory. */
	struct kmod_ctx *c = K(kmod_new)(moddir, moddir ? &null_config : NULL);
	if (c)
		K(kmod_set_log_priority)(c, 0);
	return c;
}

int kmod_file_values(const char *path, const char *key, char ***ret)
{
	_cleanup_(kmod_unrefp) struct kmod_ctx *c = ctx_new("/nonexistent");
	if (!c)
		return -ENOMEM;
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	int r = K(kmod_module_new_from_path)(c, path, &mod);
	if (r < 0)
		return r;
	struct kmod_list *info = NULL, *it;
	r = K(kmod_module_get_info)(mod, &info);
	if (r < 0)
		return r;
	char **l = xcalloc(1, sizeof(char *));
	for (it = info; it; it = K(kmod_list_next)(info, it)) {
		if (streq(K(kmod_module_info_get_key)(it), key))
			strv_push(&l, K(kmod_module_info_get_value)(it));
	}
	K(kmod_module_info_free_list)(info);
	*ret = l;
	return 0;
}

int kmod_file_info(const char *path, const char *key, char **ret)
{
	_cleanup_strv_free_ char **l = NULL;
	int r = kmod_file_values(path, key, &l);
	if (r < 0)
		return r;
	if (!l[0])
		return -ENODATA;
	*ret = xstrdup(l[0]);
	return 0;
}

int kmod_lookup_path(const char *moddir, const char *name, char **ret)
{
	_cleanup_(kmod_unrefp) struct kmod_ctx *c = ctx_new(moddir);
	if (!c)
		return -ENOMEM;
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	int r = K(kmod_module_new_from_name)(c, name, &mod);
	if (r < 0)
		return r;
	const char *p = K(kmod_module_get_path)(mod);
	if (!p)
		return -ENOENT;
	*ret = xstrdup(p);
	return 0;
}

int kmod_load(const char *name)
{
	_cleanup_(kmod_unrefp) struct kmod_ctx *c = ctx_new(NULL);
	if (!c)
		return -ENOMEM;
	K(kmod_load_resources)(c);
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	int r = K(kmod_module_new_from_name)(c, name, &mod);
	if (r < 0)
		return r;
	r = K(kmod_module_probe_insert_module)(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL,
					       NULL);
	return r > 0 ? -EPERM : r;
}

/* "foo-bar" of /x/foo-bar.ko.zst, with '-' as '_' as the kernel names it. */
static char *file_module_name(const char *path)
{
	const char *b = strrchr(path, '/');
	char *n = xstrdup(b ? b + 1 : path);
	char *ko = strstr(n, ".ko");
	if (ko)
		*ko = 0;
	for (char *s = n; *s; s++)
		if (*s == '-')
			*s = '_';
	return n;
}

static int load_file(const char *path, char *const *batch, unsigned depth)
{
	if (depth > 8)
		return -ELOOP;
	_cleanup_strv_free_ char **depends = NULL;
	int r = kmod_file_values(path, "depends", &depends);
	if (r < 0)
		return r;
	for (size_t i = 0; depends[i]; i++) {
		_cleanup_strv_free_ char **names = strv_split(depends[i], ",");
		for (size_t k = 0; names && names[k]; k++) {
			if (isempty(names[k]) || kmod_is_loaded(names[k]))
				continue;
			_cleanup_free_ char *want = file_module_name(names[k]);
			const char *from = NULL;
			for (size_t b = 0; batch && batch[b] && !from; b++) {
				_cleanup_free_ char *n = file_module_name(batch[b]);
				if (streq(n, want))
					from = batch[b];
			}
			r = from ? load_file(from, batch, depth + 1) : kmod_load(names[k]);
			if (r < 0)
				return r;
		}
	}
	_cleanup_(kmod_unrefp) struct kmod_ctx *c = ctx_new(NULL);
	if (!c)
		return -ENOMEM;
	K(kmod_load_resources)(c);
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	r = K(kmod_module_new_from_path)(c, path, &mod);
	if (r < 0)
		return r;
	r = K(kmod_module_insert_module)(mod, 0, K(kmod_module_get_options)(mod));
	return r == -EEXIST ? 0 : r;
}

int kmod_load_file(const char *path, char *const *batch)
{
	return load_file(path, batch, 0);
}

bool kmod_is_loaded(const char *name)
{
	_cleanup_free_ char *n = xstrdup(name);
	for (char *s = n; *s; s++)
		if (*s == '-')
			*s = '_';
	_cleanup_free_ char *p = path_join("/sys/module", n);
	return path_is_dir(p);
}

int kmod_alias_modules(const char *moddir, const char *alias, char ***ret)
{
	_cleanup_(kmod_unrefp) struct kmod_ctx *c = ctx_new(moddir);
	if (!c)
		return -ENOMEM;
	struct kmod_list *list = NULL, *it;
	int r = K(kmod_module_new_from_lookup)(c, alias, &list);
	if (r < 0)
		return r;
	char **l = xcalloc(1, sizeof(char *));
	for (it = list; it; it = K(kmod_list_next)(list, it)) {
		struct kmod_module *m = K(kmod_module_get_module)(it);
		strv_push(&l, K(kmod_module_get_name)(m));
		K(kmod_module_unref)(m);
	}
	K(kmod_module_unref_list)(list);
	*ret = l;
	return 0;
}
