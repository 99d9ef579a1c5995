// SPDX-License-Identifier: GPL-2.0-or-later
/* The static subset of bash that dkms.conf files are written in, evaluated
 * without bash: assignment-only commands (NAME=, NAME[n]=, NAME+=, NAME=(...),
 * export), quoting, $name / ${name} / ${name[n]} of variables known to be set,
 * comments, continuations. Then the two steps of dkms's safe_source that
 * follow the sourcing: the unquoted echo (field splitting, globbing in the
 * file's directory) and the second expansion as a double-quoted string.
 *
 * Whenever the input leaves that subset, or a step could depend on something
 * not modelled (a glob that matches a file, a variable that only the
 * environment could define), the parser declines with a reason and the caller
 * asks bash. Declining is always safe; guessing is not. */
#include <glob.h>
#include <sched.h>
#include <stdio.h>

#include "conf-internal.h"
#include "log.h"
#include "util.h"

enum word_mode {
	WORD_SCALAR, /* the value of NAME=...: no splitting, no globbing */
	WORD_ARRAY,  /* an element of NAME=(...): splitting, globbing, braces */
	WORD_ARG,    /* an argument of [ ... ]: the same */
};

struct parser {
	const char *s;
	size_t len, pos;
	struct shvars *vars;
	const char *reason;
	unsigned depth; /* of `[ ... ] && [ ... ] && ...`, which recurses */
};

static int bail(struct parser *p, const char *why)
{
	if (!p->reason)
		p->reason = why;
	return 0;
}

/* Names bash itself or the reference tool's own code could have set; a
 * reference to any other name that is neither assigned nor in the environment
 * is provably unset. Whitelisted names are unset explicitly before sourcing. */
static bool provably_unset(const struct parser *p, const char *name)
{
	static const char *const internal[] = {
		"conf",	     "d",	  "opt",    "scratch", "tmpfile",    "vars",	 "_v",
		"_i",	     "_val",	  "_given", "_",       "CR",	     "OPTARG",	 "OPTERR",
		"OPTIND",    "DIRSTACK",  "EUID",   "GROUPS",  "HOSTNAME",   "HOSTTYPE", "IFS",
		"LINENO",    "MACHTYPE",  "OSTYPE", "PATH",    "PPID",	     "PS1",	 "PS2",
		"PS4",	     "PWD",	  "OLDPWD", "RANDOM",  "SRANDOM",    "SECONDS",	 "SHELL",
		"SHELLOPTS", "SHLVL",	  "TERM",   "UID",     "PIPESTATUS", "FUNCNAME", "COLUMNS",
		"LINES",     "MAILCHECK",
	};
	if (shvars_exists(p->vars, name))
		return false;
	if (conf_is_whitelisted(name))
		return true;
	for (size_t i = 0; i < ELEMENTSOF(internal); i++)
		if (streq(name, internal[i]))
			return false;
	if (startswith(name, "BASH") || startswith(name, "COMP_") || startswith(name, "HIST") ||
	    startswith(name, "EPOCH") || startswith(name, "READLINE_"))
		return false;
	return !getenv(name);
}

/* "$(nproc)" or "`nproc`" at p->pos: the one command substitution dkms.conf
 * files commonly use (make -j$(nproc)). Returns 1 when it was consumed. */
static int try_nproc(struct parser *p, struct sbuf *out, const char *form)
{
	char buf[32];
	if (!startswith(p->s + p->pos, form) || nproc_string(buf, sizeof(buf)) < 0)
		return 0;
	p->pos += strlen(form);
	sb_puts(out, buf);
	return 1;
}

static int peek(const struct parser *p, size_t off)
{
	return p->pos + off < p->len ? (unsigned char)p->s[p->pos + off] : -1;
}

/* At '$'. Appends the expansion; sets *ret_expanded when a variable was read. */
static int expand_dollar(struct parser *p, struct sbuf *out, bool dquoted, bool *ret_expanded)
{
	int c = peek(p, 1);
	char name[128];
	unsigned idx = 0;
	size_t n = 0;

	if (try_nproc(p, out, "$(nproc)")) {
		*ret_expanded = true;
		return 1;
	}
	if (c == '(' || c == '[')
		return bail(p, "command substitution or arithmetic expansion");
	if (c == '\'' || c == '"') {
		if (!dquoted)
			return bail(p, "$'...' or $\"...\" quoting");
		p->pos++;
		sb_putc(out, '$');
		return 1;
	}
	if ((c >= '0' && c <= '9') || (c >= 0 && strchr("@*#?-$!", c)))
		return bail(p, "special or positional parameter");
	if (c == '{') {
		size_t i = p->pos + 2;
		while (i < p->len && is_name_char((unsigned char)p->s[i]) && n < sizeof(name) - 1)
			name[n++] = p->s[i++];
		if (n == 0 || !is_name_start((unsigned char)name[0]))
			return bail(p, "parameter expansion operator");
		if (i < p->len && p->s[i] == '[') {
			size_t j = i + 1;
			while (j < p->len && p->s[j] >= '0' && p->s[j] <= '9')
				j++;
			if (j >= p->len || p->s[j] != ']' ||
			    parse_index(p->s + i + 1, j - i - 1, &idx) < 0)
				return bail(p, "parameter expansion with a computed subscript");
			i = j + 1;
		}
		if (i >= p->len || p->s[i] != '}')
			return bail(p, "parameter expansion operator");
		p->pos = i + 1;
	} else if (is_name_start(c)) {
		size_t i = p->pos + 1;
		while (i < p->len && is_name_char((unsigned char)p->s[i]) && n < sizeof(name) - 1)
			name[n++] = p->s[i++];
		if (i < p->len && is_name_char((unsigned char)p->s[i]))
			return bail(p, "overlong variable name");
		p->pos = i;
	} else {
		/* A lone '$' is literal. */
		p->pos++;
		sb_putc(out, '$');
		return 1;
	}
	name[n] = 0;
	const char *v = shvars_get(p->vars, name, idx);
	/* Like dkms (no set -u), an unset variable or element is empty. */
	if (!v && (shvars_exists(p->vars, name) || provably_unset(p, name)))
		v = "";
	if (!v)
		return bail(p, "reference to a variable not known to be set");
	sb_puts(out, v);
	*ret_expanded = true;
	return 1;
}

static int parse_dquoted(struct parser *p, struct sbuf *out)
{
	p->pos++; /* the opening quote */
	for (;;) {
		int c = peek(p, 0);
		bool dummy = false;
		int r;
		switch (c) {
		case -1: return bail(p, "unterminated double quote");
		case '"': p->pos++; return 1;
		case '`':
			if (try_nproc(p, out, "`nproc`"))
				break;
			return bail(p, "command substitution");
		case '$':
			r = expand_dollar(p, out, true, &dummy);
			if (r <= 0)
				return r;
			break;
		case '\\': {
			int d = peek(p, 1);
			if (d == '\n') {
				p->pos += 2;
			} else if (d == '$' || d == '`' || d == '"' || d == '\\') {
				sb_putc(out, (char)d);
				p->pos += 2;
			} else {
				sb_putc(out, '\\');
				p->pos++;
			}
			break;
		}
		default: sb_putc(out, (char)c); p->pos++;
		}
	}
}

/* Parses one word up to an unquoted metacharacter. *ret_consumed tells
 * whether the word had any text at all (quotes count). */
static int parse_word(struct parser *p, enum word_mode mode, struct sbuf *out, bool *ret_consumed)
{
	size_t start = p->pos;
	int prev = -1; /* previous unquoted character, for tilde rules */
	for (;;) {
		int c = peek(p, 0);
		bool expanded = false;
		int r;
		if (is_meta(c))
			break;
		switch (c) {
		case '\\': {
			int d = peek(p, 1);
			if (d < 0)
				return bail(p, "backslash at end of file");
			p->pos += 2;
			if (d != '\n')
				sb_putc(out, (char)d), prev = -1;
			continue;
		}
		case '\'': {
			const char *e = memchr(p->s + p->pos + 1, '\'', p->len - p->pos - 1);
			if (!e)
				return bail(p, "unterminated single quote");
			for (const char *q = p->s + p->pos + 1; q < e; q++)
				sb_putc(out, *q);
			p->pos = e - p->s + 1;
			prev = -1;
			continue;
		}
		case '"':
			r = parse_dquoted(p, out);
			if (r <= 0)
				return r;
			prev = -1;
			continue;
		case '$': {
			size_t before = out->n;
			r = expand_dollar(p, out, false, &expanded);
			if (r <= 0)
				return r;
			/* Splitting and globbing leave a non-empty plain value alone. */
			if (expanded && mode != WORD_SCALAR &&
			    (out->n == before || strpbrk(out->s + before, " \t\n*?[\\")))
				return bail(p, "unquoted expansion that splits or globs");
			prev = -1;
			continue;
		}
		case '`':
			if (mode == WORD_SCALAR && try_nproc(p, out, "`nproc`")) {
				prev = -1;
				continue;
			}
			return bail(p, "command substitution");
		case '~':
			if (p->pos == start || prev == ':')
				return bail(p, "tilde expansion");
			break;
		case '*':
		case '?':
		case '[':
		case '{':
			if (mode != WORD_SCALAR)
				return bail(p, "glob or brace expansion");
			break;
		}
		sb_putc(out, (char)c);
		prev = c;
		p->pos++;
	}
	*ret_consumed = p->pos > start;
	return 1;
}

static void skip_blanks(struct parser *p)
{
	for (;;) {
		if (is_blank(peek(p, 0)))
			p->pos++;
		else if (peek(p, 0) == '\\' && peek(p, 1) == '\n')
			p->pos += 2;
		else
			return;
	}
}

static void skip_comment(struct parser *p)
{
	while (peek(p, 0) >= 0 && peek(p, 0) != '\n')
		p->pos++;
}

/* Skips blanks, empty lines and comments; returns the next character. */
static int skip_space(struct parser *p)
{
	for (;;) {
		skip_blanks(p);
		int c = peek(p, 0);
		if (c == '\n')
			p->pos++;
		else if (c == '#')
			skip_comment(p);
		else
			return c;
	}
}

/* NAME=( ... ): at the '('. */
static int parse_array(struct parser *p, const char *name, bool append)
{
	unsigned idx = append ? shvars_next_index(p->vars, name) : 0;
	_cleanup_strv_free_ char **elems = NULL;
	p->pos++;
	for (;;) {
		int c = skip_space(p);
		if (c == ')') {
			p->pos++;
			break;
		}
		if (c < 0)
			return bail(p, "unterminated array");
		struct sbuf w = {};
		bool consumed = false;
		int r = parse_word(p, WORD_ARRAY, &w, &consumed);
		if (r > 0 && !consumed)
			r = bail(p, "unexpected character in an array");
		if (r > 0 && w.s && strchr(w.s, '=') && w.s[0] == '[')
			r = bail(p, "[index]= in an array");
		if (r <= 0) {
			free(w.s);
			return r;
		}
		strv_consume(&elems, w.s ? w.s : xstrdup(""));
	}
	if (!append)
		shvars_unset(p->vars, name);
	shvars_declare_empty(p->vars, name);
	for (size_t i = 0; elems && elems[i]; i++)
		shvars_set(p->vars, name, idx++, elems[i]);
	return 1;
}

/* Tries to read an assignment word at p->pos. Returns 1 when one was done, 0
 * on bail, 2 when the word is not an assignment (nothing consumed). */
static int parse_assignment(struct parser *p)
{
	size_t i = p->pos, start = p->pos;
	unsigned idx = 0;
	bool subscript = false, append = false;
	if (!is_name_start(peek(p, 0)))
		return 2;
	while (i < p->len && is_name_char((unsigned char)p->s[i]))
		i++;
	_cleanup_free_ char *name = xstrndup(p->s + start, i - start);
	if (i < p->len && p->s[i] == '[') {
		const char *e = memchr(p->s + i, ']', p->len - i);
		if (!e || parse_index(p->s + i + 1, e - p->s - i - 1, &idx) < 0)
			return bail(p, "computed array subscript");
		i = e - p->s + 1;
		subscript = true;
	}
	if (i < p->len && p->s[i] == '+')
		append = true, i++;
	if (i >= p->len || p->s[i] != '=')
		return subscript || append ? bail(p, "not an assignment") : 2;
	if (name_is_special(name))
		return bail(p, "assignment to a special variable");
	p->pos = i + 1;
	if (peek(p, 0) == '(') {
		if (subscript)
			return bail(p, "array assigned to an element");
		return parse_array(p, name, append);
	}
	struct sbuf w = {};
	bool consumed;
	int r = parse_word(p, WORD_SCALAR, &w, &consumed);
	if (r <= 0) {
		free(w.s);
		return r;
	}
	const char *old = append ? shvars_get(p->vars, name, idx) : NULL;
	_cleanup_free_ char *v = old ? xasprintf("%s%s", old, sb_str(&w)) : xstrdup(sb_str(&w));
	free(w.s);
	shvars_set(p->vars, name, idx, v);
	return 1;
}

static int parse_command(struct parser *p);

/* `[ A -op B ] && command` or `||`: an integer comparison guarding an
 * assignment, as in "[ $PROCS_NUM -gt 16 ] && PROCS_NUM=16". At the '['. */
static int parse_test_and(struct parser *p)
{
	static const char *const ops[] = { "-eq", "-ne", "-lt", "-le", "-gt", "-ge" };
	struct sbuf w[4] = {};
	long long a, b;
	size_t n = 0, op;
	bool consumed, truth;
	int r = 1;

	/* Each guarded command is parsed by a recursive call: a long chain
	 * would exhaust the stack. Real files chain a few; bash takes the rest. */
	if (p->depth >= 32)
		return bail(p, "a long chain of tests");
	p->pos++;
	for (;;) {
		skip_blanks(p);
		if (peek(p, 0) == ']' && is_meta(peek(p, 1))) {
			p->pos++;
			break;
		}
		if (n == 3)
			r = bail(p, "test expression");
		if (r > 0)
			r = parse_word(p, WORD_ARG, &w[n], &consumed);
		if (r > 0 && !consumed)
			r = bail(p, "test expression");
		n++;
		if (r <= 0)
			goto out;
	}
	for (op = 0; n == 3 && op < ELEMENTSOF(ops); op++)
		if (streq(sb_str(&w[1]), ops[op]))
			break;
	if (n != 3 || op == ELEMENTSOF(ops) || parse_integer(sb_str(&w[0]), &a) < 0 ||
	    parse_integer(sb_str(&w[2]), &b) < 0) {
		r = bail(p, "test expression");
		goto out;
	}
	truth = op == 0	  ? a == b
		: op == 1 ? a != b
		: op == 2 ? a < b
		: op == 3 ? a <= b
		: op == 4 ? a > b
			  : a >= b;
	skip_blanks(p);
	if (peek(p, 0) == '|' && peek(p, 1) == '|')
		truth = !truth;
	else if (peek(p, 0) != '&' || peek(p, 1) != '&') {
		r = bail(p, "test without && or ||");
		goto out;
	}
	p->pos += 2;
	for (;;) {
		skip_blanks(p);
		if (peek(p, 0) != '\n')
			break;
		p->pos++;
	}
	p->depth++;
	if (truth) {
		r = parse_command(p);
	} else {
		/* Parsed for its syntax, its assignments thrown away. */
		struct shvars *saved = p->vars, scratch = {};
		for (size_t i = 0; i < saved->n; i++)
			shvars_set(&scratch, saved->v[i].name, saved->v[i].idx, saved->v[i].value);
		for (size_t i = 0; saved->empty && saved->empty[i]; i++)
			shvars_declare_empty(&scratch, saved->empty[i]);
		p->vars = &scratch;
		r = parse_command(p);
		p->vars = saved;
		shvars_done(&scratch);
	}
	p->depth--;
out:
	for (size_t i = 0; i < ELEMENTSOF(w); i++)
		free(w[i].s);
	return r;
}

/* One simple command made only of assignments (optionally after "export"). */
static int parse_command(struct parser *p)
{
	bool first = true;
	for (;; first = false) {
		skip_blanks(p);
		int c = peek(p, 0);
		if (c < 0 || c == '\n' || (c == '#' && !first))
			return 1;
		if (c == ';' && !first) {
			p->pos++;
			skip_blanks(p);
			if (peek(p, 0) == ';' || peek(p, 0) == '&')
				return bail(p, "case terminator or syntax error");
			return 1;
		}
		if (first && c == '\r' && (peek(p, 1) == '\n' || peek(p, 1) < 0)) {
			/* A lone CR (CRLF blank line) is a command that is not found:
			 * bash complains on stderr and goes on. */
			p->pos++;
			return 1;
		}
		if (first && c == '[' && is_blank(peek(p, 1)))
			return parse_test_and(p);
		if (first && startswith(p->s + p->pos, "export") && is_blank(peek(p, 6))) {
			p->pos += 6;
			continue;
		}
		int r = parse_assignment(p);
		if (r == 2)
			return bail(p, "a command other than an assignment");
		if (r <= 0)
			return r;
		c = peek(p, 0);
		if (!is_meta(c) || (c >= 0 && strchr("&|<>()", c)))
			return bail(p, "redirection, pipe or subshell");
	}
}

static int parse_script(struct parser *p)
{
	while (p->pos < p->len) {
		if (skip_space(p) < 0)
			break;
		int r = parse_command(p);
		if (r <= 0)
			return r;
	}
	return 1;
}

/* Would bash's pathname expansion change this field? Only "no match" is
 * proven; anything else declines. */
static int field_globs_to_itself(const char *dir, const char *field)
{
	if (!glob_chars(field))
		return 1;
	struct sbuf pat = {};
	if (field[0] != '/') {
		for (const char *q = dir; *q; q++) {
			if (strchr("*?[\\", *q))
				sb_putc(&pat, '\\');
			sb_putc(&pat, *q);
		}
		sb_putc(&pat, '/');
	}
	sb_puts(&pat, field);
	glob_t g = {};
	int r = glob(pat.s, GLOB_NOSORT, NULL, &g);
	globfree(&g);
	free(pat.s);
	return r == GLOB_NOMATCH;
}

/* The unquoted `echo NAME[i]="$value"` of safe_source: fields split on IFS
 * whitespace, each globbed, joined with single spaces. Returns the text after
 * "NAME[i]=". */
static int echo_value(struct parser *p, const char *dir, const char *prefix, const char *value,
		      struct sbuf *ret)
{
	size_t vl = strlen(value);
	_cleanup_strv_free_ char **fields = NULL;
	struct sbuf cur = {};
	if (vl > 0 && value[vl - 1] == '\r')
		vl--;
	sb_puts(&cur, prefix);
	sb_putc(&cur, '"');
	for (size_t i = 0; i < vl; i++) {
		if (is_ifs((unsigned char)value[i])) {
			if (cur.n > 0)
				strv_consume(&fields, TAKE_PTR(cur.s)), cur.n = cur.cap = 0;
			continue;
		}
		sb_putc(&cur, value[i]);
	}
	sb_putc(&cur, '"');
	strv_consume(&fields, cur.s);
	for (size_t i = 0; fields[i]; i++) {
		/* The first field still holds "NAME[i]=" and is globbed as a whole. */
		if (!field_globs_to_itself(dir, fields[i]))
			return bail(p, "a glob in a value may match a file");
		if (i > 0)
			sb_putc(ret, ' ');
		sb_puts(ret, i == 0 ? fields[i] + strlen(prefix) : fields[i]);
	}
	return 1;
}

static void set_context(struct shvars *v, const struct conf_ctx *cc)
{
	shvars_set(v, "kernelver", 0, cc->kernelver);
	shvars_set(v, "arch", 0, cc->arch);
	shvars_set(v, "kernel_source_dir", 0, cc->kernel_source_dir);
	shvars_set(v, "kernel_config", 0, cc->kernel_config);
	shvars_set(v, "dkms_tree", 0, cc->dkms_tree);
	shvars_set(v, "source_tree", 0, cc->source_tree);
	shvars_set(v, "install_tree", 0, cc->install_tree);
	shvars_set(v, "module", 0, cc->module);
	shvars_set(v, "module_version", 0, cc->module_version);
	shvars_set(v, "parallel_jobs", 0, cc->parallel_jobs);
	if (cc->tmp_location)
		shvars_set(v, "tmp_location", 0, cc->tmp_location);
	for (size_t i = 0; cc->base && i < cc->base->n_vars; i++)
		shvars_set(v, cc->base->vars[i].name, cc->base->vars[i].idx,
			   cc->base->vars[i].value);
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

/* The second expansion of every whitelisted value of v1, into v2. */
static int second_pass(struct parser *p1, const struct conf_ctx *cc, struct shvars *v2)
{
	struct shvars *v1 = p1->vars;
	_cleanup_free_ unsigned *idx = xcalloc(v1->n + 1, sizeof(unsigned));
	for (size_t w = 0; conf_whitelist[w]; w++) {
		size_t k = 0;
		for (size_t i = 0; i < v1->n; i++)
			if (streq(v1->v[i].name, conf_whitelist[w]))
				idx[k++] = v1->v[i].idx;
		qsort(idx, k, sizeof(unsigned), cmp_unsigned);
		for (size_t i = 0; i < k; i++) {
			_cleanup_free_ char *prefix =
				xasprintf("%s[%u]=", conf_whitelist[w], idx[i]);
			const char *val = shvars_get(v1, conf_whitelist[w], idx[i]);
			struct sbuf line = {}, out = {};
			int r = echo_value(p1, cc->dir, prefix, val, &line);
			struct parser p2 = { .s = sb_str(&line), .len = line.n, .vars = v2 };
			bool consumed;
			if (r > 0)
				r = parse_word(&p2, WORD_SCALAR, &out, &consumed);
			if (r > 0 && p2.pos != p2.len)
				r = bail(&p2, "a value whose second expansion is not one word");
			if (r > 0)
				shvars_set(v2, conf_whitelist[w], idx[i], sb_str(&out));
			free(line.s);
			free(out.s);
			if (r <= 0)
				return bail(p1, p2.reason ? p2.reason : "second expansion");
		}
	}
	return 1;
}

int conf_native_eval(const char *text, size_t len, const struct conf_ctx *cc, struct shvars *ret,
		     int *ret_status, const char **ret_reason)
{
	struct shvars v1 = {}, v2 = {};
	struct parser p = { .s = text, .len = len, .vars = &v1 };
	int r;

	if (memchr(text, 0, len)) {
		*ret_reason = "NUL byte in the file";
		return 0;
	}
	set_context(&v1, cc);
	set_context(&v2, cc);
	*ret_status = 0;
	r = parse_script(&p);
	if (r > 0)
		r = second_pass(&p, cc, &v2);
	if (r > 0) {
		for (size_t i = 0; i < v2.n; i++)
			if (conf_is_whitelisted(v2.v[i].name))
				shvars_set(ret, v2.v[i].name, v2.v[i].idx, v2.v[i].value);
	} else {
		*ret_reason = p.reason;
		log_debug("%s: native parser declined at byte %zu: %s", cc->path, p.pos, p.reason);
	}
	shvars_done(&v1);
	shvars_done(&v2);
	return r;
}

int conf_native_source(const char *text, size_t len, struct shvars *vars, const char **ret_reason)
{
	struct parser p = { .s = text, .len = len, .vars = vars };
	if (memchr(text, 0, len)) {
		*ret_reason = "NUL byte in the file";
		return 0;
	}
	int r = parse_script(&p);
	if (r <= 0)
		*ret_reason = p.reason;
	return r;
}
