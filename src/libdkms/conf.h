/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms.conf reading with dkms 3.x semantics (a bash file, sourced with a set
 * of context variables, each value expanded a second time). A native parser
 * serves the static subset; anything else is evaluated by bash in a child,
 * the result cached by file identity and kernel/arch. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include "macro.h"

struct sandbox;

/* The context variables dkms defines while reading a dkms.conf. */
struct dk_conf_env {
	const char *kernelver;
	const char *arch;
	const char *kernel_source_dir;
	const char *kernel_config; /* NULL: <kernel_source_dir>/.config */
	const char *dkms_tree;
	const char *source_tree;
	const char *install_tree;
	const char *module; /* NULL: derived from the directory name */
	const char *module_version;
	const char *parallel_jobs; /* NULL: the number of CPUs, as dkms's -j default */
	const char *tmp_location;  /* NULL: left undefined (the reference tool's view) */
	const char *cache_dir;	   /* host path for cached bash results, or NULL */
	/* Where bash runs when the native reader cannot take a file (NULL: as
	 * we are), and its time limit (0: 120 s). */
	const struct sandbox *sandbox;
	unsigned timeout_sec;
};

struct dk_conf_var {
	char *name;
	unsigned idx;
	char *value;
};

struct dk_conf {
	struct dk_conf_var *vars; /* whitelist order, indices ascending */
	size_t n_vars;
	bool used_bash;		 /* evaluated by bash (or from its cache) */
	bool from_cache;	 /* bash's result came from env->cache_dir */
	const char *bash_reason; /* static: why the native parser declined */
	char *extra_stdout;	 /* text the second expansion printed (bash only), or NULL */
	char *bash_stderr;	 /* what bash said while sourcing ("FILE: line N: ..."), or NULL */
	int status;		 /* the reference tool's exit status (0) */
};

/* Reads path. On a file that cannot be read: -errno. On success 0. */
int conf_read(const char *path, const struct dk_conf_env *env, struct dk_conf **ret);
/* The same, sourcing path on top of the values of base (dkms's overrides in
 * /etc/dkms are sourced that way: they see, and re-expand, what came before).
 * base may be NULL. */
int conf_read_over(const char *path, const struct dk_conf_env *env, const struct dk_conf *base,
		   struct dk_conf **ret);
void conf_free(struct dk_conf *c);
static inline void conf_freep(struct dk_conf **c)
{
	conf_free(*c);
}
#define _cleanup_conf_free_ _cleanup_(conf_freep)
/* Value of NAME[idx], or NULL when unset. */
const char *conf_get(const struct dk_conf *c, const char *name, unsigned idx);
/* Highest set index of NAME plus one (0 when NAME is unset). */
unsigned conf_count(const struct dk_conf *c, const char *name);
/* Prints the canonical "NAME[i]=value" lines of dkms-conf-reference. */
void conf_print(const struct dk_conf *c, FILE *f);
