// SPDX-License-Identifier: GPL-2.0-or-later
/* boot, kernel-install and early-modules: the agent's actions. */
#include <fcntl.h>
#include <fnmatch.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "agent.h"
#include "cmd-agent.h"
#include "autoinstall.h"
#include "initramfs.h"
#include "install.h"
#include "kbuild.h"
#include "kmod.h"
#include "lock.h"
#include "log.h"
#include "module.h"
#include "ops.h"
#include "rootfs.h"
#include "tree.h"
#include "validate.h"

static void target_kernel(const struct dk_ctx *ctx, char **ret_kver, char **ret_arch)
{
	if (ctx->kernels && ctx->kernels[0]) {
		module_split_kernel(ctx, ctx->kernels[0], ret_kver, ret_arch);
		return;
	}
	struct utsname u;
	uname(&u);
	*ret_kver = xstrdup(u.release);
	*ret_arch = xstrdup(ctx_arch(ctx));
}

/* Device modaliases present now (/sys/devices/.../modalias). */
static void collect_modaliases(const char *dir, char ***l, int depth)
{
	_cleanup_strv_free_ char **ents = NULL;
	if (depth > 12 || dir_list(dir, &ents) < 0)
		return;
	for (size_t i = 0; ents[i]; i++) {
		_cleanup_free_ char *p = path_join(dir, ents[i]);
		if (streq(ents[i], "modalias")) {
			_cleanup_free_ char *c = NULL;
			if (read_full_file(p, &c, NULL, 4096) == 0) {
				c[strcspn(c, "\n")] = 0;
				strv_push(l, c);
			}
		} else if (!path_is_symlink(p) && path_is_dir(p)) {
			collect_modaliases(p, l, depth + 1);
		}
	}
}

/* modules-load.d lists under the root. */
static bool listed_for_loading(const struct dk_ctx *ctx, const char *name)
{
	static const char *const dirs[] = { "/etc/modules-load.d", "/run/modules-load.d",
					    "/usr/lib/modules-load.d", "/lib/modules-load.d" };
	for (size_t d = 0; d < ELEMENTSOF(dirs); d++) {
		_cleanup_free_ char *dir = ctx_path(ctx, dirs[d]);
		_cleanup_strv_free_ char **files = NULL;
		dir_list(dir, &files);
		for (size_t i = 0; files && files[i]; i++) {
			_cleanup_free_ char *p = path_join(dir, files[i]), *c = NULL;
			if (!endswith(files[i], ".conf") ||
			    read_full_file(p, &c, NULL, 1 << 20) < 0)
				continue;
			_cleanup_strv_free_ char **w = strv_split(c, "\n");
			for (size_t j = 0; w[j]; j++)
				if (streq(w[j], name))
					return true;
		}
	}
	return false;
}

static bool matches_device(const char *file, char **aliases)
{
	_cleanup_strv_free_ char **pats = NULL;
	if (kmod_file_values(file, "alias", &pats) < 0)
		return false;
	for (size_t i = 0; pats && pats[i]; i++)
		for (size_t j = 0; aliases && aliases[j]; j++)
			if (fnmatch(pats[i], aliases[j], 0) == 0)
				return true;
	return false;
}

/* Whether modules can be loaded for kver here: the running kernel on the
 * host root (a sandbox has no kernel to load into). */
static bool can_load(const struct dk_ctx *ctx, const char *kver)
{
	struct utsname u;
	uname(&u);
	return isempty(ctx->root) && streq(u.release, kver);
}

/* Whether the machine needs module file now: a present device's alias
 * matches, or modules-load.d lists it. */
static bool wanted_now(const struct dk_ctx *ctx, const char *file, char **aliases)
{
	_cleanup_free_ char *name = agent_module_name(file);
	return listed_for_loading(ctx, name) || matches_device(file, aliases);
}

/* Loads the installed modules the machine needs now. */
static void load_needed(const struct dk_ctx *ctx, struct agent_mod *mods, size_t n,
			const char *kver)
{
	if (!can_load(ctx, kver)) {
		log_info("Not loading modules: %s is not the running kernel on this root", kver);
		return;
	}
	_cleanup_strv_free_ char **aliases = NULL;
	collect_modaliases("/sys/devices", &aliases, 0);
	for (size_t i = 0; i < n; i++) {
		for (size_t f = 0;
		     mods[i].state == AGENT_INSTALLED && mods[i].files && mods[i].files[f]; f++) {
			const char *file = mods[i].files[f];
			_cleanup_free_ char *name = agent_module_name(file);
			if (kmod_is_loaded(name) || !wanted_now(ctx, file, aliases))
				continue;
			int r = kmod_load(name);
			if (r < 0)
				log_warning_errno(r, "Failed to load %s: %m", name);
			else
				log_info("Loaded %s", name);
		}
	}
}

/* The boot run loads what the machine needs as soon as a job's files are in
 * place, from there, while depmod indexes them (depmod reads every module
 * of the kernel: seconds, minutes under emulation): the display manager
 * waits for the build only. What fails here is tried again by name after
 * depmod (load_needed). */
struct early_load {
	const struct dk_ctx *ctx;
	const char *kver;
	char **aliases;
};

static void load_installed_now(void *userdata, const char *kver, char *const *files)
{
	struct early_load *e = userdata;
	if (!streq(kver, e->kver))
		return;
	for (size_t f = 0; files[f]; f++) {
		_cleanup_free_ char *name = agent_module_name(files[f]);
		if (kmod_is_loaded(name) || !wanted_now(e->ctx, files[f], e->aliases))
			continue;
		int r = kmod_load_file(files[f], files);
		if (r < 0)
			log_debug_errno(
				r, "Loading %s before depmod failed (%m); tried again after it",
				files[f]);
		else
			log_info("Loaded %s", name);
	}
}

/* sd_notify("READY=1") without libsystemd: the unit is Type=notify, so the
 * display manager starts once the modules are loaded while the initramfs
 * refresh goes on. Sent by the boot child after loading (NotifyAccess=all)
 * and by the boot run when it returns; without $NOTIFY_SOCKET, nothing. */
static void notify_ready(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (isempty(e) || (e[0] != '/' && e[0] != '@') || strlen(e) >= sizeof(sa.sun_path))
		return;
	size_t l = strlen(e);
	memcpy(sa.sun_path, e, l);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa,
			     offsetof(struct sockaddr_un, sun_path) + l) < 0)
		log_debug_errno(errno, "Cannot notify the service manager: %m");
}

/* Exit statuses of `boot` (dkms-agent(8); agent/dkms-agent.service). */
enum {
	BOOT_EXIT_MISSING = 1,	/* a module could not be built or installed */
	BOOT_EXIT_REFRESH = 74, /* the initramfs refresh failed: the old image is kept */
	BOOT_EXIT_BUDGET = 75,	/* the budget ran out: the build goes on in the background */
};

/* <dkms_tree>/.NAME-KVER: the agent's per-kernel records. */
static char *state_file(const struct dk_ctx *ctx, const char *name, const char *kver)
{
	_cleanup_free_ char *n = xasprintf(".%s-%s", name, kver);
	return ctx_dkms_path(ctx, n);
}

/* After a boot-time append: the distribution's generator rebuilds the image
 * once the boot is over (a transient unit ordered after the boot targets),
 * at idle priority. Without systemd, or on another root, the next hook run
 * (kernel-install add) or `dkms-agent initramfs regenerate-appended` does. */
static void schedule_settle(const struct dk_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *self = NULL;
	if (!isempty(ctx->root) || !path_is_dir("/run/systemd/system") ||
	    readlink_malloc("/proc/self/exe", &self) < 0)
		return;
	char *argv[] = { "systemd-run",
			 "--no-block",
			 "--quiet",
			 "--collect",
			 "--description=Regenerate the initramfs dkms-agent appended to",
			 "--property=After=multi-user.target graphical.target",
			 "--nice=19",
			 "--property=IOSchedulingClass=idle",
			 self,
			 "initramfs",
			 "regenerate-appended",
			 (char *)kver,
			 NULL };
	struct spawn_opts o = { .out_fd = -1, .quiet = 1, .timeout_sec = 30 };
	int r = spawn_wait(argv, &o);
	if (r != 0)
		log_warning("Could not schedule the regeneration of the initramfs of %s after boot "
			    "(systemd-run: %d); the next kernel hook run does it",
			    kver, r);
	else
		log_info("The initramfs of %s is regenerated once the boot is over", kver);
}

static int append_to(const struct dk_ctx *ctx, const char *kver, const char *image,
		     const struct initramfs *img, struct initramfs_add *adds, size_t na,
		     char ***dests, char **ret_reason)
{
	static const char *const idx[] = { "modules.dep",     "modules.dep.bin",
					   "modules.alias",   "modules.alias.bin",
					   "modules.symbols", "modules.symbols.bin",
					   "modules.softdep" };
	_cleanup_strv_free_ char **srcs = NULL;
	size_t n = na;
	for (size_t k = 0; k < ELEMENTSOF(idx); k++) {
		_cleanup_free_ char *rel = xasprintf("lib/modules/%s/%s", kver, idx[k]);
		if (!initramfs_lookup(img, rel))
			continue;
		_cleanup_free_ char *in_root = path_join(ctx->install_tree, kver, idx[k]);
		strv_consume(&srcs, ctx_resolved_path(ctx, in_root));
		strv_push(dests, rel);
		adds[n++] = (struct initramfs_add){ .src = srcs[strv_length(srcs) - 1] };
	}
	for (size_t k = 0; k < n; k++)
		adds[k].dest = (*dests)[k];
	int r = initramfs_append(image, adds, n, ret_reason);
	if (r < 0)
		return r;
	log_info("Appended %zu files to %s", n, image);
	if (agent_appended_mark(ctx, kver, image) < 0)
		log_warning("Cannot record that %s carries an appended segment", image);
	schedule_settle(ctx, kver);
	return 0;
}

/* Puts the rebuilt modules of kver into its initramfs when it should hold
 * them: it held them before, or they are early modules. */
static int refresh_initramfs(const struct dk_ctx *ctx, const char *kver, struct agent_mod *mods,
			     size_t n, const char *rootfs_type)
{
	if (streq(ctx->initramfs_mode, "off") || ctx->no_initramfs)
		return 0;
	struct initramfs_image *imgs = NULL;
	size_t ni = 0;
	initramfs_find(ctx->root, kver, &imgs, &ni);
	if (ni == 0) {
		initramfs_images_free(imgs, ni);
		log_info("No initramfs found for %s: nothing to refresh", kver);
		return 0;
	}
	/* What an interrupted append or regeneration left goes first. */
	int lock = initramfs_lock(imgs[0].path);
	if (lock >= 0) {
		initramfs_recover(imgs[0].path);
		close(lock);
	}
	_cleanup_initramfs_ struct initramfs *img = NULL;
	_cleanup_free_ char *reason = NULL;
	int r = initramfs_read(imgs[0].path, &img, &reason);
	size_t nf = 0;
	for (size_t i = 0; i < n; i++)
		nf += strv_length(mods[i].files);
	struct initramfs_add *adds = xcalloc(nf + 8, sizeof(*adds));
	size_t na = 0;
	_cleanup_strv_free_ char **dests = NULL;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		for (size_t f = 0;
		     mods[i].state == AGENT_INSTALLED && mods[i].files && mods[i].files[f]; f++) {
			const char *file = mods[i].files[f];
			_cleanup_free_ char *inside = agent_initramfs_path(ctx, kver, file);
			const struct initramfs_file *old = initramfs_lookup(img, inside);
			if (!old && !agent_file_is_early(ctx, &mods[i], file, rootfs_type))
				continue;
			if (old && initramfs_file_matches(old, file) == 1)
				continue;
			strv_push(&dests, inside);
			adds[na++] = (struct initramfs_add){ .src = file };
		}
	}
	if (r >= 0 && na == 0) {
		log_info("The initramfs %s does not need the rebuilt modules", imgs[0].path);
	} else if (r >= 0 && streq(ctx->initramfs_mode, "append")) {
		r = append_to(ctx, kver, imgs[0].path, img, adds, na, &dests, &reason);
	} else {
		enum initramfs_tool tool;
		log_info("Regenerating the initramfs of %s", kver);
		/* Our own initramfs hooks run inside the generator and would wait
		 * for the tree lock we hold: tell them the build is done. */
		setenv("DKMS_AGENT_NESTED", "1", 1);
		/* The new image must hold every early module, or the old one stays. */
		_cleanup_strv_free_ char **early = NULL;
		for (size_t i = 0; i < n; i++)
			for (size_t f = 0;
			     mods[i].state == AGENT_INSTALLED && mods[i].files && mods[i].files[f];
			     f++)
				if (agent_file_is_early(ctx, &mods[i], mods[i].files[f],
							rootfs_type))
					strv_consume(&early, agent_module_name(mods[i].files[f]));
		struct spawn_opts o = { .out_fd = -1, .quiet = 1 };
		r = initramfs_regenerate(ctx->root, kver, INITRAMFS_TOOL_AUTO, early, &o, &tool,
					 &reason);
		if (r >= 0)
			log_info("Regenerated %s with %s", imgs[0].path, initramfs_tool_name(tool));
	}
	if (r < 0)
		log_error("The initramfs of %s was not refreshed (the old one is kept): %s", kver,
			  reason ? reason : strerror(-r));
	free(adds);
	initramfs_images_free(imgs, ni);
	return r;
}

/* Modules that should be installed for kver and are not. */
static char *missing_list(struct agent_mod *mods, size_t n)
{
	_cleanup_strv_free_ char **l = NULL;
	for (size_t i = 0; i < n; i++)
		if (mods[i].autoinstall &&
		    (mods[i].state == AGENT_BUILT || mods[i].state == AGENT_NOT_BUILT ||
		     mods[i].state == AGENT_STALE || mods[i].state == AGENT_FAILED))
			strv_consume(&l, xasprintf("%s/%s", mods[i].name, mods[i].version));
	return l ? strv_join(l, ", ") : NULL;
}

/* Installs again, from the tree, modules whose files are gone from the
 * module directory (or rebuilds them when the installed file was built for
 * another kernel). */
static int reinstall_stale(struct dk_ctx *ctx, struct agent_mod *mods, size_t n, const char *kver,
			   const char *arch, int *ret_installed)
{
	int failed = 0;
	for (int pass = 0; pass < 2; pass++) {
		struct dk_job *jobs = NULL;
		size_t nj = 0;
		for (size_t i = 0; i < n; i++)
			if (mods[i].state == AGENT_STALE && mods[i].autoinstall &&
			    mods[i].files_missing == (pass == 0))
				ops_job_add(&jobs, &nj, mods[i].name, mods[i].version, kver, arch);
		if (nj == 0)
			continue;
		failed += ops_run(ctx, jobs, nj, OPS_INSTALL | (pass ? OPS_REBUILD : 0));
		for (size_t j = 0; j < nj; j++)
			*ret_installed += jobs[j].installed;
		ops_jobs_free(jobs, nj);
	}
	return failed;
}

/* Installs again what lost its files, builds and installs what is missing.
 * Returns the number of failures. */
static int repair_modules(struct dk_ctx *ctx, struct agent_mod *mods, size_t n, const char *kver,
			  const char *arch, int *ret_installed)
{
	int installed = 0, more = 0;
	int failed = reinstall_stale(ctx, mods, n, kver, arch, &installed);
	_cleanup_strv_free_ char **kernels = NULL;
	strv_consume(&kernels, xasprintf("%s/%s", kver, arch));
	failed += autoinstall_kernels(ctx, kernels, &more);
	*ret_installed = installed + more;
	return failed;
}

/* The initramfs refresh owed since marker was written; the marker goes
 * once it is done. */
static int refresh_owed(const struct dk_ctx *ctx, const char *kver, struct agent_mod *mods,
			size_t n, const char *marker)
{
	struct rootfs_info rfs = { 0 };
	rootfs_probe(ctx->root, ctx->root_device, &rfs);
	int r = refresh_initramfs(ctx, kver, mods, n, rfs.fstype);
	if (r >= 0)
		unlink(marker);
	rootfs_info_done(&rfs);
	return r;
}

/* The work the boot run does when something may be missing; runs in the
 * child, after the budget started: every dkms.conf is read here. */
static int boot_repair(struct dk_ctx *ctx, const char *kver, const char *arch)
{
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), BOOT_EXIT_MISSING;
	/* For boot, --force retries failed builds and re-checks the initramfs;
	 * it does not rebuild what is installed. */
	ctx->skip_current_failures = !ctx->force;
	bool force = ctx->force;
	ctx->force = false;
	_cleanup_free_ char *marker = state_file(ctx, "initramfs-pending", kver);
	struct agent_mod *mods = NULL;
	size_t n = 0;
	agent_scan(ctx, kver, arch, false, &mods, &n);
	size_t work = 0;
	for (size_t i = 0; i < n; i++)
		work += agent_mod_needs_work(&mods[i], force);
	_cleanup_free_ char *before = missing_list(mods, n);
	agent_boot_skip_write(ctx, kver, arch, mods, n);
	if (!work && !force && !path_exists(marker)) {
		/* Nothing to do after all (a module excluded for this kernel,
		 * or not AUTOINSTALL): quiet, as the fast path. A build that
		 * failed before and was not retried is still missing. */
		agent_mods_free(mods, n);
		if (before)
			log_warning("dkms-agent: still missing for %s: %s (failed before; "
				    "`dkms-agent check -k %s` says why)",
				    kver, before, kver);
		return before ? BOOT_EXIT_MISSING : 0;
	}
	if (work)
		log_info("%zu module(s) missing for %s: %s", work, kver, strempty(before));
	if (work || force)
		write_file_atomic(marker, "", 0, 0644);
	int installed = 0;
	struct early_load early = { .ctx = ctx, .kver = kver };
	if (ctx->load_modules && can_load(ctx, kver)) {
		collect_modaliases("/sys/devices", &early.aliases, 0);
		ctx->files_installed = load_installed_now;
		ctx->files_installed_userdata = &early;
	}
	int failed = work ? repair_modules(ctx, mods, n, kver, arch, &installed) : 0;
	ctx->files_installed = NULL;
	strv_free(early.aliases);
	agent_mods_free(mods, n);
	agent_scan(ctx, kver, arch, false, &mods, &n);
	/* Loaded before the initramfs refresh: the display manager waits for
	 * the modules, not for next boot's image. */
	if (ctx->load_modules)
		load_needed(ctx, mods, n, kver);
	notify_ready();
	int refresh = path_exists(marker) ? refresh_owed(ctx, kver, mods, n, marker) : 0;
	_cleanup_free_ char *after = missing_list(mods, n);
	agent_boot_skip_write(ctx, kver, arch, mods, n);
	agent_mods_free(mods, n);
	if (work || after)
		log_info("dkms-agent: %d module(s) installed for %s, %d failed%s%s", installed,
			 kver, failed, after ? "; still missing: " : "", strempty(after));
	if (refresh < 0)
		return BOOT_EXIT_REFRESH;
	return failed || after ? BOOT_EXIT_MISSING : 0;
}

/* Waits for the child at most budget seconds. 0 with its status, or -ETIME. */
static int wait_budget(pid_t pid, unsigned budget, const sigset_t *chld, int *ret_status)
{
	struct timespec now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += budget;
	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			*ret_status = st;
			return 0;
		}
		if (w < 0 && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return -ETIME;
		struct timespec left = { end.tv_sec - now.tv_sec, end.tv_nsec - now.tv_nsec };
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		sigtimedwait(chld, NULL, &left);
	}
}

/* The boot child dies with the boot run (SIGKILL to it, a killed service),
 * until the run lets it go on alone at the end of the budget: SIGUSR1 makes
 * it drop that tie and answer on the pipe. */
static int release_fd = -1;

/* Points fd at /dev/null when it is a pipe: whoever reads it (apt, for a
 * kernel hook) may be gone before the build ends, and a write to a pipe
 * without a reader kills the writer (SIGPIPE), this child or its make. */
static void leave_pipe(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0)
		return;
	dup2(null, fd);
	close(null);
}

static void on_release(int sig)
{
	int saved = errno;
	prctl(PR_SET_PDEATHSIG, 0);
	/* Async-signal-safe all: fstat, open, dup2, close. */
	leave_pipe(STDOUT_FILENO);
	leave_pipe(STDERR_FILENO);
	/* The parent reads, or is gone: nothing more to do either way. */
	(void)!send(release_fd, "r", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	errno = saved;
}

/* Lets the child outlive us; waits a little for its answer. */
static void release_child(pid_t pid, int ack_fd)
{
	kill(pid, SIGUSR1);
	struct pollfd p = { .fd = ack_fd, .events = POLLIN };
	if (poll(&p, 1, 2000) <= 0)
		log_warning("The boot child (pid %d) did not confirm that it goes on alone",
			    (int)pid);
}

static int boot_run(struct dk_ctx *ctx)
{
	_cleanup_free_ char *kver = NULL, *arch = NULL;
	target_kernel(ctx, &kver, &arch);
	/* Fast path: a few stat()s say whether anything is missing; nothing
	 * is read that could take long, nothing is started. */
	_cleanup_strv_free_ char **cand = NULL;
	agent_boot_candidates(ctx, kver, arch, &cand);
	_cleanup_free_ char *marker = state_file(ctx, "initramfs-pending", kver);
	_cleanup_free_ char *appended = state_file(ctx, "initramfs-appended", kver);
	bool owed = path_exists(appended);
	if (!cand && !path_exists(marker) && !ctx->force && !owed)
		return 0;

	setlocale(LC_ALL, "");
	if (owed && !cand && !path_exists(marker) && !ctx->force) {
		schedule_settle(ctx, kver);
		return 0;
	}
	_cleanup_free_ char *names = cand ? strv_join(cand, ", ") : NULL;
	/* Everything past this point, dkms.conf included, runs in the child
	 * under the budget. */
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigaddset(&chld, SIGUSR1);
	sigprocmask(SIG_BLOCK, &chld, &old);
	sigdelset(&chld, SIGUSR1);
	int ack[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ack) < 0)
		ack[0] = ack[1] = -1;
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return boot_repair(ctx, kver, arch);
	}
	_cleanup_free_ char *running = state_file(ctx, "boot-running", kver);
	if (pid == 0) {
		if (ack[0] >= 0)
			close(ack[0]);
		release_fd = ack[1];
		signal(SIGUSR1, on_release);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(BOOT_EXIT_MISSING); /* killed before we could tie ourselves */
		sigprocmask(SIG_SETMASK, &old, NULL);
		int r = boot_repair(ctx, kver, arch);
		unlink(running); /* written by the parent if the budget ran out */
		fflush(NULL);
		_exit(r);
	}
	/* Hold the boot back for the budget at most, then let the child finish. */
	int status = 0;
	int r = wait_budget(pid, ctx->boot_budget_sec, &chld, &status);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (ack[1] >= 0)
		close(ack[1]);
	_cleanup_close_ int ack_fd = ack[0];
	if (r == 0)
		return WIFEXITED(status) ? WEXITSTATUS(status) : BOOT_EXIT_MISSING;
	release_child(pid, ack_fd);
	_cleanup_free_ char *rec = xasprintf("%d\n%s\n", (int)pid, strempty(names));
	write_file_atomic(running, rec, strlen(rec), 0644);
	log_warning("Boot budget of %u s spent with modules still missing for %s (%s): the build "
		    "goes on in the background (pid %d)",
		    ctx->boot_budget_sec, kver, names ? names : "initramfs refresh", (int)pid);
	return BOOT_EXIT_BUDGET;
}

int cmd_boot(struct dk_ctx *ctx, int argc, char **argv)
{
	int r = boot_run(ctx);
	notify_ready();
	return r;
}

/* A hook run: images other kernels got appended to at boot are brought
 * back to the form the distribution's tools read (the kernel being added
 * gets a fresh image from the generator that runs after us). Not from
 * inside a generator that we started. */
static void settle_appended(const struct dk_ctx *ctx, const char *adding)
{
	if (getenv("DKMS_AGENT_NESTED"))
		return;
	_cleanup_strv_free_ char **owed = agent_appended_kernels(ctx);
	for (size_t k = 0; owed && owed[k]; k++) {
		if (streq(owed[k], adding))
			continue;
		_cleanup_free_ char *reason = NULL;
		bool regen;
		if (agent_appended_settle(ctx, owed[k], &regen, &reason) < 0)
			log_warning("The initramfs of %s still carries an appended segment: %s",
				    owed[k], strempty(reason));
		else if (regen)
			log_info("Regenerated the initramfs of %s (it carried an appended segment)",
				 owed[k]);
	}
}

int cmd_kernel_install(struct dk_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || (!streq(argv[0], "add") && !streq(argv[0], "remove"))) {
		log_error(
			"Usage: dkms-agent kernel-install add|remove KVER [ENTRY_DIR [IMAGE...]]");
		return 2;
	}
	_cleanup_free_ char *bad = NULL;
	if (validate_kernel_arg(argv[1], &bad) < 0 || strchr(argv[1], '/')) {
		log_error("%s", bad ? bad : "Invalid kernel version: it contains '/'.");
		return 2;
	}
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m"), 1;
	_cleanup_strv_free_ char **kernels = NULL;
	strv_consume(&kernels, xasprintf("%s/%s", argv[1], ctx_arch(ctx)));
	if (streq(argv[0], "add")) {
		int r = autoinstall_kernels(ctx, kernels, NULL) ? DK_EXIT_AUTOINSTALL_FAILED : 0;
		settle_appended(ctx, argv[1]);
		return r;
	}

	/* remove: take every module out of that kernel. */
	int failed = 0;
	struct dk_tree t;
	module_tree(ctx, &t);
	_cleanup_strv_free_ char **mods = NULL;
	tree_list_modules(&t, &mods);
	for (size_t i = 0; mods && mods[i]; i++) {
		_cleanup_strv_free_ char **vs = NULL;
		tree_list_versions(&t, mods[i], &vs);
		for (size_t j = 0; vs && vs[j]; j++) {
			_cleanup_free_ char *base =
				tree_path(&t, mods[i], vs[j], argv[1], ctx_arch(ctx));
			if (!path_is_dir(base))
				continue;
			_cleanup_(pkg_freep) struct dk_pkg *pkg = NULL;
			_cleanup_free_ char *err = NULL;
			_cleanup_free_ char *rerr = NULL;
			int r = 0;
			if (tree_is_installed(&t, mods[i], vs[j], argv[1], ctx_arch(ctx)) &&
			    module_load(ctx, mods[i], vs[j], NULL, argv[1], ctx_arch(ctx), &pkg,
					&err) >= 0)
				r = install_remove(ctx, pkg, argv[1], ctx_arch(ctx), &rerr);
			if (r >= 0)
				r = kbuild_unbuild(ctx, mods[i], vs[j], argv[1], ctx_arch(ctx));
			if (r < 0) {
				log_error("%s/%s not removed from %s: %s", mods[i], vs[j], argv[1],
					  rerr ? rerr : strerror(-r));
				failed = 1;
				continue;
			}
			log_info("Removed %s/%s from %s", mods[i], vs[j], argv[1]);
		}
	}
	free(t.dir);
	return failed;
}

int cmd_early_modules(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *kver = NULL, *arch = NULL;
	target_kernel(ctx, &kver, &arch);
	struct rootfs_info rfs = { 0 };
	rootfs_probe(ctx->root, ctx->root_device, &rfs);
	struct agent_mod *mods = NULL;
	size_t n = 0;
	/* A full scan: dkms.conf's REMAKE_INITRD counts too. */
	agent_scan(ctx, kver, arch, false, &mods, &n);
	for (size_t i = 0; i < n; i++) {
		for (size_t f = 0;
		     mods[i].state == AGENT_INSTALLED && mods[i].files && mods[i].files[f]; f++)
			if (agent_file_is_early(ctx, &mods[i], mods[i].files[f], rfs.fstype))
				printf("%s\n", mods[i].files[f]);
	}
	agent_mods_free(mods, n);
	rootfs_info_done(&rfs);
	return 0;
}
