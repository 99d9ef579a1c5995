// SPDX-License-Identifier: GPL-2.0-or-later
/* `dkms-agent cache [--json] list`, `cache prune [--max-size SIZE]`,
 * `cache clear`. */
#include <getopt.h>
#include <stdio.h>

#include "cache.h"
#include "cmd-cache.h"
#include "log.h"

static void usage(FILE *f)
{
	fputs("usage: dkms-agent cache list [--json]      entries, least recently used first\n"
	      "       dkms-agent cache prune [--max-size SIZE]  remove leftovers, then old entries\n"
	      "                                           down to SIZE (default: cache_max_size=)\n"
	      "       dkms-agent cache clear              remove every entry\n"
	      "Settings (/etc/dkms-agent.conf): cache=yes|no|readonly, cache_dir=DIR,\n"
	      "cache_max_size=SIZE\n",
	      f);
}

static void size_str(uint64_t b, char *buf, size_t len)
{
	if (b >= (1u << 30))
		snprintf(buf, len, "%.1f GiB", b / 1073741824.0);
	else if (b >= (1u << 20))
		snprintf(buf, len, "%.1f MiB", b / 1048576.0);
	else
		snprintf(buf, len, "%.1f KiB", b / 1024.0);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int do_list(struct dk_cache *c, const struct dk_ctx *ctx, bool json)
{
	struct cache_entry *e;
	size_t n;
	int r = cache_list(c, &e, &n);
	if (r < 0) {
		log_error_errno(r, "Cannot read the build cache %s: %m", cache_dir(c));
		return 1;
	}
	uint64_t total = 0;
	if (json)
		printf("{\"dir\":");
	if (json)
		json_str(cache_dir(c));
	if (json)
		printf(",\"writable\":%s,\"max_size\":%llu,\"entries\":[",
		       cache_writable(c) ? "true" : "false",
		       (unsigned long long)ctx->cache_max_size);
	for (size_t i = 0; i < n; i++) {
		total += e[i].size;
		char when[32] = "?", size[32];
		struct tm tm;
		if (e[i].used && localtime_r(&e[i].used, &tm))
			strftime(when, sizeof(when), "%F %R", &tm);
		size_str(e[i].size, size, sizeof(size));
		if (json) {
			printf("%s{\"key\":\"%s\",\"module\":", i ? "," : "", e[i].key);
			json_str(e[i].module);
			printf(",\"version\":");
			json_str(e[i].version);
			printf(",\"kernel\":");
			json_str(e[i].kver);
			printf(",\"arch\":");
			json_str(e[i].arch);
			printf(",\"size\":%llu,\"created\":%lld,\"used\":%lld}",
			       (unsigned long long)e[i].size, (long long)e[i].created,
			       (long long)e[i].used);
		} else if (!e[i].module)
			printf("%.12s  (unreadable entry: `cache prune` removes it)\n", e[i].key);
		else
			printf("%.12s  %s/%s, %s, %s  %s  used %s\n", e[i].key, e[i].module,
			       e[i].version, e[i].kver, e[i].arch, size, when);
	}
	char tot[32], max[32];
	size_str(total, tot, sizeof(tot));
	size_str(ctx->cache_max_size, max, sizeof(max));
	if (json)
		printf("],\"size\":%llu}\n", (unsigned long long)total);
	else
		printf("%zu entr%s, %s of at most %s in %s%s\n", n, n == 1 ? "y" : "ies", tot, max,
		       cache_dir(c), cache_writable(c) ? "" : " (read-only)");
	cache_entries_free(e, n);
	return 0;
}

static int changed(struct dk_cache *c, int r, const char *what)
{
	if (r == -EROFS) {
		log_error("The build cache %s is read-only: nothing to %s here.", cache_dir(c),
			  what);
		return 1;
	}
	if (r < 0) {
		log_error_errno(r, "Cannot %s the build cache %s: %m", what, cache_dir(c));
		return 1;
	}
	return 0;
}

int cmd_cache(struct dk_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'J' },
					      { "max-size", required_argument, NULL, 'M' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	bool json = false;
	uint64_t max = ctx->cache_max_size;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (o) {
		case 'J': json = true; break;
		case 'M':
			if (parse_size(optarg, &max) < 0) {
				log_error("--max-size %s: not a size (e.g. 2G, 500M)", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *verb = optind < argc ? argv[optind] : NULL;
	if (!verb || optind + 1 < argc ||
	    !(streq(verb, "list") || streq(verb, "prune") || streq(verb, "clear"))) {
		usage(stderr);
		return 2;
	}
	_cleanup_(cache_freep) struct dk_cache *c = NULL;
	int r = cache_open(ctx, &c);
	if (r < 0) {
		if (ctx->cache_mode == CACHE_OFF)
			log_error("The build cache is off (cache=no in /etc/dkms-agent.conf).");
		else
			log_error_errno(r, "Cannot open the build cache %s%s: %m", ctx->root,
					ctx->cache_dir);
		return 1;
	}
	if (streq(verb, "list"))
		return do_list(c, ctx, json);
	if (streq(verb, "clear")) {
		r = cache_clear(c);
		if (r >= 0)
			printf("Removed %d entr%s from %s\n", r, r == 1 ? "y" : "ies",
			       cache_dir(c));
		return changed(c, r, "clear");
	}
	uint64_t freed = 0;
	r = cache_prune(c, max, &freed);
	if (r >= 0) {
		char f[32];
		size_str(freed, f, sizeof(f));
		printf("Removed %d entr%s (%s) from %s\n", r, r == 1 ? "y" : "ies", f,
		       cache_dir(c));
	}
	return changed(c, r, "prune");
}
