/* Keys and values in memory, with a case-insensitive index per key (hivex's
 * own lookups are linear and ASCII-only). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/casefold.h"
#include "layerfs/hive.h"

/* Open addressing over the key's subkeys (k) and values (v): index + 1. */
struct lf_rindex {
	uint32_t *k, *v;
	size_t nk, nv;           /* slots, powers of two */
	size_t builtk, builtv;   /* how many entries were indexed */
};

struct lf_rkey *lf_rkey_new(const char *name, int64_t mtime)
{
	struct lf_rkey *k = calloc(1, sizeof *k);
	if (k && !(k->name = strdup(name))) {
		free(k);
		return NULL;
	}
	if (k)
		k->mtime = mtime;
	return k;
}

void lf_rkey_free(struct lf_rkey *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->nsub; i++)
		lf_rkey_free(k->sub[i]);
	for (size_t i = 0; i < k->nval; i++) {
		free(k->val[i].name);
		free(k->val[i].data);
	}
	lf_rkey_changed(k);
	free(k->sub);
	free(k->val);
	free(k->sd);
	free(k->cls);
	free(k->name);
	free(k);
}

/* Bring one table of the index up to date: entries appended since it was
 * built go in as they are (merges append thousands of keys one by one);
 * it is built anew only when it would pass half full. */
static int index_table(uint32_t **slots, size_t *nslots, size_t *built, size_t n,
		       const char *(*name_at)(const struct lf_rkey *, size_t),
		       const struct lf_rkey *k)
{
	if (*built == n && *slots)
		return 0;
	size_t from = *built;
	if (!*slots || n * 2 > *nslots || *built > n) {
		size_t want = 16;
		while (want < n * 4)
			want *= 2;
		uint32_t *s = calloc(want, sizeof *s);
		if (!s)
			return -ENOMEM;
		free(*slots);
		*slots = s;
		*nslots = want;
		from = 0;
	}
	uint32_t *s = *slots;
	size_t mask = *nslots - 1;
	for (size_t i = from; i < n; i++) {
		size_t j = lf_casehash(name_at(k, i)) & mask;
		while (s[j])
			j = (j + 1) & mask;
		s[j] = (uint32_t)i + 1;
	}
	*built = n;
	return 0;
}

static const char *sub_name(const struct lf_rkey *k, size_t i) { return k->sub[i]->name; }
static const char *val_name(const struct lf_rkey *k, size_t i) { return k->val[i].name; }

static long lookup(uint32_t *slots, size_t nslots, const char *name,
		   const char *(*name_at)(const struct lf_rkey *, size_t), const struct lf_rkey *k)
{
	for (size_t j = lf_casehash(name) & (nslots - 1); slots[j]; j = (j + 1) & (nslots - 1))
		if (lf_casecmp(name_at(k, slots[j] - 1), name) == 0)
			return (long)slots[j] - 1;
	return -1;
}

static struct lf_rindex *index_of(struct lf_rkey *k)
{
	if (!k->index)
		k->index = calloc(1, sizeof *k->index);
	return k->index;
}

void lf_rkey_changed(struct lf_rkey *k)
{
	if (k->index) {
		free(k->index->k);
		free(k->index->v);
		free(k->index);
		k->index = NULL;
	}
}

struct lf_rkey *lf_rkey_find(struct lf_rkey *k, const char *name)
{
	struct lf_rindex *x = index_of(k);
	if (!x || index_table(&x->k, &x->nk, &x->builtk, k->nsub, sub_name, k))
		return NULL;
	long i = lookup(x->k, x->nk, name, sub_name, k);
	return i < 0 ? NULL : k->sub[i];
}

struct lf_rval *lf_rval_find(struct lf_rkey *k, const char *name)
{
	struct lf_rindex *x = index_of(k);
	if (!x || index_table(&x->v, &x->nv, &x->builtv, k->nval, val_name, k))
		return NULL;
	long i = lookup(x->v, x->nv, name, val_name, k);
	return i < 0 ? NULL : &k->val[i];
}

int lf_rkey_add(struct lf_rkey *parent, struct lf_rkey *child)
{
	if (parent->nsub == parent->capsub) {
		size_t cap = parent->capsub ? parent->capsub * 2 : 8;
		struct lf_rkey **v = realloc(parent->sub, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		parent->sub = v;
		parent->capsub = cap;
	}
	parent->sub[parent->nsub++] = child;
	return 0;
}

int lf_rkey_set(struct lf_rkey *k, const char *name, uint32_t type, const void *data,
		uint32_t len)
{
	struct lf_rval *v = lf_rval_find(k, name);
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	if (!v) {
		if (k->nval == k->capval) {
			size_t cap = k->capval ? k->capval * 2 : 8;
			struct lf_rval *nv = realloc(k->val, cap * sizeof *nv);
			if (!nv) {
				free(copy);
				return -ENOMEM;
			}
			k->val = nv;
			k->capval = cap;
		}
		v = &k->val[k->nval];
		v->name = strdup(name);
		if (!v->name) {
			free(copy);
			return -ENOMEM;
		}
		v->data = NULL;
		k->nval++;
	}
	free(v->data);
	v->data = copy;
	v->len = len;
	v->type = type;
	return 0;
}
