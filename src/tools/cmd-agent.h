/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The agent's verbs: check (diagnosis), boot (early-boot repair),
 * kernel-install mode, early-modules (for initramfs hooks). */
#pragma once

#include "ctx.h"

int cmd_check(struct dk_ctx *ctx, int argc, char **argv);
int cmd_boot(struct dk_ctx *ctx, int argc, char **argv);
int cmd_kernel_install(struct dk_ctx *ctx, int argc, char **argv);
int cmd_early_modules(struct dk_ctx *ctx, int argc, char **argv);
