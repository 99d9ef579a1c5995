// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>

#include "module.h"

void module_tree(const struct dk_ctx *ctx, struct dk_tree *t)
{
	t->dir = ctx_path(ctx, ctx->dkms_tree);
}

int module_load(const struct dk_ctx *ctx, const char *m, const char *v, const char *conf_path,
		const char *kver, const char *arch, struct dk_pkg **ret, char **ret_error)
{
	_cleanup_free_ char *conf =
		conf_path ? xstrdup(conf_path) : ctx_dkms_path(ctx, m, v, "source", "dkms.conf");
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
	_cleanup_free_ char *cache = ctx_dkms_path(ctx, ".cache");
	_cleanup_free_ char *etc = ctx_path(ctx, "/etc/dkms");
	/* dkms's $parallel_jobs: -j or framework.conf, else the CPU count; -j0
	 * makes it empty. */
	_cleanup_free_ char *jobs = ctx->jobs > 0 ? xasprintf("%d", ctx->jobs) : xstrdup("");

	/* dkms reads dkms.conf with the in-root view of its trees. */
	struct dk_pkg_env env = {
		.conf = {
			.kernelver = kver,
			.arch = arch,
			.kernel_source_dir = ksrc,
			.kernel_config = kconfig,
			.dkms_tree = ctx->dkms_tree,
			.source_tree = ctx->source_tree,
			.install_tree = ctx->install_tree,
			.module = m,
			.module_version = v,
			.parallel_jobs = jobs,
			.tmp_location = ctx->tmp_location,
			.cache_dir = cache,
		},
		.etc_dkms = etc,
	};
	int r = pkg_load(conf, &env, ret, ret_error);
	if (r < 0 && ret_error && !*ret_error)
		*ret_error = xasprintf("%s: %s", conf, strerror(-r));
	return r;
}

void module_split_kernel(const struct dk_ctx *ctx, const char *spec, char **ret_kver,
			 char **ret_arch)
{
	const char *slash = strchr(spec, '/');
	if (slash) {
		*ret_kver = xstrndup(spec, slash - spec);
		*ret_arch = xstrdup(slash + 1);
	} else {
		*ret_kver = xstrdup(spec);
		*ret_arch = xstrdup(ctx_arch(ctx));
	}
}
