// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "trust.h"
#include "util.h"

static bool unsafe(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return st->st_uid != 0;
	return st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH));
}

static int check_fd(int dfd, const char *path, int depth, char **ret_path)
{
	struct stat st;
	if (fstat(dfd, &st) < 0)
		return -errno;
	if (unsafe(&st)) {
		*ret_path = xstrdup(path);
		return -EPERM;
	}
	if (depth > 64)
		return -ELOOP;
	int fd2 = dup(dfd);
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
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (unsafe(&st)) {
			*ret_path = TAKE_PTR(p);
			r = -EPERM;
			break;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		int sub = openat(dirfd(d), de->d_name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			r = -errno;
			break;
		}
		r = check_fd(sub, p, depth + 1, ret_path);
		close(sub);
	}
	closedir(d);
	return r;
}

int trust_check_tree(const char *dir, char **ret_path)
{
	/* The top may be reached through dkms's source link; below it, nothing
	 * is followed. */
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return check_fd(fd, dir, 0, ret_path);
}
