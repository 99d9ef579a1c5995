// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>

#include "agent.h"
#include "install.h"
#include "kbuild.h"
#include "kmod.h"
#include "module.h"
#include "tree.h"

const char *agent_state_name(enum agent_mod_state s)
{
	static const char *const names[] = {
		[AGENT_INSTALLED] = "installed", [AGENT_STALE] = "stale",
		[AGENT_BUILT] = "built",	 [AGENT_NOT_BUILT] = "not-built",
		[AGENT_FAILED] = "failed",	 [AGENT_EXCLUDED] = "excluded",
		[AGENT_BROKEN] = "broken",
	};
	return names[s];
}

void agent_mods_free(struct agent_mod *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].version);
		free(m[i].detail);
		strv_free(m[i].files);
		strv_free(m[i].dest_names);
	}
	free(m);
}

char *agent_module_name(const char *file)
{
	char *name = xstrdup(path_basename(file));
	name[strcspn(name, ".")] = 0;
	return name;
}

char *agent_initramfs_path(const char *kver, const char *file)
{
	return xasprintf("lib/modules/%s/updates/dkms/%s", kver, path_basename(file));
}

bool agent_file_is_early(const struct dk_ctx *ctx, const struct agent_mod *m, const char *file,
			 const char *rootfs_type)
{
	if (m->remake_initrd || strv_contains(ctx->early_modules, m->name))
		return true;
	_cleanup_free_ char *name = agent_module_name(file);
	return strv_contains(ctx->early_modules, name) || streq_ptr(name, rootfs_type);
}

bool agent_mod_needs_work(const struct agent_mod *m, bool force)
{
	switch (m->state) {
	case AGENT_BUILT:
	case AGENT_NOT_BUILT:
	case AGENT_STALE: return m->autoinstall;
	case AGENT_FAILED: return m->autoinstall && (force || !m->failure_is_current);
	default: return false;
	}
}

/* Installed module files, judged from the tree: one per built file. */
static bool installed_files(const struct dk_ctx *ctx, const struct dk_tree *t, struct agent_mod *m,
			    const char *kver, const char *arch)
{
	_cleanup_free_ char *moddir = path_join(t->dir, m->name, m->version, kver, arch, "module");
	_cleanup_strv_free_ char **built = NULL;
	dir_list(moddir, &built);
	if (strv_length(built) == 0)
		return false;
	_cleanup_free_ char *kdir = ctx_install_path(ctx, kver, "updates/dkms");
	for (size_t i = 0; built[i]; i++) {
		char *f = path_join(kdir, built[i]);
		strv_consume(&m->files, f);
		if (!path_exists(f))
			return false;
	}
	return true;
}

static void scan_one(const struct dk_ctx *ctx, const struct dk_tree *t, struct agent_mod *m,
		     const char *kver, const char *arch, bool quick)
{
	_cleanup_free_ char *inst = tree_installed_version(t, m->name, kver, arch);
	if (inst && tree_is_installed(t, m->name, inst, kver, arch)) {
		free(m->version);
		m->version = TAKE_PTR(inst);
		m->autoinstall = true;
		if (installed_files(ctx, t, m, kver, arch)) {
			m->state = AGENT_INSTALLED;
			if (quick)
				return;
		} else {
			m->state = AGENT_STALE;
			m->detail = xstrdup("an installed module file is missing");
		}
	}
	_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
	_cleanup_free_ char *src = tree_source_dir(t, m->name, m->version);
	char *err = NULL;
	if (!src)
		err = xasprintf("the source link of %s/%s is dangling", m->name, m->version);
	else if (module_load(ctx, m->name, m->version, NULL, kver, arch, &pkg, &err) >= 0)
		err = NULL;
	if (err || !pkg) {
		m->state = AGENT_BROKEN;
		free(m->detail);
		m->detail = err ? err : xstrdup("invalid dkms.conf");
		return;
	}
	m->autoinstall = pkg->autoinstall;
	m->remake_initrd = pkg->remake_initrd;
	for (size_t i = 0; i < pkg->n_modules; i++)
		strv_push(&m->dest_names, pkg->modules[i].dest_name);
	if (m->state == AGENT_INSTALLED || m->state == AGENT_STALE) {
		for (size_t i = 0; m->state == AGENT_INSTALLED && m->files && m->files[i]; i++) {
			_cleanup_free_ char *vm = NULL;
			if (kmod_file_info(m->files[i], "vermagic", &vm) < 0)
				continue;
			size_t kl = strlen(kver);
			if (strncmp(vm, kver, kl) != 0 || (vm[kl] != ' ' && vm[kl] != 0)) {
				m->state = AGENT_STALE;
				m->detail = xasprintf("%s was built for %.*s", m->files[i],
						      (int)strcspn(vm, " "), vm);
			}
		}
		return;
	}
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
	char *why = pkg_exclusion(pkg, kver, arch, kconfig);
	if (why) {
		m->state = AGENT_EXCLUDED;
		m->detail = why;
		return;
	}
	_cleanup_free_ char *base = tree_path(t, m->name, m->version, kver, arch);
	if (path_is_dir(base)) {
		m->state = AGENT_BUILT;
		return;
	}
	_cleanup_free_ char *log = kbuild_failed_log(ctx, m->name, m->version, kver, arch);
	if (path_exists(log)) {
		m->state = AGENT_FAILED;
		m->detail = TAKE_PTR(log);
		m->failure_is_current = kbuild_failure_is_current(ctx, pkg, kver, arch);
		return;
	}
	m->state = AGENT_NOT_BUILT;
}

int agent_scan(const struct dk_ctx *ctx, const char *kver, const char *arch, bool quick,
	       struct agent_mod **ret, size_t *ret_n)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	int r = tree_list_modules(&t, &mods);
	if (r < 0) {
		free(t.dir);
		return r;
	}
	struct agent_mod *l = NULL;
	size_t n = 0;
	for (size_t i = 0; mods[i]; i++) {
		_cleanup_strv_free_ char **vs = NULL;
		tree_list_versions(&t, mods[i], &vs);
		strv_sort(vs, version_cmp);
		const char *newest = NULL;
		for (size_t j = 0; vs && vs[j]; j++)
			if (tree_is_added(&t, mods[i], vs[j]))
				newest = vs[j];
		if (!newest)
			continue;
		l = xrealloc(l, (n + 1) * sizeof(*l));
		l[n] = (struct agent_mod){ .name = xstrdup(mods[i]),
					   .version = xstrdup(newest),
					   .state = AGENT_NOT_BUILT };
		scan_one(ctx, &t, &l[n], kver, arch, quick);
		n++;
	}
	free(t.dir);
	*ret = l;
	*ret_n = n;
	return 0;
}
