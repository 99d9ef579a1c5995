/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by cache.c (entries) and cache-key.c (keys); nothing else. */
#pragma once

#include <sys/types.h>

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

#define MANIFEST_MAGIC "dkms-agent-cache-manifest 1"

/* An entry's manifest: one line per directory and file of the built state. */
struct mfile {
	char sha[SHA256_HEX_SIZE];
	uint64_t size;
	mode_t mode;
	char *path;
};

struct manifest {
	char *key, *module, *version, *kver, *arch;
	time_t created;
	char **dirs;
	struct mfile *files;
	size_t n_files;
};

/* kver/arch's memoised share of the key (computed on first use). */
const struct cache_kernel *cache_kernel_get(struct dk_cache *c, const char *kver, const char *arch);

/* cache-entry.c: names and manifests. */
/* 64 lower-case hex digits. */
bool is_key(const char *s);
/* "kk/key", the entry's path beneath the cache directory. */
char *entry_name(const char *key);
/* A relative path an entry may name (no "..", ".", empty component or
 * control character). */
bool path_ok(const char *p);
/* Reads the file name beneath dfd (not following a link), at most 4 MiB. */
int read_at(int dfd, const char *name, char **ret);
/* Reads and checks the manifest of the entry efd; -EBADMSG when it is not one. */
int manifest_read(int efd, struct manifest *m);
void manifest_done(struct manifest *m);

/* cache.c: shared with cache-admin.c. */
/* A new name "tmp/WHAT-PID-RANDOM" beneath the cache directory. */
int make_tmp(struct dk_cache *c, const char *what, char **ret);
/* Removes "tmp/NAME" by descriptor. */
int remove_rel(struct dk_cache *c, const char *rel);
/* Takes an entry out of sight (rename into tmp/), then removes it. */
int entry_remove(struct dk_cache *c, const char *key);
