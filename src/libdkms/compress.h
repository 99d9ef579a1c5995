/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Module compression matching the target kernel. */
#pragma once

/* Suffix the target kernel uses for its modules: "", ".zst", ".xz" or ".gz".
 * Looks at <moddir>/modules.dep, else at the kernel config. */
const char *compress_suffix_for_kernel(const char *moddir, const char *kconfig);

/* Compresses src into dst (atomic) with the method given by suffix. zstd goes
 * through libzstd with the content size in the frame header (libkmod needs
 * it); xz and gzip through their tools. "" copies. */
int compress_file(const char *src, const char *dst, const char *suffix);
/* The same with framework.conf's compress_<gzip|xz|zstd>_opts (opts NULL:
 * ours above). For zstd only the level counts (-N, --ultra, --fast=N); the
 * frame still records its content size. */
int compress_file_opts(const char *src, const char *dst, const char *suffix, const char *opts);

/* Reads a module file into memory, decompressed according to its suffix
 * (.zst through libzstd, .xz and .gz through their tools). At most 1 GiB. */
int compress_load(const char *path, char **ret, size_t *ret_len);
