/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every unit test shares: CHECK counts a condition as passed or
 * failed (naming the failed one), unit_summary() prints the closing line
 * and gives the exit status. */
#pragma once

#include <stdio.h>

static int failures, passes;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			passes++;                                                                  \
		} else {                                                                           \
			failures++;                                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

static inline int unit_summary(void)
{
	printf("%d passed, %d failed\n", passes, failures);
	return failures ? 1 : 0;
}
