/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the job engine reports while it works: one event per phase of each
 * module/version/kernel job, build output when asked for, and the end of
 * each job. The command layer decides how to show them (terminal, journal,
 * pipe); the engine only emits. */
#pragma once

enum dk_phase {
	DK_PHASE_QUEUED,
	DK_PHASE_PREPARE,    /* copying the source, patches */
	DK_PHASE_PRE_BUILD,  /* the PRE_BUILD script */
	DK_PHASE_MAKE,	     /* make */
	DK_PHASE_SIGN,	     /* strip, sign, compress the modules */
	DK_PHASE_POST_BUILD, /* the POST_BUILD script */
	DK_PHASE_BUILT,	     /* the build finished (seconds set) */
	DK_PHASE_CACHED,     /* instead of BUILT: restored from the build cache, nothing compiled */
	DK_PHASE_INSTALL,    /* copying into the kernel's module directory */
	DK_PHASE_DEPMOD,     /* depmod for kver (m, v empty) */
	DK_PHASE_INITRAMFS,  /* initramfs for kver (m, v empty) */
	DK_PHASE_INSTALLED,  /* the job is installed */
	DK_PHASE_SKIPPED,    /* BUILD_EXCLUSIVE and similar (message set) */
	DK_PHASE_FAILED,     /* the job failed (code, message, log_path set) */
	DK_PHASE_OUTPUT,     /* build output (text set), only with --verbose */
	DK_PHASE_TICK,	     /* time passed; nothing new (for redraws and heartbeats) */
	DK_PHASE__MAX,
};

struct dk_event {
	enum dk_phase phase;
	const char *m, *v, *kver, *arch; /* "" when not about one job */
	const char *message;		 /* or NULL */
	const char *log_path;		 /* or NULL */
	const char *text;		 /* DK_PHASE_OUTPUT: a chunk of output */
	int code;			 /* DK_PHASE_FAILED: dkms's exit code */
	double seconds;			 /* since the job started */
};

/* The phase's short name ("make", "PRE_BUILD", ...). */
const char *dk_phase_name(enum dk_phase p);
