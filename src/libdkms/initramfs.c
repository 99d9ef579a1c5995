// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading an initramfs the way the kernel unpacks it (init/initramfs.c):
 * NUL bytes between segments are skipped; a cpio archive starts on a 4-byte
 * boundary; anything else must be a compressed stream, whose content is one
 * or more cpio archives separated by NULs. Entries land in one file map in
 * order, so a later entry replaces an earlier one of the same name. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cpio.h"
#include "initramfs-unpack.h"
#include "initramfs.h"
#include "log.h"
#include "util.h"

struct pending {
	struct initramfs_file f;
	uint32_t ino, nlink, devmajor, devminor;
	size_t seq;
};

struct parser {
	struct initramfs *i;
	struct pending *all; /* every entry of the image, in order */
	size_t n_all, cap_all;
	size_t unpacked; /* budget used */
	char **reason;
};

const char *initramfs_compression_name(enum initramfs_compression c)
{
	static const char *const names[] = {
		[INITRAMFS_NONE] = "none", [INITRAMFS_GZIP] = "gzip", [INITRAMFS_XZ] = "xz",
		[INITRAMFS_LZ4] = "lz4",   [INITRAMFS_ZSTD] = "zstd", [INITRAMFS_BZIP2] = "bzip2",
		[INITRAMFS_LZMA] = "lzma", [INITRAMFS_LZO] = "lzo",
	};
	return (size_t)c < ELEMENTSOF(names) ? names[c] : "unknown";
}

/* "./a//b/" and "/a/b" become "a/b"; "." becomes "". */
static char *normalize(const char *name, size_t len)
{
	char *s = xmalloc(len + 1), *o = s;
	size_t i = 0;
	while (i < len) {
		while (i < len && name[i] == '/')
			i++;
		size_t j = i;
		while (j < len && name[j] != '/')
			j++;
		bool dot = j - i == 1 && name[i] == '.';
		if (j > i && !dot) {
			if (o != s)
				*o++ = '/';
			memcpy(o, name + i, j - i);
			o += j - i;
		}
		i = j;
	}
	*o = 0;
	return s;
}

char *initramfs_normalize(const char *name)
{
	return normalize(strempty(name), strlen(strempty(name)));
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_hardlink(const void *a, const void *b)
{
	const struct pending *x = *(const struct pending *const *)a;
	const struct pending *y = *(const struct pending *const *)b;
	int c = cmp_u32(x->ino, y->ino);
	if (!c)
		c = cmp_u32(x->devmajor, y->devmajor);
	if (!c)
		c = cmp_u32(x->devminor, y->devminor);
	if (!c)
		c = cmp_u32(x->f.mode, y->f.mode);
	if (!c)
		c = x->seq < y->seq ? -1 : x->seq > y->seq;
	return c;
}

/* Within one archive, regular files with nlink > 1 and the same inode share
 * their content, which cpio stores with just one of the names. */
static void resolve_hardlinks(struct parser *p, size_t first)
{
	struct pending **l = NULL;
	size_t n = 0;
	for (size_t k = first; k < p->n_all; k++)
		if (S_ISREG(p->all[k].f.mode) && p->all[k].nlink > 1) {
			l = xrealloc(l, (n + 1) * sizeof(*l));
			l[n++] = &p->all[k];
		}
	if (n > 1)
		qsort(l, n, sizeof(*l), cmp_hardlink);
	for (size_t a = 0, b; a < n; a = b) {
		struct pending *src = NULL;
		for (b = a; b < n && l[b]->ino == l[a]->ino && l[b]->devmajor == l[a]->devmajor &&
			    l[b]->devminor == l[a]->devminor && l[b]->f.mode == l[a]->f.mode;
		     b++)
			if (l[b]->f.size > 0)
				src = l[b];
		for (size_t k = a; src && k < b; k++) {
			l[k]->f.data = src->f.data;
			l[k]->f.size = src->f.size;
		}
	}
	free(l);
}

/* Reads one archive starting at pos of buf; returns the offset after it. */
static int parse_archive(struct parser *p, const uint8_t *buf, size_t len, size_t pos, unsigned seg,
			 uint64_t base, size_t *ret_end)
{
	struct cpio_reader r;
	struct cpio_entry e;
	size_t first = p->n_all;
	int k;

	cpio_reader_init(&r, buf, len, pos);
	while ((k = cpio_reader_next(&r, &e)) > 0) {
		if (p->n_all == p->cap_all) {
			p->cap_all = p->cap_all ? p->cap_all * 2 : 256;
			p->all = xrealloc(p->all, p->cap_all * sizeof(*p->all));
		}
		p->all[p->n_all] = (struct pending){
			.f = { .name = normalize(e.name, e.name_len),
			       .mode = e.mode,
			       .mtime = e.mtime,
			       .data = e.data,
			       .size = e.size,
			       .segment = seg },
			.ino = e.ino,
			.nlink = e.nlink,
			.devmajor = e.devmajor,
			.devminor = e.devminor,
			.seq = p->n_all,
		};
		p->n_all++;
		p->i->segments[seg].n_entries++;
	}
	if (k < 0)
		return reason_set(p->reason, k, "%s at offset %llu", r.error,
				  (unsigned long long)(base + r.pos));
	resolve_hardlinks(p, first);
	*ret_end = r.pos;
	return 0;
}

static unsigned add_segment(struct initramfs *i, uint64_t off, enum initramfs_compression c)
{
	i->segments = xrealloc(i->segments, (i->n_segments + 1) * sizeof(*i->segments));
	i->segments[i->n_segments] = (struct initramfs_segment){ .offset = off, .compression = c };
	return (unsigned)i->n_segments++;
}

static int parse_compressed(struct parser *p, size_t pos, enum initramfs_compression c)
{
	struct initramfs *i = p->i;
	uint8_t *out = NULL;
	size_t consumed = 0, out_len = 0;

	int r = unpack_segment(c, i->image + pos, i->image_size - pos,
			       INITRAMFS_MAX_UNPACKED - p->unpacked, &consumed, &out, &out_len,
			       p->reason);
	if (r < 0) {
		if (p->reason && *p->reason)
			return reason_set(p->reason, r, "%s segment at offset %zu: %s",
					  initramfs_compression_name(c), pos, *p->reason);
		return r;
	}
	i->buffers = xrealloc(i->buffers, (i->n_buffers + 1) * sizeof(*i->buffers));
	i->buffers[i->n_buffers++] = out;
	p->unpacked += out_len;

	unsigned seg = add_segment(i, pos, c);
	i->segments[seg].size = consumed;
	i->segments[seg].unpacked = out_len;
	size_t q = cpio_skip_zeros(out, out_len, 0);
	if (q < out_len && !cpio_has_magic(out + q, out_len - q))
		return reason_set(p->reason, -EMEDIUMTYPE,
				  "%s segment at offset %zu does not hold a cpio archive",
				  initramfs_compression_name(c), pos);
	while (q < out_len) {
		if (!cpio_has_magic(out + q, out_len - q))
			return reason_set(p->reason, -EBADMSG,
					  "junk within %s segment at offset %zu (+%zu)",
					  initramfs_compression_name(c), pos, q);
		r = parse_archive(p, out, out_len, q, seg, 0, &q);
		if (r < 0 && p->reason && *p->reason)
			return reason_set(p->reason, r, "%s segment at offset %zu: %s",
					  initramfs_compression_name(c), pos, *p->reason);
		if (r < 0)
			return r; /* no reason asked for (or none given): only the error */
		q = cpio_skip_zeros(out, out_len, q);
	}
	return (int)(consumed > 0 ? 0 : -EBADMSG);
}

static int parse_image(struct parser *p)
{
	struct initramfs *i = p->i;
	size_t pos = 0;

	if (i->image_size == 0)
		return reason_set(p->reason, -EMEDIUMTYPE, "empty file");
	for (;;) {
		pos = cpio_skip_zeros(i->image, i->image_size, pos);
		if (pos >= i->image_size)
			return 0;
		const uint8_t *b = i->image + pos;
		size_t left = i->image_size - pos;
		if (cpio_has_magic(b, left) && (pos & 3) == 0) {
			unsigned seg = add_segment(i, pos, INITRAMFS_NONE);
			size_t end;
			int r = parse_archive(p, i->image, i->image_size, pos, seg, 0, &end);
			if (r < 0)
				return r;
			i->segments[seg].size = i->segments[seg].unpacked = end - pos;
			pos = end;
			continue;
		}
		if (cpio_has_magic(b, left))
			return reason_set(p->reason, -EBADMSG,
					  "cpio archive at offset %zu is not 4-byte aligned", pos);
		enum initramfs_compression c = unpack_detect(b, left);
		if (c == INITRAMFS_NONE && i->n_segments == 0)
			return reason_set(p->reason, -EMEDIUMTYPE,
					  "not an initramfs: no cpio or compression magic");
		if (c == INITRAMFS_NONE)
			return reason_set(p->reason, -EPROTONOSUPPORT,
					  "unknown compression or junk at offset %zu", pos);
		size_t before = i->n_segments;
		int r = parse_compressed(p, pos, c);
		if (r < 0)
			return r;
		pos += i->segments[before].size;
	}
}

static int cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	int c = strcmp(x->f.name, y->f.name);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts by name and keeps the last entry of each name. */
static void merge(struct parser *p)
{
	struct initramfs *i = p->i;
	if (p->n_all > 0) /* an image without entries leaves p->all NULL: not for qsort */
		qsort(p->all, p->n_all, sizeof(*p->all), cmp_pending);
	i->files = xcalloc(p->n_all ? p->n_all : 1, sizeof(*i->files));
	for (size_t k = 0; k < p->n_all; k++) {
		bool last = k + 1 == p->n_all || !streq(p->all[k].f.name, p->all[k + 1].f.name);
		if (last && *p->all[k].f.name)
			i->files[i->n_files++] = p->all[k].f;
		else
			free(p->all[k].f.name);
	}
	free(p->all);
	p->all = NULL;
	p->n_all = 0;
}

static const struct initramfs_file *lookup_exact(const struct initramfs *i, const char *name);

/* Whether a proper prefix of name is a symlink in the image. */
static bool under_symlink(const struct initramfs *i, const char *name)
{
	char buf[PATH_MAX];
	bool found = false;
	for (const char *s = strchr(name, '/'); s && !found; s = strchr(s + 1, '/')) {
		size_t n = (size_t)(s - name);
		if (n >= sizeof(buf))
			break;
		memcpy(buf, name, n);
		buf[n] = 0;
		const struct initramfs_file *f = lookup_exact(i, buf);
		found = f && S_ISLNK(f->mode);
	}
	return found;
}

struct rekeyed {
	struct initramfs_file f;
	size_t idx;
};

static int cmp_rekeyed(const void *a, const void *b)
{
	const struct rekeyed *x = a, *y = b;
	int c = strcmp(x->f.name, y->f.name);
	if (c)
		return c;
	if (x->f.segment != y->f.segment)
		return x->f.segment < y->f.segment ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Entries land where the kernel puts them: an entry "lib/x" of a later
 * segment (an append) lands on usr/lib/x when lib is a symlink to usr/lib,
 * and replaces what was there. */
static void rekey(struct initramfs *i)
{
	char **names = xcalloc(i->n_files + 1, sizeof(char *));
	bool moved = false;
	for (size_t k = 0; k < i->n_files; k++) {
		char *res = NULL;
		if (under_symlink(i, i->files[k].name) &&
		    initramfs_resolve(i, i->files[k].name, &res) >= 0 && *res &&
		    !streq(res, i->files[k].name)) {
			names[k] = res;
			moved = true;
		} else
			free(res);
	}
	if (!moved) {
		free(names);
		return;
	}
	struct rekeyed *l = xcalloc(i->n_files, sizeof(*l));
	for (size_t k = 0; k < i->n_files; k++) {
		l[k] = (struct rekeyed){ .f = i->files[k], .idx = k };
		if (names[k]) {
			free(l[k].f.name);
			l[k].f.name = names[k];
		}
	}
	free(names);
	qsort(l, i->n_files, sizeof(*l), cmp_rekeyed);
	size_t n = 0;
	for (size_t k = 0; k < i->n_files; k++) {
		if (k + 1 < i->n_files && streq(l[k].f.name, l[k + 1].f.name))
			free(l[k].f.name);
		else
			i->files[n++] = l[k].f;
	}
	i->n_files = n;
	free(l);
}

static int parse_owned(uint8_t *buf, size_t len, struct initramfs **ret, char **ret_reason)
{
	struct initramfs *i = xcalloc(1, sizeof(*i));
	i->image = buf;
	i->image_size = len;
	struct parser p = { .i = i, .reason = ret_reason };
	int r = parse_image(&p);
	if (r < 0) {
		for (size_t k = 0; k < p.n_all; k++)
			free(p.all[k].f.name);
		free(p.all);
		initramfs_free(i);
		return r;
	}
	merge(&p);
	rekey(i);
	*ret = i;
	return 0;
}

int initramfs_parse(const void *buf, size_t len, struct initramfs **ret, char **ret_reason)
{
	uint8_t *copy = xmalloc(len ? len : 1);
	if (len)
		memcpy(copy, buf, len);
	return parse_owned(copy, len, ret, ret_reason);
}

int initramfs_read(const char *path, struct initramfs **ret, char **ret_reason)
{
	char *buf = NULL;
	size_t len = 0;
	int r = read_full_file(path, &buf, &len, 0);
	if (r < 0)
		return reason_set(ret_reason, r, "cannot read %s: %s", path, strerror(-r));
	/* An append interrupted before its magic went in: the kernel stops
	 * at the tail, so do we. */
	uint64_t old, seg;
	size_t use = len;
	if (initramfs_journal_read(path, &old, &seg) >= 0 && old < len &&
	    !(seg + 4 <= len && unpack_detect((uint8_t *)buf + seg, len - seg) == INITRAMFS_ZSTD))
		use = (size_t)old;
	r = parse_owned((uint8_t *)buf, use, ret, ret_reason);
	if (r >= 0)
		(*ret)->unfinished = len - use;
	log_debug("initramfs %s: %s", path,
		  r >= 0		      ? "read"
		  : ret_reason && *ret_reason ? *ret_reason
					      : "failed");
	return r;
}

void initramfs_free(struct initramfs *i)
{
	if (!i)
		return;
	for (size_t k = 0; k < i->n_files; k++)
		free(i->files[k].name);
	for (size_t k = 0; k < i->n_buffers; k++)
		free(i->buffers[k]);
	free(i->files);
	free(i->buffers);
	free(i->segments);
	free(i->image);
	free(i);
}

static int cmp_file_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct initramfs_file *)elem)->name);
}

static const struct initramfs_file *lookup_exact(const struct initramfs *i, const char *name)
{
	return bsearch(name, i->files, i->n_files, sizeof(*i->files), cmp_file_name);
}

int initramfs_resolve(const struct initramfs *i, const char *name, char **ret)
{
	/* Walk the components; an intermediate symlink's target is spliced
	 * in front of what is left, as path lookup in the unpacked tree would. */
	_cleanup_free_ char *rest = normalize(name, strlen(name));
	_cleanup_free_ char *done = xstrdup("");
	unsigned hops = 0;

	while (*rest) {
		char *slash = strchr(rest, '/');
		_cleanup_free_ char *c =
			slash ? xstrndup(rest, (size_t)(slash - rest)) : xstrdup(rest);
		char *tail = xstrdup(slash ? slash + 1 : "");
		free(rest);
		rest = tail;
		if (streq(c, "..")) {
			char *s = strrchr(done, '/');
			*(s ? s : done) = 0;
			continue;
		}
		_cleanup_free_ char *cand = *done ? xasprintf("%s/%s", done, c) : xstrdup(c);
		const struct initramfs_file *f = lookup_exact(i, cand);
		if (f && S_ISLNK(f->mode) && *rest) {
			if (++hops > 40)
				return -ELOOP;
			_cleanup_free_ char *target = xstrndup((const char *)f->data, f->size);
			if (target[0] == '/')
				done[0] = 0;
			char *spliced = xasprintf("%s/%s", target, rest);
			free(rest);
			rest = normalize(spliced, strlen(spliced));
			free(spliced);
			continue;
		}
		free(done);
		done = TAKE_PTR(cand);
	}
	*ret = TAKE_PTR(done);
	return 0;
}

const struct initramfs_file *initramfs_lookup(const struct initramfs *i, const char *name)
{
	_cleanup_free_ char *resolved = NULL;
	if (initramfs_resolve(i, name, &resolved) < 0)
		return NULL;
	return lookup_exact(i, resolved);
}

int initramfs_file_matches(const struct initramfs_file *f, const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(f->mode) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size)
		return 0;
	return fd_equals_buffer(fd, f->data, f->size);
}
