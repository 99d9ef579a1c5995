// SPDX-License-Identifier: GPL-2.0-or-later
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>

#include "kbuild.h"
#include "log.h"
#include "module.h"
#include "ops.h"
#include "register.h"
#include "script.h"
#include "spawn.h"
#include "tree.h"

static const char *running_kernel(void)
{
	static struct utsname u;
	if (!u.release[0])
		uname(&u);
	return u.release;
}

/* Copies DIR into the source tree as NAME-VERSION (unless it is that
 * directory already). */
static int copy_to_source_tree(const struct dk_ctx *ctx, const char *dir, const struct dk_pkg *pkg,
			       bool force, char **ret_error)
{
	_cleanup_free_ char *name = xasprintf("%s-%s", pkg->name, pkg->version);
	/* A link already there is followed inside the root, as in a chroot. */
	_cleanup_free_ char *in_root = path_join(ctx->source_tree, name);
	_cleanup_free_ char *dst = ctx_resolved_path(ctx, in_root);
	char a[PATH_MAX], b[PATH_MAX];
	if (realpath(dir, a) && realpath(dst, b) && streq(a, b))
		return 0;
	if (force) {
		/* The name in the source tree goes, not what a link there leads to. */
		_cleanup_free_ char *plain = ctx_source_path(ctx, name);
		rm_rf(plain);
		free(dst);
		dst = ctx_resolved_path(ctx, in_root);
	}
	int r = mkdir_p(dst, 0755);
	_cleanup_free_ char *from = path_join(dir, ".");
	char *cp[] = { "cp", "-a", "--", from, dst, NULL };
	if (r < 0 || spawn_wait(cp, NULL) != 0)
		return reason_set(ret_error, 0, "Failed to copy %s to %s", dir, dst), 1;
	return 0;
}

int register_copy_source(const struct dk_ctx *ctx, const char *dir, bool force, char **ret_m,
			 char **ret_v, char **ret_error)
{
	_cleanup_free_ char *conf = path_join(dir, "dkms.conf");
	if (!path_is_reg(conf))
		return reason_set(ret_error, 0, "%s must contain a dkms.conf file!", dir), 4;
	_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
	_cleanup_free_ char *err = NULL;
	int l = module_load(ctx, NULL, NULL, conf, running_kernel(), ctx_arch(ctx), &pkg, &err);
	if (l < 0) {
		/* dkms copies the source once it knows the name and version,
		 * before it reads the rest: a dkms.conf that names a module
		 * twice is refused with its copy in the source tree, to be
		 * fixed there. Never an untrusted source (-EPERM). */
		_cleanup_(pkg_freep) struct dk_pkg *named = NULL;
		if (l == -EINVAL && module_load_lenient(ctx, NULL, NULL, conf, running_kernel(),
							ctx_arch(ctx), &named, NULL) >= 0)
			(void)copy_to_source_tree(ctx, dir, named, force, NULL);
		return reason_set(ret_error, 0, l == -EPERM ? "%s" : "Bad conf file.\n%s",
				  strempty(err)),
		       module_load_exit_code(l);
	}
	int r = copy_to_source_tree(ctx, dir, pkg, force, ret_error);
	if (r)
		return r;
	*ret_m = xstrdup(pkg->name);
	*ret_v = xstrdup(pkg->version);
	return 0;
}

/* "../" up from <dkms_tree>/m/v to the root, then the source tree: the
 * link reads the same inside and outside --root. */
static char *relative_source(const struct dk_ctx *ctx, const char *name)
{
	_cleanup_strv_free_ char **parts = strv_split(ctx->dkms_tree, "/");
	size_t up = strv_length(parts) + 2;
	_cleanup_free_ char *ups = xcalloc(up * 3 + 1, 1);
	for (size_t i = 0; i < up; i++)
		strcat(ups, "../");
	return xasprintf("%s%s/%s", ups, ctx->source_tree + 1, name);
}

int register_add(const struct dk_ctx *ctx, const char *m, const char *v, char **ret_link,
		 char **ret_error)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	bool added = tree_is_added(&t, m, v);
	free(t.dir);
	if (added)
		return reason_set(
			       ret_error, 0,
			       "DKMS tree already contains: %s/%s\nYou cannot add the same module/version combo more than once.",
			       m, v),
		       3;
	_cleanup_free_ char *name = xasprintf("%s-%s", m, v);
	/* /usr/src/m-v may be a link to /opt/m: followed inside the root. */
	_cleanup_free_ char *in_root = path_join(ctx->source_tree, name);
	_cleanup_free_ char *src = ctx_resolved_path(ctx, in_root);
	_cleanup_free_ char *conf = path_join(src, "dkms.conf");
	_cleanup_free_ char *conf_in_root = path_join(in_root, "dkms.conf");
	_cleanup_free_ char *conf_real = ctx_resolved_path(ctx, conf_in_root);
	if (!path_is_dir(src)) {
		_cleanup_free_ char *shown = ctx_path(ctx, in_root);
		return reason_set(
			       ret_error, 0,
			       "Could not find module source directory.\nDirectory: %s does not exist.",
			       shown),
		       2;
	}
	if (!path_is_reg(conf_real))
		return reason_set(ret_error, 0,
				  "Could not locate dkms.conf file.\nFile: %s does not exist.",
				  conf),
		       4;
	_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
	_cleanup_free_ char *err = NULL;
	int l = module_load(ctx, m, v, ctx->conf_path ? ctx->conf_path : conf_real,
			    running_kernel(), ctx_arch(ctx), &pkg, &err);
	if (l < 0)
		return reason_set(ret_error, 0, l == -EPERM ? "%s" : "Bad conf file.\n%s",
				  strempty(err)),
		       module_load_exit_code(l);
	_cleanup_free_ char *vdir = ctx_dkms_path(ctx, m, v);
	_cleanup_free_ char *link = path_join(vdir, "source");
	int r = mkdir_p(vdir, 0755);
	if (r < 0)
		return reason_set(ret_error, r, "Cannot create %s: %s", vdir, strerror(-r)), 1;
	_cleanup_free_ char *target = relative_source(ctx, name);
	r = symlink_atomic(target, link);
	if (r < 0)
		return reason_set(ret_error, r, "Cannot create %s: %s", link, strerror(-r)), 1;
	if (ret_link)
		*ret_link = path_join(ctx->dkms_tree, m, v, "source");
	/* dkms add exits with POST_ADD's status (its last step). */
	r = script_run_source(ctx, pkg, "post_add", pkg->post_add, NULL, -1);
	if (r != 0)
		reason_set(ret_error, 0, "The post_add script failed (%d).", r);
	return r < 0 ? 1 : r;
}

bool register_is_broken(const struct dk_ctx *ctx, const char *m, const char *v)
{
	_cleanup_free_ char *vdir = ctx_dkms_path(ctx, m, v);
	_cleanup_free_ char *conf = ctx_source_conf(ctx, m, v);
	return path_is_dir(vdir) && !path_is_reg(conf);
}

char *register_broken_reason(const struct dk_ctx *ctx, const char *m, const char *v)
{
	if (!register_is_broken(ctx, m, v))
		return NULL;
	_cleanup_free_ char *link = ctx_dkms_path(ctx, m, v, "source");
	_cleanup_free_ char *src = ctx_source_dir(ctx, m, v);
	_cleanup_free_ char *conf = ctx_source_conf(ctx, m, v);
	if (path_is_dir(src))
		return xasprintf(
			"%s/%s is broken! Could not locate dkms.conf file: %s does not exist.\n"
			"Manual intervention is required!",
			m, v, conf);
	_cleanup_free_ char *through = path_join(link, "dkms.conf");
	return xasprintf("%s/%s is broken! Missing the source directory or the symbolic link "
			 "pointing to it (%s, for %s).\nManual intervention is required!",
			 m, v, link, through);
}

int register_delete(const struct dk_ctx *ctx, const char *m, const char *v)
{
	/* POST_REMOVE ran when the version left each kernel (dkms runs it in
	 * do_uninstall, not when the version is deleted). */
	_cleanup_free_ char *vdir = ctx_dkms_path(ctx, m, v);
	_cleanup_free_ char *trash = ctx_dkms_path(ctx, m, ".removing");
	/* Renamed first, so no reader sees half a version; a failure to rename
	 * or to remove is the caller's error, never ignored. */
	int r = rm_rf(trash);
	if (r >= 0 && rename(vdir, trash) < 0 && errno != ENOENT)
		r = -errno;
	if (r >= 0)
		r = rm_rf(trash);
	if (r < 0)
		return r;
	_cleanup_free_ char *mdir = ctx_dkms_path(ctx, m);
	_cleanup_strv_free_ char **rest = NULL;
	dir_list(mdir, &rest);
	for (size_t i = 0; rest && rest[i]; i++)
		if (!startswith(rest[i], "kernel-") &&
		    !(startswith(rest[i], ".kernel-") && endswith(rest[i], ".uninstalling")))
			return 0;
	return rm_rf(mdir);
}

char *register_default_kernel(const struct dk_ctx *ctx, char **ret_note)
{
	const char *run = running_kernel();
	if (kbuild_have_headers(ctx, run, NULL))
		return xasprintf("%s/%s", run, ctx_arch(ctx));
	_cleanup_strv_free_ char **all = ops_installed_kernels(ctx);
	for (size_t i = strv_length(all); i > 0; i--) {
		_cleanup_free_ char *k = NULL, *a = NULL;
		module_split_kernel(ctx, all[i - 1], &k, &a);
		if (!kbuild_have_headers(ctx, k, NULL))
			continue;
		if (ret_note)
			*ret_note = xasprintf(
				"The running kernel %s has no headers installed; using %s, the newest kernel whose headers are (choose with -k).",
				run, k);
		return xstrdup(all[i - 1]);
	}
	return xasprintf("%s/%s", run, ctx_arch(ctx));
}

bool register_have_os_release(const struct dk_ctx *ctx)
{
	_cleanup_free_ char *a = ctx_path(ctx, "/etc/os-release");
	_cleanup_free_ char *b = ctx_path(ctx, "/usr/lib/os-release");
	if (path_exists(a) || path_exists(b))
		return true;
	return !isempty(ctx->root) &&
	       (path_exists("/etc/os-release") || path_exists("/usr/lib/os-release"));
}
