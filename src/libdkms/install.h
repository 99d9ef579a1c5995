/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Installing a built module/version into a kernel's module directory and
 * taking it out again, as dkms 3.x places it; every step atomic, the
 * "installed" link written last and removed first. */
#pragma once

#include <sys/types.h>

#include "ctx.h"
#include "pkg.h"

/* dkms's "running distribution": ID for Ubuntu, else the first of ID_LIKE,
 * else ID, from the root's os-release (else the host's); NULL if none. */
char *install_distribution(const struct dk_ctx *ctx);
/* Where DEST_MODULE_LOCATION lands on this distribution ("/updates/dkms" on
 * Debian, Ubuntu and Arch), for module i of pkg. With pkg NULL: the
 * distribution's location, or "/updates/dkms" where dkms.conf decides. */
char *install_dest_location(const struct dk_ctx *ctx, const struct dk_pkg *pkg, size_t i);

/* Copies the built m/v/kver/arch into the kernel's module directory
 * (atomically, file by file). Returns 0; -EEXIST when a newer module of the
 * same name is in the kernel (message in *ret_error; --force overrides);
 * other -errno. Does not run depmod, does not mark it installed. The
 * installed files (host paths) in *ret_files when it is not NULL. */
int install_files(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		  const char *arch, char ***ret_files, char **ret_error);
/* Marks it installed: the kernel-<kver>-<arch> link, written last. */
int install_publish(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		    const char *arch, char **ret_error);
/* Removes installed files identical to the built ones of m/v/kver/arch,
 * left by an interrupted install or uninstall (no link), and puts back kept
 * originals when no version of m is installed for kver/arch. Returns how
 * many files it removed or put back. */
int install_remove_strays(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			  const char *arch);
/* Removes what install_files placed, then the link, then puts back the
 * modules kept in <dkms_tree>/<m>/original_module/<kver>/<arch>/ (where
 * their .origin says, else in DEST_MODULE_LOCATION as dkms 3.0.10 does) and
 * removes that directory. A file that cannot be removed is an error (-errno,
 * *ret_error naming it; ret_error may be NULL): the link stays, nothing is
 * put back, never a loop. Does not run depmod. */
int install_remove(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		   const char *arch, char **ret_error);
/* Runs depmod for kver under ctx's root. */
int install_depmod(const struct dk_ctx *ctx, const char *kver);
/* The same in two steps, so that builds go on while depmod runs: starts it
 * (*ret_pid 0 when kver has no module directory), then waits for it. */
int install_depmod_start(const struct dk_ctx *ctx, const char *kver, pid_t *ret_pid);
int install_depmod_finish(pid_t pid);
/* framework.conf's modprobe_on_install (or --modprobe-on-install): when kver
 * is the running kernel and there is no --root, load every module that a
 * device of this machine asks for (its modalias), as dkms does, then restart
 * systemd-modules-load. Returns 0 or the failing step's -errno/status. */
int install_modprobe(const struct dk_ctx *ctx, const char *kver);
