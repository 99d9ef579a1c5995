// SPDX-License-Identifier: GPL-2.0-or-later
/* Contained children (see sandbox.h). The view is built the way bubblewrap
 * builds one: a tmpfs becomes the root for a moment (pivot_root), the host's
 * root stays reachable at /oldroot, a second tmpfs at /newroot receives
 * recursive bind mounts of the host's top-level directories, everything
 * there is made read-only, the writable mounts go on top, and /newroot
 * becomes the root with the old one detached. */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#ifdef __has_include
#if __has_include(<linux/mount.h>) && !defined(MOUNT_ATTR_RDONLY)
#include <linux/mount.h>
#endif
#endif

#include "chase.h"
#include "sandbox.h"
#include "util.h"

#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
#define NEWROOT "/newroot"
#define OLDROOT "/oldroot"
#define MAX_MOUNTS 32

pid_t sandbox_clone(void)
{
	/* A fork() with namespace flags; all other arguments 0, so that only
	 * s390's swapped first two matter. */
#if defined(__s390__) || defined(__CRIS__)
	return (pid_t)syscall(SYS_clone, 0UL, (unsigned long)(NS_FLAGS | SIGCHLD), 0UL, 0UL, 0UL);
#else
	return (pid_t)syscall(SYS_clone, (unsigned long)(NS_FLAGS | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
#endif
}

static int make_view(const struct sandbox *sb);

bool sandbox_namespaces_available(void)
{
	static int cached = -1;
	if (cached >= 0)
		return cached;
	cached = 0;
	if (geteuid() != 0)
		return false;
	/* The whole view, once, with nothing in it: an initramfs (whose root
	 * cannot be pivoted away) or a container without CAP_SYS_ADMIN fails
	 * here rather than in every build step. */
	fflush(NULL);
	pid_t pid = sandbox_clone();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		struct sandbox empty = { 0 };
		_exit(make_view(&empty) < 0 ? 1 : 0);
	}
	if (pid < 0)
		return false;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	cached = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	return cached;
}

/* ---- messages (the child's stderr is the log) ---------------------------- */

static int fail(const char *what, const char *path)
{
	int e = errno;
	fprintf(stderr, "dkms-agent sandbox: %s%s%s: %s\n", what, path ? " " : "", strempty(path),
		strerror(e));
	return -e;
}

/* ---- the view -------------------------------------------------------------- */

static char *proc_fd(int fd)
{
	return xasprintf(OLDROOT "/proc/self/fd/%d", fd);
}

/* Host top-level directories shown empty: root's and the users' homes. */
static bool hidden(const char *name)
{
	return streq(name, "root") || streq(name, "home");
}

/* Made later: a fresh proc, a private tmpfs. */
static bool placeholder(const char *name)
{
	return streq(name, "proc") || streq(name, "tmp") || streq(name, "run");
}

/* Copies one entry of a directory being shown: a directory or file by a
 * recursive bind mount of src_fd (an O_PATH fd of it), a link as a link. */
static int show_entry(const char *dst, int dir_fd, const char *name, int src_fd)
{
	struct stat st;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* gone meanwhile */
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
		if (n < 0)
			return 0;
		target[n] = 0;
		return symlink(target, dst) < 0 ? fail("symlink", dst) : 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0)
			return fail("mkdir", dst);
	} else if (S_ISREG(st.st_mode)) {
		int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail("create", dst);
		close(fd);
	} else {
		return 0; /* sockets, fifos, devices at this level: not shown */
	}
	if (src_fd < 0)
		return 0;
	_cleanup_free_ char *src = proc_fd(src_fd);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail("bind mount", dst);
	return 0;
}

/* The host's top level into NEWROOT. */
static int populate(void)
{
	_cleanup_close_ int root = open(OLDROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return fail("open", OLDROOT);
	DIR *d = fdopendir(fcntl(root, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return fail("opendir", OLDROOT);
	int r = 0;
	for (struct dirent *de; r >= 0 && (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *dst = path_join(NEWROOT, de->d_name);
		if (hidden(de->d_name) || placeholder(de->d_name)) {
			struct stat st;
			if (fstatat(root, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode) && mkdir(dst, 0755) < 0)
				r = fail("mkdir", dst);
			continue;
		}
		int fd = openat(root, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = show_entry(dst, root, de->d_name, fd);
		close(fd);
	}
	closedir(d);
	if (r >= 0 && mkdir(NEWROOT "/tmp", 0755) < 0 && errno != EEXIST)
		r = fail("mkdir", NEWROOT "/tmp");
	if (r >= 0 && mkdir(NEWROOT "/proc", 0755) < 0 && errno != EEXIST)
		r = fail("mkdir", NEWROOT "/proc");
	return r;
}

/* Everything under NEWROOT read-only and nosuid. */
static int make_read_only(void)
{
#if defined(SYS_mount_setattr) && defined(MOUNT_ATTR_RDONLY)
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID };
	if (syscall(SYS_mount_setattr, AT_FDCWD, NEWROOT, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return fail("mount_setattr read-only", NEWROOT);
#endif
	/* Older kernels: each mount under NEWROOT, from /proc/self/mountinfo. */
	_cleanup_fclose_ FILE *f = fopen(OLDROOT "/proc/self/mountinfo", "re");
	if (!f)
		return fail("open", "mountinfo");
	char *line = NULL;
	size_t cap = 0;
	int r = 0;
	while (r >= 0 && getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX], opts[256];
		if (sscanf(line, "%*s %*s %*s %*s %4095s %255s", mp, opts) != 2)
			continue;
		/* mountinfo escapes blanks as \040: our own paths have none. */
		if (!startswith(mp, NEWROOT) || (mp[strlen(NEWROOT)] && mp[strlen(NEWROOT)] != '/'))
			continue;
		unsigned long fl = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID;
		fl |= strstr(opts, "nodev") ? MS_NODEV : 0;
		fl |= strstr(opts, "noexec") ? MS_NOEXEC : 0;
		if (mount(NULL, mp, NULL, fl, NULL) < 0)
			r = fail("remount read-only", mp);
	}
	free(line);
	return r;
}

/* Covers the directory at NEWROOT<path> (open as dir_fd) with a tmpfs that
 * shows the same entries, so that new names can be made in it. */
static int shadow(int dir_fd, const char *path)
{
	_cleanup_free_ char *target = path_join(NEWROOT, path);
	/* The entries, as fds, before the directory is covered. */
	char **names = NULL;
	int fds[512];
	size_t n = 0;
	int dfd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return fail("opendir", target);
	}
	int r = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (n >= ELEMENTSOF(fds)) {
			errno = E2BIG;
			r = fail("too many entries to show in", target);
			break;
		}
		strv_push(&names, de->d_name);
		fds[n++] = openat(dir_fd, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (r >= 0 && mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		r = fail("mount tmpfs on", target);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *dst = path_join(target, names[i]);
		if (r >= 0)
			r = show_entry(dst, dir_fd, names[i], fds[i]);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	closedir(d);
	strv_free(names);
	return r;
}

/* The tmpfs mounts made writable for the command (/tmp…): a name missing
 * there is simply made, no need to cover anything. */
static dev_t own_devs[8];
static size_t n_own_devs;

static bool own_dev(dev_t dev)
{
	for (size_t i = 0; i < n_own_devs; i++)
		if (own_devs[i] == dev)
			return true;
	return false;
}

/* Makes sure dest exists in the view; returns its resolved path (no links). */
static int mountpoint(const char *dest, char **ret_path)
{
	_cleanup_close_ int nr = open(NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (nr < 0)
		return fail("open", NEWROOT);
	_cleanup_free_ char *rest = NULL, *at = NULL;
	_cleanup_close_ int fd = chase_existing(nr, dest, CHASE_IN_ROOT, &rest, &at);
	if (fd < 0) {
		errno = -fd;
		return fail("resolve", dest);
	}
	if (!*rest) {
		*ret_path = TAKE_PTR(at);
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && own_dev(st.st_dev)) {
		int made = chase(fd, rest, CHASE_MKDIR, O_PATH | O_DIRECTORY, NULL);
		if (made < 0) {
			errno = -made;
			return fail("mkdir", dest);
		}
		close(made);
		*ret_path = path_join(at, rest);
		return 0;
	}
	int r = shadow(fd, at);
	_cleanup_free_ char *t = path_join(NEWROOT, at);
	_cleanup_close_ int cover = r < 0 ? -1 : open(t, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r >= 0 && cover < 0)
		r = fail("open", t);
	if (r >= 0) {
		int made = chase(cover, rest, CHASE_MKDIR, O_PATH | O_DIRECTORY, NULL);
		if (made < 0) {
			errno = -made;
			r = fail("mkdir", dest);
		} else {
			close(made);
		}
	}
	if (r >= 0 &&
	    mount(NULL, t, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		r = fail("remount read-only", t);
	if (r < 0)
		return r;
	*ret_path = path_join(at, rest);
	return 0;
}

static int bind_one(const struct sandbox_mount *m, int src_fd)
{
	_cleanup_free_ char *at = NULL;
	int r = mountpoint(m->dest, &at);
	if (r < 0)
		return r;
	_cleanup_free_ char *t = path_join(NEWROOT, at);
	_cleanup_free_ char *src = proc_fd(src_fd);
	if (mount(src, t, NULL, MS_BIND, NULL) < 0)
		return fail("bind mount", m->dest);
	unsigned long fl =
		MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (m->writable ? 0 : MS_RDONLY);
	if (mount(NULL, t, NULL, fl, NULL) < 0)
		return fail("remount", m->dest);
	return 0;
}

static int tmpfs_at(const char *path, const char *mode)
{
	_cleanup_free_ char *t = path_join(NEWROOT, path);
	struct stat st;
	if (lstat(t, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	_cleanup_free_ char *o = xasprintf("mode=%s", mode);
	if (mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, o) < 0)
		return fail("mount tmpfs on", t);
	if (stat(t, &st) == 0 && n_own_devs < ELEMENTSOF(own_devs))
		own_devs[n_own_devs++] = st.st_dev;
	return 0;
}

static int make_view(const struct sandbox *sb)
{
	int src[MAX_MOUNTS];
	int r = 0;
	if (sb->n_mounts > MAX_MOUNTS) {
		errno = E2BIG;
		return fail("too many mounts", NULL);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("make mounts private", NULL);
	for (size_t i = 0; i < sb->n_mounts; i++)
		src[i] = -1;
	for (size_t i = 0; r >= 0 && i < sb->n_mounts; i++) {
		src[i] = open(sb->mounts[i].source, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (src[i] < 0)
			r = fail("open", sb->mounts[i].source);
	}
	/* A tmpfs as the root for a moment; the host's root stays at OLDROOT. */
	if (r >= 0 && mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
		r = fail("mount tmpfs on", "/tmp");
	if (r >= 0 && (mkdir("/tmp" NEWROOT, 0755) < 0 || mkdir("/tmp" OLDROOT, 0700) < 0))
		r = fail("mkdir", "/tmp" NEWROOT);
	if (r >= 0 &&
	    (chdir("/tmp") < 0 || syscall(SYS_pivot_root, ".", "." OLDROOT) < 0 || chdir("/") < 0))
		r = fail("pivot_root", "/tmp");
	if (r >= 0 && mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		r = fail("mount tmpfs on", NEWROOT);
	if (r >= 0)
		r = populate();
	if (r >= 0)
		r = make_read_only();
	if (r >= 0)
		r = tmpfs_at("/tmp", "1777");
	if (r >= 0)
		r = tmpfs_at("/var/tmp", "1777");
	if (r >= 0)
		r = tmpfs_at("/dev/shm", "1777");
	if (r >= 0)
		r = tmpfs_at("/run", "0755");
	for (size_t i = 0; r >= 0 && i < sb->n_mounts; i++)
		r = bind_one(&sb->mounts[i], src[i]);
	for (size_t i = 0; i < sb->n_mounts; i++)
		if (src[i] >= 0)
			close(src[i]);
	if (r < 0)
		return r;
	/* A proc of the new PID namespace; the host's, read-only, if refused. */
	if (mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		fprintf(stderr,
			"dkms-agent sandbox: a new /proc was refused (%m): the host's is shown\n");
		if (mount(OLDROOT "/proc", NEWROOT "/proc", NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, NEWROOT "/proc", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
			return fail("mount", "/proc");
	}
	/* NEWROOT becomes "/", the old root goes away. */
	if (chdir(NEWROOT) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return fail("pivot_root", NEWROOT);
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return fail("detach the old root", NULL);
	return 0;
}

/* ---- the command ----------------------------------------------------------- */

static void close_other_fds(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) == 0)
		return;
#endif
	for (int fd = 3; fd < 1024; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void become(const struct sandbox *sb, const char *cwd, char *const *env)
{
	if (sb->drop_user &&
	    (setgroups(1, &sb->gid) < 0 || setresgid(sb->gid, sb->gid, sb->gid) < 0 ||
	     setresuid(sb->uid, sb->uid, sb->uid) < 0 || geteuid() != sb->uid)) {
		fail("become the build user", NULL);
		_exit(126);
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	clearenv();
	for (size_t i = 0; sb->env && sb->env[i]; i++)
		putenv(sb->env[i]);
	for (size_t i = 0; env && env[i]; i++)
		putenv(env[i]);
	if (cwd && chdir(cwd) < 0) {
		fail("chdir", cwd);
		_exit(127);
	}
	close_other_fds();
}

int sandbox_init(const struct sandbox *sb, char *const *argv, const char *cwd, char *const *env)
{
	if (make_view(sb) < 0)
		return 125;
	pid_t cmd = fork();
	if (cmd < 0)
		return fail("fork", NULL), 125;
	if (cmd == 0) {
		become(sb, cwd, env);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %m\n", argv[0]);
		_exit(127);
	}
	/* The init of the namespace: reap every orphan until the command ends,
	 * then leave; the kernel kills what is left. */
	for (;;) {
		int status;
		pid_t p = waitpid(-1, &status, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return 125;
		if (p == cmd)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
}

/* Where a path of the sandbox's view is on the host (the fallback has no
 * mounts). */
static char *host_path(const struct sandbox *sb, const char *path)
{
	for (size_t i = sb->n_mounts; path && i-- > 0;) {
		const char *rest = startswith(path, sb->mounts[i].dest);
		if (rest && (!*rest || *rest == '/'))
			return xasprintf("%s%s", sb->mounts[i].source, rest);
	}
	return path ? xstrdup(path) : NULL;
}

void sandbox_exec_fallback(const struct sandbox *sb, char *const *argv, const char *cwd,
			   char *const *env)
{
	setsid();
	fprintf(stderr,
		"dkms-agent: no namespaces here: running as uid %u in a session of its "
		"own; what it leaves is killed by session (a process that starts its own "
		"session is not)\n",
		(unsigned)(sb->drop_user ? sb->uid : geteuid()));
	_cleanup_free_ char *dir = host_path(sb, cwd);
	become(sb, dir, env);
	execvp(argv[0], argv);
	fprintf(stderr, "%s: %m\n", argv[0]);
	_exit(127);
}

/* The session of /proc/<pid>/stat, or -1 (a zombie counts as gone). */
static pid_t session_of(const char *pid)
{
	_cleanup_free_ char *p = xasprintf("/proc/%s/stat", pid);
	_cleanup_free_ char *c = NULL;
	if (read_full_file(p, &c, NULL, 4096) < 0)
		return -1;
	char *e = strrchr(c, ')');
	char state;
	int ppid, pgrp, session;
	if (!e || sscanf(e + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) != 4 ||
	    state == 'Z')
		return -1;
	return session;
}

void sandbox_kill_session(pid_t sid)
{
	kill(-sid, SIGKILL);
	for (int pass = 0; pass < 200; pass++) {
		bool found = false;
		DIR *d = opendir("/proc");
		for (struct dirent *de; d && (de = readdir(d));) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			if (session_of(de->d_name) == sid) {
				kill(atoi(de->d_name), SIGKILL);
				found = true;
			}
		}
		if (d)
			closedir(d);
		if (!found)
			return;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
