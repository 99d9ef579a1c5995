// SPDX-License-Identifier: GPL-2.0-or-later
/* /etc/dkms/framework.conf: framework_read() over the input. Plain
 * assignments are read natively (conf_native_source); anything else would go
 * to bash, which nospawn.c refuses. */
#include <stdlib.h>
#include <string.h>

#include "framework.h"
#include "fuzz.h"

static char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	path = strdup(fuzz_path(0, "framework.conf"));
	return 0;
}

static int cb(const char *name, const char *value, void *userdata)
{
	size_t *n = userdata;
	if (!name || !*name || !value)
		abort();
	*n += strlen(value);
	/* A non-zero return stops the walk and comes back from framework_read. */
	return strcmp(name, "post_transaction") == 0 ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	fuzz_write(path, data, size);
	int r = framework_read(path, NULL, cb, &n);
	if (r > 0 && r != 7)
		abort();
	return 0;
}
