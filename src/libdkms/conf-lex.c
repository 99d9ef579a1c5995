// SPDX-License-Identifier: GPL-2.0-or-later
/* The small lexical pieces of the native dkms.conf reader: a growing string,
 * bash's character classes and special names, subscripts and integers, the
 * CPU count that `nproc` would print. */
#include <sched.h>
#include <stdio.h>

#include "conf-internal.h"
#include "util.h"

void sb_putc(struct sbuf *b, char c)
{
	if (b->n + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->s = xrealloc(b->s, b->cap);
	}
	b->s[b->n++] = c;
	b->s[b->n] = 0;
}

void sb_puts(struct sbuf *b, const char *s)
{
	for (; *s; s++)
		sb_putc(b, *s);
}

const char *sb_str(struct sbuf *b)
{
	return b->s ? b->s : "";
}

/* The CPU count as coreutils' nproc prints it: the affinity mask, unless
 * the OpenMP variables it honours are set (then bash runs the real one). */
int nproc_string(char *buf, size_t n)
{
	cpu_set_t set;
	if (getenv("OMP_NUM_THREADS") || getenv("OMP_THREAD_LIMIT"))
		return -EAGAIN;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	snprintf(buf, n, "%d", CPU_COUNT(&set));
	return 0;
}

bool is_name_start(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_name_char(int c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

bool is_blank(int c)
{
	return c == ' ' || c == '\t';
}

bool is_ifs(int c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* Characters that end an unquoted word. */
bool is_meta(int c)
{
	return c < 0 || is_ifs(c) || strchr(";&|<>()", c);
}

/* Variables whose assignment changes how bash (or the reference's own loop)
 * behaves, or which bash itself maintains. */
bool name_is_special(const char *n)
{
	static const char *const names[] = {
		"IFS",	    "PATH",	  "RANDOM",
		"SRANDOM",  "SECONDS",	  "LINENO",
		"PWD",	    "OLDPWD",	  "OPTIND",
		"OPTARG",   "OPTERR",	  "GLOBIGNORE",
		"GLOBSORT", "PS4",	  "SHELLOPTS",
		"BASHOPTS", "FUNCNAME",	  "UID",
		"EUID",	    "PPID",	  "GROUPS",
		"HISTCMD",  "DIRSTACK",	  "LANG",
		"LANGUAGE", "TMOUT",	  "POSIXLY_CORRECT",
		"CDPATH",   "HOME",	  "SHELL",
		"TMPDIR",   "ENV",	  "FIGNORE",
		"HOSTNAME", "HOSTTYPE",	  "MACHTYPE",
		"OSTYPE",   "PIPESTATUS", "vars",
		"_v",	    "_i",	  "_val",
		"CR",	    "tmpfile",	  "scratch",
		"conf",
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(n, names[i]))
			return true;
	return startswith(n, "BASH") || startswith(n, "LC_") || startswith(n, "EPOCH") ||
	       startswith(n, "COMP_") || startswith(n, "READLINE_");
}

/* An arithmetic literal as bash reads it in a subscript: decimal, 0octal, 0xhex. */
int parse_index(const char *s, size_t n, unsigned *ret)
{
	unsigned base = 10, v = 0;
	size_t i = 0;
	if (n == 0)
		return -EINVAL;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, i = 2;
	else if (n > 1 && s[0] == '0')
		base = 8, i = 1;
	for (; i < n; i++) {
		int c = (unsigned char)s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -EINVAL;
		if ((unsigned)d >= base || v > 100000)
			return -EINVAL;
		v = v * base + d;
	}
	*ret = v;
	return 0;
}

int parse_integer(const char *s, long long *ret)
{
	const char *d = s + (*s == '-');
	if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 17)
		return -EINVAL;
	*ret = strtoll(s, NULL, 10);
	return 0;
}

bool glob_chars(const char *s)
{
	return strpbrk(s, "*?[\\") != NULL;
}
