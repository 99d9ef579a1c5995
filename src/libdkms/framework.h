/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /etc/dkms/framework.conf and framework.conf.d/(*).conf: bash files that
 * dkms sources with its safe_source (the value of each setting expanded a
 * second time, as dkms.conf's are). Plain assignments are read natively;
 * anything else is sourced by bash in a child and the settings read back. */
#pragma once

/* The settings dkms reads from its framework files, space-separated. */
extern const char framework_vars[];

/* Reads path with the variables of context ("NAME=VALUE" entries, NULL-
 * terminated, may be NULL) already set, as dkms's own variables are when it
 * sources the file. Calls cb(name, value, userdata) for each framework
 * setting set after reading (index 0); a non-zero return from cb stops the
 * walk and is returned. Returns 0, -ENOENT when the file does not exist
 * (callers usually ignore that), or another -errno. */
int framework_read(const char *path, char *const *context,
		   int (*cb)(const char *name, const char *value, void *userdata), void *userdata);
