// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms status: the same lines, in the same order, as dkms 3.x. Reads the
 * tree and dkms.conf natively; no process is started. */
#include <stdio.h>
#include <sys/stat.h>

#include "cmd-dkms.h"
#include "install.h"
#include "log.h"
#include "module.h"
#include "register.h"
#include "tree.h"

/* The suffixes dkms appends after built/installed. */
static void print_extra(struct dk_ctx *ctx, const struct dk_tree *t, const char *m, const char *v,
			const char *k, const char *a, const struct dk_pkg *pkg, bool installed)
{
	_cleanup_free_ char *orig = path_join(t->dir, m, "original_module", k, a);
	if (path_is_dir(orig))
		fputs(" (original_module exists)", stdout);
	_cleanup_free_ char *moddir = path_join(t->dir, m, v, k, a, "module");
	for (size_t i = 0; pkg && i < pkg->n_modules; i++) {
		_cleanup_free_ char *built =
			tree_find_module_file(moddir, pkg->modules[i].dest_name);
		if (!built) {
			fputs(" (WARNING! Missing some built modules!)", stdout);
			continue;
		}
		if (!installed)
			continue;
		_cleanup_free_ char *loc = install_dest_location(ctx, pkg, i);
		_cleanup_free_ char *dir = ctx_install_path(ctx, k, loc);
		_cleanup_free_ char *inst = tree_find_module_file(dir, pkg->modules[i].dest_name);
		if (inst && !files_equal(built, inst))
			fputs(" (WARNING! Diff between built and installed module!)", stdout);
	}
}

static bool kernel_selected(struct dk_ctx *ctx, const char *k, const char *a)
{
	if (!ctx->kernels)
		return !ctx->arch || streq(ctx->arch, a);
	for (size_t i = 0; ctx->kernels[i]; i++) {
		_cleanup_free_ char *kk = NULL, *aa = NULL;
		module_split_kernel(ctx, ctx->kernels[i], &kk, &aa);
		if (streq(kk, k) &&
		    (!strchr(ctx->kernels[i], '/') && !ctx->arch ? true : streq(aa, a)))
			return true;
	}
	return false;
}

static void status_version(struct dk_ctx *ctx, const struct dk_tree *t, const char *m,
			   const char *v)
{
	_cleanup_strv_free_ char **kds = NULL;
	tree_list_kernel_dirs(t, m, v, &kds);
	bool any = false;
	for (size_t i = 0; kds && kds[i]; i++) {
		_cleanup_free_ char *k = xstrndup(kds[i], strchr(kds[i], '/') - kds[i]);
		const char *a = strchr(kds[i], '/') + 1;
		if (!kernel_selected(ctx, k, a))
			continue;
		_cleanup_free_ char *moddir = path_join(t->dir, m, v, k, a, "module");
		if (!path_is_dir(moddir))
			continue;
		_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
		_cleanup_free_ char *err = NULL;
		if (module_load_lenient(ctx, m, v, NULL, k, a, &pkg, &err) < 0) {
			log_warning("%s", err);
			continue;
		}
		/* dkms counts a version as built only when every module file is there. */
		bool complete = true;
		for (size_t j = 0; j < pkg->n_modules; j++) {
			_cleanup_free_ char *f =
				tree_find_module_file(moddir, pkg->modules[j].dest_name);
			complete = complete && f;
		}
		if (!complete)
			continue;
		any = true;
		bool installed = tree_is_installed(t, m, v, k, a);
		printf("%s/%s, %s, %s: %s", m, v, k, a, installed ? "installed" : "built");
		print_extra(ctx, t, m, v, k, a, pkg, installed);
		putchar('\n');
	}
	if (!any)
		printf("%s/%s: added\n", m, v);
}

/* A version directory whose source is gone: dkms 3.1+ shows it as broken
 * and leaves it alone (no silent re-creation). */
static bool show_broken(struct dk_ctx *ctx, const char *m, const char *v)
{
	if (startswith(v, "kernel-") || streq(v, "original_module") ||
	    !register_is_broken(ctx, m, v))
		return false;
	printf("%s/%s: broken\n", m, v);
	fflush(stdout);
	log_error(
		"%s/%s: Missing the module source directory or the symbolic link pointing to it.\n"
		"Manual intervention is required!",
		m, v);
	return true;
}

int cmd_status(struct dk_ctx *ctx, int argc, char **argv)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	tree_list_modules(&t, &mods);
	for (size_t i = 0; mods && mods[i]; i++) {
		if (ctx->module && !streq(ctx->module, mods[i]))
			continue;
		_cleanup_strv_free_ char **vs = NULL;
		tree_list_versions(&t, mods[i], &vs);
		for (size_t j = 0; vs && vs[j]; j++) {
			if (ctx->version && !streq(ctx->version, vs[j]))
				continue;
			if (show_broken(ctx, mods[i], vs[j]))
				continue;
			if (!tree_is_added(&t, mods[i], vs[j]))
				continue;
			status_version(ctx, &t, mods[i], vs[j]);
		}
	}
	free(t.dir);
	fflush(stdout);
	return 0;
}
