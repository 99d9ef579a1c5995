/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Trust in what root is about to build and run: a source tree that anyone
 * but root can write would let that user run code as root. */
#pragma once

#include <sys/types.h>

/* Walks dir (not following symbolic links, each entry checked with fstatat
 * on an fd opened O_NOFOLLOW), and fails with -EPERM when any directory or
 * file is owned by a user other than root or is writable by group or
 * others. *ret_path names the first offender. */
int trust_check_tree(const char *dir, char **ret_path);
