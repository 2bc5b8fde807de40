/* A folder of the union read whole: each entry with its attributes (one
 * readdirplus), in the order Windows sorts names. For the tools that walk
 * a whole tree in process (diff, compare, publish). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/casefold.h"
#include "union_int.h"


static int collect(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	(void)next;
	struct lf_union_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct lf_union_entry *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return 1;        /* not taken: the union forgets it */
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n].name = strdup(name)))
		return 1;
	l->v[l->n++].a = *a;
	return 0;
}

/* Each entry was looked up (readdirplus): its reference goes with it. */
void lf_union_list_free(struct lf_union *u, struct lf_union_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		lf_union_forget(u, l->v[i].a.ino, 1);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int by_name(const void *x, const void *y)
{
	return lf_casecmp(((const struct lf_union_entry *)x)->name,
			  ((const struct lf_union_entry *)y)->name);
}

int lf_union_list(struct lf_union *u, uint64_t ino, struct lf_union_list *l)
{
	memset(l, 0, sizeof *l);
	int rc = lf_union_readdir(u, ino, 0, 1, collect, l);
	if (!rc && l->n)
		qsort(l->v, l->n, sizeof *l->v, by_name);
	return rc;
}
