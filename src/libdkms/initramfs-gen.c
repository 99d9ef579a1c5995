// SPDX-License-Identifier: GPL-2.0-or-later
/* Where a kernel's initramfs lives and which program builds it. Every
 * distribution family has its own name for the image (Debian initrd.img-K,
 * Fedora/Arch initramfs-K.img, kernel-install's BLS <entry-token>/K/initrd,
 * mkinitcpio presets naming anything) and its own generator. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "chase.h"
#include "initramfs.h"
#include "log.h"
#include "util.h"

static const char *root_prefix(const char *root)
{
	return isempty(root) || streq(root, "/") ? "" : root;
}

/* The first word of a one-line file (machine-id, entry-token, pkgbase). */
static char *read_word(const char *root, const char *p)
{
	_cleanup_free_ char *path = xasprintf("%s%s", root, p), *s = NULL;
	if (read_full_file(path, &s, NULL, 4096) < 0)
		return NULL;
	size_t n = strcspn(s, " \t\r\n");
	return n ? xstrndup(s, n) : NULL;
}

/* The release string of an x86 bzImage: the setup header ("HdrS" at 0x202)
 * points at it with kernel_version (0x20e, relative to 0x200). */
static char *bzimage_version(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t h[0x210];
	char v[256];
	if (fd < 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h + 0x202, "HdrS", 4) != 0)
		return NULL;
	off_t off = 0x200 + (h[0x20e] | h[0x20f] << 8);
	ssize_t n = pread(fd, v, sizeof(v) - 1, off);
	if (n <= 0)
		return NULL;
	v[n] = 0;
	size_t w = strcspn(v, " ");
	return w ? xstrndup(v, w) : NULL;
}

/* KEY=VALUE with optional quotes; NULL unless the line sets a variable. */
static char *preset_value(const char *line, char **ret_key)
{
	const char *eq = strchr(line, '=');
	if (!eq || eq == line || line[0] == '#')
		return NULL;
	const char *v = eq + 1;
	size_t n = strcspn(v, "\n");
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v++;
		n -= 2;
	}
	*ret_key = xstrndup(line, (size_t)(eq - line));
	return xstrndup(v, n);
}

/* Adds the images named by mkinitcpio presets that build kver. */
static void add_preset_images(const char *root, const char *kver, char ***paths, char ***fallbacks)
{
	_cleanup_free_ char *dir = xasprintf("%s/etc/mkinitcpio.d", root);
	_cleanup_free_ char *pkgbase = NULL;
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *pb = xasprintf("/usr/lib/modules/%s/pkgbase", kver);
	pkgbase = read_word(root, pb);

	if (dir_list(dir, &names) < 0)
		return;
	for (size_t k = 0; names && names[k]; k++) {
		if (!endswith(names[k], ".preset"))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, names[k]), *text = NULL;
		if (read_full_file(p, &text, NULL, 1 << 20) < 0)
			continue;
		_cleanup_strv_free_ char **lines = strv_split(text, "\n");
		_cleanup_strv_free_ char **imgs = NULL, **fb = NULL;
		bool match = pkgbase && strlen(names[k]) == strlen(pkgbase) + 7 &&
			     startswith(names[k], pkgbase);
		for (size_t l = 0; lines && lines[l]; l++) {
			_cleanup_free_ char *key = NULL;
			_cleanup_free_ char *v = preset_value(lines[l], &key);
			if (!v)
				continue;
			if (streq(key, "ALL_kver")) {
				_cleanup_free_ char *kp = xasprintf("%s%s", root, v);
				_cleanup_free_ char *kv = v[0] == '/' ? bzimage_version(kp) : NULL;
				match = match || streq(v, kver) || streq_ptr(kv, kver);
			} else if (endswith(key, "_image") && v[0] == '/') {
				strv_consume(startswith(key, "fallback") ? &fb : &imgs,
					     xasprintf("%s%s", root, v));
			}
		}
		for (size_t l = 0; match && imgs && imgs[l]; l++)
			strv_push(paths, imgs[l]);
		for (size_t l = 0; match && fb && fb[l]; l++)
			strv_push(fallbacks, fb[l]);
	}
}

int initramfs_find(const char *root, const char *kver, struct initramfs_image **ret, size_t *ret_n)
{
	_cleanup_strv_free_ char **paths = NULL, **fallbacks = NULL;
	root = root_prefix(root);

	strv_consume(&paths, xasprintf("%s/boot/initrd.img-%s", root, kver));
	strv_consume(&paths, xasprintf("%s/boot/initramfs-%s.img", root, kver));
	char *ids[] = { read_word(root, "/etc/kernel/entry-token"),
			read_word(root, "/etc/machine-id") };
	static const char *const bases[] = { "/boot", "/efi", "/boot/efi" };
	for (size_t b = 0; b < ELEMENTSOF(bases); b++)
		for (size_t k = 0; k < ELEMENTSOF(ids); k++)
			if (ids[k])
				strv_consume(&paths, xasprintf("%s%s/%s/%s/initrd", root, bases[b],
							       ids[k], kver));
	free(ids[0]);
	free(ids[1]);
	add_preset_images(root, kver, &paths, &fallbacks);
	strv_consume(&fallbacks, xasprintf("%s/boot/initramfs-%s-fallback.img", root, kver));

	struct initramfs_image *l = NULL;
	size_t n = 0;
	for (int fb = 0; fb < 2; fb++)
		for (char **p = fb ? fallbacks : paths; p && *p; p++) {
			/* Images are written to: a link in the root (/boot itself,
			 * or the image) is followed inside it, never to the host's
			 * /boot. */
			_cleanup_free_ char *real = chase_host_path(root, *p + strlen(root));
			bool dup = false;
			for (size_t k = 0; k < n; k++)
				dup = dup || streq(l[k].path, real);
			if (dup || !path_is_reg(real))
				continue;
			l = xrealloc(l, (n + 1) * sizeof(*l));
			l[n++] = (struct initramfs_image){ .path = TAKE_PTR(real), .fallback = fb };
		}
	*ret = l;
	*ret_n = n;
	return (int)n;
}

void initramfs_images_free(struct initramfs_image *l, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(l[k].path);
	free(l);
}

static const char *const tool_names[] = {
	[INITRAMFS_TOOL_AUTO] = "auto",
	[INITRAMFS_TOOL_DRACUT] = "dracut",
	[INITRAMFS_TOOL_UPDATE_INITRAMFS] = "update-initramfs",
	[INITRAMFS_TOOL_MKINITCPIO] = "mkinitcpio",
	[INITRAMFS_TOOL_KERNEL_INSTALL] = "kernel-install",
	[INITRAMFS_TOOL_NONE] = "none",
};

const char *initramfs_tool_name(enum initramfs_tool t)
{
	return (size_t)t < ELEMENTSOF(tool_names) ? tool_names[t] : "unknown";
}

int initramfs_tool_from_name(const char *s, enum initramfs_tool *ret)
{
	for (size_t k = 0; k < ELEMENTSOF(tool_names); k++)
		if (streq(s, tool_names[k])) {
			*ret = (enum initramfs_tool)k;
			return 0;
		}
	return -EINVAL;
}

static bool exists_in(const char *root, const char *p)
{
	_cleanup_free_ char *s = xasprintf("%s%s", root, p);
	return path_exists(s);
}

static bool have_program(const char *root, const char *name)
{
	static const char *const dirs[] = { "/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/" };
	for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {
		_cleanup_free_ char *p = xasprintf("%s%s%s", root, dirs[k], name);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

/* kernel-install's install.conf value of key, from /etc or /usr/lib. */
static char *install_conf(const char *root, const char *key)
{
	static const char *const files[] = { "/etc/kernel/install.conf",
					     "/usr/lib/kernel/install.conf" };
	for (size_t f = 0; f < ELEMENTSOF(files); f++) {
		_cleanup_free_ char *p = xasprintf("%s%s", root, files[f]), *text = NULL;
		if (read_full_file(p, &text, NULL, 1 << 16) < 0)
			continue;
		_cleanup_strv_free_ char **lines = strv_split(text, "\n");
		for (size_t l = 0; lines && lines[l]; l++) {
			_cleanup_free_ char *k = NULL;
			char *v = preset_value(lines[l], &k);
			if (v && streq(k, key))
				return v;
			free(v);
		}
	}
	return NULL;
}

enum initramfs_tool initramfs_detect_tool(const char *root)
{
	root = root_prefix(root);
	_cleanup_free_ char *layout = install_conf(root, "layout");
	_cleanup_free_ char *gen = install_conf(root, "initrd_generator");
	if (have_program(root, "kernel-install") && (streq_ptr(layout, "bls") || gen))
		return INITRAMFS_TOOL_KERNEL_INSTALL;
	if (have_program(root, "update-initramfs") && exists_in(root, "/etc/initramfs-tools"))
		return INITRAMFS_TOOL_UPDATE_INITRAMFS;
	if (have_program(root, "mkinitcpio"))
		return INITRAMFS_TOOL_MKINITCPIO;
	if (have_program(root, "dracut"))
		return INITRAMFS_TOOL_DRACUT;
	return INITRAMFS_TOOL_NONE;
}

/* The image to (re)build: an existing one, else where the layout puts it. */
static char *target_image(const char *root, const char *kver, enum initramfs_tool tool)
{
	struct initramfs_image *l;
	size_t n;
	initramfs_find(root, kver, &l, &n);
	char *p = n && !l[0].fallback ? xstrdup(l[0].path) : NULL;
	initramfs_images_free(l, n);
	if (p)
		return p;
	if (tool == INITRAMFS_TOOL_KERNEL_INSTALL) {
		_cleanup_free_ char *id = read_word(root, "/etc/kernel/entry-token");
		if (!id)
			id = read_word(root, "/etc/machine-id");
		if (id)
			return xasprintf("%s/boot/%s/%s/initrd", root, id, kver);
	}
	if (exists_in(root, "/etc/debian_version"))
		return xasprintf("%s/boot/initrd.img-%s", root, kver);
	return xasprintf("%s/boot/initramfs-%s.img", root, kver);
}

/* Whether a module name matches a file name ("a-b" matches "a_b.ko.zst"),
 * as the kernel compares module names. */
static bool module_file_is(const char *file, const char *name)
{
	size_t k = 0;
	for (; name[k] && file[k]; k++) {
		char a = name[k] == '-' ? '_' : name[k], b = file[k] == '-' ? '_' : file[k];
		if (a != b)
			return false;
	}
	return !name[k] && startswith(file + k, ".ko") &&
	       (file[k + 3] == 0 || (file[k + 3] == '.' && !strchr(file + k + 4, '.')));
}

/* Whether the image holds a regular file for module name under kver's
 * module directory (wherever the generator put it: updates/dkms, extra/). */
static bool image_has_module(const struct initramfs *img, const char *kver, const char *name)
{
	_cleanup_free_ char *a = xasprintf("lib/modules/%s/", kver);
	_cleanup_free_ char *b = xasprintf("usr/lib/modules/%s/", kver);
	for (size_t k = 0; k < img->n_files; k++) {
		const struct initramfs_file *f = &img->files[k];
		if (!S_ISREG(f->mode) || (!startswith(f->name, a) && !startswith(f->name, b)))
			continue;
		if (module_file_is(path_basename(f->name), name))
			return true;
	}
	return false;
}

/* Checks that an image reads back, carries the kernel's module tree and
 * every module of required (names; NULL for none). */
static int check_image(const char *path, const char *kver, char *const *required, char **ret_reason)
{
	_cleanup_initramfs_ struct initramfs *img = NULL;
	_cleanup_free_ char *reason = NULL;
	int r = initramfs_read(path, &img, &reason);
	if (r < 0)
		return reason_set(ret_reason, -EPROTO, "the new image does not read back: %s",
				  strempty(reason));
	_cleanup_free_ char *dep = xasprintf("lib/modules/%s/modules.dep", kver);
	_cleanup_free_ char *udep = xasprintf("usr/lib/modules/%s/modules.dep", kver);
	if (!initramfs_lookup(img, dep) && !initramfs_lookup(img, udep))
		return reason_set(ret_reason, -EPROTO, "the new image lacks %s", dep);
	_cleanup_free_ char *missing = NULL;
	for (size_t k = 0; required && required[k]; k++) {
		if (image_has_module(img, kver, required[k]))
			continue;
		char *m = xasprintf("%s%s%s", strempty(missing), missing ? ", " : "", required[k]);
		free(missing);
		missing = m;
	}
	if (missing)
		return reason_set(ret_reason, -ENOPKG, "the new image lacks the early module(s) %s",
				  missing);
	return 0;
}

static int run(char **argv, const struct spawn_opts *opts, char **ret_reason)
{
	int r = spawn_wait(argv, opts);
	if (r < 0)
		return reason_set(ret_reason, r, "cannot run %s: %s", argv[0], strerror(-r));
	if (r > 0)
		return reason_set(ret_reason, -EPROTO, "%s failed with status %d", argv[0], r);
	return 0;
}

/* Builds into a temporary file next to image, checks it, renames it over. */
static int build_and_replace(const char *root, const char *kver, const char *image, bool mkinitcpio,
			     char *const *required, const struct spawn_opts *opts,
			     char **ret_reason)
{
	_cleanup_free_ char *dir = xstrdup(image);
	*strrchr(dir, '/') = 0;
	int r = mkdir_p(dir, 0755);
	if (r < 0)
		return reason_set(ret_reason, r, "cannot create %s: %s", dir, strerror(-r));
	_cleanup_free_ char *tmp = xasprintf("%s.dkms-tmp.XXXXXX", image);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return reason_set(ret_reason, -errno, "cannot create a file next to %s: %m", image);
	struct stat st;
	mode_t mode = stat(image, &st) == 0 ? st.st_mode & 07777 : 0600;

	const char *inroot = tmp + strlen(root);
	char *dracut[] = { "dracut", "--force", "--kver", (char *)kver, NULL, NULL, NULL, NULL };
	char *mkcpio[] = { "chroot",	 (char *)root, "mkinitcpio",   "-k",
			   (char *)kver, "-g",	       (char *)inroot, NULL };
	char **argv;
	if (mkinitcpio) {
		argv = *root ? mkcpio : mkcpio + 2;
	} else {
		size_t k = 4;
		if (*root) {
			dracut[k++] = "--sysroot";
			dracut[k++] = (char *)root;
		}
		dracut[k] = tmp;
		argv = dracut;
	}
	r = run(argv, opts, ret_reason);
	if (r >= 0)
		r = check_image(tmp, kver, required, ret_reason);
	if (r >= 0 && fchmod(fd, mode) < 0)
		r = reason_set(ret_reason, -errno, "cannot chmod %s: %m", tmp);
	if (r >= 0 && fsync(fd) < 0)
		r = reason_set(ret_reason, -errno, "cannot sync %s: %m", tmp);
	if (r >= 0 && rename(tmp, image) < 0)
		r = reason_set(ret_reason, -errno, "cannot replace %s: %m", image);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return fsync_dir_of(image);
}

/* update-initramfs replaces the image itself (only when mkinitramfs
 * succeeds, hooks included); a hard link keeps the old one until the new one
 * is checked, and comes back if the check fails. */
static int update_initramfs(const char *root, const char *kver, const char *image,
			    char *const *required, const struct spawn_opts *opts, char **ret_reason)
{
	_cleanup_free_ char *keep = xasprintf("%s.dkms-keep", image);
	unlink(keep);
	bool kept = link(image, keep) == 0;
	char *argv[] = {
		"chroot", (char *)root, "update-initramfs", "-u", "-k", (char *)kver, NULL
	};
	int r = run(*root ? argv : argv + 2, opts, ret_reason);
	if (r >= 0)
		r = check_image(image, kver, required, ret_reason);
	if (r < 0 && kept && rename(keep, image) < 0)
		log_warning("Cannot put the old image %s back: %m", image);
	if (kept)
		unlink(keep);
	return r < 0 ? r : fsync_dir_of(image);
}

int initramfs_regenerate(const char *root, const char *kver, enum initramfs_tool tool,
			 char *const *required, const struct spawn_opts *opts,
			 enum initramfs_tool *ret_tool, char **ret_reason)
{
	root = root_prefix(root);
	if (!exists_in(root, "/lib/modules") && !exists_in(root, "/usr/lib/modules"))
		return reason_set(ret_reason, -ENOENT, "no module directory under %s", root);
	_cleanup_free_ char *mods = xasprintf("/lib/modules/%s", kver);
	_cleanup_free_ char *umods = xasprintf("/usr/lib/modules/%s", kver);
	if (!exists_in(root, mods) && !exists_in(root, umods))
		return reason_set(ret_reason, -ENOENT, "no modules for kernel %s", kver);
	if (tool == INITRAMFS_TOOL_AUTO)
		tool = initramfs_detect_tool(root);
	if (tool == INITRAMFS_TOOL_NONE)
		return reason_set(ret_reason, -EOPNOTSUPP, "no initramfs generator is installed");

	_cleanup_free_ char *image = target_image(root, kver, tool);
	log_debug("Regenerating %s with %s", image, initramfs_tool_name(tool));
	/* One writer per image directory; what an interrupted run left (a
	 * temporary copy, an unfinished append) goes first. */
	_cleanup_close_ int lock = -1;
	_cleanup_free_ char *dir = xstrdup(image);
	*strrchr(dir, '/') = 0;
	if (path_is_dir(dir)) {
		lock = initramfs_lock(image);
		if (lock < 0)
			return reason_set(ret_reason, lock, "cannot lock %s: %s", dir,
					  strerror(-lock));
		initramfs_recover(image);
	}
	int r;
	switch (tool) {
	case INITRAMFS_TOOL_UPDATE_INITRAMFS:
		r = update_initramfs(root, kver, image, required, opts, ret_reason);
		break;
	case INITRAMFS_TOOL_MKINITCPIO:
		r = build_and_replace(root, kver, image, true, required, opts, ret_reason);
		break;
	case INITRAMFS_TOOL_KERNEL_INSTALL: {
		_cleanup_free_ char *gen = install_conf(root, "initrd_generator");
		bool mk = streq_ptr(gen, "mkinitcpio") || (!gen && !have_program(root, "dracut") &&
							   have_program(root, "mkinitcpio"));
		r = build_and_replace(root, kver, image, mk, required, opts, ret_reason);
		break;
	}
	default: r = build_and_replace(root, kver, image, false, required, opts, ret_reason); break;
	}
	if (r < 0)
		return r;
	if (ret_tool)
		*ret_tool = tool;
	return 0;
}
