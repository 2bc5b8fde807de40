/* /diff?a=ID:REV&b=ID:REV: what changed from one revision of a layer to
 * another (an app layer's update), as a tree: each folder with how many
 * entries were added, removed and changed below it and their bytes, its
 * changes one level down inside. From lf_union_diff of the two layers,
 * each alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "layerd_int.h"
#include "layerfs/grow.h"
#include "layerfs/union.h"

#define MAX_CHANGES 100000

struct change {
	char *path;
	char what;               /* '+', '-', '~' */
	uint64_t size;
};

struct changes {
	struct change *v;
	size_t n, cap;
	int truncated;
};

static int on_change(void *ctx, char what, const char *path, const char *why,
		     const struct lf_attr *a)
{
	(void)why;
	struct changes *c = ctx;
	if (c->n == MAX_CHANGES) {
		c->truncated = 1;
		return 1;
	}
	if (lf_grow(&c->v, &c->cap, c->n, sizeof *c->v, 256))
		return -ENOMEM;
	c->v[c->n] = (struct change){ strdup(path), what, a ? a->size : 0 };
	if (!c->v[c->n].path)
		return -ENOMEM;
	c->n++;
	return 0;
}

static int by_path(const void *x, const void *y)
{
	return strcmp(((const struct change *)x)->path, ((const struct change *)y)->path);
}

/* The layer ID:REV of the repository alone, as a union. */
static int open_layer(const struct lf_repo *r, const char *arg, struct lf_union **u,
		      struct lf_err *err)
{
	unsigned id, rev;
	if (!arg || sscanf(arg, "%u:%u", &id, &rev) != 2)
		return lf_err_set(err, EINVAL, "want ID:REV, not '%s'", arg ? arg : "");
	const struct lf_repo_layer *l = lf_repo_find(r, id, rev);
	if (!l)
		return lf_err_set(err, ENOENT, "no layer %u revision %u", id, rev);
	char path[8192], spec[8300];
	int rc = lf_repo_path(r, l->file, path, sizeof path, err);
	struct lf_stack st = {0};
	snprintf(spec, sizeof spec, "%s,type=%s", path, lf_layer_type_name(l->type));
	struct lf_union_opts o = { .windows_names = 1 };
	if (!rc)
		rc = lf_stack_add(&st, spec, err);
	if (!rc)
		rc = lf_stack_sort(&st, err);
	if (!rc)
		rc = lf_union_open(&st, &o, u, err);
	lf_stack_free(&st);
	return rc;
}

/* Entries v[lo, hi) all below the folder that is depth components deep:
 * the folder's own changes, then each subfolder's as a nested list. */
static void tree(struct sbuf *b, const struct change *v, size_t lo, size_t hi, size_t skip)
{
	sb_printf(b, "<ul>");
	for (size_t i = lo; i < hi;) {
		const char *rest = v[i].path + skip;
		const char *slash = strchr(rest, '/');
		size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
		/* the run of entries under the same name at this level */
		size_t j = i + 1;
		while (j < hi && !strncmp(v[j].path + skip, rest, len) &&
		       (v[j].path[skip + len] == '/' || v[j].path[skip + len] == 0))
			j++;
		uint64_t add = 0, del = 0, chg = 0, bytes = 0;
		for (size_t k = i; k < j; k++) {
			add += v[k].what == '+';
			del += v[k].what == '-';
			chg += v[k].what == '~';
			bytes += v[k].size;
		}
		int leaf = j == i + 1 && !slash;
		sb_printf(b, "<li class=\"%s\" data-path=\"", leaf ? "change" : "folder");
		sb_html(b, v[i].path);
		if (leaf) {
			sb_printf(b, "\" data-what=\"%c\"><span class=\"w%c\">%c</span> ", v[i].what,
				  v[i].what == '+' ? 'a' : v[i].what == '-' ? 'd' : 'c', v[i].what);
			struct sbuf name = {0};
			sb_printf(&name, "%.*s", (int)len, rest);
			sb_html(b, name.s);
			free(name.s);
			sb_printf(b, " <small>%llu bytes</small></li>", (unsigned long long)v[i].size);
		} else {
			struct sbuf name = {0};
			sb_printf(&name, "%.*s", (int)len, rest);
			sb_printf(b, "\"><details%s><summary><b>", skip ? "" : " open");
			sb_html(b, name.s);
			free(name.s);
			sb_printf(b, "</b> <span class=\"wa\">+%llu</span> <span class=\"wd\">-%llu</span> "
				  "<span class=\"wc\">~%llu</span> <small>%llu bytes</small></summary>",
				  (unsigned long long)add, (unsigned long long)del,
				  (unsigned long long)chg, (unsigned long long)bytes);
			/* the folder itself may be one of the entries (added whole) */
			size_t first = i;
			if (!v[i].path[skip + len])
				first++;
			if (first < j)
				tree(b, v, first, j, skip + len + 1);
			sb_printf(b, "</details></li>");
		}
		i = j;
	}
	sb_printf(b, "</ul>\n");
}

int page_diff(const struct console_req *r, struct sbuf *b)
{
	const char *a_arg = r->arg(r->ctx, "a"), *b_arg = r->arg(r->ctx, "b");
	struct lf_repo *repo;
	struct lf_err err = {0};
	if (daemon_repo_open(r->d, &repo, &err)) {
		sb_html(b, err.msg);
		return 503;
	}
	struct lf_union *ua = NULL, *ub = NULL;
	int rc = open_layer(repo, a_arg, &ua, &err);
	if (!rc)
		rc = open_layer(repo, b_arg, &ub, &err);
	struct changes c = {0};
	if (!rc) {
		struct lf_diff_opts o = {0};
		rc = lf_union_diff(ua, ub, &o, on_change, &c);
		if (rc < 0)
			lf_err_set(&err, -rc, "the diff: %s", strerror(-rc));
		else
			rc = 0;
	}
	if (ua)
		lf_union_close(ua);
	if (ub)
		lf_union_close(ub);
	lf_repo_free(repo);
	if (rc) {
		sb_printf(b, "/diff?a=ID:REV&b=ID:REV: ");
		sb_html(b, err.msg);
		for (size_t i = 0; i < c.n; i++)
			free(c.v[i].path);
		free(c.v);
		return err.code == ENOENT ? 404 : 400;
	}
	qsort(c.v, c.n, sizeof *c.v, by_path);
	char title[300];
	snprintf(title, sizeof title, "From layer %s to %s", a_arg, b_arg);
	sb_page_start(b, r, title, "/diff");
	sb_printf(b, "<style>.wa{color:#070}.wd{color:#a00}.wc{color:#a60}ul{list-style:none}"
		  "</style><p id=\"n-changes\" data-n=\"%zu\">%zu entries differ%s.</p>\n", c.n, c.n,
		  c.truncated ? " (the first 100,000)" : "");
	if (c.n)
		tree(b, c.v, 0, c.n, 0);
	sb_page_end(b);
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].path);
	free(c.v);
	return 200;
}
