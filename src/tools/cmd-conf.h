/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `dkms-agent conf`: prints what dkms makes of a dkms.conf, in the canonical
 * format of dkms-conf-reference. */
#pragma once

#include "ctx.h"

/* argv[0] is the verb. Returns the exit status: 0, 1 when the reference would
 * (the second expansion aborted), 2 when the file cannot be read or usage is
 * wrong. */
int cmd_conf(struct dk_ctx *ctx, int argc, char **argv);
