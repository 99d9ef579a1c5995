// SPDX-License-Identifier: GPL-2.0-or-later
#include "autoinstall.h"
#include "kbuild.h"
#include "log.h"
#include "module.h"
#include "ops.h"
#include "register.h"
#include "tree.h"

/* Queues the newest added version of every AUTOINSTALL module not yet
 * installed for kver/arch. */
static int autoinstall_collect(struct dk_ctx *ctx, const struct dk_tree *t, char **mods,
			       const char *kver, const char *arch, struct dk_job **jobs, size_t *n)
{
	int failed = 0;
	for (size_t i = 0; mods && mods[i]; i++) {
		_cleanup_strv_free_ char **vs = NULL;
		tree_list_versions(t, mods[i], &vs);
		strv_sort(vs, version_cmp);
		const char *newest = NULL;
		bool installed = false;
		for (size_t j = 0; vs && vs[j]; j++) {
			_cleanup_free_ char *why =
				startswith(vs[j], "kernel-") || streq(vs[j], "original_module")
					? NULL
					: register_broken_reason(ctx, mods[i], vs[j]);
			if (why) {
				/* dkms 3.1+ (dkms(8), status): nothing is done with a
				 * broken module/version but saying so; the module's
				 * other versions and the other modules go on, and it
				 * is not a failed install (the run exits 0). */
				log_error("%s", why);
				continue;
			}
			if (!tree_is_added(t, mods[i], vs[j]))
				continue;
			if (tree_is_installed(t, mods[i], vs[j], kver, arch))
				installed = true;
			newest = vs[j];
		}
		if (!newest || (installed && !ctx->force))
			continue;
		_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
		_cleanup_free_ char *err = NULL;
		if (module_load(ctx, mods[i], newest, NULL, kver, arch, &pkg, &err) < 0) {
			log_error("%s", err);
			failed++;
			continue;
		}
		if (!pkg->autoinstall)
			continue;
		if (ctx->skip_current_failures && kbuild_failure_is_current(ctx, pkg, kver, arch)) {
			log_info(
				"%s/%s failed to build for %s before and nothing changed since: not retried (use --force)",
				mods[i], newest, kver);
			continue;
		}
		ops_job_add(jobs, n, mods[i], newest, kver, arch);
	}
	return failed;
}

int autoinstall_kernels(struct dk_ctx *ctx, char **kernels, int *ret_installed)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	tree_list_modules(&t, &mods);
	struct dk_job *jobs = NULL;
	size_t n = 0;
	int failed = 0;
	for (size_t k = 0; kernels && kernels[k]; k++) {
		_cleanup_free_ char *kver = NULL, *arch = NULL;
		module_split_kernel(ctx, kernels[k], &kver, &arch);
		failed += autoinstall_collect(ctx, &t, mods, kver, arch, &jobs, &n);
	}
	free(t.dir);
	failed += n ? ops_run(ctx, jobs, n, OPS_INSTALL) : 0;
	int installed = 0;
	for (size_t i = 0; i < n; i++)
		installed += jobs[i].installed;
	ops_jobs_free(jobs, n);
	if (ret_installed)
		*ret_installed = installed;
	return failed;
}
