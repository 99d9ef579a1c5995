/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the agent knows about a kernel: the state of every registered module
 * for it, read from the tree without starting a process. Used by `check`
 * (all details) and `boot` (is anything missing?). */
#pragma once

#include <stdbool.h>
#include "ctx.h"

enum agent_mod_state {
	AGENT_INSTALLED,
	AGENT_STALE, /* installed, but vermagic names another kernel */
	AGENT_BUILT, /* built, not installed */
	AGENT_NOT_BUILT,
	AGENT_FAILED,	/* last build failed; log kept */
	AGENT_EXCLUDED, /* BUILD_EXCLUSIVE */
	AGENT_BROKEN,	/* dangling source, unreadable or invalid dkms.conf */
};

struct agent_mod {
	char *name, *version;
	enum agent_mod_state state;
	bool autoinstall;
	bool files_missing;	 /* stale because an installed file is gone */
	bool failure_is_current; /* failed, and neither source nor kernel changed since */
	bool remake_initrd;	 /* dkms.conf: REMAKE_INITRD=yes (not known in a quick scan) */
	bool bad_conf;		 /* broken: the source is there, its dkms.conf is not valid */
	char *detail;		 /* log path, exclusion reason, error */
	char **files;		 /* installed module files (host paths) */
	char **dest_names;
};

const char *agent_state_name(enum agent_mod_state s);

/* The boot fast path: names of the modules the boot run must look at for
 * kver/arch, by a few readdir/readlink/stat calls and nothing else (no
 * dkms.conf read, no process, no library): those with an added version but
 * none installed, and installed ones with a module file missing from the
 * module directory. Returns how many (in *ret, NULL when none). */
int agent_boot_candidates(const struct dk_ctx *ctx, const char *kver, const char *arch,
			  char ***ret);

/* Records, after a full scan by the boot run, the modules that need nothing
 * for kver/arch although not installed (excluded, not AUTOINSTALL), so that
 * agent_boot_candidates() skips them while nothing they depend on changes. */
void agent_boot_skip_write(const struct dk_ctx *ctx, const char *kver, const char *arch,
			   const struct agent_mod *mods, size_t n);

/* Fills *ret with one entry per registered module (newest added version, or
 * the installed one). With quick, installed modules are judged from the
 * tree and the module files alone (no dkms.conf read, no vermagic check). */
int agent_scan(const struct dk_ctx *ctx, const char *kver, const char *arch, bool quick,
	       struct agent_mod **ret, size_t *ret_n);
void agent_mods_free(struct agent_mod *m, size_t n);
/* The module a file holds: "hello" for ".../hello.ko.zst". New string. */
char *agent_module_name(const char *file);
/* Where an installed DKMS module file (a host path under kver's module
 * directory) lives inside kver's initramfs: "lib/modules/K/updates/dkms/x.ko". */
char *agent_initramfs_path(const struct dk_ctx *ctx, const char *kver, const char *file);
/* Whether a module file of m belongs in early boot (the initramfs): its
 * package or module is listed in early_modules=, its dkms.conf says
 * REMAKE_INITRD=yes (full scans only), or it is the driver of the root
 * filesystem (rootfs_type may be NULL). One rule for boot, check and
 * the initramfs hooks. */
bool agent_file_is_early(const struct dk_ctx *ctx, const struct agent_mod *m, const char *file,
			 const char *rootfs_type);
/* Whether the boot run must act on this module. */
bool agent_mod_needs_work(const struct agent_mod *m, bool force);

/* After an append (initramfs=append), kver's image is unreadable to the
 * distribution's own tools until its generator rebuilds it: the debt is
 * recorded in <dkms_tree>/.initramfs-appended-KVER (naming the image). */
int agent_appended_mark(const struct dk_ctx *ctx, const char *kver, const char *image);
/* Kernels with such a record. strv, maybe NULL. */
char **agent_appended_kernels(const struct dk_ctx *ctx);
/* Pays the debt: if an image of kver still carries an appended segment,
 * regenerates it with the distribution's generator (*ret_regenerated), then
 * forgets the record. -errno and *ret_reason when the generator fails (the
 * record stays). */
int agent_appended_settle(const struct dk_ctx *ctx, const char *kver, bool *ret_regenerated,
			  char **ret_reason);
