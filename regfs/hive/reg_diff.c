/* What differs between two registry trees: keys and values on one side
 * only, and values whose type or bytes differ. Names match in any case,
 * as Windows matches them, and whole (a NUL inside one included). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/hive.h"

static void diff_keys(const struct lf_rkey *a, const struct lf_rkey *b, const char *path,
		      int depth, lf_reg_diff_fn fn, void *ctx)
{
	if (depth > 512)
		return;
	struct lf_rkey *ma = (struct lf_rkey *)a, *mb = (struct lf_rkey *)b;  /* finds do not change */
	for (size_t i = 0; i < a->nval; i++) {
		const struct lf_rval *x = &a->val[i], *y = lf_rval_find(mb, x->name);
		if (!y)
			fn(ctx, '-', path, x->name);
		else if (x->type != y->type || x->len != y->len || memcmp(x->data, y->data, x->len))
			fn(ctx, '~', path, x->name);
	}
	for (size_t i = 0; i < b->nval; i++)
		if (!lf_rval_find(ma, b->val[i].name))
			fn(ctx, '+', path, b->val[i].name);
	for (int side = 0; side < 2; side++) {
		const struct lf_rkey *from = side ? b : a;
		struct lf_rkey *other = side ? ma : mb;
		for (size_t i = 0; i < from->nsub; i++) {
			const struct lf_rkey *x = from->sub[i], *y = lf_rkey_find(other, x->name);
			if (side && y)
				continue;       /* in both: compared from a's side */
			char *p = malloc(strlen(path) + strlen(x->name) + 2);
			if (!p)
				return;
			sprintf(p, "%s%s%s", path, *path ? "\\" : "", x->name);
			if (y)
				diff_keys(x, y, p, depth + 1, fn, ctx);
			else
				fn(ctx, side ? '+' : '-', p, NULL);
			free(p);
		}
	}
}

void lf_reg_diff(const struct lf_rkey *a, const struct lf_rkey *b, lf_reg_diff_fn fn, void *ctx)
{
	diff_keys(a, b, "", 0, fn, ctx);
}
