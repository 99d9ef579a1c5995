// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of module signature verification against the kernel's own
 * sign-file: a signature by our key verifies; another key's, a changed byte,
 * a truncated signature and an unsigned file do not; in-process signing
 * gives sign-file's bytes exactly (PKCS#1 v1.5 signatures are
 * deterministic). Skipped (77) without openssl or sign-file. */
#include <glob.h>
#include <sys/stat.h>
#include <stdio.h>

#include "modsig.h"
#include "spawn.h"
#include "util.h"
#include "unit.h"

static int run(char **argv)
{
	struct spawn_opts o = { .out_fd = -1, .quiet = 1 };
	return spawn_wait(argv, &o);
}

static int mkkey(const char *dir, const char *name, const char *form)
{
	char *key = xasprintf("%s/%s.key", dir, name), *crt = xasprintf("%s/%s.crt", dir, name);
	char *argv[] = { "openssl", "req",	"-new",	      "-x509",	 "-nodes",   "-days",
			 "1",	    "-subj",	"/CN=test",   "-newkey", "rsa:2048", "-keyout",
			 key,	    "-outform", (char *)form, "-out",	 crt,	     NULL };
	int r = run(argv);
	free(key);
	free(crt);
	return r;
}

static int verify_file(const char *p, const char *cert)
{
	char *d = NULL;
	size_t len;
	int r = read_full_file(p, &d, &len, 0);
	if (r >= 0)
		r = modsig_verify(d, len, cert);
	free(d);
	return r;
}

int main(void)
{
	glob_t g;
	if (glob("/usr/lib/linux-kbuild-*/scripts/sign-file", 0, NULL, &g) != 0) {
		printf("skipped: no sign-file\n");
		return 77;
	}
	char *sign_file = xstrdup(g.gl_pathv[0]);
	globfree(&g);
	char tmpl[] = "/tmp/dkms-agent-unit.XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir)
		return 1;
	if (mkkey(dir, "a", "DER") != 0 || mkkey(dir, "b", "PEM") != 0) {
		rm_rf(dir);
		printf("skipped: openssl cannot make keys\n");
		return 77;
	}
	char *ko = path_join(dir, "m.ko"), *ka = path_join(dir, "a.key");
	char *ca = path_join(dir, "a.crt"), *cb = path_join(dir, "b.crt");
	char blob[5000];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (char)(i * 13);
	CHECK(write_file_atomic(ko, blob, sizeof(blob), 0644) == 0);
	CHECK(verify_file(ko, ca) == -ENODATA);
	char *argv[] = { sign_file, "sha256", ka, ca, ko, NULL };
	CHECK(run(argv) == 0);
	CHECK(verify_file(ko, ca) == 0);
	/* A PEM certificate of another key. */
	CHECK(verify_file(ko, cb) == -EBADMSG);

	char *d = NULL;
	size_t len = 0;
	CHECK(read_full_file(ko, &d, &len, 0) >= 0);
	d[100] ^= 1;
	CHECK(modsig_verify(d, len, ca) == -EBADMSG);
	d[100] ^= 1;
	CHECK(modsig_verify(d, len, ca) == 0);
	/* The length field claims more than there is. */
	d[len - 28 - 4] = 0x7f;
	CHECK(modsig_verify(d, len, ca) == -EBADMSG);
	CHECK(modsig_verify(d, 10, ca) == -ENODATA);
	free(d);
	CHECK(verify_file(ko, "/nonexistent") == -ENOENT);

	/* In-process signing, against sign-file on the same bytes. */
	char *ours = path_join(dir, "ours.ko"), *theirs = path_join(dir, "theirs.ko");
	CHECK(write_file_atomic(ours, blob, sizeof(blob), 0600) == 0);
	CHECK(write_file_atomic(theirs, blob, sizeof(blob), 0600) == 0);
	CHECK(modsig_sign(ours, "sha512", ka, ca) == 0);
	char *argv2[] = { sign_file, "sha512", ka, ca, theirs, NULL };
	CHECK(run(argv2) == 0);
	CHECK(files_equal(ours, theirs));
	CHECK(verify_file(ours, ca) == 0);
	struct stat st;
	CHECK(stat(ours, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(modsig_sign(ours, "nosuchhash", ka, ca) == -EBADMSG);
	CHECK(modsig_sign(ours, "sha256", "/nonexistent", ca) == -ENOENT);
	CHECK(modsig_sign(ours, "sha256", ca, ca) == -EBADMSG); /* a certificate is no key */
	free(ours);
	free(theirs);

	rm_rf(dir);
	free(ko);
	free(ka);
	free(ca);
	free(cb);
	free(sign_file);
	return unit_summary();
}
