/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the libFuzzer targets in tests/fuzz/: a private scratch directory
 * per fuzzing process and small file helpers. None of this is fuzzed code. */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Counts the child processes the library tried to start (nospawn.c refused them). */
extern unsigned long fuzz_spawn_refused;

/* Silences the library's logging and creates the scratch directory (removed at
 * exit). Call from LLVMFuzzerInitialize. */
void fuzz_setup(void);
/* The scratch directory: an absolute path without trailing '/'. */
const char *fuzz_scratch(void);
/* Empties the scratch directory. */
void fuzz_scratch_clear(void);
/* path under the scratch directory; the result is static until the next call
 * with the same slot (0..3). */
const char *fuzz_path(unsigned slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes data to path, creating or truncating it; aborts on failure (the
 * harness is broken, not the code under test). */
void fuzz_write(const char *path, const void *data, size_t len);
void fuzz_mkdir_p(const char *path);
