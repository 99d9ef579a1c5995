// SPDX-License-Identifier: GPL-2.0-or-later
/* framework.conf reading. dkms 3.x sources these files with bash (no set -u);
 * most are a handful of NAME=value lines, served here without bash. */
#include <stdio.h>

#include "conf-internal.h"
#include "framework.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

/* The settings dkms 3.x reads from its framework files. */
const char framework_vars[] =
	"dkms_tree source_tree install_tree tmp_location verbose symlink_modules "
	"sign_file mok_signing_key mok_certificate modprobe_on_install "
	"autoinstall_all_kernels parallel_jobs compress_gzip_opts compress_xz_opts "
	"compress_zstd_opts post_transaction";

/* Fixed text: the file is $1, the variable list $2, then NAME=VALUE context
 * entries. dkms's safe_source: source in a subshell, echo each setting
 * unquoted, source those lines again. Prints "NAME LENGTH:VALUE\n" for each
 * set variable (byte lengths). */
static const char script[] =
	"_f=$1 _vars=$2\n"
	"shift 2\n"
	"for _a; do printf -v \"${_a%%=*}\" %s \"${_a#*=}\"; done\n"
	"set --\n"
	"_tmp=$(mktemp) || exit 3\n"
	"CR=$'\\r'\n"
	"(\n"
	"	exec >\"$_tmp\"\n"
	"	. \"$_f\" >/dev/null 2>&1\n"
	"	for _v in $_vars; do\n"
	"		for _i in $(eval echo \\${!\"$_v\"[@]}); do\n"
	"			eval echo '$_v[$_i]=\\\"${'\"$_v\"'[$_i]%$CR}\\\"'\n"
	"		done\n"
	"	done\n"
	") </dev/null\n"
	". \"$_tmp\" 2>/dev/null\n"
	"rm -f \"$_tmp\"\n"
	"LC_ALL=C\n"
	"for _v in $_vars; do\n"
	"	[ -n \"${!_v+set}\" ] || continue\n"
	"	_val=${!_v}\n"
	"	printf '%s %s:%s\\n' \"$_v\" \"${#_val}\" \"$_val\"\n"
	"done\n";

static int read_with_bash(const char *path, char *const *context, struct shvars *vars)
{
	_cleanup_strv_free_ char **argv = NULL;
	const char *fixed[] = { "bash", "-c", script, "dkms-framework", path, framework_vars };
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		strv_push(&argv, fixed[i]);
	for (size_t i = 0; context && context[i]; i++)
		strv_push(&argv, context[i]);
	struct spawn_opts opts = { .out_fd = -1, .quiet = 1 };
	_cleanup_free_ char *out = NULL;
	int r = spawn_capture(argv, &opts, &out);
	if (r < 0)
		return r;
	for (const char *q = out; *q;) {
		char name[64];
		size_t vlen;
		int n = 0;
		if (sscanf(q, "%63[A-Za-z_] %zu:%n", name, &vlen, &n) != 2 || n == 0 ||
		    strnlen(q + n, vlen + 1) < vlen || q[n + vlen] != '\n')
			return -EBADMSG;
		_cleanup_free_ char *val = xstrndup(q + n, vlen);
		shvars_set(vars, name, 0, val);
		q += n + vlen + 1;
	}
	return 0;
}

/* A word of framework_vars (asked for every variable of every file read: no
 * allocation). */
static bool is_framework_var(const char *name)
{
	size_t l = strlen(name);
	for (const char *p = framework_vars; *p;) {
		size_t w = strcspn(p, " ");
		if (w == l && strncmp(p, name, l) == 0)
			return true;
		p += w;
		p += strspn(p, " ");
	}
	return false;
}

/* The second expansion (an unquoted echo, then sourcing again) leaves a
 * value alone unless it holds an expansion, a quote or escape, a glob
 * character or whitespace that the echo would fold. */
static bool second_expansion_is_identity(const char *v)
{
	if (strpbrk(v, "$`\\\"'*?[\t\n\r"))
		return false;
	size_t l = strlen(v);
	return !strstr(v, "  ") && (l == 0 || (v[0] != ' ' && v[l - 1] != ' '));
}

int framework_read(const char *path, char *const *context,
		   int (*cb)(const char *name, const char *value, void *userdata), void *userdata)
{
	_cleanup_free_ char *text = NULL;
	struct shvars vars = {};
	const char *reason = NULL;
	size_t len;
	int r = read_full_file(path, &text, &len, 1024 * 1024);
	if (r < 0)
		return r;
	for (size_t i = 0; context && context[i]; i++) {
		_cleanup_free_ char *name = xstrndup(context[i], strcspn(context[i], "="));
		const char *eq = strchr(context[i], '=');
		shvars_set(&vars, name, 0, eq ? eq + 1 : "");
	}
	r = conf_native_source(text, len, &vars, &reason);
	for (size_t i = 0; r > 0 && i < vars.n; i++)
		if (vars.v[i].idx == 0 && is_framework_var(vars.v[i].name) &&
		    !second_expansion_is_identity(vars.v[i].value)) {
			reason = "a value that the second expansion changes";
			r = 0;
		}
	if (r == 0) {
		log_debug("%s: read by bash (%s)", path, reason);
		shvars_done(&vars);
		r = read_with_bash(path, context, &vars);
	}
	for (size_t i = 0; r >= 0 && i < vars.n; i++) {
		if (vars.v[i].idx != 0 || !is_framework_var(vars.v[i].name))
			continue;
		int k = cb(vars.v[i].name, vars.v[i].value, userdata);
		if (k != 0)
			r = k;
	}
	shvars_done(&vars);
	return r < 0 ? r : 0;
}
