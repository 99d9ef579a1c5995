/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sandbox a package's commands run in (make, PATCH, CLEAN, PRE_BUILD,
 * POST_BUILD, POST_ADD, PRE_INSTALL, POST_INSTALL, POST_REMOVE, bash reading
 * a dkms.conf): the build user ("dkms-agent", else "nobody"; root only with
 * build_as_root=yes), a clean fixed environment, the system read-only (see
 * basic/sandbox.h), --root visible at its host path, build_timeout= as the
 * time limit. Callers add the directories a command may see or write, at the
 * paths dkms gives them ($dkms_tree/M/V/build, $dkms_tree/M/V/K/A, ...).
 *
 * Where namespaces are unavailable (or build_sandbox=user), commands run as
 * the build user on the host's view: buildenv_path() then gives the host
 * path of a view path, for working directories and the MAKE command. */
#pragma once

#include "ctx.h"
#include "sandbox.h"
#include "spawn.h"

#define BUILDENV_MAX_MOUNTS 12

struct buildenv {
	struct sandbox sb;
	struct sandbox_mount mounts[BUILDENV_MAX_MOUNTS];
	char **own; /* strings the above point to */
	char **env;
	unsigned timeout_sec;
};

/* The host path of the program a build finds as prog in its fixed PATH,
 * or NULL (the build cache asks the compiler it will run for its version). */
char *buildenv_which(const char *prog);

/* Sets up e for ctx. Free with buildenv_done. */
void buildenv_init(struct buildenv *e, const struct dk_ctx *ctx);
void buildenv_done(struct buildenv *e);
/* Shows the host directory host (links resolved here) at view. Returns 0, or
 * -errno when host cannot be resolved, -E2BIG when full. */
int buildenv_mount(struct buildenv *e, const char *host, const char *view, bool writable);
/* The kernel's build directory read-only, as it is on the host: when it is
 * .../build or a link, the directory holding it (lib/modules/K with its
 * build and source links) and where it leads. zfs's configure looks for
 * ${kernel_source_dir/%build/source}; Debian's headers reach kbuild's
 * scripts through a relative link. */
int buildenv_mount_kernel(struct buildenv *e, const char *ksrc);
/* Whether commands will run in namespaces (probed once per process; when
 * not, e is switched to the fallback for good). */
bool buildenv_contained(struct buildenv *e);
/* Where the commands see view: view itself when contained (call
 * buildenv_contained first), else the host path of the mount holding it.
 * New string. */
char *buildenv_path(const struct buildenv *e, const char *view);
/* spawn_opts for a command in e: cwd (a view path), output to out_fd, extra
 * environment entries. */
struct spawn_opts buildenv_opts(const struct buildenv *e, const char *cwd, int out_fd,
				char *const *env);
/* The build user's uid/gid, for handing it a directory; false when commands
 * run as the caller. */
bool buildenv_user(const struct buildenv *e, uid_t *ret_uid, gid_t *ret_gid);
