/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dkms verbs. Each reads what main.c put in ctx (options and the
 * positional arguments read as dkms reads them) and returns a dkms 3.x exit
 * code. */
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
/* cmd-tarball.c */
int cmd_mktarball(struct dk_ctx *ctx, int argc, char **argv);
int cmd_ldtarball(struct dk_ctx *ctx, int argc, char **argv);
/* cmd-kernel.c: match, generate_mok, the kernel hook verbs (dkms 3.1+) */
int cmd_match(struct dk_ctx *ctx, int argc, char **argv);
int cmd_generate_mok(struct dk_ctx *ctx, int argc, char **argv);
int cmd_kernel_preinst(struct dk_ctx *ctx, int argc, char **argv);
int cmd_kernel_postinst(struct dk_ctx *ctx, int argc, char **argv);
int cmd_kernel_prerm(struct dk_ctx *ctx, int argc, char **argv);

/* Shared by the dkms verbs (dkms's own helper checks, same exit codes). */
int dkms_take_source_arg(struct dk_ctx *ctx);
int dkms_need_module_version(struct dk_ctx *ctx, const char *verb);
int dkms_not_broken(struct dk_ctx *ctx);
char **dkms_target_kernels(struct dk_ctx *ctx);
int dkms_autoinstall(struct dk_ctx *ctx, char **kernels);
