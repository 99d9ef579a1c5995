// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "spawn.h"
#include "util.h"

static const struct spawn_opts default_opts = { .out_fd = -1 };

static void child_setup(const struct spawn_opts *o_in, int capture_fd, pid_t parent)
{
	struct spawn_opts copy = *o_in;
	copy.parent = parent;
	const struct spawn_opts *o = &copy;
	if (o->cwd && chdir(o->cwd) < 0)
		_exit(127);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	if (capture_fd >= 0)
		dup2(capture_fd, STDOUT_FILENO);
	else if (o->out_fd >= 0)
		dup2(o->out_fd, STDOUT_FILENO);
	else if (o->quiet && devnull >= 0)
		dup2(devnull, STDOUT_FILENO);
	if (o->out_fd >= 0)
		dup2(o->out_fd, STDERR_FILENO);
	else if (o->quiet && devnull >= 0)
		dup2(devnull, STDERR_FILENO);
	for (size_t i = 0; o->env && o->env[i]; i++)
		putenv(o->env[i]);
	if (o->run_as_user) {
		if (setgroups(1, &o->gid) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0)
			_exit(126);
	}
	/* When we are killed, so is the child (set after the user change,
	 * which clears it). A new process group only when a timeout must be
	 * able to kill the whole tree; otherwise a signal to our group (Ctrl-C,
	 * systemd stopping the unit) reaches make too. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != o->parent)
		_exit(127);
	if (o->timeout_sec)
		setpgid(0, 0);
}

/* execvp, then the system directories for administrator tools: depmod,
 * update-initramfs and friends live in sbin, which callers such as
 * mkinitcpio (PATH=/usr/bin:/bin) or a user's shell may leave off PATH. */
static void exec_program(char *const *argv)
{
	execvp(argv[0], argv);
	if (errno != ENOENT || strchr(argv[0], '/'))
		return;
	static const char *const dirs[] = { "/usr/local/sbin/", "/usr/sbin/", "/sbin/" };
	for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {
		char p[PATH_MAX];
		if ((size_t)snprintf(p, sizeof(p), "%s%s", dirs[k], argv[0]) < sizeof(p))
			execv(p, argv);
	}
}

int spawn_start(char *const *argv, const struct spawn_opts *opts, pid_t *ret_pid)
{
	const struct spawn_opts *o = opts ? opts : &default_opts;
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		child_setup(o, -1, parent);
		exec_program(argv);
		_exit(127);
	}
	*ret_pid = pid;
	return 0;
}

int spawn_reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int wait_timeout(pid_t pid, unsigned timeout_sec)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)timeout_sec) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIME;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int spawn_wait(char *const *argv, const struct spawn_opts *opts)
{
	pid_t pid;
	int r = spawn_start(argv, opts, &pid);
	if (r < 0)
		return r;
	if (opts && opts->timeout_sec)
		return wait_timeout(pid, opts->timeout_sec);
	return spawn_reap(pid);
}

int spawn_capture(char *const *argv, const struct spawn_opts *opts, char **ret)
{
	const struct spawn_opts *o = opts ? opts : &default_opts;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		child_setup(o, p[1], parent);
		exec_program(argv);
		_exit(127);
	}
	close(p[1]);
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
		ssize_t n = read(p[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(p[0]);
	buf[len] = 0;
	int r = spawn_reap(pid);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return r;
}
