// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the validation at the door (libdkms/validate.c). */
#include <stdio.h>

#include "util.h"
#include "validate.h"
#include "unit.h"

int main(void)
{
	/* Names: what dkms packages and kernels use passes. */
	const char *good[] = { "hello",
			       "nvidia-current",
			       "zfs",
			       "1.0",
			       "2.1.14+dfsg",
			       "535.154.05",
			       "6.1.0-18-amd64",
			       "5.15.0-91-generic~22.04",
			       "x86_64",
			       "r8125_dkms",
			       "v4l2loopback",
			       "1:2.0",
			       "..x",
			       "a..b",
			       "@MOD@" };
	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		CHECK(validate_name(good[i]) == NULL);
	const char *bad[] = {
		"", ".", "..", "a/b", "../x", "-x", "--force", "a\nb", "a\tb", "/abs"
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		CHECK(validate_name(bad[i]) != NULL);
	CHECK(validate_name_len("ab\0c", 4) != NULL);
	CHECK(validate_name(NULL) != NULL);
	/* Locations. */
	const char *loc_good[] = { "",	     "/",      "./",	     "src/",   "/updates/dkms",
				   "/extra", "a/..b/", "drivers//x", "x/.../y" };
	for (size_t i = 0; i < ELEMENTSOF(loc_good); i++)
		CHECK(validate_location(loc_good[i]) == NULL);
	const char *loc_bad[] = { "..",	  "../x", "a/../..", "/updates/../../etc",
				  "a/..", "-rf",  "x\ny" };
	for (size_t i = 0; i < ELEMENTSOF(loc_bad); i++)
		CHECK(validate_location(loc_bad[i]) != NULL);
	/* Scripts: the first word only. */
	CHECK(validate_script("scripts/dkms.postbuild -a x86_64 -k 6.1 -t /var/lib/dkms") == NULL);
	CHECK(validate_script("  ./configure --with-linux=/lib/modules/6.1/../source") == NULL);
	CHECK(validate_script("../../bin/sh -c id") != NULL);
	/* Command-line names. */
	char *err = NULL;
	char *ks[] = { "6.1.0-18-amd64", "6.1.0-18-arm64/aarch64", NULL };
	CHECK(validate_args("hello", "1.0", "x86_64", ks, &err) == 0 && !err);
	char *ks_bad[] = { "6.1.0-18-amd64", "../x", NULL };
	CHECK(validate_args("hello", "1.0", NULL, ks_bad, &err) == -EINVAL && err &&
	      strstr(err, "'../x'"));
	free(err);
	err = NULL;
	CHECK(validate_kernel_arg("6.1/..", &err) == -EINVAL && err && strstr(err, "architecture"));
	free(err);
	err = NULL;
	CHECK(validate_args("a/b", NULL, NULL, NULL, &err) == -EINVAL && strstr(err, "'a/b'"));
	free(err);
	return unit_summary();
}
