/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The build cache: built (stripped, signed, compressed) modules of a
 * module/version for a kernel/arch, keyed by everything that affects them,
 * so that a rebuild of unchanged source for a kernel already built for (a
 * remove/add, a reinstalled package or kernel, a second machine with the
 * same kernel) installs without compiling.
 *
 * The key is the SHA-256 of a text listing the inputs (cache_key): the
 * source tree's content, dkms.conf as evaluated for the kernel, the kernel's
 * .config, Module.symvers and release files, the compiler and linker
 * versions, the arch, the compression suffix and the signing certificate.
 * An entry is <dir>/<kk>/<key>/ holding that text ("inputs"), a "manifest"
 * (each file's SHA-256, size and mode) and the built state's files
 * (module/, log/make.log, whatever POST_BUILD left), written in <dir>/tmp and
 * renamed into place. Before use an entry's inputs must equal ours, every
 * file its digest, and, when modules are signed, every module must carry a
 * signature made with our key; otherwise it is ignored with a warning and
 * the module is built. The directory may be read-only (a fleet's shared
 * cache): then nothing is stored or pruned. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "ctx.h"
#include "pkg.h"
#include "sha256.h"

enum { CACHE_OFF, CACHE_ON, CACHE_READONLY };

struct dk_cache;

/* Opens the cache ctx configures (cache=, cache_dir=, cache_max_size= of
 * /etc/dkms-agent.conf), creating the directory when it may write. Returns 0
 * with *ret set; -ENOENT when the cache is off or its directory is missing
 * and cannot be made; other -errno. */
int cache_open(const struct dk_ctx *ctx, struct dk_cache **ret);
void cache_free(struct dk_cache *c);
static inline void cache_freep(struct dk_cache **c)
{
	cache_free(*c);
}
/* Host path of the cache directory; whether this process may write it. */
const char *cache_dir(const struct dk_cache *c);
bool cache_writable(const struct dk_cache *c);

/* Computes kver/arch's share of the key once (reads .config and
 * Module.symvers, asks the compiler and linker their version): call before
 * builds fork so that each does not repeat it. -ENOENT: no cache for this
 * kernel (headers incomplete). */
int cache_prepare_kernel(struct dk_cache *c, const char *kver, const char *arch);

/* The key of pkg (loaded for kver/arch) and the inputs it hashes. -EPERM:
 * the source tree is one root must not build from (kbuild refuses it);
 * -ENOENT: the kernel's headers are incomplete; other -errno. */
int cache_key(struct dk_cache *c, const struct dk_pkg *pkg, const char *kver, const char *arch,
	      char ret_key[SHA256_HEX_SIZE], char **ret_inputs);

/* Restores entry key as the built state of pkg for kver/arch in the dkms
 * tree (staged, then renamed, as a build is). Returns 0 on a hit, -ENOENT
 * when there is no entry, -EBADMSG for an entry that failed verification
 * (warned, removed when the cache is writable), other -errno. */
int cache_fetch(struct dk_cache *c, const char *key, const char *inputs, const struct dk_pkg *pkg,
		const char *kver, const char *arch);
/* Stores the built state of pkg for kver/arch as entry key (replacing an
 * existing one). -EROFS when the cache is read-only; -EINVAL when the built
 * state holds something other than directories and regular files. */
int cache_store(struct dk_cache *c, const char *key, const char *inputs, const struct dk_pkg *pkg,
		const char *kver, const char *arch);

/* Stores the built state m/v/kver/arch that came from elsewhere (ldtarball)
 * under the key our inputs give, when the cache is writable and the key
 * can be computed (source and headers present); modules that a fetch would
 * refuse (signed with another key) are not stored. Opens the cache itself.
 * Returns 0 stored, -ENOENT no cache or no key, other -errno. */
int cache_fill(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
	       const char *arch);
/* cache_fill for every kernel/arch m/v is built for. Returns how many were
 * stored. */
int cache_fill_all(const struct dk_ctx *ctx, const char *m, const char *v);

struct cache_entry {
	char key[SHA256_HEX_SIZE];
	char *module, *version, *kver, *arch; /* NULL when the manifest is unreadable */
	uint64_t size;			      /* bytes of its files */
	time_t created, used;		      /* used: the manifest's mtime */
	long used_nsec;
};
/* Every entry, least recently used first. */
int cache_list(struct dk_cache *c, struct cache_entry **ret, size_t *ret_n);
void cache_entries_free(struct cache_entry *e, size_t n);

/* Removes temporaries left by interrupted runs and unreadable entries, then
 * the least recently used entries until the total is at most max_bytes.
 * Returns the number of entries removed; -EROFS when read-only. */
int cache_prune(struct dk_cache *c, uint64_t max_bytes, uint64_t *ret_freed);
/* Removes every entry. Returns how many; -EROFS when read-only. */
int cache_clear(struct dk_cache *c);
