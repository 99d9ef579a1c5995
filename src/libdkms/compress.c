// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <stdio.h>
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

static int zstd_file(const char *src, const char *dst)
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
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 19);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	size_t n = ZSTD_compress2(cctx, out, cap, in, len);
	ZSTD_freeCCtx(cctx);
	if (ZSTD_isError(n))
		return -EIO;
	return write_file_atomic(dst, out, n, 0644);
}

static int tool_file(const char *tool, const char *src, const char *dst)
{
	_cleanup_free_ char *tmp = xasprintf("%s.dkms-tmp", dst);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	char *argv[] = { (char *)tool, "-9", "-c", (char *)src, NULL };
	char *xz_argv[] = { (char *)tool, "-c", "--check=crc32", (char *)src, NULL };
	struct spawn_opts o = { .out_fd = fd };
	int r = spawn_wait(streq(tool, "xz") ? xz_argv : argv, &o);
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

int compress_file(const char *src, const char *dst, const char *suffix)
{
	if (isempty(suffix))
		return copy_file_atomic(src, dst, 0644);
	if (streq(suffix, ".zst"))
		return zstd_file(src, dst);
	if (streq(suffix, ".xz"))
		return tool_file("xz", src, dst);
	if (streq(suffix, ".gz"))
		return tool_file("gzip", src, dst);
	return -EINVAL;
}
