// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms-agent: one binary, also answering as `dkms`. Parses the options dkms
 * 3.x knows, then dispatches to a verb. */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>

#include "cmd-agent.h"
#include "cmd-conf.h"
#include "cmd-dkms.h"
#include "cmd-initramfs.h"
#include "ctx.h"
#include "log.h"
#include "validate.h"

#define VERSION "0.1"

struct verb {
	const char *name;
	int (*fn)(struct dk_ctx *ctx, int argc, char **argv);
	bool raw; /* parses its own options */
	const char *help;
};

static int cmd_help(struct dk_ctx *ctx, int argc, char **argv);

static const struct verb verbs[] = {
	{ "add", cmd_add, false, "[M/V | -m M -v V | DIR]  register a module source" },
	{ "build", cmd_build, false, "[M/V] [-k KVER[/ARCH]]... [--force]  build for kernels" },
	{ "unbuild", cmd_unbuild, false, "[M/V] [-k KVER]... [--all]  remove built modules" },
	{ "install", cmd_install, false, "[M/V] [-k KVER]... [--force]  build if needed, install" },
	{ "uninstall", cmd_uninstall, false, "[M/V] [-k KVER]... [--all]  take out of kernels" },
	{ "remove", cmd_remove, false,
	  "[M/V] [-k KVER]... [--all]  uninstall, unbuild, unregister" },
	{ "status", cmd_status, false, "[M[/V]] [-k KVER]  show the state of every module" },
	{ "autoinstall", cmd_autoinstall, false,
	  "[-k KVER]... [--all]  build+install AUTOINSTALL modules" },
	{ "check", cmd_check, false,
	  "[-k KVER | --all-kernels] [--json]  explain every kernel's state" },
	{ "boot", cmd_boot, false, "[-k KVER]  early-boot repair for the running kernel" },
	{ "kernel-install", cmd_kernel_install, false,
	  "add|remove KVER [DIR [IMAGE]]  kernel-install mode" },
	{ "early-modules", cmd_early_modules, false,
	  "-k KVER  module files that belong in early boot" },
	{ "conf", cmd_conf, true,
	  "[-k KVER] [-a ARCH] [--source-dir DIR] FILE  print a dkms.conf as dkms reads it" },
	{ "initramfs", cmd_initramfs, true,
	  "list|has|append|find|detect|regenerate  inspect and update initramfs images" },
	{ "help", cmd_help, false, "  this help" },
};

static int cmd_help(struct dk_ctx *ctx, int argc, char **argv)
{
	printf("Usage: dkms-agent [--root DIR] VERB [OPTIONS]\n"
	       "       dkms VERB [OPTIONS]      (the dkms 3.x command line)\n\nVerbs:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		printf("  %-15s %s\n", verbs[i].name, verbs[i].help);
	printf("\nOptions: -m M -v V -k KVER[/ARCH] -a ARCH --all --force -j N --kernelsourcedir DIR\n"
	       "         --dkmstree DIR --sourcetree DIR --installtree DIR --no-depmod --no-initramfs\n"
	       "         --root DIR --json --all-kernels --root-device DEV --verbose -q -V\n");
	return 0;
}

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

enum {
	OPT_ROOT = 256,
	OPT_DKMSTREE,
	OPT_SOURCETREE,
	OPT_INSTALLTREE,
	OPT_KSRC,
	OPT_NO_DEPMOD,
	OPT_NO_INITRAMFS,
	OPT_JSON,
	OPT_ALL_KERNELS,
	OPT_FORCE,
	OPT_ALL,
	OPT_VERBOSE,
	OPT_IGNORED,
	OPT_IGNORED_ARG,
	OPT_ROOT_DEVICE,
};

static const struct option options[] = {
	{ "root", required_argument, NULL, OPT_ROOT },
	/* dkms's long spellings: Debian's kernel hooks run "autoinstall --kernelver K". */
	{ "kernelver", required_argument, NULL, 'k' },
	{ "arch", required_argument, NULL, 'a' },
	{ "dkmstree", required_argument, NULL, OPT_DKMSTREE },
	{ "sourcetree", required_argument, NULL, OPT_SOURCETREE },
	{ "installtree", required_argument, NULL, OPT_INSTALLTREE },
	{ "kernelsourcedir", required_argument, NULL, OPT_KSRC },
	{ "no-depmod", no_argument, NULL, OPT_NO_DEPMOD },
	{ "no-initramfs", no_argument, NULL, OPT_NO_INITRAMFS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "root-device", required_argument, NULL, OPT_ROOT_DEVICE },
	{ "all-kernels", no_argument, NULL, OPT_ALL_KERNELS },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "config", required_argument, NULL, 'c' },
	/* Accepted for compatibility with dkms, without effect here. */
	{ "no-prepare-kernel", no_argument, NULL, OPT_IGNORED },
	{ "no-clean-kernel", no_argument, NULL, OPT_IGNORED },
	{ "force-version-override", no_argument, NULL, OPT_IGNORED },
	{ "modprobe-on-install", no_argument, NULL, OPT_IGNORED },
	{ "directive", required_argument, NULL, OPT_IGNORED_ARG },
	{ "templatekernel", required_argument, NULL, OPT_IGNORED_ARG },
	{ "archive", required_argument, NULL, OPT_IGNORED_ARG },
	{ "rpm_safe_upgrade", no_argument, NULL, OPT_IGNORED },
	{}
};

static void set(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* Parses dkms-style options anywhere on the line; returns positional
 * arguments in *ret (the verb first), or an exit code >= 0 to stop with. */
static int parse_options(struct dk_ctx *ctx, int argc, char **argv, char ***ret)
{
	char **pos = xcalloc(1, sizeof(char *));
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "-m:v:k:a:j:qVhc:", options, NULL)) >= 0) {
		switch (c) {
		case 1: strv_push(&pos, optarg); break;
		case 'm': set(&ctx->module, optarg); break;
		case 'v': set(&ctx->version, optarg); break;
		case 'k': strv_push(&ctx->kernels, optarg); break;
		case 'a': set(&ctx->arch, optarg); break;
		case 'j': ctx->jobs = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
		case 'q': ctx->quiet = true; break;
		case 'c': break;
		case 'V':
			printf("dkms-agent %s (dkms 3.x compatible)\n", VERSION);
			strv_free(pos);
			return 0;
		case 'h': strv_free(pos); return cmd_help(ctx, 0, NULL);
		case OPT_ROOT: ctx_set_root(ctx, optarg); break;
		case OPT_DKMSTREE: set(&ctx->dkms_tree, optarg); break;
		case OPT_SOURCETREE: set(&ctx->source_tree, optarg); break;
		case OPT_INSTALLTREE: set(&ctx->install_tree, optarg); break;
		case OPT_KSRC: set(&ctx->kernel_source_dir, optarg); break;
		case OPT_NO_DEPMOD: ctx->no_depmod = true; break;
		case OPT_NO_INITRAMFS: ctx->no_initramfs = true; break;
		case OPT_JSON: ctx->json = true; break;
		case OPT_ROOT_DEVICE: set(&ctx->root_device, optarg); break;
		case OPT_ALL_KERNELS: ctx->all_kernels = true; break;
		case OPT_FORCE: ctx->force = true; break;
		case OPT_ALL: ctx->all = true; break;
		case OPT_VERBOSE: ctx->verbose++; break;
		case OPT_IGNORED:
		case OPT_IGNORED_ARG: break;
		default: strv_free(pos); return 1;
		}
	}
	*ret = pos;
	return -1;
}

static int run(int argc, char **argv)
{
	_cleanup_(ctx_done) struct dk_ctx ctx;
	ctx_init(&ctx);
	/* Framework settings first; the command line overrides them. */
	int i = 1;
	for (; i < argc; i++) {
		if (streq(argv[i], "--root") && i + 1 < argc)
			ctx_set_root(&ctx, argv[++i]);
		else if (startswith(argv[i], "--root="))
			ctx_set_root(&ctx, argv[i] + 7);
		else
			break;
	}
	ctx_load_framework(&ctx);
	if (i < argc && streq(argv[i], "dkms"))
		i++;
	const struct verb *raw = i < argc ? find_verb(argv[i]) : NULL;
	if (raw && raw->raw)
		return raw->fn(&ctx, argc - i, argv + i);

	_cleanup_strv_free_ char **pos = NULL;
	int r = parse_options(&ctx, argc, argv, &pos);
	if (r >= 0)
		return r;
	if (ctx.quiet)
		log_set_level(LOG_WARNING);
	if (ctx.verbose)
		log_set_level(LOG_DEBUG);
	char **p = pos;
	if (p[0] && streq(p[0], "dkms"))
		p++;
	if (!p[0]) {
		log_error("No action was specified.");
		cmd_help(&ctx, 0, NULL);
		return 1;
	}
	const struct verb *v = find_verb(p[0]);
	if (!v) {
		log_error("Unknown action: %s (see --help).", p[0]);
		return 1;
	}
	/* Names become paths: refused at the door, before anything is written. */
	_cleanup_free_ char *bad = NULL;
	if (validate_args(ctx.module, ctx.version, ctx.arch, ctx.kernels, &bad) < 0) {
		log_error("%s", bad);
		return 2;
	}
	return v->fn(&ctx, (int)strv_length(p) - 1, p + 1);
}

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "");
	log_setup_auto();
	return run(argc, argv);
}
