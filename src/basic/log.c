// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static enum log_target target = LOG_TARGET_CONSOLE;

void log_set_level(int level)
{
	max_level = level;
}

int log_get_level(void)
{
	return max_level;
}

void log_set_target(enum log_target t)
{
	target = t;
}

void log_setup_auto(void)
{
	/* In an initramfs there is no journal yet: the kernel log is the one
	 * place a message survives. */
	if (access("/etc/initrd-release", F_OK) == 0 && getpid() != 1 && !isatty(STDERR_FILENO))
		target = LOG_TARGET_KMSG;
	else if (getenv("JOURNAL_STREAM"))
		target = LOG_TARGET_JOURNAL;
}

static void write_kmsg(int level, const char *msg)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "%s\n", msg);
		return;
	}
	dprintf(fd, "<%d>dkms-agent: %s\n", level, msg);
	close(fd);
}

int log_internal(int level, int error, const char *fmt, ...)
{
	int e = error < 0 ? -error : error;
	if (level > max_level)
		return -e;

	char buf[4096];
	va_list ap;
	int saved = errno;
	errno = e;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	errno = saved;

	switch (target) {
	case LOG_TARGET_JOURNAL: fprintf(stderr, "<%d>%s\n", level, buf); break;
	case LOG_TARGET_KMSG: write_kmsg(level, buf); break;
	default:
		if (level <= LOG_WARNING)
			fprintf(stderr, "%s%s\n", level <= LOG_ERR ? "Error! " : "Warning: ", buf);
		else
			fprintf(level == LOG_DEBUG ? stderr : stdout, "%s\n", buf);
	}
	if (level > LOG_WARNING)
		fflush(stdout);
	return -e;
}
