// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "sandbox.h"
#include "spawn.h"
#include "util.h"

static const struct spawn_opts default_opts = { .out_fd = -1 };
static unsigned default_timeout = 3600;

void spawn_set_default_timeout(unsigned sec)
{
	if (sec > 0)
		default_timeout = sec;
}

unsigned spawn_default_timeout(void)
{
	return default_timeout;
}

static unsigned timeout_of(const struct spawn_opts *o)
{
	return o->timeout_sec ? o->timeout_sec : default_timeout;
}

/* stdin from /dev/null, stdout/stderr to the capture pipe, the log or
 * /dev/null; nothing else of ours survives exec. */
static void child_fds(const struct spawn_opts *o, int capture_fd)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
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
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) < 0)
#endif
		for (int fd = 3; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	for (size_t i = 0; i < o->n_pass_fds; i++)
		fcntl(o->pass_fds[i], F_SETFD, 0);
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

static void child_plain(const struct spawn_opts *o, pid_t parent, char *const *argv)
{
	if (o->cwd && chdir(o->cwd) < 0)
		_exit(127);
	for (size_t i = 0; o->env && o->env[i]; i++)
		putenv(o->env[i]);
	if (o->run_as_user) {
		if (setgroups(1, &o->gid) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0)
			_exit(126);
	}
	/* When we are killed, so is the child (set after the user change,
	 * which clears it). A process group of its own, so that the timeout
	 * kills the whole tree it starts. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	exec_program(argv);
	_exit(127);
}

/* Starts the child. *ret_session: a sandbox without namespaces, whose
 * session must be killed when it ends. */
static int start(char *const *argv, const struct spawn_opts *o, int capture_fd, pid_t *ret_pid,
		 bool *ret_session)
{
	const struct sandbox *sb = o->sandbox;
	/* Namespaces where they work (probed once: an initramfs or a container
	 * may refuse them); the fallback otherwise. */
	bool ns = sb && !sb->no_namespaces && sandbox_namespaces_available();
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = ns ? sandbox_clone() : -1;
	if (pid < 0) {
		ns = false;
		pid = fork();
	}
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		child_fds(o, capture_fd);
		if (ns) {
			/* The namespace's init; our death is its death. (Its parent
			 * is outside the namespace: getppid() is 0 here.) */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(sandbox_init(sb, argv, o->cwd, o->env));
		}
		if (sb) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(127);
			sandbox_exec_fallback(sb, argv, o->cwd, o->env);
		}
		child_plain(o, parent, argv);
	}
	*ret_pid = pid;
	*ret_session = sb && !ns;
	return 0;
}

int spawn_start(char *const *argv, const struct spawn_opts *opts, pid_t *ret_pid)
{
	bool session;
	return start(argv, opts ? opts : &default_opts, -1, ret_pid, &session);
}

static int status_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int spawn_reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status_code(status);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void kill_tree(pid_t pid)
{
	/* The process group (plain children with a timeout), the child (a
	 * sandbox's init: its namespace dies with it). */
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

void spawn_kill(pid_t pid)
{
	if (pid > 0)
		kill_tree(pid);
}

/* Waits for pid, reading the capture pipe meanwhile when fd >= 0. Returns
 * the exit status, -ETIME after a timeout, or -errno. */
static int wait_child(pid_t pid, unsigned timeout_sec, int fd, char **buf, size_t *len, size_t *cap)
{
	double deadline = timeout_sec ? now() + timeout_sec : 0;
	int status;
	for (;;) {
		if (fd >= 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int n = poll(&p, 1, 20);
			if (n > 0) {
				if (*len + 4096 >= *cap)
					*buf = xrealloc(*buf, *cap *= 2);
				ssize_t k = read(fd, *buf + *len, *cap - *len - 1);
				if (k > 0) {
					*len += k;
					continue;
				}
				if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
					fd = -1; /* EOF: now only wait */
			}
		}
		pid_t r = waitpid(pid, &status, (fd >= 0 || deadline) ? WNOHANG : 0);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == pid)
			break;
		if (deadline && now() >= deadline) {
			kill_tree(pid);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -ETIME;
		}
		if (fd < 0 && deadline) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	/* The child is gone: what it wrote is in the pipe; whatever it left
	 * behind may hold the pipe open, so take what is there and stop. */
	while (fd >= 0) {
		if (*len + 4096 >= *cap)
			*buf = xrealloc(*buf, *cap *= 2);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0)
			break;
		ssize_t k = read(fd, *buf + *len, *cap - *len - 1);
		if (k <= 0)
			break;
		*len += k;
	}
	return status_code(status);
}

static int run(char *const *argv, const struct spawn_opts *o, char **ret)
{
	int p[2] = { -1, -1 };
	if (ret && pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid;
	bool session;
	int r = start(argv, o, p[1], &pid, &session);
	if (p[1] >= 0)
		close(p[1]);
	if (r < 0) {
		if (p[0] >= 0)
			close(p[0]);
		return r;
	}
	size_t cap = 4096, len = 0;
	char *buf = ret ? xmalloc(cap) : NULL;
	r = wait_child(pid, timeout_of(o), p[0], &buf, &len, &cap);
	if (session)
		sandbox_kill_session(pid);
	if (p[0] >= 0)
		close(p[0]);
	if (!ret)
		return r;
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = 0;
	*ret = buf;
	return r;
}

int spawn_wait(char *const *argv, const struct spawn_opts *opts)
{
	return run(argv, opts ? opts : &default_opts, NULL);
}

int spawn_capture(char *const *argv, const struct spawn_opts *opts, char **ret)
{
	return run(argv, opts ? opts : &default_opts, ret);
}
