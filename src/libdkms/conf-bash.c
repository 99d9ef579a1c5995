// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms.conf files outside the native subset are sourced by bash in a child,
 * with dkms's semantics (see dkms-conf-reference). The script below is fixed
 * text: every value reaches it as a positional argument, never interpolated.
 * The child's output is cached by file identity and context, so a file with
 * a $(...) in it costs one bash run per kernel, not one per command. */
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "conf-internal.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

#define BEGIN_MARK "DKMS-AGENT-BEGIN\n"
#define VALUES_MARK "\001DKMS-AGENT-VALUES\001\n"
#define STDERR_MARK "\001DKMS-AGENT-STDERR\001\n"
#define CACHE_MAGIC "dkms-agent conf cache 2\n"

/* $1 file (canonical), $2..$10 the context, $11 the path as given, $12 the
 * variable list, $13 parallel_jobs, $14 "1" when tmp_location is defined, $15
 * its value, then (name, index, value) triples already set (overrides).
 * Like dkms, no `set -u`: an unset variable is empty. What bash says on
 * stderr is kept and printed last (an EXIT trap, so that it survives a shell
 * that dies), with the scratch file of the second expansion renamed. */
static const char script[] =
	"conf=$1 kernelver=$2 arch=$3 kernel_source_dir=$4 kernel_config=$5\n"
	"dkms_tree=$6 source_tree=$7 install_tree=$8 module=$9 module_version=${10}\n"
	"_given=${11} vars=${12} parallel_jobs=${13}\n"
	"if [ \"${14}\" = 1 ]; then tmp_location=${15}; else unset tmp_location; fi\n"
	"shift 15\n"
	"scratch=$(mktemp -d) || exit 3\n"
	"tmpfile=$scratch/lines\n"
	"trap '_e=$(cat \"$scratch/err\" 2>/dev/null); printf \"\\001DKMS-AGENT-STDERR\\001\\n%s\" "
	"\"${_e//\"$tmpfile\"/\"$conf (second expansion)\"}\"; rm -rf \"$scratch\"' EXIT\n"
	"exec 2>\"$scratch/err\"\n"
	"cd \"$(dirname -- \"$conf\")\" || exit 2\n"
	"unset $vars\n"
	"while [ $# -ge 3 ]; do printf -v \"$1[$2]\" %s \"$3\"; shift 3; done\n"
	"set -- \"$_given\"\n"
	"unset _given _e\n"
	"CR=$'\\r'\n"
	"(\n"
	"	exec >\"$tmpfile\"\n"
	"	. \"$conf\" >/dev/null\n"
	"	for _v in $vars; do\n"
	"		for _i in $(eval echo \\${!\"$_v\"[@]}); do\n"
	"			eval echo '$_v[$_i]=\\\"${'\"$_v\"'[$_i]%$CR}\\\"'\n"
	"		done\n"
	"	done\n"
	") </dev/null\n"
	"printf 'DKMS-AGENT-BEGIN\\n'\n"
	". \"$tmpfile\"\n"
	"printf '\\001DKMS-AGENT-VALUES\\001\\n'\n"
	"LC_ALL=C\n"
	"for _v in $vars; do\n"
	"	for _i in $(eval echo \\${!\"$_v\"[@]}); do\n"
	"		eval \"_val=\\${$_v[$_i]}\"\n"
	"		printf '%s %s %s:%s\\n' \"$_v\" \"$_i\" \"${#_val}\" \"$_val\"\n"
	"	done\n"
	"done\n"
	"exit 0\n";

/* Parses the child's output: BEGIN_MARK, what the second expansion printed,
 * VALUES_MARK, then "NAME INDEX LENGTH:VALUE\n" records (byte lengths, so
 * values may hold newlines), then STDERR_MARK and bash's stderr. Returns 0,
 * or -EBADMSG when it is malformed. */
static int parse_output(const char *out, int status, struct shvars *vars, char **ret_stdout,
			char **ret_stderr, int *ret_status)
{
	const char *p = startswith(out, BEGIN_MARK);
	const char *err = strstr(out, STDERR_MARK);
	*ret_stdout = *ret_stderr = NULL;
	if (err && err[strlen(STDERR_MARK)])
		*ret_stderr = xstrdup(err + strlen(STDERR_MARK));
	if (!p) {
		/* The shell died before the second expansion (it cannot, short of
		 * an exec or exit in the file): no values, what bash said kept. */
		if (!err || status == 0)
			goto bad;
		*ret_status = status;
		return 0;
	}
	const char *mark = strstr(p, VALUES_MARK);
	if (!mark) {
		/* The second expansion killed the shell (${x:?}): the reference
		 * prints what came before and fails. */
		if (status == 0)
			goto bad;
		*ret_stdout = err && err > p ? xstrndup(p, err - p) : *p ? xstrdup(p) : NULL;
		*ret_status = 1;
		return 0;
	}
	*ret_stdout = mark > p ? xstrndup(p, mark - p) : NULL;
	*ret_status = status;
	for (const char *q = mark + strlen(VALUES_MARK); *q && !startswith(q, STDERR_MARK);) {
		char name[64];
		unsigned idx;
		size_t vlen;
		int n = 0;
		if (sscanf(q, "%63[A-Za-z_] %u %zu:%n", name, &idx, &vlen, &n) != 3 || n == 0 ||
		    !conf_is_whitelisted(name) || strnlen(q + n, vlen + 1) < vlen ||
		    q[n + vlen] != '\n')
			goto bad;
		_cleanup_free_ char *val = xstrndup(q + n, vlen);
		shvars_set(vars, name, idx, val);
		q += n + vlen + 1;
	}
	return 0;
bad:
	free(TAKE_PTR(*ret_stdout));
	free(TAKE_PTR(*ret_stderr));
	return -EBADMSG;
}

static char *cache_key(const struct conf_ctx *cc)
{
	struct stat st;
	if (cc->base || stat(cc->realpath, &st) < 0)
		return NULL;
	return xasprintf(
		"%s\n%ju:%ju:%jd:%jd.%09ld\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s%s\n",
		cc->realpath, (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, (intmax_t)st.st_size,
		(intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, cc->path, cc->kernelver, cc->arch,
		cc->kernel_source_dir, cc->kernel_config, cc->dkms_tree, cc->source_tree,
		cc->install_tree, cc->module, cc->module_version, cc->parallel_jobs,
		cc->tmp_location ? "=" : "-", strempty(cc->tmp_location));
}

static char *cache_path(const char *cache_dir, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (const char *s = key; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return xasprintf("%s/conf-%016" PRIx64, cache_dir, h);
}

/* A valid cached result, or -errno (a corrupt or stale entry is a miss). */
static int cache_load(const char *file, const char *key, struct shvars *vars, char **ret_stdout,
		      char **ret_stderr, int *ret_status)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_full_file(file, &data, &len, 64 * 1024 * 1024);
	if (r < 0)
		return r;
	const char *p = startswith(data, CACHE_MAGIC);
	if (!p || !(p = startswith(p, key)))
		return -ESTALE;
	int status, n = 0;
	if (sscanf(p, "%d\n%n", &status, &n) != 1 || n == 0)
		return -EBADMSG;
	p += n;
	return parse_output(p, status, vars, ret_stdout, ret_stderr, ret_status);
}

static void cache_store(const char *cache_dir, const char *file, const char *key, const char *out,
			int status)
{
	size_t len = strlen(out);
	_cleanup_free_ char *head = xasprintf(CACHE_MAGIC "%s%d\n", key, status);
	size_t hl = strlen(head);
	_cleanup_free_ char *data = xmalloc(hl + len);
	memcpy(data, head, hl);
	memcpy(data + hl, out, len);
	int r = mkdir_p(cache_dir, 0755);
	if (r >= 0)
		r = write_file_atomic(file, data, hl + len, 0644);
	if (r < 0)
		log_debug_errno(r, "Could not cache bash's reading in %s: %m", file);
}

int conf_bash_eval(const struct conf_ctx *cc, const char *cache_dir, struct shvars *ret,
		   char **ret_stdout, char **ret_stderr, int *ret_status, bool *ret_cached)
{
	_cleanup_free_ char *key = cache_dir ? cache_key(cc) : NULL;
	_cleanup_free_ char *file = key ? cache_path(cache_dir, key) : NULL;
	_cleanup_free_ char *vars = strv_join((char **)conf_whitelist, " ");
	_cleanup_free_ char *out = NULL;
	_cleanup_strv_free_ char **argv = NULL;
	int r;

	*ret_cached = false;
	if (file) {
		r = cache_load(file, key, ret, ret_stdout, ret_stderr, ret_status);
		if (r >= 0) {
			*ret_cached = true;
			return 0;
		}
		shvars_done(ret);
		log_debug_errno(r, "No usable cached reading of %s: %m", cc->path);
	}

	const char *fixed[] = { "bash",
				"-c",
				script,
				"dkms-agent-conf",
				cc->realpath,
				cc->kernelver,
				cc->arch,
				cc->kernel_source_dir,
				cc->kernel_config,
				cc->dkms_tree,
				cc->source_tree,
				cc->install_tree,
				cc->module,
				cc->module_version,
				cc->path,
				vars,
				cc->parallel_jobs,
				cc->tmp_location ? "1" : "0",
				strempty(cc->tmp_location) };
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		strv_push(&argv, fixed[i]);
	for (size_t i = 0; cc->base && i < cc->base->n_vars; i++) {
		strv_push(&argv, cc->base->vars[i].name);
		strv_consume(&argv, xasprintf("%u", cc->base->vars[i].idx));
		strv_push(&argv, cc->base->vars[i].value);
	}

	/* Contained when the caller says so (module_load: the build user, the
	 * system read-only), and never without a time limit. */
	struct spawn_opts opts = {
		.out_fd = -1, .quiet = 1, .timeout_sec = cc->timeout_sec, .sandbox = cc->sandbox
	};
	r = spawn_capture(argv, &opts, &out);
	if (r < 0)
		return log_debug_errno(r, "Could not run bash for %s: %m", cc->path);
	int status = r;
	r = parse_output(out, status, ret, ret_stdout, ret_stderr, ret_status);
	if (r < 0) {
		shvars_done(ret);
		return log_debug_errno(r, "bash gave unexpected output for %s (exit %d)", cc->path,
				       status);
	}
	if (file)
		cache_store(cache_dir, file, key, out, status);
	return 0;
}
