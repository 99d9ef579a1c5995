// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms-agent check: the state of every kernel, its modules, its initramfs,
 * the root filesystem and signing, with a remedy for each problem. */
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "agent.h"
#include "cmd-agent.h"
#include "initramfs.h"
#include "kbuild.h"
#include "kmod.h"
#include "log.h"
#include "module.h"
#include "ops.h"
#include "rootfs.h"
#include "sign.h"

struct report {
	bool json;
	int problems;
	bool first_kernel;
	char *prog; /* how to call us in a remedy: "dkms-agent [--root DIR]" */
};

/* JSON string output, escaped. */
static void jstr(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void jkv(const char *k, const char *v, bool comma)
{
	jstr(k);
	putchar(':');
	if (v)
		jstr(v);
	else
		fputs("null", stdout);
	if (comma)
		putchar(',');
}

static void line(bool good, const char *fmt, ...) _printf_(2, 3);
static void line(bool good, const char *fmt, ...)
{
	va_list ap;
	printf("  %s ", good ? "\u2713" : "\u2717");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *remedy(const struct report *rep, const struct agent_mod *m, const char *kver)
{
	static char buf[1024];
	switch (m->state) {
	case AGENT_BUILT:
	case AGENT_NOT_BUILT:
	case AGENT_STALE: snprintf(buf, sizeof(buf), "%s boot -k %s", rep->prog, kver); return buf;
	case AGENT_FAILED:
		snprintf(buf, sizeof(buf),
			 "read %s, fix the source, then: %s install %s/%s -k %s --force",
			 strempty(m->detail), rep->prog, m->name, m->version, kver);
		return buf;
	case AGENT_BROKEN:
		/* A dkms.conf error is fixed in the file (the message names it
		 * and the line); removing the module would not help. */
		if (m->bad_conf)
			snprintf(buf, sizeof(buf),
				 "fix its dkms.conf as said above, then: %s install %s/%s -k %s",
				 rep->prog, m->name, m->version, kver);
		else
			snprintf(buf, sizeof(buf), "repair or remove it: %s remove %s/%s --all",
				 rep->prog, m->name, m->version);
		return buf;
	default: return NULL;
	}
}

static bool mod_is_problem(const struct agent_mod *m)
{
	if (m->state == AGENT_BROKEN || m->state == AGENT_STALE)
		return true;
	return m->autoinstall &&
	       (m->state == AGENT_BUILT || m->state == AGENT_NOT_BUILT || m->state == AGENT_FAILED);
}

/* The command that puts kver's initramfs right: boot re-checks the image and
 * refreshes it as /etc/dkms-agent.conf says (appending or regenerating); it
 * cannot take a stale module out by appending, nor act with initramfs=off. */
static void image_remedy(const struct dk_ctx *ctx, const struct report *rep, const char *kver,
			 bool removal)
{
	if (rep->json)
		return;
	if (removal || streq(ctx->initramfs_mode, "off"))
		printf("      \u2192 %s initramfs regenerate %s\n", rep->prog, kver);
	else
		printf("      \u2192 %s boot -k %s --force\n", rep->prog, kver);
}

/* Whether an image entry is a copy of a DKMS module: a module file under
 * lib/modules/K outside kernel/ named like one of ours, or anything under
 * updates/dkms (DKMS's own directory, maybe of a module since removed).
 * *ret_mod is the registered module it belongs to, or NULL. */
static bool dkms_copy(const struct initramfs_file *f, const char *kver, struct agent_mod *mods,
		      size_t n, struct agent_mod **ret_mod)
{
	_cleanup_free_ char *a = xasprintf("lib/modules/%s/", kver);
	_cleanup_free_ char *b = xasprintf("usr/lib/modules/%s/", kver);
	const char *rel = startswith(f->name, a);
	if (!rel)
		rel = startswith(f->name, b);
	*ret_mod = NULL;
	if (!rel || startswith(rel, "kernel/") || !S_ISREG(f->mode) || !strstr(rel, ".ko"))
		return false;
	_cleanup_free_ char *name = agent_module_name(rel);
	for (size_t i = 0; i < n; i++) {
		bool match = strv_contains(mods[i].dest_names, name);
		for (size_t k = 0; !match && mods[i].files && mods[i].files[k]; k++) {
			_cleanup_free_ char *fn = agent_module_name(mods[i].files[k]);
			match = streq(fn, name);
		}
		if (match) {
			*ret_mod = &mods[i];
			return true;
		}
	}
	return startswith(rel, "updates/dkms/");
}

static void json_module(bool *first, const char *name, const char *path, bool present, bool current,
			bool needed, bool installed)
{
	printf("%s{", *first ? "" : ",");
	jkv("module", name, true);
	jkv("path", path, true);
	printf("\"present\":%s,\"current\":%s,\"needed\":%s,\"installed\":%s}",
	       present ? "true" : "false", current ? "true" : "false", needed ? "true" : "false",
	       installed ? "true" : "false");
	*first = false;
}

/* The image's segments, and whether dkms-agent appended to it. */
static void show_image(struct report *rep, const char *path, const struct initramfs *img)
{
	bool appended = initramfs_lookup(img, INITRAMFS_APPEND_MARKER) != NULL;
	if (rep->json) {
		printf("\"segments\":%zu,\"appended\":%s,\"unfinished_bytes\":%zu,",
		       img->n_segments, appended ? "true" : "false", img->unfinished);
		return;
	}
	printf("  - initramfs %s: %zu segment(s)", path, img->n_segments);
	for (size_t s = 0; s < img->n_segments; s++)
		printf("%s%s", s ? "+" : " ",
		       initramfs_compression_name(img->segments[s].compression));
	putchar('\n');
	if (appended)
		printf("  - it carries a segment appended by dkms-agent: the kernel reads it, lsinitramfs "
		       "and lsinitrd do not; it is regenerated after boot or at the next kernel hook run "
		       "(now: %s initramfs regenerate-appended)\n",
		       rep->prog);
}

/* Initramfs: every DKMS module it holds is the installed build, and every
 * early module is there. */
static void check_initramfs(const struct dk_ctx *ctx, struct report *rep, const char *kver,
			    struct agent_mod *mods, size_t n, const char *rootfs_type)
{
	struct initramfs_image *imgs = NULL;
	size_t ni = 0;
	initramfs_find(ctx->root, kver, &imgs, &ni);
	if (rep->json)
		fputs("\"initramfs\":", stdout);
	if (ni == 0) {
		if (rep->json)
			fputs("null,", stdout);
		else
			printf("  - no initramfs found for %s\n", kver);
		initramfs_images_free(imgs, ni);
		return;
	}
	_cleanup_initramfs_ struct initramfs *img = NULL;
	_cleanup_free_ char *reason = NULL;
	int r = initramfs_read(imgs[0].path, &img, &reason);
	if (rep->json) {
		putchar('{');
		jkv("path", imgs[0].path, true);
		jkv("error", r < 0 ? (reason ? reason : strerror(-r)) : NULL, true);
		if (r >= 0)
			show_image(rep, imgs[0].path, img);
		fputs("\"modules\":[", stdout);
	} else if (r < 0) {
		line(false, "initramfs %s cannot be read: %s", imgs[0].path,
		     reason ? reason : strerror(-r));
		image_remedy(ctx, rep, kver, true);
	} else {
		show_image(rep, imgs[0].path, img);
	}
	rep->problems += r < 0;
	if (r >= 0 && img->unfinished) {
		rep->problems++;
		if (!rep->json) {
			line(false,
			     "initramfs %s ends in %zu bytes of an interrupted append "
			     "(the kernel stops there with an error)",
			     imgs[0].path, img->unfinished);
			image_remedy(ctx, rep, kver, false);
		}
	}
	bool first = true;
	const struct initramfs_file **seen = xcalloc(1, sizeof(*seen));
	size_t nseen = 0;
	/* Installed modules: in the image, the same build; early ones present. */
	for (size_t i = 0; r >= 0 && i < n; i++) {
		for (size_t f = 0;
		     mods[i].state == AGENT_INSTALLED && mods[i].files && mods[i].files[f]; f++) {
			const char *file = mods[i].files[f];
			_cleanup_free_ char *inside = agent_initramfs_path(ctx, kver, file);
			_cleanup_free_ char *name = agent_module_name(file);
			bool needed = agent_file_is_early(ctx, &mods[i], file, rootfs_type);
			const struct initramfs_file *in = initramfs_lookup(img, inside);
			int same = in ? initramfs_file_matches(in, file) : 0;
			bool bad = (in && same != 1) || (!in && needed);
			rep->problems += bad;
			if (in) {
				seen = xrealloc(seen, (nseen + 1) * sizeof(*seen));
				seen[nseen++] = in;
			}
			if (rep->json)
				json_module(&first, name, in ? in->name : inside, in, same == 1,
					    needed, true);
			else if (in)
				line(same == 1, "initramfs holds %s%s", name,
				     same == 1 ? " (same build as installed)"
					       : ": a DIFFERENT build than the installed one");
			else if (needed)
				line(false, "initramfs lacks %s, which early boot needs", name);
			if (bad)
				image_remedy(ctx, rep, kver, false);
		}
	}
	/* Any other copy of a DKMS module: not the installed build. */
	for (size_t k = 0; r >= 0 && k < img->n_files; k++) {
		const struct initramfs_file *f = &img->files[k];
		struct agent_mod *m;
		bool known = false;
		for (size_t s = 0; s < nseen && !known; s++)
			known = seen[s] == f;
		if (known || !dkms_copy(f, kver, mods, n, &m))
			continue;
		rep->problems++;
		_cleanup_free_ char *name = agent_module_name(f->name);
		if (rep->json) {
			json_module(&first, name, f->name, true, false, false, false);
			continue;
		}
		if (m)
			line(false,
			     "initramfs holds /%s, a copy of %s/%s that is not the installed build (%s)",
			     f->name, m->name, m->version, agent_state_name(m->state));
		else
			line(false, "initramfs holds /%s, a DKMS module no longer registered",
			     f->name);
		image_remedy(ctx, rep, kver, true);
	}
	free(seen);
	if (rep->json)
		fputs("]},", stdout);
	initramfs_images_free(imgs, ni);
}

static void check_signing(const struct dk_ctx *ctx, struct report *rep, const char *kver,
			  struct agent_mod *mods, size_t n)
{
	_cleanup_free_ char *ksrc = ctx_kernel_source_dir(ctx, kver);
	_cleanup_free_ char *kconfig = path_join(ksrc, ".config");
	_cleanup_free_ char *force = kconfig_get(kconfig, "CONFIG_MODULE_SIG_FORCE");
	struct dk_signer s;
	int wants = sign_prepare(ctx, kver, kconfig, &s, NULL);
	bool key = wants > 0 && path_exists(s.key) && path_exists(s.cert);
	int unsigned_n = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0;
		     mods[i].state == AGENT_INSTALLED && mods[i].files && mods[i].files[f]; f++) {
			_cleanup_free_ char *sig = NULL;
			if (kmod_file_info(mods[i].files[f], "sig_id", &sig) < 0)
				unsigned_n++;
		}
	bool enforced = force && streq(force, "y");
	if (enforced && unsigned_n)
		rep->problems++;
	if (rep->json) {
		printf("\"signing\":{\"kernel_signs\":%s,\"enforced\":%s,\"key\":",
		       wants > 0 ? "true" : "false", enforced ? "true" : "false");
		if (wants > 0)
			jstr(s.key);
		else
			fputs("null", stdout);
		printf(",\"key_exists\":%s,\"unsigned_modules\":%d},", key ? "true" : "false",
		       unsigned_n);
	} else if (wants > 0) {
		line(!(enforced && unsigned_n),
		     "signing: the kernel checks module signatures%s; key %s %s; %d unsigned DKMS module(s)",
		     enforced ? " and enforces them" : "", s.key, key ? "exists" : "missing",
		     unsigned_n);
		if (key)
			printf("      (enrol it for Secure Boot once: mokutil --import %s)\n",
			       s.cert);
	}
	if (wants > 0)
		sign_done(&s);
}

/* A kernel is installed under the root when its modules or its image are
 * there; headers alone do not make one. */
static bool kernel_installed(const struct dk_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *k = ctx_install_path(ctx, kver, "kernel");
	_cleanup_free_ char *d = ctx_install_path(ctx, kver, "modules.dep");
	_cleanup_free_ char *v = ctx_install_path(ctx, kver, "vmlinuz");
	_cleanup_free_ char *bp = xasprintf("/boot/vmlinuz-%s", kver);
	_cleanup_free_ char *b = ctx_path(ctx, bp);
	return path_is_dir(k) || path_exists(d) || path_exists(v) || path_exists(b);
}

/* The kernel this check runs on, if it is installed under the root: in a
 * chroot or an image build the host's kernel is not one of them. */
static bool is_running(const struct dk_ctx *ctx, const char *kver)
{
	struct utsname u;
	uname(&u);
	return isempty(ctx->root) && streq(u.release, kver) && kernel_installed(ctx, kver);
}

/* -k: those; --all-kernels: every kernel with a module directory that has
 * modules, an image or headers; by default the running kernel (when it is
 * installed under the root) and the newest installed kernel. */
static char **check_kernels(const struct dk_ctx *ctx)
{
	if (ctx->kernels)
		return ops_kernels(ctx);
	char **all = ops_installed_kernels(ctx);
	if (ctx->all_kernels)
		return all;
	char **l = NULL;
	for (size_t i = 0; all && all[i]; i++) {
		_cleanup_free_ char *k = NULL, *a = NULL;
		module_split_kernel(ctx, all[i], &k, &a);
		if (is_running(ctx, k))
			strv_push(&l, all[i]);
	}
	for (size_t i = strv_length(all); i > 0; i--) {
		_cleanup_free_ char *k = NULL, *a = NULL;
		module_split_kernel(ctx, all[i - 1], &k, &a);
		if (kernel_installed(ctx, k)) {
			if (!strv_contains(l, all[i - 1]))
				strv_push(&l, all[i - 1]);
			break;
		}
	}
	strv_free(all);
	return l;
}

/* What the boot run left: an initramfs refresh still owed (it failed or was
 * interrupted), a build still running after the budget. */
static void check_boot_records(const struct dk_ctx *ctx, struct report *rep, const char *kver)
{
	_cleanup_free_ char *pn = xasprintf(".initramfs-pending-%s", kver);
	_cleanup_free_ char *pending = ctx_dkms_path(ctx, pn);
	bool owed = path_exists(pending);
	_cleanup_free_ char *rn = xasprintf(".boot-running-%s", kver);
	_cleanup_free_ char *rp = ctx_dkms_path(ctx, rn), *rec = NULL;
	int pid = 0;
	char *names = NULL;
	if (read_full_file(rp, &rec, NULL, 1 << 16) >= 0) {
		pid = atoi(rec);
		names = strchr(rec, '\n');
		names = names ? names + 1 : NULL;
		if (names)
			names[strcspn(names, "\n")] = 0;
		if (pid <= 0 || kill(pid, 0) < 0)
			pid = 0; /* it ended (its result is in the journal) */
	}
	owed = owed && pid <= 0; /* the running boot owes it, and says so below */
	rep->problems += owed + (pid > 0);
	if (rep->json) {
		printf("\"initramfs_refresh_owed\":%s,\"boot_build_running\":",
		       owed ? "true" : "false");
		if (pid > 0)
			printf("%d,", pid);
		else
			fputs("null,", stdout);
		return;
	}
	if (owed) {
		line(false,
		     "the initramfs refresh of %s failed or was interrupted: the image may lack "
		     "rebuilt modules",
		     kver);
		printf("      \u2192 %s boot -k %s\n", rep->prog, kver);
	}
	if (pid > 0)
		line(false,
		     "dkms-agent boot (pid %d) is still building for %s after its budget: %s "
		     "still missing",
		     pid, kver, isempty(names) ? "modules" : names);
}

static void check_kernel(struct dk_ctx *ctx, struct report *rep, const char *kver, const char *arch,
			 const struct rootfs_info *rfs)
{
	bool running = is_running(ctx, kver);
	_cleanup_free_ char *hint = NULL;
	bool headers = kbuild_have_headers(ctx, kver, &hint);
	struct agent_mod *mods = NULL;
	size_t n = 0;
	agent_scan(ctx, kver, arch, false, &mods, &n);
	bool needs_build = false;
	for (size_t i = 0; i < n; i++)
		needs_build |= mod_is_problem(&mods[i]) && mods[i].state != AGENT_BROKEN;
	if (!headers && needs_build)
		rep->problems++;

	if (rep->json) {
		printf("%s{", rep->first_kernel ? "" : ",");
		jkv("kernel", kver, true);
		jkv("arch", arch, true);
		printf("\"running\":%s,\"headers\":%s,", running ? "true" : "false",
		       headers ? "true" : "false");
		jkv("headers_package", headers ? NULL : hint, true);
		fputs("\"modules\":[", stdout);
	} else {
		printf("%sKernel %s (%s)%s\n", rep->first_kernel ? "" : "\n", kver, arch,
		       running ? " [running]" : "");
		line(headers || !needs_build, "headers: %s%s%s", headers ? "present" : "missing (",
		     headers ? "" : hint, headers ? "" : ")");
		if (!headers && needs_build)
			printf("      \u2192 apt-get install %s\n", hint);
	}
	rep->first_kernel = false;
	for (size_t i = 0; i < n; i++) {
		struct agent_mod *m = &mods[i];
		bool bad = mod_is_problem(m);
		rep->problems += bad;
		if (rep->json) {
			printf("%s{", i ? "," : "");
			jkv("name", m->name, true);
			jkv("version", m->version, true);
			jkv("state", agent_state_name(m->state), true);
			jkv("detail", m->detail, true);
			printf("\"autoinstall\":%s,\"problem\":%s}",
			       m->autoinstall ? "true" : "false", bad ? "true" : "false");
			continue;
		}
		line(!bad, "%s/%s: %s%s%s", m->name, m->version, agent_state_name(m->state),
		     m->detail ? " — " : "", strempty(m->detail));
		const char *fix = bad ? remedy(rep, m, kver) : NULL;
		if (fix)
			printf("      \u2192 %s\n", fix);
	}
	if (rep->json)
		fputs("],", stdout);
	check_initramfs(ctx, rep, kver, mods, n, rfs->fstype);
	check_boot_records(ctx, rep, kver);
	/* A root filesystem whose module comes from DKMS must be there. */
	for (size_t i = 0; rfs->fstype && i < n; i++) {
		if (!strv_contains(mods[i].dest_names, rfs->fstype) &&
		    !streq(mods[i].name, rfs->fstype))
			continue;
		if (mods[i].state != AGENT_INSTALLED) {
			rep->problems++;
			if (!rep->json)
				printf("  \u2717 THE ROOT FILESYSTEM (%s) NEEDS %s FROM DKMS AND IT IS %s: the next boot of %s would fail\n",
				       rfs->fstype, mods[i].name, agent_state_name(mods[i].state),
				       kver);
		}
	}
	check_signing(ctx, rep, kver, mods, n);
	if (rep->json)
		printf("\"problem_count\":%d}", rep->problems);
	agent_mods_free(mods, n);
}

int cmd_check(struct dk_ctx *ctx, int argc, char **argv)
{
	if (argc > 0) {
		log_error("check takes no arguments (see --help)");
		return 2;
	}
	struct rootfs_info rfs = { 0 };
	int rr = rootfs_probe(ctx->root, ctx->root_device, &rfs);
	struct report rep = { .json = ctx->json, .first_kernel = true };
	_cleanup_strv_free_ char **kernels = check_kernels(ctx);
	_cleanup_free_ char *prog = isempty(ctx->root)
					    ? xstrdup("dkms-agent")
					    : xasprintf("dkms-agent --root %s", ctx->root);
	rep.prog = prog;

	if (rep.json) {
		fputs("{\"rootfs\":", stdout);
		if (rr < 0) {
			fputs("null", stdout);
		} else {
			putchar('{');
			jkv("device", rfs.device, true);
			jkv("spec", rfs.spec, true);
			jkv("found_by", rfs.source, true);
			jkv("fstype", rfs.fstype, true);
			jkv("uuid", rfs.uuid, true);
			jkv("label", rfs.label, false);
			putchar('}');
		}
		fputs(",\"kernels\":[", stdout);
	} else if (rr >= 0) {
		printf("Root filesystem: %s on %s%s%s (found by %s)\n", strempty(rfs.fstype),
		       rfs.device ? rfs.device : strempty(rfs.spec), rfs.uuid ? " UUID=" : "",
		       strempty(rfs.uuid), rfs.source);
	} else {
		printf("Root filesystem: not found\n");
	}
	if (!kernels && !rep.json)
		printf("\nNo kernel (modules or image) is installed under %s\n",
		       isempty(ctx->root) ? "/" : ctx->root);
	for (size_t i = 0; kernels && kernels[i]; i++) {
		_cleanup_free_ char *k = NULL, *a = NULL;
		module_split_kernel(ctx, kernels[i], &k, &a);
		check_kernel(ctx, &rep, k, a, &rfs);
	}
	if (rep.json)
		printf("],\"problems\":%d}\n", rep.problems);
	else
		printf("\n%s: %d problem(s) found\n", rep.problems ? "\u2717" : "\u2713",
		       rep.problems);
	rootfs_info_done(&rfs);
	return rep.problems ? 1 : 0;
}
