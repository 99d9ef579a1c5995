/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Trust in what root is about to read, copy or build: a source tree that a
 * user other than root can change would let that user choose what root
 * evaluates and installs.
 *
 * Who can write an entry: its owner (any owner but root is refused: an owner
 * can always chmod), everyone (o+w), or the members of its group (g+w).
 * Group write access is accepted when the group has no member but root (root
 * unpacking a `git archive` tarball gets root:root 0664/0775 files: that is
 * not a risk), and refused when another user belongs to it, by /etc/group or
 * as a primary group. Symbolic links are judged by their owner only. */
#pragma once

#include <sys/types.h>

/* Walks dir (not following symbolic links below it; each entry checked with
 * fstatat on fds opened O_NOFOLLOW) and the directories above it up to "/"
 * (where a sticky directory such as /tmp is fine: others cannot replace
 * root's entries in it). Returns 0, -EPERM with *ret_why naming the path and
 * who can write it ("/usr/src/foo-1.0/foo.c is writable by group staff
 * (alice)"), or another -errno when dir cannot be read. */
int trust_check_source(const char *dir, char **ret_why);
/* The same without the directories above dir. */
int trust_check_tree(const char *dir, char **ret_why);
/* Only the directories from dir up to "/", dir included; no walk below. */
int trust_check_path(const char *dir, char **ret_why);
/* One file, where its links lead (stat): its owner and write access. */
int trust_check_file(const char *path, char **ret_why);
