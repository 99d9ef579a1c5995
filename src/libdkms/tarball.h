/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms tarballs (mktarball/ldtarball), in dkms 3.x's layout so that either
 * tool loads the other's:
 *   dkms_main_tree/<kver>/<arch>/{module,log}/   built modules, per kernel
 *   dkms_source_tree/                             the source (with dkms.conf)
 *   dkms_binaries_only/{dkms.conf,PACKAGE_NAME,PACKAGE_VERSION}   instead of it
 * Return dkms's exit codes (0 ok) and a message in *ret_error. */
#pragma once

#include "ctx.h"

struct tarball_opts {
	bool source_only, binaries_only, force;
	const char *archive; /* destination (make) or the tarball (load) */
};

/* Archives m/v for kernels ("kver/arch" strv; ignored when source_only).
 * Default name <m>-<v>-kernel<kver>-<arch>[-kernel...].dkms.tar.gz in
 * <dkms_tree>/m/v/tarball/. *ret_path: the tarball made. Codes: 6 not built
 * or tar failed, 9 destination not writable. */
int tarball_make(const struct dk_ctx *ctx, const char *m, const char *v, char **kernels,
		 const struct tarball_opts *o, char **ret_path, char **ret_error);
/* Loads a tarball: the source into the source tree (or a binaries-only
 * dkms.conf into the tree), then every built kernel/arch (kept when already
 * there, unless force). Sets *ret_m, *ret_v and *ret_binaries_only. Codes:
 * 2 no such file, 7 not a dkms tarball, 8 already added (without force). */
int tarball_load(const struct dk_ctx *ctx, const struct tarball_opts *o, char **ret_m, char **ret_v,
		 bool *ret_binaries_only, char **ret_error);
