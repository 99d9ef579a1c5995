// SPDX-License-Identifier: GPL-2.0-or-later
/* The build cache's key: a text naming every input of a build, hashed. The
 * text is kept in each entry, so that a foreign entry is told apart from a
 * hash collision and a miss can be explained with diff. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "buildenv.h"
#include "cache-internal.h"
#include "chase.h"
#include "compress.h"
#include "log.h"
#include "module.h"
#include "sign.h"
#include "spawn.h"
#include "trust.h"

/* Bump when what a build produces from the same inputs changes (strip
 * options, signing, compression, the built state's layout). */
#define CACHE_RECIPE "dkms-agent-cache 1"

struct text {
	char *s;
	size_t len;
};

static void _printf_(2, 3) add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *line;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	t->s = xrealloc(t->s, t->len + n + 1);
	memcpy(t->s + t->len, line, n + 1);
	t->len += n;
	free(line);
}

/* A value that may hold anything, newlines included: length-prefixed. */
static void add_value(struct text *t, const char *name, const char *v)
{
	add(t, "%s %zu:%s\n", name, strlen(strempty(v)), strempty(v));
}

static int file_digest_at(int dfd, const char *name, char hex[SHA256_HEX_SIZE])
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct sha256 s;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&s);
	int64_t n = sha256_update_fd(&s, fd);
	if (n < 0)
		return (int)n;
	sha256_final(&s, d);
	sha256_hex(d, hex);
	return 0;
}

/* First line of `prog --version` for the prog a build runs (found in the
 * build's PATH), or NULL. */
static char *tool_version(const char *prog)
{
	_cleanup_free_ char *path = buildenv_which(prog);
	if (!path)
		return NULL;
	char *argv[] = { path, "--version", NULL };
	struct spawn_opts o = { .out_fd = -1, .timeout_sec = 30 };
	_cleanup_free_ char *out = NULL;
	if (spawn_capture(argv, &o, &out) != 0 || !out || !*out)
		return NULL;
	return xstrndup(out, strcspn(out, "\n"));
}

/* The compiler kbuild will run: the kernel's (CONFIG_CC_VERSION_TEXT's first
 * word, "gcc-12" on Debian, whose headers set CC so), else gcc; clang for
 * clang kernels. */
static void add_toolchain(struct text *t, const char *kconfig)
{
	_cleanup_free_ char *clang = kconfig_get(kconfig, "CONFIG_CC_IS_CLANG");
	_cleanup_free_ char *lld = kconfig_get(kconfig, "CONFIG_LD_IS_LLD");
	_cleanup_free_ char *cc_text = kconfig_get(kconfig, "CONFIG_CC_VERSION_TEXT");
	_cleanup_free_ char *cc = NULL;
	if (clang && streq(clang, "y"))
		cc = tool_version("clang");
	else {
		if (cc_text)
			cc_text[strcspn(cc_text, " ")] = 0;
		if (!isempty(cc_text))
			cc = tool_version(cc_text);
		if (!cc)
			cc = tool_version("gcc");
	}
	_cleanup_free_ char *ld = tool_version(lld && streq(lld, "y") ? "ld.lld" : "ld");
	add_value(t, "cc", cc ? cc : "unknown");
	add_value(t, "ld", ld ? ld : "unknown");
}

static void kernel_compute(const struct dk_ctx *ctx, struct cache_kernel *k)
{
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, k->kver);
	_cleanup_close_ int kfd = open(ksrc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (kfd < 0) {
		k->error = -errno;
		return;
	}
	struct text t = { 0 };
	add(&t, "kernel %s %s\n", k->kver, k->arch);
	/* The vermagic comes from the release and the config; the symbol
	 * versions from Module.symvers. Without these two no key is sound. */
	static const struct {
		const char *name;
		bool required;
	} files[] = {
		{ ".config", true },
		{ "Module.symvers", true },
		{ "Makefile", false },
		{ "include/config/kernel.release", false },
		{ "include/generated/utsrelease.h", false },
		{ "include/generated/compile.h", false },
		{ "include/generated/autoconf.h", false },
	};
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		char hex[SHA256_HEX_SIZE];
		int r = file_digest_at(kfd, files[i].name, hex);
		if (r < 0 && files[i].required) {
			log_debug_errno(r, "No build cache for %s: cannot read %s/%s: %m", k->kver,
					ksrc, files[i].name);
			free(t.s);
			k->error = r;
			return;
		}
		add(&t, "file %s %s\n", r < 0 ? "absent" : hex, files[i].name);
	}
	/* The config the build reads for its decisions (--config may name
	 * another one than the headers'): compiler, compression, signing. */
	_cleanup_free_ char *kconfig = ctx_kernel_config(ctx, k->kver);
	char chex[SHA256_HEX_SIZE];
	add(&t, "config %s\n", file_digest_at(AT_FDCWD, kconfig, chex) < 0 ? "absent" : chex);
	add_toolchain(&t, kconfig);
	_cleanup_free_ char *moddir = ctx_install_path(ctx, k->kver);
	const char *suffix = compress_suffix_for_kernel(moddir, kconfig);
	const char *opts = streq(suffix, ".zst")  ? ctx->compress_zstd_opts
			   : streq(suffix, ".xz") ? ctx->compress_xz_opts
			   : streq(suffix, ".gz") ? ctx->compress_gzip_opts
						  : NULL;
	add(&t, "compress %s\n", suffix);
	add_value(&t, "compress_opts", opts);
	struct dk_signer s;
	char hex[SHA256_HEX_SIZE];
	if (sign_prepare(ctx, k->kver, kconfig, &s, NULL) > 0 &&
	    file_digest_at(AT_FDCWD, s.cert, hex) == 0) {
		add(&t, "sign %s %s\n", s.hash, hex);
		k->cert = xstrdup(s.cert);
	} else
		add(&t, "sign none\n");
	sign_done(&s);
	k->inputs = t.s;
}

const struct cache_kernel *cache_kernel_get(struct dk_cache *c, const char *kver, const char *arch)
{
	for (size_t i = 0; i < c->n_kernels; i++)
		if (streq(c->kernels[i].kver, kver) && streq(c->kernels[i].arch, arch))
			return &c->kernels[i];
	c->kernels = xrealloc(c->kernels, (c->n_kernels + 1) * sizeof(*c->kernels));
	struct cache_kernel *k = &c->kernels[c->n_kernels++];
	*k = (struct cache_kernel){ .kver = xstrdup(kver), .arch = xstrdup(arch) };
	kernel_compute(c->ctx, k);
	return k;
}

int cache_prepare_kernel(struct dk_cache *c, const char *kver, const char *arch)
{
	const struct cache_kernel *k = cache_kernel_get(c, kver, arch);
	return k->inputs ? 0 : k->error < 0 ? k->error : -ENOENT;
}

/* dkms.conf as evaluated for this kernel: what shapes the build's output. */
static void add_pkg(struct text *t, const struct dk_pkg *p)
{
	add_value(t, "package", p->name);
	add_value(t, "version", p->version);
	for (size_t i = 0; i < p->n_modules; i++) {
		const struct dk_built_module *m = &p->modules[i];
		add(t, "module %zu strip=%d\n", i, m->strip);
		add_value(t, " built_name", m->built_name);
		add_value(t, " built_location", m->built_location);
		add_value(t, " dest_name", m->dest_name);
	}
	add_value(t, "make", p->make_is_default ? NULL : p->make_command);
	for (size_t i = 0; p->patches && p->patches[i]; i++)
		add_value(t, "patch", p->patches[i]);
	add_value(t, "pre_build", p->pre_build);
	add_value(t, "post_build", p->post_build);
}

/* Feeds a canonical listing of the tree at dfd into s: entries sorted by
 * name, each with its type, and for files the executable bit, size and
 * content digest, for links the target. Other file types: -EINVAL. */
static int digest_tree(int dfd, const char *rel, struct sha256 *s, unsigned depth)
{
	if (depth > 64)
		return -ELOOP;
	_cleanup_strv_free_ char **names = NULL;
	int r = dir_list_at(dfd, &names);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && names && names[i]; i++) {
		_cleanup_free_ char *p = *rel ? path_join(rel, names[i]) : xstrdup(names[i]);
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		_cleanup_free_ char *line = NULL;
		if (S_ISLNK(st.st_mode)) {
			_cleanup_free_ char *target = xcalloc(1, PATH_MAX);
			ssize_t n = readlinkat(dfd, names[i], target, PATH_MAX - 1);
			if (n < 0)
				return -errno;
			line = xasprintf("l %zu:%s %zu:%s\n", strlen(p), p, (size_t)n, target);
		} else if (S_ISDIR(st.st_mode)) {
			line = xasprintf("d %zu:%s\n", strlen(p), p);
		} else if (S_ISREG(st.st_mode)) {
			char hex[SHA256_HEX_SIZE];
			_cleanup_close_ int fd =
				openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
			if (fd < 0)
				return -errno;
			struct sha256 fs;
			uint8_t dg[SHA256_DIGEST_SIZE];
			sha256_init(&fs);
			int64_t n = sha256_update_fd(&fs, fd);
			if (n < 0)
				return (int)n;
			sha256_final(&fs, dg);
			sha256_hex(dg, hex);
			line = xasprintf("f %c %lld %s %zu:%s\n", st.st_mode & S_IXUSR ? 'x' : '-',
					 (long long)n, hex, strlen(p), p);
		} else
			return -EINVAL;
		sha256_update(s, line, strlen(line));
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(
				dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return -errno;
			r = digest_tree(sub, p, s, depth + 1);
		}
	}
	return r;
}

/* BUILD_DEPENDS: a module built against another one's symbols changes with
 * it. Each dependency's built modules for this kernel (the installed
 * version, else the newest built) go into the key. */
static int add_depends(const struct dk_cache *c, struct text *t, const struct dk_pkg *pkg,
		       const char *kver, const char *arch)
{
	const struct dk_ctx *ctx = c->ctx;
	struct dk_tree tree;
	module_tree(ctx, &tree);
	int r = 0;
	for (size_t d = 0; r == 0 && pkg->build_depends && pkg->build_depends[d]; d++) {
		const char *dep = pkg->build_depends[d];
		_cleanup_free_ char *v = tree_installed_version(&tree, dep, kver, arch);
		if (!v) {
			_cleanup_strv_free_ char **vs = NULL;
			tree_list_versions(&tree, dep, &vs);
			strv_sort(vs, version_cmp);
			for (size_t i = 0; vs && vs[i]; i++) {
				_cleanup_free_ char *b = tree_path(&tree, dep, vs[i], kver, arch);
				if (path_is_dir(b)) {
					free(v);
					v = xstrdup(vs[i]);
				}
			}
		}
		_cleanup_free_ char *mods =
			v ? path_join(ctx->dkms_tree, dep, v, kver, arch, "module") : NULL;
		_cleanup_close_ int fd =
			mods ? chase(c->root_fd, mods, CHASE_IN_ROOT, O_RDONLY | O_DIRECTORY, NULL)
			     : -EBADF;
		if (fd < 0) {
			add_value(t, "depends", dep);
			continue;
		}
		struct sha256 s;
		uint8_t dg[SHA256_DIGEST_SIZE];
		char hex[SHA256_HEX_SIZE];
		sha256_init(&s);
		r = digest_tree(fd, "", &s, 0);
		sha256_final(&s, dg);
		sha256_hex(dg, hex);
		add(t, "depends %zu:%s %zu:%s %s\n", strlen(dep), dep, strlen(v), v, hex);
	}
	free(tree.dir);
	return r;
}

int cache_key(struct dk_cache *c, const struct dk_pkg *pkg, const char *kver, const char *arch,
	      char ret_key[SHA256_HEX_SIZE], char **ret_inputs)
{
	const struct cache_kernel *k = cache_kernel_get(c, kver, arch);
	if (!k->inputs)
		return k->error < 0 ? k->error : -ENOENT;
	_cleanup_free_ char *src =
		path_join(c->ctx->root, c->ctx->dkms_tree, pkg->name, pkg->version, "source");
	/* Never a key for a tree that kbuild would refuse to build from. */
	_cleanup_free_ char *bad = NULL;
	if (geteuid() == 0 && !c->ctx->trust_unsafe && trust_check_tree(src, &bad) < 0)
		return -EPERM;
	_cleanup_free_ char *rel = path_join(c->ctx->dkms_tree, pkg->name, pkg->version, "source");
	_cleanup_close_ int fd =
		chase(c->root_fd, rel, CHASE_IN_ROOT, O_RDONLY | O_DIRECTORY, NULL);
	if (fd < 0)
		return fd;
	struct sha256 s;
	uint8_t d[SHA256_DIGEST_SIZE];
	char tree[SHA256_HEX_SIZE];
	sha256_init(&s);
	int r = digest_tree(fd, "", &s, 0);
	if (r < 0)
		return log_debug_errno(r, "No cache key for %s: cannot read its tree: %m", src);
	sha256_final(&s, d);
	sha256_hex(d, tree);

	struct text t = { 0 };
	add(&t, "%s\n%s", CACHE_RECIPE, k->inputs);
	add_pkg(&t, pkg);
	add(&t, "source %s\n", tree);
	r = add_depends(c, &t, pkg, kver, arch);
	if (r < 0) {
		free(t.s);
		return r;
	}
	sha256_hex_of(t.s, t.len, ret_key);
	*ret_inputs = t.s;
	return 0;
}
