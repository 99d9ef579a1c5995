// SPDX-License-Identifier: GPL-2.0-or-later
#include <blkid.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "rootfs.h"
#include "util.h"

void rootfs_info_done(struct rootfs_info *i)
{
	free(i->source);
	free(i->spec);
	free(i->device);
	free(i->fstype);
	free(i->uuid);
	free(i->label);
	*i = (struct rootfs_info){ 0 };
}

/* libblkid's -1/NULL convention translated here, once. */
static int probe_device(const char *dev, struct rootfs_info *i)
{
	blkid_probe pr = blkid_new_probe_from_filename(dev);
	if (!pr)
		return errno > 0 ? -errno : -ENOENT;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
						      BLKID_SUBLKS_LABEL);
	int r = blkid_do_safeprobe(pr);
	if (r == 0) {
		const char *v;
		if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0)
			i->fstype = xstrdup(v);
		if (blkid_probe_lookup_value(pr, "UUID", &v, NULL) == 0)
			i->uuid = xstrdup(v);
		if (blkid_probe_lookup_value(pr, "LABEL", &v, NULL) == 0)
			i->label = xstrdup(v);
	}
	blkid_free_probe(pr);
	return r == 0 ? 0 : -ENODATA;
}

/* root= from the kernel command line: UUID=, LABEL=, PARTUUID=, /dev/… */
static char *cmdline_root(void)
{
	_cleanup_free_ char *c = NULL;
	if (read_full_file("/proc/cmdline", &c, NULL, 1 << 16) < 0)
		return NULL;
	_cleanup_strv_free_ char **w = strv_split(c, " \t\n");
	char *found = NULL;
	for (size_t i = 0; w[i]; i++) {
		const char *v = startswith(w[i], "root=");
		if (v) {
			free(found);
			found = xstrdup(v);
		}
	}
	return found;
}

/* The mount that holds path, from /proc/self/mountinfo (major:minor match). */
static int mountinfo_source(const char *path, char **ret_dev, char **ret_type)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	_cleanup_free_ char *c = NULL;
	int r = read_full_file("/proc/self/mountinfo", &c, NULL, 16 << 20);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **lines = strv_split(c, "\n");
	for (size_t i = 0; lines[i]; i++) {
		unsigned maj, min;
		if (sscanf(lines[i], "%*s %*s %u:%u", &maj, &min) != 2)
			continue;
		if (makedev(maj, min) != st.st_dev)
			continue;
		const char *sep = strstr(lines[i], " - ");
		if (!sep)
			continue;
		_cleanup_strv_free_ char **f = strv_split(sep + 3, " ");
		if (strv_length(f) < 2)
			continue;
		*ret_type = xstrdup(f[0]);
		*ret_dev = xstrdup(f[1]);
		return 0;
	}
	return -ENOENT;
}

int rootfs_probe(const char *root, const char *device, struct rootfs_info *ret)
{
	struct rootfs_info i = { 0 };
	if (device) {
		i.source = xstrdup("given");
		i.spec = xstrdup(device);
		i.device = xstrdup(device);
	} else {
		_cleanup_free_ char *mtype = NULL, *mdev = NULL;
		const char *p = isempty(root) ? "/" : root;
		if (mountinfo_source(p, &mdev, &mtype) == 0 && mdev[0] == '/') {
			i.source = xstrdup("mountinfo");
			i.spec = xstrdup(mdev);
			i.device = xstrdup(mdev);
			i.fstype = TAKE_PTR(mtype);
		} else if (isempty(root) && (i.spec = cmdline_root())) {
			i.source = xstrdup("cmdline");
			char *dev = blkid_evaluate_tag(i.spec, NULL, NULL);
			if (dev) {
				i.device = xstrdup(dev);
				free(dev);
			}
		} else if (mtype) {
			i.source = xstrdup("mountinfo");
			i.spec = TAKE_PTR(mdev);
			i.fstype = TAKE_PTR(mtype);
		} else {
			return -ENOENT;
		}
	}
	if (i.device) {
		_cleanup_free_ char *saved = TAKE_PTR(i.fstype);
		if (probe_device(i.device, &i) < 0 && !i.fstype)
			i.fstype = TAKE_PTR(saved);
	}
	*ret = i;
	return 0;
}
