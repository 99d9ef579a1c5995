/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms 3.x's exit codes: the engine records them per job, the command layer
 * returns them. dkms uses 0-16, 21, 77 and 101; codes of our own start at 40,
 * so that a script testing for one of dkms's never mistakes ours for it. */
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
	DK_EXIT_MISSING_DEPENDS = 13, /* BUILD_DEPENDS not installed (or circular) */
	DK_EXIT_NO_HEADERS = 21,
	DK_EXIT_UNTRUSTED = 40, /* ours: source writable by a non-root user */
	DK_EXIT_EXCLUDED = 77,
	DK_EXIT_PRE_INSTALL_FAILED = 101,
};
