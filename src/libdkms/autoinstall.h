/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms autoinstall: the newest added version of every AUTOINSTALL module,
 * built and installed for a set of kernels in one parallel run. Used by the
 * autoinstall verb, kernel-install mode, the hooks and the boot agent. */
#pragma once

#include "ctx.h"

/* Builds and installs every AUTOINSTALL module (newest version) missing for
 * the kernels ("kver/arch" strv), all in one parallel run. Returns the number of
 * failures; *ret_installed counts installs done. The caller holds the lock. */
int autoinstall_kernels(struct dk_ctx *ctx, char **kernels, int *ret_installed);
