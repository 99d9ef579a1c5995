// SPDX-License-Identifier: GPL-2.0-or-later
/* Appending a segment to an initramfs. The kernel unpacks concatenated
 * segments in order, later entries replacing earlier ones, and skips NUL
 * bytes between them; so adding files is: pad the image with NULs to a 4-byte
 * boundary, append a zstd frame holding a newc archive. The parent directories must not clobber
 * what the image has (an entry "lib" of type directory would make the kernel
 * unlink a usr-merge symlink "lib -> usr/lib"), so destinations are resolved
 * through the image's symlinks and only missing directories are added. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <zstd.h>

#include "cpio.h"
#include "initramfs.h"
#include "log.h"
#include "util.h"

#define APPEND_ZSTD_LEVEL 9

struct item {
	char *dest; /* resolved, normalised */
	uint8_t *data;
	size_t size;
	mode_t mode;
	uint32_t mtime;
};

static void items_free(struct item *l, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		free(l[k].dest);
		free(l[k].data);
	}
	free(l);
}

static int load_item(const struct initramfs *img, const struct initramfs_add *a, struct item *it,
		     char **ret_reason)
{
	struct stat st;
	char *s;
	size_t n;

	if (isempty(a->dest) || endswith(a->dest, "/") || strstr(a->dest, "/../") ||
	    startswith(a->dest, "../") || endswith(a->dest, "/.."))
		return reason_set(ret_reason, -EINVAL, "bad destination '%s'", strempty(a->dest));
	int r = initramfs_resolve(img, a->dest, &it->dest);
	if (r < 0 || isempty(it->dest))
		return reason_set(ret_reason, r < 0 ? r : -EINVAL,
				  "cannot resolve '%s' in the image", a->dest);
	if (lstat(a->src, &st) < 0)
		return reason_set(ret_reason, -errno, "%s: %m", a->src);
	if (S_ISLNK(st.st_mode)) {
		r = readlink_malloc(a->src, &s);
		n = r >= 0 ? strlen(s) : 0;
	} else if (S_ISREG(st.st_mode)) {
		r = read_full_file(a->src, &s, &n, 0);
	} else
		return reason_set(ret_reason, -EINVAL, "%s is not a regular file or symlink",
				  a->src);
	if (r < 0)
		return reason_set(ret_reason, r, "cannot read %s: %s", a->src, strerror(-r));
	it->data = (uint8_t *)s;
	it->size = n;
	it->mode = st.st_mode;
	it->mtime = (uint32_t)st.st_mtime;
	const struct initramfs_file *f = initramfs_lookup(img, it->dest);
	if (f && S_ISDIR(f->mode))
		return reason_set(ret_reason, -EISDIR, "%s is a directory in the image", it->dest);
	return 0;
}

/* Adds to *dirs every parent of dest the image lacks; fails if one is
 * something other than a directory. */
static int need_parents(const struct initramfs *img, const char *dest, char ***dirs,
			char **ret_reason)
{
	_cleanup_free_ char *p = xstrdup(dest);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		const struct initramfs_file *f = initramfs_lookup(img, p);
		if (f && !S_ISDIR(f->mode))
			return reason_set(ret_reason, -ENOTDIR,
					  "%s is not a directory in the image", p);
		if (!f && !strv_contains(*dirs, p))
			strv_push(dirs, p);
		*s = '/';
	}
	return 0;
}

static int sort_dirs(const char *a, const char *b)
{
	return strcmp(a, b);
}

static int build_archive(const struct initramfs *img, struct item *items, size_t n, uint8_t **ret,
			 size_t *ret_len, char **ret_reason)
{
	_cleanup_strv_free_ char **dirs = NULL;
	struct cpio_writer w;
	uint32_t newest = 0;
	int r = 0;

	for (size_t k = 0; k < n && r >= 0; k++) {
		r = need_parents(img, items[k].dest, &dirs, ret_reason);
		newest = items[k].mtime > newest ? items[k].mtime : newest;
	}
	if (r < 0)
		return r;
	strv_sort(dirs, sort_dirs); /* parents sort before their children */
	cpio_writer_init(&w);
	for (size_t k = 0; dirs && dirs[k] && r >= 0; k++)
		r = cpio_write_dir(&w, dirs[k], 0755, newest);
	for (size_t k = 0; k < n && r >= 0; k++) {
		if (S_ISLNK(items[k].mode))
			r = cpio_write_symlink(&w, items[k].dest, (char *)items[k].data,
					       items[k].mtime);
		else
			r = cpio_write_file(&w, items[k].dest, items[k].mode & 07777,
					    items[k].mtime, items[k].data, items[k].size);
	}
	if (r >= 0)
		r = cpio_writer_finish(&w);
	if (r < 0) {
		cpio_writer_done(&w);
		return reason_set(ret_reason, r, "cannot build the cpio archive: %s", strerror(-r));
	}
	*ret = cpio_writer_steal(&w, ret_len);
	return 0;
}

/* One-shot compression, so the frame records its content size. */
static int compress_zstd(const uint8_t *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (!c)
		return -ENOMEM;
	size_t cap = ZSTD_compressBound(len);
	uint8_t *out = xmalloc(cap);
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, APPEND_ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	size_t z = ZSTD_compress2(c, out, cap, in, len);
	ZSTD_freeCCtx(c);
	if (ZSTD_isError(z)) {
		log_debug("zstd: %s", ZSTD_getErrorName(z));
		free(out);
		return -EIO;
	}
	*ret = out;
	*ret_len = z;
	return 0;
}

static int write_temp(const char *image, const struct initramfs *img, const uint8_t *seg,
		      size_t seg_len, char **ret_tmp)
{
	static const uint8_t zeros[8];
	struct stat st;

	if (stat(image, &st) < 0)
		return -errno;
	_cleanup_free_ char *tmp = xasprintf("%s.dkms-tmp.XXXXXX", image);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, img->image, img->image_size);
	/* Align to 4 bytes plus 4 NULs: the kernel skips them, and a zstd
	 * frame appended to a zstd image stays a segment of its own rather
	 * than reading as the next frame of the same stream. */
	if (r >= 0)
		r = write_all(fd, zeros, (4 - img->image_size % 4) % 4 + 4);
	if (r >= 0)
		r = write_all(fd, seg, seg_len);
	if (r >= 0 && fchmod(fd, st.st_mode & 07777) < 0)
		r = -errno;
	if (r >= 0 && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)
		r = -errno;
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	*ret_tmp = TAKE_PTR(tmp);
	return 0;
}

static int verify(const char *tmp, const struct initramfs *old, const struct item *items, size_t n,
		  char **ret_reason)
{
	_cleanup_initramfs_ struct initramfs *img = NULL;
	int r = initramfs_read(tmp, &img, ret_reason);
	if (r < 0)
		return reason_set(ret_reason, -EIO, "the new image does not read back: %s",
				  ret_reason && *ret_reason ? *ret_reason : strerror(-r));
	if (img->n_segments != old->n_segments + 1)
		return reason_set(ret_reason, -EIO, "the new image has %zu segments, expected %zu",
				  img->n_segments, old->n_segments + 1);
	for (size_t k = 0; k < n; k++) {
		const struct initramfs_file *f = initramfs_lookup(img, items[k].dest);
		if (!f || f->size != items[k].size ||
		    (S_ISLNK(items[k].mode) != S_ISLNK(f->mode)) ||
		    (items[k].size && memcmp(f->data, items[k].data, items[k].size) != 0))
			return reason_set(ret_reason, -EIO,
					  "%s is missing or differs in the new image",
					  items[k].dest);
	}
	for (size_t k = 0; k < old->n_files; k++)
		if (!initramfs_lookup(img, old->files[k].name))
			return reason_set(ret_reason, -EIO, "%s vanished from the new image",
					  old->files[k].name);
	return 0;
}

int initramfs_append(const char *image, const struct initramfs_add *files, size_t n_files,
		     char **ret_reason)
{
	_cleanup_initramfs_ struct initramfs *img = NULL;
	_cleanup_free_ uint8_t *archive = NULL, *seg = NULL;
	_cleanup_free_ char *tmp = NULL;
	size_t archive_len = 0, seg_len = 0;
	int r;

	if (n_files == 0)
		return reason_set(ret_reason, -EINVAL, "nothing to append");
	r = initramfs_read(image, &img, ret_reason);
	if (r < 0)
		return r;
	/* The kernel's lz4 reader treats everything after the magic as blocks
	 * and would choke on an appended segment. */
	if (img->n_segments && img->segments[img->n_segments - 1].compression == INITRAMFS_LZ4)
		return reason_set(
			ret_reason, -EPROTONOSUPPORT,
			"cannot append after an lz4 segment: the kernel would not read it");

	struct item *items = xcalloc(n_files, sizeof(*items));
	for (size_t k = 0; k < n_files && r >= 0; k++)
		r = load_item(img, &files[k], &items[k], ret_reason);
	for (size_t a = 0; r >= 0 && a < n_files; a++)
		for (size_t b = a + 1; b < n_files; b++)
			if (streq(items[a].dest, items[b].dest)) {
				r = reason_set(ret_reason, -EINVAL, "%s given twice",
					       items[a].dest);
				break;
			}
	if (r >= 0)
		r = build_archive(img, items, n_files, &archive, &archive_len, ret_reason);
	if (r >= 0 && (r = compress_zstd(archive, archive_len, &seg, &seg_len)) < 0)
		reason_set(ret_reason, r, "zstd compression failed");
	if (r >= 0 && (r = write_temp(image, img, seg, seg_len, &tmp)) < 0)
		reason_set(ret_reason, r, "cannot write a temporary copy of %s: %s", image,
			   strerror(-r));
	if (r >= 0 && (r = verify(tmp, img, items, n_files, ret_reason)) < 0)
		unlink(tmp);
	if (r >= 0 && rename(tmp, image) < 0) {
		r = reason_set(ret_reason, -errno, "cannot replace %s: %m", image);
		unlink(tmp);
	}
	if (r >= 0)
		r = fsync_dir_of(image);
	items_free(items, n_files);
	log_debug("initramfs append to %s: %d (%zu bytes of zstd)", image, r, seg_len);
	return r;
}
