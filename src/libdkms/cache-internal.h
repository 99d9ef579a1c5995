/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by cache.c (entries) and cache-key.c (keys); nothing else. */
#pragma once

#include "cache.h"

struct cache_kernel {
	char *kver, *arch;
	char *inputs; /* NULL: no cache for this kernel */
	int error;
	char *cert; /* host path of the signing certificate, or NULL when unsigned */
};

struct dk_cache {
	const struct dk_ctx *ctx;
	char *dir; /* host path */
	int dir_fd;
	int root_fd; /* ctx's root, for chase() */
	bool writable;
	struct cache_kernel *kernels;
	size_t n_kernels;
};

/* kver/arch's memoised share of the key (computed on first use). */
const struct cache_kernel *cache_kernel_get(struct dk_cache *c, const char *kver, const char *arch);
