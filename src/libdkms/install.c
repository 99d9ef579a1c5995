// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <sys/stat.h>

#include "install.h"
#include "kmod.h"
#include "spawn.h"
#include "tree.h"

/* dkms overrides DEST_MODULE_LOCATION per distribution family. */
static const char *distro_location(const struct dk_ctx *ctx)
{
	_cleanup_free_ char *p = ctx_path(ctx, "/etc/os-release");
	_cleanup_free_ char *c = NULL;
	if (read_full_file(p, &c, NULL, 1 << 20) < 0 &&
	    read_full_file("/etc/os-release", &c, NULL, 1 << 20) < 0)
		return "/updates/dkms";
	_cleanup_strv_free_ char **lines = strv_split(c, "\n");
	for (size_t i = 0; lines[i]; i++) {
		const char *v = startswith(lines[i], "ID=");
		if (!v)
			v = startswith(lines[i], "ID_LIKE=");
		if (!v)
			continue;
		if (strstr(v, "debian") || strstr(v, "ubuntu") || strstr(v, "arch"))
			return "/updates/dkms";
		if (strstr(v, "fedora") || strstr(v, "rhel") || strstr(v, "ovm"))
			return "/extra";
		if (strstr(v, "suse"))
			return "/updates";
	}
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

/* Refuses to shadow a newer module of the same name shipped with the kernel. */
static int check_version(const struct dk_ctx *ctx, const char *kver, const char *ours,
			 const char *name, const char *dest_dir, char **ret_error)
{
	_cleanup_free_ char *moddir = ctx_install_path(ctx, kver);
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

int install_files(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		  const char *arch, char **ret_error)
{
	_cleanup_strv_free_ char **srcs = NULL, **dsts = NULL;
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
		_cleanup_free_ char *dir = ctx_install_path(ctx, kver, loc);
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
		int r = mkdir_p(dir, 0755);
		if (r >= 0)
			r = copy_file_atomic(srcs[i], dsts[i], 0644);
		if (r < 0) {
			*ret_error = xasprintf("Failed to install %s: %s", dsts[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

int install_publish(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		    const char *arch, char **ret_error)
{
	_cleanup_free_ char *name = xasprintf("kernel-%s-%s", kver, arch);
	_cleanup_free_ char *lp = ctx_dkms_path(ctx, pkg->name, name);
	_cleanup_free_ char *target = xasprintf("%s/%s/%s", pkg->version, kver, arch);
	int r = symlink_atomic(target, lp);
	if (r < 0)
		*ret_error = xasprintf("Failed to create %s: %s", lp, strerror(-r));
	return r;
}

int install_remove_strays(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			  const char *arch)
{
	_cleanup_free_ char *stop = ctx_install_path(ctx, kver);
	int n = 0;
	for (size_t i = 0; i < pkg->n_modules; i++) {
		_cleanup_free_ char *built = built_file(ctx, pkg, kver, arch, i);
		_cleanup_free_ char *loc = install_dest_location(ctx, pkg, i);
		_cleanup_free_ char *dir = ctx_install_path(ctx, kver, loc);
		_cleanup_free_ char *f = tree_find_module_file(dir, pkg->modules[i].dest_name);
		if (!built || !f || !files_equal(built, f))
			continue;
		if (unlink(f) == 0) {
			rmdir_parents(f, stop);
			n++;
		}
	}
	return n;
}

int install_remove(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		   const char *arch)
{
	_cleanup_free_ char *name = xasprintf("kernel-%s-%s", kver, arch);
	_cleanup_free_ char *lp = ctx_dkms_path(ctx, pkg->name, name);
	if (unlink(lp) < 0 && errno != ENOENT)
		return -errno;
	fsync_dir_of(lp);
	_cleanup_free_ char *stop = ctx_install_path(ctx, kver);
	for (size_t i = 0; i < pkg->n_modules; i++) {
		_cleanup_free_ char *loc = install_dest_location(ctx, pkg, i);
		_cleanup_free_ char *dir = ctx_install_path(ctx, kver, loc);
		char *f;
		while ((f = tree_find_module_file(dir, pkg->modules[i].dest_name))) {
			unlink(f);
			rmdir_parents(f, stop);
			free(f);
		}
	}
	return 0;
}

int install_depmod(const struct dk_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *moddir = ctx_install_path(ctx, kver);
	if (!path_is_dir(moddir))
		return 0;
	char *argv[] = { "depmod",     "-a", "-b", isempty(ctx->root) ? "/" : ctx->root,
			 (char *)kver, NULL };
	struct spawn_opts o = { .out_fd = -1 };
	int r = spawn_wait(argv, &o);
	return r == 0 ? 0 : r < 0 ? r : -EIO;
}
