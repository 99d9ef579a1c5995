// SPDX-License-Identifier: GPL-2.0-or-later
/* The dkms verbs add, build, install, unbuild, uninstall, remove and
 * autoinstall: arguments checked as dkms checks them, the work done by the
 * engine (register, ops, install, autoinstall), progress shown by progress.c. */
#include <stdio.h>

#include "autoinstall.h"
#include "cmd-dkms.h"
#include "install.h"
#include "kbuild.h"
#include "lock.h"
#include "log.h"
#include "module.h"
#include "ops.h"
#include "progress.h"
#include "register.h"
#include "script.h"
#include "spawn.h"
#include "tarball.h"
#include "tree.h"

static int fail(int code, const char *msg)
{
	log_error("%s", msg);
	return code;
}

/* A DIR or DIR/dkms.conf argument: its source goes to the source tree and
 * names the module and version (dkms does this only without -m/-v). */
int dkms_take_source_arg(struct dk_ctx *ctx)
{
	if (!ctx->source_dir_arg || (ctx->module && ctx->version))
		return 0;
	_cleanup_free_ char *err = NULL, *m = NULL, *v = NULL;
	int r = register_copy_source(ctx, ctx->source_dir_arg, ctx->force, &m, &v, &err);
	if (r)
		return fail(r, err);
	free(ctx->module);
	free(ctx->version);
	ctx->module = TAKE_PTR(m);
	ctx->version = TAKE_PTR(v);
	return 0;
}

/* dkms's check_module_args; with only -m, the single added version. */
int dkms_need_module_version(struct dk_ctx *ctx, const char *verb)
{
	if (ctx->module && !ctx->version) {
		struct dk_tree t;
		module_tree(ctx, &t);
		_cleanup_strv_free_ char **vs = NULL;
		tree_list_versions(&t, ctx->module, &vs);
		free(t.dir);
		if (strv_length(vs) == 1)
			ctx->version = xstrdup(vs[0]);
	}
	if (ctx->module && ctx->version)
		return 0;
	log_error("Arguments <module> and <module-version> are not specified.\n"
		  "Usage: %s <module>/<module-version> or\n"
		  "       %s -m <module>/<module-version> or\n"
		  "       %s -m <module> -v <module-version>",
		  verb, verb, verb);
	return 1;
}

int dkms_not_broken(struct dk_ctx *ctx)
{
	_cleanup_free_ char *why = register_broken_reason(ctx, ctx->module, ctx->version);
	if (!why)
		return 0;
	log_error("%s", why);
	return 4;
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

static int add_and_report(struct dk_ctx *ctx, bool explicit)
{
	_cleanup_free_ char *err = NULL, *link = NULL;
	int r = register_add(ctx, ctx->module, ctx->version, &link, &err);
	if (r == 3 && !explicit)
		return 0;
	if (link) {
		_cleanup_free_ char *src = path_join(ctx->source_tree, ctx->module);
		printf("Creating symlink %s -> %s-%s\n", link, src, ctx->version);
	}
	if (r)
		return fail(r, err);
	return 0;
}

/* -k as given, else dkms's default kernel (said aloud when it is not the
 * running one). */
char **dkms_target_kernels(struct dk_ctx *ctx)
{
	if (ctx->kernels)
		return ops_kernels(ctx);
	_cleanup_free_ char *note = NULL;
	char *k = register_default_kernel(ctx, &note);
	if (note)
		printf("%s\n", note);
	char **l = NULL;
	strv_consume(&l, k);
	return l;
}

int cmd_add(struct dk_ctx *ctx, int argc, char **argv)
{
	if (!register_have_os_release(ctx))
		return fail(4, "System is missing os-release file.");
	if (ctx->archive && !ctx->module && !ctx->source_dir_arg)
		return cmd_ldtarball(ctx, argc, argv);
	int r = dkms_take_source_arg(ctx);
	if (r)
		return r;
	if ((r = dkms_need_module_version(ctx, "add")))
		return r;
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	return add_and_report(ctx, true);
}

static void modprobe_installed(struct dk_ctx *ctx, struct dk_job *jobs, size_t n)
{
	if (!ctx->modprobe_on_install || !isempty(ctx->root))
		return;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; jobs[i].installed && j < jobs[i].pkg->n_modules; j++) {
			char *argv[] = { "modprobe", "-b", "-q", jobs[i].pkg->modules[j].dest_name,
					 NULL };
			spawn_wait(argv, NULL);
		}
}

/* build and install share this: add if needed, build, maybe install. */
static int build_or_install(struct dk_ctx *ctx, bool install)
{
	const char *verb = install ? "install" : "build";
	if (ctx->all)
		return log_error("The action %s does not support the --all parameter.", verb), 5;
	int r = dkms_take_source_arg(ctx);
	if (r)
		return r;
	if ((r = dkms_need_module_version(ctx, verb)))
		return r;
	if ((r = dkms_not_broken(ctx)))
		return r;
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	if ((r = add_and_report(ctx, false)))
		return r;
	_cleanup_strv_free_ char **kernels = dkms_target_kernels(ctx);
	struct dk_job *jobs = NULL;
	size_t n = 0;
	struct dk_tree t;
	module_tree(ctx, &t);
	int code = 0;
	for (size_t i = 0; kernels[i]; i++) {
		_cleanup_free_ char *k = NULL, *a = NULL;
		module_split_kernel(ctx, kernels[i], &k, &a);
		_cleanup_free_ char *moddir = ctx_install_path(ctx, k);
		if (install && !path_is_dir(moddir)) {
			log_error(
				"The directory %s doesn't exist.\nYou cannot install a module onto a non-existent kernel.",
				moddir);
			code = code ? code : 6;
			continue;
		}
		_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
		_cleanup_free_ char *err = NULL;
		bool built = module_load(ctx, ctx->module, ctx->version, ctx->conf_path, k, a, &pkg,
					 &err) >= 0 &&
			     ops_is_built(ctx, pkg, k, a);
		bool done =
			install ? built && tree_is_installed(&t, ctx->module, ctx->version, k, a)
				: built;
		if (done && !ctx->force) {
			printf("Module %s/%s already %s %s (%s), skip. You may override by specifying --force.\n",
			       ctx->module, ctx->version,
			       install ? "installed on kernel" : "built for kernel", k, a);
			continue;
		}
		if (done && install) {
			/* --force: out first, as dkms does, then in again. */
			_cleanup_free_ char *rerr = NULL;
			if (install_remove(ctx, pkg, k, a, &rerr) < 0) {
				log_error("%s", rerr);
				code = 1;
				continue;
			}
			script_run_source(ctx, pkg, "post_remove", pkg->post_remove, k, -1);
			install_depmod(ctx, k);
		}
		ops_job_add(&jobs, &n, ctx->module, ctx->version, k, a);
	}
	free(t.dir);
	progress_attach(ctx);
	ops_run(ctx, jobs, n,
		(install ? OPS_INSTALL : 0) | (ctx->force && !install ? OPS_REBUILD : 0));
	progress_done();
	for (size_t i = 0; i < n && !code; i++)
		code = jobs[i].code;
	if (install)
		modprobe_installed(ctx, jobs, n);
	ops_jobs_free(jobs, n);
	return code;
}

int cmd_build(struct dk_ctx *ctx, int argc, char **argv)
{
	return build_or_install(ctx, false);
}

/* framework.conf's post_transaction after a verb that changed the system;
 * $kernelver is the first kernel it acted on (-k, else the first of --all). */
static int then_post_transaction(struct dk_ctx *ctx, int r, const char *kver)
{
	if (r == 0)
		script_post_transaction(ctx, kver ? kver : ctx->kernels ? ctx->kernels[0] : NULL);
	return r;
}

int cmd_install(struct dk_ctx *ctx, int argc, char **argv)
{
	return then_post_transaction(ctx, build_or_install(ctx, true), NULL);
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
		_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
		_cleanup_free_ char *err = NULL;
		int l = module_load_lenient(ctx, ctx->module, ctx->version, ctx->conf_path, k, a,
					    &pkg, &err);
		if (l < 0) {
			log_error(l == -EPERM ? "%s" : "Bad conf file.\n%s", strempty(err));
			code = module_load_exit_code(l);
			continue;
		}
		if (tree_is_installed(&t, ctx->module, ctx->version, k, a)) {
			printf("Module %s-%s for kernel %s (%s).\n"
			       "Before uninstall, this module version was ACTIVE on this kernel.\n",
			       ctx->module, ctx->version, k, a);
			_cleanup_free_ char *rerr = NULL;
			if (install_remove(ctx, pkg, k, a, &rerr) < 0) {
				log_error("%s", rerr);
				code = 1;
			} else {
				/* dkms runs POST_REMOVE whenever a version leaves a kernel. */
				script_run_source(ctx, pkg, "post_remove", pkg->post_remove, k, -1);
			}
			if (!strv_contains(depmod, k))
				strv_push(&depmod, k);
		} else {
			/* Files an interrupted install or uninstall left behind. */
			if (install_remove_strays(ctx, pkg, k, a) > 0 && !strv_contains(depmod, k))
				strv_push(&depmod, k);
			printf("Module %s %s is not installed for kernel %s (%s). Skipping...\n",
			       ctx->module, ctx->version, k, a);
		}
		if (!unbuild)
			continue;
		_cleanup_free_ char *base = tree_path(&t, ctx->module, ctx->version, k, a);
		if (!path_is_dir(base)) {
			printf("Module %s %s is not built for kernel %s (%s). Skipping...\n",
			       ctx->module, ctx->version, k, a);
			continue;
		}
		int r = kbuild_unbuild(ctx, ctx->module, ctx->version, k, a);
		if (r < 0) {
			log_error_errno(r, "Failed to remove %s: %m", base);
			code = 1;
		}
	}
	for (size_t i = 0; !ctx->no_depmod && depmod && depmod[i]; i++)
		install_depmod(ctx, depmod[i]);
	free(t.dir);
	return code;
}

/* Every kernel/arch m/v has a build directory for, complete or not. */
static char **built_kernels(struct dk_ctx *ctx)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **l = NULL;
	tree_list_kernel_dirs(&t, ctx->module, ctx->version, &l);
	free(t.dir);
	char **r = xcalloc(1, sizeof(char *));
	for (size_t i = 0; l && l[i]; i++)
		strv_push(&r, l[i]);
	return r;
}

/* *ret_kver: the first kernel acted on, for post_transaction. */
static int undo_verb(struct dk_ctx *ctx, const char *verb, bool unbuild, bool remove,
		     char **ret_kver)
{
	int r = dkms_need_module_version(ctx, verb);
	if (r)
		return r;
	if ((r = dkms_not_broken(ctx)))
		return r;
	if ((r = require_added(ctx)))
		return r;
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	/* remove without -k: every kernel (as dkms 3.1+); the others: the running one.
	 * --all is every instance (dkms(8)), a build with a module file missing
	 * too: dkms 3.0 skipped those, so remove --all left such a version
	 * behind although the build error says to remove it. */
	bool all = ctx->all || (remove && !ctx->kernels);
	_cleanup_strv_free_ char **kernels = all ? built_kernels(ctx) : ops_kernels(ctx);
	if (kernels && kernels[0])
		*ret_kver = xstrdup(kernels[0]);
	r = undo(ctx, kernels, unbuild);
	if (r || !remove)
		return r;
	_cleanup_strv_free_ char **left = built_kernels(ctx);
	if (strv_length(left) > 0)
		return 0;
	/* Nothing built any more: unregister the version, as dkms does. */
	printf("Deleting module %s-%s completely from the DKMS tree.\n", ctx->module, ctx->version);
	r = register_delete(ctx, ctx->module, ctx->version);
	if (r < 0)
		return log_error_errno(r, "Cannot delete %s/%s from the tree: %m", ctx->module,
				       ctx->version),
		       1;
	return 0;
}

int cmd_unbuild(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *k = NULL;
	int r = undo_verb(ctx, "unbuild", true, false, &k);
	return then_post_transaction(ctx, r, k);
}

int cmd_uninstall(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *k = NULL;
	int r = undo_verb(ctx, "uninstall", false, false, &k);
	return then_post_transaction(ctx, r, k);
}

int cmd_remove(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *k = NULL;
	int r = undo_verb(ctx, "remove", true, true, &k);
	return then_post_transaction(ctx, r, k);
}

/* Any added module at all (autoinstall has nothing to do otherwise). */
static bool tree_has_modules(struct dk_ctx *ctx)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	tree_list_modules(&t, &mods);
	free(t.dir);
	return strv_length(mods) > 0;
}

int dkms_autoinstall(struct dk_ctx *ctx, char **kernels)
{
	/* dkms 3.1+: the switch the kernel hooks honour stops the verb too. */
	_cleanup_free_ char *off = ctx_path(ctx, "/etc/dkms/no-autoinstall");
	if (path_exists(off)) {
		printf("Automatic installation of modules has been disabled.\n");
		return 0;
	}
	for (size_t i = 0; kernels && kernels[i]; i++) {
		_cleanup_free_ char *k = NULL, *a = NULL, *hint = NULL;
		module_split_kernel(ctx, kernels[i], &k, &a);
		if (tree_has_modules(ctx) && !kbuild_have_headers(ctx, k, &hint)) {
			_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, k);
			log_error(
				"Your kernel headers for kernel %s cannot be found at %s.\n"
				"Please install the %s package or use the --kernelsourcedir option to tell DKMS where it's located.",
				k, ksrc, hint);
			return DK_EXIT_NO_HEADERS;
		}
	}
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	progress_attach(ctx);
	int installed = 0;
	int failed = autoinstall_kernels(ctx, kernels, &installed);
	progress_done();
	if (!failed && installed > 0)
		script_post_transaction(ctx, kernels && kernels[0] ? kernels[0] : NULL);
	if (failed)
		return log_error("One or more modules failed to install during autoinstall.\n"
				 "Refer to previous errors for more information."),
		       DK_EXIT_AUTOINSTALL_FAILED;
	return 0;
}

int cmd_autoinstall(struct dk_ctx *ctx, int argc, char **argv)
{
	if (ctx->all)
		return log_error("The action autoinstall does not support the --all parameter."), 5;
	if (strv_length(ctx->kernels) > 1)
		return log_error(
			       "The action autoinstall does not support multiple kernel version parameters on the command line."),
		       4;
	_cleanup_strv_free_ char **kernels = ctx->autoinstall_all_kernels && !ctx->kernels
						     ? ops_installed_kernels(ctx)
						     : ops_kernels(ctx);
	return dkms_autoinstall(ctx, kernels);
}
