// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "chase.h"
#include "ctx.h"
#include "framework.h"
#include "log.h"
#include "spawn.h"

void ctx_init(struct dk_ctx *ctx)
{
	*ctx = (struct dk_ctx){
		.dkms_tree = xstrdup("/var/lib/dkms"),
		.source_tree = xstrdup("/usr/src"),
		.install_tree = xstrdup("/lib/modules"),
		.tmp_location = xstrdup(!isempty(getenv("TMPDIR")) ? getenv("TMPDIR") : "/tmp"),
		.initramfs_mode = xstrdup("regenerate"),
		.boot_budget_sec = 300,
		.build_timeout_sec = 3600,
		.load_modules = true,
		.cache_mode = 1,
		.cache_dir = xstrdup("/var/cache/dkms-agent"),
		.cache_max_size = (uint64_t)1 << 30,
	};
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	ctx->jobs = n > 0 ? (int)n : 1;
	/* dkms takes $parallel_jobs from the environment too; framework.conf
	 * and -j come later and win. */
	const char *pj = getenv("parallel_jobs");
	if (pj && atoi(pj) > 0)
		ctx->jobs = atoi(pj);
	ctx_set_root(ctx, getenv("DKMS_ROOT"));
}

void ctx_done(struct dk_ctx *ctx)
{
	free(ctx->root);
	free(ctx->dkms_tree);
	free(ctx->source_tree);
	free(ctx->install_tree);
	free(ctx->tmp_location);
	free(ctx->kernel_source_dir);
	free(ctx->arch);
	strv_free(ctx->kernels);
	free(ctx->module);
	free(ctx->version);
	free(ctx->sign_file);
	free(ctx->mok_key);
	free(ctx->mok_cert);
	free(ctx->initramfs_mode);
	free(ctx->post_transaction);
	free(ctx->compress_gzip_opts);
	free(ctx->compress_xz_opts);
	free(ctx->compress_zstd_opts);
	free(ctx->root_device);
	strv_free(ctx->early_modules);
	free(ctx->conf_path);
	free(ctx->kernel_config);
	strv_free(ctx->directives);
	free(ctx->archive);
	free(ctx->template_kernel);
	free(ctx->source_dir_arg);
	free(ctx->cache_dir);
	*ctx = (struct dk_ctx){ 0 };
}

void ctx_set_root(struct dk_ctx *ctx, const char *root)
{
	free(ctx->root);
	if (isempty(root) || streq(root, "/")) {
		ctx->root = xstrdup("");
		return;
	}
	char *r = xstrdup(root);
	size_t l = strlen(r);
	while (l > 1 && r[l - 1] == '/')
		r[--l] = 0;
	ctx->root = r;
}

char *ctx_path(const struct dk_ctx *ctx, const char *p)
{
	if (isempty(ctx->root))
		return xstrdup(p);
	return path_join(ctx->root, p);
}

/* The host path of a tree (the dkms tree, /lib/modules, /usr/src) under
 * --root, found as a chroot into the root finds it: an image whose
 * /var/lib/dkms or /lib is an absolute link keeps us inside the image.
 * Resolved once per tree and process (what exists of it; the rest as is). */
static char *tree_base(const struct dk_ctx *ctx, const char *tree)
{
	static struct {
		char *root, *tree, *host;
	} cache[8];
	static size_t n;
	if (isempty(ctx->root))
		return xstrdup(tree);
	for (size_t i = 0; i < n; i++)
		if (streq(cache[i].root, ctx->root) && streq(cache[i].tree, tree))
			return xstrdup(cache[i].host);
	char *host = chase_host_path(ctx->root, tree);
	if (n < ELEMENTSOF(cache) && path_is_dir(host))
		cache[n++] = (typeof(cache[0])){ xstrdup(ctx->root), xstrdup(tree), xstrdup(host) };
	return host;
}

char *ctx_tree_path(const struct dk_ctx *ctx, const char *tree, ...)
{
	va_list ap;
	char *r = tree_base(ctx, tree);
	va_start(ap, tree);
	for (const char *s; (s = va_arg(ap, const char *));) {
		char *n = path_join(r, s);
		free(r);
		r = n;
	}
	va_end(ap);
	return r;
}

int ctx_open(const struct dk_ctx *ctx, const char *p, int flags, bool create, char **ret_host_path)
{
	_cleanup_close_ int root_fd = open_root(ctx->root);
	if (root_fd < 0)
		return root_fd;
	_cleanup_free_ char *inside = NULL;
	int fd = chase(root_fd, p, CHASE_IN_ROOT | (create ? CHASE_MKDIR : 0), flags,
		       ret_host_path ? &inside : NULL);
	if (fd >= 0 && ret_host_path)
		*ret_host_path = ctx_path(ctx, inside);
	return fd;
}

char *ctx_resolved_path(const struct dk_ctx *ctx, const char *p)
{
	return chase_host_path(ctx->root, p);
}

/* The source link of m/v, then sub (or nothing), as a path in the root. dkms
 * run on the host with --dkmstree/--sourcetree <root>/... (not in a chroot)
 * writes the link as the host path of the root's source directory: a target
 * that begins with the root's own path is read as the path inside it. */
static char *source_in_root(const struct dk_ctx *ctx, const char *m, const char *v, const char *sub)
{
	_cleanup_free_ char *link = path_join(ctx->dkms_tree, m, v, "source");
	if (!isempty(ctx->root) && !streq(ctx->root, "/")) {
		_cleanup_close_ int root_fd = open_root(ctx->root);
		_cleanup_close_ int dfd = -1;
		_cleanup_free_ char *name = NULL;
		char buf[PATH_MAX];
		ssize_t n = -1;
		if (root_fd >= 0 && chase_parent(root_fd, link, CHASE_IN_ROOT, &dfd, &name) >= 0)
			n = readlinkat(dfd, name, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			const char *rest = startswith(buf, ctx->root);
			if (rest && *rest == '/')
				return path_join(rest, sub);
		}
	}
	return sub ? path_join(link, sub) : TAKE_PTR(link);
}

char *ctx_source_dir(const struct dk_ctx *ctx, const char *m, const char *v)
{
	_cleanup_free_ char *p = source_in_root(ctx, m, v, NULL);
	return ctx_resolved_path(ctx, p);
}

char *ctx_source_conf(const struct dk_ctx *ctx, const char *m, const char *v)
{
	_cleanup_free_ char *p = source_in_root(ctx, m, v, "dkms.conf");
	return ctx_resolved_path(ctx, p);
}

const char *ctx_arch(const struct dk_ctx *ctx)
{
	static struct utsname u;
	if (ctx->arch)
		return ctx->arch;
	if (!u.machine[0])
		uname(&u);
	return u.machine;
}

char *ctx_kernel_source_dir(const struct dk_ctx *ctx, const char *kver)
{
	if (ctx->kernel_source_dir)
		return xstrdup(ctx->kernel_source_dir);
	char *p = ctx_install_path(ctx, kver, "build");
	if (path_is_dir(p))
		return p;
	char *s = ctx_install_path(ctx, kver, "source");
	if (path_is_dir(s)) {
		free(p);
		return s;
	}
	free(s);
	return p;
}

char *ctx_kernel_config(const struct dk_ctx *ctx, const char *kver)
{
	if (ctx->kernel_config)
		return xstrdup(ctx->kernel_config);
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	return path_join(ksrc, ".config");
}

void ctx_emit(const struct dk_ctx *ctx, const struct dk_event *ev)
{
	if (ctx->progress)
		ctx->progress(ctx->progress_userdata, ev);
}

void ctx_phase(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
	       const char *arch, enum dk_phase phase)
{
	struct dk_event ev = { .phase = phase, .m = m, .v = v, .kver = kver, .arch = arch };
	ctx_emit(ctx, &ev);
}

const char *dk_phase_name(enum dk_phase p)
{
	static const char *const names[DK_PHASE__MAX] = {
		[DK_PHASE_QUEUED] = "queued",	    [DK_PHASE_PREPARE] = "prepare",
		[DK_PHASE_PRE_BUILD] = "PRE_BUILD", [DK_PHASE_MAKE] = "make",
		[DK_PHASE_SIGN] = "sign",	    [DK_PHASE_POST_BUILD] = "POST_BUILD",
		[DK_PHASE_BUILT] = "built",	    [DK_PHASE_INSTALL] = "install",
		[DK_PHASE_DEPMOD] = "depmod",	    [DK_PHASE_INITRAMFS] = "initramfs",
		[DK_PHASE_INSTALLED] = "installed", [DK_PHASE_SKIPPED] = "skipped",
		[DK_PHASE_FAILED] = "failed",	    [DK_PHASE_OUTPUT] = "output",
		[DK_PHASE_TICK] = "tick",	    [DK_PHASE_CACHED] = "cached",
	};
	return p < DK_PHASE__MAX && names[p] ? names[p] : "?";
}

static bool parse_bool(const char *v)
{
	return v && (streq(v, "1") || streq(v, "yes") || streq(v, "y") || streq(v, "true"));
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* dkms tests its framework switches with [[ $x ]]: any non-empty value. */
static bool set_value(const char *v)
{
	return !isempty(v);
}

static int framework_cb(const char *name, const char *value, void *userdata)
{
	struct dk_ctx *ctx = userdata;
	if (streq(name, "dkms_tree"))
		set_str(&ctx->dkms_tree, value);
	else if (streq(name, "source_tree"))
		set_str(&ctx->source_tree, value);
	else if (streq(name, "install_tree"))
		set_str(&ctx->install_tree, value);
	else if (streq(name, "tmp_location"))
		set_str(&ctx->tmp_location, value);
	else if (streq(name, "verbose"))
		ctx->verbose = set_value(value) ? (ctx->verbose > 0 ? ctx->verbose : 1) : 0;
	else if (streq(name, "sign_file"))
		set_str(&ctx->sign_file, value);
	else if (streq(name, "mok_signing_key"))
		set_str(&ctx->mok_key, value);
	else if (streq(name, "mok_certificate"))
		set_str(&ctx->mok_cert, value);
	else if (streq(name, "parallel_jobs") && atoi(value) > 0)
		ctx->jobs = atoi(value);
	else if (streq(name, "autoinstall_all_kernels"))
		ctx->autoinstall_all_kernels = set_value(value);
	else if (streq(name, "modprobe_on_install"))
		ctx->modprobe_on_install = set_value(value);
	else if (streq(name, "symlink_modules"))
		ctx->symlink_modules = set_value(value);
	else if (streq(name, "compress_gzip_opts"))
		set_str(&ctx->compress_gzip_opts, value);
	else if (streq(name, "compress_xz_opts"))
		set_str(&ctx->compress_xz_opts, value);
	else if (streq(name, "compress_zstd_opts"))
		set_str(&ctx->compress_zstd_opts, value);
	else if (streq(name, "post_transaction"))
		set_str(&ctx->post_transaction, value);
	return 0;
}

/* The variables dkms has set when it sources its framework files. */
static char **framework_context(const struct dk_ctx *ctx, const char *kver, const char *arch)
{
	char **c = NULL;
	strv_consume(&c, xasprintf("dkms_tree=%s", ctx->dkms_tree));
	strv_consume(&c, xasprintf("source_tree=%s", ctx->source_tree));
	strv_consume(&c, xasprintf("install_tree=%s", ctx->install_tree));
	strv_consume(&c, xasprintf("tmp_location=%s", ctx->tmp_location));
	strv_consume(&c, xasprintf("compress_gzip_opts=%s", strempty(ctx->compress_gzip_opts)));
	strv_consume(&c, xasprintf("compress_xz_opts=%s",
				   ctx->compress_xz_opts ? ctx->compress_xz_opts
							 : "--check=crc32 --lzma2=dict=1MiB"));
	strv_consume(&c, xasprintf("compress_zstd_opts=%s",
				   ctx->compress_zstd_opts ? ctx->compress_zstd_opts : "-q -T0"));
	if (kver)
		strv_consume(&c, xasprintf("kernelver=%s", kver));
	if (arch)
		strv_consume(&c, xasprintf("arch=%s", arch));
	return c;
}

/* Every framework file in dkms's order, host paths. */
static char **framework_files(const struct dk_ctx *ctx)
{
	_cleanup_free_ char *dir = ctx_path(ctx, "/etc/dkms/framework.conf.d");
	_cleanup_strv_free_ char **names = NULL;
	char **files = NULL;
	strv_consume(&files, ctx_path(ctx, "/etc/dkms/framework.conf"));
	dir_list(dir, &names);
	strv_sort(names, strcmp);
	for (size_t i = 0; names && names[i]; i++)
		if (endswith(names[i], ".conf"))
			strv_consume(&files, path_join(dir, names[i]));
	return files;
}

struct signing {
	char *sign_file, *key, *cert;
};

static int signing_cb(const char *name, const char *value, void *userdata)
{
	struct signing *s = userdata;
	char **dst = streq(name, "sign_file")	      ? &s->sign_file
		     : streq(name, "mok_signing_key") ? &s->key
		     : streq(name, "mok_certificate") ? &s->cert
						      : NULL;
	if (dst)
		set_str(dst, value);
	return 0;
}

void ctx_signing_settings(const struct dk_ctx *ctx, const char *kver, const char *arch,
			  char **ret_sign_file, char **ret_key, char **ret_cert)
{
	struct signing s = {};
	_cleanup_strv_free_ char **files = framework_files(ctx);
	for (size_t i = 0; files[i]; i++) {
		_cleanup_strv_free_ char **context = framework_context(ctx, kver, arch);
		if (s.sign_file)
			strv_consume(&context, xasprintf("sign_file=%s", s.sign_file));
		if (s.key)
			strv_consume(&context, xasprintf("mok_signing_key=%s", s.key));
		if (s.cert)
			strv_consume(&context, xasprintf("mok_certificate=%s", s.cert));
		framework_read(files[i], context, signing_cb, &s);
	}
	*ret_sign_file = isempty(s.sign_file) ? NULL : xstrdup(s.sign_file);
	*ret_key = isempty(s.key) ? NULL : xstrdup(s.key);
	*ret_cert = isempty(s.cert) ? NULL : xstrdup(s.cert);
	free(s.sign_file);
	free(s.key);
	free(s.cert);
}

static int post_transaction_cb(const char *name, const char *value, void *userdata)
{
	if (streq(name, "post_transaction"))
		set_str(userdata, value);
	return 0;
}

char *ctx_post_transaction(const struct dk_ctx *ctx, const char *kver)
{
	char *value = NULL;
	_cleanup_strv_free_ char **files = framework_files(ctx);
	for (size_t i = 0; files[i]; i++) {
		_cleanup_strv_free_ char **context = framework_context(ctx, kver, NULL);
		if (value)
			strv_consume(&context, xasprintf("post_transaction=%s", value));
		framework_read(files[i], context, post_transaction_cb, &value);
	}
	if (isempty(value)) {
		free(value);
		return NULL;
	}
	return value;
}

/* /etc/dkms-agent.conf: the one reader of it. NAME=VALUE lines, '#'
 * comments, a value optionally in matching single or double quotes. */
static void load_agent_conf(struct dk_ctx *ctx)
{
	_cleanup_free_ char *p = ctx_path(ctx, "/etc/dkms-agent.conf");
	_cleanup_free_ char *c = NULL;
	if (read_full_file(p, &c, NULL, 1 << 20) < 0)
		return;
	_cleanup_strv_free_ char **lines = strv_split(c, "\n");
	for (size_t i = 0; lines[i]; i++) {
		char *l = lines[i] + strspn(lines[i], " \t");
		char *eq = strchr(l, '=');
		if (*l == '#' || !eq)
			continue;
		*eq = 0;
		char *v = eq + 1;
		size_t vl = strlen(v);
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			v[--vl] = 0;
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
			v[vl - 1] = 0;
			v++;
		}
		if (streq(l, "build_as_root"))
			ctx->build_as_root = parse_bool(v);
		else if (streq(l, "trust_unsafe_sources"))
			ctx->trust_unsafe = parse_bool(v);
		else if (streq(l, "build_timeout") && atoi(v) > 0)
			ctx->build_timeout_sec = atoi(v);
		else if (streq(l, "build_sandbox"))
			ctx->build_sandbox_user = streq(v, "user");
		else if (streq(l, "initramfs"))
			set_str(&ctx->initramfs_mode, v);
		else if (streq(l, "boot_budget") && atoi(v) > 0)
			ctx->boot_budget_sec = atoi(v);
		else if (streq(l, "early_modules")) {
			strv_free(ctx->early_modules);
			ctx->early_modules = strv_split(v, " \t,");
		} else if (streq(l, "load_modules"))
			ctx->load_modules = !(streq(v, "no") || streq(v, "0") || streq(v, "false"));
		else if (streq(l, "cache"))
			ctx->cache_mode = streq(v, "readonly") ? 2 : parse_bool(v) ? 1 : 0;
		else if (streq(l, "cache_dir") && *v == '/')
			set_str(&ctx->cache_dir, v);
		else if (streq(l, "cache_max_size") && parse_size(v, &ctx->cache_max_size) < 0)
			log_warning(
				"%s: cache_max_size=%s is not a size (e.g. 2G, 500M); using %llu bytes",
				p, v, (unsigned long long)ctx->cache_max_size);
	}
}

int ctx_load_framework(struct dk_ctx *ctx)
{
	load_agent_conf(ctx);
	spawn_set_default_timeout(ctx->build_timeout_sec);
	_cleanup_strv_free_ char **files = framework_files(ctx);
	for (size_t i = 0; files[i]; i++) {
		_cleanup_strv_free_ char **context = framework_context(ctx, NULL, NULL);
		int r = framework_read(files[i], context, framework_cb, ctx);
		if (r < 0 && r != -ENOENT)
			log_debug_errno(r, "Failed to read %s: %m", files[i]);
	}
	return 0;
}
