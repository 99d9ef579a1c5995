// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zstd.h>

#include "compress.h"
#include "spawn.h"
#include "util.h"

static const char *suffix_from_config(const char *kconfig)
{
	_cleanup_free_ char *c = NULL;
	if (!kconfig || read_full_file(kconfig, &c, NULL, 16 << 20) < 0)
		return "";
	if (strstr(c, "\nCONFIG_MODULE_COMPRESS_ZSTD=y"))
		return ".zst";
	if (strstr(c, "\nCONFIG_MODULE_COMPRESS_XZ=y"))
		return ".xz";
	if (strstr(c, "\nCONFIG_MODULE_COMPRESS_GZIP=y"))
		return ".gz";
	return "";
}

const char *compress_suffix_for_kernel(const char *moddir, const char *kconfig)
{
	_cleanup_free_ char *dep_path = path_join(moddir, "modules.dep");
	_cleanup_free_ char *dep = NULL;
	if (read_full_file(dep_path, &dep, NULL, 64 << 20) < 0 || !*dep)
		return suffix_from_config(kconfig);
	if (strstr(dep, ".ko.zst:"))
		return ".zst";
	if (strstr(dep, ".ko.xz:"))
		return ".xz";
	if (strstr(dep, ".ko.gz:"))
		return ".gz";
	return "";
}

/* The compression level that zstd's command line would use with opts (3,
 * its default, when none is given); the other options (threads, --rm, -q)
 * do not change the output format. */
static int zstd_level(const char *opts)
{
	int level = 3;
	bool ultra = false;
	_cleanup_strv_free_ char **w = strv_split(opts, " \t\n");
	for (size_t i = 0; w[i]; i++) {
		const char *f = startswith(w[i], "--fast=");
		if (streq(w[i], "--ultra"))
			ultra = true;
		else if (f && atoi(f) > 0)
			level = -atoi(f);
		else if (w[i][0] == '-' && w[i][1] >= '0' && w[i][1] <= '9' &&
			 w[i][1 + strspn(w[i] + 1, "0123456789")] == 0)
			level = atoi(w[i] + 1);
	}
	return level > 19 && !ultra ? 19 : level > 22 ? 22 : level;
}

static int zstd_file(const char *src, const char *dst, int level)
{
	_cleanup_free_ char *in = NULL;
	size_t len;
	int r = read_full_file(src, &in, &len, 0);
	if (r < 0)
		return r;
	size_t cap = ZSTD_compressBound(len);
	_cleanup_free_ char *out = xmalloc(cap);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	if (!cctx)
		return -ENOMEM;
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	size_t n = ZSTD_compress2(cctx, out, cap, in, len);
	ZSTD_freeCCtx(cctx);
	if (ZSTD_isError(n))
		return -EIO;
	return write_file_atomic(dst, out, n, 0644);
}

static int tool_file(const char *tool, const char *src, const char *dst, const char *opts)
{
	_cleanup_free_ char *tmp = xasprintf("%s.dkms-tmp", dst);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* framework.conf's compress_*_opts, word-split as dkms passes them. */
	_cleanup_strv_free_ char **argv = NULL;
	strv_push(&argv, tool);
	if (opts) {
		_cleanup_strv_free_ char **w = strv_split(opts, " \t\n");
		for (size_t i = 0; w[i]; i++)
			strv_push(&argv, w[i]);
	} else
		strv_push(&argv, streq(tool, "xz") ? "--check=crc32" : "-9");
	strv_push(&argv, "-c");
	strv_push(&argv, src);
	struct spawn_opts o = { .out_fd = fd };
	int r = spawn_wait(argv, &o);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, dst) < 0)
		r = -errno;
	if (r != 0) {
		unlink(tmp);
		return r < 0 ? r : -EIO;
	}
	return 0;
}

int compress_file_opts(const char *src, const char *dst, const char *suffix, const char *opts)
{
	if (isempty(suffix))
		return copy_file_atomic(src, dst, 0644);
	if (streq(suffix, ".zst"))
		return zstd_file(src, dst, opts ? zstd_level(opts) : 19);
	if (streq(suffix, ".xz"))
		return tool_file("xz", src, dst, opts);
	if (streq(suffix, ".gz"))
		return tool_file("gzip", src, dst, opts);
	return -EINVAL;
}

int compress_file(const char *src, const char *dst, const char *suffix)
{
	return compress_file_opts(src, dst, suffix, NULL);
}

#define LOAD_MAX ((size_t)1 << 30)

static int unzstd(const char *in, size_t len, char **ret, size_t *ret_len)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	if (!d)
		return -ENOMEM;
	size_t cap = 1 << 20, out_len = 0;
	char *out = xmalloc(cap);
	ZSTD_inBuffer ib = { in, len, 0 };
	size_t k = 1;
	while (ib.pos < ib.size || k != 0) {
		if (out_len == cap) {
			if (cap >= LOAD_MAX)
				break;
			out = xrealloc(out, cap *= 2);
		}
		ZSTD_outBuffer ob = { out + out_len, cap - out_len, 0 };
		k = ZSTD_decompressStream(d, &ob, &ib);
		out_len += ob.pos;
		if (ZSTD_isError(k) || (ob.pos == 0 && ib.pos == ib.size && k != 0))
			break;
	}
	ZSTD_freeDStream(d);
	if (k != 0) {
		free(out);
		return -EBADMSG;
	}
	*ret = out;
	*ret_len = out_len;
	return 0;
}

/* xz -dc / gzip -dc into a memory file. */
static int untool(const char *tool, const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = memfd_create("dkms-agent-module", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *argv[] = { (char *)tool, "-dc", "--", (char *)path, NULL };
	struct spawn_opts o = { .out_fd = fd };
	int r = spawn_wait(argv, &o);
	if (r != 0)
		return r < 0 ? r : -EBADMSG;
	_cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", fd);
	return read_full_file(proc, ret, ret_len, LOAD_MAX);
}

int compress_load(const char *path, char **ret, size_t *ret_len)
{
	if (endswith(path, ".xz"))
		return untool("xz", path, ret, ret_len);
	if (endswith(path, ".gz"))
		return untool("gzip", path, ret, ret_len);
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_full_file(path, &data, &len, LOAD_MAX);
	if (r < 0)
		return r;
	if (endswith(path, ".zst"))
		return unzstd(data, len, ret, ret_len);
	*ret = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}
