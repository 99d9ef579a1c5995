// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the native dkms.conf evaluator (src/conf-native.c) and its
 * bash fallback and cache: quoting, arrays, CRLF, continuations, expansion in
 * both passes, set -u behaviour, when bash is asked, and the cache. Each test
 * runs in its own child with a timeout. */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "conf.h"
#include "framework.h"
#include "util.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)
#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!streq_ptr(_a, _b)) {                                                          \
			fprintf(stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__, strempty(_a), \
				strempty(_b));                                                     \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

static char scratch[] = "/tmp/test-conf.XXXXXX";

/* Writes text to <scratch>/foo-1.0/dkms.conf and reads it. */
static struct dk_conf *read_text(const char *text, const struct dk_conf_env *env)
{
	static const struct dk_conf_env none = {};
	_cleanup_free_ char *dir = path_join(scratch, "foo-1.0");
	_cleanup_free_ char *file = path_join(dir, "dkms.conf");
	struct dk_conf *c = NULL;
	CHECK(mkdir_p(dir, 0755) == 0);
	CHECK(write_file_atomic(file, text, strlen(text), 0644) == 0);
	CHECK(conf_read(file, env ? env : &none, &c) == 0);
	return c;
}

static void test_quoting(void)
{
	_cleanup_conf_free_ struct dk_conf *c =
		read_text("PACKAGE_NAME='a  b'\n"
			  "PACKAGE_VERSION=\"x\\\\y\\$\"\n"
			  "CLEAN=un\\ quoted'mixed'\"parts\" # comment\n"
			  "MAKE=#notacomment\n"
			  "POST_ADD=\"a\\qb\"\n",
			  NULL);
	CHECK(!c->used_bash);
	CHECK_STR(conf_get(c, "PACKAGE_NAME", 0), "a b"); /* the echo squeezes spaces */
	/* x\\y\$ gives x\y$ in the first pass, then "x\y$" gives x\y$. */
	CHECK_STR(conf_get(c, "PACKAGE_VERSION", 0), "x\\y$");
	CHECK_STR(conf_get(c, "CLEAN", 0), "un quotedmixedparts");
	CHECK_STR(conf_get(c, "MAKE", 0), "#notacomment");
	CHECK_STR(conf_get(c, "POST_ADD", 0), "a\\qb");
}

static void test_arrays(void)
{
	_cleanup_conf_free_ struct dk_conf *c =
		read_text("BUILT_MODULE_NAME=(one \"two\" 'three')\n"
			  "DEST_MODULE_LOCATION[010]=/extra\n"
			  "DEST_MODULE_LOCATION[0x2]=/updates\n"
			  "PATCH[3]=p.patch\nPATCH+=(q.patch)\n"
			  "STRIP=(\n  no # first\n  yes\n)\n"
			  "STRIP=maybe\n",
			  NULL);
	CHECK(!c->used_bash);
	CHECK(conf_count(c, "BUILT_MODULE_NAME") == 3);
	CHECK_STR(conf_get(c, "BUILT_MODULE_NAME", 2), "three");
	CHECK_STR(conf_get(c, "DEST_MODULE_LOCATION", 8), "/extra");
	CHECK_STR(conf_get(c, "DEST_MODULE_LOCATION", 2), "/updates");
	CHECK_STR(conf_get(c, "PATCH", 4), "q.patch");
	CHECK_STR(conf_get(c, "STRIP", 0), "maybe");
	CHECK_STR(conf_get(c, "STRIP", 1), "yes");
}

static void test_crlf_and_continuations(void)
{
	_cleanup_conf_free_ struct dk_conf *c = read_text("PACKAGE_NAME=foo\r\n\r\n# comment\r\n"
							  "MAKE=\"make \\\n  -C dir\"\r\n"
							  "CLEAN=make\\\nclean\n",
							  NULL);
	CHECK(!c->used_bash);
	/* One trailing CR is stripped from each value before the echo. */
	CHECK_STR(conf_get(c, "PACKAGE_NAME", 0), "foo");
	CHECK_STR(conf_get(c, "MAKE", 0), "make -C dir");
	CHECK_STR(conf_get(c, "CLEAN", 0), "makeclean");
}

static void test_expansion(void)
{
	struct dk_conf_env env = { .kernelver = "6.9.1-arch1", .arch = "aarch64" };
	_cleanup_conf_free_ struct dk_conf *c = read_text(
		"PACKAGE_NAME=foo\n"
		"helper=bar\n"
		"PACKAGE_VERSION=${helper}-$module_version\n"
		"MAKE[0]=\"make -C ${kernel_source_dir} M=\\${dkms_tree}/$PACKAGE_NAME\"\n"
		"CLEAN=\"$arch $kernelver $module\"\n"
		"POST_ADD='${kernel_config}'\n"
		"POST_BUILD=\"price \\$ 5 and a$\"\n",
		&env);
	CHECK(!c->used_bash);
	CHECK_STR(conf_get(c, "PACKAGE_VERSION", 0), "bar-1.0");
	/* \${dkms_tree} survives the first pass and expands in the second. */
	CHECK_STR(conf_get(c, "MAKE", 0),
		  "make -C /lib/modules/6.9.1-arch1/build M=/var/lib/dkms/foo");
	CHECK_STR(conf_get(c, "CLEAN", 0), "aarch64 6.9.1-arch1 foo");
	/* Single quotes stop the first expansion, not the second. */
	CHECK_STR(conf_get(c, "POST_ADD", 0), "/lib/modules/6.9.1-arch1/build/.config");
	CHECK_STR(conf_get(c, "POST_BUILD", 0), "price $ 5 and a$");
}

static void test_unset(void)
{
	/* Like dkms (no set -u), an unset variable is empty, in the sourcing and
	 * in the second expansion alike; neither needs bash. */
	_cleanup_conf_free_ struct dk_conf *a =
		read_text("PACKAGE_NAME=foo\nMAKE=\"x $no_such_variable_here\"\n", NULL);
	CHECK(!a->used_bash && a->status == 0);
	CHECK_STR(conf_get(a, "PACKAGE_NAME", 0), "foo");
	CHECK_STR(conf_get(a, "MAKE", 0), "x ");
	_cleanup_conf_free_ struct dk_conf *b =
		read_text("PACKAGE_NAME=foo\nMAKE=\"x \\$no_such_variable_here y\"\n", NULL);
	CHECK(!b->used_bash && b->status == 0);
	CHECK_STR(conf_get(b, "MAKE", 0), "x  y");
	/* zfs-dkms: a CONFIG_ option the kernel's .config does not set, tested
	 * after sourcing it, is empty and the file reads to its end. */
	_cleanup_free_ char *kconfig = path_join(scratch, "config");
	CHECK(write_file_atomic(kconfig, "CONFIG_SMP=y\n", 13, 0644) == 0);
	struct dk_conf_env kenv = { .kernel_config = kconfig };
	_cleanup_conf_free_ struct dk_conf *z = read_text(
		"PACKAGE_NAME=zfs\n"
		"[ -r \"$kernel_config\" ] && . \"$kernel_config\"\n"
		"if [ \"$CONFIG_PREEMPT_RT\" = y ]; then BUILD_EXCLUSIVE_KERNEL=NONE; fi\n"
		"PACKAGE_VERSION=2.1.11\n",
		&kenv);
	CHECK(z->used_bash && z->status == 0);
	CHECK_STR(conf_get(z, "PACKAGE_VERSION", 0), "2.1.11");
	CHECK(conf_get(z, "BUILD_EXCLUSIVE_KERNEL", 0) == NULL);
	/* parallel_jobs is defined as dkms defines it (nvidia's MAKE uses it). */
	struct dk_conf_env env = { .parallel_jobs = "7" };
	_cleanup_conf_free_ struct dk_conf *j =
		read_text("MAKE=\"make ${parallel_jobs+-j$parallel_jobs} modules\"\n", &env);
	CHECK_STR(conf_get(j, "MAKE", 0), "make -j7 modules");
}

static void test_bash_errors(void)
{
	/* What bash says is kept: file, line and message. */
	_cleanup_conf_free_ struct dk_conf *a =
		read_text("PACKAGE_NAME=foo\nno_such_command_here\nPACKAGE_VERSION=1\n", NULL);
	CHECK(a->used_bash && a->bash_stderr);
	CHECK(strstr(a->bash_stderr, "dkms.conf: line 2: no_such_command_here"));
	CHECK_STR(conf_get(a, "PACKAGE_VERSION", 0), "1");
	_cleanup_conf_free_ struct dk_conf *b =
		read_text("PACKAGE_NAME=foo\nif true; then\n", NULL);
	CHECK(b->used_bash && b->bash_stderr && strstr(b->bash_stderr, "syntax error"));
}

static void test_fallback(void)
{
	_cleanup_conf_free_ struct dk_conf *a =
		read_text("PACKAGE_NAME=foo\nif true; then MAKE=yes; fi\n", NULL);
	CHECK(a->used_bash);
	CHECK_STR(conf_get(a, "MAKE", 0), "yes");
	_cleanup_conf_free_ struct dk_conf *b = read_text(
		"PACKAGE_VERSION=$(echo 1.2 | tr . -)\nCLEAN=\"${PACKAGE_VERSION%-*}\"\n", NULL);
	CHECK(b->used_bash);
	CHECK_STR(conf_get(b, "PACKAGE_VERSION", 0), "1-2");
	CHECK_STR(conf_get(b, "CLEAN", 0), "1");
	/* A glob that matches a file in the directory: bash expands it. */
	_cleanup_conf_free_ struct dk_conf *g = read_text("MAKE=\"ls dkms.con? x\"\n", NULL);
	CHECK(g->used_bash);
	CHECK_STR(conf_get(g, "MAKE", 0), "ls dkms.conf x");
	_cleanup_conf_free_ struct dk_conf *n = read_text("MAKE=\"ls nothing*\"\n", NULL);
	CHECK(!n->used_bash);
	CHECK_STR(conf_get(n, "MAKE", 0), "ls nothing*");
	/* The guarded-assignment idiom is native. */
	_cleanup_conf_free_ struct dk_conf *t =
		read_text("N=20\n[ $N -gt 16 ] && N=16\nMAKE=\"make -j$N\"\n", NULL);
	CHECK(!t->used_bash);
	CHECK_STR(conf_get(t, "MAKE", 0), "make -j16");
}

static void test_cache(void)
{
	_cleanup_free_ char *cache = path_join(scratch, "cache");
	struct dk_conf_env env = { .cache_dir = cache };
	const char *text = "PACKAGE_NAME=$(echo cached)\n";
	_cleanup_conf_free_ struct dk_conf *a = read_text(text, &env);
	CHECK(a->used_bash && !a->from_cache);
	CHECK_STR(conf_get(a, "PACKAGE_NAME", 0), "cached");
	_cleanup_free_ char *dir = path_join(scratch, "foo-1.0");
	_cleanup_free_ char *file = path_join(dir, "dkms.conf");
	struct dk_conf *b = NULL;
	CHECK(conf_read(file, &env, &b) == 0);
	CHECK(b->from_cache);
	CHECK_STR(conf_get(b, "PACKAGE_NAME", 0), "cached");
	conf_free(b);
	/* A corrupt entry is ignored and replaced. */
	_cleanup_strv_free_ char **entries = NULL;
	CHECK(dir_list(cache, &entries) == 0 && strv_length(entries) == 1);
	_cleanup_free_ char *entry = path_join(cache, entries[0]);
	CHECK(write_file_atomic(entry, "garbage", 7, 0644) == 0);
	CHECK(conf_read(file, &env, &b) == 0);
	CHECK(!b->from_cache);
	CHECK_STR(conf_get(b, "PACKAGE_NAME", 0), "cached");
	conf_free(b);
	/* Another kernel is another key. */
	env.kernelver = "5.0.0";
	CHECK(conf_read(file, &env, &b) == 0);
	CHECK(!b->from_cache);
	conf_free(b);
}

static int collect(const char *name, const char *value, void *userdata)
{
	strv_consume(userdata, xasprintf("%s=%s", name, value));
	return 0;
}

static void test_framework(void)
{
	_cleanup_free_ char *f = path_join(scratch, "framework.conf");
	const char *plain = "# dkms framework\ndkms_tree=\"/srv/dkms\"\n"
			    "source_tree=/srv/src # here\nsign_file='/x y'\nparallel_jobs=4\n";
	_cleanup_strv_free_ char **got = NULL;
	CHECK(write_file_atomic(f, plain, strlen(plain), 0644) == 0);
	CHECK(framework_read(f, NULL, collect, &got) == 0);
	CHECK(strv_length(got) == 4);
	CHECK_STR(got[0], "dkms_tree=/srv/dkms");
	CHECK_STR(got[1], "source_tree=/srv/src");
	CHECK_STR(got[2], "sign_file=/x y");
	CHECK_STR(got[3], "parallel_jobs=4");
	/* Not plain assignments: bash sources it. */
	const char *shell = "if true; then parallel_jobs=$((2 * 3)); fi\nverbose=$(echo 1)\n";
	_cleanup_strv_free_ char **got2 = NULL;
	CHECK(write_file_atomic(f, shell, strlen(shell), 0644) == 0);
	CHECK(framework_read(f, NULL, collect, &got2) == 0);
	CHECK(strv_contains(got2, "parallel_jobs=6"));
	CHECK(strv_contains(got2, "verbose=1"));
	_cleanup_free_ char *missing = path_join(scratch, "nope.conf");
	CHECK(framework_read(missing, NULL, collect, &got2) == -ENOENT);
	/* dkms's variables are set while it sources the file, and each value is
	 * expanded a second time (safe_source): ${kernelver} in single quotes
	 * too. */
	const char *sig = "mok_signing_key='/k/${kernelver}.key'\n"
			  "mok_certificate=$dkms_tree/$kernelver.pub\n";
	char *context[] = { (char *)"kernelver=6.1.0-9-amd64", (char *)"dkms_tree=/var/lib/dkms",
			    NULL };
	_cleanup_strv_free_ char **got3 = NULL;
	CHECK(write_file_atomic(f, sig, strlen(sig), 0644) == 0);
	CHECK(framework_read(f, context, collect, &got3) == 0);
	CHECK(strv_contains(got3, "mok_signing_key=/k/6.1.0-9-amd64.key"));
	CHECK(strv_contains(got3, "mok_certificate=/var/lib/dkms/6.1.0-9-amd64.pub"));
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "framework", test_framework },
	{ "quoting", test_quoting },
	{ "arrays", test_arrays },
	{ "crlf_and_continuations", test_crlf_and_continuations },
	{ "expansion", test_expansion },
	{ "unset", test_unset },
	{ "bash_errors", test_bash_errors },
	{ "fallback", test_fallback },
	{ "cache", test_cache },
};

int main(int argc, char **argv)
{
	unsigned pass = 0, fail = 0;
	for (size_t k = 0; k < ELEMENTSOF(tests); k++) {
		if (argc > 1 && !streq(argv[1], tests[k].name))
			continue;
		strcpy(scratch, "/tmp/test-conf.XXXXXX");
		CHECK(mkdtemp(scratch));
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(60);
			tests[k].fn();
			_exit(0);
		}
		int status;
		waitpid(pid, &status, 0);
		bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		printf("%s %s\n", ok ? "PASS" : "FAIL", tests[k].name);
		ok ? pass++ : fail++;
		rm_rf(scratch);
	}
	printf("%u passed, %u failed\n", pass, fail);
	return fail ? 1 : 0;
}
