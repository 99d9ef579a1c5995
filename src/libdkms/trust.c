// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>

#include "trust.h"
#include "util.h"

#define MAX_DEPTH 128

/* The users besides root who are members of gid (by /etc/group or as their
 * primary group), comma-separated; "" when none. Cached per gid. NULL when
 * the system does not know the group. */
static const char *group_others(gid_t gid)
{
	static struct {
		gid_t gid;
		char *others; /* NULL: unknown group */
	} cache[16];
	static size_t n;
	for (size_t i = 0; i < n; i++)
		if (cache[i].gid == gid)
			return cache[i].others;
	char **names = NULL;
	struct group *gr = getgrgid(gid);
	for (size_t i = 0; gr && gr->gr_mem && gr->gr_mem[i]; i++)
		if (!streq(gr->gr_mem[i], "root") && !strv_contains(names, gr->gr_mem[i]))
			strv_push(&names, gr->gr_mem[i]);
	bool known = gr != NULL;
	setpwent();
	for (struct passwd *pw; (pw = getpwent());)
		if (pw->pw_gid == gid) {
			known = true;
			if (pw->pw_uid != 0 && !strv_contains(names, pw->pw_name))
				strv_push(&names, pw->pw_name);
		}
	endpwent();
	char *others = known ? strv_join(names, ", ") : NULL;
	strv_free(names);
	if (n < ELEMENTSOF(cache))
		cache[n++] = (typeof(cache[0])){ .gid = gid, .others = others };
	return others; /* leaks when the cache is full: at most a few strings */
}

static char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	return pw ? xasprintf("user %s (uid %u)", pw->pw_name, (unsigned)uid)
		  : xasprintf("uid %u (no such user)", (unsigned)uid);
}

/* Who besides root can change an entry, as a phrase, or NULL. above: a
 * directory above the source (a sticky one is fine). */
static char *writer(const struct stat *st, bool above)
{
	if (st->st_uid != 0) {
		_cleanup_free_ char *u = user_name(st->st_uid);
		return xasprintf("owned by %s", u);
	}
	if (S_ISLNK(st->st_mode))
		return NULL;
	bool sticky_dir = above && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);
	if ((st->st_mode & S_IWOTH) && !sticky_dir)
		return xasprintf("writable by everyone (mode %04o)", st->st_mode & 07777);
	if (!(st->st_mode & S_IWGRP) || sticky_dir)
		return NULL;
	const char *others = group_others(st->st_gid);
	struct group *gr = getgrgid(st->st_gid);
	if (!others)
		return xasprintf("writable by group %u, which this system does not know",
				 (unsigned)st->st_gid);
	if (!*others)
		return NULL; /* root's own group, or a group without members */
	return xasprintf("writable by group %s (%s)", gr ? gr->gr_name : "?", others);
}

static int refuse(const char *path, char *who, char **ret_why)
{
	if (ret_why) {
		free(*ret_why);
		*ret_why = xasprintf("%s is %s", path, who);
	}
	free(who);
	return -EPERM;
}

static int check_dir(int dfd, const char *path, int depth, char **ret_why)
{
	if (depth > MAX_DEPTH)
		return -ELOOP;
	int fd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd2 < 0)
		return -errno;
	DIR *d = fdopendir(fd2);
	if (!d) {
		close(fd2);
		return -errno;
	}
	int r = 0;
	for (struct dirent *de; r == 0 && (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *p = path_join(path, de->d_name);
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		char *who = writer(&st, false);
		if (who) {
			r = refuse(p, who, ret_why);
			break;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		int sub = openat(dfd, de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			r = -errno;
			break;
		}
		r = check_dir(sub, p, depth + 1, ret_why);
		close(sub);
	}
	closedir(d);
	return r;
}

static int check_top(int fd, const char *dir, char **ret_why)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	char *who = writer(&st, false);
	return who ? refuse(dir, who, ret_why) : 0;
}

int trust_check_tree(const char *dir, char **ret_why)
{
	/* The top may be reached through dkms's source link; below it, nothing
	 * is followed. */
	_cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = check_top(fd, dir, ret_why);
	return r < 0 ? r : check_dir(fd, dir, 0, ret_why);
}

int trust_check_path(const char *dir, char **ret_why)
{
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return -errno;
	_cleanup_close_ int fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = check_top(fd, real, ret_why);
	/* Each directory above, by "..": the chain the kernel walks to reach it. */
	while (r == 0 && !streq(real, "/")) {
		char *s = strrchr(real, '/');
		if (s == real)
			real[1] = 0;
		else
			*s = 0;
		int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			return -errno;
		close(fd);
		fd = up;
		struct stat st;
		if (fstat(fd, &st) < 0)
			return -errno;
		char *who = writer(&st, true);
		if (who)
			r = refuse(real, who, ret_why);
	}
	return r;
}

int trust_check_source(const char *dir, char **ret_why)
{
	int r = trust_check_path(dir, ret_why);
	return r < 0 ? r : trust_check_tree(dir, ret_why);
}

int trust_check_file(const char *path, char **ret_why)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	char *who = writer(&st, false);
	return who ? refuse(path, who, ret_why) : 0;
}
