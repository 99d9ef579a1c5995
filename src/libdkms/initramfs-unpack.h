/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One compressed segment of an initramfs: recognising its magic, finding
 * where it ends and decompressing it. zstd goes through libzstd; gzip, xz and
 * lz4 through the system tools, as the kernel's own formats. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "initramfs.h"

/* The compression whose magic starts buf, or INITRAMFS_NONE. */
enum initramfs_compression unpack_detect(const uint8_t *buf, size_t len);

/* Decompresses the stream of compression c at the start of buf. On success
 * returns 0, the number of input bytes the stream spans in *ret_consumed and
 * a malloc'd output buffer. Unpacking more than max_out bytes gives -E2BIG.
 * Errors as initramfs_read(), with a new string in *ret_reason. */
int unpack_segment(enum initramfs_compression c, const uint8_t *buf, size_t len, size_t max_out,
		   size_t *ret_consumed, uint8_t **ret_out, size_t *ret_out_len, char **ret_reason);

/* CRC-32 (IEEE 802.3, as in gzip and xz), continuing from crc (0 to start). */
uint32_t unpack_crc32(uint32_t crc, const void *buf, size_t len);
