/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Paths by descriptor: resolving a path beneath a directory fd, creating
 * directories beneath it, and removing or chowning a tree by fd.
 *
 * chase() resolves PATH relative to ROOT_FD and never leaves the directory
 * ROOT_FD refers to. Two ways to treat what points upwards or outwards:
 *
 *   CHASE_IN_ROOT  as a chroot at ROOT_FD sees it: an absolute symbolic link
 *                  is read relative to ROOT_FD, and ".." at the top stays at
 *                  the top. With --root /mnt, /mnt/usr/src/foo-1.0 -> /opt/foo
 *                  resolves to /mnt/opt/foo, never to the host's /opt/foo.
 *                  For trees under --root (the dkms tree, the source tree,
 *                  /lib/modules), which root owns.
 *   (default)      beneath: an absolute symbolic link, or ".." above ROOT_FD,
 *                  is an error (-EXDEV). For directories another user can
 *                  write (a build directory).
 *
 * Magic links (/proc/self/fd/N and the like) are never followed. An absolute
 * PATH is taken relative to ROOT_FD in both modes. openat2() with
 * RESOLVE_IN_ROOT or RESOLVE_BENEATH (| RESOLVE_NO_MAGICLINKS) does the work
 * where the kernel has it (5.6+); elsewhere, and when the resolved path is
 * asked for, a walk component by component with O_NOFOLLOW gives the same
 * answer: it keeps a stack of directory fds, so ".." returns to the directory
 * it came from and can never climb out of ROOT_FD.
 *
 * All functions return >= 0 or -errno; fds they return are O_CLOEXEC. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	CHASE_IN_ROOT = 1 << 0,	    /* chroot semantics (see above) instead of -EXDEV */
	CHASE_NOFOLLOW = 1 << 1,    /* do not follow a symbolic link in the last component */
	CHASE_NO_SYMLINKS = 1 << 2, /* any symbolic link on the way is -ELOOP */
	CHASE_NO_XDEV = 1 << 3,	    /* crossing into another mount is -EXDEV */
	CHASE_MKDIR = 1 << 4,	    /* create missing directories (mode 0755), the last too */
};

/* Resolves path beneath root_fd and opens the result with open_flags
 * (O_CLOEXEC is added; O_CREAT takes mode 0644 unless CHASE_MKDIR). Returns
 * the fd. With ret_path, also the resolved path relative to root_fd,
 * starting with "/" ("/" for root_fd itself). */
int chase(int root_fd, const char *path, unsigned flags, int open_flags, char **ret_path);

/* Resolves everything but the last component of path (which must be a plain
 * name: not empty, ".", ".."), returns an O_DIRECTORY fd of the parent and the
 * last component in *ret_name. With CHASE_MKDIR the parents are created. */
int chase_parent(int root_fd, const char *path, unsigned flags, int *ret_dir_fd, char **ret_name);

/* Resolves as much of path as exists: returns an O_DIRECTORY|O_PATH fd of the
 * deepest existing directory and the part that does not exist (relative,
 * "" when everything exists) in *ret_rest; with ret_path, the resolved path
 * of that directory as chase() gives it. */
int chase_existing(int root_fd, const char *path, unsigned flags, char **ret_rest, char **ret_path);

/* The host path of path (a path inside root; "" or "/" is the host's own
 * root) with its symbolic links followed as a chroot into root follows them
 * (CHASE_IN_ROOT): /mnt/usr/src/foo-1.0 -> /opt/foo gives /mnt/opt/foo,
 * never the host's /opt/foo. Where path does not resolve, the path as far
 * as it resolves followed by the missing part (/mnt/opt/foo when /opt/foo
 * is missing under /mnt), for messages: a string the host cannot follow out
 * of root either; for a link loop inside root, a path under /dev/null. */
char *chase_host_path(const char *root, const char *path);

/* Opens a directory as a root for chase(): O_PATH|O_DIRECTORY. path "" is "/". */
int open_root(const char *path);

/* The mount a directory fd lives on (statx's mount id, or st_dev where the
 * kernel has no mount ids). */
int fd_mount_id(int fd, uint64_t *ret);

/* Removes name beneath dir_fd: a file, a symbolic link (never followed) or a
 * directory tree. Walks by descriptor (openat O_NOFOLLOW|O_DIRECTORY,
 * unlinkat): never enters a symbolic link or another mount (a mount point
 * found on the way is left in place, -EXDEV). ENOENT is success. Every entry
 * it can remove is removed; the first error is returned. Trees of any depth
 * are removed with a bounded number of open fds, and a tree that keeps
 * growing while it is removed gives -EBUSY rather than an endless loop. */
int rm_rf_at(int dir_fd, const char *name);
/* Removes everything inside the directory fd (not fd itself); as rm_rf_at. */
int rm_rf_children(int fd);

/* Changes the owner of the directory fd and of everything beneath it, by
 * descriptor (symbolic links themselves, never their targets; never into
 * another mount). */
int chown_tree(int fd, uid_t uid, gid_t gid);
