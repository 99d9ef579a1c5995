// SPDX-License-Identifier: GPL-2.0-or-later
/* The kernel unpacks an initramfs as a row of segments and needs to know
 * where each compressed one ends, since another may follow. Its in-kernel
 * decompressors report that; the command-line tools do not, so each format
 * gets its own way of finding the end: zstd frames carry their size, an xz
 * stream ends in a checksummed footer, a legacy lz4 stream is a row of
 * length-prefixed blocks, and a gzip member ends in the CRC and size of
 * what it unpacked to. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "initramfs-unpack.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK (8u << 20)
#define LZ4_LEGACY_BOUND (LZ4_LEGACY_BLOCK + LZ4_LEGACY_BLOCK / 255 + 16)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t unpack_crc32(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = buf;

	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

enum initramfs_compression unpack_detect(const uint8_t *b, size_t len)
{
	if (len >= 4 && le32(b) == ZSTD_MAGICNUMBER)
		return INITRAMFS_ZSTD;
	if (len >= 2 && b[0] == 0x1f && (b[1] == 0x8b || b[1] == 0x9e))
		return INITRAMFS_GZIP;
	if (len >= 6 && memcmp(b,
			       "\xfd"
			       "7zXZ\0",
			       6) == 0)
		return INITRAMFS_XZ;
	if (len >= 4 && le32(b) == LZ4_LEGACY_MAGIC)
		return INITRAMFS_LZ4;
	if (len >= 3 && memcmp(b, "BZh", 3) == 0)
		return INITRAMFS_BZIP2;
	if (len >= 3 && memcmp(b, "\x5d\0\0", 3) == 0)
		return INITRAMFS_LZMA;
	if (len >= 4 && memcmp(b, "\x89LZO", 4) == 0)
		return INITRAMFS_LZO;
	return INITRAMFS_NONE;
}

/* A segment is the run of frames (skippable ones included) that starts
 * here; each frame says how long it is, block by block, so finding the end
 * reads headers only. */
static int zstd_frames_end(const uint8_t *buf, size_t len, size_t *ret_end, char **ret_reason)
{
	size_t end = 0;
	while (len - end >= 4) {
		uint32_t m = le32(buf + end);
		if (m != ZSTD_MAGICNUMBER &&
		    (m & ZSTD_MAGIC_SKIPPABLE_MASK) != ZSTD_MAGIC_SKIPPABLE_START)
			break;
		size_t n = ZSTD_findFrameCompressedSize(buf + end, len - end);
		if (ZSTD_isError(n)) {
			if (ZSTD_getErrorCode(n) == ZSTD_error_srcSize_wrong)
				return reason_set(ret_reason, -ENODATA,
						  "zstd frame at +%zu is truncated", end);
			return reason_set(ret_reason, -EBADMSG, "zstd frame at +%zu: %s", end,
					  ZSTD_getErrorName(n));
		}
		end += n;
	}
	*ret_end = end;
	return 0;
}

static int unpack_zstd(const uint8_t *buf, size_t len, size_t max_out, size_t *ret_consumed,
		       uint8_t **ret_out, size_t *ret_out_len, char **ret_reason)
{
	size_t end = 0;
	int r = zstd_frames_end(buf, len, &end, ret_reason);
	if (r < 0)
		return r;

	ZSTD_DStream *ds = ZSTD_createDStream();
	if (!ds)
		return -ENOMEM;
	unsigned long long hint = ZSTD_getFrameContentSize(buf, end);
	/* The frame's claimed size is a hint, not a promise: a 13-byte frame
	 * may claim a GiB. Trust it up to 64 MiB; beyond, grow as data comes. */
	size_t cap = hint < (64u << 20) && hint > 0 ? (size_t)hint + 1 : 1u << 20;
	size_t outlen = 0;
	uint8_t *out = xmalloc(cap);
	ZSTD_inBuffer in = { buf, end, 0 };
	size_t z = 1;
	while (in.pos < in.size || z != 0) {
		if (outlen == cap) {
			if (cap >= max_out) {
				r = reason_set(ret_reason, -E2BIG,
					       "zstd segment unpacks past %zu bytes", max_out);
				break;
			}
			cap = cap * 2 > max_out ? max_out : cap * 2;
			out = xrealloc(out, cap);
		}
		ZSTD_outBuffer ob = { out, cap, outlen };
		size_t before = in.pos;
		z = ZSTD_decompressStream(ds, &ob, &in);
		outlen = ob.pos;
		if (ZSTD_isError(z)) {
			r = reason_set(ret_reason, -EBADMSG, "zstd: %s", ZSTD_getErrorName(z));
			break;
		}
		if (in.pos == in.size && before == in.pos && ob.pos < cap && z != 0) {
			r = reason_set(ret_reason, -ENODATA, "zstd stream is truncated");
			break;
		}
	}
	ZSTD_freeDStream(ds);
	if (r < 0) {
		free(out);
		return r;
	}
	*ret_consumed = end;
	*ret_out = out;
	*ret_out_len = outlen;
	return 0;
}

/* Runs "TOOL -dcq [EXTRA] FILE" on data. The input is a memfd the child
 * inherits and opens as /proc/self/fd/N (spawn.c gives children /dev/null on
 * stdin). The output goes to a memfd sealed at max_out bytes, so a small
 * hostile stream cannot fill memory; the child's write offset, shared with
 * our descriptor, is the output's length. On failure the tool's last line
 * (stderr shares the memfd) becomes the reason. */
static int run_tool(const char *tool, const char *extra, const uint8_t *data, size_t len,
		    size_t max_out, uint8_t **ret_out, size_t *ret_out_len, char **ret_reason)
{
	static char lc_all[] = "LC_ALL=C";
	static char *const env[] = { lc_all, NULL };
	_cleanup_close_ int in = memfd_create("initramfs-in", MFD_CLOEXEC); /* passed to it */
	_cleanup_close_ int out = memfd_create("initramfs-out", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (in < 0 || out < 0)
		return -errno;
	int r = write_all(in, data, len);
	if (r < 0)
		return r;
	if (ftruncate(out, (off_t)max_out) < 0 || fcntl(out, F_ADD_SEALS, F_SEAL_GROW) < 0)
		return -errno;

	_cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", in);
	char *argv[6] = { (char *)tool, (char *)"-dcq" };
	size_t k = 2;
	if (extra)
		argv[k++] = (char *)extra;
	argv[k++] = path;
	argv[k] = NULL;
	int pass[] = { in };
	struct spawn_opts o = { .out_fd = out, .env = env, .pass_fds = pass, .n_pass_fds = 1 };
	r = spawn_wait(argv, &o);
	if (r < 0)
		return reason_set(ret_reason, r, "cannot run %s: %s", tool, strerror(-r));
	off_t n = lseek(out, 0, SEEK_CUR);
	if (n < 0)
		return -errno;
	if ((size_t)n >= max_out)
		return reason_set(ret_reason, -E2BIG, "%s segment unpacks past %zu bytes", tool,
				  max_out);
	uint8_t *buf = xmalloc((size_t)n + 1);
	if (n > 0 && pread(out, buf, (size_t)n, 0) != n) {
		free(buf);
		return -EIO;
	}
	/* gzip exits 2 for "trailing garbage ignored": that is the next segment. */
	if (r == 0 || (r == 2 && streq(tool, "gzip"))) {
		*ret_out = buf;
		*ret_out_len = (size_t)n;
		return 0;
	}
	char msg[160];
	size_t tail = (size_t)n > sizeof(msg) - 1 ? sizeof(msg) - 1 : (size_t)n;
	memcpy(msg, buf + n - tail, tail);
	msg[tail] = 0;
	free(buf);
	while (tail > 0 && msg[tail - 1] == '\n')
		msg[--tail] = 0;
	const char *line = strrchr(msg, '\n') ? strrchr(msg, '\n') + 1 : msg;
	if (r == 127)
		return reason_set(ret_reason, -ENOENT, "%s is not installed", tool);
	if (strstr(line, "nexpected end of") || strstr(line, "truncated"))
		return reason_set(ret_reason, -ENODATA, "%s stream is truncated", tool);
	return reason_set(ret_reason, -EBADMSG, "%s failed with status %d: %s", tool, r, line);
}

struct gzip_candidate {
	size_t size; /* ISIZE claimed by the 8 bytes before end */
	size_t end;
};

static int cmp_candidate(const void *a, const void *b)
{
	const struct gzip_candidate *x = a, *y = b;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* gzip -dc unpacked every member it could, then stopped at whatever came
 * next. The first member ends at the smallest offset whose trailer holds the
 * CRC-32 and length of some prefix of that output; the 32-bit CRC makes a
 * false match vanishingly unlikely. Returns the end offset and the length of
 * the first member's output, or -ENODATA. */
static int gzip_member_end(const uint8_t *buf, size_t len, const uint8_t *out, size_t out_len,
			   size_t *ret_end, size_t *ret_size)
{
	uint32_t whole = unpack_crc32(0, out, out_len);
	for (size_t e = 18; e <= len; e++)
		if (le32(buf + e - 4) == (uint32_t)out_len && le32(buf + e - 8) == whole) {
			*ret_end = e;
			*ret_size = out_len;
			return 0;
		}

	/* More than one member: collect every plausible (size, end), sweep
	 * the CRC over the output once in size order. */
	struct gzip_candidate *c = NULL;
	size_t n = 0, cap = 0;
	for (size_t e = 18; e <= len; e++) {
		uint32_t s = le32(buf + e - 4);
		if (s == 0 || s > out_len)
			continue;
		if (n == cap)
			c = xrealloc(c, (cap = cap ? cap * 2 : 1024) * sizeof(*c));
		c[n++] = (struct gzip_candidate){ s, e };
	}
	if (n > 1) /* c is NULL when nothing qualified */
		qsort(c, n, sizeof(*c), cmp_candidate);
	uint32_t crc = 0;
	size_t done = 0, best = SIZE_MAX, best_size = 0;
	for (size_t i = 0; i < n; i++) {
		crc = unpack_crc32(crc, out + done, c[i].size - done);
		done = c[i].size;
		if (le32(buf + c[i].end - 8) == crc && c[i].end < best) {
			best = c[i].end;
			best_size = c[i].size;
		}
	}
	free(c);
	if (best == SIZE_MAX)
		return -ENODATA;
	*ret_end = best;
	*ret_size = best_size;
	return 0;
}

/* An xz stream is a multiple of 4 bytes and ends in a 12-byte footer: CRC-32
 * of the next 6 bytes, backward size, the header's stream flags, "YZ". */
static int xz_stream_end(const uint8_t *buf, size_t len, size_t *ret_end)
{
	for (size_t e = 32; e <= len; e += 4) {
		const uint8_t *f = buf + e - 12;
		if (f[10] == 'Y' && f[11] == 'Z' && f[8] == buf[6] && f[9] == buf[7] &&
		    le32(f) == unpack_crc32(0, f + 4, 6)) {
			*ret_end = e;
			return 0;
		}
	}
	return -ENODATA;
}

/* Legacy lz4 (lz4 -l, what the kernel reads): the magic, then blocks each
 * preceded by its compressed length, possibly with the magic repeated. The
 * stream ends where no plausible block length follows. */
static int lz4_stream_end(const uint8_t *buf, size_t len, size_t *ret_end)
{
	size_t pos = 4;
	while (len - pos >= 4) {
		uint32_t v = le32(buf + pos);
		if (v == LZ4_LEGACY_MAGIC) {
			pos += 4;
			continue;
		}
		if (v == 0 || v > LZ4_LEGACY_BOUND ||
		    unpack_detect(buf + pos, len - pos) != INITRAMFS_NONE ||
		    (len - pos >= 6 && memcmp(buf + pos, "07070", 5) == 0))
			break;
		if (v > len - pos - 4)
			return -ENODATA;
		pos += 4 + (size_t)v;
	}
	*ret_end = pos;
	return 0;
}

int unpack_segment(enum initramfs_compression c, const uint8_t *buf, size_t len, size_t max_out,
		   size_t *ret_consumed, uint8_t **ret_out, size_t *ret_out_len, char **ret_reason)
{
	uint8_t *out = NULL;
	size_t out_len = 0, end = 0;
	int r;

	switch (c) {
	case INITRAMFS_ZSTD:
		return unpack_zstd(buf, len, max_out, ret_consumed, ret_out, ret_out_len,
				   ret_reason);
	case INITRAMFS_GZIP:
		r = run_tool("gzip", NULL, buf, len, max_out, &out, &out_len, ret_reason);
		if (r < 0)
			return r;
		if (gzip_member_end(buf, len, out, out_len, &end, &out_len) < 0) {
			free(out);
			return reason_set(ret_reason, -ENODATA, "gzip member has no valid trailer");
		}
		break;
	case INITRAMFS_XZ:
		if (xz_stream_end(buf, len, &end) < 0)
			return reason_set(ret_reason, -ENODATA,
					  "xz stream has no footer (truncated)");
		r = run_tool("xz", "--single-stream", buf, end, max_out, &out, &out_len,
			     ret_reason);
		if (r < 0)
			return r;
		break;
	case INITRAMFS_LZ4:
		if (lz4_stream_end(buf, len, &end) < 0)
			return reason_set(ret_reason, -ENODATA, "lz4 block runs past the end");
		r = run_tool("lz4", NULL, buf, end, max_out, &out, &out_len, ret_reason);
		if (r < 0)
			return r;
		break;
	default:
		return reason_set(ret_reason, -EPROTONOSUPPORT, "%s compression is not supported",
				  initramfs_compression_name(c));
	}
	*ret_consumed = end;
	*ret_out = out;
	*ret_out_len = out_len;
	return 0;
}
