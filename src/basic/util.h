/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers with no dependency on anything else in src/: string vectors, paths,
 * whole-file I/O, atomic writes, directory trees. All return >= 0 or -errno. */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "macro.h"

/* NULL-terminated string vectors. */
size_t strv_length(char *const *l);
void strv_free(char **l);
static inline void strv_freep(char ***l)
{
	strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
/* Appends a copy of s; *l may be NULL. */
void strv_push(char ***l, const char *s);
/* Takes ownership of s. */
void strv_consume(char ***l, char *s);
bool strv_contains(char *const *l, const char *s);
void strv_sort(char **l, int (*cmp)(const char *, const char *));
/* Splits on any of the separator characters, skipping empty fields. */
char **strv_split(const char *s, const char *seps);
char *strv_join(char *const *l, const char *sep);

/* Joins path components with single slashes. NULL ends the list. */
char *path_join_internal(const char *first, ...);
#define path_join(...) path_join_internal(__VA_ARGS__, NULL)
const char *path_basename(const char *p);

bool path_exists(const char *p);
bool path_is_dir(const char *p);
bool path_is_reg(const char *p);
bool path_is_symlink(const char *p);
/* Reads a symbolic link's target into a new string. */
int readlink_malloc(const char *p, char **ret);

/* Replaces *ret_reason (when not NULL) with a formatted sentence for the
 * caller to print, and returns error: keeps "fail with a reason" one line. */
int reason_set(char **ret_reason, int error, const char *fmt, ...) _printf_(3, 4);
/* Writes all of data, retrying on EINTR and short writes. */
int write_all(int fd, const void *data, size_t len);
/* Reads a whole file (at most max bytes; 0 = no limit), NUL-terminated. */
int read_full_file(const char *p, char **ret, size_t *ret_size, size_t max);
/* Writes data to p via a temporary file in the same directory, fsync, rename. */
int write_file_atomic(const char *p, const void *data, size_t len, mode_t mode);
/* Copies src to dst atomically (temporary + rename), preserving mode. */
int copy_file_atomic(const char *src, const char *dst, mode_t mode);
/* Creates a symbolic link atomically (replacing any existing one). */
int symlink_atomic(const char *target, const char *linkpath);
/* Whether two files hold the same bytes (false when either cannot be read).
 * Reads both block by block: bounded memory. */
bool files_equal(const char *a, const char *b);
/* 1 when the rest of fd holds exactly data, 0 when not, -errno on a read
 * error. Reads block by block. */
int fd_equals_buffer(int fd, const void *data, size_t len);
int mkdir_p(const char *p, mode_t mode);
/* Removes a tree: the parent of p by path, everything from p on by fd
 * (rm_rf_at: never follows a symbolic link or enters another mount). ENOENT
 * is success; "/" is -EINVAL. */
int rm_rf(const char *p);
/* Removes empty parent directories of p up to (not including) stop. */
void rmdir_parents(const char *p, const char *stop);
/* Lists directory entries (no . and ..), sorted; ENOENT gives an empty list. */
int dir_list(const char *p, char ***ret);
/* The same for the directory open at dfd (which stays open and unmoved). */
int dir_list_at(int dfd, char ***ret);
int fsync_dir_of(const char *p);

/* "123", "10K", "500M", "2G", "1T" (powers of 1024, an optional "iB" or
 * "B") into bytes. -EINVAL for anything else or an overflow. */
int parse_size(const char *s, uint64_t *ret);

/* Version comparison in the manner of `sort -V` (dkms uses it). */
int version_cmp(const char *a, const char *b);
