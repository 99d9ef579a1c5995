/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SVR4 cpio ("newc" 070701 and "crc" 070702) over memory buffers: a reader
 * that never trusts its input, and a writer that builds a newc archive. The
 * initramfs code stacks segments and decompression on top of this. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_HEADER_SIZE 110
#define CPIO_TRAILER "TRAILER!!!"

struct cpio_entry {
	uint32_t ino, mode, uid, gid, nlink, mtime;
	uint32_t devmajor, devminor, rdevmajor, rdevminor, check;
	bool crc_format;  /* "070702": check is the byte sum of the data */
	const char *name; /* NUL-terminated, points into the buffer */
	size_t name_len;
	const uint8_t *data; /* file content or symlink target (not terminated) */
	size_t size;
	size_t offset; /* of the header in the buffer */
};

struct cpio_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;	   /* offset of the next header */
	bool trailer;	   /* the last call ended at TRAILER!!! */
	const char *error; /* static string describing the last failure */
};

/* True if buf holds at least a cpio newc/crc magic at its start. */
bool cpio_has_magic(const void *buf, size_t len);

/* Starts reading at buf+pos; buf is borrowed and must outlive the reader. */
void cpio_reader_init(struct cpio_reader *r, const void *buf, size_t len, size_t pos);
/* Reads one entry. Returns 1 and fills *ret; 0 at the end of an archive
 * (r->trailer says whether TRAILER!!! was seen or the buffer ended cleanly at
 * an entry boundary; r->pos is then past the trailer's padding); -ENODATA if
 * the buffer ends inside an entry; -EBADMSG on a malformed header, name or
 * checksum. r->error holds a short reason on failure. */
int cpio_reader_next(struct cpio_reader *r, struct cpio_entry *ret);

/* Returns the offset of the first non-NUL byte at or after pos (len if none). */
size_t cpio_skip_zeros(const void *buf, size_t len, size_t pos);

/* Builds a newc archive in memory. Names are stored as given (no leading '/'
 * wanted: the kernel unpacks relative to /). */
struct cpio_writer {
	uint8_t *buf;
	size_t len, cap;
	uint32_t next_ino;
	bool finished;
};

void cpio_writer_init(struct cpio_writer *w);
/* Frees the buffer unless it was taken. Accepts a zeroed writer. */
void cpio_writer_done(struct cpio_writer *w);
/* Each returns 0, -EINVAL for an empty name or one with a NUL, -EFBIG for
 * data over 4 GiB, -EALREADY after cpio_writer_finish(). */
int cpio_write_dir(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime);
int cpio_write_file(struct cpio_writer *w, const char *name, uint32_t perm, uint32_t mtime,
		    const void *data, size_t size);
int cpio_write_symlink(struct cpio_writer *w, const char *name, const char *target, uint32_t mtime);
/* Appends TRAILER!!! and pads the archive to a 4-byte boundary. */
int cpio_writer_finish(struct cpio_writer *w);
/* Hands the buffer over to the caller (free() it); the writer is emptied. */
uint8_t *cpio_writer_steal(struct cpio_writer *w, size_t *ret_len);
