/* /stack?user=NAME[&groups=G,...][&machine=M][&path=FOLDER]: the stack a
 * user gets, pictured. On the left its layers bottom to top; on the right
 * each folder of FOLDER as a bar cut by the layers that give its files
 * (by bytes, the longest folder the widest bar), with its files, bytes,
 * shadowed and deleted counts; a folder's name goes one level down. SVG
 * made here from lf_union_census. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "console.h"
#include "layerd_int.h"
#include "layerfs/union.h"

#define ROW_H 34
#define LAYER_H 30

static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
	"#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#2ca02c",
};

static const char *color(int i)
{
	return palette[i % (int)(sizeof palette / sizeof *palette)];
}

/* The link to this page for another folder, the user and her groups kept. */
static void stack_link(struct sbuf *b, const struct console_req *r, const char *path)
{
	sb_printf(b, "/stack?user=");
	sb_url(b, r->arg(r->ctx, "user"));
	const char *g = r->arg(r->ctx, "groups"), *m = r->arg(r->ctx, "machine");
	if (g) {
		sb_printf(b, "&amp;groups=");
		sb_url(b, g);
	}
	if (m) {
		sb_printf(b, "&amp;machine=");
		sb_url(b, m);
	}
	if (path && *path) {
		sb_printf(b, "&amp;path=");
		sb_url(b, path);
	}
}

static uint64_t sum(const uint64_t *v, int n)
{
	uint64_t s = 0;
	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void picture(struct sbuf *b, const struct console_req *r, const struct lf_union *u,
		    const struct lf_census *c, const char *path)
{
	int nl = c->nlayers;
	int h_layers = 40 + nl * (LAYER_H + 4);
	int h_rows = 40 + (int)c->nrows * ROW_H;
	int height = h_layers > h_rows ? h_layers : h_rows;
	uint64_t widest = 1;
	for (size_t i = 0; i < c->nrows; i++) {
		uint64_t t = sum(c->rows[i].bytes, nl);
		if (t > widest)
			widest = t;
	}
	sb_printf(b, "<svg id=\"stack\" xmlns=\"http://www.w3.org/2000/svg\" width=\"1320\" "
		  "height=\"%d\" font-family=\"system-ui,sans-serif\" font-size=\"13\">\n", height);
	sb_printf(b, "<text x=\"0\" y=\"20\" font-weight=\"bold\">Layers, highest on top</text>\n");
	for (int i = 0; i < nl; i++) {
		const struct lf_layer_spec *s = lf_union_spec(u, i);
		int y = 32 + i * (LAYER_H + 4);
		sb_printf(b, "<g class=\"layer\" data-layer=\"");
		sb_html(b, s->name);
		sb_printf(b, "\"><rect x=\"0\" y=\"%d\" width=\"300\" height=\"%d\" rx=\"4\" "
			  "fill=\"%s\"/><text x=\"10\" y=\"%d\" fill=\"#fff\">", y, LAYER_H, color(i),
			  y + 20);
		sb_html(b, s->name);
		sb_printf(b, " (%s, priority %ld)</text></g>\n", lf_layer_type_name(s->type), s->prio);
	}
	sb_printf(b, "<text x=\"330\" y=\"20\" font-weight=\"bold\">");
	sb_html(b, *path ? path : "C:\\");
	sb_printf(b, ": who gives each folder its files (by bytes)</text>\n");
	for (size_t k = 0; k < c->nrows; k++) {
		const struct lf_census_row *row = &c->rows[k];
		uint64_t files = sum(row->files, nl), bytes = sum(row->bytes, nl);
		uint64_t sh = sum(row->shadowed, nl), del = sum(row->deleted, nl);
		if (!row->dir && !files && !sh && !del)
			continue;
		int y = 32 + (int)k * ROW_H;
		sb_printf(b, "<g class=\"folder\" data-name=\"");
		sb_html(b, row->name);
		sb_printf(b, "\" data-files=\"%llu\">", (unsigned long long)files);
		if (row->dir) {
			char sub[4200];
			snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "/" : "", row->name);
			sb_printf(b, "<a href=\"");
			stack_link(b, r, sub);
			sb_printf(b, "\"><text x=\"330\" y=\"%d\" fill=\"#1f3a5f\" "
				  "text-decoration=\"underline\">", y + 18);
			sb_html(b, row->name);
			sb_printf(b, "</text></a>");
		} else {
			sb_printf(b, "<text x=\"330\" y=\"%d\" font-style=\"italic\">(files here)</text>",
				  y + 18);
		}
		double x = 520, full = 420;
		for (int i = nl - 1; i >= 0; i--) {   /* lowest layer first, as stacked */
			if (!row->bytes[i] && !row->files[i])
				continue;
			double w = full * (double)row->bytes[i] / (double)widest;
			if (w < 2)
				w = 2;
			const struct lf_layer_spec *s = lf_union_spec(u, i);
			sb_printf(b, "<rect class=\"seg\" data-layer=\"");
			sb_html(b, s->name);
			sb_printf(b, "\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"22\" fill=\"%s\">"
				  "<title>", x, y + 4, w, color(i));
			sb_html(b, s->name);
			sb_printf(b, ": %llu files, ", (unsigned long long)row->files[i]);
			sb_size(b, row->bytes[i]);
			sb_printf(b, "</title></rect>");
			x += w;
		}
		sb_printf(b, "<text x=\"950\" y=\"%d\">%llu file%s, ", y + 18, (unsigned long long)files,
			  files == 1 ? "" : "s");
		sb_size(b, bytes);
		if (sh || del)
			sb_printf(b, "; %llu shadowed, %llu deleted", (unsigned long long)sh,
				  (unsigned long long)del);
		sb_printf(b, "</text></g>\n");
	}
	sb_printf(b, "</svg>\n");
}

int page_stack(const struct console_req *r, struct sbuf *b)
{
	const char *path = r->arg(r->ctx, "path");
	struct console_view *cv;
	int status = console_view_open(r, &cv, b);
	if (status)
		return status;
	const char *user = console_view_user(cv);
	struct lf_union *u = console_view_union(cv);
	json_t *skipped = console_view_skipped(cv);
	int nl = lf_union_nlayers(u);
	struct lf_census_memo **memos = calloc((size_t)nl + 1, sizeof *memos);
	if (!memos) {
		console_view_close(cv);
		sb_printf(b, "out of memory");
		return 500;
	}
	memo_store_pick(r->memos, u, nl, console_view_layers(cv), memos);
	struct lf_census c;
	int rc = lf_union_census(u, path ? path : "", memos, &c);
	if (!rc)
		memo_store_save(r->memos, memos, nl);
	free(memos);
	if (rc) {
		console_view_close(cv);
		sb_printf(b, "%s: %s", path ? path : "", strerror(-rc));
		return rc == -ENOENT || rc == -ENOTDIR ? 404 : 500;
	}
	char title[600];
	snprintf(title, sizeof title, "The stack of %s", user);
	sb_page_start(b, r, title, "/stack");
	sb_printf(b, "<p>");
	if (path && *path) {
		/* the way back up, a folder at a time */
		sb_printf(b, "<a href=\"");
		stack_link(b, r, "");
		sb_printf(b, "\">C:\\</a>");
		char up[4200];
		snprintf(up, sizeof up, "%s", path);
		for (char *p = up; p;) {
			char *slash = strchr(p, '/');
			if (slash)
				*slash = 0;
			sb_printf(b, " \\ <a href=\"");
			stack_link(b, r, up);
			sb_printf(b, "\">");
			sb_html(b, p);
			sb_printf(b, "</a>");
			if (slash)
				*slash = '/';
			p = slash ? slash + 1 : NULL;
		}
	}
	size_t nskip = json_array_size(skipped);
	sb_printf(b, "</p>%s", nskip ? "<p class=\"bad\">Left out: " : "");
	for (size_t i = 0; i < nskip; i++) {
		sb_html(b, json_string_value(json_object_get(json_array_get(skipped, i), "why")));
		sb_printf(b, "%s", i + 1 < nskip ? "; " : "</p>");
	}
	picture(b, r, u, &c, path ? path : "");
	lf_census_free(&c);
	console_view_close(cv);
	sb_page_end(b);
	return 200;
}
