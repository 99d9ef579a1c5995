// SPDX-License-Identifier: GPL-2.0-or-later
/* Paths by descriptor (see chase.h for the rules). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#ifdef __has_include
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif
#endif

#include "chase.h"
#include "util.h"

#define MAX_LINKS 40	     /* as the kernel's MAXSYMLINKS */
#define MAX_DEPTH 256	     /* directory fds held by one walk */
#define RM_MAX_DEPTH 64	     /* rm_rf: deeper subtrees are moved up first */
#define RM_MAX_PASSES 100000 /* rm_rf: a tree that keeps growing is -EBUSY */

int open_root(const char *path)
{
	int fd = open(isempty(path) ? "/" : path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int fd_mount_id(int fd, uint64_t *ret)
{
#if defined(STATX_MNT_ID)
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) == 0 &&
	    (sx.stx_mask & STATX_MNT_ID)) {
		*ret = sx.stx_mnt_id;
		return 0;
	}
#endif
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	*ret = (uint64_t)st.st_dev | (1ULL << 63);
	return 0;
}

/* ---- openat2 ------------------------------------------------------------- */

/* -ENOSYS when the kernel (or a seccomp filter) has no openat2. */
static int try_openat2(int root_fd, const char *path, unsigned flags, int open_flags, mode_t mode)
{
#if defined(SYS_openat2) && defined(RESOLVE_IN_ROOT)
	static int missing;
	if (missing)
		return -ENOSYS;
	struct open_how how = {
		.flags = (uint64_t)(open_flags | O_CLOEXEC |
				    (flags & CHASE_NOFOLLOW ? O_NOFOLLOW : 0)),
		.mode = (open_flags & O_CREAT) || (open_flags & O_TMPFILE) == O_TMPFILE ? mode : 0,
		.resolve = RESOLVE_NO_MAGICLINKS |
			   (flags & CHASE_IN_ROOT ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) |
			   (flags & CHASE_NO_SYMLINKS ? RESOLVE_NO_SYMLINKS : 0) |
			   (flags & CHASE_NO_XDEV ? RESOLVE_NO_XDEV : 0),
	};
	/* RESOLVE_BENEATH refuses an absolute path; ours is relative to root_fd. */
	while (!(flags & CHASE_IN_ROOT) && *path == '/')
		path++;
	if (!*path)
		path = ".";
	for (int tries = 0;; tries++) {
		long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a rename raced with ".." resolution; the kernel asks to retry. */
		if (errno == EAGAIN && tries < 32)
			continue;
		if (errno == ENOSYS || errno == EPERM || errno == E2BIG) {
			if (errno == ENOSYS)
				missing = 1;
			return -ENOSYS;
		}
		return -errno;
	}
#else
	return -ENOSYS;
#endif
}

/* ---- the portable walk ---------------------------------------------------- */

struct walk {
	int root_fd;
	unsigned flags;
	int fds[MAX_DEPTH];	/* fds[0] = root; fds[depth] = where we are */
	char *names[MAX_DEPTH]; /* names[i] = component leading to fds[i] (i >= 1) */
	size_t depth;
	uint64_t root_mnt;
	char *todo; /* what is left to resolve */
	unsigned links;
};

static void walk_pop(struct walk *w)
{
	close(w->fds[w->depth]);
	free(w->names[w->depth]);
	w->depth--;
}

static void walk_done(struct walk *w)
{
	while (w->depth > 0)
		walk_pop(w);
	if (w->fds[0] >= 0)
		close(w->fds[0]);
	free(w->todo);
}

static int walk_init(struct walk *w, int root_fd, const char *path, unsigned flags)
{
	*w = (struct walk){ .root_fd = root_fd, .flags = flags };
	w->fds[0] = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->fds[0] < 0)
		return -errno;
	w->todo = xstrdup(path);
	if (flags & CHASE_NO_XDEV)
		return fd_mount_id(w->fds[0], &w->root_mnt);
	return 0;
}

/* Takes the next component off w->todo into buf; false when none is left. */
static bool next_component(struct walk *w, char *buf, size_t size, bool *ret_last, bool *ret_slash)
{
	char *s = w->todo;
	while (*s == '/')
		s++;
	if (!*s)
		return false;
	size_t n = strcspn(s, "/");
	if (n >= size)
		n = size - 1; /* longer than NAME_MAX: the lookup fails with ENAMETOOLONG */
	memcpy(buf, s, n);
	buf[n] = 0;
	s += strcspn(s, "/");
	*ret_slash = *s == '/';
	while (*s == '/')
		s++;
	*ret_last = !*s;
	memmove(w->todo, s, strlen(s) + 1);
	return true;
}

/* A symbolic link met on the way: its target goes in front of what is left. */
static int walk_link(struct walk *w, int dir_fd, const char *name, bool slash)
{
	if (w->flags & CHASE_NO_SYMLINKS)
		return -ELOOP;
	if (++w->links > MAX_LINKS)
		return -ELOOP;
	char target[PATH_MAX];
	ssize_t n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ENOENT;
	target[n] = 0;
	if (target[0] == '/') {
		if (!(w->flags & CHASE_IN_ROOT))
			return -EXDEV;
		while (w->depth > 0)
			walk_pop(w);
	}
	/* A trailing slash after the link still asks for a directory. */
	char *t = xasprintf("%s%s%s", target, *w->todo || slash ? "/" : "", w->todo);
	free(w->todo);
	w->todo = t;
	return 0;
}

static int walk_enter(struct walk *w, const char *name, int fd)
{
	if (w->depth + 1 >= MAX_DEPTH) {
		close(fd);
		return -ENAMETOOLONG;
	}
	if (w->flags & CHASE_NO_XDEV) {
		uint64_t m;
		int r = fd_mount_id(fd, &m);
		if (r < 0 || m != w->root_mnt) {
			close(fd);
			return r < 0 ? r : -EXDEV;
		}
	}
	w->depth++;
	w->fds[w->depth] = fd;
	w->names[w->depth] = xstrdup(name);
	return 0;
}

/* The resolved path of where the walk stands, "/"-prefixed. */
static char *walk_path(const struct walk *w, const char *last)
{
	size_t len = 2 + (last ? strlen(last) + 1 : 0);
	for (size_t i = 1; i <= w->depth; i++)
		len += strlen(w->names[i]) + 1;
	char *r = xmalloc(len), *p = r;
	*p = 0;
	for (size_t i = 1; i <= w->depth; i++)
		p += sprintf(p, "/%s", w->names[i]);
	if (last)
		p += sprintf(p, "/%s", last);
	if (p == r)
		strcpy(r, "/");
	return r;
}

enum walk_mode { WALK_OPEN, WALK_PARENT, WALK_EXISTING };

/* Walks w->todo. WALK_OPEN: stops on the last component, unopened, in
 * *ret_last (NULL when the path ends in the current directory: "", "/", "."
 * or ".."). WALK_PARENT: the same, but the last must be a plain name.
 * WALK_EXISTING: stops at the first component that does not exist, which is
 * put back in front of w->todo. */
static int walk_run(struct walk *w, enum walk_mode mode, char **ret_last, bool *ret_slash)
{
	char name[NAME_MAX + 2];
	bool last, slash;
	*ret_last = NULL;
	*ret_slash = false;
	while (next_component(w, name, sizeof(name), &last, &slash)) {
		if (streq(name, ".") || streq(name, "..")) {
			if (last && mode == WALK_PARENT)
				return -EINVAL;
			if (streq(name, "..") && w->depth > 0)
				walk_pop(w);
			else if (streq(name, "..") && !(w->flags & CHASE_IN_ROOT))
				return -EXDEV;
			continue;
		}
		int dir = w->fds[w->depth];
		struct stat st;
		bool exists = fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (!exists && errno != ENOENT)
			return -errno;
		bool follow = !last || slash || !(w->flags & CHASE_NOFOLLOW);
		if (exists && S_ISLNK(st.st_mode) && follow && !(last && mode == WALK_PARENT)) {
			int r = walk_link(w, dir, name, slash);
			if (r < 0)
				return r;
			continue;
		}
		if (last && mode != WALK_EXISTING) {
			*ret_last = xstrdup(name);
			*ret_slash = slash;
			return 0;
		}
		if (!exists && mode == WALK_EXISTING) {
			char *t = xasprintf("%s%s%s", name, *w->todo ? "/" : "", w->todo);
			free(w->todo);
			w->todo = t;
			return 0;
		}
		if (!exists && (w->flags & CHASE_MKDIR) && mkdirat(dir, name, 0755) < 0 &&
		    errno != EEXIST)
			return -errno;
		int fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ELOOP && ++w->links <= MAX_LINKS) {
			/* Swapped for a symbolic link since fstatat: look again. */
			char *t = xasprintf("%s%s%s", name, *w->todo || slash ? "/" : "", w->todo);
			free(w->todo);
			w->todo = t;
			continue;
		}
		if (fd < 0)
			return -errno;
		int r = walk_enter(w, name, fd);
		if (r < 0)
			return r;
	}
	return 0;
}

static int walk_open_last(struct walk *w, const char *last, bool slash, int open_flags)
{
	int dir = w->fds[w->depth];
	int extra = O_CLOEXEC | O_NOFOLLOW | (slash ? O_DIRECTORY : 0);
	if (!last) {
		/* The current directory itself. */
		int fd = openat(dir, ".", open_flags | O_CLOEXEC, 0644);
		return fd < 0 ? -errno : fd;
	}
	if ((w->flags & CHASE_MKDIR) && mkdirat(dir, last, 0755) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dir, last, open_flags | extra, 0644);
	if (fd < 0)
		return -errno;
	struct stat st;
	if ((open_flags & O_PATH) && !(w->flags & CHASE_NOFOLLOW) &&
	    (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode))) {
		close(fd);
		return -ELOOP; /* became a link after the walk looked: resolve again */
	}
	if (w->flags & CHASE_NO_XDEV) {
		uint64_t m;
		int r = fd_mount_id(fd, &m);
		if (r < 0 || m != w->root_mnt) {
			close(fd);
			return r < 0 ? r : -EXDEV;
		}
	}
	return fd;
}

static int chase_walk(int root_fd, const char *path, unsigned flags, int open_flags,
		      char **ret_path)
{
	/* O_CREAT|O_EXCL never follows a link in the last component, as open(2). */
	if ((open_flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		flags |= CHASE_NOFOLLOW;
	for (int tries = 0;; tries++) {
		struct walk w;
		int r = walk_init(&w, root_fd, path, flags);
		_cleanup_free_ char *last = NULL;
		bool slash = false;
		if (r >= 0)
			r = walk_run(&w, WALK_OPEN, &last, &slash);
		if (r >= 0) {
			r = walk_open_last(&w, last, slash, open_flags);
			/* A symlink where a name was (O_NOFOLLOW refused it): it
			 * appeared after our fstatat; resolve again. */
			if (r == -ELOOP && !(flags & (CHASE_NOFOLLOW | CHASE_NO_SYMLINKS)) &&
			    tries < 8)
				r = -EAGAIN;
		}
		if (r >= 0 && ret_path)
			*ret_path = walk_path(&w, last);
		walk_done(&w);
		if (r != -EAGAIN)
			return r;
	}
}

int chase(int root_fd, const char *path, unsigned flags, int open_flags, char **ret_path)
{
	if (!path)
		return -EINVAL;
	if (!ret_path && !(flags & CHASE_MKDIR)) {
		int r = try_openat2(root_fd, path, flags, open_flags, 0644);
		if (r != -ENOSYS)
			return r;
	}
	return chase_walk(root_fd, path, flags, open_flags, ret_path);
}

int chase_parent(int root_fd, const char *path, unsigned flags, int *ret_dir_fd, char **ret_name)
{
	struct walk w;
	int r = walk_init(&w, root_fd, path, flags);
	_cleanup_free_ char *last = NULL;
	bool slash;
	if (r >= 0)
		r = walk_run(&w, WALK_PARENT, &last, &slash);
	if (r >= 0 && !last)
		r = -EINVAL;
	if (r >= 0) {
		r = openat(w.fds[w.depth], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (r < 0)
			r = -errno;
	}
	walk_done(&w);
	if (r < 0)
		return r;
	*ret_dir_fd = r;
	*ret_name = TAKE_PTR(last);
	return 0;
}

int chase_existing(int root_fd, const char *path, unsigned flags, char **ret_rest, char **ret_path)
{
	struct walk w;
	int r = walk_init(&w, root_fd, path, flags & ~CHASE_MKDIR);
	_cleanup_free_ char *last = NULL;
	bool slash;
	if (r >= 0)
		r = walk_run(&w, WALK_EXISTING, &last, &slash);
	if (r >= 0) {
		r = openat(w.fds[w.depth], ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (r < 0)
			r = -errno;
	}
	if (r >= 0) {
		char *s = w.todo;
		while (*s == '/')
			s++;
		size_t l = strlen(s);
		while (l > 0 && s[l - 1] == '/')
			l--;
		*ret_rest = xstrndup(s, l);
		if (ret_path)
			*ret_path = walk_path(&w, NULL);
	}
	walk_done(&w);
	return r;
}

char *chase_host_path(const char *root, const char *path)
{
	bool host = !root || !*root || (root[0] == '/' && !root[1]);
	_cleanup_close_ int root_fd = open_root(host ? "" : root);
	if (root_fd < 0) /* no root: nothing under it to reach */
		return host ? xstrdup(path) : path_join(root, path);
	_cleanup_free_ char *inside = NULL;
	_cleanup_close_ int fd = chase(root_fd, path, CHASE_IN_ROOT, O_PATH, &inside);
	if (fd >= 0)
		return host ? TAKE_PTR(inside) : path_join(root, inside);
	/* As far as it resolves, then the part that is missing: a string the
	 * host cannot follow out of the root either, as its first missing name
	 * stops it (the plain <root>path would follow an absolute link on the
	 * way to the host's file of that name). */
	_cleanup_free_ char *rest = NULL;
	_cleanup_close_ int dfd = chase_existing(root_fd, path, CHASE_IN_ROOT, &rest, &inside);
	if (dfd >= 0) {
		_cleanup_free_ char *first = xstrndup(rest, strcspn(rest, "/"));
		struct stat st;
		if (*first && fstatat(dfd, first, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno == ENOENT) {
			_cleanup_free_ char *joined = path_join(inside, rest);
			return host ? TAKE_PTR(joined) : path_join(root, joined);
		}
	}
	/* A link loop in the root, which the host might resolve elsewhere: a
	 * path that leads nowhere (/dev/null is no directory). */
	return path_join("/dev/null", path);
}

/* ---- removal and ownership by descriptor ---------------------------------- */

struct rm {
	int top_fd;	/* the directory being emptied at depth 0 */
	uint64_t mnt;	/* its mount */
	unsigned moved; /* subtrees moved up to top_fd */
	bool progress;	/* something was removed or moved this pass */
	int error;	/* the first error */
};

static void rm_error(struct rm *rm, int r)
{
	if (r < 0 && r != -ENOENT && rm->error == 0)
		rm->error = r;
}

static void rm_dir(struct rm *rm, int fd, unsigned depth);

static void rm_entry(struct rm *rm, int dir_fd, const char *name, unsigned char type,
		     unsigned depth)
{
	if (type != DT_DIR && type != DT_UNKNOWN) {
		if (unlinkat(dir_fd, name, 0) == 0) {
			rm->progress = true;
			return;
		}
		if (errno != EISDIR)
			return rm_error(rm, -errno);
	}
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOTDIR && errno != ELOOP)
			return rm_error(rm, -errno);
		/* Not a directory (any more): a file or a link, removed as such. */
		if (unlinkat(dir_fd, name, 0) == 0)
			rm->progress = true;
		else
			rm_error(rm, -errno);
		return;
	}
	uint64_t m;
	int r = fd_mount_id(fd, &m);
	if (r < 0 || m != rm->mnt) {
		close(fd);
		return rm_error(rm, r < 0 ? r : -EXDEV);
	}
	if (depth >= RM_MAX_DEPTH && rm->top_fd != dir_fd) {
		/* Too deep to hold more fds: move the subtree up to the top, where
		 * a later pass removes it. */
		close(fd);
		char n[64];
		snprintf(n, sizeof(n), ".rm-deep-%u-%d", rm->moved++, (int)getpid());
		if (renameat(dir_fd, name, rm->top_fd, n) == 0)
			rm->progress = true;
		else
			rm_error(rm, -errno);
		return;
	}
	rm_dir(rm, fd, depth + 1);
	close(fd);
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) == 0)
		rm->progress = true;
	else
		rm_error(rm, -errno);
}

/* Removes the entries of fd (one pass). */
static void rm_dir(struct rm *rm, int fd, unsigned depth)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return rm_error(rm, -errno);
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return rm_error(rm, -errno);
	}
	for (struct dirent *de; (errno = 0, de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		rm_entry(rm, fd, de->d_name, de->d_type, depth);
	}
	if (errno)
		rm_error(rm, -errno);
	closedir(d);
}

static bool dir_is_empty(int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return false;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return false;
	}
	bool empty = true;
	for (struct dirent *de; empty && (de = readdir(d));)
		empty = streq(de->d_name, ".") || streq(de->d_name, "..");
	closedir(d);
	return empty;
}

int rm_rf_children(int fd)
{
	struct rm rm = { .top_fd = fd };
	int r = fd_mount_id(fd, &rm.mnt);
	if (r < 0)
		return r;
	for (unsigned pass = 0;; pass++) {
		rm.progress = false;
		rm.error = 0;
		rm_dir(&rm, fd, 0);
		if (dir_is_empty(fd))
			return 0;
		if (!rm.progress)
			return rm.error ? rm.error : -ENOTEMPTY;
		if (pass >= RM_MAX_PASSES)
			return -EBUSY;
	}
}

int rm_rf_at(int dir_fd, const char *name)
{
	if (isempty(name) || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
		return -EINVAL;
	if (unlinkat(dir_fd, name, 0) == 0)
		return 0;
	if (errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	_cleanup_close_ int fd =
		openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	uint64_t parent_mnt, mnt;
	int r = fd_mount_id(dir_fd, &parent_mnt);
	if (r >= 0)
		r = fd_mount_id(fd, &mnt);
	if (r < 0)
		return r;
	if (mnt != parent_mnt)
		return -EXDEV;
	r = rm_rf_children(fd);
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r >= 0)
		r = -errno;
	return r;
}

static int chown_dir(int fd, uid_t uid, gid_t gid, uint64_t mnt, unsigned depth)
{
	if (fchown(fd, uid, gid) < 0)
		return -errno;
	if (depth >= MAX_DEPTH)
		return -ELOOP;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	int r = 0;
	for (struct dirent *de; r >= 0 && (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (fchownat(fd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
				r = -errno;
			continue;
		}
		int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			r = -errno;
			break;
		}
		uint64_t m;
		r = fd_mount_id(sub, &m);
		if (r >= 0 && m != mnt)
			r = -EXDEV;
		if (r >= 0)
			r = chown_dir(sub, uid, gid, mnt, depth + 1);
		close(sub);
	}
	closedir(d);
	return r;
}

int chown_tree(int fd, uid_t uid, gid_t gid)
{
	uint64_t mnt;
	int r = fd_mount_id(fd, &mnt);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	return chown_dir(dfd, uid, gid, mnt, 0);
}
