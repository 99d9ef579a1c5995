// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>

#include "util.h"
#include "validate.h"

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

const char *validate_name_len(const char *s, size_t len)
{
	if (!s || len == 0)
		return "is empty";
	if (memchr(s, 0, len))
		return "contains a NUL byte";
	if (s[0] == '-')
		return "begins with '-'";
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return "is not a name ('.' or '..')";
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '/')
			return "contains '/'";
		if (is_control((unsigned char)s[i]))
			return "contains a control character";
	}
	return NULL;
}

const char *validate_name(const char *s)
{
	return validate_name_len(s, s ? strlen(s) : 0);
}

const char validate_dotdot[] = "has a '..' component";

const char *validate_location(const char *s)
{
	if (!s)
		return NULL;
	if (s[0] == '-')
		return "begins with '-'";
	for (const char *p = s; *p; p++)
		if (is_control((unsigned char)*p))
			return "contains a control character";
	for (const char *c = s; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return validate_dotdot;
		c += n;
		c += strspn(c, "/");
	}
	return NULL;
}

const char *validate_script(const char *s)
{
	if (!s)
		return NULL;
	s += strspn(s, " \t");
	_cleanup_free_ char *first = xstrndup(s, strcspn(s, " \t"));
	return validate_location(first);
}

int validate_kernel_arg(const char *spec, char **ret_error)
{
	const char *slash = strchr(spec, '/');
	_cleanup_free_ char *k = slash ? xstrndup(spec, slash - spec) : xstrdup(spec);
	const char *why = validate_name(k);
	if (why)
		return reason_set(ret_error, -EINVAL, "Invalid kernel version '%s': it %s.", spec,
				  why);
	if (slash && (why = validate_name(slash + 1)))
		return reason_set(ret_error, -EINVAL, "Invalid architecture in '%s': it %s.", spec,
				  why);
	return 0;
}

int validate_args(const char *module, const char *version, const char *arch, char *const *kernels,
		  char **ret_error)
{
	const char *why;
	if (module && (why = validate_name(module)))
		return reason_set(ret_error, -EINVAL, "Invalid module name '%s': it %s.", module,
				  why);
	if (version && (why = validate_name(version)))
		return reason_set(ret_error, -EINVAL, "Invalid module version '%s': it %s.",
				  version, why);
	if (arch && (why = validate_name(arch)))
		return reason_set(ret_error, -EINVAL, "Invalid architecture '%s': it %s.", arch,
				  why);
	for (size_t i = 0; kernels && kernels[i]; i++) {
		int r = validate_kernel_arg(kernels[i], ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}
