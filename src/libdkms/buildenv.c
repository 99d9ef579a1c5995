// SPDX-License-Identifier: GPL-2.0-or-later
#include <limits.h>
#include <pwd.h>
#include <stdio.h>

#include "buildenv.h"
#include "log.h"

static const char *const fixed_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/tmp",
	"TMPDIR=/tmp",
	"SHELL=/bin/sh",
	"LC_ALL=C",
};

char *buildenv_which(const char *prog)
{
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0 ? xstrdup(prog) : NULL;
	_cleanup_strv_free_ char **dirs = strv_split(fixed_env[0] + strlen("PATH="), ":");
	for (size_t i = 0; dirs[i]; i++) {
		char *p = path_join(dirs[i], prog);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

void buildenv_init(struct buildenv *e, const struct dk_ctx *ctx)
{
	*e = (struct buildenv){ .timeout_sec = ctx->build_timeout_sec };
	for (size_t i = 0; i < ELEMENTSOF(fixed_env); i++)
		strv_push(&e->env, fixed_env[i]);
	const char *name = "root";
	if (geteuid() == 0 && !ctx->build_as_root) {
		struct passwd *pw = getpwnam("dkms-agent");
		if (!pw)
			pw = getpwnam("nobody");
		if (pw) {
			e->sb.uid = pw->pw_uid;
			e->sb.gid = pw->pw_gid;
			e->sb.drop_user = true;
			strv_push(&e->own, pw->pw_name);
			name = e->own[strv_length(e->own) - 1];
		}
	}
	strv_consume(&e->env, xasprintf("USER=%s", name));
	strv_consume(&e->env, xasprintf("LOGNAME=%s", name));
	e->sb.no_namespaces = ctx->build_sandbox_user;
	e->sb.env = e->env;
	e->sb.mounts = e->mounts;
	/* An image being built under --root is read where the host has it. */
	if (!isempty(ctx->root))
		buildenv_mount(e, ctx->root, ctx->root, false);
}

void buildenv_done(struct buildenv *e)
{
	strv_free(e->own);
	strv_free(e->env);
	*e = (struct buildenv){ 0 };
}

int buildenv_mount(struct buildenv *e, const char *host, const char *view, bool writable)
{
	if (e->sb.n_mounts >= BUILDENV_MAX_MOUNTS)
		return -E2BIG;
	char real[PATH_MAX];
	if (!realpath(host, real))
		return -errno;
	strv_push(&e->own, real);
	const char *src = e->own[strv_length(e->own) - 1];
	strv_push(&e->own, view);
	const char *dst = e->own[strv_length(e->own) - 1];
	e->mounts[e->sb.n_mounts++] =
		(struct sandbox_mount){ .source = src, .dest = dst, .writable = writable };
	return 0;
}

int buildenv_mount_kernel(struct buildenv *e, const char *ksrc)
{
	if (!path_is_dir(ksrc))
		return 0;
	char real[PATH_MAX];
	if (!realpath(ksrc, real))
		return -errno;
	/* A kernel's directory in lib/modules/K (build and source, usually
	 * links to /usr/src) is shown as it is, links included: the headers
	 * have relative links of their own (Debian's scripts ->
	 * ../../lib/linux-kbuild-V/scripts) that only resolve from where the
	 * link leads, and dkms.conf files look for the sibling source. */
	const char *base = strrchr(ksrc, '/');
	if (base && base != ksrc && (streq(base, "/build") || !streq(real, ksrc))) {
		_cleanup_free_ char *parent = xstrndup(ksrc, base - ksrc);
		int r = buildenv_mount(e, parent, parent, false);
		if (r < 0)
			return r;
	}
	return buildenv_mount(e, real, real, false);
}

bool buildenv_contained(struct buildenv *e)
{
	if (!e->sb.no_namespaces && !sandbox_namespaces_available())
		e->sb.no_namespaces = true;
	return !e->sb.no_namespaces;
}

char *buildenv_path(const struct buildenv *e, const char *view)
{
	if (!e->sb.no_namespaces || !view)
		return view ? xstrdup(view) : NULL;
	for (size_t i = e->sb.n_mounts; i-- > 0;) {
		const char *rest = startswith(view, e->mounts[i].dest);
		if (rest && (!*rest || *rest == '/'))
			return xasprintf("%s%s", e->mounts[i].source, rest);
	}
	return xstrdup(view);
}

struct spawn_opts buildenv_opts(const struct buildenv *e, const char *cwd, int out_fd,
				char *const *env)
{
	return (struct spawn_opts){ .cwd = cwd,
				    .out_fd = out_fd,
				    .env = env,
				    .timeout_sec = e->timeout_sec,
				    .quiet = out_fd < 0,
				    .sandbox = &e->sb };
}

bool buildenv_user(const struct buildenv *e, uid_t *ret_uid, gid_t *ret_gid)
{
	if (!e->sb.drop_user)
		return false;
	*ret_uid = e->sb.uid;
	*ret_gid = e->sb.gid;
	return true;
}
