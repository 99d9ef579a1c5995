// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms match, generate_mok and the kernel hook verbs of dkms 3.1+
 * (kernel_preinst, kernel_postinst, kernel_prerm). */
#include <stdio.h>

#include "cmd-dkms.h"
#include "install.h"
#include "kbuild.h"
#include "lock.h"
#include "log.h"
#include "module.h"
#include "ops.h"
#include "progress.h"
#include "script.h"
#include "sign.h"
#include "tree.h"

/* Exactly one -k, as dkms's have_one_kernel. Sets *k, *a. */
static int one_kernel(struct dk_ctx *ctx, const char *verb, char **k, char **a)
{
	if (strv_length(ctx->kernels) != 1)
		return log_error(
			       "The action %s requires exactly one kernel version parameter on the command line.",
			       verb),
		       4;
	if (ctx->all)
		return log_error("The action %s does not support the --all parameter.", verb), 5;
	module_split_kernel(ctx, ctx->kernels[0], k, a);
	return 0;
}

/* Every m/v installed on kver/arch (kernel-<kver>-<arch> links). */
static void installed_on(struct dk_ctx *ctx, const char *kver, const char *arch, char ***ret_m,
			 char ***ret_v)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	tree_list_modules(&t, &mods);
	for (size_t i = 0; mods && mods[i]; i++) {
		_cleanup_free_ char *v = tree_installed_version(&t, mods[i], kver, arch);
		if (!v)
			continue;
		strv_push(ret_m, mods[i]);
		strv_push(ret_v, v);
	}
	free(t.dir);
}

int cmd_match(struct dk_ctx *ctx, int argc, char **argv)
{
	if (!ctx->template_kernel)
		return log_error(
			       "Invalid number of parameters passed.\n"
			       "Usage: match --templatekernel=<kernel-version> -k <kernel-version>\n"
			       "   or: match --templatekernel=<kernel-version> -k <kernel-version> <module>"),
		       1;
	_cleanup_free_ char *k = NULL, *a = NULL;
	int r = one_kernel(ctx, "match", &k, &a);
	if (r)
		return r;
	if (streq(ctx->template_kernel, k))
		return log_error(
			       "The templatekernel and the specified kernel version are the same."),
		       2;
	_cleanup_free_ char *mdir = ctx->module ? ctx_dkms_path(ctx, ctx->module) : NULL;
	if (mdir && !path_is_dir(mdir))
		return log_error("The module: %s is not located in the DKMS tree.", ctx->module), 3;
	_cleanup_strv_free_ char **ms = NULL, **vs = NULL;
	installed_on(ctx, ctx->template_kernel, a, &ms, &vs);
	printf("Matching modules in kernel: %s (%s)\nto the configuration of kernel: %s (%s)\n", k,
	       a, ctx->template_kernel, a);
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	struct dk_job *jobs = NULL;
	size_t n = 0;
	struct dk_tree t;
	module_tree(ctx, &t);
	for (size_t i = 0; ms && ms[i]; i++) {
		if (ctx->module && !streq(ctx->module, ms[i]))
			continue;
		if (tree_is_installed(&t, ms[i], vs[i], k, a)) {
			printf("Module %s/%s already installed on kernel %s (%s), skip.\n", ms[i],
			       vs[i], k, a);
			continue;
		}
		ops_job_add(&jobs, &n, ms[i], vs[i], k, a);
	}
	free(t.dir);
	if (n == 0) {
		printf("There is nothing to be done for this match.\n");
		return 0;
	}
	progress_attach(ctx);
	ops_run(ctx, jobs, n, OPS_INSTALL);
	progress_done();
	int code = 0;
	for (size_t i = 0; i < n && !code; i++)
		code = jobs[i].code == DK_EXIT_EXCLUDED ? 0 : jobs[i].code;
	ops_jobs_free(jobs, n);
	return code;
}

int cmd_generate_mok(struct dk_ctx *ctx, int argc, char **argv)
{
	struct dk_signer s = {
		.key = ctx->mok_key ? ctx_path(ctx, ctx->mok_key) : ctx_dkms_path(ctx, "mok.key"),
		.cert = ctx->mok_cert ? ctx_path(ctx, ctx->mok_cert)
				      : ctx_dkms_path(ctx, "mok.pub"),
	};
	bool had = path_exists(s.key) && path_exists(s.cert);
	int r = sign_ensure_key(&s, NULL);
	if (r < 0) {
		log_error_errno(r,
				r == -ENOENT ? "Cannot create %s: openssl is not installed"
					     : "Cannot create %s: %m",
				s.key);
		sign_done(&s);
		return 1;
	}
	if (!had)
		printf("Certificate or key are missing, generating self signed certificate for MOK...\n");
	printf("Signing key: %s\nPublic certificate (MOK): %s\n", s.key, s.cert);
	sign_done(&s);
	return 0;
}

/* Takes the modules built for kver/arch out of it and unbuilds them (only
 * those with AUTOINSTALL when autoinstall_only); the versions stay
 * registered. dkms 3.1+: 14 when one fails. */
static int unbuild_kernel(struct dk_ctx *ctx, const char *verb, const char *k, const char *a,
			  bool autoinstall_only)
{
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	tree_list_modules(&t, &mods);
	bool removed = false;
	_cleanup_free_ char *failed = xstrdup("");
	for (size_t i = 0; mods && mods[i]; i++) {
		_cleanup_strv_free_ char **vs = NULL;
		tree_list_versions(&t, mods[i], &vs);
		for (size_t j = 0; vs && vs[j]; j++) {
			_cleanup_free_ char *base = tree_path(&t, mods[i], vs[j], k, a);
			if (!path_is_dir(base))
				continue;
			_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
			_cleanup_free_ char *err = NULL;
			bool loaded = module_load_lenient(ctx, mods[i], vs[j], NULL, k, a, &pkg,
							  &err) >= 0;
			if (autoinstall_only && (!loaded || !pkg->autoinstall))
				continue;
			fprintf(stderr, "dkms: removing module %s/%s for kernel %s (%s)\n", mods[i],
				vs[j], k, a);
			_cleanup_free_ char *rerr = NULL;
			int r = 0;
			if (loaded && tree_is_installed(&t, mods[i], vs[j], k, a)) {
				r = install_remove(ctx, pkg, k, a, &rerr);
				if (r < 0)
					log_error("%s", rerr);
				else
					script_run_source(ctx, pkg, "post_remove", pkg->post_remove,
							  k, -1);
				removed = true;
			}
			/* A module still in the kernel stays built, as it is installed. */
			if (r < 0 || kbuild_unbuild(ctx, mods[i], vs[j], k, a) < 0) {
				char *f = xasprintf("%s %s/%s(1)", failed, mods[i], vs[j]);
				free(failed);
				failed = f;
			}
		}
	}
	free(t.dir);
	if (removed && !ctx->no_depmod)
		install_depmod(ctx, k);
	if (!isempty(failed))
		return log_error("dkms %s for kernel %s (%s) failed for module(s)%s.", verb, k, a,
				 failed),
		       14;
	return 0;
}

/* Before a kernel is installed (again, at the same version): its
 * AUTOINSTALL modules are unbuilt so that kernel_postinst builds them
 * against the new headers, as dkms 3.1+ does. A new kernel has none. */
int cmd_kernel_preinst(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *k = NULL, *a = NULL;
	int r = one_kernel(ctx, "kernel_preinst", &k, &a);
	if (r)
		return r;
	return unbuild_kernel(ctx, "kernel_preinst", k, a, true);
}

/* After a kernel is installed: autoinstall for it (dkms 3.1+: the same
 * verb, so a kernel without headers is 21 when there is something to
 * build; the kernel hooks check for headers before they call it). */
int cmd_kernel_postinst(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *k = NULL, *a = NULL;
	int r = one_kernel(ctx, "kernel_postinst", &k, &a);
	if (r)
		return r;
	_cleanup_strv_free_ char **kernels = ops_kernels(ctx);
	return dkms_autoinstall(ctx, kernels);
}

/* Before a kernel is removed: every module out of it, unbuilt; the
 * versions stay registered. */
int cmd_kernel_prerm(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *k = NULL, *a = NULL;
	int r = one_kernel(ctx, "kernel_prerm", &k, &a);
	if (r)
		return r;
	return unbuild_kernel(ctx, "kernel_prerm", k, a, false);
}
