/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /etc/dkms/framework.conf and framework.conf.d/(*).conf: bash files that
 * dkms sources. Plain assignments are read natively; anything else is
 * sourced by bash in a child and the known settings read back. */
#pragma once

/* Calls cb(name, value, userdata) for each variable the file sets (index 0),
 * in the order they were first assigned; a non-zero return from cb stops
 * the walk and is returned. Returns 0, -ENOENT when the file does not exist
 * (callers usually ignore that), or another -errno. */
int framework_read(const char *path, int (*cb)(const char *name, const char *value, void *userdata),
		   void *userdata);
