/* /conflicts?user=NAME[&groups=G,...][&machine=M]: what the platform and
 * app layers of her stack fight over, pictured. A grid of those layers,
 * each cell the paths and registry values the two both provide (or
 * delete) and how many the row's layer wins; then the conflicts
 * themselves, the winner first. From lf_conflicts_find, as layerctl
 * conflicts reads them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "console.h"
#include "layerd_int.h"
#include "layerfs/conflicts.h"

#define CELL 110
#define LIST_MAX 300

/* The stack's layers lowest first, as lf_conflicts_find takes them. */
static int stack_layers(const struct lf_union *u, struct lf_conflict_layer **out, long **prio)
{
	int n = lf_union_nlayers(u);
	struct lf_conflict_layer *v = calloc((size_t)n + 1, sizeof *v);
	long *p = calloc((size_t)n + 1, sizeof *p);
	if (!v || !p) {
		free(v);
		free(p);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const struct lf_layer_spec *s = lf_union_spec(u, n - 1 - i);
		v[i] = (struct lf_conflict_layer){ s->name, s->path, s->type, s->prio };
		p[i] = s->prio;
	}
	*out = v;
	*prio = p;
	return n;
}

static void grid(struct sbuf *b, const struct lf_conflict_layer *v, int n,
		 const unsigned *both, const unsigned *wins)
{
	/* the OS layer loses to all of them: it is not a side */
	int side[64], k = 0;
	for (int i = 0; i < n && k < 64; i++)
		if (v[i].type != LF_LAYER_OS)
			side[k++] = i;
	int size = 160 + k * CELL;
	sb_printf(b, "<svg id=\"conflicts\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		  "height=\"%d\" font-family=\"system-ui,sans-serif\" font-size=\"12\">\n",
		  size + 20, 60 + k * 40);
	for (int c = 0; c < k; c++) {
		sb_printf(b, "<text x=\"%d\" y=\"20\" text-anchor=\"middle\">", 160 + c * CELL + CELL / 2);
		sb_html(b, v[side[c]].name);
		sb_printf(b, "</text>\n");
	}
	for (int r = 0; r < k; r++) {
		int y = 30 + r * 40;
		sb_printf(b, "<text x=\"150\" y=\"%d\" text-anchor=\"end\">", y + 24);
		sb_html(b, v[side[r]].name);
		sb_printf(b, "</text>\n");
		for (int c = 0; c < k; c++) {
			int x = 160 + c * CELL;
			unsigned both_n = both[side[r] * n + side[c]], won = wins[side[r] * n + side[c]];
			if (r == c) {
				sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"36\" fill=\"#eee\"/>\n",
					  x, y, CELL - 4);
				continue;
			}
			/* the more they fight over, the darker */
			int shade = both_n ? 200 - (both_n > 100 ? 100 : (int)both_n) : 245;
			sb_printf(b, "<g class=\"pair\" data-a=\"");
			sb_html(b, v[side[r]].name);
			sb_printf(b, "\" data-b=\"");
			sb_html(b, v[side[c]].name);
			sb_printf(b, "\" data-both=\"%u\" data-wins=\"%u\"><rect x=\"%d\" y=\"%d\" "
				  "width=\"%d\" height=\"36\" fill=\"rgb(%d,%d,255)\"/>", both_n, won, x, y,
				  CELL - 4, shade, shade);
			if (both_n)
				sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%u, wins %u"
					  "</text>", x + CELL / 2 - 2, y + 22, both_n, won);
			sb_printf(b, "<title>");
			sb_html(b, v[side[r]].name);
			sb_printf(b, " and ");
			sb_html(b, v[side[c]].name);
			sb_printf(b, " both have %u; the first wins %u</title></g>\n", both_n, won);
		}
	}
	sb_printf(b, "</svg>\n");
}

int page_conflicts(const struct console_req *r, struct sbuf *b)
{
	struct console_view *cv;
	int rc = console_view_open(r, &cv, b);
	if (rc)
		return rc;
	struct lf_err err = {0};
	struct lf_conflict_layer *v = NULL;
	long *prio = NULL;
	int n = stack_layers(console_view_union(cv), &v, &prio);
	struct lf_conflict *c = NULL;
	size_t nc = 0;
	rc = n < 0 ? lf_err_set(&err, ENOMEM, "out of memory") : lf_conflicts_find(v, n, &c, &nc, &err);
	unsigned *both = rc ? NULL : calloc((size_t)n * n + 1, 2 * sizeof *both);
	if (rc || !both) {
		sb_html(b, rc ? err.msg : "out of memory");
		free(v);
		free(prio);
		console_view_close(cv);
		return 500;
	}
	unsigned *wins = both + (size_t)n * n;
	for (size_t i = 0; i < nc; i++) {
		int w = lf_conflict_winner(&c[i], prio);
		for (int x = 0; x < c[i].n; x++)
			for (int y = 0; y < c[i].n; y++) {
				if (x == y)
					continue;
				int a = c[i].v[x].layer, bb = c[i].v[y].layer;
				both[a * n + bb]++;
				wins[a * n + bb] += x == w;
			}
	}
	char title[600];
	snprintf(title, sizeof title, "Conflicts in the stack of %s", console_view_user(cv));
	sb_page_start(b, r, title, "/conflicts");
	sb_printf(b, "<p id=\"n-conflicts\" data-n=\"%zu\">%zu paths and registry values are "
		  "provided by more than one platform or app layer.</p>\n", nc, nc);
	grid(b, v, n, both, wins);
	sb_printf(b, "<table id=\"conflict-list\"><tr><th>Path or value</th><th>Winner</th>"
		  "<th>Also</th></tr>\n");
	for (size_t i = 0; i < nc && i < LIST_MAX; i++) {
		int w = lf_conflict_winner(&c[i], prio);
		sb_printf(b, "<tr class=\"conflict\"><td><code>");
		sb_html(b, c[i].path);
		sb_printf(b, "</code>%s</td><td><b>", c[i].merged ? " (merged)" : "");
		sb_html(b, v[c[i].v[w].layer].name);
		sb_printf(b, "%s</b></td><td>", c[i].v[w].deletes ? " (deletes it)" : "");
		for (int x = 0, first = 1; x < c[i].n; x++) {
			if (x == w)
				continue;
			sb_printf(b, "%s", first ? "" : ", ");
			first = 0;
			sb_html(b, v[c[i].v[x].layer].name);
		}
		sb_printf(b, "</td></tr>\n");
	}
	sb_printf(b, "</table>%s\n", nc > LIST_MAX ? "<p>(the first 300)</p>" : "");
	sb_page_end(b);
	free(both);
	lf_conflicts_free(c, nc);
	free(v);
	free(prio);
	console_view_close(cv);
	return 200;
}
