/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared between conf.c (API, ordering, printing), conf-native.c (the static
 * subset of bash evaluated natively) and conf-bash.c (bash in a child plus its
 * cache). Not for use outside the conf layer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "conf.h"

/* The variables dkms 3.x reads from a dkms.conf, in the order it echoes them. */
extern const char *const conf_whitelist[];
bool conf_is_whitelisted(const char *name);

/* A bag of shell variables: one entry per set (name, index); names that exist
 * as empty arrays are remembered separately. */
struct shvars {
	struct dk_conf_var *v;
	size_t n;
	char **empty; /* declared, no element set */
};

void shvars_done(struct shvars *s);
/* NULL when unset. */
const char *shvars_get(const struct shvars *s, const char *name, unsigned idx);
bool shvars_exists(const struct shvars *s, const char *name);
/* Highest set index + 1, 0 when none. */
unsigned shvars_next_index(const struct shvars *s, const char *name);
void shvars_set(struct shvars *s, const char *name, unsigned idx, const char *value);
void shvars_unset(struct shvars *s, const char *name);
void shvars_declare_empty(struct shvars *s, const char *name);

/* The values a dkms.conf sees: the context variables, all fields filled. */
struct conf_ctx {
	const char *path; /* as given */
	char *realpath;	  /* canonical path of the file */
	char *dir;	  /* its directory (cwd of the sourcing) */
	const char *kernelver, *arch, *kernel_source_dir, *kernel_config;
	const char *dkms_tree, *source_tree, *install_tree, *module, *module_version;
	const char *parallel_jobs, *tmp_location; /* tmp_location may be NULL (undefined) */
	const struct dk_conf *base;		  /* values already set before sourcing, or NULL */
	const struct sandbox *sandbox;		  /* where bash runs (dk_conf_env) */
	unsigned timeout_sec;
};

/* Evaluates text natively. Returns 1 and fills *ret (whitelisted variables
 * after both expansions) when the result provably equals bash's; 0 when bash
 * is needed (*ret_reason says why, static string); -errno on failure.
 * *ret_status is the reference's exit status (always 0: like dkms, no set -u,
 * an unset variable is empty). */
int conf_native_eval(const char *text, size_t len, const struct conf_ctx *cc, struct shvars *ret,
		     int *ret_status, const char **ret_reason);

/* Evaluates the file with bash in a child (or from the cache). Fills *ret with
 * the final values, *ret_stdout with anything the evaluation printed,
 * *ret_stderr with what bash said on stderr (its own errors name the file and
 * line), and *ret_status with the reference tool's exit status. */
int conf_bash_eval(const struct conf_ctx *cc, const char *cache_dir, struct shvars *ret,
		   char **ret_stdout, char **ret_stderr, int *ret_status, bool *ret_cached);

/* Only the sourcing step (no echo, no second expansion) of a file made of
 * plain assignments, into vars (which may hold variables already set).
 * Returns 1, or 0 with *ret_reason when bash is needed. */
int conf_native_source(const char *text, size_t len, struct shvars *vars, const char **ret_reason);

/* conf-lex.c: lexical helpers of the native reader. */
struct sbuf {
	char *s;
	size_t n, cap;
};
void sb_putc(struct sbuf *b, char c);
void sb_puts(struct sbuf *b, const char *s);
const char *sb_str(struct sbuf *b);
int nproc_string(char *buf, size_t n);
bool is_name_start(int c);
bool is_name_char(int c);
bool is_blank(int c);
bool is_ifs(int c);
bool is_meta(int c);
bool name_is_special(const char *n);
int parse_index(const char *s, size_t n, unsigned *ret);
int parse_integer(const char *s, long long *ret);
bool glob_chars(const char *s);
