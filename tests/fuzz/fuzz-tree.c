// SPDX-License-Identifier: GPL-2.0-or-later
/* The dkms state tree: the input is a program that builds a small sandbox
 * root (directories, symbolic links, files whose names come from a small
 * alphabet of dkms-like names plus "..", "." and odd ones), then every tree_*
 * reader and `dkms status` (cmd_status, stdout to /dev/null) run over it.
 *
 * Each operation takes bytes: op, base, n components, components..., and
 * for a link the target's components (relative, or absolute inside the
 * root), for a file a content choice. Every directory, file and link is
 * created inside the root (each step checked with realpath); link targets
 * may point a little outside it, which the readers only read. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd-dkms.h"
#include "ctx.h"
#include "fuzz.h"
#include "tree.h"

#define KVER "6.1.0-18-amd64"

static const char *const names[] = {
	"m", "n", "1.0", "2.0", KVER, "5.10.0-1-amd64", "x86_64", "aarch64", "source", "module",
	"log", ("kernel-" KVER "-x86_64"), "kernel-5.10.0-1-amd64-x86_64", "original_module", "..",
	".", "m.ko", "m.ko.zst", "n.ko.xz", "dkms.conf", "make.log", "updates", "dkms", "m-1.0",
	"n-2.0", "9.", "10.1", "-", "a b", ".hidden", "kernel--", ("kernel-" KVER "-"), "usr/src",
	"var/lib/dkms", "lib/modules",
};
#define N_NAMES (sizeof(names) / sizeof(*names))

static const char *const bases[] = { "var/lib/dkms", "var/lib/dkms/m", "var/lib/dkms/m/1.0",
				     "usr/src", ("lib/modules/" KVER), "etc/dkms", "" };
#define N_BASES (sizeof(bases) / sizeof(*bases))

static const char *const contents[] = {
	"PACKAGE_NAME=m\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=m\nDEST_MODULE_LOCATION[0]=/updates\n",
	"PACKAGE_NAME=n\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=n\nBUILT_MODULE_NAME[1]=m\n"
	"DEST_MODULE_LOCATION[0]=/extra\nDEST_MODULE_LOCATION[1]=/extra\nAUTOINSTALL=yes\n",
	"PACKAGE_NAME=m\nPACKAGE_VERSION=\"$(uname -r)\"\n", /* needs bash: refused */
	"\x7f" "ELF module bytes",
	"",
};
#define N_CONTENTS (sizeof(contents) / sizeof(*contents))

static char *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	root = strdup(fuzz_path(0, "root"));
	/* cmd_status prints its lines: discard them (libFuzzer reports on stderr). */
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		abort();
	close(fd);
	return 0;
}

struct input {
	const uint8_t *p, *end;
};

static unsigned take(struct input *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

/* Up to four components joined with '/'. */
static void components(struct input *in, char *buf, size_t len, unsigned *ret_dotdots)
{
	unsigned n = take(in) % 4 + 1, dd = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < n; i++) {
		const char *c = names[take(in) % N_NAMES];
		dd += strcmp(c, "..") == 0;
		if (i)
			strncat(buf, "/", len - strlen(buf) - 1);
		strncat(buf, c, len - strlen(buf) - 1);
	}
	if (ret_dotdots)
		*ret_dotdots = dd;
}

static char root_real[PATH_MAX];

static bool inside_root(const char *p)
{
	char rp[PATH_MAX];
	size_t n = strlen(root_real);
	return realpath(p, rp) && strncmp(rp, root_real, n) == 0 && (rp[n] == 0 || rp[n] == '/');
}

/* Walks rel under root, creating the missing directories one at a time and
 * checking each step with realpath: neither ".." nor a symbolic link made by
 * an earlier operation may lead a write outside the root. With all set,
 * every component is made a directory; otherwise *ret_parent is the checked
 * directory and *ret_last the last component, still to be created. */
static bool walk(const char *rel, bool all, char *ret_parent, const char **ret_last)
{
	char cur[PATH_MAX];
	const char *c = rel, *next;
	snprintf(cur, sizeof(cur), "%s", root_real);
	for (;; c = next + 1) {
		while (*c == '/')
			c++;
		next = strchr(c, '/');
		if (!*c || (!next && !all))
			break;
		size_t l = next ? (size_t)(next - c) : strlen(c);
		if (strlen(cur) + l + 2 > sizeof(cur))
			return false;
		strcat(cur, "/");
		strncat(cur, c, l);
		(void)mkdir(cur, 0755); /* its parent was checked */
		if (!inside_root(cur))
			return false;
		if (!next)
			break;
	}
	if (all)
		return true;
	if (!*c || strchr(c, '/'))
		return false;
	snprintf(ret_parent, PATH_MAX, "%s", cur);
	*ret_last = c;
	return true;
}

static void build(struct input *in)
{
	rm_rf(root);
	for (size_t b = 0; b + 1 < N_BASES; b++)
		fuzz_mkdir_p(fuzz_path(0, "root/%s", bases[b]));
	if (!realpath(root, root_real))
		abort();
	for (unsigned ops = 0; ops < 48 && in->p < in->end; ops++) {
		unsigned op = take(in);
		char rel[512], rest[512], target[512], parent[PATH_MAX], path[PATH_MAX + 512];
		const char *last;
		snprintf(rel, sizeof(rel), "%s/", bases[take(in) % N_BASES]);
		components(in, rest, sizeof(rest), NULL);
		strncat(rel, rest, sizeof(rel) - strlen(rel) - 1);
		if (op % 4 == 0) {
			(void)walk(rel, true, NULL, NULL);
			continue;
		}
		if (!walk(rel, false, parent, &last))
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, last);
		switch (op % 4) {
		case 1: {
			/* Link targets are only read: they may point a little outside. */
			unsigned dd;
			components(in, target, sizeof(target), &dd);
			if (op & 0x10) {
				char abs[PATH_MAX + 512];
				snprintf(abs, sizeof(abs), "%s/%s", root_real, target);
				(void)symlink(abs, path);
			} else if (dd < 3) {
				(void)symlink(target, path);
			}
			break;
		}
		case 2: {
			const char *c = contents[take(in) % N_CONTENTS];
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
			if (fd >= 0) {
				(void)!write(fd, c, strlen(c));
				close(fd);
			}
			break;
		}
		case 3:
			(void)symlink(op & 0x20 ? "1.0/" KVER "/x86_64" : "../1.0", path);
			break;
		}
	}
}

static void query(const struct dk_tree *t)
{
	char **mods = NULL;
	if (tree_list_modules(t, &mods) < 0)
		return;
	for (size_t i = 0; mods[i]; i++) {
		char **vs = NULL;
		free(tree_installed_version(t, mods[i], KVER, "x86_64"));
		if (tree_list_versions(t, mods[i], &vs) < 0)
			continue;
		for (size_t j = 0; vs[j]; j++) {
			char **ks = NULL;
			(void)tree_is_added(t, mods[i], vs[j]);
			if (tree_list_kernel_dirs(t, mods[i], vs[j], &ks) < 0)
				continue;
			for (size_t k = 0; ks[k]; k++) {
				char *slash = strchr(ks[k], '/');
				if (!slash)
					abort(); /* "kver/arch" by contract */
				*slash = 0;
				(void)tree_is_installed(t, mods[i], vs[j], ks[k], slash + 1);
				char *iv = tree_installed_version(t, mods[i], ks[k], slash + 1);
				free(iv);
				char *d = tree_path(t, mods[i], vs[j], ks[k], slash + 1);
				char *md = NULL;
				if (asprintf(&md, "%s/module", d) >= 0) {
					free(tree_find_module_file(md, "m"));
					free(md);
				}
				free(d);
			}
			strv_free(ks);
		}
		strv_free(vs);
	}
	strv_free(mods);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, data + size };
	build(&in);

	struct dk_tree t = { .dir = path_join(root, "var/lib/dkms") };
	query(&t);
	free(t.dir);

	struct dk_ctx ctx;
	ctx_init(&ctx);
	ctx_set_root(&ctx, root);
	ctx.jobs = 1;
	(void)cmd_status(&ctx, 0, NULL);
	if (size > 0 && (data[0] & 1)) {
		char arg[] = "m/1.0";
		char *argv[] = { arg, NULL };
		(void)cmd_status(&ctx, 1, argv);
	}
	ctx_done(&ctx);
	return 0;
}
