// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "buildenv.h"
#include "chase.h"
#include "log.h"
#include "script.h"
#include "sign.h"
#include "spawn.h"

void script_vars_fill(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		      const char *arch, const char *ksrc, struct script_vars *v, char ***ret_own)
{
	char **own = NULL;
	strv_consume(&own, path_join(ksrc, ".config"));
	strv_consume(&own, ctx->jobs > 0 ? xasprintf("%d", ctx->jobs) : xstrdup(""));
	*v = (struct script_vars){
		.kernelver = kver,
		.arch = arch,
		.kernel_source_dir = ksrc,
		.kernel_config = own[0],
		.dkms_tree = ctx->dkms_tree,
		.source_tree = ctx->source_tree,
		.install_tree = ctx->install_tree,
		.tmp_location = ctx->tmp_location,
		.module = pkg->name,
		.module_version = pkg->version,
		.parallel_jobs = own[1],
	};
	*ret_own = own;
}

static bool in_path(const char *prog)
{
	if (isempty(prog))
		return false;
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	const char *path = getenv("PATH");
	_cleanup_strv_free_ char **dirs = strv_split(path ? path : "/usr/bin:/bin", ":");
	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *p = path_join(dirs[i], prog);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

char **script_env(const char *kconfig, bool build)
{
	char **env = NULL;
	static const char *const unset[] = { "CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS" };
	for (size_t i = 0; i < ELEMENTSOF(unset); i++)
		strv_push(&env, unset[i]);
	if (!build || !kconfig)
		return env;
	_cleanup_free_ char *text = kconfig_get(kconfig, "CONFIG_CC_VERSION_TEXT");
	_cleanup_free_ char *clang = kconfig_get(kconfig, "CONFIG_CC_IS_CLANG");
	_cleanup_free_ char *lld = kconfig_get(kconfig, "CONFIG_LD_IS_LLD");
	_cleanup_free_ char *cc = NULL;
	if (text)
		cc = xstrndup(text, strcspn(text, " "));
	if (clang && streq(clang, "y") && in_path("clang")) {
		free(cc);
		cc = xstrdup("clang");
	}
	if (cc && in_path(cc)) {
		strv_consume(&env, xasprintf("CC=%s", cc));
		strv_consume(&env, xasprintf("KERNEL_CC=%s", cc));
	}
	if (lld && streq(lld, "y") && in_path("ld.lld")) {
		strv_push(&env, "LD=ld.lld");
		strv_push(&env, "KERNEL_LD=ld.lld");
	}
	return env;
}

char **script_argv(const char *dir, const char *line)
{
	if (isempty(line))
		return NULL;
	char **argv = strv_split(line, " \t\n");
	if (!argv[0]) {
		strv_free(argv);
		return NULL;
	}
	char *exe = path_join(dir, argv[0]);
	free(argv[0]);
	argv[0] = exe;
	return argv;
}

/* Fixed text; the command is $1, the variables follow in struct order. */
static const char shell_wrapper[] =
	"_dkms_cmd=$1 kernelver=$2 arch=$3 kernel_source_dir=$4 kernel_config=$5\n"
	"dkms_tree=$6 source_tree=$7 install_tree=$8 tmp_location=$9 module=${10}\n"
	"module_version=${11} parallel_jobs=${12}\n"
	"shift 12\n"
	"eval \"$_dkms_cmd\"\n";

char **script_shell_argv(const struct script_vars *v, const char *cmd)
{
	const char *args[] = { "/bin/bash",
			       "-c",
			       shell_wrapper,
			       "dkms",
			       cmd,
			       v->kernelver,
			       v->arch,
			       v->kernel_source_dir,
			       v->kernel_config,
			       v->dkms_tree,
			       v->source_tree,
			       v->install_tree,
			       v->tmp_location,
			       v->module,
			       v->module_version,
			       v->parallel_jobs };
	char **argv = NULL;
	for (size_t i = 0; i < ELEMENTSOF(args); i++)
		strv_push(&argv, strempty(args[i]));
	return argv;
}

int script_run(const struct buildenv *env, int dir_fd, const char *view_dir, const char *what,
	       const char *line, char *const *extra_env, int out_fd)
{
	_cleanup_strv_free_ char **words = isempty(line) ? NULL : strv_split(line, " \t\n");
	if (!words || !words[0])
		return 0;
	/* Looked at by fd beneath its directory: no link leads root's look
	 * elsewhere (the build directory is the build user's). */
	_cleanup_close_ int fd = chase(dir_fd, words[0], 0, O_PATH, NULL);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
		if (out_fd >= 0)
			dprintf(out_fd, "Warning: The %s script is not executable.\n", what);
		else
			log_warning("The %s script is not executable: %s", what, words[0]);
		return 0;
	}
	if (out_fd >= 0)
		dprintf(out_fd, "Running the %s script: %s\n", what, line);
	else
		log_info("Running the %s script: %s", what, line);
	_cleanup_strv_free_ char **argv = script_argv(view_dir, line);
	struct spawn_opts o = buildenv_opts(env, view_dir, out_fd, extra_env);
	o.quiet = 0;
	int r = spawn_wait(argv, &o);
	if (r == -ETIME && out_fd >= 0)
		dprintf(out_fd,
			"The %s script was killed after %u s with everything it started "
			"(build_timeout= in /etc/dkms-agent.conf)\n",
			what, env->timeout_sec);
	else if (r == -ETIME)
		log_warning("The %s script was killed after %u s (build_timeout=)", what,
			    env->timeout_sec);
	return r;
}

int script_run_source(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *what,
		      const char *line, const char *kver, int out_fd)
{
	if (isempty(line))
		return 0;
	_cleanup_free_ char *dir = ctx_source_dir(ctx, pkg->name, pkg->version);
	_cleanup_close_ int sfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return log_warning_errno(-errno, "The %s script's directory %s: %m", what, dir);
	/* Contained, as the build user: the source read-only where dkms shows it. */
	struct buildenv e;
	buildenv_init(&e, ctx);
	_cleanup_free_ char *view = path_join(ctx->dkms_tree, pkg->name, pkg->version, "source");
	int r = buildenv_mount(&e, dir, view, false);
	if (r < 0) {
		buildenv_done(&e);
		return log_warning_errno(r, "Cannot prepare the %s script's view: %m", what);
	}
	buildenv_contained(&e);
	_cleanup_free_ char *cwd = buildenv_path(&e, view);
	_cleanup_free_ char *ksrc = kver ? ctx_kernel_source_dir(ctx, kver) : NULL;
	_cleanup_free_ char *kconfig = ksrc ? path_join(ksrc, ".config") : NULL;
	_cleanup_strv_free_ char **env = script_env(kconfig, false);
	r = script_run(&e, sfd, cwd, what, line, env, out_fd);
	buildenv_done(&e);
	if (r > 0)
		log_debug("The %s script of %s/%s exited with %d", what, pkg->name, pkg->version,
			  r);
	return r;
}

int script_post_transaction(const struct dk_ctx *ctx, const char *kver)
{
	if (isempty(ctx->post_transaction))
		return 0;
	/* dkms reads the command again now, with $kernelver set. */
	_cleanup_free_ char *k = kver ? xstrndup(kver, strcspn(kver, "/")) : NULL;
	_cleanup_free_ char *cmd = ctx_post_transaction(ctx, k);
	if (!cmd)
		cmd = xstrdup(ctx->post_transaction);
	_cleanup_free_ char *log = ctx_dkms_path(ctx, "post_transaction.log");
	_cleanup_close_ int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_warning_errno(-errno, "Cannot write %s: %m", log);
	/* The layout of dkms's command logs: a blank line, what runs, the
	 * command, its output, the exit code, the time it took, a rule. */
	dprintf(fd, "\nExecuting post-transaction command\n# command: %s\n", cmd);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct script_vars v = {
		.kernelver = k,
		.arch = ctx_arch(ctx),
		.dkms_tree = ctx->dkms_tree,
		.source_tree = ctx->source_tree,
		.install_tree = ctx->install_tree,
		.tmp_location = ctx->tmp_location,
	};
	_cleanup_strv_free_ char **argv = script_shell_argv(&v, cmd);
	_cleanup_strv_free_ char **env = script_env(NULL, false);
	log_info("Executing post-transaction command");
	struct spawn_opts o = { .out_fd = fd, .env = env };
	int r = spawn_wait(argv, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long sec = (long)(t1.tv_sec - t0.tv_sec);
	dprintf(fd, "\n# exit code: %d\n# elapsed time: %02ld:%02ld:%02ld\n%s\n", r, sec / 3600,
		sec / 60 % 60, sec % 60,
		"----------------------------------------------------------------");
	return r;
}
