// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <sys/stat.h>

#include "agent.h"
#include "cmd-initramfs.h"
#include "initramfs.h"
#include "log.h"

static int usage(void)
{
	fputs("usage: dkms-agent initramfs list IMAGE\n"
	      "       dkms-agent initramfs has IMAGE PATH [HOSTFILE]\n"
	      "       dkms-agent initramfs append IMAGE SRC:DEST...\n"
	      "       dkms-agent [--root DIR] initramfs find KVER\n"
	      "       dkms-agent [--root DIR] initramfs detect\n"
	      "       dkms-agent [--root DIR] initramfs regenerate KVER [--tool NAME] [--require MODULE]...\n"
	      "       dkms-agent [--root DIR] initramfs regenerate-appended [KVER...]\n",
	      stderr);
	return 2;
}

static int failed(const char *what, int r, const char *reason)
{
	fprintf(stderr, "dkms-agent: %s: %s\n", what, reason ? reason : strerror(-r));
	return 1;
}

static int open_image(const char *path, struct initramfs **ret)
{
	_cleanup_free_ char *reason = NULL;
	int r = initramfs_read(path, ret, &reason);
	return r < 0 ? failed(path, r, reason) : 0;
}

static int do_list(const char *path)
{
	_cleanup_initramfs_ struct initramfs *img = NULL;
	if (open_image(path, &img))
		return 1;
	for (size_t k = 0; k < img->n_segments; k++) {
		const struct initramfs_segment *s = &img->segments[k];
		printf("segment %zu offset=%llu size=%llu compression=%s unpacked=%llu entries=%zu\n",
		       k, (unsigned long long)s->offset, (unsigned long long)s->size,
		       initramfs_compression_name(s->compression), (unsigned long long)s->unpacked,
		       s->n_entries);
	}
	for (size_t k = 0; k < img->n_files; k++) {
		const struct initramfs_file *f = &img->files[k];
		printf("%06o %10zu %u %s", f->mode, f->size, f->segment, f->name);
		if (S_ISLNK(f->mode))
			printf(" -> %.*s", (int)f->size, (const char *)f->data);
		putchar('\n');
	}
	return 0;
}

static int do_has(const char *path, const char *name, const char *host)
{
	_cleanup_initramfs_ struct initramfs *img = NULL;
	if (open_image(path, &img))
		return 1;
	const struct initramfs_file *f = initramfs_lookup(img, name);
	if (!f) {
		printf("%s: missing\n", name);
		return 1;
	}
	if (!host) {
		printf("%s: present\n", name);
		return 0;
	}
	int r = initramfs_file_matches(f, host);
	if (r < 0)
		return failed(host, r, NULL);
	printf("%s: %s\n", name, r ? "identical" : "differs");
	return r ? 0 : 1;
}

static int do_append(const char *path, int n, char **specs)
{
	struct initramfs_add *add = xcalloc((size_t)n, sizeof(*add));
	_cleanup_strv_free_ char **keep = NULL;
	for (int k = 0; k < n; k++) {
		char *colon = strrchr(specs[k], ':');
		if (!colon || colon == specs[k] || !colon[1]) {
			free(add);
			return usage();
		}
		strv_consume(&keep, xstrndup(specs[k], (size_t)(colon - specs[k])));
		add[k] = (struct initramfs_add){ .src = keep[k], .dest = colon + 1 };
	}
	_cleanup_free_ char *reason = NULL;
	int r = initramfs_append(path, add, (size_t)n, &reason);
	free(add);
	if (r < 0)
		return failed(path, r, reason);
	return 0;
}

static int do_find(struct dk_ctx *ctx, const char *kver)
{
	struct initramfs_image *l;
	size_t n;
	initramfs_find(ctx->root, kver, &l, &n);
	for (size_t k = 0; k < n; k++)
		printf("%s%s\n", l[k].path, l[k].fallback ? " (fallback)" : "");
	initramfs_images_free(l, n);
	return n ? 0 : 1;
}

static int do_regenerate(struct dk_ctx *ctx, int argc, char **argv)
{
	enum initramfs_tool tool = INITRAMFS_TOOL_AUTO, ran;
	const char *kver = NULL;
	_cleanup_strv_free_ char **required = NULL;
	for (int k = 0; k < argc; k++) {
		if (streq(argv[k], "--tool") && k + 1 < argc) {
			if (initramfs_tool_from_name(argv[++k], &tool) < 0)
				return usage();
		} else if (streq(argv[k], "--require") && k + 1 < argc) {
			strv_push(&required, argv[++k]);
		} else if (!kver)
			kver = argv[k];
		else
			return usage();
	}
	if (!kver)
		return usage();
	_cleanup_free_ char *reason = NULL;
	struct spawn_opts o = { .out_fd = ctx->verbose ? STDERR_FILENO : -1,
				.quiet = !ctx->verbose };
	int r = initramfs_regenerate(ctx->root, kver, tool, required, &o, &ran, &reason);
	if (r < 0)
		return failed(kver, r, reason);
	printf("%s\n", initramfs_tool_name(ran));
	return 0;
}

/* Images dkms-agent appended to (at boot) go back to the form the
 * distribution's tools read: its generator rebuilds them. By default every
 * kernel with such a record; 0 when all were settled. */
static int do_regenerate_appended(struct dk_ctx *ctx, int argc, char **argv)
{
	_cleanup_strv_free_ char **kvers = NULL;
	for (int k = 0; k < argc; k++) {
		if (argv[k][0] == '-' || strchr(argv[k], '/'))
			return usage();
		strv_push(&kvers, argv[k]);
	}
	if (!kvers)
		kvers = agent_appended_kernels(ctx);
	int failures = 0;
	for (size_t k = 0; kvers && kvers[k]; k++) {
		_cleanup_free_ char *reason = NULL;
		bool regen;
		int r = agent_appended_settle(ctx, kvers[k], &regen, &reason);
		if (r < 0) {
			failures++;
			fprintf(stderr,
				"dkms-agent: the initramfs of %s still carries an appended segment: %s\n",
				kvers[k], reason ? reason : strerror(-r));
		} else {
			printf("%s: %s\n", kvers[k],
			       regen ? "regenerated" : "no appended segment (nothing to do)");
		}
	}
	return failures ? 1 : 0;
}

int cmd_initramfs(struct dk_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *sub = argv[1];
	if (streq(sub, "list") && argc == 3)
		return do_list(argv[2]);
	if (streq(sub, "has") && (argc == 4 || argc == 5))
		return do_has(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (streq(sub, "append") && argc >= 4)
		return do_append(argv[2], argc - 3, argv + 3);
	if (streq(sub, "find") && argc == 3)
		return do_find(ctx, argv[2]);
	if (streq(sub, "detect") && argc == 2) {
		printf("%s\n", initramfs_tool_name(initramfs_detect_tool(ctx->root)));
		return 0;
	}
	if (streq(sub, "regenerate-appended"))
		return do_regenerate_appended(ctx, argc - 2, argv + 2);
	if (streq(sub, "regenerate"))
		return do_regenerate(ctx, argc - 2, argv + 2);
	return usage();
}
