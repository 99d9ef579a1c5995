/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Validation at the door: every name that becomes a path component or a
 * command argument (module, version, kernel version, arch, module file
 * names) and every location a dkms.conf gives (BUILT_MODULE_LOCATION,
 * DEST_MODULE_LOCATION, the scripts) is checked before anything is
 * written or run, so that none of them can lead outside its directory;
 * PATCH before a build applies it (dkms adds such a package).
 * Depends on helpers only (pkg.c uses it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What is wrong with a name (a single path component), as a phrase for a
 * message ("contains '/'"), or NULL when it may be used: not empty, not "."
 * or "..", no '/', no control character (NUL, newline…), no leading '-'. */
const char *validate_name(const char *s);
/* The same for a value of len bytes that may hold a NUL. */
const char *validate_name_len(const char *s, size_t len);
/* What is wrong with a location inside a directory (relative, or absolute
 * and taken relative to it): no ".." component, no control character, no
 * leading '-'. NULL when fine. "" and "/" are fine (the directory itself). */
const char *validate_location(const char *s);
/* validate_location's answer for a '..' component (compare the pointer). */
extern const char validate_dotdot[];
/* A script as dkms.conf names it ("scripts/x.sh -k 6.1"): its first word is
 * a location inside the source or build directory. NULL when fine. */
const char *validate_script(const char *s);

/* The names on the command line (-m, -v, M/V, -a, -k KVER[/ARCH]; NULL for
 * absent): 0, or -EINVAL with *ret_error naming the option and the value. */
int validate_args(const char *module, const char *version, const char *arch, char *const *kernels,
		  char **ret_error);
/* One kernel argument KVER[/ARCH]. */
int validate_kernel_arg(const char *spec, char **ret_error);
