// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms.conf: the input is the file <scratch>/fz-1.0/dkms.conf, read with
 * conf_read() in a fixed context, then read again over its own result (the
 * way /etc/dkms overrides are sourced). Whatever the native evaluator
 * declines goes to bash, which nospawn.c refuses: only the in-process
 * evaluator, the context set-up and the result ordering/printing run. */
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "fuzz.h"

static FILE *devnull;
static const char *conf_path;

static const struct dk_conf_env env = {
	.kernelver = "6.1.0-18-amd64",
	.arch = "x86_64",
	.kernel_source_dir = "/lib/modules/6.1.0-18-amd64/build",
	.dkms_tree = "/var/lib/dkms",
	.source_tree = "/usr/src",
	.install_tree = "/lib/modules",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	fuzz_mkdir_p(fuzz_path(0, "fz-1.0"));
	conf_path = strdup(fuzz_path(0, "fz-1.0/dkms.conf"));
	devnull = fopen("/dev/null", "we");
	if (!devnull)
		abort();
	return 0;
}

static void use(const struct dk_conf *c)
{
	conf_print(c, devnull);
	unsigned n = conf_count(c, "BUILT_MODULE_NAME");
	for (unsigned i = 0; i < n && i < 64; i++)
		(void)conf_get(c, "BUILT_MODULE_NAME", i);
	(void)conf_get(c, "MAKE", 0);
	(void)conf_get(c, "PACKAGE_NAME", 0);
	/* The result is in whitelist order, indices ascending. */
	for (size_t i = 0; i < c->n_vars; i++)
		if (!c->vars[i].name || !c->vars[i].value)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_conf *c = NULL, *over = NULL;

	fuzz_write(conf_path, data, size);
	if (conf_read(conf_path, &env, &c) < 0)
		return 0;
	use(c);
	if (conf_read_over(conf_path, &env, c, &over) >= 0) {
		use(over);
		conf_free(over);
	}
	conf_free(c);
	return 0;
}
