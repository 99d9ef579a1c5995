/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Module signatures as the kernel checks them: a detached PKCS#7 (CMS)
 * signature appended to the module, then a struct module_signature and the
 * magic "~Module signature appended~\n". libcrypto is loaded with dlopen()
 * on first use, so that only the callers that verify or sign pay for it. */
#pragma once

#include <stddef.h>

/* Whether the module image (uncompressed) carries a signature that the key of
 * the certificate at cert_path (DER or PEM) made over the rest of it.
 * Returns 0 valid, -ENODATA no signature, -EBADMSG a malformed signature or
 * one that this key did not make, -EOPNOTSUPP libcrypto unavailable, other
 * -errno (the certificate cannot be read). */
int modsig_verify(const void *data, size_t len, const char *cert_path);

/* Signs the module file at path in place (atomically) as the kernel's
 * sign-file does: a detached CMS signature without signed attributes,
 * issuer and serial as the signer's id, then the trailer. key_path: a PEM
 * (or DER) private key; cert_path: its certificate (DER or PEM); hash: a
 * digest name ("sha512"). Returns 0, -EOPNOTSUPP when libcrypto is
 * unavailable, -EBADMSG when the key, certificate or digest is unusable,
 * other -errno. */
int modsig_sign(const char *path, const char *hash, const char *key_path, const char *cert_path);

/* Loads libcrypto now, before a fork, so that children need not each load
 * it. Returns 0 or -EOPNOTSUPP. */
int modsig_preload(void);
