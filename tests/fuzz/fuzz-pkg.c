// SPDX-License-Identifier: GPL-2.0-or-later
/* A package as read_conf leaves it: pkg_load() over a dkms.conf and up to
 * three /etc/dkms overrides, then pkg_exclusion() against a fixed kernel
 * .config. The input is split at lines "#@@": dkms.conf, then
 * etc/dkms/fz.conf, then etc/dkms/fz-1.0-<kver>.conf. bash is refused
 * (nospawn.c), so a file the native evaluator declines is an error here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "pkg.h"

#define KVER "6.1.0-18-amd64"
static const char *const parts[] = { "fz-1.0/dkms.conf", "etc/dkms/fz.conf",
				     "etc/dkms/fz-1.0-" KVER ".conf" };
static char *paths[3], *etc_dkms, *kconfig;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char config[] = "CONFIG_MODULES=y\nCONFIG_PCI=y\nCONFIG_USB=m\n"
				     "# CONFIG_DRM is not set\nCONFIG_X86_64=y\n";
	fuzz_setup();
	fuzz_mkdir_p(fuzz_path(0, "fz-1.0"));
	fuzz_mkdir_p(fuzz_path(0, "etc/dkms"));
	for (size_t i = 0; i < 3; i++)
		paths[i] = strdup(fuzz_path(0, "%s", parts[i]));
	etc_dkms = strdup(fuzz_path(0, "etc/dkms"));
	kconfig = strdup(fuzz_path(0, "config"));
	fuzz_write(kconfig, config, sizeof(config) - 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dk_pkg_env env = {
		.conf = { .kernelver = KVER, .arch = "x86_64",
			  .kernel_source_dir = "/lib/modules/" KVER "/build",
			  .kernel_config = kconfig, .module = "fz", .module_version = "1.0" },
		.etc_dkms = etc_dkms,
	};
	const uint8_t *p = data, *end = data + size;
	size_t i;

	for (i = 0; i < 3; i++) {
		const uint8_t *cut = NULL;
		for (const uint8_t *s = p; i < 2 && s + 4 <= end; s++)
			if (memcmp(s, "#@@\n", 4) == 0 && (s == data || s[-1] == '\n')) {
				cut = s;
				break;
			}
		size_t n = (size_t)((cut ? cut : end) - p);
		fuzz_write(paths[i], p, n);
		if (!cut) {
			i++;
			break;
		}
		p = cut + 4;
	}
	for (; i < 3; i++)
		unlink(paths[i]);

	struct dk_pkg *pkg = NULL;
	char *err = NULL;
	if (pkg_load(paths[0], &env, &pkg, &err) >= 0) {
		free(pkg_exclusion(pkg, KVER, "x86_64", kconfig));
		free(pkg_exclusion(pkg, "5.10.0-1-arm64", "aarch64", kconfig));
		pkg_free(pkg);
	}
	free(err);
	return 0;
}
