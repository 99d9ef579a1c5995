// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms-agent check: the state of every kernel, its modules, its initramfs,
 * the root filesystem and signing, with a remedy for each problem. */
#include <stdarg.h>
#include <stdio.h>
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

static const char *remedy(const struct agent_mod *m, const char *kver)
{
	static char buf[512];
	switch (m->state) {
	case AGENT_BUILT:
	case AGENT_NOT_BUILT:
	case AGENT_STALE:
		snprintf(buf, sizeof(buf),
			 "dkms-agent boot -k %s   (or: dkms install %s/%s -k %s --force)", kver,
			 m->name, m->version, kver);
		return buf;
	case AGENT_FAILED:
		snprintf(buf, sizeof(buf),
			 "read %s, fix the source, then: dkms install %s/%s -k %s --force",
			 strempty(m->detail), m->name, m->version, kver);
		return buf;
	case AGENT_BROKEN:
		snprintf(buf, sizeof(buf), "repair or remove it: dkms remove %s/%s --all", m->name,
			 m->version);
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

/* Initramfs: does the image hold our installed modules, the same build? */
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
		printf("\"segments\":%zu,\"modules\":[", r < 0 ? 0 : img->n_segments);
	} else if (r < 0) {
		rep->problems++;
		line(false, "initramfs %s cannot be read: %s", imgs[0].path,
		     reason ? reason : strerror(-r));
		printf("      \u2192 regenerate it: update-initramfs -u -k %s (or dracut --force --kver %s)\n",
		       kver, kver);
	} else {
		printf("  - initramfs %s: %zu segment(s)", imgs[0].path, img->n_segments);
		for (size_t s = 0; s < img->n_segments; s++)
			printf("%s%s", s ? "+" : " ",
			       initramfs_compression_name(img->segments[s].compression));
		putchar('\n');
	}
	bool first = true;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		for (size_t f = 0;
		     mods[i].state == AGENT_INSTALLED && mods[i].files && mods[i].files[f]; f++) {
			const char *file = mods[i].files[f];
			_cleanup_free_ char *inside = agent_initramfs_path(kver, file);
			_cleanup_free_ char *name = agent_module_name(file);
			bool needed = agent_file_is_early(ctx, &mods[i], file, rootfs_type);
			const struct initramfs_file *in = initramfs_lookup(img, inside);
			int same = in ? initramfs_file_matches(in, file) : 0;
			bool bad = (in && same != 1) || (!in && needed);
			rep->problems += bad;
			if (rep->json) {
				printf("%s{", first ? "" : ",");
				jkv("module", name, true);
				printf("\"present\":%s,\"current\":%s,\"needed\":%s}",
				       in ? "true" : "false", same == 1 ? "true" : "false",
				       needed ? "true" : "false");
				first = false;
			} else if (in) {
				line(same == 1, "initramfs holds %s%s", name,
				     same == 1 ? " (same build as installed)"
					       : ": an OLDER build than the installed one");
			} else if (needed) {
				line(false, "initramfs lacks %s, which early boot needs", name);
			}
			if (bad && !rep->json)
				printf("      \u2192 dkms-agent boot -k %s --force, or update-initramfs -u -k %s\n",
				       kver, kver);
		}
	}
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

static void check_kernel(struct dk_ctx *ctx, struct report *rep, const char *kver, const char *arch,
			 const struct rootfs_info *rfs)
{
	struct utsname u;
	uname(&u);
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
		printf("\"running\":%s,\"headers\":%s,", streq(u.release, kver) ? "true" : "false",
		       headers ? "true" : "false");
		jkv("headers_package", headers ? NULL : hint, true);
		fputs("\"modules\":[", stdout);
	} else {
		printf("%sKernel %s (%s)%s\n", rep->first_kernel ? "" : "\n", kver, arch,
		       streq(u.release, kver) ? " [running]" : "");
		line(headers || !needs_build, "headers: %s", headers ? "present" : hint);
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
		const char *fix = bad ? remedy(m, kver) : NULL;
		if (fix)
			printf("      \u2192 %s\n", fix);
	}
	if (rep->json)
		fputs("],", stdout);
	check_initramfs(ctx, rep, kver, mods, n, rfs->fstype);
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

static char **check_kernels(const struct dk_ctx *ctx)
{
	if (ctx->kernels)
		return ops_kernels(ctx);
	char **all = ops_installed_kernels(ctx);
	if (ctx->all_kernels)
		return all;
	/* By default: the running kernel and the newest installed one. */
	char **l = NULL;
	struct utsname u;
	uname(&u);
	_cleanup_free_ char *run = xasprintf("%s/%s", u.release, ctx_arch(ctx));
	if (strv_contains(all, run) || isempty(ctx->root))
		strv_push(&l, run);
	size_t n = strv_length(all);
	if (n > 0 && !strv_contains(l, all[n - 1]))
		strv_push(&l, all[n - 1]);
	strv_free(all);
	return l;
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
