/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside the job engine: what ops.c (the builds) and ops-install.c (the
 * installs that overlap them) share. Not for use outside libdkms/ops*. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "event.h"
#include "ops.h"

enum { J_PENDING, J_RUNNING, J_DONE }; /* dk_job.state */

double ops_now(void);
/* Reports a phase of job j (ctx->progress, or a log line). */
void ops_job_emit(const struct dk_ctx *ctx, const struct dk_job *j, enum dk_phase phase);
void ops_kernel_emit(const struct dk_ctx *ctx, const char *kver, enum dk_phase phase);
/* The job is done with dkms's exit code and a message (taken). */
void ops_job_finish(struct dk_job *j, int code, char *message);

/* Installs overlap the builds: a job's files as soon as it is built; a
 * kernel's depmod, in the background, once every job for it is done, or
 * once files have waited DEPMOD_WAIT_SEC for a build that does not end
 * (then another depmod for what comes later); the "installed" links of
 * the jobs a depmod has seen when it has finished. For each kernel: files
 * first, then depmod, then the links, so that a crash at any point leaves
 * modules that the next run installs again (no link), never a link without
 * its files or without depmod having seen them. */
enum { I_NONE, I_FILES, I_DEPMOD, I_PUBLISHED, I_SKIPPED };
enum { K_WAIT, K_DEPMOD, K_DONE };
#define DEPMOD_WAIT_SEC 30

struct installer {
	const struct dk_ctx *ctx;
	struct dk_job *jobs;
	size_t n;
	unsigned char *istate; /* per job: I_* */
	char **kernels;	       /* kvers of the jobs, in job order */
	unsigned char *kstate; /* per kernel: K_* */
	pid_t *depmod;	       /* per kernel: the running depmod */
	int *pidfd;	       /* per kernel: its pidfd, polled with the builds' pipes */
	double *deadline;      /* per kernel: when its depmod is killed */
	double *files_since;   /* per kernel: since when files wait for a depmod (0: none) */
};

void installer_init(struct installer *in, const struct dk_ctx *ctx, struct dk_job *jobs, size_t n);
void installer_done(struct installer *in);
/* Installs what is built, starts the depmods that are due. */
void installer_advance(struct installer *in);
/* Whether files wait for a depmod (the caller wakes up to start it). */
bool installer_waiting(const struct installer *in);
/* How many depmods run. */
size_t installer_running(const struct installer *in);
/* The running depmods' pidfds (readable when they end); returns how many. */
size_t installer_pollfds(const struct installer *in, struct pollfd *pfd);
/* Reaps the depmods whose pidfd poll() found readable. */
void installer_reap(struct installer *in, const struct pollfd *pfd, size_t n);
/* Kills a depmod past its time limit. */
void installer_expire(struct installer *in);
/* After the last build: what remains to install, and every depmod. */
void installer_finish(struct installer *in);
