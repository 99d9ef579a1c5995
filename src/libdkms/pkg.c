// SPDX-License-Identifier: GPL-2.0-or-later
/* A package as dkms 3.x's read_conf leaves it: dkms.conf, then the
 * /etc/dkms/<m>[-<v>[-<kver>[-<arch>]]].conf overrides sourced on top,
 * defaults applied, problems collected into one message. */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "pkg.h"
#include "util.h"
#include "validate.h"

static void pkg_freep(struct dk_pkg **p)
{
	pkg_free(*p);
}

void pkg_free(struct dk_pkg *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_modules; i++) {
		free(p->modules[i].built_name);
		free(p->modules[i].built_location);
		free(p->modules[i].dest_name);
		free(p->modules[i].dest_location);
	}
	free(p->modules);
	free(p->name);
	free(p->version);
	free(p->conf_path);
	free(p->make_command);
	free(p->clean_command);
	strv_free(p->patches);
	free(p->pre_build);
	free(p->post_build);
	free(p->pre_install);
	free(p->post_install);
	free(p->post_add);
	free(p->post_remove);
	strv_free(p->build_depends);
	free(p->build_exclusive_kernel);
	free(p->build_exclusive_arch);
	strv_free(p->build_exclusive_config);
	free(p->build_exclusive_kernel_min);
	free(p->build_exclusive_kernel_max);
	free(p->obsolete_by);
	strv_free(p->warnings);
	strv_free(p->bash_said);
	strv_free(p->conf_files);
	free(p);
}

/* bash's [[ s =~ re ]]: POSIX ERE, unanchored; a bad pattern never matches. */
static bool regex_match(const char *re, const char *s)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	bool m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

/* ${#NAME[@]}: the number of set elements (not the highest index). */
static unsigned n_set(const struct dk_conf *c, const char *name)
{
	unsigned n = 0;
	for (size_t i = 0; i < c->n_vars; i++)
		n += streq(c->vars[i].name, name);
	return n;
}

/* NAME[idx] when set and non-empty, as a new string; NULL otherwise. */
static char *get_dup(const struct dk_conf *c, const char *name, unsigned idx)
{
	const char *v = conf_get(c, name, idx);
	return isempty(v) ? NULL : xstrdup(v);
}

static const char *get(const struct dk_conf *c, const char *name, unsigned idx)
{
	return strempty(conf_get(c, name, idx));
}

static bool ends_in_object(const char *s)
{
	return endswith(s, ".o") || endswith(s, ".ko");
}

static void add_error(char ***errors, const char *file, const char *fmt, ...) _printf_(3, 4);
static void add_error(char ***errors, const char *file, const char *fmt, ...)
{
	_cleanup_free_ char *m = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		abort();
	va_end(ap);
	strv_consume(errors, xasprintf("%s: Error! %s", file, m));
}

static void set_modules(struct dk_pkg *p, const struct dk_conf *c, char ***errors)
{
	unsigned size = 0;
	static const char *const arrays[] = { "BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION",
					      "DEST_MODULE_NAME", "DEST_MODULE_LOCATION" };
	for (size_t i = 0; i < ELEMENTSOF(arrays); i++)
		if (n_set(c, arrays[i]) > size)
			size = n_set(c, arrays[i]);
	p->modules = xcalloc(size + 1, sizeof(*p->modules));
	p->n_modules = size;
	const char *strip0 = get(c, "STRIP", 0);
	for (unsigned i = 0; i < size; i++) {
		struct dk_built_module *m = &p->modules[i];
		const char *strip = get(c, "STRIP", i);
		if (!*strip)
			strip = strip0;
		/* "no" only for a value beginning with n/N: dkms strips otherwise. */
		m->strip = !(strip[0] == 'n' || strip[0] == 'N');
		m->built_name = xstrdup(get(c, "BUILT_MODULE_NAME", i));
		if (!*m->built_name && n_set(c, "DEST_MODULE_LOCATION") == 1 && p->name) {
			free(m->built_name);
			m->built_name = xstrdup(p->name);
		}
		const char *dest = get(c, "DEST_MODULE_NAME", i);
		m->dest_name = xstrdup(*dest ? dest : m->built_name);
		const char *loc = get(c, "BUILT_MODULE_LOCATION", i);
		m->built_location =
			*loc && !endswith(loc, "/") ? xasprintf("%s/", loc) : xstrdup(loc);
		m->dest_location = xstrdup(get(c, "DEST_MODULE_LOCATION", i));

		if (!*m->built_name)
			add_error(errors, p->conf_path,
				  "No '%s' directive specified for record #%u.",
				  "BUILT_MODULE_NAME", i);
		if (ends_in_object(m->built_name))
			add_error(errors, p->conf_path,
				  "'%s' directive ends in '.o' or '.ko' in record #%u.",
				  "BUILT_MODULE_NAME", i);
		if (ends_in_object(m->dest_name))
			add_error(errors, p->conf_path,
				  "'%s' directive ends in '.o' or '.ko' in record #%u.",
				  "DEST_MODULE_NAME", i);
		/* Names are file names; locations stay inside their directory. */
		static const char *const names[] = { "BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION",
						     "DEST_MODULE_NAME", "DEST_MODULE_LOCATION" };
		const char *values[] = { m->built_name, m->built_location, m->dest_name,
					 m->dest_location };
		for (size_t k = 0; k < ELEMENTSOF(names); k++) {
			bool name = k == 0 || k == 2;
			const char *why = name ? (*values[k] ? validate_name(values[k]) : NULL)
					       : validate_location(values[k]);
			if (why)
				add_error(errors, p->conf_path,
					  "Invalid '%s' in record #%u ('%s'): it %s.", names[k], i,
					  values[k], why);
		}
		if (!*m->dest_location)
			add_error(errors, p->conf_path,
				  "No '%s' directive specified for record #%u.",
				  "DEST_MODULE_LOCATION", i);
		else if (!startswith(m->dest_location, "/kernel") &&
			 !startswith(m->dest_location, "/updates") &&
			 !startswith(m->dest_location, "/extra"))
			add_error(errors, p->conf_path,
				  "Directive '%s' does not begin with '/kernel', '/updates', or "
				  "'/extra' in record #%u.",
				  "DEST_MODULE_LOCATION", i);
	}
	/* dkms 3.x accepts a package without modules (it only warns). */
	if (size == 0)
		strv_consume(&p->warnings,
			     xasprintf("%s: Warning! Zero modules specified.", p->conf_path));
}

/* dkms 3.1+'s read_conf_strict: the same built module (location and name) or
 * the same installed name twice is a bad dkms.conf. */
static void check_duplicates(const struct dk_pkg *p, char ***errors)
{
	for (size_t i = 0; i < p->n_modules; i++)
		for (size_t j = 0; j < i; j++) {
			const struct dk_built_module *a = &p->modules[j], *b = &p->modules[i];
			if (streq(a->built_location, b->built_location) &&
			    streq(a->built_name, b->built_name)) {
				add_error(errors, p->conf_path,
					  "Duplicate module '%s%s' in 'BUILT_MODULE_NAME[%zu]'.",
					  b->built_location, b->built_name, i);
				break;
			}
		}
	for (size_t i = 0; i < p->n_modules; i++)
		for (size_t j = 0; j < i; j++)
			if (streq(p->modules[j].dest_name, p->modules[i].dest_name)) {
				add_error(errors, p->conf_path,
					  "Duplicate module '%s' in 'DEST_MODULE_NAME[%zu]'.",
					  p->modules[i].dest_name, i);
				break;
			}
}

/* AUTOINSTALL, NO_WEAK_MODULES, BUILD_DEPENDS_REBUILD: dkms 3.0 takes any
 * non-empty value as yes; 3.4 reads "no" as no. Both are honoured. */
static bool yes_value(const struct dk_conf *c, const char *name)
{
	const char *v = conf_get(c, name, 0);
	return !isempty(v) && strcasecmp(v, "no") != 0;
}

/* PACKAGE_NAME and PACKAGE_VERSION become directory names; a script's
 * first word a file in its directory. PATCH is checked by the build that
 * would apply it (kbuild.c): dkms adds such a package and refuses its
 * build with exit 5. */
static void validate_values(struct dk_pkg *p, char ***errors)
{
	const char *why;
	if (p->name && (why = validate_name(p->name)))
		add_error(errors, p->conf_path, "Invalid 'PACKAGE_NAME' ('%s'): it %s.", p->name,
			  why);
	if (p->version && (why = validate_name(p->version)))
		add_error(errors, p->conf_path, "Invalid 'PACKAGE_VERSION' ('%s'): it %s.",
			  p->version, why);
	const struct {
		const char *name, *value;
	} scripts[] = {
		{ "PRE_BUILD", p->pre_build },	   { "POST_BUILD", p->post_build },
		{ "PRE_INSTALL", p->pre_install }, { "POST_INSTALL", p->post_install },
		{ "POST_ADD", p->post_add },	   { "POST_REMOVE", p->post_remove },
	};
	for (size_t i = 0; i < ELEMENTSOF(scripts); i++)
		if (scripts[i].value && (why = validate_script(scripts[i].value)))
			add_error(errors, p->conf_path, "Invalid '%s' ('%s'): its script %s.",
				  scripts[i].name, scripts[i].value, why);
}

static void set_make(struct dk_pkg *p, const struct dk_conf *c, const struct dk_pkg_env *env,
		     const char *kver)
{
	if (isempty(conf_get(c, "MAKE_MATCH", 0)))
		p->make_command = get_dup(c, "MAKE", 0);
	for (unsigned i = 0; i < n_set(c, "MAKE"); i++) {
		const char *make = get(c, "MAKE", i), *match = get(c, "MAKE_MATCH", i);
		if (*make && *match && regex_match(match, kver)) {
			free(p->make_command);
			p->make_command = xstrdup(make);
		}
	}
	if (p->make_command)
		return;
	/* dkms's default; the build layer may substitute its own paths. */
	p->make_is_default = true;
	_cleanup_free_ char *ksd = env->conf.kernel_source_dir
					   ? xstrdup(env->conf.kernel_source_dir)
					   : xasprintf("/lib/modules/%s/build", kver);
	p->make_command = xasprintf("make -C %s M=%s/%s/%s/build", ksd,
				    env->conf.dkms_tree ? env->conf.dkms_tree : "/var/lib/dkms",
				    strempty(p->name), strempty(p->version));
}

static void set_lists(struct dk_pkg *p, const struct dk_conf *c, const char *kver)
{
	for (unsigned i = 0; i < n_set(c, "PATCH"); i++) {
		const char *patch = get(c, "PATCH", i), *match = get(c, "PATCH_MATCH", i);
		if (*patch && (!*match || regex_match(match, kver)))
			strv_push(&p->patches, patch);
	}
	/* dkms word-splits "${BUILD_DEPENDS[@]}" when it uses the list. */
	for (size_t i = 0; i < c->n_vars; i++) {
		if (!streq(c->vars[i].name, "BUILD_DEPENDS"))
			continue;
		_cleanup_strv_free_ char **w = strv_split(c->vars[i].value, " \t\n");
		for (size_t j = 0; w && w[j]; j++)
			strv_push(&p->build_depends, w[j]);
	}
	p->build_exclusive_config = strv_split(get(c, "BUILD_EXCLUSIVE_CONFIG", 0), " \t\n");
}

static void note_deprecated(struct dk_pkg *p, const struct dk_conf *c, const char *file)
{
	static const char *const names[] = { "REMAKE_INITRD", "MODULES_CONF",
					     "MODULES_CONF_OBSOLETES", "MODULES_CONF_ALIAS_TYPE",
					     "MODULES_CONF_OBSOLETE_ONLY" };
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (conf_count(c, names[i]) > 0)
			strv_consume(&p->warnings,
				     xasprintf("Deprecated feature: %s (%s)", names[i], file));
}

static void keep_bash_stderr(struct dk_pkg *p, const struct dk_conf *c)
{
	_cleanup_strv_free_ char **lines = c->bash_stderr ? strv_split(c->bash_stderr, "\n") : NULL;
	for (size_t i = 0; lines && lines[i]; i++)
		strv_push(&p->bash_said, lines[i]);
}

/* Sources the overrides that exist on top of *c, in dkms's order. */
static int apply_overrides(struct dk_pkg *p, struct dk_conf **c, const struct dk_pkg_env *env,
			   const char *kver, const char *arch)
{
	const char *m = env->conf.module ? env->conf.module : get(*c, "PACKAGE_NAME", 0);
	const char *v =
		env->conf.module_version ? env->conf.module_version : get(*c, "PACKAGE_VERSION", 0);
	if (!env->etc_dkms || !*m)
		return 0;
	char *names[] = { xasprintf("%s.conf", m), xasprintf("%s-%s.conf", m, v),
			  xasprintf("%s-%s-%s.conf", m, v, kver),
			  xasprintf("%s-%s-%s-%s.conf", m, v, kver, arch) };
	int r = 0;
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		_cleanup_free_ char *f = path_join(env->etc_dkms, names[i]);
		struct dk_conf *next = NULL;
		if (r < 0 || !path_exists(f))
			continue;
		r = conf_read_over(f, &env->conf, *c, &next);
		if (r < 0) {
			log_debug_errno(r, "Could not read %s: %m", f);
			continue;
		}
		note_deprecated(p, next, f);
		keep_bash_stderr(p, next);
		next->used_bash |= (*c)->used_bash;
		conf_free(*c);
		*c = next;
		strv_push(&p->conf_files, f);
	}
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		free(names[i]);
	return r;
}

int pkg_load(const char *conf_path, const struct dk_pkg_env *env, struct dk_pkg **ret,
	     char **ret_error)
{
	_cleanup_(pkg_freep) struct dk_pkg *p = xcalloc(1, sizeof(*p));
	_cleanup_conf_free_ struct dk_conf *c = NULL;
	_cleanup_strv_free_ char **errors = NULL;
	const char *kver = env->conf.kernelver ? env->conf.kernelver : "";
	const char *arch = env->conf.arch ? env->conf.arch : "";
	int r;

	p->conf_path = xstrdup(conf_path);
	r = conf_read(conf_path, &env->conf, &c);
	if (r < 0) {
		if (ret_error)
			*ret_error =
				r == -ETIME
					? xasprintf("%s: bash reading it did not finish in time "
						    "and was killed",
						    conf_path)
					: xasprintf("%s: cannot be read: %s", conf_path,
						    strerror(-r));
		return r;
	}
	strv_push(&p->conf_files, conf_path);
	keep_bash_stderr(p, c);
	note_deprecated(p, c, conf_path);
	r = apply_overrides(p, &c, env, kver, arch);
	if (r < 0) {
		if (ret_error)
			*ret_error = xasprintf("%s: an override in %s cannot be read: %s",
					       conf_path, env->etc_dkms, strerror(-r));
		return r;
	}
	struct dk_conf *over = NULL;
	if (env->extra_conf && conf_read_over(env->extra_conf, &env->conf, c, &over) >= 0) {
		over->used_bash |= c->used_bash;
		conf_free(c);
		c = over;
	}
	if (c->status != 0)
		strv_consume(&errors, xasprintf("%s: Error! bash could not finish reading it "
						"(exit status %d).",
						conf_path, c->status));

	p->used_bash = c->used_bash;
	p->name = get_dup(c, "PACKAGE_NAME", 0);
	p->version = get_dup(c, "PACKAGE_VERSION", 0);
	p->clean_command = get_dup(c, "CLEAN", 0);
	p->pre_build = get_dup(c, "PRE_BUILD", 0);
	p->post_build = get_dup(c, "POST_BUILD", 0);
	p->pre_install = get_dup(c, "PRE_INSTALL", 0);
	p->post_install = get_dup(c, "POST_INSTALL", 0);
	p->post_add = get_dup(c, "POST_ADD", 0);
	p->post_remove = get_dup(c, "POST_REMOVE", 0);
	p->autoinstall = yes_value(c, "AUTOINSTALL");
	p->no_weak_modules = yes_value(c, "NO_WEAK_MODULES");
	p->build_depends_rebuild = yes_value(c, "BUILD_DEPENDS_REBUILD");
	p->obsolete_by = get_dup(c, "OBSOLETE_BY", 0);
	const char *ri = get(c, "REMAKE_INITRD", 0);
	p->remake_initrd = ri[0] == 'y' || ri[0] == 'Y';
	p->build_exclusive_kernel = get_dup(c, "BUILD_EXCLUSIVE_KERNEL", 0);
	p->build_exclusive_arch = get_dup(c, "BUILD_EXCLUSIVE_ARCH", 0);
	p->build_exclusive_kernel_min = get_dup(c, "BUILD_EXCLUSIVE_KERNEL_MIN", 0);
	p->build_exclusive_kernel_max = get_dup(c, "BUILD_EXCLUSIVE_KERNEL_MAX", 0);

	set_modules(p, c, &errors);
	if (!env->lenient)
		check_duplicates(p, &errors);
	set_make(p, c, env, kver);
	set_lists(p, c, kver);
	validate_values(p, &errors);
	if (!p->name)
		strv_consume(&errors, xasprintf("%s: Error! No 'PACKAGE_NAME' directive specified.",
						conf_path));
	if (!p->version)
		strv_consume(&errors, xasprintf("%s: Error! No 'PACKAGE_VERSION' directive "
						"specified.",
						conf_path));
	/* What bash said is why a directive is missing (a syntax error loses
	 * what follows it): part of the error, or a warning, as dkms shows it. */
	if (errors && p->bash_said)
		for (size_t i = 0; p->bash_said[i]; i++)
			strv_consume(&errors, xasprintf("bash: %s", p->bash_said[i]));
	else if (errors && c->used_bash)
		strv_consume(&errors,
			     xasprintf("%s: note: not plain assignments (%s), so bash read "
				       "it; a syntax error there loses what follows "
				       "(try: bash -n %s)",
				       conf_path, strempty(c->bash_reason), conf_path));
	for (size_t i = 0; !errors && p->bash_said && p->bash_said[i]; i++)
		strv_consume(&p->warnings, xasprintf("bash: %s", p->bash_said[i]));
	if (errors) {
		if (ret_error)
			*ret_error = strv_join(errors, "\n");
		return -EINVAL;
	}
	*ret = TAKE_PTR(p);
	return 0;
}

/* CONFIG_X=y or =m at the start of a line of the kernel's .config. */
static bool config_set(const char *text, const char *sym)
{
	size_t l = strlen(sym);
	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		if (strncmp(s, sym, l) == 0 && s[l] == '=' && (s[l + 1] == 'y' || s[l + 1] == 'm'))
			return true;
	return false;
}

char *pkg_exclusion(const struct dk_pkg *p, const char *kver, const char *arch,
		    const char *kernel_config)
{
	_cleanup_free_ char *config = NULL;
	const char *why = NULL;

	if (p->build_exclusive_kernel && !regex_match(p->build_exclusive_kernel, kver))
		why = "BUILD_EXCLUSIVE_KERNEL";
	else if (p->build_exclusive_arch && !regex_match(p->build_exclusive_arch, arch))
		why = "BUILD_EXCLUSIVE_ARCH";
	else if (p->build_exclusive_kernel_min &&
		 version_cmp(kver, p->build_exclusive_kernel_min) < 0)
		why = "BUILD_EXCLUSIVE_KERNEL_MIN";
	else if (p->build_exclusive_kernel_max &&
		 version_cmp(kver, p->build_exclusive_kernel_max) > 0)
		why = "BUILD_EXCLUSIVE_KERNEL_MAX";
	/* dkms 3.4: OBSOLETE_BY is a BUILD_EXCLUSIVE_KERNEL_MAX when none is given. */
	else if (!p->build_exclusive_kernel_max && p->obsolete_by &&
		 version_cmp(kver, p->obsolete_by) > 0)
		why = "OBSOLETE_BY";
	else if (p->build_exclusive_config && kernel_config &&
		 read_full_file(kernel_config, &config, NULL, 0) >= 0) {
		/* dkms skips this check when the kernel has no .config. */
		for (size_t i = 0; !why && p->build_exclusive_config[i]; i++) {
			const char *sym = p->build_exclusive_config[i];
			bool neg = sym[0] == '!';
			if (config_set(config, sym + neg) == neg)
				why = "BUILD_EXCLUSIVE_CONFIG";
		}
	}
	if (!why)
		return NULL;
	return xasprintf("The %s for module %s includes a BUILD_EXCLUSIVE directive (%s) which "
			 "does not match this kernel/arch/config (%s/%s). This indicates that it "
			 "should not be built.",
			 p->conf_path, strempty(p->name), why, kver, arch);
}
