/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `dkms-agent initramfs`: a diagnostic verb over src/initramfs.h, used by the
 * tests and for looking into images by hand. */
#pragma once

#include "ctx.h"

/* argv[0] is the verb ("initramfs"). Subcommands:
 *   list IMAGE                     segments, then the merged file map
 *   has IMAGE PATH [HOSTFILE]      exit 0 if PATH is there (and identical)
 *   append IMAGE SRC:DEST...       append a zstd segment, atomically
 *   find KVER                      images for KVER under --root
 *   detect                         the generator installed under --root
 *   regenerate KVER [--tool NAME]  rebuild one kernel's image
 * Returns the exit status: 0, 1 on failure (or "has" saying no), 2 on usage. */
int cmd_initramfs(struct dk_ctx *ctx, int argc, char **argv);
