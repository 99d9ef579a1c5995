// SPDX-License-Identifier: GPL-2.0-or-later
/* `dkms-agent conf [-k KVER] [-a ARCH] [--source-dir DIR] [-m M] [-v V] [-j JOBS]
 *                  [--cache-dir DIR] [--explain] FILE`
 * The defaults are the reference tool's, not the host's, so that the output
 * can be compared with dkms-conf-reference line for line. */
#include <getopt.h>
#include <stdio.h>

#include "cmd-conf.h"
#include "conf.h"
#include "log.h"
#include "pkg.h"

static void usage(FILE *f)
{
	fputs("usage: dkms-agent conf [-k KERNELVER] [-a ARCH] [--source-dir DIR] [-m MODULE]\n"
	      "                       [-v VERSION] [-j JOBS] [--cache-dir DIR] [--explain] [--check]\n"
	      "                       [--etc-dkms DIR] DKMS_CONF\n"
	      "  --check   validate as dkms's read_conf does (exit 8 on a bad file)\n",
	      f);
}

/* --check: pkg_load's verdict, its warnings on stderr, exit 8 like dkms's
 * "bad conf" when the file does not pass. */
static int check_pkg(const char *path, const struct dk_conf_env *env, const char *etc_dkms)
{
	struct dk_pkg_env penv = { .conf = *env, .etc_dkms = etc_dkms };
	struct dk_pkg *p = NULL;
	_cleanup_free_ char *err = NULL;
	if (!penv.conf.kernelver)
		penv.conf.kernelver = "6.1.0-0-amd64";
	if (!penv.conf.arch)
		penv.conf.arch = "x86_64";
	int r = pkg_load(path, &penv, &p, &err);
	if (r == -EINVAL) {
		fprintf(stderr, "%s\n", err);
		return 8;
	}
	if (r < 0) {
		fprintf(stderr, "dkms-agent conf: %s\n", err ? err : path);
		return 2;
	}
	for (size_t i = 0; p->warnings && p->warnings[i]; i++)
		fprintf(stderr, "%s\n", p->warnings[i]);
	printf("%s/%s: %zu module(s), make: %s%s\n", p->name, p->version, p->n_modules,
	       p->make_command, p->make_is_default ? " (default)" : "");
	_cleanup_free_ char *why =
		pkg_exclusion(p, penv.conf.kernelver, penv.conf.arch, penv.conf.kernel_config);
	if (why)
		printf("excluded: %s\n", why);
	pkg_free(p);
	return 0;
}

int cmd_conf(struct dk_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "kernelver", required_argument, NULL, 'k' },
					      { "arch", required_argument, NULL, 'a' },
					      { "source-dir", required_argument, NULL, 's' },
					      { "module", required_argument, NULL, 'm' },
					      { "module-version", required_argument, NULL, 'v' },
					      { "jobs", required_argument, NULL, 'j' },
					      { "cache-dir", required_argument, NULL, 'C' },
					      { "explain", no_argument, NULL, 'E' },
					      { "check", no_argument, NULL, 'c' },
					      { "etc-dkms", required_argument, NULL, 'e' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	struct dk_conf_env env = { .dkms_tree = "/var/lib/dkms",
				   .source_tree = "/usr/src",
				   .install_tree = "/lib/modules" };
	bool explain = ctx && ctx->verbose > 0, check = false;
	const char *etc_dkms = NULL;
	_cleanup_conf_free_ struct dk_conf *c = NULL;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+k:a:s:m:v:j:h", opts, NULL)) >= 0) {
		switch (opt) {
		case 'k': env.kernelver = optarg; break;
		case 'a': env.arch = optarg; break;
		case 's': env.kernel_source_dir = optarg; break;
		case 'm': env.module = optarg; break;
		case 'v': env.module_version = optarg; break;
		case 'j': env.parallel_jobs = optarg; break;
		case 'C': env.cache_dir = optarg; break;
		case 'E': explain = true; break;
		case 'c': check = true; break;
		case 'e': etc_dkms = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	if (check)
		return check_pkg(path, &env, etc_dkms);
	r = conf_read(path, &env, &c);
	if (r < 0) {
		errno = -r;
		fprintf(stderr, "dkms-agent conf: cannot read '%s': %m\n", path);
		return 2;
	}
	conf_print(c, stdout);
	/* What bash said while sourcing (dkms discards it; it is why a value
	 * is missing when the file has an error). */
	if (c->bash_stderr)
		fputs(c->bash_stderr, stderr);
	if (explain) {
		if (!c->used_bash)
			fprintf(stderr, "%s: read by the native parser\n", path);
		else
			fprintf(stderr, "%s: read by bash%s (native parser declined: %s)\n", path,
				c->from_cache ? ", from the cache" : "", strempty(c->bash_reason));
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return 2;
	return c->status;
}
