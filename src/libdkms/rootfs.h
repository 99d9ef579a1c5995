/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The root filesystem: which device, which filesystem type, found with
 * libblkid. */
#pragma once

struct rootfs_info {
	char *source; /* how it was found: "mountinfo", "cmdline", "given" */
	char *spec;   /* root= value or device path as given */
	char *device; /* resolved device or image path, or NULL */
	char *fstype; /* from libblkid, else from mountinfo */
	char *uuid, *label;
};

/* Finds the root filesystem for a root prefix ("" = host). device, when not
 * NULL, is probed instead (a device or a filesystem image file). Returns 0 or
 * -errno (-ENOENT: nothing found). */
int rootfs_probe(const char *root, const char *device, struct rootfs_info *ret);
void rootfs_info_done(struct rootfs_info *i);
