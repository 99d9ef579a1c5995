// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <sys/utsname.h>

#include "cmd-dkms.h"
#include "install.h"
#include "kbuild.h"
#include "lock.h"
#include "log.h"
#include "module.h"
#include "autoinstall.h"
#include "ops.h"
#include "script.h"
#include "spawn.h"
#include "tree.h"
#include "validate.h"

/* Module and version from "m/v" or -m/-v; with only -m, the single added version. */
static int resolve_mv(struct dk_ctx *ctx, int argc, char **argv, bool need_version)
{
	if (argc > 0 && strchr(argv[0], '/') && argv[0][0] != '/' && argv[0][0] != '.') {
		const char *s = strchr(argv[0], '/');
		free(ctx->module);
		free(ctx->version);
		ctx->module = xstrndup(argv[0], s - argv[0]);
		ctx->version = xstrdup(s + 1);
	} else if (argc > 0 && !ctx->module) {
		ctx->module = xstrdup(argv[0]);
	}
	if (!ctx->module) {
		log_error(
			"Invalid number of arguments passed. Name a module as MODULE/VERSION or with -m MODULE -v VERSION.");
		return 1;
	}
	_cleanup_free_ char *bad = NULL;
	if (validate_args(ctx->module, ctx->version, NULL, NULL, &bad) < 0) {
		log_error("%s", bad);
		return 2;
	}
	if (ctx->version || !need_version)
		return 0;
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **vs = NULL;
	tree_list_versions(&t, ctx->module, &vs);
	free(t.dir);
	if (strv_length(vs) == 1) {
		ctx->version = xstrdup(vs[0]);
		return 0;
	}
	log_error("Invalid number of arguments passed: the version of %s is needed (-v VERSION).",
		  ctx->module);
	return 1;
}

/* "../" up from <dkms_tree>/m/v to the root, then the source tree. */
static char *relative_source(const struct dk_ctx *ctx, const char *name)
{
	_cleanup_strv_free_ char **parts = strv_split(ctx->dkms_tree, "/");
	size_t up = strv_length(parts) + 2;
	char *r = xstrdup("");
	for (size_t i = 0; i < up; i++) {
		char *n = xasprintf("%s../", r);
		free(r);
		r = n;
	}
	char *full = xasprintf("%s%s/%s", r, ctx->source_tree + 1, name);
	free(r);
	return full;
}

static int add_one(struct dk_ctx *ctx, bool explicit)
{
	const char *m = ctx->module, *v = ctx->version;
	struct dk_tree t;
	module_tree(ctx, &t);
	bool added = tree_is_added(&t, m, v);
	free(t.dir);
	if (added) {
		if (explicit) {
			log_error(
				"DKMS tree already contains: %s/%s. You cannot add the same module/version combo more than once.",
				m, v);
			return 3;
		}
		return 0;
	}
	_cleanup_free_ char *name = xasprintf("%s-%s", m, v);
	_cleanup_free_ char *src = ctx_source_path(ctx, name);
	_cleanup_free_ char *conf = path_join(src, "dkms.conf");
	if (!path_is_dir(src))
		return log_error("Could not find module source directory %s.", src), 2;
	if (!path_is_reg(conf))
		return log_error("Could not locate dkms.conf file: %s does not exist.", conf), 4;

	struct utsname u;
	uname(&u);
	_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
	_cleanup_free_ char *err = NULL;
	int l = module_load(ctx, m, v, conf, u.release, ctx_arch(ctx), &pkg, &err);
	if (l == -EPERM)
		return log_error("%s", err), DK_EXIT_UNTRUSTED;
	if (l < 0)
		return log_error("Bad conf file: %s", err), DK_EXIT_BAD_CONF;

	_cleanup_free_ char *vdir = ctx_dkms_path(ctx, m, v);
	_cleanup_free_ char *link = path_join(vdir, "source");
	int r = mkdir_p(vdir, 0755);
	if (r < 0)
		return log_error_errno(r, "Cannot create %s: %m", vdir), 1;
	/* Relative, so the tree reads the same inside and outside --root. */
	_cleanup_free_ char *target = relative_source(ctx, name);
	r = symlink_atomic(target, link);
	if (r < 0)
		return log_error_errno(r, "Cannot create %s: %m", link), 1;
	log_info("Creating symlink %s -> %s", link, target);
	/* dkms add exits with POST_ADD's status (its last step). */
	r = script_run_source(ctx, pkg, "post_add", pkg->post_add, NULL, -1);
	return r < 0 ? 1 : r;
}

/* dkms add: m/v, -m/-v, or a source directory holding dkms.conf. */
int cmd_add(struct dk_ctx *ctx, int argc, char **argv)
{
	if (argc > 0 && (argv[0][0] == '/' || argv[0][0] == '.')) {
		_cleanup_free_ char *conf = path_join(argv[0], "dkms.conf");
		struct utsname u;
		uname(&u);
		_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
		_cleanup_free_ char *err = NULL;
		if (!path_is_reg(conf))
			return log_error("Could not locate dkms.conf file: %s does not exist.",
					 conf),
			       4;
		int l = module_load(ctx, NULL, NULL, conf, u.release, ctx_arch(ctx), &pkg, &err);
		if (l == -EPERM)
			return log_error("%s", err), DK_EXIT_UNTRUSTED;
		if (l < 0)
			return log_error("Bad conf file: %s", err), DK_EXIT_BAD_CONF;
		_cleanup_free_ char *name = xasprintf("%s-%s", pkg->name, pkg->version);
		_cleanup_free_ char *dst = ctx_source_path(ctx, name);
		if (!path_exists(dst)) {
			char *cp[] = { "cp", "-a", "--", argv[0], dst, NULL };
			if (spawn_wait(cp, NULL) != 0)
				return log_error("Failed to copy %s to %s", argv[0], dst), 1;
		}
		ctx->module = xstrdup(pkg->name);
		ctx->version = xstrdup(pkg->version);
	} else {
		int r = resolve_mv(ctx, argc, argv, false);
		if (r)
			return r;
		if (!ctx->version)
			return log_error(
				       "Invalid number of arguments passed: -v VERSION is needed."),
			       1;
	}
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	return add_one(ctx, true);
}

static int require_added(struct dk_ctx *ctx)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	bool added = tree_is_added(&t, ctx->module, ctx->version);
	free(t.dir);
	if (added)
		return 0;
	log_error("The module/version combo: %s-%s is not located in the DKMS tree.", ctx->module,
		  ctx->version);
	return 3;
}

/* build and install share this: add if needed, build, maybe install. */
static int build_or_install(struct dk_ctx *ctx, int argc, char **argv, bool install)
{
	int r = resolve_mv(ctx, argc, argv, true);
	if (r)
		return r;
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	r = add_one(ctx, false);
	if (r)
		return r;
	_cleanup_strv_free_ char **kernels = ops_kernels(ctx);
	struct dk_job *jobs = NULL;
	size_t n = 0;
	struct dk_tree t;
	module_tree(ctx, &t);
	for (size_t i = 0; kernels[i]; i++) {
		_cleanup_free_ char *k = NULL, *a = NULL;
		module_split_kernel(ctx, kernels[i], &k, &a);
		_cleanup_free_ char *base = tree_path(&t, ctx->module, ctx->version, k, a);
		bool done = install ? tree_is_installed(&t, ctx->module, ctx->version, k, a)
				    : path_is_dir(base);
		if (done && !ctx->force) {
			log_info(
				"Module %s/%s already %s %s (%s), skip. You may override by specifying --force.",
				ctx->module, ctx->version,
				install ? "installed on kernel" : "built for kernel", k, a);
			continue;
		}
		ops_job_add(&jobs, &n, ctx->module, ctx->version, k, a);
	}
	free(t.dir);
	ops_run(ctx, jobs, n,
		(install ? OPS_INSTALL : 0) | (ctx->force && !install ? OPS_REBUILD : 0));
	int code = 0;
	for (size_t i = 0; i < n && !code; i++)
		code = jobs[i].code;
	ops_jobs_free(jobs, n);
	return code;
}

int cmd_build(struct dk_ctx *ctx, int argc, char **argv)
{
	return build_or_install(ctx, argc, argv, false);
}

int cmd_install(struct dk_ctx *ctx, int argc, char **argv)
{
	return build_or_install(ctx, argc, argv, true);
}

/* Uninstalls (and with unbuild, unbuilds) m/v for the given kernels. */
static int undo(struct dk_ctx *ctx, char **kernels, bool unbuild)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **depmod = NULL;
	int code = 0;
	for (size_t i = 0; kernels && kernels[i]; i++) {
		_cleanup_free_ char *k = NULL, *a = NULL;
		module_split_kernel(ctx, kernels[i], &k, &a);
		if (tree_is_installed(&t, ctx->module, ctx->version, k, a)) {
			_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
			_cleanup_free_ char *err = NULL;
			int l = module_load(ctx, ctx->module, ctx->version, NULL, k, a, &pkg, &err);
			if (l < 0) {
				log_error(l == -EPERM ? "%s" : "Bad conf file: %s", err);
				code = module_load_exit_code(l);
				continue;
			}
			log_info("Uninstalling %s/%s from %s (%s)", ctx->module, ctx->version, k,
				 a);
			install_remove(ctx, pkg, k, a);
			if (!strv_contains(depmod, k))
				strv_push(&depmod, k);
		} else {
			/* Files an interrupted install or uninstall left behind. */
			_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
			_cleanup_free_ char *err = NULL;
			if (module_load(ctx, ctx->module, ctx->version, NULL, k, a, &pkg, &err) >=
				    0 &&
			    install_remove_strays(ctx, pkg, k, a) > 0 && !strv_contains(depmod, k))
				strv_push(&depmod, k);
			if (!unbuild)
				log_info(
					"Module %s/%s is not installed for kernel %s (%s). Skipping...",
					ctx->module, ctx->version, k, a);
		}
		if (unbuild) {
			_cleanup_free_ char *base = tree_path(&t, ctx->module, ctx->version, k, a);
			if (!path_is_dir(base)) {
				log_info(
					"Module %s/%s is not built for kernel %s (%s). Skipping...",
					ctx->module, ctx->version, k, a);
				continue;
			}
			log_info("Unbuilding %s/%s for %s (%s)", ctx->module, ctx->version, k, a);
			int r = kbuild_unbuild(ctx, ctx->module, ctx->version, k, a);
			if (r < 0) {
				log_error_errno(r, "Failed to remove %s: %m", base);
				code = 1;
			}
		}
	}
	for (size_t i = 0; !ctx->no_depmod && depmod && depmod[i]; i++)
		install_depmod(ctx, depmod[i]);
	free(t.dir);
	return code;
}

/* Every kernel m/v is built for. */
static char **built_kernels(struct dk_ctx *ctx)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	char **l = NULL;
	tree_list_kernel_dirs(&t, ctx->module, ctx->version, &l);
	free(t.dir);
	return l;
}

static int undo_verb(struct dk_ctx *ctx, int argc, char **argv, bool unbuild, bool remove)
{
	int r = resolve_mv(ctx, argc, argv, true);
	if (r)
		return r;
	if ((r = require_added(ctx)))
		return r;
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	bool all = ctx->all || (remove && !ctx->kernels);
	_cleanup_strv_free_ char **kernels = all ? built_kernels(ctx) : ops_kernels(ctx);
	r = undo(ctx, kernels, unbuild);
	if (r || !remove)
		return r;
	_cleanup_strv_free_ char **left = built_kernels(ctx);
	if (strv_length(left) > 0)
		return 0;
	/* Nothing built any more: unregister the version, as dkms does. */
	_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
	_cleanup_free_ char *err = NULL;
	struct utsname u;
	uname(&u);
	module_load(ctx, ctx->module, ctx->version, NULL, u.release, ctx_arch(ctx), &pkg, &err);
	log_info("Deleting module %s/%s completely from the DKMS tree.", ctx->module, ctx->version);
	if (pkg)
		script_run_source(ctx, pkg, "post_remove", pkg->post_remove, NULL, -1);
	_cleanup_free_ char *vdir = ctx_dkms_path(ctx, ctx->module, ctx->version);
	_cleanup_free_ char *trash = ctx_dkms_path(ctx, ctx->module, ".removing");
	rm_rf(trash);
	if (rename(vdir, trash) == 0)
		rm_rf(trash);
	_cleanup_free_ char *mdir = ctx_dkms_path(ctx, ctx->module);
	_cleanup_strv_free_ char **rest = NULL;
	dir_list(mdir, &rest);
	bool empty = true;
	for (size_t i = 0; rest && rest[i]; i++)
		if (!startswith(rest[i], "kernel-"))
			empty = false;
	if (empty)
		rm_rf(mdir);
	return 0;
}

int cmd_unbuild(struct dk_ctx *ctx, int argc, char **argv)
{
	return undo_verb(ctx, argc, argv, true, false);
}

int cmd_uninstall(struct dk_ctx *ctx, int argc, char **argv)
{
	return undo_verb(ctx, argc, argv, false, false);
}

int cmd_remove(struct dk_ctx *ctx, int argc, char **argv)
{
	return undo_verb(ctx, argc, argv, true, true);
}

int cmd_autoinstall(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	_cleanup_strv_free_ char **kernels =
		ctx->all || (ctx->autoinstall_all_kernels && !ctx->kernels)
			? ops_installed_kernels(ctx)
			: ops_kernels(ctx);
	int failed = autoinstall_kernels(ctx, kernels, NULL);
	return failed ? DK_EXIT_AUTOINSTALL_FAILED : 0;
}
