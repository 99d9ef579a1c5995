// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>

#include "log.h"
#include "module.h"
#include "register.h"
#include "spawn.h"
#include "validate.h"
#include "tarball.h"
#include "tree.h"

static char *make_tmpdir(const struct dk_ctx *ctx)
{
	_cleanup_free_ char *base = ctx_path(ctx, ctx->tmp_location);
	if (!path_is_dir(base)) {
		free(base);
		base = xstrdup("/tmp");
	}
	char *t = xasprintf("%s/dkms.XXXXXX", base);
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

static int cp_a(const char *from_dir_contents, const char *to)
{
	_cleanup_free_ char *from = path_join(from_dir_contents, ".");
	int r = mkdir_p(to, 0755);
	char *argv[] = { "cp", "-a", "--", from, (char *)to, NULL };
	return r < 0 ? r : spawn_wait(argv, NULL) == 0 ? 0 : -EIO;
}

static int make_in(const struct dk_ctx *ctx, const char *tmp, const char *m, const char *v,
		   char **kernels, const struct tarball_opts *o, char **ret_path, char **ret_error)
{
	_cleanup_free_ char *names = NULL;
	for (size_t i = 0; !o->source_only && kernels && kernels[i]; i++) {
		_cleanup_free_ char *k = NULL, *a = NULL;
		module_split_kernel(ctx, kernels[i], &k, &a);
		_cleanup_free_ char *built = ctx_dkms_path(ctx, m, v, k, a);
		if (!path_is_dir(built)) {
			return reason_set(
				ret_error, 6,
				"No modules built for %s (%s).\nModules must already be in the built state before using mktarball.",
				k, a);
		}
		_cleanup_free_ char *dst = path_join(tmp, "dkms_main_tree", k, a);
		if (cp_a(built, dst) < 0) {
			return reason_set(ret_error, 6, "Failed to copy %s", built);
		}
		char *n = xasprintf("%s%skernel%s-%s", strempty(names), names ? "-" : "", k, a);
		free(names);
		names = n;
	}
	if (o->source_only || !names) {
		free(names);
		names = xstrdup("source-only");
	}
	_cleanup_free_ char *src = ctx_source_dir(ctx, m, v);
	if (o->binaries_only) {
		_cleanup_free_ char *bo = path_join(tmp, "dkms_binaries_only");
		_cleanup_free_ char *pn = path_join(bo, "PACKAGE_NAME");
		_cleanup_free_ char *pv = path_join(bo, "PACKAGE_VERSION");
		_cleanup_free_ char *conf =
			ctx->conf_path ? xstrdup(ctx->conf_path) : path_join(src, "dkms.conf");
		_cleanup_free_ char *cdst = path_join(bo, "dkms.conf");
		_cleanup_free_ char *nl_m = xasprintf("%s\n", m), *nl_v = xasprintf("%s\n", v);
		if (mkdir_p(bo, 0755) < 0 || write_file_atomic(pn, nl_m, strlen(nl_m), 0644) < 0 ||
		    write_file_atomic(pv, nl_v, strlen(nl_v), 0644) < 0 ||
		    copy_file_atomic(conf, cdst, 0644) < 0) {
			return reason_set(ret_error, 6, "Failed to write %s", bo);
		}
	} else {
		_cleanup_free_ char *st = path_join(tmp, "dkms_source_tree");
		if (cp_a(src, st) < 0) {
			return reason_set(ret_error, 6, "Failed to copy the source %s", src);
		}
	}
	if (strlen(names) > 200) {
		free(names);
		names = xstrdup("manykernels");
	}
	/* dkms: a bare --archive name goes to the default directory. */
	_cleanup_free_ char *dir = ctx_dkms_path(ctx, m, v, "tarball");
	_cleanup_free_ char *path = NULL;
	if (!o->archive)
		path = xasprintf("%s/%s-%s-%s.dkms.tar.gz", dir, m, v, names);
	else if (!strchr(o->archive, '/'))
		path = path_join(dir, o->archive);
	else
		path = xstrdup(o->archive);
	_cleanup_free_ char *dest = xstrdup(path);
	*strrchr(dest, '/') = 0;
	if (mkdir_p(dest, 0755) < 0 || access(dest, W_OK) < 0) {
		return reason_set(ret_error, 9, "Missing write permissions for %s.", dest);
	}
	char *tar[] = { "tar", "-C", (char *)tmp, "-caf", path, ".", NULL };
	struct spawn_opts so = { .out_fd = -1, .quiet = 1 };
	if (spawn_wait(tar, &so) != 0) {
		return reason_set(ret_error, 6, "Failed to make tarball.");
	}
	*ret_path = TAKE_PTR(path);
	return 0;
}

int tarball_make(const struct dk_ctx *ctx, const char *m, const char *v, char **kernels,
		 const struct tarball_opts *o, char **ret_path, char **ret_error)
{
	_cleanup_free_ char *tmp = make_tmpdir(ctx);
	if (!tmp)
		return reason_set(ret_error, 0, "Unable to make temporary directory"), 1;
	int code = make_in(ctx, tmp, m, v, kernels, o, ret_path, ret_error);
	rm_rf(tmp);
	return code;
}

/* The first dkms.conf under dir (a plain source tarball). */
static char *find_conf(const char *dir, int depth)
{
	_cleanup_free_ char *c = path_join(dir, "dkms.conf");
	if (path_is_reg(c))
		return xstrdup(dir);
	_cleanup_strv_free_ char **l = NULL;
	dir_list(dir, &l);
	for (size_t i = 0; depth < 4 && l && l[i]; i++) {
		_cleanup_free_ char *sub = path_join(dir, l[i]);
		if (path_is_symlink(sub) || !path_is_dir(sub))
			continue;
		char *r = find_conf(sub, depth + 1);
		if (r)
			return r;
	}
	return NULL;
}

static int read_line_file(const char *p, char **ret)
{
	int r = read_full_file(p, ret, NULL, 4096);
	if (r >= 0)
		(*ret)[strcspn(*ret, "\n")] = 0;
	return r;
}

/* dkms_main_tree/<kver>/<arch> into the tree. */
static int load_built(const struct dk_ctx *ctx, const char *tmp, const char *m, const char *v,
		      bool force)
{
	_cleanup_free_ char *main_tree = path_join(tmp, "dkms_main_tree");
	_cleanup_strv_free_ char **ks = NULL;
	dir_list(main_tree, &ks);
	for (size_t i = 0; ks && ks[i]; i++) {
		_cleanup_free_ char *kd = path_join(main_tree, ks[i]);
		_cleanup_strv_free_ char **as = NULL;
		dir_list(kd, &as);
		for (size_t j = 0; as && as[j]; j++) {
			if (validate_name(ks[i]) || validate_name(as[j]))
				continue; /* not a kernel/arch this tree could hold */
			_cleanup_free_ char *from = path_join(kd, as[j]);
			_cleanup_free_ char *to = ctx_dkms_path(ctx, m, v, ks[i], as[j]);
			if (!path_is_dir(from))
				continue;
			if (path_is_dir(to) && !force) {
				log_warning("%s already exists. Skipping...", to);
				continue;
			}
			rm_rf(to);
			if (cp_a(from, to) < 0)
				return -EIO;
		}
	}
	return 0;
}

static int load_in(const struct dk_ctx *ctx, const char *tmp, const struct tarball_opts *o,
		   char **ret_m, char **ret_v, bool *ret_binaries_only, char **ret_error)
{
	int code = 0;
	char *tar[] = { "tar", "-xaf", (char *)o->archive, "-C", (char *)tmp, NULL };
	struct spawn_opts so = { .out_fd = -1, .quiet = 1 };
	_cleanup_free_ char *m = NULL, *v = NULL, *srcdir = NULL;
	bool bin = false;
	(void)code;
	if (spawn_wait(tar, &so) != 0) {
		return reason_set(ret_error, 7, "%s is not a valid DKMS tarball.", o->archive);
	}
	_cleanup_free_ char *st = path_join(tmp, "dkms_source_tree");
	_cleanup_free_ char *bo = path_join(tmp, "dkms_binaries_only");
	_cleanup_free_ char *stconf = path_join(st, "dkms.conf");
	_cleanup_free_ char *boconf = path_join(bo, "dkms.conf");
	if (path_is_reg(stconf))
		srcdir = xstrdup(st);
	else if (path_is_reg(boconf))
		bin = true;
	else if (!(srcdir = find_conf(tmp, 0))) {
		return reason_set(
			ret_error, 7,
			"No valid dkms.conf in dkms_source_tree or dkms_binaries_only.\n%s is not a valid DKMS tarball.",
			o->archive);
	}
	if (bin) {
		_cleanup_free_ char *pn = path_join(bo, "PACKAGE_NAME");
		_cleanup_free_ char *pv = path_join(bo, "PACKAGE_VERSION");
		if (read_line_file(pn, &m) < 0 || read_line_file(pv, &v) < 0 || isempty(m) ||
		    isempty(v)) {
			return reason_set(ret_error, 7, "%s is not a valid DKMS tarball.",
					  o->archive);
		}
		/* They become directory names in the tree: checked at the door. */
		const char *why = validate_name(m) ? validate_name(m) : validate_name(v);
		if (why)
			return reason_set(ret_error, 7,
					  "%s is not a valid DKMS tarball: its name or version "
					  "('%s', '%s') %s.",
					  o->archive, m, v, why);
	} else {
		/* The name and version from its dkms.conf, before copying anything. */
		_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
		_cleanup_free_ char *conf = path_join(srcdir, "dkms.conf"), *err = NULL;
		struct utsname u;
		uname(&u);
		if (module_load(ctx, NULL, NULL, conf, u.release, ctx_arch(ctx), &pkg, &err) < 0) {
			return reason_set(ret_error, 7,
					  "Malformed dkms.conf, refusing to load.\n%s",
					  strempty(err));
		}
		m = xstrdup(pkg->name);
		v = xstrdup(pkg->version);
	}
	struct dk_tree t;
	module_tree(ctx, &t);
	bool added = tree_is_added(&t, m, v);
	free(t.dir);
	if (added && !o->force) {
		return reason_set(ret_error, 8, "%s-%s is already added!\nAborting.", m, v);
	}
	if (bin) {
		_cleanup_free_ char *name = xasprintf("%s-%s", m, v);
		_cleanup_free_ char *in_root = path_join(ctx->source_tree, name);
		_cleanup_free_ char *usr = ctx_resolved_path(ctx, in_root);
		if (!path_is_dir(usr)) {
			/* No source on the system: a stub with only dkms.conf. */
			_cleanup_free_ char *sd = ctx_dkms_path(ctx, m, v, "source");
			_cleanup_free_ char *sc = path_join(sd, "dkms.conf");
			if (path_is_symlink(sd))
				unlink(sd);
			if (mkdir_p(sd, 0755) < 0 || copy_file_atomic(boconf, sc, 0644) < 0) {
				return reason_set(ret_error, 1, "Cannot create %s", sd);
			}
		}
	} else {
		_cleanup_free_ char *mm = NULL, *vv = NULL, *err = NULL;
		code = register_copy_source(ctx, srcdir, o->force, &mm, &vv, &err);
		if (code)
			return reason_set(ret_error, code, "%s", strempty(err));
	}
	if (load_built(ctx, tmp, m, v, o->force) < 0) {
		return reason_set(ret_error, 1, "Failed to copy the built modules into the tree");
	}
	*ret_m = TAKE_PTR(m);
	*ret_v = TAKE_PTR(v);
	*ret_binaries_only = bin;
	return 0;
}

int tarball_load(const struct dk_ctx *ctx, const struct tarball_opts *o, char **ret_m, char **ret_v,
		 bool *ret_binaries_only, char **ret_error)
{
	if (!o->archive || !path_exists(o->archive))
		return reason_set(ret_error, 0, "%s does not exist.", strempty(o->archive)), 2;
	_cleanup_free_ char *tmp = make_tmpdir(ctx);
	if (!tmp)
		return reason_set(ret_error, 0, "Unable to make temporary directory"), 1;
	int code = load_in(ctx, tmp, o, ret_m, ret_v, ret_binaries_only, ret_error);
	rm_rf(tmp);
	return code;
}
