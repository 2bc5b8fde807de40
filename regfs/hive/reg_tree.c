/* Keys and values in memory, with a case-insensitive index per key (hivex's
 * own lookups are linear and ASCII-only). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/casefold.h"
#include "layerfs/hash.h"
#include "layerfs/heap.h"
#include "layerfs/hive.h"

/* Open addressing over the key's subkeys (k) and values (v): index + 1. */
#define LF_RKEY_SCAN 8           /* keys this small are not indexed */

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
	if (!k || k->frozen)
		return;         /* a frozen hive's arena holds it */
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
	if (k->index && !k->frozen) {
		free(k->index->k);
		free(k->index->v);
		free(k->index);
		k->index = NULL;
	}
}

/* A small key is searched straight through: an index for each of a
 * hive's 300,000 keys would cost more than the hive. A frozen key is
 * never indexed here (others read it at the same time): lf_hive_freeze
 * gave it its index, if big. */
static long find_in(struct lf_rkey *k, const char *name, int values)
{
	size_t n = values ? k->nval : k->nsub;
	const char *(*name_at)(const struct lf_rkey *, size_t) = values ? val_name : sub_name;
	struct lf_rindex *x = k->index;
	if (!k->frozen && n > LF_RKEY_SCAN) {
		x = index_of(k);
		if (!x || (values ? index_table(&x->v, &x->nv, &x->builtv, n, name_at, k)
				  : index_table(&x->k, &x->nk, &x->builtk, n, name_at, k)))
			return -1;
	}
	uint32_t *slots = x ? (values ? x->v : x->k) : NULL;
	if (slots && (k->frozen || n > LF_RKEY_SCAN))
		return lookup(slots, values ? x->nv : x->nk, name, name_at, k);
	for (size_t i = 0; i < n; i++)
		if (lf_casecmp(name_at(k, i), name) == 0)
			return (long)i;
	return -1;
}

long lf_rkey_pos(struct lf_rkey *k, const char *name)
{
	return find_in(k, name, 0);
}

struct lf_rkey *lf_rkey_find(struct lf_rkey *k, const char *name)
{
	long i = find_in(k, name, 0);
	return i < 0 ? NULL : k->sub[i];
}

struct lf_rval *lf_rval_find(struct lf_rkey *k, const char *name)
{
	long i = find_in(k, name, 1);
	return i < 0 ? NULL : &k->val[i];
}

struct lf_rkey *lf_rkey_thaw(const struct lf_rkey *f)
{
	struct lf_rkey *c = lf_rkey_new(f->name, f->mtime);
	int ok = c != NULL;
	if (ok && f->nsub) {
		ok = (c->sub = malloc(f->nsub * sizeof *c->sub)) != NULL;
		if (ok) {
			memcpy(c->sub, f->sub, f->nsub * sizeof *c->sub);
			c->nsub = c->capsub = f->nsub;
		}
	}
	if (ok && f->sdlen && (ok = (c->sd = malloc(f->sdlen)) != NULL)) {
		memcpy(c->sd, f->sd, f->sdlen);
		c->sdlen = f->sdlen;
	}
	if (ok && f->clslen && (ok = (c->cls = malloc(f->clslen)) != NULL)) {
		memcpy(c->cls, f->cls, f->clslen);
		c->clslen = f->clslen;
	}
	for (uint32_t i = 0; ok && i < f->nval; i++)
		ok = !lf_rkey_set(c, f->val[i].name, f->val[i].type, f->val[i].data, f->val[i].len);
	if (!ok) {
		/* the shared sub-keys are not c's to free */
		if (c)
			c->nsub = 0;
		lf_rkey_free(c);
		return NULL;
	}
	return c;
}

struct lf_rkey *lf_rkey_own(struct lf_rkey *parent, uint32_t pos)
{
	struct lf_rkey *f = parent->sub[pos];
	if (!f->frozen)
		return f;
	struct lf_rkey *c = lf_rkey_thaw(f);
	if (c)
		parent->sub[pos] = c;
	return c;
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
	if (len)
		memcpy(copy, data, len);   /* data may be NULL when empty */
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

/* Freezing: the tree copied into the hive's arena. */
struct freezer {
	struct lf_arena *a;
	uint8_t **sds;           /* descriptors stored so far, by hash */
	size_t nsds;             /* slots, a power of two */
	size_t used;
};

static uint8_t *freeze_sd(struct freezer *z, const uint8_t *sd, uint32_t len)
{
	/* Windows shares one sk cell among thousands of keys; so does this */
	if (z->used * 2 >= z->nsds) {
		size_t n = z->nsds ? z->nsds * 2 : 256;
		uint8_t **t = calloc(n, sizeof *t);
		if (!t)
			return NULL;
		for (size_t i = 0; i < z->nsds; i++)
			if (z->sds[i]) {
				uint32_t l;
				memcpy(&l, z->sds[i] - 4, 4);
				size_t j = lf_fnv1a(z->sds[i], l) & (n - 1);
				while (t[j])
					j = (j + 1) & (n - 1);
				t[j] = z->sds[i];
			}
		free(z->sds);
		z->sds = t;
		z->nsds = n;
	}
	size_t j = lf_fnv1a(sd, len) & (z->nsds - 1);
	for (; z->sds[j]; j = (j + 1) & (z->nsds - 1)) {
		uint32_t l;
		memcpy(&l, z->sds[j] - 4, 4);
		if (l == len && !memcmp(z->sds[j], sd, len))
			return z->sds[j];
	}
	uint8_t *p = lf_arena_alloc(z->a, 4 + (size_t)len);
	if (!p)
		return NULL;
	memcpy(p, &len, 4);
	memcpy(p + 4, sd, len);
	z->used++;
	return z->sds[j] = p + 4;
}

static int freeze_index(struct lf_arena *a, struct lf_rkey *c)
{
	if (c->nsub <= LF_RKEY_SCAN && c->nval <= LF_RKEY_SCAN)
		return 0;
	struct lf_rindex x = {0};
	int rc = 0;
	if (c->nsub > LF_RKEY_SCAN)
		rc = index_table(&x.k, &x.nk, &x.builtk, c->nsub, sub_name, c);
	if (!rc && c->nval > LF_RKEY_SCAN)
		rc = index_table(&x.v, &x.nv, &x.builtv, c->nval, val_name, c);
	struct lf_rindex *y = rc ? NULL : lf_arena_alloc(a, sizeof *y);
	if (y) {
		*y = x;
		y->k = x.k ? lf_arena_dup(a, x.k, x.nk * sizeof *x.k) : NULL;
		y->v = x.v ? lf_arena_dup(a, x.v, x.nv * sizeof *x.v) : NULL;
		if ((x.k && !y->k) || (x.v && !y->v))
			y = NULL;
	}
	free(x.k);
	free(x.v);
	c->index = y;
	return y ? 0 : -ENOMEM;
}

static struct lf_rkey *freeze_key(struct freezer *z, const struct lf_rkey *k)
{
	struct lf_arena *a = z->a;
	struct lf_rkey *c = lf_arena_alloc(a, sizeof *c);
	if (!c)
		return NULL;
	*c = (struct lf_rkey){ .mtime = k->mtime, .nsub = k->nsub, .capsub = k->nsub,
			       .nval = k->nval, .capval = k->nval, .clslen = k->clslen,
			       .sdlen = k->sdlen };
	c->name = lf_arena_strdup(a, k->name);
	c->sub = k->nsub ? lf_arena_alloc(a, k->nsub * sizeof *c->sub) : NULL;
	c->val = k->nval ? lf_arena_alloc(a, k->nval * sizeof *c->val) : NULL;
	c->sd = k->sdlen ? freeze_sd(z, k->sd, k->sdlen) : NULL;
	c->cls = k->clslen ? lf_arena_dup(a, k->cls, k->clslen) : NULL;
	if (!c->name || (k->nsub && !c->sub) || (k->nval && !c->val) || (k->sdlen && !c->sd) ||
	    (k->clslen && !c->cls))
		return NULL;
	for (uint32_t i = 0; i < k->nval; i++) {
		const struct lf_rval *v = &k->val[i];
		c->val[i] = (struct lf_rval){ lf_arena_strdup(a, v->name), v->type,
					      lf_arena_dup(a, v->data ? v->data : (const uint8_t *)"",
							   v->len), v->len };
		if (!c->val[i].name || !c->val[i].data)
			return NULL;
	}
	for (uint32_t i = 0; i < k->nsub; i++)
		if (!(c->sub[i] = freeze_key(z, k->sub[i])))
			return NULL;
	if (freeze_index(a, c))
		return NULL;
	c->frozen = 1;
	return c;
}

int lf_hive_freeze(struct lf_hive *h)
{
	if (!h->root || h->root->frozen)
		return 0;
	struct lf_arena a;
	/* a hive's worth of blocks: big ones, few of them */
	lf_arena_init(&a, 64 * 1024, 4 * 1024 * 1024);
	struct freezer z = { &a, NULL, 0, 0 };
	struct lf_rkey *root = freeze_key(&z, h->root);
	free(z.sds);
	if (!root) {
		lf_arena_free(&a);
		return -ENOMEM;
	}
	lf_rkey_free(h->root);
	lf_arena_free(&h->arena);
	h->root = root;
	h->arena = a;
	/* the malloc'd tree was many small pieces: give the pages back */
	lf_heap_trim();
	return 0;
}
