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
