// SPDX-License-Identifier: GPL-2.0-or-later
#include <libkmod.h>
#include <stdio.h>

#include "kmod.h"
#include "util.h"

static void kmod_unrefp(struct kmod_ctx **c)
{
	if (*c)
		kmod_unref(*c);
}

static void kmod_module_unrefp(struct kmod_module **m)
{
	if (*m)
		kmod_module_unref(*m);
}

static struct kmod_ctx *ctx_new(const char *moddir)
{
	const char *null_config = NULL;
	/* Never read the host's modprobe.d for a foreign module directory. */
	struct kmod_ctx *c = kmod_new(moddir, moddir ? &null_config : NULL);
	if (c)
		kmod_set_log_priority(c, 0);
	return c;
}

int kmod_file_info(const char *path, const char *key, char **ret)
{
	_cleanup_(kmod_unrefp) struct kmod_ctx *c = ctx_new("/nonexistent");
	if (!c)
		return -ENOMEM;
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	int r = kmod_module_new_from_path(c, path, &mod);
	if (r < 0)
		return r;
	struct kmod_list *info = NULL, *it;
	r = kmod_module_get_info(mod, &info);
	if (r < 0)
		return r;
	char *found = NULL;
	kmod_list_foreach(it, info)
	{
		if (streq(kmod_module_info_get_key(it), key)) {
			found = xstrdup(kmod_module_info_get_value(it));
			break;
		}
	}
	kmod_module_info_free_list(info);
	if (!found)
		return -ENODATA;
	*ret = found;
	return 0;
}

int kmod_file_values(const char *path, const char *key, char ***ret)
{
	_cleanup_(kmod_unrefp) struct kmod_ctx *c = ctx_new("/nonexistent");
	if (!c)
		return -ENOMEM;
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	int r = kmod_module_new_from_path(c, path, &mod);
	if (r < 0)
		return r;
	struct kmod_list *info = NULL, *it;
	r = kmod_module_get_info(mod, &info);
	if (r < 0)
		return r;
	char **l = xcalloc(1, sizeof(char *));
	kmod_list_foreach(it, info)
	{
		if (streq(kmod_module_info_get_key(it), key))
			strv_push(&l, kmod_module_info_get_value(it));
	}
	kmod_module_info_free_list(info);
	*ret = l;
	return 0;
}

int kmod_lookup_path(const char *moddir, const char *name, char **ret)
{
	_cleanup_(kmod_unrefp) struct kmod_ctx *c = ctx_new(moddir);
	if (!c)
		return -ENOMEM;
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	int r = kmod_module_new_from_name(c, name, &mod);
	if (r < 0)
		return r;
	const char *p = kmod_module_get_path(mod);
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
	kmod_load_resources(c);
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	int r = kmod_module_new_from_name(c, name, &mod);
	if (r < 0)
		return r;
	r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL,
					    NULL);
	return r > 0 ? -EPERM : r;
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
	int r = kmod_module_new_from_lookup(c, alias, &list);
	if (r < 0)
		return r;
	char **l = xcalloc(1, sizeof(char *));
	kmod_list_foreach(it, list)
	{
		struct kmod_module *m = kmod_module_get_module(it);
		strv_push(&l, kmod_module_get_name(m));
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
	*ret = l;
	return 0;
}
