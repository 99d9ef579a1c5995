// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "chase.h"
#include "compress.h"
#include "kbuild.h"
#include "log.h"
#include "script.h"
#include "sign.h"
#include "spawn.h"
#include "trust.h"

void kbuild_result_done(struct kbuild_result *res)
{
	free(res->message);
	free(res->log_path);
	*res = (struct kbuild_result){ 0 };
}

static int fail(struct kbuild_result *res, int code, int err, char *message)
{
	res->code = code;
	free(res->message);
	res->message = message;
	return err < 0 ? err : -EIO;
}

char *kbuild_failed_log(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
			const char *arch)
{
	_cleanup_free_ char *n = xasprintf("%s-%s.log", kver, arch);
	return ctx_dkms_path(ctx, m, v, ".failed", n);
}

char *kbuild_log_path(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
		      const char *arch)
{
	_cleanup_free_ char *n = xasprintf(".make-%s-%s.log", kver, arch);
	return ctx_dkms_path(ctx, m, v, n);
}

static time_t mtime_of(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? st.st_mtime : 0;
}

bool kbuild_failure_is_current(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			       const char *arch)
{
	_cleanup_free_ char *log = kbuild_failed_log(ctx, pkg->name, pkg->version, kver, arch);
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *mk = path_join(ksrc, "Makefile");
	time_t failed = mtime_of(log);
	return failed && failed >= mtime_of(pkg->conf_path) && failed >= mtime_of(mk);
}

/* Headers are there when kbuild can run: the Makefile, what it includes
 * when it is a one-line wrapper (Debian's linux-headers-K-ARCH includes
 * linux-headers-K-common, a separate package), and the scripts directory
 * (on Debian a symlink into linux-kbuild-X). */
static bool headers_complete(const char *ksrc)
{
	_cleanup_free_ char *mk = path_join(ksrc, "Makefile");
	_cleanup_free_ char *scripts = path_join(ksrc, "scripts");
	_cleanup_free_ char *text = NULL;
	if (!path_is_reg(mk) || !path_is_dir(scripts))
		return false;
	if (read_full_file(mk, &text, NULL, 4096) < 0)
		return true; /* a full Makefile, longer than a wrapper */
	const char *inc = startswith(text, "include ");
	size_t n = inc ? strcspn(inc, "\n") : 0;
	if (!inc || (inc[n] && inc[n + 1]))
		return true; /* not a one-line wrapper */
	_cleanup_free_ char *target = xstrndup(inc, n);
	if (target[0] != '/')
		return true; /* relative to make's directory: not ours to resolve */
	return path_is_reg(target);
}

bool kbuild_have_headers(const struct dk_ctx *ctx, const char *kver, char **ret_hint)
{
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	if (headers_complete(ksrc))
		return true;
	if (ret_hint)
		*ret_hint = xasprintf("linux-headers-%s", kver);
	return false;
}

/* The unprivileged user builds run as: "dkms-agent" if it exists, else
 * "nobody". NULL when builds run as the caller. */
struct build_user {
	uid_t uid;
	gid_t gid;
	char *home;
};

static bool build_user_find(const struct dk_ctx *ctx, struct build_user *u)
{
	if (geteuid() != 0 || ctx->build_as_root)
		return false;
	struct passwd *pw = getpwnam("dkms-agent");
	if (!pw)
		pw = getpwnam("nobody");
	if (!pw)
		return false;
	*u = (struct build_user){ .uid = pw->pw_uid, .gid = pw->pw_gid };
	return true;
}

static int run_logged(char *const *argv, const char *cwd, int log_fd, char *const *env)
{
	struct spawn_opts o = { .cwd = cwd, .out_fd = log_fd, .env = env };
	return spawn_wait(argv, &o);
}

static int run_as(const struct build_user *u, char *const *argv, const char *cwd, int log_fd,
		  char *const *env)
{
	struct spawn_opts o = { .cwd = cwd, .out_fd = log_fd, .env = env };
	if (u) {
		o.run_as_user = 1;
		o.uid = u->uid;
		o.gid = u->gid;
	}
	return spawn_wait(argv, &o);
}

/* Hands the private build directory to the build user, by fd: nothing in it
 * is followed (chown_tree). */
static int give_tree(const char *dir, const struct build_user *u)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return chown_tree(fd, u->uid, u->gid);
}

/* dkms runs MAKE as shell; so do we, deliberately: it is shell by definition.
 * "make" at its start becomes "make -jN KERNELRELEASE=<kver>" as in dkms. */
static char *make_command(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			  const char *ksrc, const char *kconfig, const char *builddir)
{
	_cleanup_free_ char *cmd = NULL;
	if (pkg->make_is_default || isempty(pkg->make_command)) {
		cmd = xasprintf("make -C '%s' M='%s'", ksrc, builddir);
	} else {
		/* Custom commands may name dkms's single build directory. */
		_cleanup_free_ char *canon =
			path_join(ctx->dkms_tree, pkg->name, pkg->version, "build");
		cmd = xstrdup(pkg->make_command);
		for (char *hit; (hit = strstr(cmd, canon));) {
			*hit = 0;
			char *n = xasprintf("%s%s%s", cmd, builddir, hit + strlen(canon));
			free(cmd);
			cmd = n;
		}
	}
	char *full;
	if (startswith(cmd, "make"))
		full = xasprintf("make -j%d KERNELRELEASE=%s%s", ctx->jobs, kver, cmd + 4);
	else
		full = xstrdup(cmd);
	_cleanup_free_ char *clang = kconfig_get(kconfig, "CONFIG_CC_IS_CLANG");
	_cleanup_free_ char *lld = kconfig_get(kconfig, "CONFIG_LD_IS_LLD");
	if (clang && streq(clang, "y")) {
		char *n = xasprintf("%s CC=clang", full);
		free(full);
		full = n;
	}
	if (lld && streq(lld, "y")) {
		char *n = xasprintf("%s LD=ld.lld", full);
		free(full);
		full = n;
	}
	return full;
}

/* A PRE_BUILD or POST_BUILD line, run as dkms 3.2+ does: in the build
 * directory, with dkms's environment for build steps; a non-zero exit status
 * fails the build with that status (a script that is not executable is only
 * a warning). */
static int run_script(const struct build_user *u, const char *builddir, const char *script,
		      const char *what, char *const *env, int log_fd, struct kbuild_result *res)
{
	_cleanup_strv_free_ char **argv = script_argv(builddir, script);
	if (!argv)
		return 0;
	if (access(argv[0], X_OK) < 0) {
		dprintf(log_fd, "Warning: The %s script is not executable.\n", what);
		return 0;
	}
	dprintf(log_fd, "Running the %s script: %s\n", what, script);
	int r = run_as(u, argv, builddir, log_fd, env);
	if (r == 0)
		return 0;
	return fail(res, r > 0 ? r : DK_EXIT_BUILD_FAILED, r > 0 ? -EIO : r,
		    xasprintf("The %s script failed (exit status %d)", what, r));
}

static int apply_patches(const struct build_user *u, const struct dk_pkg *pkg, const char *builddir,
			 int log_fd, struct kbuild_result *res)
{
	for (size_t i = 0; pkg->patches && pkg->patches[i]; i++) {
		const char *p = pkg->patches[i];
		_cleanup_free_ char *rel = path_join("patches", p);
		_cleanup_free_ char *full = path_join(builddir, rel);
		if (strstr(p, "..") || !path_is_reg(full))
			return fail(
				res, DK_EXIT_PATCH_MISSING, -ENOENT,
				xasprintf(
					"Patch %s as specified in dkms.conf cannot be found in %s/patches/",
					p, pkg->name));
		dprintf(log_fd, "Applying patch %s\n", p);
		char *argv[] = { "patch", "-p1", "-i", rel, NULL };
		if (run_as(u, argv, builddir, log_fd, NULL) != 0)
			return fail(res, DK_EXIT_PATCH_FAILED, -EIO,
				    xasprintf("Application of patch %s failed", p));
	}
	return 0;
}

/* Copies src, which must be a regular file and not a symbolic link. */
static int copy_regular_nofollow(const char *src, const char *dst)
{
	_cleanup_close_ int fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	_cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", fd);
	return copy_file_atomic(proc, dst, 0644);
}

/* Strip, sign, compress every built module into staging/module. */
static int collect_modules(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
			   const char *builddir, const char *staging, const char *kconfig,
			   int log_fd, struct kbuild_result *res)
{
	_cleanup_free_ char *moddir = ctx_install_path(ctx, kver);
	const char *suffix = compress_suffix_for_kernel(moddir, kconfig);
	struct dk_signer signer;
	int signing = sign_prepare(ctx, kver, kconfig, &signer, NULL);
	int r = 0;
	for (size_t i = 0; i < pkg->n_modules && r == 0; i++) {
		const struct dk_built_module *b = &pkg->modules[i];
		_cleanup_free_ char *built =
			xasprintf("%s/%s%s.ko", builddir, b->built_location, b->built_name);
		/* The build directory belongs to the build user: take a copy
		 * that cannot be a planted link before root strips or signs. */
		_cleanup_free_ char *ko = xasprintf("%s/.%s.ko", staging, b->dest_name);
		if (strstr(b->built_location, "..") || copy_regular_nofollow(built, ko) < 0) {
			r = fail(
				res, DK_EXIT_MODULE_MISSING, -ENOENT,
				xasprintf(
					"Build of %s.ko failed for: %s: it was not found at %s%s.ko in the build directory",
					b->built_name, kver, b->built_location, b->built_name));
			break;
		}
		if (b->strip) {
			char *argv[] = { "strip", "-g", ko, NULL };
			run_logged(argv, NULL, log_fd, NULL);
		}
		if (signing > 0 && sign_module(&signer, ko, log_fd) < 0)
			dprintf(log_fd, "Signing %s failed\n", ko);
		_cleanup_free_ char *dst =
			xasprintf("%s/module/%s.ko%s", staging, b->dest_name, suffix);
		r = compress_file(ko, dst, suffix);
		unlink(ko);
		if (r < 0)
			r = fail(res, DK_EXIT_BUILD_FAILED, r,
				 xasprintf("Failed to store %s: %s", dst, strerror(-r)));
	}
	if (signing > 0)
		sign_done(&signer);
	return r;
}

static int copy_tree(const char *src, const char *dst, int log_fd)
{
	_cleanup_free_ char *from = path_join(src, ".");
	char *argv[] = { "cp", "-a", "--", from, (char *)dst, NULL };
	int r = run_logged(argv, NULL, log_fd, NULL);
	return r == 0 ? 0 : r < 0 ? r : -EIO;
}

static int open_log(const char *path, const struct dk_pkg *pkg, const char *kver, const char *arch)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	time_t now = time(NULL);
	dprintf(fd, "DKMS make.log for %s-%s for kernel %s (%s)\n%s", pkg->name, pkg->version, kver,
		arch, ctime(&now));
	return fd;
}

static int build_in(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
		    const char *arch, const char *builddir, const char *staging, const char *log,
		    struct kbuild_result *res)
{
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *kconfig = ctx_kernel_config(ctx, kver);
	_cleanup_free_ char *src = ctx_source_dir(ctx, pkg->name, pkg->version);
	_cleanup_close_ int log_fd = open_log(log, pkg, kver, arch);
	if (log_fd < 0)
		return fail(res, DK_EXIT_BUILD_FAILED, log_fd, xasprintf("Cannot write %s", log));
	_cleanup_free_ char *bad = NULL;
	if (geteuid() == 0 && !ctx->trust_unsafe) {
		/* Checked again right before the copy: module_load's check may be
		 * older than this build. */
		int t = trust_check_source(src, &bad);
		if (t == -EPERM)
			return fail(
				res, DK_EXIT_UNTRUSTED, t,
				xasprintf(
					"Refusing to build as root: %s (set trust_unsafe_sources=yes in /etc/dkms-agent.conf to allow it)",
					bad));
		if (t < 0)
			return fail(res, DK_EXIT_BUILD_FAILED, t,
				    xasprintf("Cannot read the source %s: %s", src, strerror(-t)));
	}
	struct build_user user;
	const struct build_user *u = build_user_find(ctx, &user) ? &user : NULL;

	ctx_phase(ctx, pkg->name, pkg->version, kver, arch, DK_PHASE_PREPARE);
	int r = copy_tree(src, builddir, log_fd);
	if (r < 0)
		return fail(res, DK_EXIT_BUILD_FAILED, r,
			    xasprintf("Failed to copy the source %s to %s", src, builddir));
	if (u) {
		r = give_tree(builddir, u);
		if (r < 0)
			return fail(res, DK_EXIT_BUILD_FAILED, r,
				    xasprintf("Cannot hand %s to the build user", builddir));
		dprintf(log_fd, "Building as uid %u (unprivileged)\n", (unsigned)u->uid);
	}
	r = apply_patches(u, pkg, builddir, log_fd, res);
	if (r < 0)
		return r;
	if (!isempty(pkg->pre_build))
		ctx_phase(ctx, pkg->name, pkg->version, kver, arch, DK_PHASE_PRE_BUILD);
	_cleanup_strv_free_ char **env = script_env(kconfig, true);
	r = run_script(u, builddir, pkg->pre_build, "pre_build", env, log_fd, res);
	if (r < 0)
		return r;

	/* MAKE and CLEAN are eval'ed by dkms with its variables defined. */
	struct script_vars vars;
	_cleanup_strv_free_ char **own = NULL;
	script_vars_fill(ctx, pkg, kver, arch, ksrc, &vars, &own);
	if (!isempty(pkg->clean_command)) {
		/* Only an explicit CLEAN: the build directory is a fresh copy. */
		dprintf(log_fd, "Cleaning build area: %s\n", pkg->clean_command);
		_cleanup_strv_free_ char **cargv = script_shell_argv(&vars, pkg->clean_command);
		run_as(u, cargv, builddir, log_fd, env);
	}
	_cleanup_free_ char *cmd = make_command(ctx, pkg, kver, ksrc, kconfig, builddir);
	dprintf(log_fd, "Building with: %s\n", cmd);
	ctx_phase(ctx, pkg->name, pkg->version, kver, arch, DK_PHASE_MAKE);
	_cleanup_strv_free_ char **argv = script_shell_argv(&vars, cmd);
	r = run_as(u, argv, builddir, log_fd, env);
	if (r != 0)
		return fail(res, DK_EXIT_BUILD_FAILED, r < 0 ? r : -EIO,
			    xasprintf("Bad return status for module build on kernel: %s (%s)", kver,
				      arch));

	_cleanup_free_ char *moddir = path_join(staging, "module");
	_cleanup_free_ char *logdir = path_join(staging, "log");
	if (mkdir_p(moddir, 0755) < 0 || mkdir_p(logdir, 0755) < 0)
		return fail(res, DK_EXIT_BUILD_FAILED, -errno,
			    xasprintf("Cannot create %s", staging));
	ctx_phase(ctx, pkg->name, pkg->version, kver, arch, DK_PHASE_SIGN);
	r = collect_modules(ctx, pkg, kver, builddir, staging, kconfig, log_fd, res);
	if (r < 0)
		return r;
	if (!isempty(pkg->post_build))
		ctx_phase(ctx, pkg->name, pkg->version, kver, arch, DK_PHASE_POST_BUILD);
	r = run_script(u, builddir, pkg->post_build, "post_build", env, log_fd, res);
	if (r < 0)
		return r;
	_cleanup_free_ char *kc = path_join(logdir, ".config");
	if (path_is_reg(kconfig))
		copy_file_atomic(kconfig, kc, 0644);
	return 0;
}

int kbuild_run(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
	       const char *arch, struct kbuild_result *res)
{
	*res = (struct kbuild_result){ 0 };
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
	_cleanup_free_ char *why = pkg_exclusion(pkg, kver, arch, kconfig);
	if (why)
		return fail(res, DK_EXIT_EXCLUDED, -EPERM, TAKE_PTR(why));
	_cleanup_free_ char *hint = NULL;
	if (!kbuild_have_headers(ctx, kver, &hint))
		return fail(
			res, DK_EXIT_NO_HEADERS, -ENOENT,
			xasprintf(
				"Your kernel headers for kernel %s cannot be found at %s. Please install the %s package or use the --kernelsourcedir option.",
				kver, ksrc, hint));

	_cleanup_free_ char *base = ctx_dkms_path(ctx, pkg->name, pkg->version, kver, arch);
	_cleanup_free_ char *kdir = ctx_dkms_path(ctx, pkg->name, pkg->version, kver);
	_cleanup_free_ char *tag = xasprintf("%s-%s", kver, arch);
	_cleanup_free_ char *bname = xasprintf(".build-%s", tag);
	_cleanup_free_ char *sname = xasprintf(".staging-%s", tag);
	_cleanup_free_ char *builddir = ctx_dkms_path(ctx, pkg->name, pkg->version, bname);
	_cleanup_free_ char *staging = ctx_dkms_path(ctx, pkg->name, pkg->version, sname);
	_cleanup_free_ char *faildir = ctx_dkms_path(ctx, pkg->name, pkg->version, ".failed");
	_cleanup_free_ char *faillog = kbuild_failed_log(ctx, pkg->name, pkg->version, kver, arch);
	_cleanup_free_ char *log = kbuild_log_path(ctx, pkg->name, pkg->version, kver, arch);

	if (path_exists(base))
		return fail(res, DK_EXIT_ALREADY_BUILT, -EEXIST,
			    xasprintf("This module/version has already been built on: %s", kver));
	rm_rf(builddir);
	rm_rf(staging);
	int r = mkdir_p(builddir, 0755);
	if (r < 0)
		return fail(res, DK_EXIT_BUILD_FAILED, r, xasprintf("Cannot create %s", builddir));

	r = build_in(ctx, pkg, kver, arch, builddir, staging, log, res);
	if (r < 0) {
		/* Keep the log where check and boot look for it. */
		mkdir_p(faildir, 0755);
		if (rename(log, faillog) == 0)
			res->log_path = xstrdup(faillog);
		rm_rf(builddir);
		rm_rf(staging);
		return r;
	}
	_cleanup_free_ char *staged_log = path_join(staging, "log", "make.log");
	rename(log, staged_log);
	r = mkdir_p(kdir, 0755);
	if (r >= 0 && rename(staging, base) < 0)
		r = -errno;
	rm_rf(builddir);
	if (r < 0) {
		rm_rf(staging);
		return fail(res, DK_EXIT_BUILD_FAILED, r, xasprintf("Cannot create %s", base));
	}
	fsync_dir_of(base);
	unlink(faillog);
	rmdir(faildir);
	res->log_path = path_join(base, "log", "make.log");
	return 0;
}

int kbuild_unbuild(const struct dk_ctx *ctx, const char *m, const char *v, const char *kver,
		   const char *arch)
{
	_cleanup_free_ char *base = ctx_dkms_path(ctx, m, v, kver, arch);
	_cleanup_free_ char *kdir = ctx_dkms_path(ctx, m, v, kver);
	_cleanup_free_ char *faillog = kbuild_failed_log(ctx, m, v, kver, arch);
	_cleanup_free_ char *faildir = ctx_dkms_path(ctx, m, v, ".failed");
	/* Rename first so that no reader sees a half-removed "built" state. */
	_cleanup_free_ char *trash = xasprintf("%s/.trash-%s-%d", kdir, arch, (int)getpid());
	int r = 0;
	if (rename(base, trash) == 0)
		r = rm_rf(trash);
	else if (errno != ENOENT)
		r = -errno;
	rmdir(kdir);
	unlink(faillog);
	rmdir(faildir);
	return r;
}
