// SPDX-License-Identifier: GPL-2.0-or-later
/* Build cache entries: store, verify and restore, list, prune. Everything
 * inside the cache is reached by descriptor from its directory; an entry
 * appears (rename) and disappears (rename to tmp/, then removal) whole. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "cache-internal.h"
#include "chase.h"
#include "compress.h"
#include "log.h"
#include "modsig.h"
#include "module.h"
#include "trust.h"
#include "tree.h"

int cache_open(const struct dk_ctx *ctx, struct dk_cache **ret)
{
	if (ctx->cache_mode == CACHE_OFF)
		return -ENOENT;
	_cleanup_free_ char *dir = ctx_path(ctx, ctx->cache_dir);
	_cleanup_close_ int root_fd = open_root(ctx->root);
	if (root_fd < 0)
		return log_debug_errno(root_fd, "No build cache: cannot open %s: %m", ctx->root);
	bool may_write = ctx->cache_mode == CACHE_ON;
	int fd = chase(root_fd, ctx->cache_dir, CHASE_IN_ROOT | (may_write ? CHASE_MKDIR : 0),
		       O_RDONLY | O_DIRECTORY, NULL);
	if (fd < 0 && may_write) {
		may_write = false; /* a read-only location: use what is there */
		fd = chase(root_fd, ctx->cache_dir, CHASE_IN_ROOT, O_RDONLY | O_DIRECTORY, NULL);
	}
	if (fd < 0)
		return log_debug_errno(fd, "No build cache: cannot open %s: %m", dir);
	struct dk_cache *c = xcalloc(1, sizeof(*c));
	*c = (struct dk_cache){
		.ctx = ctx, .dir = TAKE_PTR(dir), .dir_fd = fd, .root_fd = TAKE_FD(root_fd)
	};
	c->writable = may_write && faccessat(fd, ".", W_OK, AT_EACCESS) == 0;
	*ret = c;
	return 0;
}

void cache_free(struct dk_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_kernels; i++) {
		free(c->kernels[i].kver);
		free(c->kernels[i].arch);
		free(c->kernels[i].inputs);
		free(c->kernels[i].cert);
	}
	free(c->kernels);
	free(c->dir);
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	if (c->root_fd >= 0)
		close(c->root_fd);
	free(c);
}

const char *cache_dir(const struct dk_cache *c)
{
	return c->dir;
}

bool cache_writable(const struct dk_cache *c)
{
	return c->writable;
}

/* ---- copying with digests ---------------------------------------------- */

/* Copies in to out (both fds), feeding the bytes to s. Returns bytes copied. */
static int64_t copy_hashing(int in, int out, struct sha256 *s)
{
	uint8_t buf[1 << 16];
	int64_t total = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return total;
		sha256_update(s, buf, n);
		int r = write_all(out, buf, n);
		if (r < 0)
			return r;
		total += n;
	}
}

/* Creates directory path (relative, parents first) beneath dfd. */
static int mkdirs_at(int dfd, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (mkdirat(dfd, p, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (!c)
			return 0;
		*s = c;
	}
}

/* Copies file rel of sfd to rel of dfd (created, mode), returning its
 * digest and size. */
static int copy_file_at(int sfd, int dfd, const char *rel, mode_t mode, char sha[SHA256_HEX_SIZE],
			uint64_t *ret_size)
{
	_cleanup_close_ int in = openat(sfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (in < 0)
		return -errno;
	struct stat st;
	if (fstat(in, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	_cleanup_close_ int out =
		openat(dfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (out < 0)
		return -errno;
	struct sha256 s;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&s);
	int64_t n = copy_hashing(in, out, &s);
	if (n < 0)
		return (int)n;
	sha256_final(&s, d);
	sha256_hex(d, sha);
	*ret_size = (uint64_t)n;
	return 0;
}

/* ---- removal ----------------------------------------------------------- */

int make_tmp(struct dk_cache *c, const char *what, char **ret)
{
	if (mkdirat(c->dir_fd, "tmp", 0700) < 0 && errno != EEXIST)
		return -errno;
	uint64_t rnd = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)ret;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rnd ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull;
	*ret = xasprintf("tmp/%s-%d-%016llx", what, (int)getpid(), (unsigned long long)rnd);
	return 0;
}

/* Removes tmp/NAME ("tmp/NAME" in rel), by descriptor. */
int remove_rel(struct dk_cache *c, const char *rel)
{
	const char *name = startswith(rel, "tmp/");
	_cleanup_close_ int tfd =
		openat(c->dir_fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (!name || tfd < 0)
		return tfd < 0 ? -errno : -EINVAL;
	return rm_rf_at(tfd, name);
}

/* Takes an entry out of sight first (rename), then removes it. */
int entry_remove(struct dk_cache *c, const char *key)
{
	if (!c->writable)
		return -EROFS;
	_cleanup_free_ char *name = entry_name(key), *dead = NULL;
	int r = make_tmp(c, "dead", &dead);
	if (r < 0)
		return r;
	if (renameat(c->dir_fd, name, c->dir_fd, dead) < 0)
		return errno == ENOENT ? 0 : -errno;
	_cleanup_free_ char *kk = xstrndup(key, 2);
	unlinkat(c->dir_fd, kk, AT_REMOVEDIR); /* when it was the last one */
	return remove_rel(c, dead);
}

/* ---- fetch ------------------------------------------------------------- */

/* The module files pkg names, as restored (host paths), or -EBADMSG when one
 * is missing. */
static int expected_modules(const struct dk_pkg *pkg, const char *moddir, char ***ret)
{
	char **l = NULL;
	for (size_t i = 0; i < pkg->n_modules; i++) {
		char *f = tree_find_module_file(moddir, pkg->modules[i].dest_name);
		if (!f) {
			strv_free(l);
			return -EBADMSG;
		}
		strv_consume(&l, f);
	}
	*ret = l;
	return 0;
}

/* The signature of one module file: mapped when uncompressed, decompressed
 * into memory otherwise. */
static int verify_one(const char *path, const char *cert)
{
	if (endswith(path, ".ko")) {
		_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode) || st.st_size <= 0)
			return -ENODATA;
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			return -errno;
		int r = modsig_verify(p, (size_t)st.st_size, cert);
		munmap(p, (size_t)st.st_size);
		return r;
	}
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = compress_load(path, &data, &len);
	return r < 0 ? r : modsig_verify(data, len, cert);
}

static int verify_signatures(char **files, const char *cert, char **ret_bad)
{
	for (size_t i = 0; files && files[i]; i++) {
		int r = verify_one(files[i], cert);
		if (r < 0) {
			*ret_bad = xstrdup(files[i]);
			return r;
		}
	}
	return 0;
}

/* Copies the entry's files into the new directory sfd, checking each
 * against the manifest. */
static int restore_files(int efd, const struct manifest *m, int sfd, char **ret_bad)
{
	_cleanup_close_ int ffd =
		openat(efd, "files", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ffd < 0)
		return -errno;
	for (size_t i = 0; m->dirs && m->dirs[i]; i++) {
		int r = mkdirs_at(sfd, m->dirs[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < m->n_files; i++) {
		const struct mfile *f = &m->files[i];
		char sha[SHA256_HEX_SIZE];
		uint64_t size;
		int r = copy_file_at(ffd, sfd, f->path, f->mode, sha, &size);
		if (r < 0 || size != f->size || !streq(sha, f->sha)) {
			*ret_bad = xstrdup(f->path);
			return r < 0 ? r : -EBADMSG;
		}
	}
	return 0;
}

/* Why the entry cannot be used, as a sentence; NULL when it can. */
static char *check_entry(struct dk_cache *c, int efd, const char *key, const char *inputs,
			 const struct dk_pkg *pkg, const char *kver, const char *arch,
			 struct manifest *m)
{
	_cleanup_free_ char *theirs = NULL;
	if (read_at(efd, "inputs", &theirs) < 0)
		return xstrdup("its inputs cannot be read");
	char hex[SHA256_HEX_SIZE];
	sha256_hex_of(theirs, strlen(theirs), hex);
	if (!streq(hex, key) || !streq(theirs, inputs))
		return xstrdup("it was made from other inputs (a foreign entry)");
	if (manifest_read(efd, m) < 0)
		return xstrdup("its manifest is unreadable");
	if (!streq(m->key, key) || !streq(m->module, pkg->name) ||
	    !streq(m->version, pkg->version) || !streq(m->kver, kver) || !streq(m->arch, arch))
		return xstrdup("its manifest names another module or kernel (a foreign entry)");
	if (geteuid() == 0 && !cache_kernel_get(c, kver, arch)->cert) {
		/* Unsigned modules: the entry's owner is all that vouches for it. */
		_cleanup_free_ char *p = path_join(c->dir, entry_name(key)), *bad = NULL;
		if (trust_check_tree(p, &bad) < 0)
			return xasprintf("%s is owned or writable by a user other than root",
					 bad ? bad : p);
	}
	return NULL;
}

static void note_restored(int sfd, const char *key, time_t created)
{
	_cleanup_close_ int fd = openat(
		sfd, "log/make.log", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	char when[64] = "?";
	struct tm tm;
	if (localtime_r(&created, &tm))
		strftime(when, sizeof(when), "%F %T", &tm);
	if (fd >= 0)
		dprintf(fd,
			"\nRestored from the dkms-agent build cache (entry %s, built %s): nothing was compiled.\n",
			key, when);
}

/* The kernel's .config in log/, as a build leaves it. */
static void restore_config(struct dk_cache *c, int sfd, const char *kver)
{
	_cleanup_free_ char *kconfig = ctx_kernel_config(c->ctx, kver);
	_cleanup_close_ int in = open(kconfig, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_close_ int out =
		in < 0 || (mkdirat(sfd, "log", 0755) < 0 && errno != EEXIST)
			? -1
			: openat(sfd, "log/.config",
				 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	struct sha256 s;
	sha256_init(&s);
	if (out >= 0)
		copy_hashing(in, out, &s);
}

static int fetch_into(struct dk_cache *c, int efd, const struct manifest *m, const char *key,
		      const struct dk_pkg *pkg, const char *kver, const char *arch, int sfd,
		      char **ret_why)
{
	_cleanup_free_ char *bad = NULL;
	int r = restore_files(efd, m, sfd, &bad);
	if (r < 0) {
		*ret_why =
			xasprintf("%s %s", bad ? bad : "a file",
				  r == -EBADMSG ? "does not match its digest" : "cannot be read");
		return -EBADMSG;
	}
	/* The helpers below take paths: the staging directory's, by its fd. */
	_cleanup_free_ char *moddir = xasprintf("/proc/self/fd/%d/module", sfd);
	_cleanup_strv_free_ char **mods = NULL;
	if (expected_modules(pkg, moddir, &mods) < 0) {
		*ret_why = xstrdup("a module that dkms.conf names is missing from it");
		return -EBADMSG;
	}
	const char *cert = cache_kernel_get(c, kver, arch)->cert;
	if (cert) {
		r = verify_signatures(mods, cert, &bad);
		if (r < 0) {
			*ret_why = xasprintf("%s: %s", path_basename(bad),
					     r == -ENODATA ? "not signed"
					     : r == -EOPNOTSUPP
						     ? "signature cannot be checked (no libcrypto)"
					     : r == -EBADMSG ? "not signed with this machine's key"
							     : "signature cannot be checked");
			return -EBADMSG;
		}
	}
	note_restored(sfd, key, m->created);
	restore_config(c, sfd, kver);
	return 0;
}

/* Moves staging (beneath vfd, the m/v directory) to kver/arch. */
static int publish_built(int vfd, const char *sname, const char *kver, const char *arch)
{
	if (mkdirat(vfd, kver, 0755) < 0 && errno != EEXIST)
		return -errno;
	_cleanup_close_ int kfd =
		openat(vfd, kver, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (kfd < 0)
		return -errno;
	if (renameat(vfd, sname, kfd, arch) < 0)
		return -errno;
	return fsync(kfd) < 0 ? -errno : 0;
}

int cache_fetch(struct dk_cache *c, const char *key, const char *inputs, const struct dk_pkg *pkg,
		const char *kver, const char *arch)
{
	_cleanup_free_ char *name = entry_name(key);
	_cleanup_close_ int efd =
		openat(c->dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (efd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	_cleanup_free_ char *vdir = path_join(c->ctx->dkms_tree, pkg->name, pkg->version);
	_cleanup_close_ int vfd =
		chase(c->root_fd, vdir, CHASE_IN_ROOT, O_RDONLY | O_DIRECTORY, NULL);
	if (vfd < 0)
		return vfd;
	struct manifest m = { 0 };
	_cleanup_free_ char *why = check_entry(c, efd, key, inputs, pkg, kver, arch, &m);
	_cleanup_free_ char *sname = xasprintf(".cache-%s-%s.%d", kver, arch, (int)getpid());
	int r = -EBADMSG;
	if (!why) {
		rm_rf_at(vfd, sname);
		r = mkdirat(vfd, sname, 0755) < 0 ? -errno : 0;
		_cleanup_close_ int sfd =
			r < 0 ? -1
			      : openat(vfd, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (r >= 0 && sfd < 0)
			r = -errno;
		if (r >= 0)
			r = fetch_into(c, efd, &m, key, pkg, kver, arch, sfd, &why);
	}
	if (r == -EBADMSG) {
		rm_rf_at(vfd, sname);
		log_warning("Ignoring build cache entry %s/%s for %s/%s on %s (%s): %s", c->dir,
			    name, pkg->name, pkg->version, kver, arch, why);
		if (c->writable)
			entry_remove(c, key);
		manifest_done(&m);
		return r;
	}
	manifest_done(&m);
	if (r >= 0)
		r = publish_built(vfd, sname, kver, arch);
	if (r < 0) {
		rm_rf_at(vfd, sname);
		return r;
	}
	/* Least recently used: the manifest's mtime says when. */
	if (c->writable) {
		_cleanup_close_ int mfd =
			openat(efd, "manifest", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (mfd >= 0)
			futimens(mfd, NULL);
	}
	return 0;
}

/* ---- store ------------------------------------------------------------- */

struct walk {
	char **dirs;
	char **files;
};

/* Lists the built state beneath dfd: directories and regular files only. */
static int walk_built(int dfd, const char *rel, struct walk *w, unsigned depth)
{
	if (depth > 32)
		return -ELOOP;
	_cleanup_strv_free_ char **names = NULL;
	int r = dir_list_at(dfd, &names);
	if (r < 0)
		return r;
	for (size_t i = 0; names && names[i]; i++) {
		_cleanup_free_ char *p = *rel ? path_join(rel, names[i]) : xstrdup(names[i]);
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		/* Copied from the kernel at restore time: 250 KiB per entry saved. */
		if (streq(p, "log/.config"))
			continue;
		if (!path_ok(p))
			return -EINVAL;
		if (S_ISREG(st.st_mode)) {
			strv_push(&w->files, p);
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			return -EINVAL;
		strv_push(&w->dirs, p);
		_cleanup_close_ int sub =
			openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return -errno;
		r = walk_built(sub, p, w, depth + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_at(int dfd, const char *name, const char *text)
{
	_cleanup_close_ int fd =
		openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	return write_all(fd, text, strlen(text));
}

/* Fills the new entry directory tfd from the built state bfd. */
static int fill_entry(int bfd, int tfd, const char *key, const char *inputs,
		      const struct dk_pkg *pkg, const char *kver, const char *arch)
{
	struct walk w = { 0 };
	int r = walk_built(bfd, "", &w, 0);
	if (r >= 0 && mkdirat(tfd, "files", 0755) < 0)
		r = -errno;
	_cleanup_close_ int ffd =
		r < 0 ? -1 : openat(tfd, "files", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r >= 0 && ffd < 0)
		r = -errno;
	_cleanup_free_ char *man =
		xasprintf("%s\nkey %s\nmodule %s %s\nkernel %s %s\ncreated %lld\n", MANIFEST_MAGIC,
			  key, pkg->name, pkg->version, kver, arch, (long long)time(NULL));
	for (size_t i = 0; r >= 0 && w.dirs && w.dirs[i]; i++) {
		r = mkdirs_at(ffd, w.dirs[i]);
		char *n = xasprintf("%sdir %s\n", man, w.dirs[i]);
		free(man);
		man = n;
	}
	for (size_t i = 0; r >= 0 && w.files && w.files[i]; i++) {
		char sha[SHA256_HEX_SIZE];
		uint64_t size;
		struct stat st;
		if (fstatat(bfd, w.files[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		mode_t mode = st.st_mode & 0755;
		r = copy_file_at(bfd, ffd, w.files[i], mode, sha, &size);
		char *n = xasprintf("%sfile %s %llu %o %s\n", man, sha, (unsigned long long)size,
				    (unsigned)mode, w.files[i]);
		free(man);
		man = n;
	}
	strv_free(w.dirs);
	strv_free(w.files);
	if (r >= 0)
		r = write_at(tfd, "inputs", inputs);
	/* The manifest last: an entry without one is a leftover, pruned. */
	if (r >= 0)
		r = write_at(tfd, "manifest", man);
	return r;
}

static int publish(struct dk_cache *c, const char *tmp, const char *key)
{
	_cleanup_free_ char *name = entry_name(key), *kk = xstrndup(key, 2);
	if (mkdirat(c->dir_fd, kk, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (renameat(c->dir_fd, tmp, c->dir_fd, name) == 0)
		return 0;
	if (errno != EEXIST && errno != ENOTEMPTY)
		return -errno;
	/* Replace what is there (a --force rebuild); a concurrent store of the
	 * same key may win the race, which is as good. */
	entry_remove(c, key);
	if (mkdirat(c->dir_fd, kk, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (renameat(c->dir_fd, tmp, c->dir_fd, name) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		return -errno;
	return 0;
}

int cache_store(struct dk_cache *c, const char *key, const char *inputs, const struct dk_pkg *pkg,
		const char *kver, const char *arch)
{
	if (!c->writable)
		return -EROFS;
	_cleanup_free_ char *base =
		path_join(c->ctx->dkms_tree, pkg->name, pkg->version, kver, arch);
	_cleanup_close_ int bfd =
		chase(c->root_fd, base, CHASE_IN_ROOT, O_RDONLY | O_DIRECTORY, NULL);
	if (bfd < 0)
		return bfd;
	/* Never store what a fetch would refuse (sign-file failed, say). */
	const char *cert = cache_kernel_get(c, kver, arch)->cert;
	_cleanup_free_ char *moddir = xasprintf("/proc/self/fd/%d/module", bfd), *bad = NULL;
	_cleanup_strv_free_ char **mods = NULL;
	int r = expected_modules(pkg, moddir, &mods);
	if (r >= 0 && cert)
		r = verify_signatures(mods, cert, &bad);
	if (r < 0)
		return log_debug_errno(r,
				       "Not stored in the build cache: %s: %s does not verify: %m",
				       base, bad ? bad : "a module");
	_cleanup_free_ char *tmp = NULL;
	r = make_tmp(c, "new", &tmp);
	if (r < 0)
		return r;
	if (mkdirat(c->dir_fd, tmp, 0755) < 0)
		return -errno;
	_cleanup_close_ int tfd =
		openat(c->dir_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = tfd < 0 ? -errno : fill_entry(bfd, tfd, key, inputs, pkg, kver, arch);
	/* No fsync: a torn entry fails its digests and is ignored, then
	 * replaced; a build is not slowed down for its cache's sake. */
	if (r >= 0)
		r = publish(c, tmp, key);
	if (r < 0) {
		remove_rel(c, tmp);
		return log_debug_errno(r, "Not stored in the build cache: %s: %m", base);
	}
	return 0;
}
