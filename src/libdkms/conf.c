// SPDX-License-Identifier: GPL-2.0-or-later
/* dkms.conf reading: the context a dkms.conf is sourced in, the choice between
 * the native evaluator and bash, and the result in dkms's variable order. */
#include <limits.h>
#include <stdio.h>

#include "conf-internal.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

/* The variables dkms 3.x reads from a dkms.conf, in the order the reference
 * tool (and dkms's safe_source) echoes them. */
const char *const conf_whitelist[] = {
	"PACKAGE_NAME",
	"PACKAGE_VERSION",
	"POST_ADD",
	"POST_BUILD",
	"POST_INSTALL",
	"POST_REMOVE",
	"PRE_BUILD",
	"PRE_INSTALL",
	"BUILD_DEPENDS",
	"BUILD_EXCLUSIVE_ARCH",
	"BUILD_EXCLUSIVE_CONFIG",
	"BUILD_EXCLUSIVE_KERNEL",
	"BUILD_EXCLUSIVE_KERNEL_MIN",
	"BUILD_EXCLUSIVE_KERNEL_MAX",
	"build_exclude",
	"MAKE",
	"MAKE_MATCH",
	"PATCH",
	"PATCH_MATCH",
	"patch_array",
	"BUILT_MODULE_NAME",
	"built_module_name",
	"BUILT_MODULE_LOCATION",
	"built_module_location",
	"DEST_MODULE_NAME",
	"dest_module_name",
	"DEST_MODULE_LOCATION",
	"dest_module_location",
	"STRIP",
	"strip",
	"AUTOINSTALL",
	"NO_WEAK_MODULES",
	"BUILD_DEPENDS_REBUILD",
	"OBSOLETE_BY",
	"CLEAN",
	"REMAKE_INITRD",
	"MODULES_CONF",
	"MODULES_CONF_OBSOLETES",
	"MODULES_CONF_ALIAS_TYPE",
	"MODULES_CONF_OBSOLETE_ONLY",
	NULL,
};

bool conf_is_whitelisted(const char *name)
{
	for (size_t i = 0; conf_whitelist[i]; i++)
		if (streq(conf_whitelist[i], name))
			return true;
	return false;
}

void shvars_done(struct shvars *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].value);
	}
	free(s->v);
	strv_free(s->empty);
	*s = (struct shvars){};
}

static struct dk_conf_var *shvars_find(const struct shvars *s, const char *name, unsigned idx)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].idx == idx && streq(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

const char *shvars_get(const struct shvars *s, const char *name, unsigned idx)
{
	struct dk_conf_var *v = shvars_find(s, name, idx);
	return v ? v->value : NULL;
}

bool shvars_exists(const struct shvars *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i].name, name))
			return true;
	return strv_contains(s->empty, name);
}

unsigned shvars_next_index(const struct shvars *s, const char *name)
{
	unsigned next = 0;
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i].name, name) && s->v[i].idx >= next)
			next = s->v[i].idx + 1;
	return next;
}

void shvars_set(struct shvars *s, const char *name, unsigned idx, const char *value)
{
	struct dk_conf_var *v = shvars_find(s, name, idx);
	char *copy = xstrdup(value);
	if (v) {
		free(v->value);
		v->value = copy;
		return;
	}
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = (struct dk_conf_var){ .name = xstrdup(name), .idx = idx, .value = copy };
}

void shvars_unset(struct shvars *s, const char *name)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (streq(s->v[i].name, name)) {
			free(s->v[i].name);
			free(s->v[i].value);
			continue;
		}
		s->v[k++] = s->v[i];
	}
	s->n = k;
	for (size_t i = 0; s->empty && s->empty[i]; i++)
		if (streq(s->empty[i], name))
			s->empty[i][0] = 0; /* "" never matches a name */
}

void shvars_declare_empty(struct shvars *s, const char *name)
{
	if (!strv_contains(s->empty, name))
		strv_push(&s->empty, name);
}

static int cmp_var(const void *a, const void *b)
{
	const struct dk_conf_var *x = a, *y = b;
	size_t ix = 0, iy = 0;
	while (conf_whitelist[ix] && !streq(conf_whitelist[ix], x->name))
		ix++;
	while (conf_whitelist[iy] && !streq(conf_whitelist[iy], y->name))
		iy++;
	if (ix != iy)
		return ix < iy ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Moves the whitelisted entries of s into c, in output order. */
static void conf_take_vars(struct dk_conf *c, struct shvars *s)
{
	c->vars = xcalloc(s->n + 1, sizeof(*c->vars));
	for (size_t i = 0; i < s->n; i++) {
		if (!conf_is_whitelisted(s->v[i].name))
			continue;
		c->vars[c->n_vars++] = s->v[i];
		s->v[i].name = s->v[i].value = NULL;
	}
	qsort(c->vars, c->n_vars, sizeof(*c->vars), cmp_var);
}

/* Fills the context like the reference tool: kernel_source_dir defaults to
 * /lib/modules/<kver>/build, module and module_version to the directory
 * name <module>-<version>. Strings owned by *cc are freed by ctx_done. */
struct ctx_owned {
	char *ksd, *kconfig, *module, *module_version, *jobs;
};

/* dkms's -j default: $(nproc), 1 when that cannot be run. */
static char *default_jobs(void)
{
	char buf[32];
	if (nproc_string(buf, sizeof(buf)) >= 0)
		return xstrdup(buf);
	char *argv[] = { (char *)"nproc", NULL };
	struct spawn_opts o = { .out_fd = -1, .quiet = 1 };
	_cleanup_free_ char *out = NULL;
	if (spawn_capture(argv, &o, &out) == 0 && out && out[0] >= '0' && out[0] <= '9') {
		out[strcspn(out, "\n")] = 0;
		return TAKE_PTR(out);
	}
	return xstrdup("1");
}

static int ctx_fill(struct conf_ctx *cc, struct ctx_owned *own, const char *path,
		    const struct dk_conf_env *env)
{
	char rp[PATH_MAX];
	if (!realpath(path, rp))
		return -errno;
	cc->path = path;
	cc->realpath = xstrdup(rp);
	char *slash = strrchr(rp, '/');
	cc->dir = slash == rp ? xstrdup("/") : xstrndup(rp, slash - rp);
	cc->kernelver = !isempty(env->kernelver) ? env->kernelver : "6.1.0-0-amd64";
	cc->arch = !isempty(env->arch) ? env->arch : "x86_64";
	if (isempty(env->kernel_source_dir))
		own->ksd = xasprintf("/lib/modules/%s/build", cc->kernelver);
	cc->kernel_source_dir = own->ksd ? own->ksd : env->kernel_source_dir;
	if (!env->kernel_config)
		own->kconfig = xasprintf("%s/.config", cc->kernel_source_dir);
	cc->kernel_config = own->kconfig ? own->kconfig : env->kernel_config;
	cc->dkms_tree = env->dkms_tree ? env->dkms_tree : "/var/lib/dkms";
	cc->source_tree = env->source_tree ? env->source_tree : "/usr/src";
	cc->install_tree = env->install_tree ? env->install_tree : "/lib/modules";
	if (!env->parallel_jobs)
		own->jobs = default_jobs();
	cc->parallel_jobs = own->jobs ? own->jobs : env->parallel_jobs;
	cc->tmp_location = env->tmp_location;
	cc->sandbox = env->sandbox;
	cc->timeout_sec = env->timeout_sec ? env->timeout_sec : 120;
	cc->module = strempty(env->module);
	cc->module_version = strempty(env->module_version);
	if (isempty(env->module)) {
		const char *d = path_basename(cc->dir);
		const char *dash = strrchr(d, '-');
		own->module = dash ? xstrndup(d, dash - d) : xstrdup(d);
		cc->module = own->module;
		if (dash && isempty(env->module_version))
			cc->module_version = own->module_version = xstrdup(dash + 1);
	}
	return 0;
}

int conf_read_over(const char *path, const struct dk_conf_env *env, const struct dk_conf *base,
		   struct dk_conf **ret)
{
	struct conf_ctx cc = { .base = base };
	struct ctx_owned own = {};
	struct shvars vars = {};
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	const char *reason = NULL;
	struct dk_conf *c = NULL;
	int r;

	r = read_full_file(path, &text, &len, 16 * 1024 * 1024);
	if (r >= 0)
		r = ctx_fill(&cc, &own, path, env);
	if (r < 0)
		goto out;
	c = xcalloc(1, sizeof(*c));
	r = conf_native_eval(text, len, &cc, &vars, &c->status, &reason);
	if (r == 0) {
		shvars_done(&vars);
		c->used_bash = true;
		c->bash_reason = reason;
		r = conf_bash_eval(&cc, env->cache_dir, &vars, &c->extra_stdout, &c->bash_stderr,
				   &c->status, &c->from_cache);
	}
	if (r < 0) {
		conf_free(TAKE_PTR(c));
		goto out;
	}
	conf_take_vars(c, &vars);
	*ret = TAKE_PTR(c);
	r = 0;
out:
	shvars_done(&vars);
	free(cc.realpath);
	free(cc.dir);
	free(own.ksd);
	free(own.kconfig);
	free(own.module);
	free(own.module_version);
	free(own.jobs);
	return r;
}

int conf_read(const char *path, const struct dk_conf_env *env, struct dk_conf **ret)
{
	return conf_read_over(path, env, NULL, ret);
}

void conf_free(struct dk_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_vars; i++) {
		free(c->vars[i].name);
		free(c->vars[i].value);
	}
	free(c->vars);
	free(c->extra_stdout);
	free(c->bash_stderr);
	free(c);
}

const char *conf_get(const struct dk_conf *c, const char *name, unsigned idx)
{
	for (size_t i = 0; c && i < c->n_vars; i++)
		if (c->vars[i].idx == idx && streq(c->vars[i].name, name))
			return c->vars[i].value;
	return NULL;
}

unsigned conf_count(const struct dk_conf *c, const char *name)
{
	unsigned n = 0;
	for (size_t i = 0; c && i < c->n_vars; i++)
		if (streq(c->vars[i].name, name) && c->vars[i].idx >= n)
			n = c->vars[i].idx + 1;
	return n;
}

void conf_print(const struct dk_conf *c, FILE *f)
{
	if (c->extra_stdout)
		fputs(c->extra_stdout, f);
	for (size_t i = 0; i < c->n_vars; i++) {
		fprintf(f, "%s[%u]=", c->vars[i].name, c->vars[i].idx);
		for (const char *s = c->vars[i].value; *s; s++) {
			switch (*s) {
			case '\\': fputs("\\\\", f); break;
			case '\n': fputs("\\n", f); break;
			case '\t': fputs("\\t", f); break;
			case '\r': fputs("\\r", f); break;
			default: fputc(*s, f);
			}
		}
		fputc('\n', f);
	}
}
