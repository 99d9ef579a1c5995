/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libkmod glue: module metadata, lookups in a kernel's module directory,
 * loading. */
#pragma once

#include <stdbool.h>

/* modinfo field (e.g. "version", "vermagic") of a module file; NULL when absent. */
int kmod_file_info(const char *path, const char *key, char **ret);
/* Every value of a repeated modinfo field (e.g. "alias"); strv. */
int kmod_file_values(const char *path, const char *key, char ***ret);
/* Path (host) of module `name` as the kernel's indexes in moddir resolve it,
 * or -ENOENT. */
int kmod_lookup_path(const char *moddir, const char *name, char **ret);
/* Loads module `name` (with its dependencies, blacklist applied) from the
 * running kernel's module directory. Returns 0, -errno. */
int kmod_load(const char *name);
/* Loads the module file at path (host path) into the running kernel
 * before depmod has indexed it: its dependencies by name from the kernel's
 * module directory, or from batch (other files just installed) by path;
 * the options modprobe.d gives it. Returns 0 (also when loaded already),
 * -errno. */
int kmod_load_file(const char *path, char *const *batch);
/* Whether module `name` is loaded now. */
bool kmod_is_loaded(const char *name);
/* Modules (names) that an alias resolves to in moddir; strv. */
int kmod_alias_modules(const char *moddir, const char *alias, char ***ret);
