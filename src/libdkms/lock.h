/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tree-wide writer lock: <dkms_tree>/.lock, flock(2). Readers (status,
 * check, the boot fast path) never take it: every write they could see is
 * an atomic rename. */
#pragma once

#include "ctx.h"

/* Takes the lock, waiting up to timeout_sec (0 = forever). Returns the lock fd
 * (close it to release) or -errno (-EAGAIN on timeout). */
int lock_tree(const struct dk_ctx *ctx, unsigned timeout_sec);
