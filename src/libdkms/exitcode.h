/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms 3.x's exit codes: the engine records them per job, the command layer
 * returns them. */
#pragma once

enum {
	DK_EXIT_ALREADY_BUILT = 3,
	DK_EXIT_PATCH_MISSING = 5,
	DK_EXIT_INSTALL_ABORTED = 6,
	DK_EXIT_PATCH_FAILED = 6,
	DK_EXIT_MODULE_MISSING = 7,
	DK_EXIT_BAD_CONF = 8,
	DK_EXIT_BUILD_FAILED = 10,
	DK_EXIT_AUTOINSTALL_FAILED = 11,
	DK_EXIT_UNTRUSTED = 13, /* ours: source writable by a non-root user */
	DK_EXIT_NO_HEADERS = 21,
	DK_EXIT_EXCLUDED = 77,
};
