// SPDX-License-Identifier: GPL-2.0-or-later
/* Regressions of the defects issue 12 named (9: a NULL dereference in the
 * initramfs reader when no reason is asked for) and others of the same kind
 * found with them. */
#include <stdio.h>
#include <zstd.h>

#include "initramfs.h"
#include "util.h"
#include "unit.h"

/* A zstd segment holding a cpio header with a broken size field. */
static void test_initramfs_no_reason(void)
{
	char cpio[512];
	memset(cpio, 0, sizeof(cpio));
	memcpy(cpio, "070701", 6);
	memset(cpio + 6, 'Z', 104); /* not hex */
	size_t cap = ZSTD_compressBound(sizeof(cpio));
	_cleanup_free_ char *z = xmalloc(cap);
	size_t n = ZSTD_compress(z, cap, cpio, sizeof(cpio), 3);
	CHECK(!ZSTD_isError(n));
	struct initramfs *img = NULL;
	/* Without a reason pointer: an error, not a crash. */
	CHECK(initramfs_parse(z, n, &img, NULL) < 0);
	/* With one: the same error, explained. */
	char *reason = NULL;
	CHECK(initramfs_parse(z, n, &img, &reason) < 0 && reason && strstr(reason, "zstd"));
	free(reason);
}

/* A gzip image: gzip reads its input by /proc/self/fd/N, a descriptor the
 * reader passes on purpose (every other one is closed in children). */
static void test_initramfs_gzip(void)
{
	char dir[] = "/tmp/test-defects.XXXXXX";
	if (!mkdtemp(dir))
		return;
	_cleanup_free_ char *cmd = xasprintf("cd %s && mkdir -p img/lib && echo hi >img/lib/x && "
					     "(cd img && find . | cpio -o -H newc --quiet) | gzip "
					     ">initrd.gz",
					     dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cpio or gzip missing: the gzip image is not tested\n");
		rm_rf(dir);
		return;
	}
	_cleanup_free_ char *img = xasprintf("%s/initrd.gz", dir);
	struct initramfs *i = NULL;
	char *reason = NULL;
	int r = initramfs_read(img, &i, &reason);
	CHECK(r >= 0 && initramfs_lookup(i, "lib/x"));
	if (r < 0)
		fprintf(stderr, "gzip image: %s\n", strempty(reason));
	free(reason);
	initramfs_free(i);
	rm_rf(dir);
}

int main(void)
{
	test_initramfs_no_reason();
	test_initramfs_gzip();
	return unit_summary();
}
