// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include "lock.h"

int lock_tree(const struct dk_ctx *ctx, unsigned timeout_sec)
{
	/* The tree as a chroot into the root sees it; the lock file itself is
	 * never a link. */
	_cleanup_close_ int dir = ctx_open(ctx, ctx->dkms_tree, O_PATH | O_DIRECTORY, true, NULL);
	if (dir < 0)
		return dir;
	_cleanup_close_ int fd =
		openat(dir, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	time_t start = time(NULL);
	while (flock(fd, LOCK_EX | (timeout_sec ? LOCK_NB : 0)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (time(NULL) - start >= (time_t)timeout_sec)
			return -EAGAIN;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return TAKE_FD(fd);
}
