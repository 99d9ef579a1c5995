// SPDX-License-Identifier: GPL-2.0-or-later
/* The newc format: a 110-byte ASCII header ("070701" and 13 eight-digit hex
 * fields), the name with its NUL padded so header+name ends on a 4-byte
 * boundary, then the data padded to 4 bytes. Every length read from the input
 * is checked against what is left of the buffer before it is used: this code
 * sees images nobody vouches for and is fuzzed. */
#include <stdio.h>
#include <sys/stat.h>

#include "cpio.h"
#include "util.h"

enum {
	F_INO,
	F_MODE,
	F_UID,
	F_GID,
	F_NLINK,
	F_MTIME,
	F_FILESIZE,
	F_DEVMAJOR,
	F_DEVMINOR,
	F_RDEVMAJOR,
	F_RDEVMINOR,
	F_NAMESIZE,
	F_CHECK,
	N_FIELDS,
};

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

bool cpio_has_magic(const void *buf, size_t len)
{
	return len >= 6 && (memcmp(buf, "070701", 6) == 0 || memcmp(buf, "070702", 6) == 0);
}

size_t cpio_skip_zeros(const void *buf, size_t len, size_t pos)
{
	const uint8_t *p = buf;
	while (pos < len && p[pos] == 0)
		pos++;
	return pos;
}

void cpio_reader_init(struct cpio_reader *r, const void *buf, size_t len, size_t pos)
{
	*r = (struct cpio_reader){ .buf = buf, .len = len, .pos = pos > len ? len : pos };
}

static int parse_hex8(const uint8_t *s, uint32_t *ret)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t c = s[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -EBADMSG;
		v = (v << 4) | (uint32_t)d;
	}
	*ret = v;
	return 0;
}

static int fail(struct cpio_reader *r, int error, const char *why)
{
	r->error = why;
	return error;
}

int cpio_reader_next(struct cpio_reader *r, struct cpio_entry *ret)
{
	uint32_t f[N_FIELDS];
	size_t left;

	r->trailer = false;
	r->error = NULL;
	if (r->pos >= r->len)
		return 0; /* clean end at an entry boundary */
	left = r->len - r->pos;
	if (left < CPIO_HEADER_SIZE)
		return fail(r, -ENODATA, "cpio header cut short");
	const uint8_t *h = r->buf + r->pos;
	if (!cpio_has_magic(h, left))
		return fail(r, -EBADMSG, "bad cpio magic");
	for (int i = 0; i < N_FIELDS; i++)
		if (parse_hex8(h + 6 + 8 * i, &f[i]) < 0)
			return fail(r, -EBADMSG, "bad hex digit in cpio header");

	/* All arithmetic below is on size_t from 32-bit values, so it cannot
	 * wrap on 64-bit hosts; compare against what is left, never add to
	 * the pointer first. */
	size_t namesize = f[F_NAMESIZE], filesize = f[F_FILESIZE];
	if (namesize < 2)
		return fail(r, -EBADMSG, "cpio name empty");
	size_t name_end = align4(CPIO_HEADER_SIZE + namesize);
	if (CPIO_HEADER_SIZE + namesize > left)
		return fail(r, -ENODATA, "cpio name runs past the end");
	const char *name = (const char *)h + CPIO_HEADER_SIZE;
	if (name[namesize - 1] != 0 || memchr(name, 0, namesize - 1))
		return fail(r, -EBADMSG, "cpio name not NUL-terminated");

	bool is_trailer = namesize == sizeof(CPIO_TRAILER) && streq(name, CPIO_TRAILER);
	if (is_trailer) {
		/* The trailer's own padding may be cut at the buffer's end. */
		size_t end = name_end + align4(filesize);
		r->pos = end > left ? r->len : r->pos + end;
		r->trailer = true;
		return 0;
	}
	if (name_end > left || filesize > left - name_end)
		return fail(r, -ENODATA, "cpio data runs past the end");
	const uint8_t *data = h + name_end;

	bool crc = h[5] == '2';
	if (crc && S_ISREG(f[F_MODE])) {
		uint32_t sum = 0;
		for (size_t i = 0; i < filesize; i++)
			sum += data[i];
		if (sum != f[F_CHECK])
			return fail(r, -EBADMSG, "cpio crc mismatch");
	}

	size_t end = name_end + align4(filesize);
	r->pos = end > left ? r->len : r->pos + end;
	*ret = (struct cpio_entry){
		.ino = f[F_INO],
		.mode = f[F_MODE],
		.uid = f[F_UID],
		.gid = f[F_GID],
		.nlink = f[F_NLINK],
		.mtime = f[F_MTIME],
		.devmajor = f[F_DEVMAJOR],
		.devminor = f[F_DEVMINOR],
		.rdevmajor = f[F_RDEVMAJOR],
		.rdevminor = f[F_RDEVMINOR],
		.check = f[F_CHECK],
		.crc_format = crc,
		.name = name,
		.name_len = namesize - 1,
		.data = data,
		.size = filesize,
		.offset = (size_t)(h - r->buf),
	};
	return 1;
}

void cpio_writer_init(struct cpio_writer *w)
{
	*w = (struct cpio_writer){ .next_ino = 1 };
}

void cpio_writer_done(struct cpio_writer *w)
{
	free(w->buf);
	*w = (struct cpio_writer){ 0 };
}

static void put(struct cpio_writer *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		w->buf = xrealloc(w->buf, cap);
		w->cap = cap;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void pad4(struct cpio_writer *w)
{
	static const uint8_t zeros[4];
	put(w, zeros, align4(w->len) - w->len);
}

static int write_entry(struct cpio_writer *w, const char *name, uint32_t mode, uint32_t nlink,
		       uint32_t mtime, const void *data, size_t size)
{
	char hdr[CPIO_HEADER_SIZE + 1];

	if (w->finished)
		return -EALREADY;
	if (isempty(name))
		return -EINVAL;
	size_t namesize = strlen(name) + 1;
	if (namesize > UINT32_MAX || size > UINT32_MAX)
		return -EFBIG;
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 streq(name, CPIO_TRAILER) ? 0 : w->next_ino++, mode, 0u, 0u, nlink, mtime,
		 (uint32_t)size, 0u, 0u, 0u, 0u, (uint32_t)namesize, 0u);
	put(w, hdr, CPIO_HEADER_SIZE);
	put(w, name, namesize);
	pad4(w);
	put(w, data, size);
	pad4(w);
	return 0;
}

int cpio_write_dir(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime)
{
	return write_entry(w, name, S_IFDIR | (perm & 07777), 2, mtime, NULL, 0);
}

int cpio_write_file(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime,
		    const void *data, size_t size)
{
	return write_entry(w, name, S_IFREG | (perm & 07777), 1, mtime, data, size);
}

int cpio_write_symlink(struct cpio_writer *w, const char *name, const char *target, uint32_t mtime)
{
	if (isempty(target))
		return -EINVAL;
	return write_entry(w, name, S_IFLNK | 0777, 1, mtime, target, strlen(target));
}

int cpio_writer_finish(struct cpio_writer *w)
{
	int r = write_entry(w, CPIO_TRAILER, 0, 1, 0, NULL, 0);
	if (r < 0)
		return r;
	w->finished = true;
	return 0;
}

uint8_t *cpio_writer_steal(struct cpio_writer *w, size_t *ret_len)
{
	uint8_t *b = w->buf;
	if (ret_len)
		*ret_len = w->len;
	*w = (struct cpio_writer){ .next_ino = 1 };
	return b;
}
