// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "cache.h"
#include "install.h"
#include "kbuild.h"
#include "log.h"
#include "modsig.h"
#include "module.h"
#include "ops-internal.h"
#include "ops.h"
#include "script.h"
#include "sign.h"
#include "spawn.h"
#include "tree.h"
#include "validate.h"

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

double ops_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reports a phase of job j: through ctx->progress when the command layer
 * set one, else as a log line (the agent's journal). */
void ops_job_emit(const struct dk_ctx *ctx, const struct dk_job *j, enum dk_phase phase)
{
	struct dk_event ev = { .phase = phase,
			       .m = j->m,
			       .v = j->v,
			       .kver = j->kver,
			       .arch = j->arch,
			       .message = j->message,
			       .log_path = j->log_path,
			       .code = j->code,
			       .seconds = j->seconds };
	if (ctx->progress) {
		ctx->progress(ctx->progress_userdata, &ev);
		return;
	}
	switch (phase) {
	case DK_PHASE_QUEUED:
		log_info("Building %s/%s for %s (%s)...", j->m, j->v, j->kver, j->arch);
		break;
	case DK_PHASE_BUILT:
		log_info("Built %s/%s for %s (%s) in %.1f s", j->m, j->v, j->kver, j->arch,
			 j->seconds);
		break;
	case DK_PHASE_CACHED:
		log_info("Built %s/%s for %s (%s) from the build cache in %.2f s", j->m, j->v,
			 j->kver, j->arch, j->seconds);
		break;
	case DK_PHASE_INSTALLED:
		log_info("Installed %s/%s for %s (%s)", j->m, j->v, j->kver, j->arch);
		break;
	case DK_PHASE_SKIPPED:
		log_info("%s/%s is not built for %s (%s): %s", j->m, j->v, j->kver, j->arch,
			 strempty(j->message));
		break;
	case DK_PHASE_FAILED:
		log_error("%s/%s for %s (%s): %s%s%s", j->m, j->v, j->kver, j->arch,
			  strempty(j->message), j->log_path ? "\nConsult " : "",
			  j->log_path ? j->log_path : "");
		break;
	default: break;
	}
}

void ops_kernel_emit(const struct dk_ctx *ctx, const char *kver, enum dk_phase phase)
{
	if (ctx->progress) {
		ctx_phase(ctx, "", "", kver, "", phase);
		return;
	}
	if (phase == DK_PHASE_DEPMOD)
		log_info("Running depmod for %s", kver);
}

void ops_job_finish(struct dk_job *j, int code, char *message)
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
	int r = module_load(ctx, j->m, j->v, NULL, j->kver, j->arch, &j->pkg, &err);
	if (r < 0) {
		ops_job_finish(j, module_load_exit_code(r), err);
		return;
	}
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, j->kver);
	_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
	char *why = pkg_exclusion(j->pkg, j->kver, j->arch, kconfig);
	if (why) {
		ops_job_finish(j, DK_EXIT_EXCLUDED, why);
		return;
	}
	_cleanup_free_ char *base = ctx_dkms_path(ctx, j->m, j->v, j->kver, j->arch);
	if (path_is_dir(base)) {
		if (!(flags & OPS_REBUILD) && !ops_is_built(ctx, j->pkg, j->kver, j->arch)) {
			/* dkms will not build over a partial result either. */
			ops_job_finish(
				j, DK_EXIT_ALREADY_BUILT,
				xasprintf(
					"This module/version has already been built on: %s\n"
					"Directory %s already exists, but some built modules are missing. Use the dkms remove function before trying to build again.",
					j->kver, base));
			return;
		}
		if (!(flags & OPS_REBUILD)) {
			j->state = J_DONE; /* built already: maybe install */
			return;
		}
		struct dk_tree t;
		module_tree(ctx, &t);
		char *rerr = NULL;
		int k = tree_is_installed(&t, j->m, j->v, j->kver, j->arch)
				? install_remove(ctx, j->pkg, j->kver, j->arch, &rerr)
				: 0;
		free(t.dir);
		if (k >= 0)
			k = kbuild_unbuild(ctx, j->m, j->v, j->kver, j->arch);
		if (k < 0 && !rerr)
			rerr = xasprintf("Cannot remove the earlier build: %s", strerror(-k));
		if (k < 0)
			ops_job_finish(j, DK_EXIT_BUILD_FAILED, rerr);
	}
	/* A binaries-only stub (dkms.conf alone) cannot be built. */
	_cleanup_free_ char *src = ctx_source_dir(ctx, j->m, j->v);
	_cleanup_strv_free_ char **files = NULL;
	dir_list(src, &files);
	if (j->pkg->n_modules > 0 && strv_length(files) < 2)
		ops_job_finish(
			j, DK_EXIT_BAD_CONF,
			xasprintf(
				"The directory %s does not appear to have module source located within it.\nBuild halted.",
				src));
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

/* The other job of this run that builds module name for j's kernel. */
static struct dk_job *dep_job(struct dk_job *jobs, size_t n, const struct dk_job *j,
			      const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (&jobs[i] != j && streq(jobs[i].m, name) && streq(jobs[i].kver, j->kver) &&
		    streq(jobs[i].arch, j->arch))
			return &jobs[i];
	return NULL;
}

/* Does the pending job j reach target through the dependencies it waits
 * for in this run? depth bounds the walk (a path has at most n jobs). */
static bool dep_reaches(struct dk_job *jobs, size_t n, struct dk_job *j, struct dk_job *target,
			size_t depth)
{
	if (depth > n || !j->pkg)
		return false;
	for (size_t d = 0; j->pkg->build_depends && j->pkg->build_depends[d]; d++) {
		struct dk_job *o = dep_job(jobs, n, j, j->pkg->build_depends[d]);
		if (!o || o->state != J_PENDING)
			continue;
		if (o == target || dep_reaches(jobs, n, o, target, depth + 1))
			return true;
	}
	return false;
}

static void fail_depends(const struct dk_ctx *ctx, struct dk_job *j, const char *what)
{
	if (ctx->force) {
		log_warning("Trying to build module %s/%s for kernel %s (%s) despite %s.", j->m,
			    j->v, j->kver, j->arch, what);
		j->deps_ignored = true;
		return;
	}
	ops_job_finish(j, DK_EXIT_MISSING_DEPENDS,
		       xasprintf("Aborting build of module %s/%s for kernel %s (%s) due to %s. You "
				 "may override by specifying --force.",
				 j->m, j->v, j->kver, j->arch, what));
}

/* Before any build: every BUILD_DEPENDS module must be installed for the
 * kernel, or be built and installed by this run before the job; a cycle
 * among the jobs can never start. */
static void check_depends(const struct dk_ctx *ctx, struct dk_job *jobs, size_t n, unsigned flags)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	for (size_t i = 0; i < n; i++) {
		struct dk_job *j = &jobs[i];
		if (j->state != J_PENDING || !j->pkg || !j->pkg->build_depends)
			continue;
		_cleanup_free_ char *missing = xstrdup("");
		for (size_t d = 0; j->pkg->build_depends[d]; d++) {
			const char *dep = j->pkg->build_depends[d];
			_cleanup_free_ char *inst =
				tree_installed_version(&t, dep, j->kver, j->arch);
			if (inst || ((flags & OPS_INSTALL) && dep_job(jobs, n, j, dep)))
				continue;
			char *m = xasprintf("%s %s", missing, dep);
			free(missing);
			missing = m;
		}
		if (*missing) {
			_cleanup_free_ char *what = xasprintf("missing BUILD_DEPENDS:%s", missing);
			fail_depends(ctx, j, what);
		}
	}
	_cleanup_free_ bool *cyclic = xcalloc(n + 1, sizeof(bool));
	for (size_t i = 0; i < n; i++)
		cyclic[i] = jobs[i].state == J_PENDING && !jobs[i].deps_ignored &&
			    dep_reaches(jobs, n, &jobs[i], &jobs[i], 0);
	for (size_t i = 0; i < n; i++)
		if (cyclic[i]) {
			_cleanup_free_ char *what = xasprintf(
				"circular BUILD_DEPENDS (%s depends on itself through them)",
				jobs[i].m);
			fail_depends(ctx, &jobs[i], what);
		}
	free(t.dir);
}

/* A job may start when every BUILD_DEPENDS module of the same kernel among
 * the jobs is done and succeeded. Returns 1 ready, 0 wait, -1 a dependency
 * failed (its name in *ret_dep). */
static int job_ready(struct dk_job *jobs, size_t n, struct dk_job *j, const char **ret_dep)
{
	for (size_t d = 0; !j->deps_ignored && j->pkg->build_depends && j->pkg->build_depends[d];
	     d++) {
		struct dk_job *o = dep_job(jobs, n, j, j->pkg->build_depends[d]);
		if (!o)
			continue;
		if (o->state != J_DONE)
			return 0;
		if (o->code != 0) {
			*ret_dep = o->m;
			return -1;
		}
	}
	return 1;
}

struct child {
	pid_t pid;
	int fd;
	struct dk_job *job;
	double start;
	char *buf; /* what the child sent so far */
	size_t len, parsed;
	int log_fd; /* --verbose: the build log, read as it grows */
};

/* In the build child: phases go up the pipe as "P <n>" lines. */
static void child_progress(void *userdata, const struct dk_event *ev)
{
	dprintf(*(int *)userdata, "P %d\n", (int)ev->phase);
}

enum { BUILT, BUILT_STORED, FROM_CACHE };

/* The cache first (unless --force), then kbuild; a build's result goes
 * into the cache. The child's last record: "R <code> <how>\n<log>\n<message>"
 * up to EOF. */
static void child_main(const struct dk_ctx *ctx, struct dk_cache *cache, struct dk_job *j,
		       unsigned flags, int fd)
{
	struct kbuild_result res = { 0 };
	struct dk_ctx c = *ctx;
	c.progress = child_progress;
	c.progress_userdata = &fd;
	char key[SHA256_HEX_SIZE];
	_cleanup_free_ char *inputs = NULL;
	int how = BUILT;
	bool keyed = cache && cache_key(cache, j->pkg, j->kver, j->arch, key, &inputs) >= 0;
	if (keyed && !(flags & OPS_REBUILD) &&
	    cache_fetch(cache, key, inputs, j->pkg, j->kver, j->arch) == 0) {
		how = FROM_CACHE;
		res.log_path = ctx_dkms_path(ctx, j->m, j->v, j->kver, j->arch, "log", "make.log");
	} else {
		kbuild_run(&c, j->pkg, j->kver, j->arch, &res);
		if (keyed && res.code == 0 && cache_writable(cache) &&
		    cache_store(cache, key, inputs, j->pkg, j->kver, j->arch) == 0)
			how = BUILT_STORED;
	}
	dprintf(fd, "R %d %d\n%s\n%s", res.code, how, strempty(res.log_path),
		strempty(res.message));
	_exit(0);
}

static int start_child(const struct dk_ctx *ctx, struct dk_cache *cache, unsigned flags,
		       struct dk_job *j, struct child *c)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	ops_job_emit(ctx, j, DK_PHASE_QUEUED);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(p[0]);
		/* A build dies with the command that started it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		child_main(ctx, cache, j, flags, p[1]);
	}
	close(p[1]);
	*c = (struct child){ .pid = pid, .fd = p[0], .job = j, .start = ops_now(), .log_fd = -1 };
	j->state = J_RUNNING;
	return 0;
}

/* Emits the phase lines the child sent since the last call. */
static void child_parse(const struct dk_ctx *ctx, struct child *c)
{
	for (;;) {
		char *line = c->buf + c->parsed;
		char *nl = memchr(line, '\n', c->len - c->parsed);
		if (!nl || line[0] != 'P')
			return;
		c->parsed += nl - line + 1;
		c->job->seconds = ops_now() - c->start;
		ops_job_emit(ctx, c->job, (enum dk_phase)atoi(line + 2));
	}
}

/* --verbose: passes on what the build wrote to its log since last time. */
static void child_stream(const struct dk_ctx *ctx, struct child *c)
{
	if (!ctx->verbose || !ctx->progress)
		return;
	if (c->log_fd < 0) {
		_cleanup_free_ char *p =
			kbuild_log_path(ctx, c->job->m, c->job->v, c->job->kver, c->job->arch);
		c->log_fd = open(p, O_RDONLY | O_CLOEXEC);
		if (c->log_fd < 0)
			return;
	}
	char buf[4096];
	ssize_t k;
	while ((k = read(c->log_fd, buf, sizeof(buf) - 1)) > 0) {
		buf[k] = 0;
		struct dk_event ev = { .phase = DK_PHASE_OUTPUT,
				       .m = c->job->m,
				       .v = c->job->v,
				       .kver = c->job->kver,
				       .arch = c->job->arch,
				       .text = buf };
		ctx->progress(ctx->progress_userdata, &ev);
	}
}

/* Reads what is there; returns false at EOF. */
static bool child_read(const struct dk_ctx *ctx, struct child *c)
{
	char tmp[4096];
	ssize_t k = read(c->fd, tmp, sizeof(tmp));
	if (k < 0 && errno == EINTR)
		return true;
	if (k <= 0)
		return false;
	c->buf = xrealloc(c->buf, c->len + k + 1);
	memcpy(c->buf + c->len, tmp, k);
	c->len += k;
	c->buf[c->len] = 0;
	child_parse(ctx, c);
	return true;
}

/* The child closed its pipe: collect its result. Returns whether it stored
 * a new cache entry. */
static bool reap_child(const struct dk_ctx *ctx, struct child *c)
{
	while (child_read(ctx, c))
		;
	child_stream(ctx, c);
	close(c->fd);
	if (c->log_fd >= 0)
		close(c->log_fd);
	int status;
	waitpid(c->pid, &status, 0);
	struct dk_job *j = c->job;
	j->seconds = ops_now() - c->start;
	_cleanup_free_ char *buf = c->buf;
	char *rec = buf ? buf + c->parsed : NULL;
	char *nl1 = rec && rec[0] == 'R' ? strchr(rec, '\n') : NULL;
	char *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (!nl1 || !nl2 || !WIFEXITED(status)) {
		ops_job_finish(j, DK_EXIT_BUILD_FAILED, xstrdup("The build process died"));
		return false;
	}
	*nl1 = *nl2 = 0;
	free(j->log_path);
	j->log_path = *(nl1 + 1) ? xstrdup(nl1 + 1) : NULL;
	int code = 0, how = BUILT;
	sscanf(rec + 2, "%d %d", &code, &how);
	ops_job_finish(j, code, *(nl2 + 1) ? xstrdup(nl2 + 1) : NULL);
	j->built = j->code == 0;
	j->cached = j->built && how == FROM_CACHE;
	if (j->code == 0)
		ops_job_emit(ctx, j, j->cached ? DK_PHASE_CACHED : DK_PHASE_BUILT);
	return j->built && how == BUILT_STORED;
}

/* Waits for output of any child (at most a second, so that the command
 * layer can redraw and keep its heartbeat), or the end of a depmod the
 * installer started; reaps those that finished. Returns how many builds
 * finished. */
static size_t wait_children(const struct dk_ctx *ctx, struct child *kids, size_t max,
			    struct installer *in, bool *stored)
{
	size_t ndep = in ? installer_running(in) : 0;
	struct pollfd pfd[max + ndep + 1];
	size_t idx[max + 1], n = 0, done = 0;
	for (size_t s = 0; s < max; s++)
		if (kids[s].job) {
			pfd[n] = (struct pollfd){ .fd = kids[s].fd, .events = POLLIN };
			idx[n++] = s;
		}
	size_t nd = in ? installer_pollfds(in, pfd + n) : 0;
	int r = poll(pfd, n + nd, ctx->progress || nd || (in && installer_waiting(in)) ? 1000 : -1);
	if (r > 0 && nd)
		installer_reap(in, pfd + n, nd);
	if (nd)
		installer_expire(in);
	for (size_t i = 0; i < n; i++)
		child_stream(ctx, &kids[idx[i]]);
	if (r == 0) {
		struct dk_event ev = {
			.phase = DK_PHASE_TICK, .m = "", .v = "", .kver = "", .arch = ""
		};
		ctx_emit(ctx, &ev);
		return 0;
	}
	for (size_t i = 0; r > 0 && i < n; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		struct child *c = &kids[idx[i]];
		if (child_read(ctx, c))
			continue;
		*stored |= reap_child(ctx, c);
		*c = (struct child){ 0 };
		done++;
	}
	return done;
}

/* Builds (and, with an installer, installs as jobs finish). Returns whether
 * a new entry went into the cache. */
static bool build_all(const struct dk_ctx *ctx, struct dk_cache *cache, unsigned flags,
		      struct dk_job *jobs, size_t n, struct installer *in)
{
	bool stored = false;
	/* At least two builds at a time: on a one-CPU machine one build that
	 * never ends (waiting for something that never comes) must not hold
	 * back every other module until its time limit (build_timeout=). */
	size_t max = ctx->jobs > 2 ? (size_t)ctx->jobs : 2;
	_cleanup_free_ struct child *kids = xcalloc(max, sizeof(*kids));
	size_t running = 0;
	for (;;) {
		bool started = false;
		for (size_t i = 0; i < n && running < max; i++) {
			struct dk_job *j = &jobs[i];
			if (j->state != J_PENDING)
				continue;
			const char *dep = NULL;
			int ready = job_ready(jobs, n, j, &dep);
			if (ready < 0) {
				_cleanup_free_ char *what = xasprintf(
					"missing BUILD_DEPENDS: %s (it did not build or install)",
					dep);
				fail_depends(ctx, j, what);
				if (j->state != J_DONE)
					started = true; /* look again: it may start now */
				continue;
			}
			if (!ready)
				continue;
			for (size_t s = 0; s < max; s++)
				if (!kids[s].job &&
				    start_child(ctx, cache, flags, j, &kids[s]) == 0) {
					running++;
					started = true;
					break;
				}
		}
		/* What is built gets installed while the rest builds. */
		if (in)
			installer_advance(in);
		if (running == 0 && (!in || installer_running(in) == 0)) {
			if (started)
				continue;
			break;
		}
		running -= wait_children(ctx, kids, max, in, &stored);
	}
	for (size_t i = 0; i < n; i++)
		if (jobs[i].state == J_PENDING)
			ops_job_finish(
				&jobs[i], DK_EXIT_MISSING_DEPENDS,
				xasprintf("%s/%s: missing BUILD_DEPENDS", jobs[i].m, jobs[i].v));
	if (in)
		installer_finish(in);
	return stored;
}

/* The newest added version of module m, or NULL. */
static char *newest_version(const struct dk_tree *t, const char *m)
{
	_cleanup_strv_free_ char **vs = NULL;
	tree_list_versions(t, m, &vs);
	strv_sort(vs, version_cmp);
	char *newest = NULL;
	for (size_t i = 0; vs && vs[i]; i++)
		if (tree_is_added(t, m, vs[i])) {
			free(newest);
			newest = xstrdup(vs[i]);
		}
	return newest;
}

static char *dep_record_path(const struct dk_ctx *ctx, const char *m, const char *v,
			     const char *kver, const char *arch, const char *dep)
{
	_cleanup_free_ char *name = xasprintf(".dep_%s", dep);
	return ctx_dkms_path(ctx, m, v, kver, arch, name);
}

/* dkms 3.2+: after a build with BUILD_DEPENDS_REBUILD, <kver>/<arch>/.dep_<dep>
 * records the version of each dependency it was built against. */
static void record_depends(const struct dk_ctx *ctx, const struct dk_job *j)
{
	if (!j->built || !j->pkg->build_depends_rebuild || ctx->force)
		return;
	struct dk_tree t;
	module_tree(ctx, &t);
	for (size_t d = 0; j->pkg->build_depends && j->pkg->build_depends[d]; d++) {
		const char *dep = j->pkg->build_depends[d];
		_cleanup_free_ char *v = newest_version(&t, dep);
		_cleanup_free_ char *p = dep_record_path(ctx, j->m, j->v, j->kver, j->arch, dep);
		_cleanup_free_ char *line = v ? xasprintf("%s\n", v) : NULL;
		if (line && write_file_atomic(p, line, strlen(line), 0644) < 0)
			log_warning_errno(-errno, "Cannot write %s: %m", p);
	}
	free(t.dir);
}

/* Did a BUILD_DEPENDS module of pkg change version since m/v was built for
 * kver/arch (a missing record counts as a change)? */
static bool depends_changed(const struct dk_ctx *ctx, const struct dk_tree *t,
			    const struct dk_pkg *pkg, const char *kver, const char *arch)
{
	for (size_t d = 0; pkg->build_depends && pkg->build_depends[d]; d++) {
		const char *dep = pkg->build_depends[d];
		_cleanup_free_ char *cur = newest_version(t, dep);
		if (!cur)
			continue;
		_cleanup_free_ char *p =
			dep_record_path(ctx, pkg->name, pkg->version, kver, arch, dep);
		_cleanup_free_ char *old = NULL;
		if (read_full_file(p, &old, NULL, 4096) < 0)
			return true;
		old[strcspn(old, "\n")] = 0;
		if (!streq(old, cur))
			return true;
	}
	return false;
}

/* After installs for kver/arch: rebuild and reinstall, dependencies first,
 * every module built for it whose BUILD_DEPENDS_REBUILD dependencies
 * changed version. Returns the number of failures. */
static int rebuild_dependents(const struct dk_ctx *ctx, char **kernels)
{
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	tree_list_modules(&t, &mods);
	struct dk_job *jobs = NULL;
	size_t n = 0;
	for (size_t k = 0; kernels && kernels[k]; k++) {
		_cleanup_free_ char *kver = NULL, *arch = NULL;
		module_split_kernel(ctx, kernels[k], &kver, &arch);
		for (size_t i = 0; mods && mods[i]; i++) {
			_cleanup_strv_free_ char **vs = NULL;
			tree_list_versions(&t, mods[i], &vs);
			for (size_t j = 0; vs && vs[j]; j++) {
				_cleanup_free_ char *base =
					tree_path(&t, mods[i], vs[j], kver, arch);
				_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
				_cleanup_free_ char *err = NULL;
				if (!path_is_dir(base) ||
				    module_load(ctx, mods[i], vs[j], NULL, kver, arch, &pkg, &err) <
					    0 ||
				    !pkg->build_depends_rebuild || !pkg->build_depends ||
				    !depends_changed(ctx, &t, pkg, kver, arch))
					continue;
				log_info("Rebuilding module %s/%s for %s (%s) due to updated "
					 "dependencies",
					 mods[i], vs[j], kver, arch);
				ops_job_add(&jobs, &n, mods[i], vs[j], kver, arch);
			}
		}
	}
	free(t.dir);
	int failed = n ? ops_run(ctx, jobs, n, OPS_INSTALL | OPS_REBUILD | OPS_NO_DEPCHECK) : 0;
	ops_jobs_free(jobs, n);
	return failed;
}

int ops_run(const struct dk_ctx *ctx, struct dk_job *jobs, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++)
		job_prepare(ctx, &jobs[i], flags);
	check_depends(ctx, jobs, n, flags);
	prepare_signing(ctx, jobs, n);
	/* Each kernel's share of the cache key once, before builds fork; and
	 * libcrypto (signing, checking signatures) loaded once for them all. */
	_cleanup_(cache_freep) struct dk_cache *cache = NULL;
	bool building = false;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].state != J_PENDING)
			continue;
		building = true;
		if (cache || cache_open(ctx, &cache) >= 0)
			cache_prepare_kernel(cache, jobs[i].kver, jobs[i].arch);
	}
	if (building)
		modsig_preload();
	struct installer in;
	if (flags & OPS_INSTALL)
		installer_init(&in, ctx, jobs, n);
	if (build_all(ctx, cache, flags, jobs, n, (flags & OPS_INSTALL) ? &in : NULL))
		cache_prune(cache, ctx->cache_max_size, NULL);
	if (flags & OPS_INSTALL)
		installer_done(&in);
	for (size_t i = 0; i < n; i++)
		record_depends(ctx, &jobs[i]);
	int failed = 0;
	if ((flags & OPS_INSTALL) && !(flags & OPS_NO_DEPCHECK) && !ctx->force) {
		_cleanup_strv_free_ char **kernels = NULL;
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *ka = xasprintf("%s/%s", jobs[i].kver, jobs[i].arch);
			if (jobs[i].installed && !strv_contains(kernels, ka))
				strv_push(&kernels, ka);
		}
		failed += rebuild_dependents(ctx, kernels);
	}
	for (size_t i = 0; i < n; i++) {
		struct dk_job *j = &jobs[i];
		if (j->code == 0)
			continue;
		if (j->code == DK_EXIT_EXCLUDED) {
			ops_job_emit(ctx, j, DK_PHASE_SKIPPED);
			continue;
		}
		failed++;
		ops_job_emit(ctx, j, DK_PHASE_FAILED);
	}
	return failed;
}

bool ops_is_built(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		  const char *arch)
{
	_cleanup_free_ char *dir =
		ctx_dkms_path(ctx, pkg->name, pkg->version, kver, arch, "module");
	if (!path_is_dir(dir))
		return false;
	for (size_t i = 0; i < pkg->n_modules; i++) {
		_cleanup_free_ char *f = tree_find_module_file(dir, pkg->modules[i].dest_name);
		if (!f)
			return false;
	}
	return true;
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
	_cleanup_free_ char *dir = ctx_tree_path(ctx, ctx->install_tree, NULL);
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
