// SPDX-License-Identifier: GPL-2.0-or-later
/* The job engine's installs: a job's files as soon as it is built, depmod
 * per kernel in the background, the "installed" links after it. */
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "install.h"
#include "log.h"
#include "module.h"
#include "ops-internal.h"
#include "script.h"
#include "spawn.h"
#include "util.h"

/* dkms's OBSOLETE_BY test at install time: kver is the obsoleting kernel's
 * release (or a later ABI of it), or a later release. */
static bool obsoleted(const char *kver, const char *obs)
{
	_cleanup_strv_free_ char **o = strv_split(obs, "-");
	_cleanup_strv_free_ char **k = strv_split(kver, "-");
	if (!o[0] || !k[0])
		return false;
	int c = version_cmp(k[0], o[0]);
	if (c == 0)
		return !o[1] || (k[1] && version_cmp(k[1], o[1]) >= 0);
	return c > 0;
}

/* PRE_INSTALL and OBSOLETE_BY, before any file is copied: either refuses
 * the install (the job's code set) or lets it go on. */
static bool install_allowed(const struct dk_ctx *ctx, struct dk_job *j)
{
	if (j->pkg->obsolete_by && !ctx->force && obsoleted(j->kver, j->pkg->obsolete_by)) {
		ops_job_finish(
			j, DK_EXIT_INSTALL_ABORTED,
			xasprintf("Module has been obsoleted due to being included in kernel "
				  "%s. We will avoid installing for future kernels above %s. "
				  "You may override by specifying --force. Installation aborted.",
				  j->pkg->obsolete_by, j->pkg->obsolete_by));
		return false;
	}
	int r = script_run_source(ctx, j->pkg, "pre_install", j->pkg->pre_install, j->kver, -1);
	if (r != 0 && !ctx->force) {
		ops_job_finish(
			j, DK_EXIT_PRE_INSTALL_FAILED,
			xasprintf("pre_install failed, aborting install (exit status %d). You "
				  "may override by specifying --force.",
				  r));
		return false;
	}
	return true;
}

void installer_init(struct installer *in, const struct dk_ctx *ctx, struct dk_job *jobs, size_t n)
{
	*in = (struct installer){ .ctx = ctx, .jobs = jobs, .n = n };
	in->istate = xcalloc(n + 1, 1);
	for (size_t i = 0; i < n; i++)
		if (!strv_contains(in->kernels, jobs[i].kver))
			strv_push(&in->kernels, jobs[i].kver);
	size_t nk = strv_length(in->kernels);
	in->kstate = xcalloc(nk + 1, 1);
	in->depmod = xcalloc(nk + 1, sizeof(pid_t));
	in->pidfd = xcalloc(nk + 1, sizeof(int));
	in->deadline = xcalloc(nk + 1, sizeof(double));
	in->files_since = xcalloc(nk + 1, sizeof(double));
	for (size_t k = 0; k < nk; k++)
		in->pidfd[k] = -1;
}

void installer_done(struct installer *in)
{
	free(in->istate);
	strv_free(in->kernels);
	free(in->kstate);
	free(in->depmod);
	free(in->pidfd);
	free(in->deadline);
	free(in->files_since);
}

static size_t kernel_index(const struct installer *in, const char *kver)
{
	size_t k = 0;
	while (in->kernels[k] && !streq(in->kernels[k], kver))
		k++;
	return k;
}

static void install_job_files(struct installer *in, size_t i)
{
	struct dk_job *j = &in->jobs[i];
	in->istate[i] = I_SKIPPED;
	if (!install_allowed(in->ctx, j))
		return;
	char *err = NULL;
	ops_job_emit(in->ctx, j, DK_PHASE_INSTALL);
	_cleanup_strv_free_ char **files = NULL;
	int r = install_files(in->ctx, j->pkg, j->kver, j->arch, &files, &err);
	if (r < 0) {
		ops_job_finish(j, r == -EEXIST ? DK_EXIT_INSTALL_ABORTED : DK_EXIT_BUILD_FAILED,
			       err);
		return;
	}
	in->istate[i] = I_FILES;
	size_t k = kernel_index(in, j->kver);
	if (in->files_since[k] == 0)
		in->files_since[k] = ops_now();
	if (in->ctx->files_installed && files)
		in->ctx->files_installed(in->ctx->files_installed_userdata, j->kver, files);
	/* dkms runs it once the files are in place, before depmod; its exit
	 * status does not matter. */
	script_run_source(in->ctx, j->pkg, "post_install", j->pkg->post_install, j->kver, -1);
}

/* The jobs of kernel k whose files are in place are those the next depmod
 * sees. */
static void depmod_round(struct installer *in, size_t k)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->istate[i] == I_FILES && streq(in->jobs[i].kver, in->kernels[k]))
			in->istate[i] = I_DEPMOD;
	in->files_since[k] = 0;
}

/* Publishes what kernel k's depmod has seen; the kernel waits again for
 * what is still building. */
static void publish_kernel(struct installer *in, size_t k)
{
	in->kstate[k] = K_WAIT;
	for (size_t i = 0; i < in->n; i++) {
		struct dk_job *j = &in->jobs[i];
		if (in->istate[i] != I_DEPMOD || !streq(j->kver, in->kernels[k]))
			continue;
		in->istate[i] = I_PUBLISHED;
		if (j->code != 0)
			continue;
		char *err = NULL;
		int r = install_publish(in->ctx, j->pkg, j->kver, j->arch, &err);
		if (r < 0) {
			ops_job_finish(j, DK_EXIT_BUILD_FAILED, err);
			continue;
		}
		j->installed = true;
		ops_job_emit(in->ctx, j, DK_PHASE_INSTALLED);
	}
	if (in->ctx->modprobe_on_install)
		install_modprobe(in->ctx, in->kernels[k]);
}

/* Waits for kernel k's depmod, then publishes its jobs. */
static void depmod_done(struct installer *in, size_t k)
{
	if (install_depmod_finish(in->depmod[k]) != 0)
		log_warning("depmod failed for %s", in->kernels[k]);
	if (in->pidfd[k] >= 0)
		close(in->pidfd[k]);
	in->pidfd[k] = -1;
	publish_kernel(in, k);
}

/* Every job for kernel k is done, and installed where it succeeded;
 * *ret_any: files of some of them wait for a depmod. */
static bool kernel_settled(const struct installer *in, size_t k, bool *ret_any)
{
	bool settled = true;
	*ret_any = false;
	for (size_t i = 0; i < in->n; i++) {
		const struct dk_job *j = &in->jobs[i];
		if (!streq(j->kver, in->kernels[k]))
			continue;
		*ret_any |= in->istate[i] == I_FILES;
		if (j->state != J_DONE || (j->code == 0 && j->pkg && in->istate[i] == I_NONE))
			settled = false;
	}
	return settled;
}

void installer_advance(struct installer *in)
{
	for (size_t i = 0; i < in->n; i++) {
		struct dk_job *j = &in->jobs[i];
		if (j->state == J_DONE && j->code == 0 && j->pkg && in->istate[i] == I_NONE)
			install_job_files(in, i);
	}
	for (size_t k = 0; in->kernels && in->kernels[k]; k++) {
		bool any;
		if (in->kstate[k] != K_WAIT)
			continue;
		bool settled = kernel_settled(in, k, &any);
		if (settled && !any) {
			in->kstate[k] = K_DONE;
			continue;
		}
		if (!any || (!settled && ops_now() - in->files_since[k] < DEPMOD_WAIT_SEC))
			continue;
		depmod_round(in, k);
		if (in->ctx->no_depmod) {
			publish_kernel(in, k);
			continue;
		}
		ops_kernel_emit(in->ctx, in->kernels[k], DK_PHASE_DEPMOD);
		if (install_depmod_start(in->ctx, in->kernels[k], &in->depmod[k]) < 0) {
			log_warning("depmod failed for %s", in->kernels[k]);
			publish_kernel(in, k);
			continue;
		}
		in->kstate[k] = K_DEPMOD;
		in->deadline[k] = ops_now() + spawn_default_timeout();
		/* Without pidfds (before Linux 5.3), depmod is waited for here. */
		if (in->depmod[k] > 0)
			in->pidfd[k] = (int)syscall(__NR_pidfd_open, in->depmod[k], 0);
		if (in->pidfd[k] < 0)
			depmod_done(in, k);
	}
}

/* Whether files wait for a depmod (the caller wakes up to start it). */
bool installer_waiting(const struct installer *in)
{
	for (size_t k = 0; in->kernels && in->kernels[k]; k++)
		if (in->files_since[k] > 0)
			return true;
	return false;
}

size_t installer_running(const struct installer *in)
{
	size_t r = 0;
	for (size_t k = 0; in->kernels && in->kernels[k]; k++)
		r += in->kstate[k] == K_DEPMOD;
	return r;
}

/* The running depmods' pidfds (readable when they end); returns how many. */
size_t installer_pollfds(const struct installer *in, struct pollfd *pfd)
{
	size_t n = 0;
	for (size_t k = 0; in->kernels && in->kernels[k]; k++)
		if (in->kstate[k] == K_DEPMOD)
			pfd[n++] = (struct pollfd){ .fd = in->pidfd[k], .events = POLLIN };
	return n;
}

/* Reaps the depmods whose pidfd poll() found readable. */
void installer_reap(struct installer *in, const struct pollfd *pfd, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (size_t k = 0; in->kernels && in->kernels[k]; k++)
			if (in->kstate[k] == K_DEPMOD && in->pidfd[k] == pfd[i].fd)
				depmod_done(in, k);
	}
}

/* A depmod past its time limit (spawn's default: build_timeout=) is killed:
 * it never holds the run, nor the tree lock, for good. */
void installer_expire(struct installer *in)
{
	double t = ops_now();
	for (size_t k = 0; in->kernels && in->kernels[k]; k++)
		if (in->kstate[k] == K_DEPMOD && t >= in->deadline[k]) {
			log_warning("depmod for %s did not finish in %u s: killed", in->kernels[k],
				    spawn_default_timeout());
			spawn_kill(in->depmod[k]);
			depmod_done(in, k);
		}
}

/* After the last build: what remains to install, and every depmod. */
void installer_finish(struct installer *in)
{
	installer_advance(in);
	size_t nd;
	while ((nd = installer_running(in)) > 0) {
		struct pollfd pfd[nd + 1];
		nd = installer_pollfds(in, pfd);
		if (poll(pfd, nd, 1000) > 0)
			installer_reap(in, pfd, nd);
		installer_expire(in);
		installer_advance(in); /* files that came during a depmod */
	}
}
