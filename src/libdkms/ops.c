// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "install.h"
#include "kbuild.h"
#include "log.h"
#include "module.h"
#include "ops.h"
#include "sign.h"
#include "tree.h"
#include "validate.h"

enum { J_PENDING, J_RUNNING, J_DONE };

void ops_job_add(struct dk_job **jobs, size_t *n, const char *m, const char *v, const char *kver,
		 const char *arch)
{
	*jobs = xrealloc(*jobs, (*n + 1) * sizeof(**jobs));
	(*jobs)[(*n)++] = (struct dk_job){
		.m = xstrdup(m), .v = xstrdup(v), .kver = xstrdup(kver), .arch = xstrdup(arch)
	};
}

void ops_jobs_free(struct dk_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].m);
		free(jobs[i].v);
		free(jobs[i].kver);
		free(jobs[i].arch);
		free(jobs[i].message);
		free(jobs[i].log_path);
		pkg_free(jobs[i].pkg);
	}
	free(jobs);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void job_finish(struct dk_job *j, int code, char *message)
{
	j->state = J_DONE;
	j->code = code;
	free(j->message);
	j->message = message;
}

/* Loads dkms.conf and decides whether the job needs a build at all. */
static void job_prepare(const struct dk_ctx *ctx, struct dk_job *j, unsigned flags)
{
	char *err = NULL;
	if (module_load(ctx, j->m, j->v, NULL, j->kver, j->arch, &j->pkg, &err) < 0) {
		job_finish(j, DK_EXIT_BAD_CONF, err);
		return;
	}
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, j->kver);
	_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
	char *why = pkg_exclusion(j->pkg, j->kver, j->arch, kconfig);
	if (why) {
		job_finish(j, DK_EXIT_EXCLUDED, why);
		return;
	}
	_cleanup_free_ char *base = ctx_dkms_path(ctx, j->m, j->v, j->kver, j->arch);
	if (path_is_dir(base)) {
		if (!(flags & OPS_REBUILD)) {
			j->state = J_DONE; /* built already: maybe install */
			return;
		}
		struct dk_tree t;
		module_tree(ctx, &t);
		if (tree_is_installed(&t, j->m, j->v, j->kver, j->arch))
			install_remove(ctx, j->pkg, j->kver, j->arch);
		free(t.dir);
		kbuild_unbuild(ctx, j->m, j->v, j->kver, j->arch);
	}
}

/* Signing keys are made once, before builds run in parallel. */
static void prepare_signing(const struct dk_ctx *ctx, struct dk_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].state != J_PENDING)
			continue;
		_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, jobs[i].kver);
		_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
		struct dk_signer s;
		if (sign_prepare(ctx, jobs[i].kver, kconfig, &s, NULL) > 0) {
			int r = sign_ensure_key(&s, NULL);
			if (r < 0)
				log_warning_errno(
					r,
					r == -ENOENT
						? "Cannot create the signing key %s: openssl is not installed"
						: "Cannot create the signing key %s: %m",
					s.key);
			sign_done(&s);
			return;
		}
	}
}

/* A job may start when every BUILD_DEPENDS module of the same kernel among
 * the jobs is done and succeeded. Returns 1 ready, 0 wait, -1 a dependency failed. */
static int job_ready(struct dk_job *jobs, size_t n, struct dk_job *j)
{
	for (size_t d = 0; j->pkg->build_depends && j->pkg->build_depends[d]; d++)
		for (size_t i = 0; i < n; i++) {
			struct dk_job *o = &jobs[i];
			if (o == j || !streq(o->m, j->pkg->build_depends[d]) ||
			    !streq(o->kver, j->kver) || !streq(o->arch, j->arch))
				continue;
			if (o->state != J_DONE)
				return 0;
			if (o->code != 0)
				return -1;
		}
	return 1;
}

struct child {
	pid_t pid;
	int fd;
	struct dk_job *job;
	double start;
};

static void child_main(const struct dk_ctx *ctx, struct dk_job *j, int fd)
{
	struct kbuild_result res;
	kbuild_run(ctx, j->pkg, j->kver, j->arch, &res);
	dprintf(fd, "%d\n%s\n%s", res.code, strempty(res.log_path), strempty(res.message));
	_exit(0);
}

static int start_child(const struct dk_ctx *ctx, struct dk_job *j, struct child *c)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	log_info("Building %s/%s for %s (%s)...", j->m, j->v, j->kver, j->arch);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(p[0]);
		/* A build dies with the command that started it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		child_main(ctx, j, p[1]);
	}
	close(p[1]);
	*c = (struct child){ .pid = pid, .fd = p[0], .job = j, .start = now() };
	j->state = J_RUNNING;
	return 0;
}

static void reap_child(struct child *c)
{
	char buf[8192];
	size_t len = 0;
	ssize_t k;
	while (len < sizeof(buf) - 1 && (k = read(c->fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += k;
	buf[len] = 0;
	close(c->fd);
	int status;
	waitpid(c->pid, &status, 0);
	struct dk_job *j = c->job;
	j->seconds = now() - c->start;
	char *nl1 = strchr(buf, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (!nl1 || !nl2 || !WIFEXITED(status)) {
		job_finish(j, DK_EXIT_BUILD_FAILED, xstrdup("The build process died"));
		return;
	}
	*nl1 = *nl2 = 0;
	free(j->log_path);
	j->log_path = *(nl1 + 1) ? xstrdup(nl1 + 1) : NULL;
	job_finish(j, atoi(buf), *(nl2 + 1) ? xstrdup(nl2 + 1) : NULL);
	j->built = j->code == 0;
	if (j->code == 0)
		log_info("Built %s/%s for %s (%s) in %.1f s", j->m, j->v, j->kver, j->arch,
			 j->seconds);
}

static void build_all(const struct dk_ctx *ctx, struct dk_job *jobs, size_t n)
{
	size_t max = ctx->jobs > 0 ? (size_t)ctx->jobs : 1;
	_cleanup_free_ struct child *kids = xcalloc(max, sizeof(*kids));
	size_t running = 0;
	for (;;) {
		bool started = false;
		for (size_t i = 0; i < n && running < max; i++) {
			struct dk_job *j = &jobs[i];
			if (j->state != J_PENDING)
				continue;
			int ready = job_ready(jobs, n, j);
			if (ready < 0) {
				job_finish(
					j, DK_EXIT_BUILD_FAILED,
					xasprintf(
						"%s/%s: a module it depends on (BUILD_DEPENDS) failed",
						j->m, j->v));
				continue;
			}
			if (!ready)
				continue;
			for (size_t s = 0; s < max; s++)
				if (!kids[s].job && start_child(ctx, j, &kids[s]) == 0) {
					running++;
					started = true;
					break;
				}
		}
		if (running == 0) {
			if (started)
				continue;
			break;
		}
		/* Wait for any child, then collect it. */
		siginfo_t si = { 0 };
		pid_t pid = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) < 0 ? -1 : si.si_pid;
		for (size_t s = 0; s < max; s++)
			if (kids[s].job && (pid < 0 || kids[s].pid == pid)) {
				reap_child(&kids[s]);
				kids[s] = (struct child){ 0 };
				running--;
				break;
			}
	}
	for (size_t i = 0; i < n; i++)
		if (jobs[i].state == J_PENDING)
			job_finish(&jobs[i], DK_EXIT_BUILD_FAILED,
				   xasprintf("%s/%s: missing dependencies", jobs[i].m, jobs[i].v));
}

/* Files first, then depmod, then the "installed" links: a crash at any
 * point leaves modules that the next run installs again (no link), never a
 * link without its files or without depmod having seen them. */
static void install_all(const struct dk_ctx *ctx, struct dk_job *jobs, size_t n)
{
	_cleanup_strv_free_ char **kernels = NULL;
	for (size_t i = 0; i < n; i++) {
		struct dk_job *j = &jobs[i];
		if (j->code != 0 || !j->pkg)
			continue;
		char *err = NULL;
		int r = install_files(ctx, j->pkg, j->kver, j->arch, &err);
		if (r < 0) {
			job_finish(j, r == -EEXIST ? DK_EXIT_INSTALL_ABORTED : DK_EXIT_BUILD_FAILED,
				   err);
			continue;
		}
		if (!strv_contains(kernels, j->kver))
			strv_push(&kernels, j->kver);
	}
	for (size_t k = 0; !ctx->no_depmod && kernels && kernels[k]; k++) {
		log_info("Running depmod for %s", kernels[k]);
		if (install_depmod(ctx, kernels[k]) != 0)
			log_warning("depmod failed for %s", kernels[k]);
	}
	for (size_t i = 0; i < n; i++) {
		struct dk_job *j = &jobs[i];
		if (j->code != 0 || !j->pkg)
			continue;
		char *err = NULL;
		int r = install_publish(ctx, j->pkg, j->kver, j->arch, &err);
		if (r < 0) {
			job_finish(j, DK_EXIT_BUILD_FAILED, err);
			continue;
		}
		j->installed = true;
		log_info("Installed %s/%s for %s (%s)", j->m, j->v, j->kver, j->arch);
	}
}

int ops_run(const struct dk_ctx *ctx, struct dk_job *jobs, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++)
		job_prepare(ctx, &jobs[i], flags);
	prepare_signing(ctx, jobs, n);
	build_all(ctx, jobs, n);
	if (flags & OPS_INSTALL)
		install_all(ctx, jobs, n);
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct dk_job *j = &jobs[i];
		if (j->code == 0)
			continue;
		if (j->code == DK_EXIT_EXCLUDED) {
			log_info("%s/%s is not built for %s (%s): %s", j->m, j->v, j->kver, j->arch,
				 strempty(j->message));
			continue;
		}
		failed++;
		log_error("%s/%s for %s (%s): %s%s%s", j->m, j->v, j->kver, j->arch,
			  strempty(j->message), j->log_path ? "\nConsult " : "",
			  j->log_path ? j->log_path : "");
	}
	return failed;
}

char **ops_kernels(const struct dk_ctx *ctx)
{
	char **l = NULL;
	for (size_t i = 0; ctx->kernels && ctx->kernels[i]; i++) {
		char *k, *a;
		module_split_kernel(ctx, ctx->kernels[i], &k, &a);
		strv_consume(&l, xasprintf("%s/%s", k, a));
		free(k);
		free(a);
	}
	if (!l) {
		struct utsname u;
		uname(&u);
		strv_consume(&l, xasprintf("%s/%s", u.release, ctx_arch(ctx)));
	}
	return l;
}

char **ops_installed_kernels(const struct dk_ctx *ctx)
{
	_cleanup_free_ char *dir = ctx_path(ctx, ctx->install_tree);
	_cleanup_strv_free_ char **all = NULL;
	char **l = xcalloc(1, sizeof(char *));
	dir_list(dir, &all);
	for (size_t i = 0; all && all[i]; i++) {
		if (validate_name(all[i]))
			continue; /* "-x" would reach depmod as an option */
		_cleanup_free_ char *b = path_join(dir, all[i], "build");
		_cleanup_free_ char *k = path_join(dir, all[i], "kernel");
		_cleanup_free_ char *d = path_join(dir, all[i], "modules.dep");
		if (path_exists(b) || path_is_dir(k) || path_exists(d))
			strv_consume(&l, xasprintf("%s/%s", all[i], ctx_arch(ctx)));
	}
	strv_sort(l, version_cmp);
	return l;
}
