// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the fd-based path helpers (basic/chase.c): resolution beneath
 * a root fd in both modes, by openat2 and by the portable walk (which must
 * agree), directory creation, removal and chown by fd, and removal racing a
 * process that swaps a directory for a symbolic link to a decoy. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "chase.h"
#include "util.h"
#include "unit.h"

static char base[4096];

static void mk(const char *rel, const char *content)
{
	_cleanup_free_ char *p = path_join(base, rel);
	_cleanup_free_ char *d = xstrdup(p);
	*strrchr(d, '/') = 0;
	mkdir_p(d, 0755);
	if (content) {
		FILE *f = fopen(p, "we");
		if (!f)
			abort();
		fputs(content, f);
		fclose(f);
	} else
		mkdir_p(p, 0755);
}

static void ln(const char *target, const char *rel)
{
	_cleanup_free_ char *p = path_join(base, rel);
	unlink(p);
	if (symlink(target, p) < 0)
		abort();
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* chase() both ways: by openat2 (no ret_path) and by the walk (ret_path);
 * they must agree. Returns the walk's fd (or -errno) and its path. */
static int both(int root, const char *path, unsigned flags, int oflags, char **ret_path)
{
	int a = chase(root, path, flags, oflags, NULL);
	char *p = NULL;
	int b = chase(root, path, flags, oflags, &p);
	if ((a < 0) != (b < 0) || (a < 0 && a != b) || (a >= 0 && !same_file(a, b))) {
		fprintf(stderr, "chase(%s, %#x): openat2 gave %d, the walk %d\n", path, flags, a,
			b);
		failures++;
	}
	if (a >= 0)
		close(a);
	if (ret_path)
		*ret_path = p;
	else
		free(p);
	return b;
}

static bool reads(int fd, const char *want)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return false;
	buf[n] = 0;
	return streq(buf, want);
}

static void test_resolve(void)
{
	mk("root/opt/foo/dkms.conf", "inside");
	mk("root/etc/os-release", "root's");
	mk("root/usr/lib/modules/6.1/kernel", NULL);
	ln("/opt/foo", "root/usr/src-foo"); /* absolute: inside the root */
	ln("usr/lib", "root/lib");
	ln("../../..", "root/opt/up");
	ln("loop2", "root/loop1");
	ln("loop1", "root/loop2");
	ln("/etc/os-release", "root/abs-file");
	_cleanup_free_ char *r = path_join(base, "root");
	_cleanup_close_ int root = open_root(r);
	CHECK(root >= 0);

	char *p = NULL;
	int fd = both(root, "/usr/src-foo/dkms.conf", CHASE_IN_ROOT, O_RDONLY, &p);
	CHECK(fd >= 0 && reads(fd, "inside"));
	CHECK(p && streq(p, "/opt/foo/dkms.conf"));
	free(p);
	if (fd >= 0)
		close(fd);
	/* Beneath: an absolute link is refused, not resolved on the host. */
	CHECK(both(root, "usr/src-foo/dkms.conf", 0, O_RDONLY, NULL) == -EXDEV);
	/* ".." above the root: stays at the top, or is refused. */
	fd = both(root, "/../../../etc/os-release", CHASE_IN_ROOT, O_RDONLY, &p);
	CHECK(fd >= 0 && reads(fd, "root's"));
	CHECK(p && streq(p, "/etc/os-release"));
	free(p);
	if (fd >= 0)
		close(fd);
	CHECK(both(root, "../etc/os-release", 0, O_RDONLY, NULL) == -EXDEV);
	fd = both(root, "opt/up/etc/os-release", CHASE_IN_ROOT, O_RDONLY, NULL);
	CHECK(fd >= 0 && reads(fd, "root's"));
	if (fd >= 0)
		close(fd);
	CHECK(both(root, "opt/up/etc/os-release", 0, O_RDONLY, NULL) == -EXDEV);
	/* Relative links inside, the root itself, loops, missing files. */
	fd = both(root, "/lib/modules/6.1/kernel", CHASE_IN_ROOT, O_RDONLY | O_DIRECTORY, &p);
	CHECK(fd >= 0 && p && streq(p, "/usr/lib/modules/6.1/kernel"));
	free(p);
	if (fd >= 0)
		close(fd);
	fd = both(root, "/", CHASE_IN_ROOT, O_RDONLY | O_DIRECTORY, &p);
	CHECK(fd >= 0 && same_file(fd, root) && p && streq(p, "/"));
	free(p);
	if (fd >= 0)
		close(fd);
	CHECK(both(root, "loop1", CHASE_IN_ROOT, O_RDONLY, NULL) == -ELOOP);
	CHECK(both(root, "nothing/here", CHASE_IN_ROOT, O_RDONLY, NULL) == -ENOENT);
	CHECK(both(root, "etc/os-release/x", CHASE_IN_ROOT, O_RDONLY, NULL) == -ENOTDIR);
	CHECK(both(root, "lib/modules", CHASE_IN_ROOT | CHASE_NO_SYMLINKS, O_RDONLY, NULL) ==
	      -ELOOP);
	/* The last link: followed, or opened itself with O_PATH|NOFOLLOW. */
	fd = both(root, "abs-file", CHASE_IN_ROOT, O_RDONLY, NULL);
	CHECK(fd >= 0 && reads(fd, "root's"));
	if (fd >= 0)
		close(fd);
	fd = both(root, "abs-file", CHASE_IN_ROOT | CHASE_NOFOLLOW, O_PATH, NULL);
	struct stat st;
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode));
	if (fd >= 0)
		close(fd);
	CHECK(both(root, "abs-file", CHASE_IN_ROOT | CHASE_NOFOLLOW, O_RDONLY, NULL) == -ELOOP);
	/* A trailing slash after a link to a file: not a directory (found by
	 * fuzz-chase: the walk dropped the slash with the link). */
	CHECK(both(root, "abs-file/", CHASE_IN_ROOT, O_PATH, NULL) == -ENOTDIR);
	CHECK(both(root, "abs-file/", CHASE_IN_ROOT | CHASE_NOFOLLOW, O_RDONLY, NULL) == -ENOTDIR);
	/* Magic links are not followed: /proc/self/root would be the host's /. */
	_cleanup_close_ int host = open_root("/");
	fd = chase(host, "/proc/self/root/etc", 0, O_PATH, NULL);
	CHECK(fd < 0);
	if (fd >= 0)
		close(fd);
}

static void test_create(void)
{
	_cleanup_free_ char *r = path_join(base, "root");
	_cleanup_close_ int root = open_root(r);
	ln("/var/lib/dkms-real", "root/dkms-link");
	/* mkdir -p through an absolute link, inside the root. */
	int fd = chase(root, "/dkms-link/m/v/build", CHASE_IN_ROOT | CHASE_MKDIR,
		       O_RDONLY | O_DIRECTORY, NULL);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	_cleanup_free_ char *made = path_join(base, "root/var/lib/dkms-real/m/v/build");
	CHECK(path_is_dir(made));
	/* A file by its parent. */
	int dfd = -1;
	char *name = NULL;
	CHECK(chase_parent(root, "/dkms-link/m/v/dkms.conf", CHASE_IN_ROOT, &dfd, &name) == 0);
	CHECK(name && streq(name, "dkms.conf"));
	if (dfd >= 0) {
		int f = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		CHECK(f >= 0);
		if (f >= 0)
			close(f);
		close(dfd);
	}
	free(name);
	CHECK(chase_parent(root, "/dkms-link/m/..", CHASE_IN_ROOT, &dfd, &name) == -EINVAL);
	CHECK(chase_parent(root, "/", CHASE_IN_ROOT, &dfd, &name) == -EINVAL);
	/* What exists, and what is left. */
	char *rest = NULL;
	fd = chase_existing(root, "/dkms-link/m/v/K/A", CHASE_IN_ROOT, &rest, NULL);
	CHECK(fd >= 0 && rest && streq(rest, "K/A"));
	free(rest);
	if (fd >= 0)
		close(fd);
	fd = chase_existing(root, "/dkms-link/m/v/build/", CHASE_IN_ROOT, &rest, NULL);
	CHECK(fd >= 0 && rest && streq(rest, ""));
	free(rest);
	if (fd >= 0)
		close(fd);
}

/* A decoy outside the tree, and its listing. */
static char *decoy_listing(const char *decoy)
{
	char *out = NULL;
	_cleanup_free_ char *cmd =
		xasprintf("find '%s' -printf '%%p %%y %%s %%u\\n' | sort", decoy);
	FILE *f = popen(cmd, "r");
	if (!f)
		abort();
	size_t cap = 0;
	ssize_t n = getdelim(&out, &cap, 0, f);
	pclose(f);
	if (n < 0)
		return xstrdup("");
	return out;
}

static void test_remove(void)
{
	mk("decoy/a/file", "precious");
	mk("decoy/b", NULL);
	_cleanup_free_ char *decoy = path_join(base, "decoy");
	_cleanup_free_ char *before = decoy_listing(decoy);
	mk("tree/x/y/z", "1");
	mk("tree/empty", NULL);
	ln(decoy, "tree/x/to-decoy");
	ln(decoy, "tree/to-decoy");
	/* A deep tree: more levels than rm_rf keeps fds for. */
	_cleanup_free_ char *deep = path_join(base, "tree");
	_cleanup_close_ int dfd = open(deep, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int cur = dup(dfd);
	for (int i = 0; i < 300; i++) {
		mkdirat(cur, "d", 0755);
		int n = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(cur);
		cur = n;
	}
	symlinkat(decoy, cur, "deep-link");
	close(cur);
	_cleanup_close_ int parent = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(rm_rf_at(parent, "tree") == 0);
	CHECK(!path_exists(deep));
	CHECK(rm_rf_at(parent, "tree") == 0); /* ENOENT is success */
	CHECK(rm_rf_at(parent, "..") == -EINVAL);
	CHECK(rm_rf_at(parent, "a/b") == -EINVAL);
	/* A symlink given by name is removed itself, never its target. */
	ln(decoy, "link-to-decoy");
	CHECK(rm_rf_at(parent, "link-to-decoy") == 0);
	_cleanup_free_ char *after = decoy_listing(decoy);
	CHECK(streq(before, after));
	/* rm_rf by path: same walk below the parent. */
	mk("tree2/sub/f", "x");
	ln(decoy, "tree2/sub/l");
	_cleanup_free_ char *t2 = path_join(base, "tree2");
	CHECK(rm_rf(t2) == 0 && !path_exists(t2));
	CHECK(rm_rf("/") == -EINVAL);
	free(after);
	after = decoy_listing(decoy);
	CHECK(streq(before, after));
}

/* Attack 1 of issue 12: while root removes a tree, another process keeps
 * swapping a subdirectory for a symbolic link to a decoy. */
static void test_remove_race(void)
{
	mk("decoy2/keep/f1", "1");
	mk("decoy2/keep/f2", "2");
	_cleanup_free_ char *decoy = path_join(base, "decoy2");
	_cleanup_free_ char *before = decoy_listing(decoy);
	_cleanup_close_ int parent = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int round = 0; round < 20; round++) {
		mk("victim/sub/a/b", "x");
		for (int i = 0; i < 50; i++) {
			_cleanup_free_ char *f = xasprintf("victim/sub/f%d", i);
			mk(f, "y");
		}
		_cleanup_free_ char *v = path_join(base, "victim");
		pid_t pid = fork();
		if (pid == 0) {
			_cleanup_free_ char *sub = path_join(v, "sub");
			_cleanup_free_ char *aside = path_join(v, "aside");
			for (;;) {
				rename(sub, aside);
				symlink(decoy, sub);
				unlink(sub);
				mkdir(sub, 0755);
				rmdir(aside);
			}
		}
		int r = rm_rf_at(parent, "victim");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		(void)r; /* may fail while the swapper runs; must never go outside */
		rm_rf_at(parent, "victim");
	}
	_cleanup_free_ char *after = decoy_listing(decoy);
	CHECK(streq(before, after));
}

static void test_chown(void)
{
	if (geteuid() != 0)
		return;
	mk("decoy3/f", "mine");
	mk("own/sub/f", "x");
	_cleanup_free_ char *decoy = path_join(base, "decoy3/f");
	_cleanup_free_ char *l = path_join(base, "own/sub/l");
	if (symlink(decoy, l) < 0)
		abort();
	_cleanup_free_ char *own = path_join(base, "own");
	_cleanup_close_ int fd = open(own, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(chown_tree(fd, 65534, 65534) == 0);
	struct stat st;
	_cleanup_free_ char *f = path_join(base, "own/sub/f");
	CHECK(stat(f, &st) == 0 && st.st_uid == 65534);
	CHECK(lstat(l, &st) == 0 && st.st_uid == 65534);
	CHECK(stat(decoy, &st) == 0 && st.st_uid == 0);
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/test-chase.XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(base))
		return 1;
	test_resolve();
	test_create();
	test_remove();
	test_remove_race();
	test_chown();
	rm_rf(base);
	return unit_summary();
}
