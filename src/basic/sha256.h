/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SHA-256 (FIPS 180-4), streamed: for the build cache's keys and entry
 * digests, and for comparing files without holding them in memory. No
 * library: the boot path must not pay for loading libcrypto. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (2 * SHA256_DIGEST_SIZE + 1)

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;
	uint8_t buf[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Writes the digest; s must be initialised again before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST_SIZE]);
/* Lower-case hex of a digest, NUL-terminated. */
void sha256_hex(const uint8_t d[SHA256_DIGEST_SIZE], char out[SHA256_HEX_SIZE]);
/* One-shot digest of a buffer, as hex. */
void sha256_hex_of(const void *data, size_t len, char out[SHA256_HEX_SIZE]);
/* Feeds everything fd has left into s (reads in 64 KiB blocks). Returns the
 * number of bytes read, or -errno. */
int64_t sha256_update_fd(struct sha256 *s, int fd);
/* Whether to use the CPU's SHA instructions when it has them (the default);
 * the tests compare both ways. */
void sha256_set_accel(bool on);
