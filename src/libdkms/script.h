/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a package's commands run with, as dkms runs them: the scripts
 * (PRE_BUILD, POST_BUILD in the build directory; POST_ADD, PRE_INSTALL,
 * POST_INSTALL, POST_REMOVE in the source directory) and MAKE/CLEAN (shell
 * by definition, eval'ed by dkms with its variables defined). Source-directory
 * scripts run here, contained (buildenv.h); build steps in kbuild.c. */
#pragma once

#include <stdbool.h>
#include "ctx.h"
#include "pkg.h"

/* The variables dkms's shell holds while it evaluates MAKE or CLEAN. */
struct script_vars {
	const char *kernelver, *arch, *kernel_source_dir, *kernel_config;
	const char *dkms_tree, *source_tree, *install_tree, *tmp_location;
	const char *module, *module_version, *parallel_jobs;
};

/* Fills v for pkg on kver/arch from ctx (strings point into ctx and pkg, or
 * into *ret_own, freed with strv_free). */
void script_vars_fill(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		      const char *arch, const char *ksrc, struct script_vars *v, char ***ret_own);

/* The environment changes dkms makes for MAKE, CLEAN and the scripts, as
 * spawn_opts.env entries ("NAME" alone removes NAME): CC, CXX, CFLAGS,
 * CXXFLAGS and LDFLAGS removed (dkms unsets them at start); for build steps
 * (build true) CC and KERNEL_CC set to the compiler the kernel was built with
 * when it exists (CONFIG_CC_VERSION_TEXT, clang for CONFIG_CC_IS_CLANG), LD
 * and KERNEL_LD to ld.lld for CONFIG_LD_IS_LLD. kconfig may be NULL. */
char **script_env(const char *kconfig, bool build);

/* argv of a script line: <dir>/<first word>, then the other words, split on
 * blanks as dkms's unquoted $run is. NULL when the line is empty. */
char **script_argv(const char *dir, const char *line);

/* argv running cmd with bash the way dkms's ( eval "$cmd" ) does: v's
 * variables defined (not exported), every value passed as an argument,
 * never interpolated into the script. */
char **script_shell_argv(const struct script_vars *v, const char *cmd);

struct buildenv;
/* The one runner of a package's script line (PRE_BUILD, POST_BUILD, POST_ADD,
 * PRE_INSTALL, POST_INSTALL, POST_REMOVE): its first word is a file beneath
 * the directory dir_fd, looked at by fd (not a regular executable file: a
 * warning and 0, as in dkms), run contained in env (buildenv.h) with
 * view_dir, where env shows that directory, as its working directory.
 * Output and messages go to out_fd (-1: ours). Returns the exit status,
 * -ETIME when it was killed at the time limit, or -errno. */
int script_run(const struct buildenv *env, int dir_fd, const char *view_dir, const char *what,
	       const char *line, char *const *extra_env, int out_fd);

/* Runs a source-directory script line (what: "post_add", "pre_install",
 * "post_install", "post_remove") of pkg, in <dkms_tree>/m/v/source, with
 * output to out_fd (-1: ours): as the build user in a sandbox where that
 * directory is read-only and nothing but a private /tmp is writable, killed
 * after build_timeout= (-ETIME). Returns its exit status, 0 when line is
 * empty or the script is not executable (a warning, as in dkms), or -errno. */
int script_run_source(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *what,
		      const char *line, const char *kver, int out_fd);

/* framework.conf's post_transaction (dkms 3.3+): after a successful install,
 * uninstall, unbuild, remove, or an autoinstall that installed something,
 * run as dkms's eval with its output in <dkms_tree>/post_transaction.log
 * (emptied first). Returns its exit status (which dkms ignores), 0 when
 * unset, or -errno. */
int script_post_transaction(const struct dk_ctx *ctx, const char *kver);
