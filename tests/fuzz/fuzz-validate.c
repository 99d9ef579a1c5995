// SPDX-License-Identifier: GPL-2.0-or-later
/* The validation at the door (libdkms/validate.c): the input is a value (a
 * name, a location, a script line, a kernel argument, or '\n'-separated
 * command-line names). Whatever a validator accepts must stay inside its
 * directory, which is checked independently here: a name joined to a
 * directory is exactly one component below it; a location joined to a
 * directory and normalised lexically stays in it; and neither holds a NUL, a
 * control character or a leading '-'. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util.h"
#include "validate.h"

static void check(bool ok, const char *what, const char *value)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz-validate: %s: '%s'\n", what, value);
	abort();
}

static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* "/base/" + rel, normalised lexically (".", "", ".." popping): whether the
 * result is /base or below it. */
static bool stays_inside(const char *rel)
{
	int depth = 0;
	const char *c = rel;
	while (*c) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			depth--;
		else if (n > 0 && !(n == 1 && c[0] == '.'))
			depth++;
		if (depth < 0)
			return false;
		c += n;
		c += strspn(c, "/");
	}
	return true;
}

static void check_name(const char *data, size_t n)
{
	if (validate_name_len(data, n))
		return;
	check(n > 0 && !memchr(data, 0, n), "accepted name is empty or has a NUL", "");
	_cleanup_free_ char *s = xstrndup(data, n);
	check(!strchr(s, '/'), "accepted name has '/'", s);
	check(!has_control(s, n) && s[0] != '-', "accepted name has a control char or '-'", s);
	check(!streq(s, ".") && !streq(s, ".."), "accepted name is '.' or '..'", s);
	_cleanup_free_ char *p = path_join("/base", s);
	check(startswith(p, "/base/") && !strchr(p + 6, '/'), "name is not one component", s);
	check(validate_name(s) == NULL, "validate_name disagrees with validate_name_len", s);
}

static void check_location(const char *s)
{
	if (validate_location(s))
		return;
	check(stays_inside(s), "accepted location leaves its directory", s);
	check(!has_control(s, strlen(s)) && s[0] != '-', "accepted location has a control char", s);
}

static void check_script(const char *s)
{
	if (validate_script(s))
		return;
	const char *w = s + strspn(s, " \t");
	_cleanup_free_ char *first = xstrndup(w, strcspn(w, " \t"));
	check(stays_inside(first), "accepted script leaves its directory", s);
}

static void check_kernel(const char *s)
{
	if (validate_kernel_arg(s, NULL) < 0)
		return;
	const char *slash = strchr(s, '/');
	_cleanup_free_ char *k = slash ? xstrndup(s, slash - s) : xstrdup(s);
	check(!validate_name(k), "accepted kernel version is not a name", s);
	check(!slash || !validate_name(slash + 1), "accepted arch is not a name", s);
}

static void check_args(const char *s)
{
	_cleanup_strv_free_ char **f = strv_split(s, "\n");
	size_t n = strv_length(f);
	const char *m = n > 0 ? f[0] : NULL, *v = n > 1 ? f[1] : NULL, *a = n > 2 ? f[2] : NULL;
	char *const *kernels = n > 3 ? f + 3 : NULL;
	_cleanup_free_ char *err = NULL;
	if (validate_args(m, v, a, kernels, &err) < 0) {
		check(err != NULL, "refused without a message", s);
		return;
	}
	check(!m || !validate_name(m), "accepted module", s);
	check(!v || !validate_name(v), "accepted version", s);
	check(!a || !validate_name(a), "accepted arch", s);
	for (size_t i = 3; i < n; i++)
		check(validate_kernel_arg(f[i], NULL) == 0, "accepted kernel", s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_name((const char *)data, size);
	_cleanup_free_ char *s = xstrndup((const char *)data, size);
	check_location(s);
	check_script(s);
	check_kernel(s);
	check_args(s);
	return 0;
}
