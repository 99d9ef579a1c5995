// SPDX-License-Identifier: GPL-2.0-or-later
/* boot, kernel-install and early-modules: the agent's actions. */
#include <fnmatch.h>
#include <signal.h>
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

/* Loads the installed modules the machine needs now: a present device's
 * alias matches, or modules-load.d lists it. Only for the running kernel on
 * the host root: a sandbox has no kernel to load into. */
static void load_needed(const struct dk_ctx *ctx, struct agent_mod *mods, size_t n,
			const char *kver)
{
	struct utsname u;
	uname(&u);
	if (!isempty(ctx->root) || !streq(u.release, kver)) {
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
			if (kmod_is_loaded(name))
				continue;
			if (!listed_for_loading(ctx, name) && !matches_device(file, aliases))
				continue;
			int r = kmod_load(name);
			if (r < 0)
				log_warning_errno(r, "Failed to load %s: %m", name);
			else
				log_info("Loaded %s", name);
		}
	}
}

/* Files to append for the rebuilt modules of kver, and whether the image
 * should hold them: it held them before, or they are early modules. */
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
	_cleanup_initramfs_ struct initramfs *img = NULL;
	_cleanup_free_ char *reason = NULL;
	int r = initramfs_read(imgs[0].path, &img, &reason);
	struct initramfs_add *adds = NULL;
	size_t na = 0;
	_cleanup_strv_free_ char **dests = NULL;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		for (size_t f = 0; mods[i].files && mods[i].files[f]; f++) {
			const char *file = mods[i].files[f];
			_cleanup_free_ char *inside = agent_initramfs_path(kver, file);
			const struct initramfs_file *old = initramfs_lookup(img, inside);
			if (!old && !agent_file_is_early(ctx, &mods[i], file, rootfs_type))
				continue;
			if (old && initramfs_file_matches(old, file) == 1)
				continue;
			strv_push(&dests, inside);
			adds = xrealloc(adds, (na + 1) * sizeof(*adds));
			adds[na++] = (struct initramfs_add){ .src = file };
		}
	}
	if (r >= 0 && na == 0) {
		log_info("The initramfs %s does not need the rebuilt modules", imgs[0].path);
		free(adds);
		initramfs_images_free(imgs, ni);
		return 0;
	}
	if (r >= 0 && streq(ctx->initramfs_mode, "append")) {
		static const char *const idx[] = { "modules.dep",     "modules.dep.bin",
						   "modules.alias",   "modules.alias.bin",
						   "modules.symbols", "modules.symbols.bin",
						   "modules.softdep" };
		_cleanup_strv_free_ char **srcs = NULL;
		for (size_t k = 0; k < ELEMENTSOF(idx); k++) {
			_cleanup_free_ char *rel = xasprintf("lib/modules/%s/%s", kver, idx[k]);
			if (!initramfs_lookup(img, rel))
				continue;
			char *src = ctx_install_path(ctx, kver, idx[k]);
			strv_consume(&srcs, src);
			strv_push(&dests, rel);
			adds = xrealloc(adds, (na + 1) * sizeof(*adds));
			adds[na++] = (struct initramfs_add){ .src = src };
		}
		for (size_t k = 0; k < na; k++)
			adds[k].dest = dests[k];
		free(reason);
		reason = NULL;
		r = initramfs_append(imgs[0].path, adds, na, &reason);
		if (r >= 0)
			log_info("Appended %zu files to %s", na, imgs[0].path);
	} else {
		enum initramfs_tool tool;
		free(reason);
		reason = NULL;
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
		log_warning_errno(r, "Initramfs of %s not refreshed (the old one is kept): %s",
				  kver, reason ? reason : "failed");
	free(adds);
	initramfs_images_free(imgs, ni);
	return r;
}

/* Set while a refresh of kver's initramfs is owed: written before modules
 * are installed, removed once the image is refreshed (or needs nothing), so
 * a boot interrupted in between is finished by the next one. */
static char *refresh_marker(const struct dk_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *n = xasprintf(".initramfs-pending-%s", kver);
	return ctx_dkms_path(ctx, n);
}

/* The work the boot run does when something is missing. */
static int boot_repair(struct dk_ctx *ctx, const char *kver, const char *arch)
{
	_cleanup_close_ int lock = lock_tree(ctx, 0);
	if (lock < 0)
		return log_error_errno(lock, "Cannot lock the dkms tree: %m");
	/* For boot, --force retries failed builds and re-checks the initramfs;
	 * it does not rebuild what is installed. */
	ctx->skip_current_failures = !ctx->force;
	ctx->force = false;
	_cleanup_strv_free_ char **kernels = NULL;
	strv_consume(&kernels, xasprintf("%s/%s", kver, arch));
	_cleanup_free_ char *marker = refresh_marker(ctx, kver);
	write_file_atomic(marker, "", 0, 0644);
	int installed = 0;
	int failed = autoinstall_kernels(ctx, kernels, &installed);
	struct agent_mod *mods = NULL;
	size_t n = 0;
	agent_scan(ctx, kver, arch, false, &mods, &n);
	struct rootfs_info rfs = { 0 };
	rootfs_probe(ctx->root, ctx->root_device, &rfs);
	if (refresh_initramfs(ctx, kver, mods, n, rfs.fstype) >= 0)
		unlink(marker);
	rootfs_info_done(&rfs);
	if (ctx->load_modules)
		load_needed(ctx, mods, n, kver);
	agent_mods_free(mods, n);
	log_info("dkms-agent: %d module(s) installed for %s, %d failed", installed, kver, failed);
	return failed ? 1 : 0;
}

int cmd_boot(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *kver = NULL, *arch = NULL;
	target_kernel(ctx, &kver, &arch);
	struct agent_mod *mods = NULL;
	size_t n = 0;
	/* Fast path: the tree alone says whether anything is missing. */
	agent_scan(ctx, kver, arch, true, &mods, &n);
	size_t work = 0;
	for (size_t i = 0; i < n; i++)
		work += agent_mod_needs_work(&mods[i], ctx->force);
	agent_mods_free(mods, n);
	_cleanup_free_ char *marker = refresh_marker(ctx, kver);
	if (work == 0 && !path_exists(marker) && !ctx->force)
		return 0;

	if (work)
		log_info("%zu module(s) missing for %s: building", work, kver);
	pid_t pid = fork();
	if (pid < 0) {
		return boot_repair(ctx, kver, arch);
	}
	if (pid == 0)
		_exit(boot_repair(ctx, kver, arch));
	/* Hold the boot back for the budget at most, then let the child finish. */
	time_t start = time(NULL);
	int status, r = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			r = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
			break;
		}
		if (time(NULL) - start >= (time_t)ctx->boot_budget_sec) {
			log_warning(
				"Boot budget of %u s spent: the build goes on in the background (pid %d)",
				ctx->boot_budget_sec, (int)pid);
			break;
		}
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return r;
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
	if (streq(argv[0], "add"))
		return autoinstall_kernels(ctx, kernels, NULL) ? DK_EXIT_AUTOINSTALL_FAILED : 0;

	/* remove: take every module out of that kernel. */
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
			if (tree_is_installed(&t, mods[i], vs[j], argv[1], ctx_arch(ctx)) &&
			    module_load(ctx, mods[i], vs[j], NULL, argv[1], ctx_arch(ctx), &pkg,
					&err) >= 0)
				install_remove(ctx, pkg, argv[1], ctx_arch(ctx));
			kbuild_unbuild(ctx, mods[i], vs[j], argv[1], ctx_arch(ctx));
			log_info("Removed %s/%s from %s", mods[i], vs[j], argv[1]);
		}
	}
	free(t.dir);
	return 0;
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
