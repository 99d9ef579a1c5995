// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of running programs (basic/spawn.c, basic/sandbox.c): no
 * descriptor of ours reaches a child, timeouts kill the whole tree (also
 * while capturing, also when a grandchild keeps the pipe open), and, as root
 * where namespaces work, the sandbox: system read-only, the given directory
 * writable at its view path, a private /tmp, no network, the build user, and
 * nothing left running afterwards. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "sandbox.h"
#include "spawn.h"
#include "util.h"
#include "unit.h"

static char base[4096];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *sh(const char *script, const struct spawn_opts *o, int *ret)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	char *out = NULL;
	*ret = spawn_capture(argv, o, &out);
	return out;
}

/* A process whose command line holds this test's marker is still running. */
static bool marker_running(const char *marker)
{
	_cleanup_strv_free_ char **pids = NULL;
	dir_list("/proc", &pids);
	for (size_t i = 0; pids && pids[i]; i++) {
		if (pids[i][0] < '0' || pids[i][0] > '9' || atoi(pids[i]) == getpid())
			continue;
		_cleanup_free_ char *p = xasprintf("/proc/%s/cmdline", pids[i]), *c = NULL;
		size_t len;
		if (read_full_file(p, &c, &len, 1 << 16) < 0)
			continue;
		for (size_t k = 0; k < len; k++)
			if (!c[k])
				c[k] = ' ';
		if (strstr(c, marker))
			return true;
	}
	return false;
}

/* Kills (by pid) what still runs with the marker: the fallback's escapee. */
static void kill_marker(const char *marker)
{
	_cleanup_strv_free_ char **pids = NULL;
	dir_list("/proc", &pids);
	for (size_t i = 0; pids && pids[i]; i++) {
		if (pids[i][0] < '0' || pids[i][0] > '9' || atoi(pids[i]) == getpid())
			continue;
		_cleanup_free_ char *p = xasprintf("/proc/%s/cmdline", pids[i]), *c = NULL;
		size_t len;
		if (read_full_file(p, &c, &len, 1 << 16) < 0)
			continue;
		for (size_t k = 0; k < len; k++)
			if (!c[k])
				c[k] = ' ';
		if (strstr(c, marker))
			kill(atoi(pids[i]), SIGKILL);
	}
}

static void test_fds(void)
{
	/* Descriptors of ours, with and without O_CLOEXEC: none reaches the
	 * child (only the listing's own directory fd may show, below 10). */
	int a = open("/dev/null", O_RDONLY);
	int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(dup2(a, 50) == 50 && dup2(b, 51) == 51);
	int r;
	struct spawn_opts o = { .out_fd = -1 };
	_cleanup_free_ char *out = sh("exec ls -1 /proc/self/fd", &o, &r);
	CHECK(r == 0 && out && startswith(out, "0\n1\n2\n") && !strstr(out, "50") &&
	      !strstr(out, "51"));
	if (out && (strstr(out, "50") || strstr(out, "51")))
		fprintf(stderr, "child fds: %s", out);
	close(a);
	close(b);
	close(50);
	close(51);
	/* What a caller passes on purpose reaches it (a memfd read by path). */
	int m = memfd_create("test", MFD_CLOEXEC);
	CHECK(m >= 0 && write(m, "passed\n", 7) == 7);
	_cleanup_free_ char *script = xasprintf("cat /proc/self/fd/%d", m);
	int pass[] = { m };
	struct spawn_opts po = { .out_fd = -1, .pass_fds = pass, .n_pass_fds = 1 };
	_cleanup_free_ char *got = sh(script, &po, &r);
	CHECK(r == 0 && got && streq(got, "passed\n"));
	close(m);
}

static void test_timeouts(void)
{
	int r;
	_cleanup_free_ char *marker = xasprintf("dkms-agent-test-spawn-%d", (int)getpid());
	_cleanup_free_ char *script = xasprintf("sleep 300 & exec sleep 301 # %s", marker);
	struct spawn_opts o = { .out_fd = -1, .timeout_sec = 1 };
	double t = now();
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	CHECK(spawn_wait(argv, &o) == -ETIME);
	CHECK(now() - t < 30);
	/* Capture: the timeout covers the reading. */
	t = now();
	free(sh(script, &o, &r));
	CHECK(r == -ETIME && now() - t < 30);
	/* A grandchild holding the pipe does not hold us once the child is gone. */
	struct spawn_opts plain = { .out_fd = -1 };
	_cleanup_free_ char *bg = xasprintf("(sleep 30; echo late) & echo early # %s", marker);
	t = now();
	_cleanup_free_ char *out = sh(bg, &plain, &r);
	CHECK(r == 0 && out && streq(out, "early\n") && now() - t < 20);
	kill_marker(marker); /* the plain run's background child, ours to end */
}

static void test_sandbox(bool fallback)
{
	_cleanup_free_ char *work = path_join(base, fallback ? "work-fb" : "work");
	_cleanup_free_ char *decoy = path_join(base, "decoy");
	mkdir_p(work, 0777);
	chmod(work, 0777);
	mkdir_p(decoy, 0777);
	chmod(decoy, 0777);
	_cleanup_free_ char *marker =
		xasprintf("dkms-agent-test-sandbox-%d-%d", (int)getpid(), fallback);
	struct sandbox_mount m[] = {
		{ .source = work, .dest = "/var/lib/dkms/t/1/build", .writable = true }
	};
	char *env[] = { "PATH=/usr/bin:/bin", "HOME=/tmp", NULL };
	struct sandbox sb = { .mounts = m,
			      .n_mounts = 1,
			      .env = env,
			      .uid = 65534,
			      .gid = 65534,
			      .drop_user = true,
			      .no_namespaces = fallback };
	struct spawn_opts o = { .out_fd = -1,
				.quiet = 1,
				.sandbox = &sb,
				.cwd = "/var/lib/dkms/t/1/build",
				.timeout_sec = 60 };
	int r;
	_cleanup_free_ char *script = xasprintf(
		"id -u; pwd; echo ok > here; echo x > %s/written 2>/dev/null || echo refused; "
		"echo y > /tmp/t && echo tmp; [ -z \"$SECRET\" ] && echo clean; "
		"(setsid sh -c 'while :; do sleep 1; done # %s' &) ; "
		"(sh -c 'while :; do sleep 1; done # %s' &) ; echo done",
		decoy, marker, marker);
	setenv("SECRET", "hunter2", 1);
	double t = now();
	_cleanup_free_ char *out = sh(script, &o, &r);
	unsetenv("SECRET");
	CHECK(r == 0 && now() - t < 30);
	CHECK(out && strstr(out, "65534\n"));
	CHECK(out && strstr(out, "clean\n") && strstr(out, "tmp\n") && strstr(out, "done\n"));
	_cleanup_free_ char *here = path_join(work, "here");
	CHECK(path_is_reg(here));
	if (!fallback) {
		_cleanup_free_ char *written = path_join(decoy, "written");
		CHECK(out && strstr(out, "/var/lib/dkms/t/1/build\n"));
		CHECK(out && strstr(out, "refused\n") && !path_exists(written));
		/* Everything it started is gone with the namespace. */
		CHECK(!marker_running(marker));
		/* The system is read-only, the network is gone. */
		free(out);
		out = sh("touch /etc/dkms-agent-test 2>/dev/null || echo ro; "
			 "[ \"$(ls /sys/class/net 2>/dev/null)\" != lo ] || echo lo-only; "
			 "cat /proc/1/cmdline | tr '\\0' ' '; echo",
			 &o, &r);
		CHECK(r == 0 && out && strstr(out, "ro\n"));
		CHECK(!path_exists("/etc/dkms-agent-test"));
	} else {
		/* The fallback kills the session: the setsid one escapes it, by
		 * design, and is killed here. */
		CHECK(out && strstr(out, "done\n"));
		kill_marker(marker);
	}
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/test-spawn.XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(base))
		return 1;
	chmod(base, 0755);
	test_fds();
	test_timeouts();
	if (geteuid() == 0 && sandbox_namespaces_available())
		test_sandbox(false);
	else
		fprintf(stderr, "not root or no namespaces: the sandbox is not tested\n");
	if (geteuid() == 0)
		test_sandbox(true);
	rm_rf(base);
	return unit_summary();
}
