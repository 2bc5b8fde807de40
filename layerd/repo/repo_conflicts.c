/* Conflicts between layers: every file path and registry value two or
 * more platform or app layers provide (or delete). Each layer is read on
 * its own, not merged: what matters is who has what. Paths compare as
 * Windows compares them. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/casefold.h"
#include "layerfs/conflicts.h"
#include "layerfs/hive.h"
#include "layerfs/layer.h"
#include "layerfs/regcompose.h"

/* Every path seen: the providers of each, by folded path. */
struct table {
	struct lf_conflict *v;
	size_t n, cap;
	uint32_t *slots;         /* index + 1 */
	size_t nslots;
	char **folded;           /* the keys, by index */
	int err;
};

static struct lf_conflict *entry(struct table *t, const char *path, int registry)
{
	char key[4200];
	if (lf_casefold(path, key + 1, sizeof key - 1) < 0)
		snprintf(key + 1, sizeof key - 1, "%s", path);
	key[0] = registry ? 'r' : 'f';
	if ((t->n + 1) * 2 > t->nslots) {
		size_t ns = t->nslots ? t->nslots * 2 : 1024;
		uint32_t *s = calloc(ns, sizeof *s);
		if (!s)
			return t->err = -ENOMEM, NULL;
		for (size_t i = 0; i < t->n; i++) {
			size_t j = lf_casehash(t->folded[i]) & (ns - 1);
			while (s[j])
				j = (j + 1) & (ns - 1);
			s[j] = (uint32_t)i + 1;
		}
		free(t->slots);
		t->slots = s;
		t->nslots = ns;
	}
	size_t j = lf_casehash(key) & (t->nslots - 1);
	for (; t->slots[j]; j = (j + 1) & (t->nslots - 1))
		if (!strcmp(t->folded[t->slots[j] - 1], key))
			return &t->v[t->slots[j] - 1];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct lf_conflict *v = realloc(t->v, cap * sizeof *v);
		char **f = realloc(t->folded, cap * sizeof *f);
		if (v)
			t->v = v;
		if (f)
			t->folded = f;
		if (!v || !f)
			return t->err = -ENOMEM, NULL;
		t->cap = cap;
	}
	struct lf_conflict *c = &t->v[t->n];
	memset(c, 0, sizeof *c);
	c->registry = registry;
	c->path = strdup(path);
	t->folded[t->n] = strdup(key);
	if (!c->path || !t->folded[t->n]) {
		free(c->path);
		free(t->folded[t->n]);
		return t->err = -ENOMEM, NULL;
	}
	t->slots[j] = (uint32_t)++t->n;
	return c;
}

static struct lf_conflict *provide(struct table *t, const char *path, int registry, int layer,
				   int os, int deletes)
{
	struct lf_conflict *c = entry(t, path, registry);
	if (!c)
		return NULL;
	if (os) {
		c->in_os = 1;
		return c;
	}
	struct lf_provider *v = realloc(c->v, (size_t)(c->n + 1) * sizeof *v);
	if (!v) {
		t->err = -ENOMEM;
		return NULL;
	}
	c->v = v;
	v[c->n++] = (struct lf_provider){ layer, deletes };
	return c;
}

/* --- files --- */

static int is_hive(const char *path)
{
	for (int i = 0; i < lf_nhive_places; i++)
		if (fnmatch(lf_hive_places[i].path, path, FNM_PATHNAME | FNM_CASEFOLD) == 0)
			return 1;
	return 0;
}

struct fwalk {
	struct table *t;
	struct lf_layer *l;
	int layer, os, depth;
	char path[4096];
};

static int file_entry(void *ctx, const char *name, lf_ino ino, uint32_t type)
{
	struct fwalk *w = ctx;
	size_t len = strlen(w->path), tl = strlen(LF_WHITEOUT_PREFIX);
	if (len + strlen(name) + 2 >= sizeof w->path)
		return 0;
	int token = !strncmp(name, LF_WHITEOUT_PREFIX, tl);
	if (token && !strncmp(name + tl, LF_WHITEOUT_PREFIX, tl))
		return 0;                /* opaque folders: not one path */
	snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "/" : "",
		 token ? name + tl : name);
	if (!type) {
		struct lf_attr a;
		if (w->l->ops->getattr(w->l, ino, &a) == 0)
			type = a.mode & S_IFMT;
	}
	if (S_ISDIR(type) && !token && w->depth < 256) {
		w->depth++;
		w->l->ops->readdir(w->l, ino, file_entry, w);
		w->depth--;
	} else if (!token && is_hive(w->path)) {
		/* hives merge: their values are compared, not the files */
	} else {
		provide(w->t, w->path, 0, w->layer, w->os, token);
	}
	w->path[len] = 0;
	return w->t->err != 0;
}

/* --- registry values --- */

struct rwalk {
	struct table *t;
	int layer, os, depth;
	char path[4096];         /* MOUNT\KEY\... */
	size_t root;             /* where the key path inside the hive starts */
};

static void key_values(struct rwalk *w, const struct lf_rkey *k)
{
	size_t len = strlen(w->path), tl = strlen(LF_WHITEOUT_PREFIX);
	for (size_t i = 0; i < k->nval; i++) {
		const char *n = k->val[i].name;
		int marker = !strncmp(n, LF_WHITEOUT_PREFIX, tl);
		if (!strcmp(n, LF_OPAQUE_NAME))
			continue;
		snprintf(w->path + len, sizeof w->path - len, "\\%s", marker ? n + tl : *n ? n : "@");
		struct lf_conflict *c = provide(w->t, w->path, 1, w->layer, w->os, marker);
		/* values the merge joins (MULTI_SZ, ;-lists) are no contest */
		w->path[len] = 0;
		if (c && !marker &&
		    lf_reg_joins(NULL, w->path + w->root + (len > w->root), n, k->val[i].type))
			c->merged = 1;
	}
	for (size_t i = 0; i < k->nsub && w->depth < 512; i++) {
		if (!strncmp(k->sub[i]->name, LF_WHITEOUT_PREFIX, tl))
			continue;
		snprintf(w->path + len, sizeof w->path - len, "\\%s", k->sub[i]->name);
		w->depth++;
		key_values(w, k->sub[i]);
		w->depth--;
	}
	w->path[len] = 0;
}

struct hive_walk {
	struct table *t;
	struct lf_layer *l;
	int layer, os;
};

static int hive_values(void *ctx, const char *path, const char *mount)
{
	struct hive_walk *hw = ctx;
	struct lf_hive *h = NULL;
	/* a hive that does not load is fsck's to report; it provides nothing */
	if (lf_hive_load_layer(hw->l, path, &h, NULL) == 0) {
		struct rwalk w = { .t = hw->t, .layer = hw->layer, .os = hw->os };
		snprintf(w.path, sizeof w.path, "%s", mount);
		for (char *p = w.path; *p; p++)
			if (*p == '/')
				*p = '\\';
		w.root = strlen(w.path);
		key_values(&w, h->root);
	}
	lf_hive_free(h);
	return hw->t->err;
}

int lf_conflicts_find(const struct lf_conflict_layer *layers, int n, struct lf_conflict **out,
		      size_t *nout, struct lf_err *err)
{
	struct table t = {0};
	for (int i = 0; i < n && !t.err; i++) {
		struct lf_layer *l;
		if (lf_layer_open(layers[i].path, NULL, &l, err)) {
			lf_err_prefix(err, "layer '%s': ", layers[i].name);
			t.err = -err->code;
			break;
		}
		int os = layers[i].type == LF_LAYER_OS;
		struct fwalk w = { .t = &t, .l = l, .layer = i, .os = os };
		l->ops->readdir(l, l->root, file_entry, &w);
		struct hive_walk hw = { &t, l, i, os };
		lf_hive_places_in(l, hive_values, &hw);
		lf_layer_close(l);
	}
	size_t k = 0;
	for (size_t i = 0; i < t.n; i++) {
		if (!t.err && t.v[i].n >= 2) {
			t.v[k++] = t.v[i];
		} else {
			free(t.v[i].path);
			free(t.v[i].v);
		}
		free(t.folded[i]);
	}
	free(t.folded);
	free(t.slots);
	if (t.err) {
		free(t.v);
		return t.err == -ENOMEM ? lf_err_set(err, ENOMEM, "out of memory") : t.err;
	}
	*out = t.v;
	*nout = k;
	return 0;
}

void lf_conflicts_free(struct lf_conflict *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].path);
		free(c[i].v);
	}
	free(c);
}

int lf_conflict_winner(const struct lf_conflict *c, const long *priority)
{
	int best = 0;
	for (int i = 1; i < c->n; i++)
		if (priority[c->v[i].layer] >= priority[c->v[best].layer])
			best = i;
	return best;
}
