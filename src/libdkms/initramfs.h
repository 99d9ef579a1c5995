/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Initramfs images: where they are, what they hold, appending a segment and
 * having the distribution's generator rebuild one. Paths are host paths; root
 * arguments are a prefix ("" or NULL for the host root, else an absolute
 * directory) as in struct dk_ctx. Nothing here prints: failures come back as
 * -errno plus, where named ret_reason, a short sentence for the caller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "spawn.h"

enum initramfs_compression {
	INITRAMFS_NONE,
	INITRAMFS_GZIP,
	INITRAMFS_XZ,
	INITRAMFS_LZ4,
	INITRAMFS_ZSTD,
	INITRAMFS_BZIP2, /* recognised, not supported */
	INITRAMFS_LZMA,	 /* recognised, not supported */
	INITRAMFS_LZO,	 /* recognised, not supported */
};

/* Refuse to unpack more than this in total: a small hostile image must not
 * exhaust memory. Real images unpack to a few hundred MiB at most. */
#define INITRAMFS_MAX_UNPACKED ((size_t)2 << 30)

struct initramfs_segment {
	uint64_t offset; /* in the image file */
	uint64_t size;	 /* bytes of the image it spans */
	enum initramfs_compression compression;
	uint64_t unpacked; /* size of the cpio data */
	size_t n_entries;  /* cpio entries, trailers not counted */
};

struct initramfs_file {
	char *name; /* normalised: no leading "./" or "/" */
	uint32_t mode, mtime;
	const uint8_t *data; /* content or symlink target; owned by the initramfs */
	size_t size;
	unsigned segment; /* index of the segment that supplied it */
};

struct initramfs {
	struct initramfs_segment *segments;
	size_t n_segments;
	struct initramfs_file *files; /* sorted by name; the last writer wins */
	size_t n_files;
	uint8_t *image; /* the raw image */
	size_t image_size;
	uint8_t **buffers; /* decompressed segments the files point into */
	size_t n_buffers;
	size_t unfinished; /* bytes of an interrupted append at the end, ignored */
};

/* Reads an image as the kernel unpacks it. Entries are keyed by the path
 * they land on: a later segment's "lib/x" is "usr/lib/x" when lib is a
 * symlink to usr/lib. The unfinished tail of an interrupted
 * initramfs_append() (named by its journal) is left out, as the kernel
 * stops there, and counted in unfinished.
 * Errors of initramfs_read()/initramfs_parse():
 *   -ENODATA          the image (or a compressed stream in it) is truncated
 *   -EPROTONOSUPPORT  unknown or unsupported compression
 *   -EMEDIUMTYPE      the file is neither cpio nor a compressed archive at all
 *   -EBADMSG          a damaged cpio archive or compressed stream
 *   -E2BIG            unpacks past INITRAMFS_MAX_UNPACKED
 *   other -errno      reading the file, running a decompressor */
int initramfs_read(const char *path, struct initramfs **ret, char **ret_reason);
/* The same over a buffer, which is copied. */
int initramfs_parse(const void *buf, size_t len, struct initramfs **ret, char **ret_reason);
void initramfs_free(struct initramfs *i);
static inline void initramfs_freep(struct initramfs **i)
{
	initramfs_free(*i);
}
#define _cleanup_initramfs_ _cleanup_(initramfs_freep)

const char *initramfs_compression_name(enum initramfs_compression c);
/* Looks a path up ("lib/modules/K/x.ko", leading '/' or "./" allowed),
 * following symlinks in the leading components (lib -> usr/lib). */
const struct initramfs_file *initramfs_lookup(const struct initramfs *i, const char *name);
/* Resolves symlinks among the leading components of name (not the last one)
 * as path lookup in the unpacked tree would; a new normalised path, -ELOOP. */
int initramfs_resolve(const struct initramfs *i, const char *name, char **ret);
/* 1 when f is a regular file byte-identical to host file path, 0 when it
 * differs (or is no regular file), -errno when path cannot be read. */
int initramfs_file_matches(const struct initramfs_file *f, const char *path);

/* "./a//b/" and "/a/b" become "a/b"; "." and NULL become "". New string. */
char *initramfs_normalize(const char *name);

/* A file to put into an image: host source → path inside the image. */
struct initramfs_add {
	const char *src;
	const char *dest;
};

/* The file every appended segment carries, at the top of the image: an
 * image holding it was appended to and is unreadable to the distribution's
 * own tools (lsinitramfs, lsinitrd) until regenerated. */
#define INITRAMFS_APPEND_MARKER ".dkms-agent-appended"

/* Appends one zstd-compressed newc segment holding files, their parent
 * directories (the top-level one excepted: it may be a usr-merge symlink)
 * and INITRAMFS_APPEND_MARKER to image, in place: cost and memory are those
 * of the new segment, whatever the image's size. The segment is synced and
 * read back from the file before its magic is written; on any failure the
 * image is cut back to its old length. Takes initramfs_lock() and first
 * runs initramfs_recover(). -EINVAL for a bad dest, -EIO when verification
 * fails, -EPROTONOSUPPORT after an lz4 segment (or an unknown one),
 * -EMEDIUMTYPE when image is no initramfs. */
int initramfs_append(const char *image, const struct initramfs_add *files, size_t n_files,
		     char **ret_reason);

/* Serialises writers of the images in image's directory (flock on the
 * directory): appends, regenerations and their clean-up. The fd to close,
 * or -errno. */
int initramfs_lock(const char *image);
/* Under the lock: rolls back the unfinished tail of an interrupted append,
 * deletes its journal and the IMAGE.dkms-tmp.* copies an interrupted run
 * left. 0 or -errno. */
int initramfs_recover(const char *image);
/* IMAGE.dkms-append, the journal of an append in progress. New string. */
char *initramfs_journal_path(const char *image);
/* Reads the journal: the image's length before the append and the offset
 * of the new segment. -ENOENT without one, -EBADMSG if it is damaged. */
int initramfs_journal_read(const char *image, uint64_t *ret_old, uint64_t *ret_seg);

struct initramfs_image {
	char *path; /* host path */
	bool fallback;
};
/* Existing images for kver under root: Debian's initrd.img-K, Fedora/Arch
 * initramfs-K.img (and -fallback), kernel-install's BLS <id>/K/initrd under
 * /boot, /efi, /boot/efi, and the images named by mkinitcpio presets for
 * that kernel. Non-fallback images come first. Returns the count (maybe 0). */
int initramfs_find(const char *root, const char *kver, struct initramfs_image **ret, size_t *ret_n);
void initramfs_images_free(struct initramfs_image *l, size_t n);

enum initramfs_tool {
	INITRAMFS_TOOL_AUTO,
	INITRAMFS_TOOL_DRACUT,
	INITRAMFS_TOOL_UPDATE_INITRAMFS,
	INITRAMFS_TOOL_MKINITCPIO,
	INITRAMFS_TOOL_KERNEL_INSTALL, /* BLS layout; runs its initrd generator */
	INITRAMFS_TOOL_NONE,
};

const char *initramfs_tool_name(enum initramfs_tool t);
/* Parses a name from initramfs_tool_name() (or "auto"); -EINVAL otherwise. */
int initramfs_tool_from_name(const char *s, enum initramfs_tool *ret);
/* Picks the generator installed under root; INITRAMFS_TOOL_NONE if none. */
enum initramfs_tool initramfs_detect_tool(const char *root);

/* Rebuilds the image of one kernel with tool (AUTO detects). dracut and
 * mkinitcpio write to a temporary file next to the image, which is checked
 * before it replaces the old image; update-initramfs does its own replacing,
 * the result is checked afterwards and the old image (kept as a hard link)
 * comes back if the check fails. The check: the image reads back, holds the
 * kernel's modules.dep and a file for every module named in required (NULL:
 * none; the early DKMS modules). A root other than the host's uses dracut
 * --sysroot, and chroot for the other tools. opts controls output and
 * timeout. Returns 0 and the tool that ran; -EOPNOTSUPP when no generator is
 * installed, -ENOENT when the kernel's modules are missing, -EPROTO when the
 * tool fails or its output does not read back, -ENOPKG when a required
 * module is not in the new image. On failure the old image is in place. */
int initramfs_regenerate(const char *root, const char *kver, enum initramfs_tool tool,
			 char *const *required, const struct spawn_opts *opts,
			 enum initramfs_tool *ret_tool, char **ret_reason);
