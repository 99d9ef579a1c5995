/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `dkms-agent cache list|prune|clear`: the build cache (see libdkms/cache.h). */
#pragma once

#include "ctx.h"

/* argv[0] is the verb. Returns the exit status: 0; 1 when the cache cannot
 * be changed (read-only, off) or read; 2 for wrong usage. */
int cmd_cache(struct dk_ctx *ctx, int argc, char **argv);
