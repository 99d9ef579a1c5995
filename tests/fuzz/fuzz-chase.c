// SPDX-License-Identifier: GPL-2.0-or-later
/* The path resolver (basic/chase.c): the input builds a small tree in a
 * sandbox root (directories, files, symbolic links whose targets are made of
 * "..", ".", absolute paths, the host path of a decoy directory next to the
 * root, /proc magic links), then resolves paths in it with every mode and
 * open flag, and finally removes it with rm_rf_children. Checked each time:
 *  - every fd chase/chase_parent/chase_existing returns is inside the root
 *    (its /proc/self/fd link starts with the root's real path);
 *  - openat2 and the portable walk agree (same file, or both fail);
 *  - the walk's resolved path names the same file, and has no "." or "..";
 *  - nothing in the decoy changed, and the root is empty after removal.
 * Input: bytes; each operation takes op, n components, components... */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chase.h"
#include "fuzz.h"
#include "util.h"

static char root_real[PATH_MAX], decoy_real[PATH_MAX];
static int root_fd = -1;

static const char *const names[] = {
	"a", "b", "c",	 "..",	 ".",	 "",   "etc",  "usr", "src", "lib", "decoy",	 "x.ko",
	"-", " ", "...", "proc", "self", "fd", "root", "cwd", "3",   "4",   "dkms.conf",
};
#define N_NAMES (sizeof(names) / sizeof(*names))

struct input {
	const uint8_t *p, *end;
};

static unsigned take(struct input *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

/* Up to eight components joined with '/', maybe absolute, maybe with a
 * trailing slash; one in eight is the host path of the decoy or a /proc
 * magic link. */
static void path_from(struct input *in, char *buf, size_t len)
{
	unsigned head = take(in), n = take(in) % 8 + 1;
	buf[0] = 0;
	switch (head % 16) {
	case 0: snprintf(buf, len, "%s", decoy_real); break;
	case 1: snprintf(buf, len, "/proc/self/cwd"); break;
	case 2: snprintf(buf, len, "/proc/self/fd/%d", root_fd); break;
	case 3: snprintf(buf, len, "%s/..", root_real); break;
	default: snprintf(buf, len, "%s", head & 0x10 ? "/" : ""); break;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *c = names[take(in) % N_NAMES];
		size_t l = strlen(buf);
		if (l && buf[l - 1] != '/')
			strncat(buf, "/", len - l - 1);
		strncat(buf, c, len - strlen(buf) - 1);
	}
	if (head & 0x20)
		strncat(buf, "/", len - strlen(buf) - 1);
}

static bool fd_inside(int fd)
{
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	size_t rl = strlen(root_real);
	return strncmp(target, root_real, rl) == 0 && (target[rl] == 0 || target[rl] == '/');
}

static bool same(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static void check(bool ok, const char *what, const char *path)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz-chase: %s (path '%s')\n", what, path);
	abort();
}

/* Creates one entry with the harness's own safe walk: components are checked
 * with O_NOFOLLOW, so nothing is created through a link. */
static void create(struct input *in)
{
	unsigned op = take(in), n = take(in) % 3 + 1;
	int dir = dup(root_fd);
	for (unsigned i = 0; i < n && dir >= 0; i++) {
		const char *c = names[take(in) % N_NAMES];
		if (!*c || strcmp(c, ".") == 0 || strcmp(c, "..") == 0 || strchr(c, '/'))
			break;
		if (i + 1 < n) {
			(void)mkdirat(dir, c, 0755);
			int next = openat(dir, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			close(dir);
			dir = next;
			continue;
		}
		char target[1024];
		switch (op % 4) {
		case 0: (void)mkdirat(dir, c, 0755); break;
		case 1: {
			int fd = openat(dir, c, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd >= 0)
				close(fd);
			break;
		}
		default:
			path_from(in, target, sizeof(target));
			(void)symlinkat(target, dir, c);
			break;
		}
	}
	if (dir >= 0)
		close(dir);
}

static const int oflags[] = {
	O_RDONLY,
	O_PATH,
	O_RDONLY | O_DIRECTORY,
	O_PATH | O_DIRECTORY,
	O_WRONLY | O_CREAT,
	O_WRONLY | O_CREAT | O_EXCL,
};

static void query(struct input *in)
{
	char path[1024];
	unsigned f = take(in), o = take(in) % (sizeof(oflags) / sizeof(*oflags));
	path_from(in, path, sizeof(path));
	unsigned flags = (f & 1 ? CHASE_IN_ROOT : 0) | (f & 2 ? CHASE_NOFOLLOW : 0) |
			 (f & 4 ? CHASE_NO_SYMLINKS : 0) | (f & 8 ? CHASE_NO_XDEV : 0);
	int of = oflags[o];
	if (f & 0x10 && !(of & O_CREAT)) {
		/* mkdir -p beneath the root: only the walk does it. */
		int fd = chase(root_fd, path, flags | CHASE_MKDIR, O_PATH | O_DIRECTORY, NULL);
		check(fd < 0 || fd_inside(fd), "CHASE_MKDIR left the root", path);
		if (fd >= 0)
			close(fd);
		return;
	}
	int a = chase(root_fd, path, flags, of, NULL);
	char *p = NULL;
	int b = chase(root_fd, path, flags, of, &p);
	check(a < 0 || fd_inside(a), "openat2 result outside the root", path);
	check(b < 0 || fd_inside(b), "walk result outside the root", path);
	/* Creation by the first call makes the second see an existing file. */
	if (!(of & O_CREAT) && a != -ENAMETOOLONG && b != -ENAMETOOLONG) {
		check((a < 0) == (b < 0), "openat2 and the walk disagree", path);
		check(a < 0 || same(a, b), "openat2 and the walk found different files", path);
	}
	if (b >= 0) {
		check(p && p[0] == '/' && !strstr(p, "/./") && !strstr(p, "/../") &&
			      !endswith(p, "/..") && !endswith(p, "/.") && !strstr(p, "//"),
		      "the walk's path is not canonical", path);
		int c = chase(root_fd, p, CHASE_NO_SYMLINKS | (flags & CHASE_NOFOLLOW), O_PATH,
			      NULL);
		check(c < 0 || same(b, c) || (flags & CHASE_NOFOLLOW),
		      "the walk's path names another file", path);
		if (c >= 0)
			close(c);
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	free(p);

	int dfd = -1;
	char *name = NULL;
	if (chase_parent(root_fd, path, flags, &dfd, &name) >= 0) {
		check(fd_inside(dfd) && name && *name && !strchr(name, '/'),
		      "chase_parent outside the root or a bad name", path);
		close(dfd);
		free(name);
	}
	char *rest = NULL;
	int e = chase_existing(root_fd, path, flags, &rest, NULL);
	if (e >= 0) {
		check(fd_inside(e) && rest, "chase_existing outside the root", path);
		close(e);
		free(rest);
	}
}

/* The decoy's state, cheaply: the directory's and the file's identity,
 * size and times change with anything written there. */
static char *listing(const char *dir)
{
	struct stat d, f;
	char file[PATH_MAX];
	snprintf(file, sizeof(file), "%s/file", dir);
	if (lstat(dir, &d) < 0 || lstat(file, &f) < 0)
		return strdup("gone");
	char *out = NULL;
	if (asprintf(&out, "%lu %lu %lld %ld.%ld %ld.%ld | %lu %lld %ld.%ld",
		     (unsigned long)d.st_ino, (unsigned long)d.st_nlink, (long long)d.st_size,
		     (long)d.st_mtim.tv_sec, d.st_mtim.tv_nsec, (long)d.st_ctim.tv_sec,
		     d.st_ctim.tv_nsec, (unsigned long)f.st_ino, (long long)f.st_size,
		     (long)f.st_mtim.tv_sec, f.st_mtim.tv_nsec) < 0)
		abort();
	return out;
}

static char *decoy_before;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	fuzz_mkdir_p(fuzz_path(0, "root"));
	fuzz_mkdir_p(fuzz_path(1, "decoy/sub"));
	fuzz_write(fuzz_path(2, "decoy/file"), "keep", 4);
	if (!realpath(fuzz_path(0, "root"), root_real) ||
	    !realpath(fuzz_path(1, "decoy"), decoy_real))
		abort();
	root_fd = open_root(root_real);
	if (root_fd < 0)
		abort();
	decoy_before = listing(decoy_real);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, data + size };
	for (unsigned ops = 0; ops < 32 && in.p < in.end; ops++) {
		if (take(&in) & 1)
			create(&in);
		else
			query(&in);
	}
	int r = rm_rf_children(root_fd);
	check(r == 0, "rm_rf_children failed", root_real);
	char *after = listing(decoy_real);
	check(strcmp(after, decoy_before) == 0, "the decoy changed", decoy_real);
	free(after);
	return 0;
}
