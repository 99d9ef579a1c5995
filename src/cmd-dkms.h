/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dkms verbs. Each takes the positional arguments left after option
 * parsing and returns a dkms 3.x exit code. */
#pragma once

#include "ctx.h"

int cmd_add(struct dk_ctx *ctx, int argc, char **argv);
int cmd_build(struct dk_ctx *ctx, int argc, char **argv);
int cmd_unbuild(struct dk_ctx *ctx, int argc, char **argv);
int cmd_install(struct dk_ctx *ctx, int argc, char **argv);
int cmd_uninstall(struct dk_ctx *ctx, int argc, char **argv);
int cmd_remove(struct dk_ctx *ctx, int argc, char **argv);
int cmd_autoinstall(struct dk_ctx *ctx, int argc, char **argv);
int cmd_status(struct dk_ctx *ctx, int argc, char **argv);

/* Builds and installs every AUTOINSTALL module (newest version) missing for
 * the kernels ("kver/arch" strv), all in one parallel run; used by
 * autoinstall, kernel-install mode and the agent. Returns the number of
 * failures; *ret_installed counts installs done. The caller holds the lock. */
int autoinstall_kernels(struct dk_ctx *ctx, char **kernels, int *ret_installed);
