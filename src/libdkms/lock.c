// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include "lock.h"

int lock_tree(const struct dk_ctx *ctx, unsigned timeout_sec)
{
	_cleanup_free_ char *dir = ctx_path(ctx, ctx->dkms_tree);
	int r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	_cleanup_free_ char *p = path_join(dir, ".lock");
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
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
