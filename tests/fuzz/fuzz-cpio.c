// SPDX-License-Identifier: GPL-2.0-or-later
/* The cpio reader on its own: cpio_reader_next() over the input, archive
 * after archive (NUL padding between them skipped, as the kernel does).
 * Every entry must lie inside the buffer and each call must make progress.
 * The regular files, directories and symbolic links read are written again
 * with cpio_writer and read back: names, types and contents must survive. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpio.h"
#include "fuzz.h"

#define CHECK(x)                                                                     \
	do {                                                                         \
		if (!(x)) {                                                          \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#x);                                                 \
			abort();                                                     \
		}                                                                    \
	} while (0)

struct seen {
	const char *name;
	uint32_t type;
	const uint8_t *data;
	size_t size;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static bool inside(const uint8_t *buf, size_t len, const void *p, size_t n)
{
	const uint8_t *q = p;
	return q >= buf && q <= buf + len && n <= (size_t)(buf + len - q);
}

/* Writes what was read and reads it back. */
static void roundtrip(const struct seen *s, size_t n)
{
	struct cpio_writer w;
	size_t want = 0;

	cpio_writer_init(&w);
	for (size_t i = 0; i < n; i++) {
		int r;
		if (s[i].type == S_IFREG)
			r = cpio_write_file(&w, s[i].name, 0644, 0, s[i].data, s[i].size);
		else if (s[i].type == S_IFDIR)
			r = cpio_write_dir(&w, s[i].name, 0755, 0);
		else {
			char *t = strndup((const char *)s[i].data, s[i].size);
			r = cpio_write_symlink(&w, s[i].name, t, 0);
			free(t);
		}
		CHECK(r == 0);
		want++;
	}
	CHECK(cpio_writer_finish(&w) == 0);
	CHECK(cpio_write_dir(&w, "late", 0755, 0) == -EALREADY);
	size_t len;
	uint8_t *buf = cpio_writer_steal(&w, &len);
	cpio_writer_done(&w);
	CHECK(len % 4 == 0);

	struct cpio_reader r;
	struct cpio_entry e;
	size_t got = 0;
	int k;
	cpio_reader_init(&r, buf, len, 0);
	while ((k = cpio_reader_next(&r, &e)) > 0) {
		CHECK(got < n);
		CHECK(strcmp(e.name, s[got].name) == 0);
		CHECK((e.mode & S_IFMT) == s[got].type);
		CHECK(e.size == s[got].size);
		CHECK(e.size == 0 || memcmp(e.data, s[got].data, e.size) == 0);
		got++;
	}
	CHECK(k == 0 && r.trailer && r.pos == len && got == want);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpio_reader r;
	struct cpio_entry e;
	struct seen *s = NULL;
	size_t n = 0;
	uint32_t sum = 0;
	int k;

	cpio_reader_init(&r, data, size, 0);
	for (;;) {
		size_t before = r.pos;
		k = cpio_reader_next(&r, &e);
		CHECK(r.pos <= size);
		if (k < 0) {
			CHECK(r.error != NULL);
			break;
		}
		if (k == 0) {
			if (!r.trailer)
				break;
			CHECK(r.pos > before);
			size_t q = cpio_skip_zeros(data, size, r.pos);
			CHECK(q >= r.pos && q <= size);
			if (q >= size || (q & 3) || !cpio_has_magic(data + q, size - q))
				break;
			cpio_reader_init(&r, data, size, q);
			continue;
		}
		CHECK(r.pos > before);
		CHECK(e.offset == before);
		CHECK(inside(data, size, e.name, e.name_len + 1) && e.name[e.name_len] == 0);
		CHECK(strlen(e.name) == e.name_len);
		CHECK(inside(data, size, e.data, e.size));
		for (size_t i = 0; i < e.size; i++)
			sum += e.data[i];
		uint32_t type = e.mode & S_IFMT;
		bool keep = type == S_IFREG || type == S_IFDIR ||
			    (type == S_IFLNK && e.size > 0 && !memchr(e.data, 0, e.size));
		if (strcmp(e.name, CPIO_TRAILER) == 0)
			keep = false;
		if (type == S_IFDIR && e.size > 0)
			keep = false; /* the writer stores directories without data */
		if (keep) {
			s = realloc(s, (n + 1) * sizeof(*s));
			CHECK(s);
			s[n++] = (struct seen){ e.name, type, e.data, e.size };
		}
	}
	roundtrip(s, n);
	free(s);
	(void)sum;
	return 0;
}
