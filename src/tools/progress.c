// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <time.h>

#include "progress.h"

#define HEARTBEAT_SEC 60
#define LOG_TAIL_LINES 15

struct running {
	char *key; /* "m/v kver (arch)" */
	enum dk_phase phase;
	double start, last_line;
};

static struct {
	bool tty, verbose, quiet;
	struct running *jobs;
	size_t n;
	int drawn; /* lines of the live area now on screen */
} P;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *key_of(const struct dk_event *ev)
{
	if (isempty(ev->m))
		return xasprintf("%s", ev->kver);
	return xasprintf("%s/%s %s (%s)", ev->m, ev->v, ev->kver, ev->arch);
}

static struct running *find(const char *key, bool add)
{
	for (size_t i = 0; i < P.n; i++)
		if (streq(P.jobs[i].key, key))
			return &P.jobs[i];
	if (!add)
		return NULL;
	P.jobs = xrealloc(P.jobs, (P.n + 1) * sizeof(*P.jobs));
	P.jobs[P.n] = (struct running){ .key = xstrdup(key), .start = now(), .last_line = now() };
	return &P.jobs[P.n++];
}

static void drop(const char *key)
{
	for (size_t i = 0; i < P.n; i++)
		if (streq(P.jobs[i].key, key)) {
			free(P.jobs[i].key);
			P.jobs[i] = P.jobs[--P.n];
			return;
		}
}

static void clear_area(void)
{
	if (!P.tty || P.drawn == 0)
		return;
	printf("\r\033[%dA\033[J", P.drawn);
	P.drawn = 0;
}

static void draw_area(void)
{
	if (!P.tty)
		return;
	clear_area();
	double t = now();
	for (size_t i = 0; i < P.n; i++) {
		int s = (int)(t - P.jobs[i].start);
		printf("  %s: %s %d:%02d\n", P.jobs[i].key, dk_phase_name(P.jobs[i].phase), s / 60,
		       s % 60);
	}
	P.drawn = (int)P.n;
	fflush(stdout);
}

/* The last lines of a failed build's log, then where the whole log is. */
static void show_log_tail(const char *path)
{
	_cleanup_free_ char *c = NULL;
	size_t len = 0;
	if (isempty(path) || read_full_file(path, &c, &len, 0) < 0)
		return;
	const char *p = c + len;
	int lines = 0;
	while (p > c && lines <= LOG_TAIL_LINES)
		if (*--p == '\n' && p + 1 < c + len)
			lines++;
	if (*p == '\n')
		p++;
	fprintf(stderr, "Last lines of the build log:\n");
	for (const char *q = p; *q;) {
		const char *nl = strchrnul(q, '\n');
		fprintf(stderr, "  | %.*s\n", (int)(nl - q), q);
		q = *nl ? nl + 1 : nl;
	}
	fprintf(stderr, "Consult %s for more information.\n", path);
}

static void line(const char *key, const char *what, double secs)
{
	if (secs >= 1)
		printf("%s: %s (%d:%02d)\n", key, what, (int)secs / 60, (int)secs % 60);
	else
		printf("%s: %s\n", key, what);
}

static void on_event(void *userdata, const struct dk_event *ev)
{
	if (ev->phase == DK_PHASE_TICK) {
		if (P.tty) {
			draw_area();
			return;
		}
		double t = now();
		for (size_t i = 0; i < P.n; i++)
			if (t - P.jobs[i].last_line >= HEARTBEAT_SEC) {
				_cleanup_free_ char *w = xasprintf("still running %s",
								   dk_phase_name(P.jobs[i].phase));
				line(P.jobs[i].key, w, t - P.jobs[i].start);
				P.jobs[i].last_line = t;
			}
		fflush(stdout);
		return;
	}
	_cleanup_free_ char *key = key_of(ev);
	clear_area();
	if (ev->phase == DK_PHASE_OUTPUT) {
		fflush(stdout);
		fputs(ev->text, stderr);
		fflush(stderr);
		draw_area();
		return;
	}
	struct running *r = find(key, true);
	double secs = now() - r->start;
	r->phase = ev->phase;
	r->last_line = now();
	switch (ev->phase) {
	case DK_PHASE_BUILT:
		line(key, "built", secs);
		drop(key); /* install, if any, starts its own entry */
		break;
	case DK_PHASE_CACHED:
		line(key, "built from the build cache (nothing compiled)", secs);
		drop(key);
		break;
	case DK_PHASE_INSTALLED:
		line(key, "installed", 0);
		drop(key);
		break;
	case DK_PHASE_DEPMOD:
	case DK_PHASE_INITRAMFS:
		if (!P.quiet)
			printf("Running %s for %s\n", dk_phase_name(ev->phase), ev->kver);
		drop(key);
		break;
	case DK_PHASE_SKIPPED:
		line(key, "skipped", 0);
		if (ev->message)
			printf("  %s\n", ev->message);
		drop(key);
		break;
	case DK_PHASE_FAILED:
		fflush(stdout);
		fprintf(stderr, "Error! %s: %s\n", key, strempty(ev->message));
		show_log_tail(ev->log_path);
		drop(key);
		break;
	default:
		if (!P.tty && !P.quiet)
			line(key, dk_phase_name(ev->phase), secs);
		break;
	}
	draw_area();
	fflush(stdout);
}

void progress_attach(struct dk_ctx *ctx)
{
	P.tty = isatty(STDOUT_FILENO) && !getenv("JOURNAL_STREAM") && !ctx->quiet &&
		!streq(strempty(getenv("TERM")), "dumb");
	P.verbose = ctx->verbose;
	P.quiet = ctx->quiet;
	ctx->progress = on_event;
	ctx->progress_userdata = NULL;
}

void progress_done(void)
{
	clear_area();
	for (size_t i = 0; i < P.n; i++)
		free(P.jobs[i].key);
	free(P.jobs);
	P.jobs = NULL;
	P.n = 0;
	fflush(stdout);
}
