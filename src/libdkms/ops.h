/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Build and install jobs shared by the dkms verbs, kernel-install mode and
 * the boot agent: parallel builds honouring BUILD_DEPENDS, then installs,
 * then one depmod per kernel. Reports progress through ctx->progress
 * (event.h); prints nothing itself. */
#pragma once

#include "ctx.h"
#include "pkg.h"

struct dk_job {
	char *m, *v, *kver, *arch;
	struct dk_pkg *pkg;
	int code; /* dkms exit code of this job: 0 ok, 77 excluded, … */
	char *message;
	char *log_path;
	bool built;	   /* built by this run */
	bool installed;	   /* installed by this run */
	bool cached;	   /* built state restored from the build cache, nothing compiled */
	bool deps_ignored; /* --force: built despite missing BUILD_DEPENDS */
	int state;	   /* internal */
	double seconds;
};

enum {
	OPS_INSTALL = 1 << 0, /* install after building */
	OPS_REBUILD = 1 << 1, /* rebuild even if built (--force) */
	OPS_QUIET_SKIP = 1 << 2,
	OPS_NO_DEPCHECK = 1 << 3, /* internal: no BUILD_DEPENDS_REBUILD pass after installs */
};

void ops_job_add(struct dk_job **jobs, size_t *n, const char *m, const char *v, const char *kver,
		 const char *arch);
void ops_jobs_free(struct dk_job *jobs, size_t n);

/* Runs the jobs. Returns the number of failed jobs (77 does not count).
 * BUILD_DEPENDS as dkms 3.2+: each must be installed for the job's kernel
 * (or be installed by this run, which builds it first), else the job fails
 * with 13, as does a circular dependency; --force builds anyway. After
 * installs, modules with BUILD_DEPENDS_REBUILD whose dependency changed
 * version since they were built (the .dep_<name> records) are rebuilt. */
int ops_run(const struct dk_ctx *ctx, struct dk_job *jobs, size_t n, unsigned flags);

/* m/v is built for kver/arch: its module directory holds every module
 * dkms.conf names (dkms's "built"; a partial result is not). */
bool ops_is_built(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		  const char *arch);
/* Kernels named by -k, or the running kernel. strv of "kver/arch". */
char **ops_kernels(const struct dk_ctx *ctx);
/* Kernels with a module directory under root that have headers or modules. */
char **ops_installed_kernels(const struct dk_ctx *ctx);
