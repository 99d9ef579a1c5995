/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How the dkms verbs show the job engine's events (event.h) to a person:
 * on a terminal, a live area with every running build, its phase and its
 * elapsed time; in a pipe or the journal, one line per phase and a
 * heartbeat at most once a minute; --verbose streams the build output; a
 * failure shows the end of its log and the log's path. */
#pragma once

#include "ctx.h"

/* Routes ctx's events to the display (stdout). */
void progress_attach(struct dk_ctx *ctx);
/* Clears the live area (call before printing anything else at the end). */
void progress_done(void);
