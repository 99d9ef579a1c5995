// SPDX-License-Identifier: GPL-2.0-or-later
/* Harness helpers for the fuzz targets (see fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "util.h"

static char scratch[PATH_MAX];
static pid_t owner;

static void scratch_remove(void)
{
	/* Forked children (none expected) must not remove the parent's directory. */
	if (scratch[0] && getpid() == owner)
		rm_rf(scratch);
}

void fuzz_setup(void)
{
	if (scratch[0])
		return;
	log_set_level(-1);
	const char *tmp = getenv("TMPDIR");
	snprintf(scratch, sizeof(scratch), "%s/dkms-agent-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		abort();
	}
	owner = getpid();
	atexit(scratch_remove);
}

const char *fuzz_scratch(void)
{
	fuzz_setup();
	return scratch;
}

void fuzz_scratch_clear(void)
{
	_cleanup_strv_free_ char **l = NULL;
	if (dir_list(fuzz_scratch(), &l) < 0)
		abort();
	for (size_t i = 0; l[i]; i++) {
		_cleanup_free_ char *p = path_join(scratch, l[i]);
		rm_rf(p);
	}
}

const char *fuzz_path(unsigned slot, const char *fmt, ...)
{
	static char buf[4][PATH_MAX];
	char rel[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(buf[slot & 3], PATH_MAX, "%s/%s", fuzz_scratch(), rel);
	return buf[slot & 3];
}

void fuzz_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		abort();
	}
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			perror("write");
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

void fuzz_mkdir_p(const char *path)
{
	if (mkdir_p(path, 0755) < 0) {
		fprintf(stderr, "mkdir -p %s failed\n", path);
		abort();
	}
}
