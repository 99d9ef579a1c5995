// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "initramfs.h"
#include "install.h"
#include "kbuild.h"
#include "kmod.h"
#include "module.h"
#include "rootfs.h"
#include "tree.h"

const char *agent_state_name(enum agent_mod_state s)
{
	static const char *const names[] = {
		[AGENT_INSTALLED] = "installed", [AGENT_STALE] = "stale",
		[AGENT_BUILT] = "built",	 [AGENT_NOT_BUILT] = "not-built",
		[AGENT_FAILED] = "failed",	 [AGENT_EXCLUDED] = "excluded",
		[AGENT_BROKEN] = "broken",
	};
	return names[s];
}

void agent_mods_free(struct agent_mod *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].version);
		free(m[i].detail);
		strv_free(m[i].files);
		strv_free(m[i].dest_names);
	}
	free(m);
}

char *agent_module_name(const char *file)
{
	char *name = xstrdup(path_basename(file));
	name[strcspn(name, ".")] = 0;
	return name;
}

char *agent_initramfs_path(const struct dk_ctx *ctx, const char *kver, const char *file)
{
	_cleanup_free_ char *kdir = ctx_install_path(ctx, kver);
	size_t n = strlen(kdir);
	if (strncmp(file, kdir, n) == 0 && file[n] == '/')
		return xasprintf("lib/modules/%s%s", kver, file + n);
	return xasprintf("lib/modules/%s/updates/dkms/%s", kver, path_basename(file));
}

bool agent_file_is_early(const struct dk_ctx *ctx, const struct agent_mod *m, const char *file,
			 const char *rootfs_type)
{
	if (m->remake_initrd || strv_contains(ctx->early_modules, m->name))
		return true;
	_cleanup_free_ char *name = agent_module_name(file);
	return strv_contains(ctx->early_modules, name) || streq_ptr(name, rootfs_type);
}

bool agent_mod_needs_work(const struct agent_mod *m, bool force)
{
	switch (m->state) {
	case AGENT_BUILT:
	case AGENT_NOT_BUILT:
	case AGENT_STALE: return m->autoinstall;
	case AGENT_FAILED: return m->autoinstall && (force || !m->failure_is_current);
	default: return false;
	}
}

/* ---- the boot fast path: fixed buffers, no dkms.conf, no allocation per file */

struct quick {
	const struct dk_ctx *ctx;
	const char *tree, *kver, *arch;
	char kdir[PATH_MAX]; /* <root>/lib/modules/K */
	char *distro_loc;    /* the distribution's location, when not /updates/dkms */
	bool distro_loc_known;
	char *skip; /* the skip record, once read */
	bool skip_loaded;
};

/* Concatenates the strings (NULL ends them) into buf[PATH_MAX]; false when
 * the result would not fit. snprintf() costs the fast path more than all
 * its system calls. */
static bool concat(char *buf, ...)
{
	va_list ap;
	size_t n = 0;
	bool fits = true;
	va_start(ap, buf);
	for (const char *s; fits && (s = va_arg(ap, const char *));) {
		size_t l = strlen(s);
		fits = n + l < PATH_MAX;
		if (fits) {
			memcpy(buf + n, s, l);
			n += l;
		}
	}
	va_end(ap);
	buf[n] = 0;
	return fits;
}

static bool installed_at(struct quick *q, const char *loc, const char *file)
{
	char p[PATH_MAX];
	struct stat st;
	return concat(p, q->kdir, loc, "/", file, NULL) && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Every built file of the installed version is in the module directory. */
static bool quick_files_present(struct quick *q, const char *m, const char *target)
{
	char p[PATH_MAX];
	if (target[0] == '/' || !concat(p, q->tree, "/", m, "/", target, "/module", NULL))
		return false;
	DIR *d = opendir(p);
	if (!d)
		return false;
	bool all = true, any = false;
	struct dirent *de;
	while (all && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		any = true;
		if (installed_at(q, "/updates/dkms", de->d_name))
			continue;
		if (!q->distro_loc_known) {
			q->distro_loc = install_dest_location(q->ctx, NULL, 0);
			q->distro_loc_known = true;
		}
		all = !streq(q->distro_loc, "/updates/dkms") &&
		      installed_at(q, q->distro_loc, de->d_name);
	}
	closedir(d);
	return all && any;
}

static bool quick_has_added_version(struct quick *q, const char *m)
{
	char p[PATH_MAX];
	if (!concat(p, q->tree, "/", m, NULL))
		return false;
	DIR *d = opendir(p);
	if (!d)
		return false;
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' || startswith(de->d_name, "kernel-"))
			continue;
		char s[PATH_MAX];
		found = concat(s, p, "/", de->d_name, "/source", NULL) && access(s, F_OK) == 0;
	}
	closedir(d);
	return found;
}

/* Modules the boot run found to need nothing although they are not
 * installed (excluded by BUILD_EXCLUSIVE, or not AUTOINSTALL), recorded so
 * that the next fast path skips them without reading their dkms.conf:
 * <dkms_tree>/.boot-skip-KVER-ARCH, a line "config KEY" for the kernel's
 * .config, then "MODULE VERSION KEY" lines. A key is the identity and times
 * of what the decision read; any change to them (a version added, dkms.conf
 * edited, the kernel's configuration replaced) voids the line. */
static char *skip_record(const struct dk_ctx *ctx, const char *kver, const char *arch)
{
	_cleanup_free_ char *n = xasprintf(".boot-skip-%s-%s", kver, arch);
	return ctx_dkms_path(ctx, n);
}

static void stat_key(const char *p, char *buf, size_t size, size_t *pos)
{
	struct stat st;
	int n = stat(p, &st) < 0
			? snprintf(buf + *pos, size - *pos, " -")
			: snprintf(buf + *pos, size - *pos, " %llu.%llu.%lld.%ld.%lld",
				   (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
				   (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
				   (long long)st.st_size);
	if (n > 0 && (size_t)n < size - *pos)
		*pos += (size_t)n;
}

static void module_key(const char *tree, const char *m, const char *v, char *buf, size_t size)
{
	char p[PATH_MAX];
	size_t pos = 0;
	buf[0] = 0;
	if (concat(p, tree, "/", m, NULL))
		stat_key(p, buf, size, &pos);
	if (concat(p, tree, "/", m, "/", v, "/source/dkms.conf", NULL))
		stat_key(p, buf, size, &pos);
}

static void config_key(const struct dk_ctx *ctx, const char *kver, char *buf, size_t size)
{
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *conf = path_join(ksrc, ".config");
	size_t pos = 0;
	buf[0] = 0;
	stat_key(conf, buf, size, &pos);
}

void agent_boot_skip_write(const struct dk_ctx *ctx, const char *kver, const char *arch,
			   const struct agent_mod *mods, size_t n)
{
	_cleanup_free_ char *tree = ctx_dkms_path(ctx, "");
	_cleanup_free_ char *path = skip_record(ctx, kver, arch);
	_cleanup_free_ char *text = NULL;
	char key[256];
	size_t lines = 0;
	config_key(ctx, kver, key, sizeof(key));
	text = xasprintf("config%s\n", key);
	for (size_t i = 0; i < n; i++) {
		bool skip = mods[i].state == AGENT_EXCLUDED ||
			    (!mods[i].autoinstall &&
			     (mods[i].state == AGENT_BUILT || mods[i].state == AGENT_NOT_BUILT));
		if (!skip)
			continue;
		module_key(tree, mods[i].name, mods[i].version, key, sizeof(key));
		char *t = xasprintf("%s%s %s%s\n", text, mods[i].name, mods[i].version, key);
		free(text);
		text = t;
		lines++;
	}
	if (lines)
		write_file_atomic(path, text, strlen(text), 0644);
	else
		unlink(path);
}

/* Whether the record says m needs nothing, and still holds. */
static bool quick_skipped(struct quick *q, const char *m)
{
	if (!q->skip_loaded) {
		q->skip_loaded = true;
		_cleanup_free_ char *p = skip_record(q->ctx, q->kver, q->arch);
		char key[256];
		if (read_full_file(p, &q->skip, NULL, 1 << 20) < 0)
			return false;
		config_key(q->ctx, q->kver, key, sizeof(key));
		size_t l = strcspn(q->skip, "\n");
		if (!startswith(q->skip, "config") || l != 6 + strlen(key) ||
		    strncmp(q->skip + 6, key, l - 6) != 0) {
			free(q->skip);
			q->skip = NULL;
		}
	}
	size_t ml = strlen(m);
	for (const char *line = q->skip; line && *line;) {
		const char *end = line + strcspn(line, "\n");
		if (strncmp(line, m, ml) == 0 && line[ml] == ' ') {
			const char *v = line + ml + 1;
			size_t vl = strcspn(v, " \n");
			char ver[NAME_MAX + 1], key[256];
			if (vl == 0 || vl > NAME_MAX)
				return false;
			memcpy(ver, v, vl);
			ver[vl] = 0;
			module_key(q->tree, m, ver, key, sizeof(key));
			return (size_t)(end - (v + vl)) == strlen(key) &&
			       strncmp(v + vl, key, strlen(key)) == 0;
		}
		line = *end ? end + 1 : end;
	}
	return false;
}

int agent_boot_candidates(const struct dk_ctx *ctx, const char *kver, const char *arch, char ***ret)
{
	_cleanup_free_ char *tree = ctx_dkms_path(ctx, "");
	_cleanup_free_ char *kdir = ctx_install_path(ctx, kver);
	struct quick q = { .ctx = ctx, .tree = tree, .kver = kver, .arch = arch };
	char **l = NULL;
	int n = 0;
	*ret = NULL;
	if (strlen(kdir) >= sizeof(q.kdir))
		return -ENAMETOOLONG;
	strcpy(q.kdir, kdir);
	DIR *d = opendir(tree);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *m = de->d_name;
		if (m[0] == '.')
			continue;
		char link[PATH_MAX], target[PATH_MAX];
		if (!concat(link, tree, "/", m, "/kernel-", kver, "-", arch, NULL))
			continue;
		ssize_t t = readlink(link, target, sizeof(target) - 1);
		bool ok;
		if (t > 0) {
			target[t] = 0;
			ok = quick_files_present(&q, m, target);
		} else {
			ok = !quick_has_added_version(&q, m) || quick_skipped(&q, m);
		}
		if (!ok) {
			strv_push(&l, m);
			n++;
		}
	}
	closedir(d);
	free(q.distro_loc);
	free(q.skip);
	*ret = l;
	return n;
}

/* ---- the full scan ------------------------------------------------------- */

/* Installed module files of m, from its built files in the tree: each lands
 * under its install location (dkms.conf's, or the distribution's) by the
 * same name. Returns whether all of them exist. */
static bool installed_files(const struct dk_ctx *ctx, const struct dk_tree *t, struct agent_mod *m,
			    const char *kver, const char *arch, const struct dk_pkg *pkg)
{
	_cleanup_free_ char *moddir = path_join(t->dir, m->name, m->version, kver, arch, "module");
	_cleanup_strv_free_ char **built = NULL;
	dir_list(moddir, &built);
	strv_free(m->files);
	m->files = NULL;
	if (strv_length(built) == 0)
		return false;
	bool all = true;
	for (size_t i = 0; built[i]; i++) {
		_cleanup_free_ char *name = agent_module_name(built[i]);
		size_t idx = 0;
		while (pkg && idx < pkg->n_modules && !streq(pkg->modules[idx].dest_name, name))
			idx++;
		_cleanup_free_ char *loc =
			install_dest_location(ctx, pkg && idx < pkg->n_modules ? pkg : NULL, idx);
		char *f = ctx_install_path(ctx, kver, loc, built[i]);
		strv_consume(&m->files, f);
		all = all && path_is_reg(f);
	}
	return all;
}

static void scan_one(const struct dk_ctx *ctx, const struct dk_tree *t, struct agent_mod *m,
		     const char *kver, const char *arch, bool quick)
{
	_cleanup_free_ char *inst = tree_installed_version(t, m->name, kver, arch);
	if (inst && tree_is_installed(t, m->name, inst, kver, arch)) {
		free(m->version);
		m->version = TAKE_PTR(inst);
		m->autoinstall = true;
		if (installed_files(ctx, t, m, kver, arch, NULL)) {
			m->state = AGENT_INSTALLED;
			if (quick)
				return;
		} else {
			m->state = AGENT_STALE;
		}
	}
	_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
	_cleanup_free_ char *src = ctx_source_dir(ctx, m->name, m->version);
	char *err = NULL;
	if (!path_is_dir(src))
		err = xasprintf("the source link of %s/%s is dangling", m->name, m->version);
	else if (module_load(ctx, m->name, m->version, NULL, kver, arch, &pkg, &err) >= 0)
		err = NULL;
	if (err || !pkg) {
		m->state = AGENT_BROKEN;
		m->bad_conf = path_is_dir(src);
		free(m->detail);
		m->detail = err ? err : xstrdup("invalid dkms.conf");
		return;
	}
	m->autoinstall = pkg->autoinstall;
	m->remake_initrd = pkg->remake_initrd;
	for (size_t i = 0; i < pkg->n_modules; i++)
		strv_push(&m->dest_names, pkg->modules[i].dest_name);
	if (m->state == AGENT_INSTALLED || m->state == AGENT_STALE) {
		/* Judged by the files, where dkms.conf puts them. */
		if (installed_files(ctx, t, m, kver, arch, pkg)) {
			m->state = AGENT_INSTALLED;
		} else {
			m->state = AGENT_STALE;
			m->files_missing = true;
			for (size_t i = 0; m->files && m->files[i] && !m->detail; i++)
				if (!path_is_reg(m->files[i]))
					m->detail = xasprintf("%s is missing", m->files[i]);
			if (!m->detail)
				m->detail = xstrdup("no built module file in the tree");
		}
		for (size_t i = 0; m->state == AGENT_INSTALLED && m->files && m->files[i]; i++) {
			_cleanup_free_ char *vm = NULL;
			if (kmod_file_info(m->files[i], "vermagic", &vm) < 0)
				continue;
			size_t kl = strlen(kver);
			if (strncmp(vm, kver, kl) != 0 || (vm[kl] != ' ' && vm[kl] != 0)) {
				m->state = AGENT_STALE;
				m->detail = xasprintf("%s was built for %.*s", m->files[i],
						      (int)strcspn(vm, " "), vm);
			}
		}
		return;
	}
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
	char *why = pkg_exclusion(pkg, kver, arch, kconfig);
	if (why) {
		m->state = AGENT_EXCLUDED;
		m->detail = why;
		return;
	}
	_cleanup_free_ char *base = tree_path(t, m->name, m->version, kver, arch);
	if (path_is_dir(base)) {
		m->state = AGENT_BUILT;
		return;
	}
	_cleanup_free_ char *log = kbuild_failed_log(ctx, m->name, m->version, kver, arch);
	if (path_exists(log)) {
		m->state = AGENT_FAILED;
		m->detail = TAKE_PTR(log);
		m->failure_is_current = kbuild_failure_is_current(ctx, pkg, kver, arch);
		return;
	}
	m->state = AGENT_NOT_BUILT;
}

int agent_scan(const struct dk_ctx *ctx, const char *kver, const char *arch, bool quick,
	       struct agent_mod **ret, size_t *ret_n)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	int r = tree_list_modules(&t, &mods);
	if (r < 0) {
		free(t.dir);
		return r;
	}
	struct agent_mod *l = NULL;
	size_t n = 0;
	for (size_t i = 0; mods[i]; i++) {
		_cleanup_strv_free_ char **vs = NULL;
		tree_list_versions(&t, mods[i], &vs);
		strv_sort(vs, version_cmp);
		const char *newest = NULL;
		for (size_t j = 0; vs && vs[j]; j++)
			if (tree_is_added(&t, mods[i], vs[j]))
				newest = vs[j];
		if (!newest)
			continue;
		l = xrealloc(l, (n + 1) * sizeof(*l));
		l[n] = (struct agent_mod){ .name = xstrdup(mods[i]),
					   .version = xstrdup(newest),
					   .state = AGENT_NOT_BUILT };
		scan_one(ctx, &t, &l[n], kver, arch, quick);
		n++;
	}
	free(t.dir);
	*ret = l;
	*ret_n = n;
	return 0;
}

/* ---- images that carry an appended segment -------------------------------- */

static char *appended_marker(const struct dk_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *n = xasprintf(".initramfs-appended-%s", kver);
	return ctx_dkms_path(ctx, n);
}

int agent_appended_mark(const struct dk_ctx *ctx, const char *kver, const char *image)
{
	_cleanup_free_ char *m = appended_marker(ctx, kver);
	return write_file_atomic(m, image, strlen(image), 0644);
}

char **agent_appended_kernels(const struct dk_ctx *ctx)
{
	_cleanup_free_ char *tree = ctx_dkms_path(ctx, "");
	_cleanup_strv_free_ char **names = NULL;
	char **l = NULL;
	dir_list(tree, &names);
	for (size_t k = 0; names && names[k]; k++) {
		const char *kver = startswith(names[k], ".initramfs-appended-");
		if (kver && *kver && !strchr(kver, '/') && !endswith(kver, ".dkms-tmp") &&
		    !strstr(kver, ".dkms-tmp."))
			strv_push(&l, kver);
	}
	return l;
}

int agent_appended_settle(const struct dk_ctx *ctx, const char *kver, bool *ret_regenerated,
			  char **ret_reason)
{
	_cleanup_free_ char *m = appended_marker(ctx, kver);
	*ret_regenerated = false;
	struct initramfs_image *imgs = NULL;
	size_t ni = 0;
	initramfs_find(ctx->root, kver, &imgs, &ni);
	bool carries = false;
	for (size_t k = 0; k < ni && !carries; k++) {
		_cleanup_initramfs_ struct initramfs *img = NULL;
		carries = initramfs_read(imgs[k].path, &img, NULL) >= 0 &&
			  initramfs_lookup(img, INITRAMFS_APPEND_MARKER);
	}
	initramfs_images_free(imgs, ni);
	if (carries) {
		/* Our own initramfs hooks run inside the generator: they must
		 * not start another build or regeneration. */
		setenv("DKMS_AGENT_NESTED", "1", 1);
		/* The new image must hold every early module, or the old one
		 * (appended to, but complete) stays. */
		_cleanup_strv_free_ char **early = NULL;
		_cleanup_free_ char *arch = NULL, *k = NULL;
		module_split_kernel(ctx, kver, &k, &arch);
		struct agent_mod *mods = NULL;
		size_t n = 0;
		struct rootfs_info rfs = { 0 };
		rootfs_probe(ctx->root, ctx->root_device, &rfs);
		agent_scan(ctx, kver, arch, false, &mods, &n);
		for (size_t i = 0; i < n; i++)
			for (size_t f = 0;
			     mods[i].state == AGENT_INSTALLED && mods[i].files && mods[i].files[f];
			     f++)
				if (agent_file_is_early(ctx, &mods[i], mods[i].files[f],
							rfs.fstype))
					strv_consume(&early, agent_module_name(mods[i].files[f]));
		agent_mods_free(mods, n);
		rootfs_info_done(&rfs);
		struct spawn_opts o = { .out_fd = -1, .quiet = 1 };
		int r = initramfs_regenerate(ctx->root, kver, INITRAMFS_TOOL_AUTO, early, &o, NULL,
					     ret_reason);
		if (r < 0)
			return r;
		*ret_regenerated = true;
	}
	if (unlink(m) < 0 && errno != ENOENT)
		return reason_set(ret_reason, -errno, "cannot remove %s: %m", m);
	return 0;
}
