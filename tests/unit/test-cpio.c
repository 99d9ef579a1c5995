// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for src/cpio.c and the buffer side of src/initramfs*.c: round
 * trips, the kernel's override and padding rules, hostile archives (every
 * truncation, absurd sizes, random corruption), appending through symlinked
 * directories, image discovery and generator detection in a scratch root.
 * Each test runs in its own child with a timeout. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zstd.h>

#include "cpio.h"
#include "initramfs.h"
#include "util.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

static char scratch[] = "/tmp/test-cpio.XXXXXX";

/* A small archive: dir, file, symlink, trailer. */
static uint8_t *sample(size_t *len, const char *content)
{
	struct cpio_writer w;
	cpio_writer_init(&w);
	CHECK(cpio_write_dir(&w, "lib", 0755, 1) == 0);
	CHECK(cpio_write_file(&w, "lib/a.ko", 0644, 2, content, strlen(content)) == 0);
	CHECK(cpio_write_symlink(&w, "lib/b", "a.ko", 3) == 0);
	CHECK(cpio_writer_finish(&w) == 0);
	CHECK(cpio_write_dir(&w, "x", 0755, 1) == -EALREADY);
	uint8_t *b = cpio_writer_steal(&w, len);
	cpio_writer_done(&w);
	return b;
}

static void test_roundtrip(void)
{
	size_t len;
	_cleanup_free_ uint8_t *b = sample(&len, "hello");
	struct cpio_reader r;
	struct cpio_entry e;

	CHECK(len % 4 == 0);
	cpio_reader_init(&r, b, len, 0);
	CHECK(cpio_reader_next(&r, &e) == 1);
	CHECK(streq(e.name, "lib") && S_ISDIR(e.mode) && e.size == 0 && e.offset == 0);
	CHECK(cpio_reader_next(&r, &e) == 1);
	CHECK(streq(e.name, "lib/a.ko") && S_ISREG(e.mode) && (e.mode & 0777) == 0644);
	CHECK(e.size == 5 && memcmp(e.data, "hello", 5) == 0 && e.mtime == 2 && e.offset % 4 == 0);
	CHECK(cpio_reader_next(&r, &e) == 1);
	CHECK(S_ISLNK(e.mode) && e.size == 4 && memcmp(e.data, "a.ko", 4) == 0);
	CHECK(cpio_reader_next(&r, &e) == 0 && r.trailer && r.pos == len);
	CHECK(cpio_reader_next(&r, &e) == 0 && !r.trailer);
}

/* Hand-made header: fields given as numbers, magic chosen. */
static size_t header(uint8_t *out, const char *magic, uint32_t mode, uint32_t size,
		     uint32_t namesize, uint32_t check)
{
	char h[CPIO_HEADER_SIZE + 1];
	snprintf(h, sizeof(h), "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", magic, 1u,
		 mode, 0u, 0u, 1u, 0u, size, 0u, 0u, 0u, 0u, namesize, check);
	memcpy(out, h, CPIO_HEADER_SIZE);
	return CPIO_HEADER_SIZE;
}

static int read_one(const uint8_t *buf, size_t len)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	uint8_t *copy = xmalloc(len ? len : 1);
	memcpy(copy, buf, len);
	struct cpio_reader r;
	struct cpio_entry e;
	cpio_reader_init(&r, copy, len, 0);
	int k;
	while ((k = cpio_reader_next(&r, &e)) > 0)
		CHECK(e.data + e.size <= copy + len && e.name + e.name_len < (char *)copy + len);
	free(copy);
	return k;
}

static void test_hostile(void)
{
	uint8_t b[512] = { 0 };
	size_t n = header(b, "070701", 0100644, 0, 0xFFFFFFFFu, 0);
	memcpy(b + n, "x", 2);
	CHECK(read_one(b, 120) == -ENODATA); /* huge namesize */
	header(b, "070701", 0100644, 0xFFFFFFF0u, 2, 0);
	CHECK(read_one(b, 120) == -ENODATA); /* size past the end */
	header(b, "070701", 0100644, 0, 0, 0);
	CHECK(read_one(b, 120) == -EBADMSG); /* empty name */
	header(b, "070701", 0100644, 0, 4, 0);
	memcpy(b + n, "abcd", 4);
	CHECK(read_one(b, 120) == -EBADMSG); /* name without NUL */
	memcpy(b + n, "a\0b\0", 4);
	CHECK(read_one(b, 120) == -EBADMSG); /* NUL inside the name */
	header(b, "070701", 0100644, 0, 2, 0);
	b[20] = 'g';
	CHECK(read_one(b, 120) == -EBADMSG); /* bad hex */
	header(b, "070707", 0100644, 0, 2, 0);
	CHECK(read_one(b, 120) == -EBADMSG); /* old odc magic */
	CHECK(read_one(b, 50) == -ENODATA);  /* header cut */

	/* crc format: the check field is the byte sum of the data. */
	n = header(b, "070702", 0100644, 3, 2, 'a' + 'b' + 'c');
	memcpy(b + n, "f\0", 2);
	memcpy(b + 112, "abc", 3);
	CHECK(read_one(b, 116) == 0);
	header(b, "070702", 0100644, 3, 2, 1);
	CHECK(read_one(b, 116) == -EBADMSG);

	/* Every prefix of a valid archive: an error or a clean end, no
	 * overread. */
	size_t len;
	_cleanup_free_ uint8_t *s = sample(&len, "some content");
	for (size_t k = 0; k <= len; k++) {
		int r = read_one(s, k);
		CHECK(r == 0 || r == -ENODATA || r == -EBADMSG);
	}
}

static void test_fuzz(void)
{
	size_t len;
	_cleanup_free_ uint8_t *s = sample(&len, "0123456789abcdef");
	srand(42);
	for (int it = 0; it < 20000; it++) {
		uint8_t *m = xmalloc(len);
		memcpy(m, s, len);
		for (int k = rand() % 4; k >= 0; k--)
			m[rand() % len] = (uint8_t)(rand() % 4 == 0 ? '0' + rand() % 16 : rand());
		size_t cut = (size_t)rand() % (len + 1);
		read_one(m, cut);
		struct initramfs *img = NULL;
		/* Only uncompressed input: mutations must not run tools. */
		if (m[0] == '0' && initramfs_parse(m, cut, &img, NULL) >= 0)
			initramfs_free(img);
		free(m);
	}
}

static uint8_t *zstd_of(const uint8_t *in, size_t len, size_t *ret_len)
{
	size_t cap = ZSTD_compressBound(len);
	uint8_t *out = xmalloc(cap);
	*ret_len = ZSTD_compress(out, cap, in, len, 3);
	CHECK(!ZSTD_isError(*ret_len));
	return out;
}

static void test_segments(void)
{
	size_t l1, l2, lz, n = 0;
	_cleanup_free_ uint8_t *a1 = sample(&l1, "first");
	_cleanup_free_ uint8_t *a2 = sample(&l2, "second!");
	_cleanup_free_ uint8_t *z = zstd_of(a2, l2, &lz);
	_cleanup_free_ uint8_t *img = xcalloc(1, l1 + 512 + lz + 64);
	memcpy(img, a1, l1);
	n = l1 + 512; /* NUL padding, as between microcode and main archive */
	memcpy(img + n, z, lz);
	n += lz;

	_cleanup_free_ char *reason = NULL;
	struct initramfs *i = NULL;
	CHECK(initramfs_parse(img, n, &i, &reason) == 0);
	CHECK(i->n_segments == 2 && i->segments[0].compression == INITRAMFS_NONE);
	CHECK(i->segments[1].compression == INITRAMFS_ZSTD && i->segments[1].offset == l1 + 512);
	CHECK(i->segments[1].size == lz && i->segments[1].n_entries == 3);
	const struct initramfs_file *f = initramfs_lookup(i, "/lib/a.ko");
	CHECK(f && f->size == 7 && memcmp(f->data, "second!", 7) == 0 && f->segment == 1);
	CHECK(i->n_files == 3);
	initramfs_free(i);

	/* Truncated zstd, junk after a segment, garbage, empty. */
	CHECK(initramfs_parse(img, n - 3, &i, &reason) == -ENODATA);
	memcpy(img + n, "JUNKJUNK", 8);
	CHECK(initramfs_parse(img, n + 8, &i, &reason) == -EPROTONOSUPPORT);
	CHECK(strstr(reason, "offset"));
	CHECK(initramfs_parse("garbage!", 8, &i, &reason) == -EMEDIUMTYPE);
	CHECK(initramfs_parse("", 0, &i, &reason) == -EMEDIUMTYPE);
	CHECK(initramfs_parse("BZh91AY&SY", 10, &i, &reason) == -EPROTONOSUPPORT);
	/* A cpio archive must start on a 4-byte boundary. */
	memmove(img + 1, img, l1);
	img[0] = 0;
	CHECK(initramfs_parse(img, l1 + 1, &i, &reason) == -EBADMSG);
}

static void test_hardlinks_and_symlinks(void)
{
	struct cpio_writer w;
	uint8_t *b;
	size_t len;

	/* Two names of one inode: cpio stores the data with the last one. */
	cpio_writer_init(&w);
	CHECK(cpio_write_dir(&w, "usr", 0755, 0) == 0);
	CHECK(cpio_write_dir(&w, "usr/lib", 0755, 0) == 0);
	CHECK(cpio_write_symlink(&w, "lib", "usr/lib", 0) == 0);
	CHECK(cpio_write_file(&w, "usr/lib/x", 0644, 0, "data", 4) == 0);
	CHECK(cpio_writer_finish(&w) == 0);
	b = cpio_writer_steal(&w, &len);
	uint8_t h[512] = { 0 };
	char hdr[CPIO_HEADER_SIZE + 1];
	size_t n = 0;
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 77u, 0100644u, 0u, 0u, 2u, 0u, 0u, 0u, 0u, 0u, 0u, 3u, 0u);
	memcpy(h, hdr, 110);
	memcpy(h + 110, "h1", 2); /* NUL and padding to 116 */
	n = 116;
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 77u, 0100644u, 0u, 0u, 2u, 0u, 3u, 0u, 0u, 0u, 0u, 3u, 0u);
	memcpy(h + n, hdr, 110);
	memcpy(h + n + 110, "h2", 2);
	memcpy(h + n + 116, "xyz", 3);
	n += 120;
	b = xrealloc(b, len + n);
	memcpy(b + len, h, n);

	struct initramfs *i = NULL;
	CHECK(initramfs_parse(b, len + n, &i, NULL) == 0);
	const struct initramfs_file *f = initramfs_lookup(i, "h1");
	CHECK(f && f->size == 3 && memcmp(f->data, "xyz", 3) == 0);
	f = initramfs_lookup(i, "lib/x");
	CHECK(f && streq(f->name, "usr/lib/x"));
	_cleanup_free_ char *res = NULL;
	CHECK(initramfs_resolve(i, "./lib//x", &res) == 0 && streq(res, "usr/lib/x"));
	initramfs_free(i);
	free(b);
}

static void test_append(void)
{
	struct cpio_writer w;
	size_t len, zl;
	cpio_writer_init(&w);
	CHECK(cpio_write_dir(&w, "usr", 0755, 0) == 0);
	CHECK(cpio_write_dir(&w, "usr/lib", 0755, 0) == 0);
	CHECK(cpio_write_symlink(&w, "lib", "usr/lib", 0) == 0);
	CHECK(cpio_write_dir(&w, "usr/lib/modules", 0755, 0) == 0);
	CHECK(cpio_write_file(&w, "init", 0755, 0, "#!/bin/sh\n", 10) == 0);
	CHECK(cpio_writer_finish(&w) == 0);
	_cleanup_free_ uint8_t *a = cpio_writer_steal(&w, &len);
	_cleanup_free_ uint8_t *z = zstd_of(a, len, &zl);
	_cleanup_free_ char *image = path_join(scratch, "initrd.img");
	_cleanup_free_ char *src = path_join(scratch, "foo.ko");
	/* An uncompressed archive cut short: refused. (A cut compressed
	 * segment is not looked for: append reads only the image's head.) */
	CHECK(write_file_atomic(image, a, len - 7, 0640) == 0);
	CHECK(write_file_atomic(src,
				"\x7f"
				"ELF module",
				11, 0644) == 0);

	_cleanup_free_ char *reason = NULL;
	struct initramfs_add add[] = { { src, "/lib/modules/6.1.0-x/updates/dkms/foo.ko" } };
	CHECK(initramfs_append(image, add, 1, &reason) == -ENODATA);
	CHECK(write_file_atomic(image, z, zl, 0640) == 0);
	CHECK(initramfs_append(image, add, 1, &reason) == 0);

	struct initramfs *i = NULL;
	CHECK(initramfs_read(image, &i, NULL) == 0);
	CHECK(i->n_segments == 2 && i->segments[1].offset % 4 == 0);
	const struct initramfs_file *f =
		initramfs_lookup(i, "lib/modules/6.1.0-x/updates/dkms/foo.ko");
	CHECK(f && streq(f->name, "usr/lib/modules/6.1.0-x/updates/dkms/foo.ko"));
	CHECK(initramfs_file_matches(f, src) == 1);
	f = initramfs_lookup(i, "lib");
	CHECK(f && S_ISLNK(f->mode)); /* not replaced by a directory */
	CHECK(initramfs_lookup(i, "init"));
	struct stat st;
	CHECK(stat(image, &st) == 0 && (st.st_mode & 0777) == 0640);
	initramfs_free(i);

	/* A second append stays a segment of its own. */
	struct initramfs_add again[] = { { src, "etc/foo.conf" } };
	CHECK(initramfs_append(image, again, 1, &reason) == 0);
	CHECK(initramfs_read(image, &i, NULL) == 0);
	CHECK(i->n_segments == 3 && i->segments[2].n_entries == 2);
	CHECK(initramfs_lookup(i, "lib/modules/6.1.0-x/updates/dkms/foo.ko"));
	initramfs_free(i);
	CHECK(stat(image, &st) == 0);

	/* In place: the same file, the old bytes untouched. */
	_cleanup_free_ char *before = NULL, *after = NULL;
	size_t lb, la;
	CHECK(read_full_file(image, &before, &lb, 0) == 0);
	struct initramfs_add more[] = { { src, "etc/more.conf" } };
	CHECK(initramfs_append(image, more, 1, &reason) == 0);
	struct stat st1;
	CHECK(stat(image, &st1) == 0 && st1.st_ino == st.st_ino && st1.st_size > st.st_size);
	CHECK(read_full_file(image, &after, &la, 0) == 0 && la > lb &&
	      memcmp(before, after, lb) == 0);

	/* Bad destinations and sources fail and leave the image alone. */
	struct initramfs_add bad[][1] = { { { src, "lib/../../etc/x" } },
					  { { src, "" } },
					  { { src, "etc/" } },
					  { { src, "/.." } },
					  { { src, ".dkms-agent-appended" } },
					  { { "/nonexistent/x.ko", "etc/x" } } };
	for (size_t k = 0; k < ELEMENTSOF(bad); k++)
		CHECK(initramfs_append(image, bad[k], 1, &reason) < 0);
	struct initramfs_add twice[] = { { src, "etc/a" }, { src, "/etc//a" } };
	CHECK(initramfs_append(image, twice, 2, &reason) == -EINVAL);
	struct stat st2;
	CHECK(stat(image, &st2) == 0 && st2.st_size == st1.st_size && st2.st_ino == st.st_ino);

	/* An interrupted append (journal written, magic not yet in place):
	 * readers ignore the tail, the next append cuts it off first. */
	_cleanup_free_ char *journal = initramfs_journal_path(image);
	_cleanup_free_ char *jtext =
		xasprintf("%lld %lld\n", (long long)st2.st_size, (long long)st2.st_size + 4);
	CHECK(write_file_atomic(journal, jtext, strlen(jtext), 0600) == 0);
	int fd = open(image, O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(fd >= 0 && write(fd, "\0\0\0\0\0\0\0\0junk-of-a-frame", 24) == 24);
	close(fd);
	CHECK(initramfs_read(image, &i, NULL) == 0 && i->unfinished == 24);
	initramfs_free(i);
	CHECK(initramfs_append(image, more, 1, &reason) == 0);
	CHECK(access(journal, F_OK) < 0);
	CHECK(initramfs_read(image, &i, NULL) == 0 && i->unfinished == 0 && i->n_segments == 5);
	CHECK(i->segments[4].offset >= (uint64_t)st2.st_size &&
	      i->segments[4].offset <= (uint64_t)st2.st_size + 8);
	initramfs_free(i);

	/* Copies an older version or a killed regeneration left are removed. */
	_cleanup_free_ char *stale = xasprintf("%s.dkms-tmp.AbC123", image);
	CHECK(write_file_atomic(stale, "x", 1, 0600) == 0);
	CHECK(initramfs_append(image, more, 1, &reason) == 0);
	CHECK(access(stale, F_OK) < 0);

	/* Damaged images: the framing walk refuses or accepts, never crashes or
	 * loops, and a refused image is left as it was. */
	_cleanup_free_ char *good = NULL;
	size_t glen;
	CHECK(read_full_file(image, &good, &glen, 0) == 0);
	srand(7);
	for (int k = 0; k < 100; k++) {
		_cleanup_free_ uint8_t *m = xmalloc(glen);
		memcpy(m, good, glen);
		for (int j = 0; j < 1 + rand() % 8; j++)
			m[rand() % glen] = (uint8_t)rand();
		size_t cut = k % 3 ? glen : (size_t)rand() % glen + 1;
		CHECK(write_file_atomic(image, m, cut, 0640) == 0);
		_cleanup_free_ char *why = NULL;
		if (initramfs_append(image, more, 1, &why) < 0) {
			_cleanup_free_ char *now = NULL;
			size_t nl;
			CHECK(read_full_file(image, &now, &nl, 0) == 0 && nl == cut &&
			      memcmp(now, m, cut) == 0);
		}
	}
	_cleanup_strv_free_ char **left = NULL;
	CHECK(dir_list(scratch, &left) == 0 && strv_length(left) == 2); /* no temp files */
}

static void touch(const char *root, const char *p, const char *content)
{
	_cleanup_free_ char *full = path_join(root, p);
	_cleanup_free_ char *dir = xstrdup(full);
	*strrchr(dir, '/') = 0;
	CHECK(mkdir_p(dir, 0755) == 0);
	CHECK(write_file_atomic(full, content, strlen(content), 0755) == 0);
}

static void test_find_detect(void)
{
	_cleanup_free_ char *root = path_join(scratch, "root");
	const char *k = "6.1.0-9-amd64";
	struct initramfs_image *l;
	size_t n;

	CHECK(initramfs_find(root, k, &l, &n) == 0 && n == 0);
	free(l);
	CHECK(initramfs_detect_tool(root) == INITRAMFS_TOOL_NONE);
	touch(root, "/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
	touch(root, "/boot/initramfs-6.1.0-9-amd64-fallback.img", "x");
	touch(root, "/boot/initrd.img-6.1.0-9-amd64", "x");
	touch(root, "/efi/0123456789abcdef0123456789abcdef/6.1.0-9-amd64/initrd", "x");
	touch(root, "/etc/mkinitcpio.d/linux.preset",
	      "ALL_kver=\"6.1.0-9-amd64\"\nPRESETS=('default')\n"
	      "default_image=\"/boot/initramfs-linux.img\"\n"
	      "fallback_image='/boot/initramfs-linux-fallback.img'\n");
	touch(root, "/etc/mkinitcpio.d/other.preset",
	      "ALL_kver=\"/boot/vmlinuz-other\"\ndefault_image=\"/boot/other.img\"\n");
	touch(root, "/boot/initramfs-linux.img", "x");
	touch(root, "/boot/initramfs-linux-fallback.img", "x");
	touch(root, "/boot/other.img", "x");
	CHECK(initramfs_find(root, k, &l, &n) == 5);
	CHECK(endswith(l[0].path, "/boot/initrd.img-6.1.0-9-amd64") && !l[0].fallback);
	CHECK(endswith(l[1].path, "/efi/0123456789abcdef0123456789abcdef/6.1.0-9-amd64/initrd"));
	CHECK(endswith(l[2].path, "/boot/initramfs-linux.img") && !l[2].fallback);
	CHECK(endswith(l[3].path, "/boot/initramfs-linux-fallback.img") && l[3].fallback);
	CHECK(endswith(l[4].path, "-fallback.img") && l[4].fallback);
	initramfs_images_free(l, n);

	touch(root, "/usr/bin/dracut", "");
	CHECK(initramfs_detect_tool(root) == INITRAMFS_TOOL_DRACUT);
	touch(root, "/usr/bin/mkinitcpio", "");
	CHECK(initramfs_detect_tool(root) == INITRAMFS_TOOL_MKINITCPIO);
	touch(root, "/usr/sbin/update-initramfs", "");
	touch(root, "/etc/initramfs-tools/initramfs.conf", "");
	CHECK(initramfs_detect_tool(root) == INITRAMFS_TOOL_UPDATE_INITRAMFS);
	touch(root, "/usr/bin/kernel-install", "");
	touch(root, "/etc/kernel/install.conf", "layout=bls\n");
	CHECK(initramfs_detect_tool(root) == INITRAMFS_TOOL_KERNEL_INSTALL);

	enum initramfs_tool t;
	CHECK(initramfs_tool_from_name("dracut", &t) == 0 && t == INITRAMFS_TOOL_DRACUT);
	CHECK(initramfs_tool_from_name("nope", &t) == -EINVAL);
	_cleanup_free_ char *reason = NULL;
	CHECK(initramfs_regenerate(root, k, INITRAMFS_TOOL_AUTO, NULL, NULL, &t, &reason) ==
	      -ENOENT);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "roundtrip", test_roundtrip },
	{ "hostile", test_hostile },
	{ "fuzz", test_fuzz },
	{ "segments", test_segments },
	{ "hardlinks_and_symlinks", test_hardlinks_and_symlinks },
	{ "append", test_append },
	{ "find_detect", test_find_detect },
};

int main(int argc, char **argv)
{
	unsigned pass = 0, fail = 0;
	for (size_t k = 0; k < ELEMENTSOF(tests); k++) {
		if (argc > 1 && !streq(argv[1], tests[k].name))
			continue;
		strcpy(scratch, "/tmp/test-cpio.XXXXXX");
		CHECK(mkdtemp(scratch));
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(120);
			tests[k].fn();
			_exit(0);
		}
		int status;
		waitpid(pid, &status, 0);
		bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		printf("%s %s\n", ok ? "PASS" : "FAIL", tests[k].name);
		ok ? pass++ : fail++;
		rm_rf(scratch);
	}
	printf("%u passed, %u failed\n", pass, fail);
	return fail ? 1 : 0;
}
