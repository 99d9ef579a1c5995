// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "chase.h"
#include "util.h"

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	char *r = strdup(s);
	if (!r)
		abort();
	return r;
}

char *xstrndup(const char *s, size_t n)
{
	char *r = strndup(s, n);
	if (!r)
		abort();
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;
	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) < 0)
		abort();
	va_end(ap);
	return r;
}

int reason_set(char **ret_reason, int error, const char *fmt, ...)
{
	if (!ret_reason)
		return error;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	free(*ret_reason);
	*ret_reason = s;
	return error;
}

size_t strv_length(char *const *l)
{
	size_t n = 0;
	while (l && l[n])
		n++;
	return n;
}

void strv_free(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

void strv_consume(char ***l, char *s)
{
	size_t n = strv_length(*l);
	*l = xrealloc(*l, (n + 2) * sizeof(char *));
	(*l)[n] = s;
	(*l)[n + 1] = NULL;
}

void strv_push(char ***l, const char *s)
{
	strv_consume(l, xstrdup(s));
}

bool strv_contains(char *const *l, const char *s)
{
	for (size_t i = 0; l && l[i]; i++)
		if (streq(l[i], s))
			return true;
	return false;
}

static int (*sort_cmp)(const char *, const char *);
static int sort_trampoline(const void *a, const void *b)
{
	return sort_cmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(char **l, int (*cmp)(const char *, const char *))
{
	if (!l)
		return;
	sort_cmp = cmp ? cmp : strcmp;
	qsort(l, strv_length(l), sizeof(char *), sort_trampoline);
}

char **strv_split(const char *s, const char *seps)
{
	char **l = xcalloc(1, sizeof(char *));
	while (s && *s) {
		size_t skip = strspn(s, seps);
		s += skip;
		size_t n = strcspn(s, seps);
		if (n == 0)
			break;
		strv_consume(&l, xstrndup(s, n));
		s += n;
	}
	return l;
}

char *strv_join(char *const *l, const char *sep)
{
	size_t len = 1, sl = strlen(sep);
	for (size_t i = 0; l && l[i]; i++)
		len += strlen(l[i]) + sl;
	char *r = xmalloc(len), *p = r;
	*p = 0;
	for (size_t i = 0; l && l[i]; i++) {
		if (i > 0)
			p = stpcpy(p, sep);
		p = stpcpy(p, l[i]);
	}
	return r;
}

char *path_join_internal(const char *first, ...)
{
	va_list ap;
	size_t len = strlen(first) + 1;
	va_start(ap, first);
	for (const char *s; (s = va_arg(ap, const char *));)
		len += strlen(s) + 1;
	va_end(ap);

	char *r = xmalloc(len), *p = stpcpy(r, first);
	va_start(ap, first);
	for (const char *s; (s = va_arg(ap, const char *));) {
		if (!*s)
			continue;
		bool has = p > r && p[-1] == '/';
		if (has)
			while (*s == '/')
				s++;
		else if (*s != '/' && p > r)
			*p++ = '/';
		p = stpcpy(p, s);
	}
	va_end(ap);
	return r;
}

const char *path_basename(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

bool path_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

bool path_is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool path_is_reg(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

bool path_is_symlink(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
}

int readlink_malloc(const char *p, char **ret)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	*ret = xstrdup(buf);
	return 0;
}

int read_full_file(const char *p, char **ret, size_t *ret_size, size_t max)
{
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (max && cap > max)
				return -EFBIG;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = 0;
	if (ret_size)
		*ret_size = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Reads up to len bytes (fewer only at the end of the file). */
static ssize_t read_block(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int fd_equals_buffer(int fd, const void *data, size_t len)
{
	uint8_t buf[64 * 1024];
	const uint8_t *p = data;
	size_t done = 0;
	for (;;) {
		ssize_t n = read_block(fd, buf, sizeof(buf));
		if (n < 0)
			return (int)n;
		if (n == 0)
			return done == len;
		if ((size_t)n > len - done || memcmp(buf, p + done, (size_t)n) != 0)
			return 0;
		done += (size_t)n;
	}
}

/* Compared block by block: the memory is two buffers whatever the size of
 * the files (a module can weigh 100 MB). */
bool files_equal(const char *a, const char *b)
{
	struct stat sa, sb;
	_cleanup_close_ int fa = open(a, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int fb = open(b, O_RDONLY | O_CLOEXEC);
	if (fa < 0 || fb < 0 || fstat(fa, &sa) < 0 || fstat(fb, &sb) < 0 ||
	    sa.st_size != sb.st_size)
		return false;
	if (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
		return true;
	uint8_t *ba = xmalloc(2 * 64 * 1024), *bb = ba + 64 * 1024;
	bool same = true;
	for (;;) {
		ssize_t na = read_block(fa, ba, 64 * 1024), nb = read_block(fb, bb, 64 * 1024);
		if (na < 0 || nb < 0 || na != nb || memcmp(ba, bb, (size_t)na) != 0) {
			same = false;
			break;
		}
		if (na == 0)
			break;
	}
	free(ba);
	return same;
}

int fsync_dir_of(const char *p)
{
	_cleanup_free_ char *d = xstrdup(p);
	char *s = strrchr(d, '/');
	if (s == d)
		s[1] = 0;
	else if (s)
		*s = 0;
	else
		strcpy(d, ".");
	_cleanup_close_ int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

static int tmpfile_open(const char *p, mode_t mode, char **ret_tmp)
{
	_cleanup_free_ char *tmp = xasprintf("%s.dkms-tmp.XXXXXX", p);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) {
		int r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	*ret_tmp = TAKE_PTR(tmp);
	return fd;
}

static int tmpfile_publish(int fd, const char *tmp, const char *p)
{
	int r = 0;
	if (fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, p) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return fsync_dir_of(p);
}

int write_file_atomic(const char *p, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	int fd = tmpfile_open(p, mode, &tmp);
	if (fd < 0)
		return fd;
	int r = write_all(fd, data, len);
	if (r < 0) {
		close(fd);
		unlink(tmp);
		return r;
	}
	return tmpfile_publish(fd, tmp, p);
}

int copy_file_atomic(const char *src, const char *dst, mode_t mode)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	_cleanup_free_ char *tmp = NULL;
	int fd = tmpfile_open(dst, mode, &tmp);
	if (fd < 0)
		return fd;
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		int r = n < 0 ? -errno : 0;
		if (n > 0)
			r = write_all(fd, buf, n);
		if (r < 0) {
			close(fd);
			unlink(tmp);
			return r;
		}
		if (n == 0)
			break;
	}
	return tmpfile_publish(fd, tmp, dst);
}

int symlink_atomic(const char *target, const char *linkpath)
{
	_cleanup_free_ char *tmp = xasprintf("%s.dkms-tmp.%d", linkpath, (int)getpid());
	unlink(tmp);
	if (symlink(target, tmp) < 0)
		return -errno;
	if (rename(tmp, linkpath) < 0) {
		int r = -errno;
		unlink(tmp);
		return r;
	}
	return fsync_dir_of(linkpath);
}

int mkdir_p(const char *p, mode_t mode)
{
	_cleanup_free_ char *d = xstrdup(p);
	for (char *s = d + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(d, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(d, mode) < 0 && errno != EEXIST)
		return -errno;
	return path_is_dir(d) ? 0 : -ENOTDIR;
}

int rm_rf(const char *p)
{
	/* The parent is the caller's (a path root owns); from there on, by fd. */
	_cleanup_free_ char *d = xstrdup(p);
	size_t l = strlen(d);
	while (l > 1 && d[l - 1] == '/')
		d[--l] = 0;
	const char *parent = ".", *name = d;
	char *slash = strrchr(d, '/');
	if (slash) {
		name = slash + 1;
		*slash = 0;
		parent = slash == d ? "/" : d;
	}
	_cleanup_close_ int dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	return rm_rf_at(dfd, name);
}

void rmdir_parents(const char *p, const char *stop)
{
	_cleanup_free_ char *d = xstrdup(p);
	size_t sl = strlen(stop);
	for (;;) {
		char *s = strrchr(d, '/');
		if (!s || s == d)
			return;
		*s = 0;
		if (strlen(d) <= sl || strncmp(d, stop, sl) != 0)
			return;
		if (rmdir(d) < 0)
			return;
	}
}

/* The entries of d (no . and ..), sorted; closes d. */
static char **list_and_close(DIR *d)
{
	char **l = xcalloc(1, sizeof(char *));
	for (struct dirent *de; (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		strv_push(&l, de->d_name);
	}
	closedir(d);
	strv_sort(l, NULL);
	return l;
}

int dir_list(const char *p, char ***ret)
{
	DIR *d = opendir(p);
	if (!d) {
		int r = -errno;
		if (r == -ENOENT || r == -ENOTDIR) {
			*ret = xcalloc(1, sizeof(char *));
			return 0;
		}
		return r;
	}
	*ret = list_and_close(d);
	return 0;
}

int dir_list_at(int dfd, char ***ret)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret = list_and_close(d);
	return 0;
}

/* Ordering as GNU `sort -V` (filevercmp/verrevcmp): non-digit runs compare
 * with letters before non-letters and '~' before everything, digit runs
 * numerically. */
static int order(unsigned char c)
{
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	return c ? c + 256 : 0;
}

static int verrevcmp(const char *a, size_t al, const char *b, size_t bl)
{
	size_t ai = 0, bi = 0;
	while (ai < al || bi < bl) {
		int first_diff = 0;
		while ((ai < al && !isdigit((unsigned char)a[ai])) ||
		       (bi < bl && !isdigit((unsigned char)b[bi]))) {
			int ac = ai < al ? order(a[ai]) : 0;
			int bc = bi < bl ? order(b[bi]) : 0;
			if (ac != bc)
				return ac - bc;
			ai++;
			bi++;
		}
		while (ai < al && a[ai] == '0')
			ai++;
		while (bi < bl && b[bi] == '0')
			bi++;
		while (ai < al && bi < bl && isdigit((unsigned char)a[ai]) &&
		       isdigit((unsigned char)b[bi])) {
			if (!first_diff)
				first_diff = a[ai] - b[bi];
			ai++;
			bi++;
		}
		if (ai < al && isdigit((unsigned char)a[ai]))
			return 1;
		if (bi < bl && isdigit((unsigned char)b[bi]))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

int version_cmp(const char *a, const char *b)
{
	int r = verrevcmp(a, strlen(a), b, strlen(b));
	if (r)
		return r < 0 ? -1 : 1;
	r = strcmp(a, b);
	return r < 0 ? -1 : r > 0;
}

int parse_size(const char *s, uint64_t *ret)
{
	if (isempty(s) || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	unsigned shift = 0;
	const char *units = "KMGT";
	const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
	if (u) {
		shift = 10 * (unsigned)(u - units + 1);
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
}
