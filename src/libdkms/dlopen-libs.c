// SPDX-License-Identifier: GPL-2.0-or-later
/* libzstd and libblkid, loaded with dlopen() on first use (as kmod.c does
 * for libkmod, and systemd for its optional libraries). Linked normally, the
 * dynamic loader relocates both at every start: about 300,000 instructions,
 * more than the whole boot fast path, which needs neither. The functions
 * below have the libraries' own names and prototypes, so their callers are
 * unchanged; each resolves its symbol once and forwards. When a library
 * cannot be loaded, the call fails the way that library reports failures
 * (NULL, -1, a zstd error code). A static build (-DDK_KMOD_DIRECT) links the
 * libraries themselves and compiles nothing here. */
#ifndef DK_KMOD_DIRECT
#include <blkid.h>
#include <dlfcn.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_frameHeaderSize() */
#include <zstd.h>
#include <zstd_errors.h>

#include "log.h"

static void *lib_open(const char *soname, void **handle, int *state)
{
	if (*state == 0) {
		*handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
		*state = *handle ? 1 : -1;
		if (!*handle)
			log_error("Cannot load %s: %s", soname, dlerror());
	}
	return *handle;
}

static void *zstd_sym(const char *name)
{
	static void *h;
	static int state;
	return lib_open("libzstd.so.1", &h, &state) ? dlsym(h, name) : NULL;
}

static void *blkid_sym(const char *name)
{
	static void *h;
	static int state;
	return lib_open("libblkid.so.1", &h, &state) ? dlsym(h, name) : NULL;
}

/* FWD(lib, return type, name, (parameters), (arguments), value on failure) */
#define FWD(lib, type, name, params, args, fail)                                                   \
	type name params                                                                           \
	{                                                                                          \
		static typeof(name) *fn;                                                           \
		if (!fn)                                                                           \
			fn = (typeof(name) *)lib##_sym(#name);                                     \
		return fn ? fn args : fail;                                                        \
	}

#define ZERR ((size_t)-ZSTD_error_GENERIC)

FWD(zstd, unsigned, ZSTD_isError, (size_t c), (c), 1)
FWD(zstd, ZSTD_ErrorCode, ZSTD_getErrorCode, (size_t c), (c), ZSTD_error_GENERIC)
FWD(zstd, const char *, ZSTD_getErrorName, (size_t c), (c), "libzstd is not available")
FWD(zstd, size_t, ZSTD_compressBound, (size_t n), (n), 0)
FWD(zstd, ZSTD_CCtx *, ZSTD_createCCtx, (void), (), NULL)
FWD(zstd, size_t, ZSTD_freeCCtx, (ZSTD_CCtx * c), (c), 0)
FWD(zstd, size_t, ZSTD_CCtx_setParameter, (ZSTD_CCtx * c, ZSTD_cParameter p, int v), (c, p, v),
    ZERR)
FWD(zstd, size_t, ZSTD_compress2, (ZSTD_CCtx * c, void *d, size_t dn, const void *s, size_t sn),
    (c, d, dn, s, sn), ZERR)
FWD(zstd, size_t, ZSTD_compress, (void *d, size_t dn, const void *s, size_t sn, int level),
    (d, dn, s, sn, level), ZERR)
FWD(zstd, ZSTD_DStream *, ZSTD_createDStream, (void), (), NULL)
FWD(zstd, size_t, ZSTD_freeDStream, (ZSTD_DStream * d), (d), 0)
FWD(zstd, size_t, ZSTD_decompressStream, (ZSTD_DStream * d, ZSTD_outBuffer *o, ZSTD_inBuffer *i),
    (d, o, i), ZERR)
FWD(zstd, size_t, ZSTD_findFrameCompressedSize, (const void *s, size_t n), (s, n), ZERR)
FWD(zstd, unsigned long long, ZSTD_getFrameContentSize, (const void *s, size_t n), (s, n),
    ZSTD_CONTENTSIZE_ERROR)
FWD(zstd, size_t, ZSTD_frameHeaderSize, (const void *s, size_t n), (s, n), ZERR)

FWD(blkid, blkid_probe, blkid_new_probe_from_filename, (const char *f), (f), NULL)
void blkid_free_probe(blkid_probe p)
{
	static typeof(blkid_free_probe) *fn;
	if (!fn)
		fn = (typeof(blkid_free_probe) *)blkid_sym("blkid_free_probe");
	if (fn)
		fn(p);
}

FWD(blkid, int, blkid_probe_enable_superblocks, (blkid_probe p, int e), (p, e), -1)
FWD(blkid, int, blkid_probe_set_superblocks_flags, (blkid_probe p, int f), (p, f), -1)
FWD(blkid, int, blkid_do_safeprobe, (blkid_probe p), (p), -1)
FWD(blkid, int, blkid_probe_lookup_value, (blkid_probe p, const char *n, const char **d, size_t *l),
    (p, n, d, l), -1)
FWD(blkid, char *, blkid_evaluate_tag, (const char *t, const char *v, blkid_cache *c), (t, v, c),
    NULL)
#endif
