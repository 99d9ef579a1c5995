// SPDX-License-Identifier: GPL-2.0-or-later
/* A build cache entry's names and its manifest: what cache.c and
 * cache-admin.c read of an entry before trusting any of it. */
#include <fcntl.h>
#include <stdio.h>

#include "cache-internal.h"

#define MAX_META (4 << 20) /* inputs and manifest files */

bool is_key(const char *s)
{
	if (strlen(s) != SHA256_HEX_SIZE - 1)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

char *entry_name(const char *key)
{
	return xasprintf("%.2s/%s", key, key);
}

/* A relative path an entry may name: no "..", no empty or "." component,
 * no control characters. */
bool path_ok(const char *p)
{
	if (isempty(p) || *p == '/')
		return false;
	for (const char *s = p; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	_cleanup_strv_free_ char **parts = strv_split(p, "/");
	for (size_t i = 0; parts[i]; i++)
		if (streq(parts[i], "..") || streq(parts[i], "."))
			return false;
	return !strstr(p, "//") && !endswith(p, "/");
}

int read_at(int dfd, const char *name, char **ret)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	_cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", fd);
	return read_full_file(proc, ret, NULL, MAX_META);
}

/* ---- manifest ---------------------------------------------------------- */

void manifest_done(struct manifest *m)
{
	free(m->key);
	free(m->module);
	free(m->version);
	free(m->kver);
	free(m->arch);
	strv_free(m->dirs);
	for (size_t i = 0; i < m->n_files; i++)
		free(m->files[i].path);
	free(m->files);
	*m = (struct manifest){ 0 };
}

static int two_words(const char *s, char **a, char **b)
{
	const char *sp = strchr(s, ' ');
	if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' '))
		return -EBADMSG;
	free(*a);
	free(*b);
	*a = xstrndup(s, sp - s);
	*b = xstrdup(sp + 1);
	return 0;
}

static int parse_file_line(const char *s, struct mfile *f)
{
	char sha[SHA256_HEX_SIZE];
	unsigned long long size;
	unsigned mode;
	int off = 0;
	if (sscanf(s, "%64s %llu %o %n", sha, &size, &mode, &off) != 3 || !off || !is_key(sha) ||
	    (mode & ~0777u) || !path_ok(s + off))
		return -EBADMSG;
	memcpy(f->sha, sha, sizeof(sha));
	f->size = size;
	f->mode = mode;
	f->path = xstrdup(s + off);
	return 0;
}

static int manifest_parse(const char *text, struct manifest *m)
{
	_cleanup_strv_free_ char **lines = strv_split(text, "\n");
	if (!lines[0] || !streq(lines[0], MANIFEST_MAGIC))
		return -EBADMSG;
	for (size_t i = 1; lines[i]; i++) {
		const char *l = lines[i], *v;
		int r = 0;
		if ((v = startswith(l, "key ")))
			r = is_key(v) ? (free(m->key), m->key = xstrdup(v), 0) : -EBADMSG;
		else if ((v = startswith(l, "module ")))
			r = two_words(v, &m->module, &m->version);
		else if ((v = startswith(l, "kernel ")))
			r = two_words(v, &m->kver, &m->arch);
		else if ((v = startswith(l, "created ")))
			m->created = (time_t)strtoll(v, NULL, 10);
		else if ((v = startswith(l, "dir ")))
			r = path_ok(v) ? (strv_push(&m->dirs, v), 0) : -EBADMSG;
		else if ((v = startswith(l, "file "))) {
			m->files = xrealloc(m->files, (m->n_files + 1) * sizeof(*m->files));
			r = parse_file_line(v, &m->files[m->n_files]);
			if (r == 0)
				m->n_files++;
		}
		if (r < 0)
			return r;
	}
	return m->key && m->module && m->kver ? 0 : -EBADMSG;
}

int manifest_read(int efd, struct manifest *m)
{
	_cleanup_free_ char *text = NULL;
	int r = read_at(efd, "manifest", &text);
	if (r < 0)
		return r;
	r = manifest_parse(text, m);
	if (r < 0)
		manifest_done(m);
	return r;
}
