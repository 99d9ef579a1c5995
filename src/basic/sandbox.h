/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A contained child: what spawn.c runs when spawn_opts.sandbox is set.
 *
 * With namespaces (root, a kernel that has them): the child is the init of
 * its own PID, mount, network, IPC and UTS namespaces. Its view of the files
 * is the host's, read-only and nosuid (a private /tmp, /var/tmp, /dev/shm
 * and /run, empty /root and /home), plus the mounts given (each a host
 * directory shown at a path of the sandbox's choosing, writable or not; a
 * path that does not exist in the view is made by covering the nearest
 * existing directory with a tmpfs that shows the same entries). It runs the
 * command as uid/gid with no_new_privs and a clean environment, reaps
 * orphans, and exits with the command's status: every process left in the
 * namespace is killed then, by the kernel. A timeout or our death kills the
 * init, and with it everything in the namespace.
 *
 * Fallback (no namespaces, or no_namespaces): the command runs as uid/gid in
 * a session of its own, with the host's view (mounts are not made: dest
 * paths are translated to their sources for the working directory); when it
 * ends, its process group and every process left in its session are killed.
 * A process that starts a new session escapes that; the log says so. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct sandbox_mount {
	const char *source; /* host path of a directory (resolved: no links) */
	const char *dest;   /* where the sandbox sees it: an absolute path */
	bool writable;
};

struct sandbox {
	const struct sandbox_mount *mounts; /* applied in order: parents first */
	size_t n_mounts;
	char *const *env; /* the whole environment; spawn_opts.env applies on top */
	uid_t uid;	  /* run as uid/gid when drop_user */
	gid_t gid;
	bool drop_user;
	bool no_namespaces; /* the fallback only */
};

/* Whether namespaces can be used (root, and the kernel lets us); probed once
 * per process by starting a child in new namespaces. */
bool sandbox_namespaces_available(void);

/* spawn.c's child side. sandbox_clone: a fork() into new namespaces, -1 with
 * errno when they are not available. sandbox_init: in that child (pid 1),
 * makes the view, runs argv as the command and returns its exit status
 * (125 when the sandbox could not be made, with a message on stderr).
 * sandbox_exec_fallback: in a fork()ed child, never returns. */
pid_t sandbox_clone(void);
int sandbox_init(const struct sandbox *sb, char *const *argv, const char *cwd, char *const *env);
void sandbox_exec_fallback(const struct sandbox *sb, char *const *argv, const char *cwd,
			   char *const *env);
/* Parent side of the fallback: kills the process group sid and every process
 * of session sid, and waits (bounded) until none is left. */
void sandbox_kill_session(pid_t sid);
