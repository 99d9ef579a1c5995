// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <dirent.h>

#include "buildenv.h"
#include "chase.h"
#include "compress.h"
#include "kbuild.h"
#include "log.h"
#include "script.h"
#include "sign.h"
#include "spawn.h"
#include "trust.h"
#include "validate.h"

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

/* <dkms_tree>/m/v as a chroot into the root finds it: everything of the
 * build happens under it, by this path or by its fd. */
static char *module_vdir(const struct dk_ctx *ctx, const struct dk_pkg *pkg)
{
	_cleanup_free_ char *inside = path_join(ctx->dkms_tree, pkg->name, pkg->version);
	return ctx_resolved_path(ctx, inside);
}

/* One build in progress: where it happens and what it runs with. */
struct build {
	const struct dk_ctx *ctx;
	const struct dk_pkg *pkg;
	const char *kver, *arch;
	char *ksrc, *kconfig;
	char *tag;	  /* "<kver>-<arch>" */
	int vdir_fd;	  /* <dkms_tree>/m/v */
	int build_fd;	  /* .build-<tag>: the build user's */
	int staging_fd;	  /* .staging-<tag>: root's, becomes <kver>/<arch> */
	char *view_build; /* where commands see the build directory */
	char *view_base;  /* where commands see <kver>/<arch> */
	struct buildenv env;
	int log_fd;
	struct kbuild_result *res;
};

static void build_done(struct build *b)
{
	free(b->ksrc);
	free(b->kconfig);
	free(b->tag);
	free(b->view_build);
	free(b->view_base);
	buildenv_done(&b->env);
	for (int *fd = &b->vdir_fd; fd <= &b->staging_fd; fd++)
		if (*fd >= 0)
			close(*fd);
	if (b->log_fd >= 0)
		close(b->log_fd);
}

static char *shell_quote(const char *s)
{
	size_t n = 3;
	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	char *r = xmalloc(n), *q = r;
	*q++ = '\'';
	for (const char *p = s; *p; p++)
		q = *p == '\'' ? stpcpy(q, "'\\''") : (*q = *p, q + 1);
	*q++ = '\'';
	*q = 0;
	return r;
}

/* dkms runs MAKE as shell; so do we, deliberately: it is shell by definition.
 * "make" at its start becomes "make -jN KERNELRELEASE=<kver>" as in dkms. In
 * the sandbox a custom MAKE finds dkms's $dkms_tree/m/v/build where it names
 * it; without namespaces that path is replaced by the real one. */
static char *make_command(const struct build *b)
{
	const struct dk_ctx *ctx = b->ctx;
	const struct dk_pkg *pkg = b->pkg;
	_cleanup_free_ char *cmd = NULL;
	if (pkg->make_is_default || isempty(pkg->make_command)) {
		_cleanup_free_ char *k = shell_quote(b->ksrc), *m = shell_quote(b->view_build);
		cmd = xasprintf("make -C %s M=%s", k, m);
	} else {
		_cleanup_free_ char *canon =
			path_join(ctx->dkms_tree, pkg->name, pkg->version, "build");
		cmd = xstrdup(pkg->make_command);
		for (char *hit; b->env.sb.no_namespaces && !streq(canon, b->view_build) &&
				(hit = strstr(cmd, canon));) {
			*hit = 0;
			char *n = xasprintf("%s%s%s", cmd, b->view_build, hit + strlen(canon));
			free(cmd);
			cmd = n;
		}
	}
	char *full;
	if (startswith(cmd, "make"))
		full = xasprintf("make -j%d KERNELRELEASE=%s%s", ctx->jobs, b->kver, cmd + 4);
	else
		full = xstrdup(cmd);
	_cleanup_free_ char *clang = kconfig_get(b->kconfig, "CONFIG_CC_IS_CLANG");
	_cleanup_free_ char *lld = kconfig_get(b->kconfig, "CONFIG_LD_IS_LLD");
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

/* Runs argv in the build's sandbox, in the build directory. */
static int contained(struct build *b, const struct buildenv *env, char *const *argv,
		     char *const *extra_env)
{
	struct spawn_opts o = buildenv_opts(env, b->view_build, b->log_fd, extra_env);
	int r = spawn_wait(argv, &o);
	if (r == -ETIME)
		dprintf(b->log_fd,
			"Killed after %u s with everything it started (build_timeout= in /etc/dkms-agent.conf)\n",
			env->timeout_sec);
	return r;
}

static int step_failed(struct build *b, int code, int r, const char *what)
{
	if (r == -ETIME)
		return fail(b->res, code, r,
			    xasprintf("%s timed out after %u s on kernel: %s (%s)", what,
				      b->env.timeout_sec, b->kver, b->arch));
	return fail(b->res, code, r < 0 ? r : -EIO,
		    xasprintf("%s failed on kernel: %s (%s)", what, b->kver, b->arch));
}

/* A PRE_BUILD or POST_BUILD line, run as dkms 3.2+ does: in the build
 * directory, with dkms's environment for build steps; a non-zero exit status
 * fails the build with that status (a script that is not executable is only
 * a warning). */
static int run_script(struct build *b, const struct buildenv *env, const char *script,
		      const char *what, char *const *extra_env)
{
	int r = script_run(env, b->build_fd, b->view_build, what, script, extra_env, b->log_fd);
	if (r == 0)
		return 0;
	if (r == -ETIME)
		return step_failed(b, DK_EXIT_BUILD_FAILED, r, what);
	return fail(b->res, r > 0 ? r : DK_EXIT_BUILD_FAILED, r > 0 ? -EIO : r,
		    xasprintf("The %s script failed (exit status %d)", what, r));
}

static int apply_patches(struct build *b)
{
	const struct dk_pkg *pkg = b->pkg;
	for (size_t i = 0; pkg->patches && pkg->patches[i]; i++) {
		const char *p = pkg->patches[i];
		/* dkms 3.2 refuses (exit 5) a patch named outside patches/;
		 * ours also one whose name could pass for an option. */
		const char *why = validate_location(p);
		if (why == validate_dotdot)
			return fail(b->res, DK_EXIT_PATCH_MISSING, -EINVAL,
				    xasprintf("Patch %s as specified in dkms.conf contains '..' "
					      "path component.",
					      p));
		if (why)
			return fail(b->res, DK_EXIT_PATCH_MISSING, -EINVAL,
				    xasprintf("Patch %s as specified in dkms.conf %s.", p, why));
		_cleanup_free_ char *rel = path_join("patches", p);
		_cleanup_close_ int fd = chase(b->build_fd, rel, 0, O_PATH, NULL);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			return fail(
				b->res, DK_EXIT_PATCH_MISSING, -ENOENT,
				xasprintf(
					"Patch %s as specified in dkms.conf cannot be found in %s/patches/",
					p, pkg->name));
		dprintf(b->log_fd, "Applying patch %s\n", p);
		char *argv[] = { "patch", "-p1", "-i", rel, NULL };
		int r = contained(b, &b->env, argv, NULL);
		if (r != 0)
			return fail(b->res, DK_EXIT_PATCH_FAILED, r < 0 ? r : -EIO,
				    xasprintf("Application of patch %s failed", p));
	}
	return 0;
}

/* Copies what fd holds (a regular file) to dst, atomically. */
static int copy_fd_to(int fd, const char *dst)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	_cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", fd);
	return copy_file_atomic(proc, dst, 0644);
}

/* strip -g, in the sandbox (binutils reading what the build user made). */
static void strip_modules(struct build *b)
{
	char **argv = NULL;
	strv_push(&argv, "strip");
	strv_push(&argv, "-g");
	for (size_t i = 0; i < b->pkg->n_modules; i++) {
		const struct dk_built_module *m = &b->pkg->modules[i];
		if (m->strip)
			strv_consume(&argv, xasprintf("%s/%s%s.ko", b->view_build,
						      m->built_location, m->built_name));
	}
	if (strv_length(argv) > 2)
		contained(b, &b->env, argv, NULL); /* dkms ignores strip's status */
	strv_free(argv);
}

/* Signs and compresses every built module into staging/module. The build
 * directory is the build user's: each module is opened beneath it (no link
 * leads out) and copied before root signs or compresses it. */
static int collect_modules(struct build *b, const char *staging)
{
	const struct dk_ctx *ctx = b->ctx;
	_cleanup_free_ char *moddir = ctx_install_path(ctx, b->kver);
	const char *suffix = compress_suffix_for_kernel(moddir, b->kconfig);
	struct dk_signer signer;
	int signing = sign_prepare(ctx, b->kver, b->kconfig, &signer, NULL);
	int r = 0;
	for (size_t i = 0; i < b->pkg->n_modules && r == 0; i++) {
		const struct dk_built_module *m = &b->pkg->modules[i];
		_cleanup_free_ char *rel = xasprintf("%s%s.ko", m->built_location, m->built_name);
		_cleanup_free_ char *ko = xasprintf("%s/.%s.ko", staging, m->dest_name);
		_cleanup_close_ int fd =
			chase(b->build_fd, rel, 0, O_RDONLY | O_NOCTTY | O_NONBLOCK, NULL);
		if (fd < 0 || copy_fd_to(fd, ko) < 0) {
			r = fail(
				b->res, DK_EXIT_MODULE_MISSING, -ENOENT,
				xasprintf(
					"Build of %s.ko failed for: %s: it was not found at %s%s.ko in the build directory",
					m->built_name, b->kver, m->built_location, m->built_name));
			break;
		}
		if (signing > 0 && sign_module(&signer, ko, b->log_fd) < 0)
			dprintf(b->log_fd, "Signing %s failed\n", ko);
		_cleanup_free_ char *dst =
			xasprintf("%s/module/%s.ko%s", staging, m->dest_name, suffix);
		const char *opts = streq(suffix, ".zst")  ? ctx->compress_zstd_opts
				   : streq(suffix, ".xz") ? ctx->compress_xz_opts
							  : ctx->compress_gzip_opts;
		r = compress_file_opts(ko, dst, suffix, opts);
		unlink(ko);
		if (r < 0)
			r = fail(b->res, DK_EXIT_BUILD_FAILED, r,
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
	struct spawn_opts o = { .out_fd = log_fd, .timeout_sec = 3600 };
	int r = spawn_wait(argv, &o);
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

/* Root takes over what POST_BUILD left in its <kver>/<arch> directory (the
 * build user's, now that the sandbox is gone): regular files and directories
 * are copied into staging by fd, nothing else is kept. */
static int take_over(struct build *b, int from_fd, int to_fd, const char *rel, unsigned depth)
{
	_cleanup_close_ int dfd = openat(from_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d)
		return -errno;
	dfd = -1;
	int r = 0;
	for (struct dirent *de; r >= 0 && (de = readdir(d));) {
		const char *n = de->d_name;
		if (streq(n, ".") || streq(n, "..") ||
		    (depth == 0 && (streq(n, "module") || streq(n, "log"))))
			continue;
		_cleanup_close_ int fd =
			openat(from_fd, n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || depth > 16 ||
		    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
			dprintf(b->log_fd, "POST_BUILD left %s%s: not kept\n", rel, n);
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			_cleanup_free_ char *dst = xasprintf("/proc/self/fd/%d/%s", to_fd, n);
			r = copy_fd_to(fd, dst);
			continue;
		}
		if (mkdirat(to_fd, n, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		_cleanup_close_ int sub =
			openat(to_fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_free_ char *subrel = xasprintf("%s%s/", rel, n);
		r = sub < 0 ? -errno : take_over(b, fd, sub, subrel, depth + 1);
	}
	closedir(d);
	return r;
}

/* POST_BUILD sees <dkms_tree>/m/v/<kver>/<arch> as dkms shows it (module/
 * and log/ inside, read-only) and may add files there, as zfs's does. */
static int post_build(struct build *b, const char *staging, char *const *extra_env)
{
	const struct dk_pkg *pkg = b->pkg;
	if (isempty(pkg->post_build))
		return 0;
	ctx_phase(b->ctx, pkg->name, pkg->version, b->kver, b->arch, DK_PHASE_POST_BUILD);
	_cleanup_free_ char *pname = xasprintf(".post-%s", b->tag);
	rm_rf_at(b->vdir_fd, pname);
	if (mkdirat(b->vdir_fd, pname, 0755) < 0)
		return fail(b->res, DK_EXIT_BUILD_FAILED, -errno,
			    xasprintf("Cannot create %s for POST_BUILD", pname));
	_cleanup_close_ int post =
		openat(b->vdir_fd, pname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	uid_t uid;
	gid_t gid;
	int r = post < 0 ? -errno : 0;
	if (r >= 0 && (mkdirat(post, "module", 0755) < 0 || mkdirat(post, "log", 0755) < 0))
		r = -errno;
	if (r >= 0 && buildenv_user(&b->env, &uid, &gid) && fchown(post, uid, gid) < 0)
		r = -errno;
	struct buildenv env;
	buildenv_init(&env, b->ctx);
	env.sb.no_namespaces = b->env.sb.no_namespaces;
	_cleanup_free_ char *vdir = module_vdir(b->ctx, pkg);
	_cleanup_free_ char *host_post = path_join(vdir, pname);
	_cleanup_free_ char *m = path_join(staging, "module"), *l = path_join(staging, "log");
	_cleanup_free_ char *vm = path_join(b->view_base, "module");
	_cleanup_free_ char *vl = path_join(b->view_base, "log");
	for (size_t i = isempty(b->ctx->root) ? 0 : 1; i < b->env.sb.n_mounts && r >= 0; i++)
		r = buildenv_mount(&env, b->env.mounts[i].source, b->env.mounts[i].dest,
				   b->env.mounts[i].writable);
	if (r >= 0)
		r = buildenv_mount(&env, host_post, b->view_base, true);
	if (r >= 0)
		r = buildenv_mount(&env, m, vm, false);
	if (r >= 0)
		r = buildenv_mount(&env, l, vl, false);
	if (r < 0) {
		buildenv_done(&env);
		rm_rf_at(b->vdir_fd, pname);
		return fail(b->res, DK_EXIT_BUILD_FAILED, r,
			    xasprintf("Cannot prepare POST_BUILD's view: %s", strerror(-r)));
	}
	r = run_script(b, &env, pkg->post_build, "post_build", extra_env);
	buildenv_done(&env);
	/* The sandbox is gone: what the script left is taken over by fd. */
	if (r >= 0) {
		r = take_over(b, post, b->staging_fd, "", 0);
		if (r < 0)
			r = fail(b->res, DK_EXIT_BUILD_FAILED, r,
				 xasprintf("Cannot keep what POST_BUILD made: %s", strerror(-r)));
	}
	rm_rf_at(b->vdir_fd, pname);
	return r;
}

static int build_in(struct build *b, const char *builddir, const char *staging)
{
	const struct dk_ctx *ctx = b->ctx;
	const struct dk_pkg *pkg = b->pkg;
	_cleanup_free_ char *src = ctx_source_dir(ctx, pkg->name, pkg->version);
	_cleanup_free_ char *bad = NULL;
	if (geteuid() == 0 && !ctx->trust_unsafe) {
		/* Checked again right before the copy: module_load's check may be
		 * older than this build. */
		int t = trust_check_source(src, &bad);
		if (t == -EPERM)
			return fail(
				b->res, DK_EXIT_UNTRUSTED, t,
				xasprintf(
					"Refusing to build as root: %s (set trust_unsafe_sources=yes in /etc/dkms-agent.conf to allow it)",
					bad));
		if (t < 0)
			return fail(b->res, DK_EXIT_BUILD_FAILED, t,
				    xasprintf("Cannot read the source %s: %s", src, strerror(-t)));
	}
	ctx_phase(ctx, pkg->name, pkg->version, b->kver, b->arch, DK_PHASE_PREPARE);
	int r = copy_tree(src, builddir, b->log_fd);
	if (r < 0)
		return fail(b->res, DK_EXIT_BUILD_FAILED, r,
			    xasprintf("Failed to copy the source %s to %s", src, builddir));

	/* The build directory goes to the build user; everything that runs in
	 * it runs contained, and sees dkms's paths. */
	buildenv_init(&b->env, ctx);
	b->view_build = path_join(ctx->dkms_tree, pkg->name, pkg->version, "build");
	b->view_base = path_join(ctx->dkms_tree, pkg->name, pkg->version, b->kver, b->arch);
	_cleanup_free_ char *view_src =
		path_join(ctx->dkms_tree, pkg->name, pkg->version, "source");
	r = buildenv_mount(&b->env, builddir, b->view_build, true);
	if (r >= 0)
		r = buildenv_mount(&b->env, src, view_src, false);
	if (r >= 0)
		r = buildenv_mount_kernel(&b->env, b->ksrc);
	if (r < 0)
		return fail(b->res, DK_EXIT_BUILD_FAILED, r,
			    xasprintf("Cannot prepare the build's view: %s", strerror(-r)));
	if (!buildenv_contained(&b->env)) {
		char *v = buildenv_path(&b->env, b->view_build);
		free(b->view_build);
		b->view_build = v;
	}
	uid_t uid;
	gid_t gid;
	if (buildenv_user(&b->env, &uid, &gid)) {
		r = chown_tree(b->build_fd, uid, gid);
		if (r < 0)
			return fail(b->res, DK_EXIT_BUILD_FAILED, r,
				    xasprintf("Cannot hand %s to the build user", builddir));
		dprintf(b->log_fd, "Building as uid %u (unprivileged)%s\n", (unsigned)uid,
			b->env.sb.no_namespaces ? "" : ", in its own namespaces");
	}
	r = apply_patches(b);
	if (r < 0)
		return r;
	if (!isempty(pkg->pre_build))
		ctx_phase(ctx, pkg->name, pkg->version, b->kver, b->arch, DK_PHASE_PRE_BUILD);
	_cleanup_strv_free_ char **env = script_env(b->kconfig, true);
	r = run_script(b, &b->env, pkg->pre_build, "pre_build", env);
	if (r < 0)
		return r;

	/* MAKE and CLEAN are eval'ed by dkms with its variables defined. */
	struct script_vars vars;
	_cleanup_strv_free_ char **own = NULL;
	script_vars_fill(ctx, pkg, b->kver, b->arch, b->ksrc, &vars, &own);
	if (!isempty(pkg->clean_command)) {
		/* Only an explicit CLEAN: the build directory is a fresh copy. */
		dprintf(b->log_fd, "Cleaning build area: %s\n", pkg->clean_command);
		_cleanup_strv_free_ char **cargv = script_shell_argv(&vars, pkg->clean_command);
		contained(b, &b->env, cargv, env);
	}
	_cleanup_free_ char *cmd = make_command(b);
	dprintf(b->log_fd, "Building with: %s\n", cmd);
	ctx_phase(ctx, pkg->name, pkg->version, b->kver, b->arch, DK_PHASE_MAKE);
	_cleanup_strv_free_ char **argv = script_shell_argv(&vars, cmd);
	r = contained(b, &b->env, argv, env);
	if (r != 0)
		return r == -ETIME
			       ? step_failed(b, DK_EXIT_BUILD_FAILED, r, "The module build")
			       : fail(b->res, DK_EXIT_BUILD_FAILED, r < 0 ? r : -EIO,
				      xasprintf(
					      "Bad return status for module build on kernel: %s (%s)",
					      b->kver, b->arch));
	strip_modules(b);

	/* Every process of the build is gone: root reads its output, by fd. */
	if (mkdirat(b->staging_fd, "module", 0755) < 0 || mkdirat(b->staging_fd, "log", 0755) < 0)
		return fail(b->res, DK_EXIT_BUILD_FAILED, -errno,
			    xasprintf("Cannot create %s", staging));
	ctx_phase(ctx, pkg->name, pkg->version, b->kver, b->arch, DK_PHASE_SIGN);
	r = collect_modules(b, staging);
	if (r < 0)
		return r;
	_cleanup_free_ char *kc = path_join(staging, "log", ".config");
	if (path_is_reg(b->kconfig))
		copy_file_atomic(b->kconfig, kc, 0644);
	return post_build(b, staging, env);
}

int kbuild_run(const struct dk_ctx *ctx, const struct dk_pkg *pkg, const char *kver,
	       const char *arch, struct kbuild_result *res)
{
	*res = (struct kbuild_result){ 0 };
	_cleanup_(build_done) struct build b = {
		.ctx = ctx,
		.pkg = pkg,
		.kver = kver,
		.arch = arch,
		.res = res,
		.vdir_fd = -1,
		.build_fd = -1,
		.staging_fd = -1,
		.log_fd = -1,
		.ksrc = ctx_kernel_source_dir(ctx, kver),
		.tag = xasprintf("%s-%s", kver, arch),
	};
	b.kconfig = ctx_kernel_config(ctx, kver);
	_cleanup_free_ char *why = pkg_exclusion(pkg, kver, arch, b.kconfig);
	if (why)
		return fail(res, DK_EXIT_EXCLUDED, -EPERM, TAKE_PTR(why));
	_cleanup_free_ char *hint = NULL;
	if (!kbuild_have_headers(ctx, kver, &hint))
		return fail(
			res, DK_EXIT_NO_HEADERS, -ENOENT,
			xasprintf(
				"Your kernel headers for kernel %s cannot be found at %s. Please install the %s package or use the --kernelsourcedir option.",
				kver, b.ksrc, hint));

	_cleanup_free_ char *vdir = module_vdir(ctx, pkg);
	_cleanup_free_ char *base = path_join(vdir, kver, arch);
	_cleanup_free_ char *bname = xasprintf(".build-%s", b.tag);
	_cleanup_free_ char *sname = xasprintf(".staging-%s", b.tag);
	_cleanup_free_ char *builddir = path_join(vdir, bname);
	_cleanup_free_ char *staging = path_join(vdir, sname);
	_cleanup_free_ char *log = kbuild_log_path(ctx, pkg->name, pkg->version, kver, arch);
	_cleanup_free_ char *faildir = path_join(vdir, ".failed");
	_cleanup_free_ char *faillog = kbuild_failed_log(ctx, pkg->name, pkg->version, kver, arch);

	if (path_exists(base))
		return fail(res, DK_EXIT_ALREADY_BUILT, -EEXIST,
			    xasprintf("This module/version has already been built on: %s", kver));
	b.vdir_fd = open(vdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.vdir_fd < 0)
		return fail(res, DK_EXIT_BUILD_FAILED, -errno, xasprintf("Cannot open %s", vdir));
	/* Leftovers of an interrupted build, removed by fd (nothing in them is
	 * followed). */
	rm_rf_at(b.vdir_fd, bname);
	rm_rf_at(b.vdir_fd, sname);
	if (mkdirat(b.vdir_fd, bname, 0755) < 0 || mkdirat(b.vdir_fd, sname, 0755) < 0)
		return fail(res, DK_EXIT_BUILD_FAILED, -errno,
			    xasprintf("Cannot create %s", builddir));
	b.build_fd = openat(b.vdir_fd, bname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	b.staging_fd = openat(b.vdir_fd, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	b.log_fd = open_log(log, pkg, kver, arch);
	int r = b.build_fd < 0 || b.staging_fd < 0 ? -errno : b.log_fd;
	if (r < 0)
		r = fail(res, DK_EXIT_BUILD_FAILED, r, xasprintf("Cannot write %s", log));
	else
		r = build_in(&b, builddir, staging);
	rm_rf_at(b.vdir_fd, bname);
	if (r < 0) {
		/* Keep the log where check and boot look for it. */
		mkdir_p(faildir, 0755);
		if (rename(log, faillog) == 0)
			res->log_path = xstrdup(faillog);
		rm_rf_at(b.vdir_fd, sname);
		return r;
	}
	_cleanup_free_ char *staged_log = path_join(staging, "log", "make.log");
	if (rename(log, staged_log) < 0)
		r = -errno;
	_cleanup_free_ char *kdir = path_join(vdir, kver);
	if (r >= 0)
		r = mkdir_p(kdir, 0755);
	if (r >= 0 && rename(staging, base) < 0)
		r = -errno;
	if (r < 0) {
		rm_rf_at(b.vdir_fd, sname);
		return fail(res, DK_EXIT_BUILD_FAILED, r,
			    xasprintf("Cannot create %s: %s", base, strerror(-r)));
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
