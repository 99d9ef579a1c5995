// SPDX-License-Identifier: GPL-2.0-or-later
/* Linked into every fuzz target with -Wl,--wrap=spawn_wait,--wrap=spawn_capture,
 * --wrap=spawn_start: no child process is ever started while fuzzing. The
 * library's fallbacks that need one (bash for a dkms.conf or framework.conf
 * the native reader declines, gzip/xz/lz4 for an initramfs segment) see the
 * program as not installed, which they report as an ordinary error; the
 * fuzzer keeps exercising the in-process code around them. */
#include <errno.h>
#include <sys/types.h>

#include "fuzz.h"
#include "spawn.h"

unsigned long fuzz_spawn_refused;

int __wrap_spawn_wait(char *const *argv, const struct spawn_opts *opts);
int __wrap_spawn_capture(char *const *argv, const struct spawn_opts *opts, char **ret);
int __wrap_spawn_start(char *const *argv, const struct spawn_opts *opts, pid_t *ret_pid);

int __wrap_spawn_wait(char *const *argv, const struct spawn_opts *opts)
{
	fuzz_spawn_refused++;
	return -ENOENT;
}

int __wrap_spawn_capture(char *const *argv, const struct spawn_opts *opts, char **ret)
{
	fuzz_spawn_refused++;
	return -ENOENT;
}

int __wrap_spawn_start(char *const *argv, const struct spawn_opts *opts, pid_t *ret_pid)
{
	fuzz_spawn_refused++;
	return -ENOENT;
}
