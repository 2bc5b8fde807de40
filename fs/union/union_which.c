/* Which layer provides a path of the merged view, and why the other
 * layers that have it do not show it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "union_int.h"
#include "layerfs/lockcheck.h"

/* Does layer l have `dir/name`? dir is "" for the root. */
static int layer_has(struct lf_layer *l, const char *dir, const char *name)
{
	char path[8192];
	snprintf(path, sizeof path, "%s%s%s", dir, *dir ? "/" : "", name);
	struct lf_attr a;
	return lf_layer_resolve(l, path, &a) == 0;
}

/* Why layer i does not show PATH: a delete token or an opaque folder in a
 * layer above it (for PATH or a folder on the way), else the provider's
 * higher priority. Sets *by to the layer responsible. */
static const char *shadow_reason(struct lf_union *u, const char *path, int i,
				 int provider, int *by)
{
	char dir[8192];
	const char *p = path;
	size_t dl = 0;
	dir[0] = 0;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char name[1024], token[1100];
		snprintf(name, sizeof name, "%.*s", (int)n, p);
		snprintf(token, sizeof token, LF_WHITEOUT_PREFIX "%s", name);
		for (int j = 0; j < i; j++) {
			struct lf_layer *l = union_layer(u, j);
			if (layer_has(l, dir, token)) {
				*by = j;
				return "deleted by a token";
			}
			if (layer_has(l, dir, LF_OPAQUE_NAME)) {
				*by = j;
				return "below an opaque folder";
			}
		}
		if (dl)
			dir[dl++] = '/';
		memcpy(dir + dl, p, n);
		dl += n;
		dir[dl] = 0;
		p += n;
		while (*p == '/')
			p++;
	}
	/* PATH itself made opaque above: its contents here are hidden */
	for (int j = 0; j < i; j++) {
		if (layer_has(union_layer(u, j), dir, LF_OPAQUE_NAME)) {
			*by = j;
			return "contents hidden by an opaque folder";
		}
	}
	*by = provider;
	return provider >= 0 ? "lower priority" : "hidden";
}

/* Whose spelling of NAME shows in folder parent (the lowest layer of the
 * run that shows it: see union_dir.c). */
static void spelling(struct lf_union *u, uint64_t parent, const char *name, struct lf_which *w)
{
	struct unode *p = node_get(u, parent);
	struct udir *d;
	if (!p)
		return;
	if (node_dir(u, p, &d) == 0) {
		const struct uentry *e = udir_find(d, name);
		if (e) {
			w->spelling = e->spell_layer;
			snprintf(w->spelt, sizeof w->spelt, "%s", e->name);
		}
		node_unlock(p);
	}
	node_put(u, p, 0);
}

static int u_which(struct lf_union *u, const char *path, struct lf_which *w)
{
	memset(w, 0, sizeof *w);
	w->provider = -1;
	w->spelling = -1;
	while (*path == '/')
		path++;
	/* Walk the merged view, forgetting what the walk looked up. */
	uint64_t walked[512];
	int depth = 0, rc = 0;
	uint64_t cur = LF_UNION_ROOT;
	struct lf_attr a;
	rc = union_getattr(u, cur, &a);
	const char *p = path;
	char name[1024] = "";    /* the last name looked up */
	while (!rc && *p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n >= sizeof name || depth == 512) {
			rc = -ENAMETOOLONG;
			break;
		}
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		while (*p == '/')
			p++;
		rc = union_lookup(u, cur, name, &a);
		if (!rc)
			cur = walked[depth++] = a.ino;
	}
	if (!rc && depth > 0)
		spelling(u, depth > 1 ? walked[depth - 2] : LF_UNION_ROOT, name, w);
	if (!rc) {
		w->found = 1;
		w->type = a.mode & S_IFMT;
		int k = union_node_layers(u, cur, w->contrib, 64);
		w->ncontrib = k > 0 ? k : 0;
		w->provider = k > 0 ? w->contrib[0] : -1;
		struct unode *n = node_get(u, cur);
		w->merged = n && stacked_is(u, n);
		if (n)
			node_put(u, n, 0);
	}
	/* a merged file (a hive): every copy no token or opaque folder hides
	 * goes into it */
	for (int i = 0; w->merged && i < lf_union_nlayers(u); i++) {
		struct lf_attr la;
		int by;
		if (i == w->provider || w->ncontrib == 64 ||
		    lf_layer_resolve(union_layer(u, i), path, &la) ||
		    strcmp(shadow_reason(u, path, i, -1, &by), "hidden"))
			continue;
		w->contrib[w->ncontrib++] = i;
	}
	for (int i = 0; i < lf_union_nlayers(u); i++) {
		int shown = 0;
		for (int k = 0; k < w->ncontrib; k++)
			shown |= w->contrib[k] == i;
		struct lf_attr la;
		if (shown || w->nshadowed == 64 || lf_layer_resolve(union_layer(u, i), path, &la))
			continue;
		int by = -1;
		w->shadowed[w->nshadowed].layer = i;
		w->shadowed[w->nshadowed].why = shadow_reason(u, path, i, w->provider, &by);
		w->shadowed[w->nshadowed].by = by;
		w->nshadowed++;
	}
	for (int k = 0; k < depth; k++)
		union_forget(u, walked[k], 1);
	return rc == -ENOENT ? 0 : rc;
}

static const char *top_kind(struct lf_union *u, uint64_t ino)
{
	struct unode *n = node_get(u, ino);
	if (!n)
		return NULL;
	const char *kind = u->layers[node_top(u, n).layer]->kind;
	node_put(u, n, 0);
	return kind;
}

const char *lf_union_top_kind(struct lf_union *u, uint64_t ino)
{
	union_enter(u);
	const char *kind = top_kind(u, ino);
	union_leave(u, 0);
	return kind;
}

int lf_union_which(struct lf_union *u, const char *path, struct lf_which *w)
{
	union_enter(u);
	return union_leave(u, u_which(u, path, w));
}
