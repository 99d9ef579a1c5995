/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Registering a module/version with the dkms tree and taking it out again:
 * the source copied into the source tree (dkms add DIR), the source link,
 * POST_ADD/POST_REMOVE, the broken state (source gone), the default kernel
 * choice. Return dkms exit codes (0 ok) with a message in *ret_error. */
#pragma once

#include "ctx.h"
#include "pkg.h"

/* Reads DIR/dkms.conf and copies DIR to <source_tree>/<name>-<version>
 * unless it is that directory already (force: replace a copy there).
 * Sets *ret_m, *ret_v. Returns 0, 4 no dkms.conf, 8 bad dkms.conf, 1 copy
 * failed. */
int register_copy_source(const struct dk_ctx *ctx, const char *dir, bool force, char **ret_m,
			 char **ret_v, char **ret_error);
/* Adds m/v (its source in the source tree): 0, 3 already added, 2 no source
 * directory, 4 no dkms.conf, 8 bad dkms.conf, 1 other. *ret_link gets the
 * link made, for the caller to report. Runs POST_ADD and returns its exit
 * status (13 for an untrusted source, as module_load says). */
int register_add(const struct dk_ctx *ctx, const char *m, const char *v, char **ret_link,
		 char **ret_error);
/* m/v has a directory in the tree but its source (link or directory) or
 * the dkms.conf in it is gone: dkms 3.1+ calls that broken. */
bool register_is_broken(const struct dk_ctx *ctx, const char *m, const char *v);
/* Why m/v is broken, naming what is missing (for the user), or NULL. */
char *register_broken_reason(const struct dk_ctx *ctx, const char *m, const char *v);
/* Deletes m/v from the tree (after POST_REMOVE), and m when nothing is left.
 * Returns 0 or -errno (a rename or removal that failed). */
int register_delete(const struct dk_ctx *ctx, const char *m, const char *v);
/* The kernel dkms would pick without -k: the running one when its headers
 * are there; else the newest kernel under the install tree that has them
 * (*ret_note says so); else the running one. "kver/arch". */
char *register_default_kernel(const struct dk_ctx *ctx, char **ret_note);
/* The system's os-release exists (in the root, else on the host). */
bool register_have_os_release(const struct dk_ctx *ctx);
