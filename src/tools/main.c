// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms-agent: one binary, also answering as `dkms`. Parses the options dkms
 * 3.x knows (both --opt VALUE and --opt=VALUE), reads the positional
 * arguments as dkms does, checks their combinations as dkms does, then
 * dispatches to a verb. */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>

#include "cmd-agent.h"
#include "cmd-cache.h"
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
	unsigned flags;
	const char *help;
};

enum {
	V_RAW = 1 << 0,	 /* parses its own options */
	V_DKMS = 1 << 1, /* a dkms verb: positional arguments read as dkms does */
};

static int cmd_help(struct dk_ctx *ctx, int argc, char **argv);

static const struct verb verbs[] = {
	{ "add", cmd_add, V_DKMS,
	  "[M/V | -m M -v V | DIR | DIR/dkms.conf | TARBALL]  register a source" },
	{ "build", cmd_build, V_DKMS,
	  "[M/V | DIR | DIR/dkms.conf] [-k KVER[/ARCH]]... [--force]  build" },
	{ "unbuild", cmd_unbuild, V_DKMS, "[M/V] [-k KVER]... [--all]  remove built modules" },
	{ "install", cmd_install, V_DKMS,
	  "[M/V | DIR] [-k KVER]... [--force]  build if needed, install" },
	{ "uninstall", cmd_uninstall, V_DKMS, "[M/V] [-k KVER]... [--all]  take out of kernels" },
	{ "remove", cmd_remove, V_DKMS,
	  "[M/V] [-k KVER]... [--all]  uninstall, unbuild, unregister" },
	{ "status", cmd_status, V_DKMS, "[M[/V]] [-k KVER]  show the state of every module" },
	{ "autoinstall", cmd_autoinstall, V_DKMS, "[-k KVER]  build+install AUTOINSTALL modules" },
	{ "match", cmd_match, V_DKMS, "--templatekernel K -k KVER  install what K has, for KVER" },
	{ "mktarball", cmd_mktarball, V_DKMS,
	  "M/V [-k KVER]... [--source-only|--binaries-only] [--archive FILE]  make a dkms tarball" },
	{ "ldtarball", cmd_ldtarball, V_DKMS, "TARBALL [--force]  load a dkms tarball" },
	{ "generate_mok", cmd_generate_mok, V_DKMS,
	  "  create the MOK signing key and certificate" },
	{ "kernel_preinst", cmd_kernel_preinst, V_DKMS, "-k KVER  before a kernel is installed" },
	{ "kernel_postinst", cmd_kernel_postinst, V_DKMS, "-k KVER  after a kernel is installed" },
	{ "kernel_prerm", cmd_kernel_prerm, V_DKMS, "-k KVER  before a kernel is removed" },
	{ "check", cmd_check, 0,
	  "[-k KVER | --all-kernels] [--json]  explain every kernel's state" },
	{ "boot", cmd_boot, 0, "[-k KVER]  early-boot repair for the running kernel" },
	{ "kernel-install", cmd_kernel_install, 0,
	  "add|remove KVER [DIR [IMAGE]]  kernel-install mode" },
	{ "early-modules", cmd_early_modules, 0,
	  "-k KVER  module files that belong in early boot" },
	{ "conf", cmd_conf, V_RAW,
	  "[-k KVER] [-a ARCH] [--source-dir DIR] FILE  print a dkms.conf as dkms reads it" },
	{ "initramfs", cmd_initramfs, V_RAW,
	  "list|has|append|find|detect|regenerate[-appended]  inspect and update initramfs images" },
	{ "cache", cmd_cache, V_RAW,
	  "list [--json] | prune [--max-size SIZE] | clear  the build cache" },
	{ "help", cmd_help, 0, "  this help" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: dkms-agent [--root DIR] VERB [OPTIONS]\n"
		   "       dkms VERB [OPTIONS]      (the dkms 3.x command line)\n\nVerbs:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		fprintf(f, "  %-15s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f,
		"\nOptions: -m M[/V] -v V -k KVER[/ARCH] -a ARCH -c DKMS.CONF --all --force\n"
		"         --force-version-override --config KERNEL-.CONFIG --directive NAME=VALUE\n"
		"         --templatekernel K --archive FILE --binaries-only --source-only\n"
		"         --kernelsourcedir DIR --dkmstree DIR --sourcetree DIR --installtree DIR\n"
		"         --no-depmod --no-initrd --modprobe-on-install -j N --verbose -q --debug -V\n"
		"         --root DIR --no-initramfs --json --all-kernels --root-device DEV\n"
		"Every long option takes its value as --opt VALUE or --opt=VALUE.\n");
}

static int cmd_help(struct dk_ctx *ctx, int argc, char **argv)
{
	usage(stdout);
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
	OPT_NO_INITRD,
	OPT_JSON,
	OPT_ALL_KERNELS,
	OPT_FORCE,
	OPT_FORCE_VERSION_OVERRIDE,
	OPT_ALL,
	OPT_VERBOSE,
	OPT_DEBUG,
	OPT_CONFIG,
	OPT_DIRECTIVE,
	OPT_TEMPLATEKERNEL,
	OPT_ARCHIVE,
	OPT_BINARIES_ONLY,
	OPT_SOURCE_ONLY,
	OPT_MODPROBE_ON_INSTALL,
	OPT_NOOP,
	OPT_ROOT_DEVICE,
};

static const struct option options[] = {
	{ "module", required_argument, NULL, 'm' },
	{ "moduleversion", required_argument, NULL, 'v' },
	{ "kernelver", required_argument, NULL, 'k' },
	{ "arch", required_argument, NULL, 'a' },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "dkmstree", required_argument, NULL, OPT_DKMSTREE },
	{ "sourcetree", required_argument, NULL, OPT_SOURCETREE },
	{ "installtree", required_argument, NULL, OPT_INSTALLTREE },
	{ "kernelsourcedir", required_argument, NULL, OPT_KSRC },
	{ "no-depmod", no_argument, NULL, OPT_NO_DEPMOD },
	{ "no-initramfs", no_argument, NULL, OPT_NO_INITRAMFS },
	{ "no-initrd", no_argument, NULL, OPT_NO_INITRD },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "root-device", required_argument, NULL, OPT_ROOT_DEVICE },
	{ "all-kernels", no_argument, NULL, OPT_ALL_KERNELS },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "force-version-override", no_argument, NULL, OPT_FORCE_VERSION_OVERRIDE },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "directive", required_argument, NULL, OPT_DIRECTIVE },
	{ "templatekernel", required_argument, NULL, OPT_TEMPLATEKERNEL },
	{ "archive", required_argument, NULL, OPT_ARCHIVE },
	{ "binaries-only", no_argument, NULL, OPT_BINARIES_ONLY },
	{ "source-only", no_argument, NULL, OPT_SOURCE_ONLY },
	{ "modprobe-on-install", no_argument, NULL, OPT_MODPROBE_ON_INSTALL },
	/* Accepted as dkms 3.x accepts them, without effect (dkms too). */
	{ "no-prepare-kernel", no_argument, NULL, OPT_NOOP },
	{ "no-clean-kernel", no_argument, NULL, OPT_NOOP },
	{ "rpm_safe_upgrade", no_argument, NULL, OPT_NOOP },
	{ "symlink-modules", no_argument, NULL, OPT_NOOP },
	{}
};

static void set(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* dkms's "M/V" (the first slash splits), else just M. */
static void set_module_version(struct dk_ctx *ctx, const char *mv)
{
	const char *s = strchr(mv, '/');
	if (s) {
		/* As dkms's ^([^/]*)/(.*)$: "/x" is an empty module (refused later). */
		free(ctx->module);
		ctx->module = s == mv ? NULL : xstrndup(mv, s - mv);
		set(&ctx->version, s + 1);
	} else
		set(&ctx->module, mv);
}

struct cmdline {
	char **pos;    /* positional arguments, in order */
	char **arches; /* every -a */
	bool bad_option;
};

static int parse_options(struct dk_ctx *ctx, int argc, char **argv, struct cmdline *cl)
{
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "-m:v:k:a:j:qVhc:", options, NULL)) >= 0) {
		switch (c) {
		case 1: strv_push(&cl->pos, optarg); break;
		case 'm': set_module_version(ctx, optarg); break;
		case 'v': set(&ctx->version, optarg); break;
		case 'k': strv_push(&ctx->kernels, optarg); break;
		case 'a': strv_push(&cl->arches, optarg); break;
		case 'j': ctx->jobs = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
		case 'q': ctx->quiet = true; break;
		case 'c': set(&ctx->conf_path, optarg); break;
		case 'V': printf("dkms-agent %s (dkms 3.x compatible)\n", VERSION); return 0;
		case 'h': return cmd_help(ctx, 0, NULL);
		case OPT_ROOT: ctx_set_root(ctx, optarg); break;
		case OPT_DKMSTREE: set(&ctx->dkms_tree, optarg); break;
		case OPT_SOURCETREE: set(&ctx->source_tree, optarg); break;
		case OPT_INSTALLTREE: set(&ctx->install_tree, optarg); break;
		case OPT_KSRC: set(&ctx->kernel_source_dir, optarg); break;
		case OPT_NO_DEPMOD: ctx->no_depmod = true; break;
		case OPT_NO_INITRAMFS: ctx->no_initramfs = true; break;
		case OPT_NO_INITRD: ctx->no_initrd = ctx->no_initramfs = true; break;
		case OPT_JSON: ctx->json = true; break;
		case OPT_ROOT_DEVICE: set(&ctx->root_device, optarg); break;
		case OPT_ALL_KERNELS: ctx->all_kernels = true; break;
		case OPT_FORCE: ctx->force = true; break;
		case OPT_FORCE_VERSION_OVERRIDE: ctx->force_version_override = true; break;
		case OPT_ALL: ctx->all = true; break;
		case OPT_VERBOSE: ctx->verbose++; break;
		case OPT_DEBUG: log_set_level(LOG_DEBUG); break;
		case OPT_CONFIG: set(&ctx->kernel_config, optarg); break;
		case OPT_DIRECTIVE: strv_push(&ctx->directives, optarg); break;
		case OPT_TEMPLATEKERNEL: set(&ctx->template_kernel, optarg); break;
		case OPT_ARCHIVE: set(&ctx->archive, optarg); break;
		case OPT_BINARIES_ONLY: ctx->binaries_only = true; break;
		case OPT_SOURCE_ONLY: ctx->source_only = true; break;
		case OPT_MODPROBE_ON_INSTALL: ctx->modprobe_on_install = true; break;
		case OPT_NOOP: break;
		case ':':
			log_error("Option %s needs a value.", argv[optind - 1]);
			cl->bad_option = true;
			break;
		default:
			log_error("Unknown option: %s", argv[optind - 1]);
			cl->bad_option = true;
			break;
		}
	}
	if (cl->bad_option) {
		usage(stderr);
		return 2; /* as dkms */
	}
	return -1;
}

/* The positional arguments of a dkms verb, read as dkms reads them: a
 * dkms.conf file or a directory holding one names a source; another existing
 * file is a tarball; else the first is M/V. */
static void dkms_positionals(struct dk_ctx *ctx, char **args)
{
	for (size_t i = 0; args && args[i]; i++) {
		const char *a = args[i];
		_cleanup_free_ char *conf = path_join(a, "dkms.conf");
		if (endswith(a, "dkms.conf") && path_is_reg(a)) {
			_cleanup_free_ char *d = xstrndup(a, strlen(a) - strlen("dkms.conf"));
			set(&ctx->source_dir_arg, isempty(d) ? "." : d);
		} else if (path_is_dir(a) && path_is_reg(conf))
			set(&ctx->source_dir_arg, a);
		else if (path_is_reg(a))
			set(&ctx->archive, a);
		else if (!ctx->module)
			set_module_version(ctx, a);
		else
			log_warning("I do not know how to handle %s.", a);
	}
}

/* The combinations dkms refuses before any verb runs, with its exit codes. */
static int check_combinations(struct dk_ctx *ctx, char **arches)
{
	size_t na = strv_length(arches), nk = strv_length(ctx->kernels);
	if (ctx->binaries_only && ctx->source_only)
		return log_error(
			       "You have specified both --binaries-only and --source-only. You cannot do this."),
		       8;
	if (na > 1 && na != nk)
		return log_error(
			       "If more than one arch is specified on the command line, then there must be an equal number of kernel versions also specified (1:1 relationship)."),
		       1;
	if (nk && ctx->all)
		return log_error(
			       "You cannot specify a kernel version and also specify --all on the command line."),
		       2;
	if (na && ctx->all)
		return log_error(
			       "You cannot specify an arch and also specify --all on the command line."),
		       3;
	if (na == 1)
		set(&ctx->arch, arches[0]);
	for (size_t i = 0; na > 1 && i < nk; i++)
		if (!strchr(ctx->kernels[i], '/')) {
			char *ka = xasprintf("%s/%s", ctx->kernels[i], arches[i]);
			free(ctx->kernels[i]);
			ctx->kernels[i] = ka;
		}
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
	if (raw && (raw->flags & V_RAW))
		return raw->fn(&ctx, argc - i, argv + i);

	struct cmdline cl = { 0 };
	int r = parse_options(&ctx, argc, argv, &cl);
	_cleanup_strv_free_ char **pos = cl.pos, **arches = cl.arches;
	if (r >= 0)
		return r;
	if (ctx.quiet)
		log_set_level(LOG_WARNING);
	if (ctx.verbose && log_get_level() < LOG_INFO)
		log_set_level(LOG_INFO);
	/* The verb: the first positional argument naming one (dkms takes its
	 * action from anywhere on the line). */
	const struct verb *v = NULL;
	size_t at = 0;
	for (; pos && pos[at]; at++) {
		if (streq(pos[at], "dkms") && at == 0)
			continue;
		v = find_verb(pos[at]);
		if (v || !at || !streq(pos[0], "dkms"))
			break;
	}
	if (!pos || !pos[at]) {
		log_error("No action was specified.");
		usage(stderr);
		return 1;
	}
	if (!v) {
		log_error("Unknown action: %s", pos[at]);
		usage(stderr);
		return 1;
	}
	char **rest = pos + at + 1;
	if (v->flags & V_DKMS) {
		for (char **p = rest; *p; p++)
			if (find_verb(*p) && (find_verb(*p)->flags & V_DKMS))
				return log_error("Cannot specify more than one action."), 4;
		dkms_positionals(&ctx, rest);
		r = check_combinations(&ctx, arches);
		if (r >= 0)
			return r;
	}
	/* Names become paths: refused at the door, before anything is written. */
	_cleanup_free_ char *bad = NULL;
	/* Without a module the verb says so (dkms: 1) before any name is judged. */
	if (validate_args(ctx.module, ctx.module ? ctx.version : NULL, ctx.arch, ctx.kernels,
			  &bad) < 0) {
		log_error("%s", bad);
		return 2;
	}
	if (!(v->flags & V_DKMS))
		return v->fn(&ctx, (int)strv_length(rest), rest);
	return v->fn(&ctx, 0, NULL);
}

int main(int argc, char **argv)
{
	/* setlocale() alone costs more than the boot fast path (~165,000
	 * instructions): boot sets it once it has work to do. */
	bool boot = false;
	for (int i = 1; i < argc && !boot; i++)
		boot = streq(argv[i], "boot");
	if (!boot)
		setlocale(LC_ALL, "");
	log_setup_auto();
	return run(argc, argv);
}
