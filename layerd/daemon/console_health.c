/* The repository's last fsck, for /health: a thread of the console runs
 * the check layerctl fsck runs (nothing repaired; a registry's: its
 * chunks asked for, not fetched) when layerd starts and every
 * --fsck-every hours, and keeps what it found. A check of a big
 * repository reads every layer file: it runs at the lowest priority. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "console.h"
#include "layerd_int.h"
#include "layerfs/fsck.h"
#include "layerfs/lockcheck.h"

struct health {
	struct daemon *d;
	unsigned hours;             /* between checks; 0: at start only */
	pthread_t thread;
	int started;
	pthread_mutex_t lock;       /* LEAF: what follows */
	pthread_cond_t wake;
	int stop;
	json_t *problems;           /* the last check's, or NULL before one ended */
	int status, errors, warnings, running;
	time_t when;                /* when it ended */
	char failed[1024];          /* the check could not run: why */
};

static void collect(void *ctx, const struct lf_fsck_problem *p)
{
	json_t *list = ctx;
	json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "class",
		lf_fsck_class_name(p->cls), "severity", p->error ? "error" : p->warning ? "warning"
		: "reclaimable", "path", p->path, "what", p->what));
}

static void check_once(struct health *h)
{
	json_t *list = json_array();
	struct lf_fsck_opts o = { .report = collect, .ctx = list };
	struct lf_err err = {0};
	int status = h->d->registry ? lf_registry_fsck(h->d->registry, &o, 1, &err)
				    : lf_repo_fsck(h->d->repo, &o, &err);
	int errors = 0, warnings = 0;
	size_t i;
	json_t *p;
	json_array_foreach(list, i, p) {
		const char *sev = json_string_value(json_object_get(p, "severity"));
		errors += !strcmp(sev, "error");
		warnings += !strcmp(sev, "warning");
	}
	lf_mutex_lock(&h->lock, LF_LK_LEAF);
	json_decref(h->problems);
	h->problems = list;
	h->status = status;
	h->errors = errors;
	h->warnings = warnings;
	h->when = time(NULL);
	h->running = 0;
	snprintf(h->failed, sizeof h->failed, "%s", status == LF_FSCK_FAILED ? err.msg : "");
	lf_mutex_unlock(&h->lock);
}

static void *run(void *arg)
{
	struct health *h = arg;
	setpriority(PRIO_PROCESS, 0, 19);   /* this thread: the sessions come first */
	lf_mutex_lock(&h->lock, LF_LK_LEAF);
	while (!h->stop) {
		h->running = 1;
		lf_mutex_unlock(&h->lock);
		check_once(h);
		lf_mutex_lock(&h->lock, LF_LK_LEAF);
		if (!h->hours) {
			while (!h->stop)
				pthread_cond_wait(&h->wake, &h->lock);
			break;
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)h->hours * 3600;
		while (!h->stop && pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT)
			;
	}
	lf_mutex_unlock(&h->lock);
	return NULL;
}

struct health *health_start(struct daemon *d, unsigned hours)
{
	struct health *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->d = d;
	h->hours = hours;
	h->running = 1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	h->started = pthread_create(&h->thread, NULL, run, h) == 0;
	return h;
}

/* A check under way finishes first: it cannot be cut short. */
void health_stop(struct health *h)
{
	if (!h)
		return;
	lf_mutex_lock(&h->lock, LF_LK_LEAF);
	h->stop = 1;
	pthread_cond_broadcast(&h->wake);
	lf_mutex_unlock(&h->lock);
	if (h->started)
		pthread_join(h->thread, NULL);
	json_decref(h->problems);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void health_page(struct health *h, struct sbuf *b)
{
	if (!h)
		return;
	lf_mutex_lock(&h->lock, LF_LK_LEAF);
	json_t *problems = json_incref(h->problems);
	int status = h->status, errors = h->errors, warnings = h->warnings, running = h->running;
	time_t when = h->when;
	char failed[1024];
	snprintf(failed, sizeof failed, "%s", h->failed);
	lf_mutex_unlock(&h->lock);
	sb_printf(b, "<h2>The last fsck</h2>\n");
	if (!problems) {
		sb_printf(b, "<p id=\"fsck\" data-status=\"running\">The first check is under way.</p>\n");
		return;
	}
	char at[64];
	struct tm tm;
	strftime(at, sizeof at, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&when, &tm));
	sb_printf(b, "<p id=\"fsck\" data-status=\"%d\" data-errors=\"%d\" data-warnings=\"%d\" "
		  "class=\"%s\">Ended %s: ", status, errors, warnings, errors || failed[0] ? "bad" : "good",
		  at);
	if (failed[0]) {
		sb_printf(b, "the check could not run: ");
		sb_html(b, failed);
	} else {
		sb_printf(b, "%d error%s, %d warning%s", errors, errors == 1 ? "" : "s", warnings,
			  warnings == 1 ? "" : "s");
	}
	sb_printf(b, "%s.</p>\n", running ? " (another is under way)" : "");
	if (json_array_size(problems)) {
		sb_printf(b, "<table id=\"fsck-problems\"><tr><th>Severity</th><th>Class</th>"
			  "<th>Path</th><th>What</th></tr>\n");
		size_t i;
		json_t *p;
		static const char *const cols[] = { "severity", "class", "path", "what" };
		json_array_foreach(problems, i, p) {
			sb_printf(b, "<tr class=\"problem\">");
			for (int k = 0; k < 4; k++) {
				sb_printf(b, "<td>");
				sb_html(b, json_string_value(json_object_get(p, cols[k])));
				sb_printf(b, "</td>");
			}
			sb_printf(b, "</tr>\n");
		}
		sb_printf(b, "</table>\n");
	}
	json_decref(problems);
}
