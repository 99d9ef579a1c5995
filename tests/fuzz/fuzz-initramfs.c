// SPDX-License-Identifier: GPL-2.0-or-later
/* initramfs_parse() over the input: uncompressed cpio segments and zstd
 * (libzstd) run in process; gzip, xz and lz4 segments are located (their
 * end-finding runs) but the tools are refused by nospawn.c. On success the
 * file map must be sorted, unique and normalised, every file's bytes are
 * read, and each name is looked up again through initramfs_lookup() (which
 * resolves symbolic links in leading components). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_frameHeaderSize */
#include <zstd.h>

#include "fuzz.h"
#include "initramfs.h"

#define CHECK(x)                                                                     \
	do {                                                                         \
		if (!(x)) {                                                          \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#x);                                                 \
			abort();                                                     \
		}                                                                    \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

/* A zstd segment may legitimately unpack to INITRAMFS_MAX_UNPACKED (2 GiB):
 * from a 76 KiB input that takes seconds and gigabytes, which fuzzing would
 * report as a timeout or out-of-memory over and over. Inputs with a segment
 * that could unpack past this are skipped (the limit itself is reported, not
 * rediscovered). */
#define ZSTD_SKIP_ABOVE ((unsigned long long)64 << 20)

/* What a frame can really unpack to, whatever its header claims: raw and
 * RLE blocks their size, a compressed block at most 128 KiB. */
static unsigned long long frame_bound(const uint8_t *f, size_t n)
{
	size_t pos = ZSTD_frameHeaderSize(f, n);
	unsigned long long total = 0;
	if (ZSTD_isError(pos) || memcmp(f, "\x28\xb5\x2f\xfd", 4) != 0)
		return 0; /* skippable */
	while (n - pos >= 3) {
		uint32_t h = f[pos] | (uint32_t)f[pos + 1] << 8 | (uint32_t)f[pos + 2] << 16;
		unsigned type = (h >> 1) & 3;
		size_t bsize = h >> 3;
		pos += 3;
		total += type == 2 ? 128u << 10 : bsize;
		size_t skip = type == 1 ? 1 : type == 3 ? 0 : bsize;
		if (skip > n - pos || (h & 1))
			break;
		pos += skip;
	}
	return total;
}

static bool zstd_bomb(const uint8_t *data, size_t size)
{
	for (size_t pos = 0; pos + 4 <= size; pos++) {
		if (memcmp(data + pos, "\x28\xb5\x2f\xfd", 4) != 0)
			continue;
		unsigned long long total = 0;
		for (size_t end = pos; size - end >= 4;) {
			size_t n = ZSTD_findFrameCompressedSize(data + end, size - end);
			if (ZSTD_isError(n))
				break;
			total += frame_bound(data + end, n);
			if (total > ZSTD_SKIP_ABOVE)
				return true;
			end += n;
		}
	}
	return false;
}

static void check_name(const char *n)
{
	CHECK(*n && n[0] != '/');
	CHECK(!strstr(n, "//"));
	CHECK(n[strlen(n) - 1] != '/');
	CHECK(strcmp(n, ".") != 0 && strncmp(n, "./", 2) != 0 && !strstr(n, "/./"));
	size_t l = strlen(n);
	CHECK(!(l >= 2 && strcmp(n + l - 2, "/.") == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct initramfs *i = NULL;
	char *reason = NULL;
	uint32_t sum = 0;

	if (zstd_bomb(data, size))
		return -1; /* not added to the corpus */
	int r = initramfs_parse(data, size, &i, &reason);
	if (getenv("FUZZ_DEBUG")) /* replaying by hand: what did the reader make of it */
		fprintf(stderr, "initramfs_parse: %d %s, %zu segments, %zu files\n", r,
			reason ? reason : "", i ? i->n_segments : 0, i ? i->n_files : 0);
	if (r < 0) {
		CHECK(!i);
		free(reason);
		return 0;
	}
	free(reason);
	CHECK(i->image_size == size);
	uint64_t prev_end = 0;
	for (size_t s = 0; s < i->n_segments; s++) {
		const struct initramfs_segment *g = &i->segments[s];
		CHECK(g->offset >= prev_end && g->offset <= size && g->size <= size - g->offset);
		prev_end = g->offset + g->size;
		CHECK(initramfs_compression_name(g->compression) != NULL);
	}
	for (size_t k = 0; k < i->n_files; k++) {
		const struct initramfs_file *f = &i->files[k];
		check_name(f->name);
		if (k > 0)
			CHECK(strcmp(i->files[k - 1].name, f->name) < 0);
		CHECK(f->segment < i->n_segments);
		for (size_t b = 0; b < f->size; b++)
			sum += f->data[b];
		const struct initramfs_file *g = initramfs_lookup(i, f->name);
		/* A leading component may be a symlink, so the lookup can land
		 * elsewhere; without one it must find the file itself. */
		if (!strchr(f->name, '/') && strcmp(f->name, "..") != 0)
			CHECK(g == f);
		char *res = NULL;
		if (initramfs_resolve(i, f->name, &res) == 0)
			free(res);
	}
	static const char *const probes[] = { "lib/modules/6.1.0-18-amd64/modules.dep",
					      "/usr/lib/modules", "./init", "a/../b/../../c",
					      "lib/../lib/./x", "" };
	for (size_t k = 0; k < sizeof(probes) / sizeof(*probes); k++)
		(void)initramfs_lookup(i, probes[k]);
	initramfs_free(i);
	(void)sum;
	return 0;
}
