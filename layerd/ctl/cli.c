#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/regcompose.h"
#include "layerfs/repo.h"

const char *prog = "layerctl";

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s %s: ", prog, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help'.\n", prog, cmd);
	return EXIT_USAGE;
}

int64_t cli_parse_size(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end)
		return -1;
	double r = v * mul;
	if (r > 9e18)
		return -1;
	return (int64_t)r;
}

struct lf_layer *cli_open_layer(const char *path, const char *const *parents,
				int nparents)
{
	struct lf_layer_opts o = { .source = { .parents = parents, .nparents = nparents } };
	struct lf_layer *l = NULL;
	struct lf_err err = {0};
	if (lf_layer_open(path, &o, &l, &err)) {
		cli_error("%s", err.msg);
		return NULL;
	}
	return l;
}

int cli_resolve(struct lf_layer *l, const char *path, struct lf_attr *a)
{
	int rc = lf_layer_resolve(l, path, a);
	if (rc)
		cli_error("%s: %s: %s", l->path, path, strerror(-rc));
	return rc;
}

void cli_format_time(struct timespec ts, char *out, size_t size)
{
	struct tm tm;
	time_t t = ts.tv_sec;
	gmtime_r(&t, &tm);
	char base[40];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%09ldZ", base, ts.tv_nsec);
}

const char *cli_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "chardev";
	case S_IFBLK: return "blockdev";
	}
	return "unknown";
}

void cli_print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(j);
}

void cli_who_fill(struct cli_who *w, const char *groups)
{
	if (!w->machine) {
		gethostname(w->host, sizeof w->host);
		w->host[sizeof w->host - 1] = 0;
		w->machine = w->host;
	}
	cli_who_groups(w, groups);
	/* her Unix groups, as layerd's login gives them (a preview that
	 * left them out showed her fewer layers than her login gets) */
	w->nunix = w->user ? lf_unix_groups(w->user, w->unix_names, 256) : 0;
	for (int i = 0; i < w->nunix && w->ngroups < 256; i++) {
		int have = 0;
		for (int k = 0; k < w->ngroups && !have; k++)
			have = !strcmp(w->groups[k], w->unix_names[i]);
		if (!have)
			w->groups[w->ngroups++] = w->unix_names[i];
	}
}

void cli_who_groups(struct cli_who *w, const char *groups)
{
	w->ngroups = 0;
	w->copy = groups ? strdup(groups) : NULL;
	char *save = NULL;
	for (char *g = w->copy ? strtok_r(w->copy, ",", &save) : NULL; g && w->ngroups < 256;
	     g = strtok_r(NULL, ",", &save))
		w->groups[w->ngroups++] = g;
}

void cli_who_free(struct cli_who *w)
{
	free(w->copy);
	w->copy = NULL;
	for (int i = 0; i < w->nunix; i++)
		free(w->unix_names[i]);
	w->nunix = 0;
}

static int union_spoke;

/* What the union engine says (a hive it cannot merge, a layer's I/O
 * error) is said once, as layerctl's: the caller that then fails with EIO
 * has nothing to add (cli_union_spoke). */
static void union_says(void *ctx, const char *line)
{
	(void)ctx;
	cli_error("%s", line);
	union_spoke = 1;
}

int cli_union_spoke(void)
{
	int r = union_spoke;
	union_spoke = 0;
	return r;
}

struct lf_union_opts cli_hive_opts(void)
{
	struct lf_union_opts o = { .stack = lf_reg_stack, .log = union_says };
	o.stacked = lf_hive_patterns(&o.nstacked);
	return o;
}

void cli_bar_init(struct cli_bar *b, int quiet)
{
	*b = (struct cli_bar){ .on = !quiet && isatty(STDERR_FILENO), .last = -1 };
}

void cli_bar_show(void *bar, const char *phase, uint64_t done, uint64_t total)
{
	struct cli_bar *b = bar;
	if (!b->on)
		return;
	/* a count goes up by thousands, a percent by one: no more lines
	 * than an eye can follow */
	long now = total ? (long)(done * 100 / total) : (long)done;
	if (phase == b->last_phase && now == b->last)
		return;
	b->last_phase = phase;
	b->last = now;
	if (!total) {
		fprintf(stderr, "\r%-7s %llu\033[K", phase, (unsigned long long)done);
		return;
	}
	int width = 40, fill = (int)now * width / 100;
	fprintf(stderr, "\r%-7s [", phase);
	for (int i = 0; i < width; i++)
		fputc(i < fill ? '#' : ' ', stderr);
	fprintf(stderr, "] %3ld%%", now);
}

void cli_bar_end(struct cli_bar *b)
{
	if (b->on && b->last >= 0)
		fputs("\r\033[K", stderr);
}

void cli_note(void *ctx, const char *path, const char *what)
{
	(void)ctx;
	fprintf(stderr, "layerctl: note: %s: %s\n", path, what);
}
