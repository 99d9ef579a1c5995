/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Building one module/version for one kernel/arch, the way dkms 3.x does,
 * in a private build directory; the result appears in the tree only when
 * complete (staged, then renamed). */
#pragma once

#include "ctx.h"
#include "exitcode.h"
#include "pkg.h"

struct kbuild_result {
	int code;	/* 0 or a dkms exit code */
	char *message;	/* what went wrong, for the user */
	char *log_path; /* host path of make.log (kept on failure) */
};

/* Builds pkg (loaded for kver/arch) into <dkms_tree>/m/v/kver/arch. Returns 0
 * on success, else -errno with res filled. The MOK key must exist already
 * when signing (sign_ensure_key). */
int kbuild_run(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
	       const char *arch, struct kbuild_result *res);
void kbuild_result_done(struct kbuild_result *res);

/* Host path of the log a build writes while it runs. */
char *kbuild_log_path(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
		      const char *arch);
/* Host path where a failed build's log is kept, and its stamp. */
char *kbuild_failed_log(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
			const char *arch);
/* A failure log exists for pkg on kver/arch and neither dkms.conf nor the
 * kernel headers changed since: retrying would fail the same way. */
bool kbuild_failure_is_current(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			       const char *arch);
/* Headers present for kver? Sets *ret_hint to the Debian package otherwise. */
bool kbuild_have_headers(const struct dk_ctx *ctx, const char *kver, char **ret_hint);
/* Removes the built state m/v/kver/arch (and the failure record). */
int kbuild_unbuild(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
		   const char *arch);
