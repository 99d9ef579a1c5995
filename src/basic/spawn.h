/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running programs: by argv vector only, fork/exec, output to a log fd,
 * optional working directory, extra environment and timeout; contained in a
 * sandbox (sandbox.h) when asked. Every child gets /dev/null as stdin and
 * no other descriptor of ours than those it is given (pass_fds). */
#pragma once

#include <sys/types.h>

struct sandbox;

struct spawn_opts {
	const char *cwd;
	int out_fd;	      /* stdout+stderr go here; -1 = inherit */
	char *const *env;     /* extra NAME=VALUE entries ("NAME" alone unsets), or NULL */
	unsigned timeout_sec; /* 0 = the default (spawn_set_default_timeout); the
			       * child and what it started are killed */
	uid_t uid;	      /* run as this user when run_as_user */
	gid_t gid;
	int run_as_user;
	int quiet; /* discard output when out_fd < 0 */
	/* Descriptors the child inherits under the same numbers (a memfd it
	 * reads as /proc/self/fd/N); every other one of ours is closed. */
	const int *pass_fds;
	size_t n_pass_fds;
	/* Run contained: cwd is a path of the sandbox's view; env applies on top
	 * of the sandbox's; uid/gid come from the sandbox. */
	const struct sandbox *sandbox;
};

/* Runs argv[0] (searched in $PATH) and waits. Returns the exit status (0-255),
 * 128+signal when killed, or -errno when it could not be started; -ETIME on
 * timeout. */
int spawn_wait(char *const *argv, const struct spawn_opts *opts);

/* Runs argv and captures its stdout into *ret (NUL-terminated). The timeout
 * covers the reading too; reading stops when the child has exited, even if
 * something it left behind still holds the pipe. */
int spawn_capture(char *const *argv, const struct spawn_opts *opts, char **ret);

/* Starts argv without waiting; returns the pid. Not for sandboxed runs. */
int spawn_start(char *const *argv, const struct spawn_opts *opts, pid_t *ret_pid);
/* Waits for pid; same return convention as spawn_wait. */
int spawn_reap(pid_t pid);

/* The time limit of every child whose spawn_opts name none (3600 s unless
 * set; /etc/dkms-agent.conf's build_timeout=): depmod, dracut, cp, openssl
 * never hang us for good. */
void spawn_set_default_timeout(unsigned sec);
unsigned spawn_default_timeout(void);
/* Kills a started child and what it started (its process group). */
void spawn_kill(pid_t pid);
