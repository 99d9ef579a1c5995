// SPDX-License-Identifier: GPL-2.0-or-later
/* Appending a segment to an initramfs, in place. The kernel unpacks
 * concatenated segments in order, later entries replacing earlier ones, and
 * skips NUL bytes between them; so adding files is: pad the image with NULs,
 * append a zstd frame holding a newc archive. The work is the size of the new
 * segment, never of the image: the old segments are not unpacked, not copied
 * and not read back; only the image's head is checked (see check_old_image).
 *
 * Bootable at every instant: the segment is written with its 4-byte magic
 * zeroed, synced and verified, and the magic goes in last. Until then the
 * kernel skips the NULs and stops at the unknown bytes after them ("invalid
 * magic"), with the old image's files already unpacked; it never unpacks a
 * part of the new segment. The old length is recorded first in a journal
 * (IMAGE.dkms-append); a failure truncates back to it, and a run killed in
 * between is rolled back by the next one (or by any reader, which ignores
 * the unfinished tail). No copy of the image is ever made. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <zstd.h>

#include "cpio.h"
#include "initramfs-unpack.h"
#include "initramfs.h"
#include "log.h"
#include "util.h"

#define APPEND_ZSTD_LEVEL 9
#define MARKER_BODY "dkms-agent appended this segment; the distribution's generator removes it\n"

struct item {
	const char *dest; /* normalised, borrowed */
	uint8_t *data;
	size_t size;
	mode_t mode;
	uint32_t mtime;
};

static void items_free(struct item *l, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(l[k].data);
	free(l);
}

/* ---- the journal and stale temporaries ----------------------------------- */

char *initramfs_journal_path(const char *image)
{
	return xasprintf("%s.dkms-append", image);
}

/* The journal holds "OLD_LENGTH SEGMENT_OFFSET\n". */
int initramfs_journal_read(const char *image, uint64_t *ret_old, uint64_t *ret_seg)
{
	_cleanup_free_ char *j = initramfs_journal_path(image), *c = NULL;
	int r = read_full_file(j, &c, NULL, 256);
	if (r < 0)
		return r;
	unsigned long long o, s;
	if (sscanf(c, "%llu %llu", &o, &s) != 2 || s < o)
		return -EBADMSG;
	*ret_old = o;
	*ret_seg = s;
	return 0;
}

static int journal_write(const char *image, uint64_t old, uint64_t seg)
{
	_cleanup_free_ char *j = initramfs_journal_path(image);
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%llu %llu\n", (unsigned long long)old,
			 (unsigned long long)seg);
	return write_file_atomic(j, buf, (size_t)n, 0600);
}

static int journal_remove(const char *image)
{
	_cleanup_free_ char *j = initramfs_journal_path(image);
	if (unlink(j) < 0 && errno != ENOENT)
		return -errno;
	return fsync_dir_of(image);
}

int initramfs_lock(const char *image)
{
	_cleanup_free_ char *dir = xstrdup(image);
	char *s = strrchr(dir, '/');
	if (s)
		*(s == dir ? s + 1 : s) = 0;
	int fd = open(s ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int r = -errno;
			close(fd);
			return r;
		}
	}
	return fd;
}

/* Removes IMAGE.dkms-tmp.* left by an interrupted run (a full-size copy
 * each, from older versions or a killed regeneration) and the temporaries
 * of a journal being written. Needs the lock. */
static void remove_stale_temporaries(const char *image)
{
	_cleanup_free_ char *dir = xstrdup(image);
	char *s = strrchr(dir, '/');
	const char *base = s ? s + 1 : image;
	if (s)
		*(s == dir ? s + 1 : s) = 0;
	_cleanup_strv_free_ char **names = NULL;
	if (dir_list(s ? dir : ".", &names) < 0)
		return;
	size_t bl = strlen(base);
	for (size_t k = 0; names && names[k]; k++) {
		const char *rest = strncmp(names[k], base, bl) == 0 ? names[k] + bl : NULL;
		/* a copy of the image, or of the journal being written */
		if (!rest || (!startswith(rest, ".dkms-tmp.") &&
			      !startswith(rest, ".dkms-append.dkms-tmp.")))
			continue;
		_cleanup_free_ char *p = s ? path_join(dir, names[k]) : xstrdup(names[k]);
		if (unlink(p) == 0)
			log_debug("Removed %s, left by an interrupted run", p);
	}
}

/* Whether the zstd magic is in place at off: the append finished. */
static bool segment_complete(int fd, uint64_t off)
{
	uint8_t m[4];
	return pread(fd, m, 4, (off_t)off) == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f &&
	       m[3] == 0xfd;
}

int initramfs_recover(const char *image)
{
	remove_stale_temporaries(image);
	uint64_t old, seg;
	int r = initramfs_journal_read(image, &old, &seg);
	if (r == -ENOENT)
		return 0;
	_cleanup_close_ int fd = open(image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? journal_remove(image) : -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (r >= 0 && (uint64_t)st.st_size > old && !segment_complete(fd, seg)) {
		if (ftruncate(fd, (off_t)old) < 0 || fsync(fd) < 0)
			return -errno;
		log_debug("%s: rolled back an unfinished append to %llu bytes", image,
			  (unsigned long long)old);
	}
	return journal_remove(image);
}

/* ---- the old image: its head only ---------------------------------------- */

/* What is checked of the old image is its head, up to the start of its
 * first compressed segment: the uncompressed cpio archives before it (early
 * microcode, a few headers) and that segment's magic. Nothing after it is
 * read, so the check costs the same for a 30 and a 130 MiB image: walking
 * the framing of the whole image took a pread() per zstd block, ~800 of them
 * for 100 MiB, more than the rest of the append. The generators write one
 * compressed segment (dracut, initramfs-tools, mkinitcpio) and the segments
 * after it are ours (zstd); a damaged main segment is reported by `check`
 * and `initramfs list`, and the kernel never gets past it whatever we
 * append. */
static int read_at(int fd, uint64_t off, void *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n, (off_t)off);
	return r == (ssize_t)n ? 0 : r < 0 ? -errno : -ENODATA;
}

static uint64_t hex8(const uint8_t *p)
{
	uint64_t v = 0;
	for (int k = 0; k < 8; k++) {
		int c = p[k], d = c >= '0' && c <= '9'	 ? c - '0'
				  : c >= 'a' && c <= 'f' ? c - 'a' + 10
				  : c >= 'A' && c <= 'F' ? c - 'A' + 10
							 : -1;
		if (d < 0)
			return UINT64_MAX;
		v = v << 4 | (uint64_t)d;
	}
	return v;
}

/* Past the newc/crc archive at pos (its TRAILER!!!). */
static int cpio_walk(int fd, uint64_t size, uint64_t pos, uint64_t *ret_end)
{
	uint8_t h[CPIO_HEADER_SIZE + sizeof(CPIO_TRAILER)];
	for (;;) {
		if (pos >= size) { /* ends at an entry's end, without a trailer */
			*ret_end = pos;
			return 0;
		}
		if (read_at(fd, pos, h, CPIO_HEADER_SIZE) < 0)
			return -ENODATA;
		uint64_t namesize = hex8(h + 94), filesize = hex8(h + 54);
		if (!cpio_has_magic(h, CPIO_HEADER_SIZE) || namesize == 0 || namesize > PATH_MAX ||
		    filesize == UINT64_MAX)
			return -EBADMSG;
		bool trailer =
			namesize == sizeof(CPIO_TRAILER) &&
			read_at(fd, pos + CPIO_HEADER_SIZE, h + CPIO_HEADER_SIZE,
				sizeof(CPIO_TRAILER)) == 0 &&
			memcmp(h + CPIO_HEADER_SIZE, CPIO_TRAILER, sizeof(CPIO_TRAILER)) == 0;
		pos = (pos + CPIO_HEADER_SIZE + namesize + 3) & ~(uint64_t)3;
		pos = (pos + filesize + 3) & ~(uint64_t)3;
		if (pos > size)
			return -ENODATA;
		if (trailer) {
			*ret_end = pos;
			return 0;
		}
	}
}

static int check_old_image(int fd, uint64_t size, char **ret_reason)
{
	uint64_t pos = 0;
	uint8_t b[4096];
	bool any_archive = false;
	if (size == 0)
		return reason_set(ret_reason, -EMEDIUMTYPE, "empty file");
	for (;;) {
		/* NULs between segments */
		ssize_t n = 0;
		size_t k = 0;
		while (pos < size && (n = pread(fd, b, sizeof(b), (off_t)pos)) > 0) {
			for (k = 0; k < (size_t)n && !b[k]; k++)
				;
			if (k < (size_t)n)
				break;
			pos += (uint64_t)n;
		}
		if (n < 0)
			return reason_set(ret_reason, -errno, "cannot read the image: %m");
		if (pos >= size || n == 0) {
			if (any_archive)
				return 0; /* uncompressed archives only */
			return reason_set(ret_reason, -EMEDIUMTYPE,
					  "not an initramfs: nothing but NUL bytes");
		}
		pos += k;
		const uint8_t *at = b + k;
		size_t avail = (size_t)n - k;
		if (!cpio_has_magic(at, avail) || (pos & 3) != 0) {
			enum initramfs_compression c = unpack_detect(at, avail);
			if (c == INITRAMFS_NONE)
				return reason_set(
					ret_reason, pos ? -EPROTONOSUPPORT : -EMEDIUMTYPE,
					pos ? "unknown compression or junk at offset %llu"
					    : "not an initramfs: no cpio or compression magic",
					(unsigned long long)pos);
			/* The kernel's lz4 reader treats everything after the
			 * magic as blocks and would choke on an appended
			 * segment. */
			if (c == INITRAMFS_LZ4)
				return reason_set(ret_reason, -EPROTONOSUPPORT,
						  "cannot append to an lz4-compressed image: the "
						  "kernel would not read the new segment");
			return 0;
		}
		uint64_t end = pos;
		int r = cpio_walk(fd, size, pos, &end);
		any_archive = true;
		if (r < 0)
			return reason_set(ret_reason, r, "cpio archive at offset %llu: %s",
					  (unsigned long long)pos,
					  r == -ENODATA ? "truncated" : "damaged");
		pos = end;
	}
}

/* ---- the new segment ----------------------------------------------------- */

static int load_item(const struct initramfs_add *a, const char *dest, struct item *it,
		     char **ret_reason)
{
	struct stat st;
	char *s;
	size_t n;

	if (lstat(a->src, &st) < 0)
		return reason_set(ret_reason, -errno, "%s: %m", a->src);
	int r;
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
	*it = (struct item){ .dest = dest,
			     .data = (uint8_t *)s,
			     .size = n,
			     .mode = st.st_mode,
			     .mtime = (uint32_t)st.st_mtime };
	return 0;
}

static bool bad_dest(const char *d)
{
	return isempty(d) || streq(d, "..") || strstr(d, "/../") || startswith(d, "../") ||
	       endswith(d, "/..") || streq(d, INITRAMFS_APPEND_MARKER);
}

static int sort_dirs(const char *a, const char *b)
{
	return strcmp(a, b);
}

/* Parent directories of every destination, except the top-level one: that
 * may be a symlink (lib -> usr/lib), which a directory entry of the same name
 * would replace. Deeper entries for existing directories are harmless (the
 * kernel resolves their path through such symlinks and keeps the
 * directory), and needed where the image lacks them. */
static char **parent_dirs(const struct item *items, size_t n)
{
	char **dirs = NULL;
	for (size_t k = 0; k < n; k++) {
		_cleanup_free_ char *p = xstrdup(items[k].dest);
		char *first = strchr(p, '/');
		for (char *s = first ? strchr(first + 1, '/') : NULL; s; s = strchr(s + 1, '/')) {
			*s = 0;
			if (!strv_contains(dirs, p))
				strv_push(&dirs, p);
			*s = '/';
		}
	}
	strv_sort(dirs, sort_dirs); /* parents sort before their children */
	return dirs;
}

static int build_archive(const struct item *items, size_t n, uint8_t **ret, size_t *ret_len,
			 char **ret_reason)
{
	_cleanup_strv_free_ char **dirs = parent_dirs(items, n);
	struct cpio_writer w;
	uint32_t newest = 0;
	for (size_t k = 0; k < n; k++)
		newest = items[k].mtime > newest ? items[k].mtime : newest;

	cpio_writer_init(&w);
	int r = cpio_write_file(&w, INITRAMFS_APPEND_MARKER, 0644, newest, MARKER_BODY,
				strlen(MARKER_BODY));
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
	if (ZSTD_isError(z) || z < 4) {
		log_debug("zstd: %s", ZSTD_getErrorName(z));
		free(out);
		return -EIO;
	}
	*ret = out;
	*ret_len = z;
	return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Reads the written segment back from the file and checks that it holds
 * exactly what was meant: the old segments are not looked at. */
static int verify(int fd, uint64_t off, size_t seg_len, const uint8_t *magic,
		  const struct item *items, size_t n, char **ret_reason)
{
	_cleanup_free_ uint8_t *buf = xmalloc(seg_len);
	ssize_t got = pread(fd, buf, seg_len, (off_t)off);
	if (got != (ssize_t)seg_len)
		return reason_set(ret_reason, -EIO, "cannot read the new segment back");
	memcpy(buf, magic, 4);
	_cleanup_initramfs_ struct initramfs *seg = NULL;
	_cleanup_free_ char *why = NULL;
	int r = initramfs_parse(buf, seg_len, &seg, &why);
	if (r < 0)
		return reason_set(ret_reason, -EIO, "the new segment does not read back: %s",
				  why ? why : strerror(-r));
	if (seg->n_segments != 1 || seg->segments[0].size != seg_len)
		return reason_set(ret_reason, -EIO, "the new segment does not read back whole");
	for (size_t k = 0; k < n; k++) {
		const struct initramfs_file *f = initramfs_lookup(seg, items[k].dest);
		if (!f || f->size != items[k].size || S_ISLNK(items[k].mode) != S_ISLNK(f->mode) ||
		    (items[k].size && memcmp(f->data, items[k].data, items[k].size) != 0))
			return reason_set(ret_reason, -EIO,
					  "%s is missing or differs in the new segment",
					  items[k].dest);
	}
	return 0;
}

/* Writes padding and segment after the old bytes, the magic last; on
 * failure the file is cut back to its old length. */
static int write_segment(int fd, const char *image, uint64_t old, const uint8_t *seg,
			 size_t seg_len, const struct item *items, size_t n, char **ret_reason)
{
	static const uint8_t zeros[12]; /* up to 7 of padding, then 4 for the magic */
	/* Align to 4 bytes plus 4 NULs: the kernel skips them, and a zstd
	 * frame appended to a zstd image stays a segment of its own rather
	 * than reading as the next frame of the same stream. */
	size_t pad = (size_t)((4 - old % 4) % 4 + 4);
	uint64_t at = old + pad;
	int r = journal_write(image, old, at);
	if (r < 0)
		return reason_set(ret_reason, r, "cannot write the journal of %s: %s", image,
				  strerror(-r));
	r = pwrite_all(fd, zeros, pad + 4, old);
	if (r >= 0)
		r = pwrite_all(fd, seg + 4, seg_len - 4, at + 4);
	if (r >= 0 && fdatasync(fd) < 0)
		r = -errno;
	if (r < 0)
		reason_set(ret_reason, r, "cannot write to %s: %s", image, strerror(-r));
	else
		r = verify(fd, at, seg_len, seg, items, n, ret_reason);
	if (r >= 0 && ((r = pwrite_all(fd, seg, 4, at)) < 0 || fdatasync(fd) < 0)) {
		r = r < 0 ? r : -errno;
		reason_set(ret_reason, r, "cannot write to %s: %s", image, strerror(-r));
	}
	if (r >= 0)
		return journal_remove(image);
	/* The old length back: the image is byte for byte the old one. If even
	 * that fails, the journal stays and the next run rolls back. */
	if (ftruncate(fd, (off_t)old) == 0 && fsync(fd) == 0)
		journal_remove(image);
	return r;
}

int initramfs_append(const char *image, const struct initramfs_add *files, size_t n_files,
		     char **ret_reason)
{
	_cleanup_free_ uint8_t *archive = NULL, *seg = NULL;
	_cleanup_strv_free_ char **dests = NULL;
	size_t archive_len = 0, seg_len = 0;
	struct stat st;

	if (n_files == 0)
		return reason_set(ret_reason, -EINVAL, "nothing to append");
	for (size_t k = 0; k < n_files; k++) {
		char *d = initramfs_normalize(files[k].dest);
		strv_consume(&dests, d);
		if (bad_dest(d) || (files[k].dest && endswith(files[k].dest, "/")))
			return reason_set(ret_reason, -EINVAL, "bad destination '%s'",
					  strempty(files[k].dest));
		for (size_t j = 0; j < k; j++)
			if (streq(dests[j], d))
				return reason_set(ret_reason, -EINVAL, "%s given twice", d);
	}
	_cleanup_close_ int lock = initramfs_lock(image);
	if (lock < 0)
		return reason_set(ret_reason, lock, "cannot lock the directory of %s: %s", image,
				  strerror(-lock));
	int r = initramfs_recover(image);
	if (r < 0)
		return reason_set(ret_reason, r, "cannot finish an earlier append to %s: %s", image,
				  strerror(-r));
	_cleanup_close_ int fd = open(image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0)
		return reason_set(ret_reason, -errno, "cannot read %s: %m", image);
	if (!S_ISREG(st.st_mode))
		return reason_set(ret_reason, -EMEDIUMTYPE, "%s is not a regular file", image);
	r = check_old_image(fd, (uint64_t)st.st_size, ret_reason);
	if (r < 0)
		return r;

	struct item *items = xcalloc(n_files, sizeof(*items));
	for (size_t k = 0; k < n_files && r >= 0; k++)
		r = load_item(&files[k], dests[k], &items[k], ret_reason);
	if (r >= 0)
		r = build_archive(items, n_files, &archive, &archive_len, ret_reason);
	if (r >= 0 && (r = compress_zstd(archive, archive_len, &seg, &seg_len)) < 0)
		reason_set(ret_reason, r, "zstd compression failed");
	if (r >= 0)
		r = write_segment(fd, image, (uint64_t)st.st_size, seg, seg_len, items, n_files,
				  ret_reason);
	items_free(items, n_files);
	log_debug("initramfs append to %s: %d (%zu bytes of zstd)", image, r, seg_len);
	return r;
}
