// SPDX-License-Identifier: GPL-2.0-or-later
/* Linked into every fuzz target with -Wl,--wrap=spawn_wait,--wrap=spawn_capture,
 * --wrap=spawn_start: no child process is ever started while fuzzing. The
 * library's fallbacks that need bash (a dkms.conf or framework.conf the
 * native reader declines) see it as not installed, which they report as an
 * ordinary error; the fuzzer keeps exercising the in-process code around them.
 *
 * The initramfs reader runs "gzip -dcq FILE" and "xz -dcq --single-stream
 * FILE" with stdout on a memfd. Those two are emulated here with zlib and
 * liblzma (exit 0, 1 with a message like the tool's, gzip's 2 for trailing
 * garbage), so the code that reads their output and finds where the segment
 * ended is fuzzed too. lz4 is refused (no library in the build). */
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz.h"
#include "spawn.h"
#include "util.h"

/* Emulated tools stop (as if the disk were full) past this much output. */
#define EMU_MAX_OUT ((size_t)64 << 20)

unsigned long fuzz_spawn_refused;

int __wrap_spawn_wait(char *const *argv, const struct spawn_opts *opts);
int __wrap_spawn_capture(char *const *argv, const struct spawn_opts *opts, char **ret);
int __wrap_spawn_start(char *const *argv, const struct spawn_opts *opts, pid_t *ret_pid);

struct emu {
	int fd;
	size_t written;
	bool failed;
};

static void emu_write(struct emu *e, const void *p, size_t n)
{
	const char *s = p;
	if (e->failed)
		return;
	if (e->written + n > EMU_MAX_OUT) {
		e->failed = true;
		return;
	}
	while (n > 0) {
		ssize_t k = write(e->fd, s, n);
		if (k <= 0) {
			e->failed = true; /* the sealed memfd is full */
			return;
		}
		s += k;
		n -= (size_t)k;
		e->written += (size_t)k;
	}
}

static int emu_fail(struct emu *e, const char *tool, const char *msg)
{
	dprintf(e->fd, "%s: %s\n", tool, msg);
	return 1;
}

static int emu_gzip(struct emu *e, const uint8_t *in, size_t len)
{
	static uint8_t buf[65536];
	size_t pos = 0;
	for (bool first = true;; first = false) {
		if (!first && (len - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b))
			return pos < len ? 2 : 0; /* "trailing garbage ignored" */
		z_stream z = { 0 };
		if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
			return emu_fail(e, "gzip", "out of memory");
		z.next_in = (Bytef *)(in + pos);
		z.avail_in = (uInt)(len - pos > UINT32_MAX ? UINT32_MAX : len - pos);
		int r;
		do {
			z.next_out = buf;
			z.avail_out = sizeof(buf);
			r = inflate(&z, Z_NO_FLUSH);
			emu_write(e, buf, sizeof(buf) - z.avail_out);
		} while (r == Z_OK && !e->failed);
		pos += (size_t)(z.next_in - (in + pos));
		inflateEnd(&z);
		if (e->failed)
			return emu_fail(e, "gzip", "write error");
		if (r == Z_BUF_ERROR)
			return emu_fail(e, "gzip", "stdin: unexpected end of file");
		if (r != Z_STREAM_END)
			return emu_fail(e, "gzip", "stdin: invalid compressed data--format violated");
	}
}

static int emu_xz(struct emu *e, const uint8_t *in, size_t len)
{
	static uint8_t buf[65536];
	lzma_stream z = LZMA_STREAM_INIT;
	if (lzma_stream_decoder(&z, (uint64_t)256 << 20, 0) != LZMA_OK)
		return emu_fail(e, "xz", "out of memory");
	z.next_in = in;
	z.avail_in = len;
	lzma_ret r;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		r = lzma_code(&z, LZMA_FINISH);
		emu_write(e, buf, sizeof(buf) - z.avail_out);
	} while (r == LZMA_OK && !e->failed);
	lzma_end(&z);
	if (e->failed)
		return emu_fail(e, "xz", "write error");
	if (r == LZMA_STREAM_END)
		return 0;
	if (r == LZMA_BUF_ERROR)
		return emu_fail(e, "xz", "(stdin): Unexpected end of input");
	return emu_fail(e, "xz", "(stdin): Compressed data is corrupt");
}

/* "TOOL -dcq [--single-stream] /proc/self/fd/N" as run by initramfs-unpack.c. */
static int emulate(char *const *argv, const struct spawn_opts *opts)
{
	size_t n = 0;
	while (argv[n])
		n++;
	if (n < 3 || !opts || opts->out_fd < 0 || strcmp(argv[1], "-dcq") != 0)
		return -ENOENT;
	bool gz = strcmp(argv[0], "gzip") == 0 && n == 3;
	bool xz = strcmp(argv[0], "xz") == 0 && n == 4 && strcmp(argv[2], "--single-stream") == 0;
	if (!gz && !xz)
		return -ENOENT;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_full_file(argv[n - 1], &data, &len, 0) < 0)
		return 127;
	struct emu e = { .fd = opts->out_fd };
	return gz ? emu_gzip(&e, (const uint8_t *)data, len) : emu_xz(&e, (const uint8_t *)data, len);
}

int __wrap_spawn_wait(char *const *argv, const struct spawn_opts *opts)
{
	int r = emulate(argv, opts);
	if (r == -ENOENT)
		fuzz_spawn_refused++;
	return r;
}

int __wrap_spawn_capture(char *const *argv, const struct spawn_opts *opts, char **ret)
{
	fuzz_spawn_refused++;
	return -ENOENT;
}

int __wrap_spawn_start(char *const *argv, const struct spawn_opts *opts, pid_t *ret_pid)
{
	fuzz_spawn_refused++;
	return -ENOENT;
}
