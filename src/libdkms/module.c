// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "buildenv.h"
#include "module.h"
#include "trust.h"

void module_tree(const struct dk_ctx *ctx, struct dk_tree *t)
{
	t->dir = ctx_tree_path(ctx, ctx->dkms_tree, NULL);
}

int module_load_exit_code(int r)
{
	return r == -EPERM ? DK_EXIT_UNTRUSTED : DK_EXIT_BAD_CONF;
}

/* Sources already found trustworthy by this process (by real path). */
static char **trusted;

/* Trust before evaluation: as root, nothing of a source that another user
 * can change is read, evaluated or run. */
static int check_trust(const struct dk_ctx *ctx, const char *m, const char *v, const char *conf,
		       char **ret_error)
{
	if (geteuid() != 0 || ctx->trust_unsafe)
		return 0;
	_cleanup_free_ char *dir = xstrdup(conf);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	char real[PATH_MAX];
	if (!realpath(slash ? (*dir ? dir : "/") : ".", real))
		return 0; /* pkg_load reports the missing file */
	if (strv_contains(trusted, real))
		return 0;
	_cleanup_free_ char *why = NULL;
	int r = trust_check_source(real, &why);
	/* The dkms.conf itself, where a link in the tree leads (its owner was
	 * checked in the walk, not what it points to). */
	if (r >= 0 && trust_check_file(conf, &why) == -EPERM)
		r = -EPERM;
	/* Where dkms keeps the source link: whoever can write there can repoint it. */
	if (r >= 0 && m && v) {
		_cleanup_free_ char *in_root = path_join(ctx->dkms_tree, m, v);
		_cleanup_free_ char *vdir = ctx_resolved_path(ctx, in_root);
		if (path_is_dir(vdir))
			r = trust_check_path(vdir, &why);
	}
	if (r == -EPERM) {
		if (ret_error)
			*ret_error = xasprintf(
				"%s: refusing to read, build or run anything of it as root (set trust_unsafe_sources=yes in /etc/dkms-agent.conf to allow it)",
				why);
		return r;
	}
	if (r < 0)
		return 0; /* unreadable: pkg_load says why */
	strv_push(&trusted, real);
	return 0;
}

/* A temporary file of NAME='value' lines, or NULL. */
static char *directives_file(char **directives)
{
	char *path = xstrdup("/tmp/dkms-directives.XXXXXX");
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	for (size_t i = 0; directives[i]; i++) {
		const char *eq = strchr(directives[i], '=');
		if (!eq || eq == directives[i])
			continue;
		dprintf(fd, "%.*s='", (int)(eq - directives[i]), directives[i]);
		for (const char *c = eq + 1; *c; c++)
			dprintf(fd, *c == '\'' ? "'\\''" : "%c", *c);
		dprintf(fd, "'\n");
	}
	close(fd);
	return path;
}

static int load(const struct dk_ctx *ctx, const char *m, const char *v, const char *conf_path,
		const char *kver, const char *arch, bool lenient, struct dk_pkg **ret,
		char **ret_error)
{
	_cleanup_free_ char *conf = conf_path ? xstrdup(conf_path) : ctx_source_conf(ctx, m, v);
	int t = check_trust(ctx, m, v, conf, ret_error);
	if (t < 0)
		return t;
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
	_cleanup_free_ char *cache = ctx_dkms_path(ctx, ".cache");
	_cleanup_free_ char *etc = ctx_path(ctx, "/etc/dkms");
	/* dkms's $parallel_jobs: -j or framework.conf, else the CPU count; -j0
	 * makes it empty. */
	_cleanup_free_ char *jobs = ctx->jobs > 0 ? xasprintf("%d", ctx->jobs) : xstrdup("");

	/* bash, when the native reader cannot take the file, runs as the build
	 * user in a sandbox that sees the file's directory and the kernel's. */
	_cleanup_(buildenv_done) struct buildenv be;
	buildenv_init(&be, ctx);
	_cleanup_free_ char *confdir = xstrdup(conf);
	char *slash = strrchr(confdir, '/');
	if (slash)
		*slash = 0;
	if (slash && *confdir)
		buildenv_mount(&be, confdir, confdir, false);
	buildenv_mount_kernel(&be, ksrc);

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
			.sandbox = &be.sb,
			.timeout_sec = ctx->build_timeout_sec < 120 ? ctx->build_timeout_sec : 120,
		},
		.etc_dkms = etc,
		.lenient = lenient,
	};
	/* --directive NAME=value: an assignment sourced after everything else. */
	_cleanup_free_ char *directives = NULL;
	if (ctx->directives) {
		directives = directives_file(ctx->directives);
		env.extra_conf = directives;
		env.conf.cache_dir = NULL;
	}
	int r = pkg_load(conf, &env, ret, ret_error);
	if (directives)
		unlink(directives);
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

int module_load(const struct dk_ctx *ctx, const char *m, const char *v, const char *conf_path,
		const char *kver, const char *arch, struct dk_pkg **ret, char **ret_error)
{
	return load(ctx, m, v, conf_path, kver, arch, false, ret, ret_error);
}

int module_load_lenient(const struct dk_ctx *ctx, const char *m, const char *v,
			const char *conf_path, const char *kver, const char *arch,
			struct dk_pkg **ret, char **ret_error)
{
	return load(ctx, m, v, conf_path, kver, arch, true, ret, ret_error);
}
