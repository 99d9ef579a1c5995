// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the helpers and the tree reader: version order (as `sort -V`),
 * paths, atomic writes, tree states. */
#include <stdio.h>
#include <sys/stat.h>

#include "tree.h"
#include "util.h"
#include "unit.h"

static void test_version_order(void)
{
	/* The order LC_ALL=C sort -V gives (computed with GNU coreutils). */
	static const char *const sorted[] = {
		"0.9",
		"1.0~rc1",
		"1.0",
		"1.0a",
		"1.0-1",
		"1.0.0",
		"1.0.1",
		"1.2.3~beta",
		"1.9",
		"1.10",
		"2",
		"6.1.0-9-amd64",
		"6.1.0-56-amd64",
		"6.10.0-1-amd64",
		"10",
		"535.54.03",
		"535.154.05",
		"2024.01",
		"a",
		"b",
	};
	for (size_t i = 0; i < ELEMENTSOF(sorted); i++)
		for (size_t j = 0; j < ELEMENTSOF(sorted); j++) {
			int c = version_cmp(sorted[i], sorted[j]);
			int want = i < j ? -1 : i > j ? 1 : 0;
			if (c != want)
				fprintf(stderr, "version_cmp(%s, %s) = %d, want %d\n", sorted[i],
					sorted[j], c, want);
			CHECK(c == want);
		}
}

static void test_paths(void)
{
	char *p = path_join("/a/", "/b", "c/", "d");
	CHECK(streq(p, "/a/b/c/d"));
	free(p);
	p = path_join("", "/var/lib/dkms");
	CHECK(streq(p, "/var/lib/dkms"));
	free(p);
	p = path_join("/root", "");
	CHECK(streq(p, "/root"));
	free(p);
	CHECK(streq(path_basename("/x/y.ko"), "y.ko"));
	char **l = strv_split("  a b\tc  ", " \t");
	CHECK(strv_length(l) == 3 && streq(l[2], "c"));
	char *j = strv_join(l, ",");
	CHECK(streq(j, "a,b,c"));
	free(j);
	strv_free(l);
}

static void test_atomic(const char *dir)
{
	char *f = path_join(dir, "file");
	CHECK(write_file_atomic(f, "one", 3, 0644) == 0);
	CHECK(write_file_atomic(f, "two!", 4, 0600) == 0);
	char *c = NULL;
	size_t n = 0;
	CHECK(read_full_file(f, &c, &n, 0) == 0 && n == 4 && streq(c, "two!"));
	struct stat st;
	CHECK(stat(f, &st) == 0 && (st.st_mode & 0777) == 0600);
	char **ents = NULL;
	CHECK(dir_list(dir, &ents) == 0 && strv_length(ents) == 1); /* no temp left */
	strv_free(ents);
	char *missing = path_join(dir, "nope/file");
	CHECK(write_file_atomic(missing, "x", 1, 0644) == -ENOENT);
	free(missing);
	free(c);
	free(f);
}

static void mk(const char *root, const char *rel)
{
	char *p = path_join(root, rel);
	CHECK(mkdir_p(p, 0755) == 0);
	free(p);
}

static void ln(const char *target, const char *root, const char *rel)
{
	char *p = path_join(root, rel);
	CHECK(symlink(target, p) == 0);
	free(p);
}

static void test_tree(const char *dir)
{
	struct dk_tree t = { .dir = path_join(dir, "dkms") };
	mk(dir, "src/m-1.0");
	mk(dir, "dkms/m/1.0/6.1.0-1-amd64/x86_64/module");
	mk(dir, "dkms/m/1.0/build");	  /* dkms's own build dir: not a kernel */
	mk(dir, "dkms/m/1.0/.build-x-y"); /* ours: hidden */
	mk(dir, "dkms/m/2.0");		  /* no source: not added */
	mk(dir, "dkms/n/0.1");
	ln("../../../src/m-1.0", dir, "dkms/m/1.0/source");
	ln("/nonexistent/n-0.1", dir, "dkms/n/0.1/source"); /* dangling: still "added" */
	ln("1.0/6.1.0-1-amd64/x86_64", dir, "dkms/m/kernel-6.1.0-1-amd64-x86_64");

	char **mods = NULL, **vs = NULL, **ks = NULL;
	CHECK(tree_list_modules(&t, &mods) == 0 && strv_length(mods) == 2);
	CHECK(tree_list_versions(&t, "m", &vs) == 0 && strv_length(vs) == 3);
	CHECK(tree_list_kernel_dirs(&t, "m", "1.0", &ks) == 0 && strv_length(ks) == 1 &&
	      streq(ks[0], "6.1.0-1-amd64/x86_64"));
	CHECK(tree_is_added(&t, "m", "1.0"));
	CHECK(!tree_is_added(&t, "m", "2.0"));
	CHECK(tree_is_added(&t, "n", "0.1"));
	CHECK(tree_is_installed(&t, "m", "1.0", "6.1.0-1-amd64", "x86_64"));
	CHECK(!tree_is_installed(&t, "m", "2.0", "6.1.0-1-amd64", "x86_64"));
	/* By the link's text: an absolute link (as old dkms wrote) names the
	 * tree's own directory wherever the tree is; another module's does not. */
	mk(dir, "dkms/m/1.0/6.1.0-2-amd64/x86_64/module");
	ln("/var/lib/dkms/m/1.0/6.1.0-2-amd64/x86_64", dir, "dkms/m/kernel-6.1.0-2-amd64-x86_64");
	CHECK(tree_is_installed(&t, "m", "1.0", "6.1.0-2-amd64", "x86_64"));
	mk(dir, "dkms/n/0.1/6.1.0-1-amd64/x86_64/module");
	ln("../m/1.0/6.1.0-1-amd64/x86_64", dir, "dkms/n/kernel-6.1.0-1-amd64-x86_64");
	CHECK(!tree_is_installed(&t, "n", "0.1", "6.1.0-1-amd64", "x86_64"));
	CHECK(!tree_is_installed(&t, "n", "1.0", "6.1.0-1-amd64", "x86_64"));
	char *v = tree_installed_version(&t, "m", "6.1.0-1-amd64", "x86_64");
	CHECK(v && streq(v, "1.0"));
	free(v);
	strv_free(mods);
	strv_free(vs);
	strv_free(ks);
	free(t.dir);
}

int main(void)
{
	char tmpl[] = "/tmp/dkms-agent-unit.XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir)
		return 1;
	test_version_order();
	test_paths();
	test_atomic(dir);
	test_tree(dir);
	rm_rf(dir);
	return unit_summary();
}
