// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms mktarball and ldtarball: arguments as dkms takes them; the archive
 * work is tarball.c's. */
#include <stdio.h>

#include "cache.h"
#include "cmd-dkms.h"
#include "lock.h"
#include "log.h"
#include "ops.h"
#include "register.h"
#include "tarball.h"

int cmd_mktarball(struct dk_ctx *ctx, int argc, char **argv)
{
	int r = dkms_need_module_version(ctx, "mktarball");
	if (r)
		return r;
	if ((r = dkms_not_broken(ctx)))
		return r;
	_cleanup_free_ char *vdir = ctx_source_dir(ctx, ctx->module, ctx->version);
	if (!path_exists(vdir))
		return log_error("The module/version combo: %s-%s is not located in the DKMS tree.",
				 ctx->module, ctx->version),
		       3;
	_cleanup_strv_free_ char **kernels = ctx->kernels ? ops_kernels(ctx) : NULL;
	if (!kernels && !ctx->source_only)
		kernels = dkms_target_kernels(ctx);
	struct tarball_opts o = { .source_only = ctx->source_only,
				  .binaries_only = ctx->binaries_only,
				  .archive = ctx->archive };
	_cleanup_free_ char *path = NULL, *err = NULL;
	r = tarball_make(ctx, ctx->module, ctx->version, kernels, &o, &path, &err);
	if (r)
		return log_error("%s", strempty(err)), r;
	printf("Tarball location: %s\n", path);
	return 0;
}

int cmd_ldtarball(struct dk_ctx *ctx, int argc, char **argv)
{
	if (!ctx->archive) {
		/* A name that is no file was read as M[/V]; dkms says 2 too. */
		_cleanup_free_ char *what =
			ctx->module ? xasprintf("%s%s%s", ctx->module, ctx->version ? "/" : "",
						strempty(ctx->version))
				    : xstrdup("The tarball");
		log_error("%s does not exist.\nUsage: ldtarball --archive=<tarball-location>\n"
			  "   or: ldtarball <tarball-location>",
			  what);
		return 2;
	}
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	struct tarball_opts o = { .force = ctx->force, .archive = ctx->archive };
	_cleanup_free_ char *m = NULL, *v = NULL, *err = NULL, *link = NULL;
	bool bin = false;
	int r = tarball_load(ctx, &o, &m, &v, &bin, &err);
	if (r)
		return log_error("%s", strempty(err)), r;
	printf("Loading tarball for %s-%s\n", m, v);
	if (bin) {
		printf("Loaded the binaries-only tarball of %s/%s (no source: it cannot be rebuilt).\n",
		       m, v);
		return 0;
	}
	r = register_add(ctx, m, v, &link, &err);
	if (r == 3 && ctx->force)
		return 0;
	if (r)
		return log_error("%s", strempty(err)), r;
	printf("Creating symlink %s -> %s/%s-%s\n", link, ctx->source_tree, m, v);
	/* The source came with its built modules: a later rebuild of it for
	 * those kernels restores them from the build cache. */
	cache_fill_all(ctx, m, v);
	return 0;
}
