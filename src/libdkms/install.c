// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <sys/stat.h>

#include "install.h"
#include "kmod.h"
#include "log.h"
#include "spawn.h"
#include "tree.h"

/* One key of the root's os-release (else the host's), unquoted, or NULL. */
static char *os_release_value(const struct dk_ctx *ctx, const char *key)
{
	_cleanup_free_ char *p = ctx_path(ctx, "/etc/os-release");
	_cleanup_free_ char *c = NULL;
	if (read_full_file(p, &c, NULL, 1 << 20) < 0 &&
	    read_full_file("/etc/os-release", &c, NULL, 1 << 20) < 0)
		return NULL;
	_cleanup_strv_free_ char **lines = strv_split(c, "\n");
	size_t kl = strlen(key);
	for (size_t i = 0; lines[i]; i++) {
		if (strncmp(lines[i], key, kl) != 0 || lines[i][kl] != '=')
			continue;
		char *v = lines[i] + kl + 1;
		size_t n = strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
			return xstrndup(v + 1, n - 2);
		return xstrdup(v);
	}
	return NULL;
}

char *install_distribution(const struct dk_ctx *ctx)
{
	/* As dkms: ubuntu is itself (its ID_LIKE says debian), else ID_LIKE, else ID. */
	char *id = os_release_value(ctx, "ID");
	if (id && streq(id, "ubuntu"))
		return id;
	char *like = os_release_value(ctx, "ID_LIKE");
	if (!isempty(like)) {
		free(id);
		return like;
	}
	free(like);
	return id;
}

/* dkms overrides DEST_MODULE_LOCATION per distribution family. */
static const char *distro_location(const struct dk_ctx *ctx)
{
	_cleanup_free_ char *d = install_distribution(ctx);
	if (!d)
		return "/updates/dkms";
	if (startswith(d, "debian") || startswith(d, "ubuntu") || startswith(d, "arch"))
		return "/updates/dkms";
	if (startswith(d, "fedora") || startswith(d, "rhel") || startswith(d, "ovm"))
		return "/extra";
	if (startswith(d, "sles") || startswith(d, "suse") || startswith(d, "opensuse"))
		return "/updates";
	return NULL;
}

char *install_dest_location(const struct dk_ctx *ctx, const struct dk_pkg *pkg, size_t i)
{
	const char *d = distro_location(ctx);
	if (d)
		return xstrdup(d);
	const char *loc = pkg ? pkg->modules[i].dest_location : NULL;
	return xstrdup(isempty(loc) ? "/updates/dkms" : loc);
}

static char *built_file(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			const char *arch, size_t i)
{
	_cleanup_free_ char *dir =
		ctx_dkms_path(ctx, pkg->name, pkg->version, kver, arch, "module");
	return tree_find_module_file(dir, pkg->modules[i].dest_name);
}

/* <install_tree>/kver[/loc] as a host path, its links followed inside the
 * root (ctx_resolved_path): what is removed, moved or archived there is
 * never reached through a link that leads to the host's module tree. */
static char *module_dir(const struct dk_ctx *ctx, const char *kver, const char *loc)
{
	_cleanup_free_ char *p = path_join(ctx->install_tree, kver, loc);
	return ctx_resolved_path(ctx, p);
}

/* Refuses to shadow a newer module of the same name shipped with the kernel. */
static int check_version(const struct dk_ctx *ctx, const char *kver, const char *ours,
			 const char *name, const char *dest_dir, char **ret_error)
{
	_cleanup_free_ char *moddir = module_dir(ctx, kver, NULL);
	/* What is where this module goes (another version of it, even before
	 * depmod ran), else what the kernel's index finds. */
	_cleanup_free_ char *theirs_path = tree_find_module_file(dest_dir, name);
	if (!theirs_path && kmod_lookup_path(moddir, name, &theirs_path) < 0)
		return 0;
	if (files_equal(theirs_path, ours))
		return 0; /* this very module, from an earlier install */
	_cleanup_free_ char *theirs_v = NULL, *ours_v = NULL;
	if (kmod_file_info(theirs_path, "version", &theirs_v) < 0 ||
	    kmod_file_info(ours, "version", &ours_v) < 0)
		return 0;
	if (version_cmp(ours_v, theirs_v) > 0)
		return 0;
	*ret_error = xasprintf(
		"Module version %s for %s.ko is not newer than what is already found in kernel %s (%s). You may override by specifying --force.",
		ours_v, name, kver, theirs_v);
	return -EEXIST;
}

/* Debian and Ubuntu leave a module the kernel package ships where it is
 * (dpkg owns that file; depmod prefers updates/); dkms 3.0.10 moves it
 * aside on every other distribution. */
static bool keeps_originals(const struct dk_ctx *ctx)
{
	_cleanup_free_ char *d = install_distribution(ctx);
	return !d || !(startswith(d, "debian") || startswith(d, "ubuntu"));
}

/* The first regular file named name.ko[.comp] under dir, in directory order
 * (as find(1) walks), that is not the same as ours, or NULL. */
static char *find_module_under(const char *dir, const char *name, const char *ours, int depth)
{
	DIR *d = depth <= 16 ? opendir(dir) : NULL;
	if (!d)
		return NULL;
	char *found = NULL;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		if (streq(e->d_name, ".") || streq(e->d_name, ".."))
			continue;
		_cleanup_free_ char *p = path_join(dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		const char *rest = startswith(e->d_name, name);
		if (S_ISDIR(st.st_mode))
			found = find_module_under(p, name, ours, depth + 1);
		else if (S_ISREG(st.st_mode) && rest &&
			 (streq(rest, ".ko") || streq(rest, ".ko.zst") || streq(rest, ".ko.xz") ||
			  streq(rest, ".ko.gz")) &&
			 !files_equal(p, ours))
			found = TAKE_PTR(p);
	}
	closedir(d);
	return found;
}

/* Moves src to dst (copying across file systems). */
static int move_file(const char *src, const char *dst)
{
	_cleanup_free_ char *dir = xstrdup(dst);
	*strrchr(dir, '/') = 0;
	int r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	if (rename(src, dst) == 0)
		return fsync_dir_of(dst), 0;
	if (errno != EXDEV)
		return -errno;
	struct stat st;
	if (stat(src, &st) < 0)
		return -errno;
	r = copy_file_atomic(src, dst, st.st_mode & 07777);
	if (r < 0)
		return r;
	return unlink(src) < 0 ? -errno : 0;
}

/* A path under the root as dkms inside it would see it. */
static const char *in_root(const struct dk_ctx *ctx, const char *host_path)
{
	const char *p = isempty(ctx->root) ? host_path : startswith(host_path, ctx->root);
	return p ? p : host_path;
}

/* Before the first install of module i for kver/arch (no kernel-<kver>-<arch>
 * link), dkms keeps a module of the same name that is already in the kernel's
 * tree in <dkms_tree>/<m>/original_module/<kver>/<arch>/: the first of
 * extra/, updates/, the destination directory, then anywhere in the tree.
 * Where it came from goes beside it in NAME.ko.origin (as dkms 3.2+ writes
 * it), so uninstall puts it back in the same place. An archive already there
 * is never overwritten (an interrupted install), and a file equal to our own
 * built module is ours, not an original. */
static int archive_original(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			    const char *arch, size_t i, const char *built, const char *dest_dir,
			    char **ret_error)
{
	const char *name = pkg->modules[i].dest_name;
	_cleanup_free_ char *keep = ctx_dkms_path(ctx, pkg->name, "original_module", kver, arch);
	_cleanup_free_ char *kept = tree_find_module_file(keep, name);
	_cleanup_free_ char *lname = xasprintf("kernel-%s-%s", kver, arch);
	_cleanup_free_ char *link = ctx_dkms_path(ctx, pkg->name, lname);
	if (kept || path_is_symlink(link) || !keeps_originals(ctx))
		return 0;
	_cleanup_free_ char *lib = module_dir(ctx, kver, NULL);
	_cleanup_free_ char *extra = module_dir(ctx, kver, "extra");
	_cleanup_free_ char *updates = module_dir(ctx, kver, "updates");
	char *cands[] = { tree_find_module_file(extra, name), tree_find_module_file(updates, name),
			  tree_find_module_file(dest_dir, name),
			  find_module_under(lib, name, built, 0) };
	const char *orig = NULL;
	for (size_t c = 0; c < ELEMENTSOF(cands) && !orig; c++)
		if (cands[c] && path_is_reg(cands[c]) && !files_equal(cands[c], built))
			orig = cands[c];
	int r = 0;
	if (orig) {
		_cleanup_free_ char *dst = path_join(keep, path_basename(orig));
		_cleanup_free_ char *origin = xasprintf("%s.origin", dst);
		_cleanup_free_ char *line = xasprintf("%s\n", in_root(ctx, orig));
		/* Where it came from first: a crash between the two leaves the
		 * original in place, never an archive without its origin. */
		r = mkdir_p(keep, 0755);
		if (r >= 0)
			r = write_file_atomic(origin, line, strlen(line), 0644);
		if (r >= 0)
			r = move_file(orig, dst);
		if (r < 0)
			*ret_error = xasprintf("Failed to keep the original %s in %s: %s", orig,
					       keep, strerror(-r));
	}
	for (size_t c = 0; c < ELEMENTSOF(cands); c++)
		free(cands[c]);
	return r;
}

int install_files(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		  const char *arch, char ***ret_files, char **ret_error)
{
	_cleanup_strv_free_ char **srcs = NULL, **dsts = NULL, **placed = NULL;
	for (size_t i = 0; i < pkg->n_modules; i++) {
		char *src = built_file(ctx, pkg, kver, arch, i);
		if (!src) {
			*ret_error = xasprintf(
				"Built module %s for %s (%s) is missing from the dkms tree",
				pkg->modules[i].dest_name, kver, arch);
			return -ENOENT;
		}
		strv_consume(&srcs, src);
		_cleanup_free_ char *loc = install_dest_location(ctx, pkg, i);
		_cleanup_free_ char *dir = module_dir(ctx, kver, loc);
		const char *suffix = strstr(path_basename(src), ".ko");
		strv_consume(&dsts, xasprintf("%s/%s%s", dir, pkg->modules[i].dest_name, suffix));
		if (!ctx->force && !ctx->force_version_override) {
			int r = check_version(ctx, kver, src, pkg->modules[i].dest_name, dir,
					      ret_error);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; srcs && srcs[i]; i++) {
		_cleanup_free_ char *dir = xstrdup(dsts[i]);
		*strrchr(dir, '/') = 0;
		int r = archive_original(ctx, pkg, kver, arch, i, srcs[i], dir, ret_error);
		if (r < 0)
			return r;
		/* The directory as a chroot into the root finds (and makes) it: an
		 * absolute link in an image's /lib/modules never leads to the
		 * host's. */
		_cleanup_free_ char *loc = install_dest_location(ctx, pkg, i);
		_cleanup_free_ char *inside = path_join(ctx->install_tree, kver, loc);
		_cleanup_free_ char *real_dir = NULL;
		r = ctx_open(ctx, inside, O_PATH | O_DIRECTORY, true, &real_dir);
		if (r >= 0)
			close(r);
		_cleanup_free_ char *dst =
			r >= 0 ? path_join(real_dir, path_basename(dsts[i])) : xstrdup(dsts[i]);
		/* framework.conf's symlink_modules: a link to the built module, as
		 * seen inside the root, instead of a copy. */
		const char *in_root = startswith(srcs[i], ctx->root);
		if (r >= 0 && ctx->symlink_modules)
			r = symlink_atomic(!isempty(ctx->root) && in_root ? in_root : srcs[i], dst);
		else if (r >= 0)
			r = copy_file_atomic(srcs[i], dst, 0644);
		if (r < 0) {
			*ret_error = xasprintf("Failed to install %s: %s", dsts[i], strerror(-r));
			return r;
		}
		strv_push(&placed, dst);
	}
	if (ret_files)
		*ret_files = TAKE_PTR(placed);
	return 0;
}

/* .kernel-<kver>-<arch>.uninstalling: the kernel-<kver>-<arch> link, renamed
 * before the first module file goes, so that a kill part-way never leaves
 * "installed" with files missing; whatever removes or installs the module
 * for that kernel next finishes it. Hidden: status and dkms never list it. */
static char *uninstall_marker(const struct dk_ctx *ctx, const char *m, const char *kver,
			      const char *arch)
{
	_cleanup_free_ char *name = xasprintf(".kernel-%s-%s.uninstalling", kver, arch);
	return ctx_dkms_path(ctx, m, name);
}

int install_publish(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		    const char *arch, char **ret_error)
{
	_cleanup_free_ char *name = xasprintf("kernel-%s-%s", kver, arch);
	_cleanup_free_ char *lp = ctx_dkms_path(ctx, pkg->name, name);
	_cleanup_free_ char *target = xasprintf("%s/%s/%s", pkg->version, kver, arch);
	int r = symlink_atomic(target, lp);
	if (r < 0) {
		*ret_error = xasprintf("Failed to create %s: %s", lp, strerror(-r));
		return r;
	}
	/* An uninstall cut short before this install: the files are new now. */
	_cleanup_free_ char *marker = uninstall_marker(ctx, pkg->name, kver, arch);
	if (unlink(marker) == 0)
		fsync_dir_of(marker);
	return 0;
}

/* Where the kept original f goes back: its .origin line when that is a
 * path in the kernel's module tree, else DEST_MODULE_LOCATION (dkms 3.0.10,
 * which wrote no .origin). */
static char *original_target(const struct dk_ctx *ctx, const struct dk_pkg *pkg, size_t i,
			     const char *kver, const char *f)
{
	_cleanup_free_ char *origin = xasprintf("%s.origin", f), *c = NULL;
	/* As dkms writes it (/lib/modules/K/...) or with the links on the way
	 * followed (/usr/lib/modules/K/... on a merged /usr). */
	_cleanup_free_ char *lib = module_dir(ctx, kver, NULL);
	_cleanup_free_ char *prefix = xasprintf("%s/", in_root(ctx, lib));
	_cleanup_free_ char *plain = path_join(ctx->install_tree, kver, "/");
	if (read_full_file(origin, &c, NULL, 1 << 16) >= 0) {
		c[strcspn(c, "\n")] = 0;
		if ((startswith(c, prefix) || startswith(c, plain)) && !strstr(c, "/../") &&
		    !endswith(c, "/.."))
			return ctx_resolved_path(ctx, c);
		log_warning("Bad original location '%s' in %s", c, origin);
	}
	_cleanup_free_ char *dir = module_dir(ctx, kver, strempty(pkg->modules[i].dest_location));
	return path_join(dir, path_basename(f));
}

/* Puts back what archive_original kept, then removes the archive (dkms
 * keeps a collisions/ directory for reference). Returns how many. */
static int restore_originals(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			     const char *arch)
{
	_cleanup_free_ char *top = ctx_dkms_path(ctx, pkg->name, "original_module");
	_cleanup_free_ char *keep = path_join(top, kver, arch);
	if (!path_is_dir(keep))
		return 0;
	int n = 0;
	for (size_t i = 0; i < pkg->n_modules; i++) {
		_cleanup_free_ char *f = tree_find_module_file(keep, pkg->modules[i].dest_name);
		if (!f)
			continue;
		_cleanup_free_ char *dst = original_target(ctx, pkg, i, kver, f);
		int r = move_file(f, dst);
		if (r < 0) {
			log_warning("Cannot put back %s as %s: %s", f, dst, strerror(-r));
			return n; /* the archive stays: nothing is lost */
		}
		_cleanup_free_ char *origin = xasprintf("%s.origin", f);
		unlink(origin);
		n++;
	}
	_cleanup_free_ char *collisions = path_join(keep, "collisions");
	if (path_is_dir(collisions))
		return n;
	rm_rf(keep);
	rmdir_parents(keep, top);
	rmdir(top);
	return n;
}

/* Unlinks the module files of pkg for kver, each suffix once: a file that
 * cannot be removed (a directory in its place, a read-only or immutable
 * file) is an error, never a loop. */
static int remove_files(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			char **ret_error)
{
	static const char *const suffixes[] = { ".ko", ".ko.zst", ".ko.xz", ".ko.gz" };
	_cleanup_free_ char *stop = module_dir(ctx, kver, NULL);
	int r = 0;
	for (size_t i = 0; i < pkg->n_modules; i++) {
		_cleanup_free_ char *loc = install_dest_location(ctx, pkg, i);
		_cleanup_free_ char *dir = module_dir(ctx, kver, loc);
		for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
			_cleanup_free_ char *f =
				xasprintf("%s/%s%s", dir, pkg->modules[i].dest_name, suffixes[k]);
			if (unlink(f) == 0) {
				rmdir_parents(f, stop);
				continue;
			}
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			int e = -errno;
			if (r == 0)
				r = reason_set(ret_error, e, "Cannot remove %s: %s", f,
					       strerror(-e));
		}
	}
	return r;
}

int install_remove_strays(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			  const char *arch)
{
	_cleanup_free_ char *stop = module_dir(ctx, kver, NULL);
	_cleanup_free_ char *marker = uninstall_marker(ctx, pkg->name, kver, arch);
	int n = 0;
	if (path_is_symlink(marker)) {
		/* An uninstall that was cut short: its files are ours. */
		_cleanup_free_ char *err = NULL;
		if (remove_files(ctx, pkg, kver, &err) < 0) {
			log_warning("%s", err);
			return 0;
		}
		unlink(marker);
		fsync_dir_of(marker);
		n++;
	}
	for (size_t i = 0; i < pkg->n_modules; i++) {
		_cleanup_free_ char *built = built_file(ctx, pkg, kver, arch, i);
		_cleanup_free_ char *loc = install_dest_location(ctx, pkg, i);
		_cleanup_free_ char *dir = module_dir(ctx, kver, loc);
		_cleanup_free_ char *f = tree_find_module_file(dir, pkg->modules[i].dest_name);
		if (!built || !f || !files_equal(built, f))
			continue;
		if (unlink(f) == 0) {
			rmdir_parents(f, stop);
			n++;
		}
	}
	/* Another version installed for this kernel still stands in for it. */
	_cleanup_free_ char *lname = xasprintf("kernel-%s-%s", kver, arch);
	_cleanup_free_ char *link = ctx_dkms_path(ctx, pkg->name, lname);
	if (!path_is_symlink(link))
		n += restore_originals(ctx, pkg, kver, arch);
	return n;
}

int install_remove(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		   const char *arch, char **ret_error)
{
	/* The link goes first (renamed to the marker), so a kill from here on
	 * leaves "built", never "installed" with files missing; the marker
	 * goes last, so a kill never leaves files nothing will remove. A file
	 * that cannot be removed puts the link back: still installed. */
	_cleanup_free_ char *name = xasprintf("kernel-%s-%s", kver, arch);
	_cleanup_free_ char *lp = ctx_dkms_path(ctx, pkg->name, name);
	_cleanup_free_ char *marker = uninstall_marker(ctx, pkg->name, kver, arch);
	struct stat st;
	if (lstat(lp, &st) == 0 && !S_ISLNK(st.st_mode))
		return reason_set(ret_error, -EISDIR, "Cannot remove %s: not a symbolic link", lp);
	bool renamed = rename(lp, marker) == 0;
	if (!renamed && errno != ENOENT)
		return reason_set(ret_error, -errno, "Cannot remove %s: %m", lp);
	if (renamed)
		fsync_dir_of(lp);
	int r = remove_files(ctx, pkg, kver, ret_error);
	if (r < 0) {
		if (renamed && rename(marker, lp) == 0)
			fsync_dir_of(lp);
		return r;
	}
	if (unlink(marker) < 0 && errno != ENOENT)
		return reason_set(ret_error, -errno, "Cannot remove %s: %m", marker);
	fsync_dir_of(lp);
	restore_originals(ctx, pkg, kver, arch);
	return 0;
}

int install_depmod_start(const struct dk_ctx *ctx, const char *kver, pid_t *ret_pid)
{
	_cleanup_free_ char *moddir = module_dir(ctx, kver, NULL);
	if (!path_is_dir(moddir)) {
		*ret_pid = 0;
		return 0;
	}
	char *argv[] = { "depmod",     "-a", "-b", isempty(ctx->root) ? "/" : ctx->root,
			 (char *)kver, NULL };
	struct spawn_opts o = { .out_fd = -1 };
	return spawn_start(argv, &o, ret_pid);
}

int install_depmod_finish(pid_t pid)
{
	if (pid == 0)
		return 0;
	int r = spawn_reap(pid);
	return r == 0 ? 0 : r < 0 ? r : -EIO;
}

int install_depmod(const struct dk_ctx *ctx, const char *kver)
{
	pid_t pid;
	int r = install_depmod_start(ctx, kver, &pid);
	return r < 0 ? r : install_depmod_finish(pid);
}

static char **modaliases;
static int collect_modalias(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag != FTW_F || !streq(path_basename(p), "modalias"))
		return 0;
	_cleanup_free_ char *c = NULL;
	if (read_full_file(p, &c, NULL, 4096) < 0)
		return 0;
	c[strcspn(c, "\n")] = 0;
	if (*c && !strv_contains(modaliases, c))
		strv_push(&modaliases, c);
	return 0;
}

int install_modprobe(const struct dk_ctx *ctx, const char *kver)
{
	struct utsname u;
	if (!isempty(ctx->root) || uname(&u) < 0 || !streq(u.release, kver))
		return 0;
	modaliases = NULL;
	nftw("/sys/devices", collect_modalias, 16, FTW_PHYS);
	_cleanup_strv_free_ char **aliases = TAKE_PTR(modaliases);
	int r = 0;
	if (aliases) {
		_cleanup_strv_free_ char **argv = NULL;
		strv_push(&argv, "modprobe");
		strv_push(&argv, "-a");
		strv_push(&argv, "-b");
		strv_push(&argv, "-q");
		for (size_t i = 0; aliases[i]; i++)
			strv_push(&argv, aliases[i]);
		r = spawn_wait(argv, NULL);
	}
	if (path_exists("/lib/systemd/system/systemd-modules-load.service")) {
		char *sc[] = { "systemctl", "restart", "systemd-modules-load.service", NULL };
		spawn_wait(sc, NULL);
	}
	return r;
}
