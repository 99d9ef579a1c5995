// SPDX-License-Identifier: GPL-2.0-or-later
/* framework.conf reading. dkms 3.x sources these files with bash (no set -u);
 * most are a handful of NAME=value lines, served here without bash. */
#include <stdio.h>

#include "conf-internal.h"
#include "framework.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

/* The settings dkms reads from its framework files. */
static const char framework_vars[] =
	"dkms_tree source_tree install_tree tmp_location verbose symlink_modules "
	"sign_file mok_signing_key mok_certificate modprobe_on_install "
	"autoinstall_all_kernels parallel_jobs compress_gzip_opts compress_xz_opts "
	"compress_zstd_opts post_transaction";

/* Fixed text; the file path is $1, the variable list $2. Prints
 * "NAME LENGTH:VALUE\n" for each set variable (byte lengths). */
static const char script[] = ". \"$1\" >/dev/null 2>&1 </dev/null\n"
			     "LC_ALL=C\n"
			     "for _v in $2; do\n"
			     "	[ -n \"${!_v+set}\" ] || continue\n"
			     "	_val=${!_v}\n"
			     "	printf '%s %s:%s\\n' \"$_v\" \"${#_val}\" \"$_val\"\n"
			     "done\n";

static int read_with_bash(const char *path, struct shvars *vars)
{
	char *argv[] = { (char *)"bash",
			 (char *)"-c",
			 (char *)script,
			 (char *)"dkms-framework",
			 (char *)path,
			 (char *)framework_vars,
			 NULL };
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

int framework_read(const char *path, int (*cb)(const char *name, const char *value, void *userdata),
		   void *userdata)
{
	_cleanup_free_ char *text = NULL;
	struct shvars vars = {};
	const char *reason = NULL;
	size_t len;
	int r = read_full_file(path, &text, &len, 1024 * 1024);
	if (r < 0)
		return r;
	r = conf_native_source(text, len, &vars, &reason);
	if (r == 0) {
		log_debug("%s: read by bash (%s)", path, reason);
		shvars_done(&vars);
		r = read_with_bash(path, &vars);
	}
	for (size_t i = 0; r >= 0 && i < vars.n; i++) {
		if (vars.v[i].idx != 0)
			continue;
		int k = cb(vars.v[i].name, vars.v[i].value, userdata);
		if (k != 0)
			r = k;
	}
	shvars_done(&vars);
	return r < 0 ? r : 0;
}
