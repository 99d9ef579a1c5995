/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running programs: by argv vector only, fork/exec, output to a log fd,
 * optional working directory, extra environment and timeout. */
#pragma once

#include <sys/types.h>

struct spawn_opts {
	const char *cwd;
	int out_fd;	      /* stdout+stderr go here; -1 = inherit */
	char *const *env;     /* extra NAME=VALUE entries, or NULL */
	unsigned timeout_sec; /* 0 = none */
	uid_t uid;	      /* run as this user when run_as_user */
	gid_t gid;
	int run_as_user;
	int quiet;    /* discard output when out_fd < 0 */
	pid_t parent; /* internal */
};

/* Runs argv[0] (searched in $PATH) and waits. Returns the exit status (0-255),
 * 128+signal when killed, or -errno when it could not be started; -ETIME on
 * timeout. */
int spawn_wait(char *const *argv, const struct spawn_opts *opts);

/* Runs argv and captures its stdout into *ret (NUL-terminated). */
int spawn_capture(char *const *argv, const struct spawn_opts *opts, char **ret);

/* Starts argv without waiting; returns the pid. */
int spawn_start(char *const *argv, const struct spawn_opts *opts, pid_t *ret_pid);
/* Waits for pid; same return convention as spawn_wait. */
int spawn_reap(pid_t pid);
