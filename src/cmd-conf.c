// SPDX-License-Identifier: GPL-2.0-or-later
/* `dkms-agent conf [-k KVER] [-a ARCH] [--source-dir DIR] [-m M] [-v V]
 *                  [--cache-dir DIR] [--explain] FILE`
 * The defaults are the reference tool's, not the host's, so that the output
 * can be compared with dkms-conf-reference line for line. */
#include <getopt.h>
#include <stdio.h>

#include "cmd-conf.h"
#include "conf.h"
#include "log.h"

static void usage(FILE *f)
{
	fputs("usage: dkms-agent conf [-k KERNELVER] [-a ARCH] [--source-dir DIR] [-m MODULE]\n"
	      "                       [-v VERSION] [--cache-dir DIR] [--explain] DKMS_CONF\n",
	      f);
}

int cmd_conf(struct dk_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernelver", required_argument, NULL, 'k' },
		{ "arch", required_argument, NULL, 'a' },
		{ "source-dir", required_argument, NULL, 's' },
		{ "module", required_argument, NULL, 'm' },
		{ "module-version", required_argument, NULL, 'v' },
		{ "cache-dir", required_argument, NULL, 'C' },
		{ "explain", no_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct dk_conf_env env = { .dkms_tree = "/var/lib/dkms",
				   .source_tree = "/usr/src",
				   .install_tree = "/lib/modules" };
	bool explain = ctx && ctx->verbose > 0;
	_cleanup_conf_free_ struct dk_conf *c = NULL;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+k:a:s:m:v:h", opts, NULL)) >= 0) {
		switch (opt) {
		case 'k':
			env.kernelver = optarg;
			break;
		case 'a':
			env.arch = optarg;
			break;
		case 's':
			env.kernel_source_dir = optarg;
			break;
		case 'm':
			env.module = optarg;
			break;
		case 'v':
			env.module_version = optarg;
			break;
		case 'C':
			env.cache_dir = optarg;
			break;
		case 'E':
			explain = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	r = conf_read(path, &env, &c);
	if (r < 0) {
		errno = -r;
		fprintf(stderr, "dkms-agent conf: cannot read '%s': %m\n", path);
		return 2;
	}
	conf_print(c, stdout);
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
