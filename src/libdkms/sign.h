/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Module signing, as dkms does it: the kernel's sign-file with a MOK key and
 * certificate, generated with openssl when missing. */
#pragma once

#include "ctx.h"

struct dk_signer {
	char *sign_file; /* host path */
	char *hash;	 /* CONFIG_MODULE_SIG_HASH */
	char *key, *cert;
	bool in_process; /* the kernel's own sign-file: do its work with libcrypto */
};

/* Whether kver's config wants signed modules; fills s when signing is
 * possible (sign-file found). Returns 1 signing, 0 not, <0 error. */
int sign_prepare(const struct dk_ctx *ctx, const char *kver, const char *kconfig,
		 struct dk_signer *s, char **ret_note);
/* Creates the MOK key pair when missing (openssl). */
int sign_ensure_key(const struct dk_signer *s, const char *log_path);
int sign_module(const struct dk_signer *s, const char *ko, int log_fd);
void sign_done(struct dk_signer *s);
/* Reads "KEY=value" (quotes removed) from a kernel config; NULL if unset. */
char *kconfig_get(const char *kconfig, const char *key);
