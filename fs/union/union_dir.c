/* Merged folder indexes: every layer's names in one case-folded hash,
 * highest layer first. A folder merges with the folders of the same name
 * below it; anything else hides what lies below it. ".wh.NAME" hides NAME
 * in the layers below its own; ".wh..wh..opq" hides everything below. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/casefold.h"
#include "layerfs/grow.h"
#include "union_int.h"

static int grow_slots(struct nameset *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 64;
	uint32_t *slots = calloc(n, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t j = s->hashes[i] & (n - 1);
		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

int nameset_find(const struct nameset *s, const char *name)
{
	if (!s->nslots)
		return -1;
	uint64_t h = lf_casehash(name);
	for (size_t j = h & (s->nslots - 1); s->slots[j]; j = (j + 1) & (s->nslots - 1)) {
		uint32_t i = s->slots[j] - 1;
		if (s->hashes[i] == h && lf_casecmp(s->names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

/* Arrays cut to what they hold: most folders are small, and a walk keeps
 * the indexes of every folder the kernel holds. */
static void nameset_fit(struct nameset *s)
{
	size_t n = s->n ? s->n : 1, want = 8;
	while (want < s->n * 2 + 2)
		want *= 2;
	const char **names = realloc(s->names, n * sizeof *names);
	uint64_t *hashes = realloc(s->hashes, n * sizeof *hashes);
	if (names)
		s->names = names;
	if (hashes)
		s->hashes = hashes;
	if (names && hashes)
		s->cap = n;
	if (want < s->nslots) {
		size_t keep = s->nslots;
		s->nslots = want / 2;    /* grow_slots doubles it back to want */
		uint32_t *old = s->slots;
		s->slots = NULL;
		if (grow_slots(s)) {
			s->slots = old;  /* no memory to save memory: keep it */
			s->nslots = keep;
		} else {
			free(old);
		}
	}
}

int nameset_add(struct nameset *s, const char *name)
{
	if ((s->n + 1) * 2 > s->nslots && grow_slots(s))
		return -ENOMEM;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		const char **names = realloc(s->names, cap * sizeof *names);
		if (!names)
			return -ENOMEM;
		s->names = names;
		uint64_t *hashes = realloc(s->hashes, cap * sizeof *hashes);
		if (!hashes)
			return -ENOMEM;
		s->hashes = hashes;
		s->cap = cap;
	}
	uint64_t h = lf_casehash(name);
	size_t i = s->n++;
	s->names[i] = name;
	s->hashes[i] = h;
	size_t j = h & (s->nslots - 1);
	while (s->slots[j])
		j = (j + 1) & (s->nslots - 1);
	s->slots[j] = (uint32_t)i + 1;
	return (int)i;
}

void nameset_free(struct nameset *s)
{
	free(s->names);
	free(s->hashes);
	free(s->slots);
	memset(s, 0, sizeof *s);
}

/* One layer folder's entries, read before merging. */
struct listing {
	struct item { char *name; lf_ino ino; uint32_t type; } *v;
	size_t n, cap;
	int err;
};

static int collect(void *ctx, const char *name, lf_ino ino, uint32_t type)
{
	struct listing *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct item *v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			l->err = -ENOMEM;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	char *s = strdup(name);
	if (!s) {
		l->err = -ENOMEM;
		return 1;
	}
	l->v[l->n++] = (struct item){ s, ino, type };
	return 0;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

int udir_set_refs(struct uentry *e, const struct lref *refs, int nrefs)
{
	struct lref *r = malloc((size_t)nrefs * sizeof *r);
	if (!r)
		return -ENOMEM;
	memcpy(r, refs, (size_t)nrefs * sizeof *r);
	if (e->own_refs)
		free(e->refs);
	e->refs = r;
	e->own_refs = 1;
	e->nrefs = (uint16_t)nrefs;
	return 0;
}

static int add_entry(struct udir *d, struct item *it, uint16_t layer)
{
	/* the name set borrows the names, which do not move */
	if (lf_grow(&d->v, &d->cap, d->n, sizeof *d->v, 8))
		return -ENOMEM;
	struct uentry *e = &d->v[d->n];
	size_t len = strlen(it->name) + 1;
	e->refs = lf_arena_alloc(&d->blocks, sizeof *e->refs);
	e->name = e->refs ? lf_arena_alloc(&d->blocks, len) : NULL;
	if (!e->name)
		return -ENOMEM;
	memcpy(e->name, it->name, len);
	e->own_name = e->own_refs = 0;
	e->type = it->type;
	e->gone = 0;
	e->ino = 0;
	e->closed = !S_ISDIR(it->type);
	e->spelled = 0;
	e->spell_layer = layer;
	e->nrefs = 1;
	e->refs[0] = (struct lref){ layer, it->ino };
	d->n++;
	return nameset_add(&d->index, e->name) < 0 ? -ENOMEM : 0;
}

/* Entry at (index `at`) is also in a layer below, as it->name. Windows
 * keeps the spelling of whoever made a folder (or file) first, so the
 * lowest layer of the run that shows it spells it: a folder merging with
 * the ones below, a file replacing files; a change of type ends the run
 * (a token or an opaque folder ended it before it got here). */
static int respell(struct udir *d, int at, struct uentry *e, const struct item *it,
		   uint16_t layer)
{
	if (e->spelled)
		return 0;
	if (!S_ISDIR(e->type) != !S_ISDIR(it->type)) {
		e->spelled = 1;
		return 0;
	}
	e->spell_layer = layer;
	if (!strcmp(e->name, it->name))
		return 0;
	size_t len = strlen(it->name) + 1;
	char *name = lf_arena_alloc(&d->blocks, len);
	if (!name)
		return -ENOMEM;
	memcpy(name, it->name, len);
	e->name = name;
	d->index.names[at] = name;   /* same name folded: its hash holds */
	return 0;
}

static int merge_below(struct udir *d, int at, struct uentry *e, const struct item *it,
		       uint16_t layer)
{
	int rc = respell(d, at, e, it, layer);
	if (rc || e->closed)
		return rc;
	if (!S_ISDIR(it->type)) {
		/* a non-folder here cuts off everything lower */
		e->closed = 1;
		return 0;
	}
	/* the old array stays in the block: folders in several layers are few */
	struct lref *r = lf_arena_alloc(&d->blocks, (e->nrefs + 1u) * sizeof *r);
	if (!r)
		return -ENOMEM;
	memcpy(r, e->refs, e->nrefs * sizeof *r);
	e->refs = r;
	e->refs[e->nrefs++] = (struct lref){ layer, it->ino };
	return 0;
}

int udir_build(struct lf_union *u, const struct lref *refs, int nrefs,
	       struct udir **out)
{
	struct udir *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	/* blocks grow with the folder: few of them for a big one */
	lf_arena_init(&d->blocks, 256, 256 * 1024);
	/* Names hidden from the layers still to come, and the strings they
	 * point into (kept until the end of the build). */
	struct nameset hidden = {0};
	char **held = NULL;
	size_t nheld = 0;
	int rc = 0;
	for (int r = 0; r < nrefs && !rc; r++) {
		struct lf_layer *l = union_layer(u, refs[r].layer);
		struct listing ls = {0};
		rc = l->ops->readdir(l, refs[r].ino, collect, &ls);
		if (!rc)
			rc = ls.err;
		if (rc) {
			union_log(u, "%s: cannot read a folder (node %llu): %s", l->path,
				  (unsigned long long)refs[r].ino, strerror(-rc));
			listing_free(&ls);
			break;
		}
		int opaque = 0;
		size_t first_token = nheld;
		for (size_t i = 0; i < ls.n && !rc; i++) {
			struct item *it = &ls.v[i];
			if (!strcmp(it->name, LF_OPAQUE_NAME)) {
				opaque = 1;
				continue;
			}
			if (!strncmp(it->name, LF_WHITEOUT_PREFIX, strlen(LF_WHITEOUT_PREFIX))) {
				/* applies below this layer only: collected, added after */
				char **h = realloc(held, (nheld + 1) * sizeof *h);
				if (!h) {
					rc = -ENOMEM;
					break;
				}
				held = h;
				held[nheld++] = it->name;
				it->name = NULL;
				continue;
			}
			if (nameset_find(&hidden, it->name) >= 0)
				continue;
			if (!it->type) {
				struct lf_attr a;
				if (l->ops->getattr(l, it->ino, &a) == 0)
					it->type = a.mode & S_IFMT;
			}
			int at = nameset_find(&d->index, it->name);
			rc = at < 0 ? add_entry(d, it, refs[r].layer)
				    : merge_below(d, at, &d->v[at], it, refs[r].layer);
		}
		for (size_t t = first_token; t < nheld && !rc; t++)
			if (nameset_add(&hidden, held[t] + strlen(LF_WHITEOUT_PREFIX)) < 0)
				rc = -ENOMEM;
		listing_free(&ls);
		d->nused = r + 1;
		if (opaque)
			break;
	}
	nameset_free(&hidden);
	for (size_t i = 0; i < nheld; i++)
		free(held[i]);
	free(held);
	if (rc) {
		udir_free(d);
		return rc;
	}
	for (size_t i = 0; i < d->n; i++)
		d->v[i].ino = union_entry_ino(u, d->v[i].refs[0]);
	struct uentry *v = realloc(d->v, (d->n ? d->n : 1) * sizeof *v);
	if (v) {
		d->v = v;
		d->cap = d->n ? d->n : 1;
	}
	nameset_fit(&d->index);
	*out = d;
	return 0;
}

struct uentry *udir_find(const struct udir *d, const char *name)
{
	int i = nameset_find(&d->index, name);
	return i < 0 || d->v[i].gone ? NULL : &d->v[i];
}

int udir_put(struct udir *d, const char *name, uint32_t type, const struct lref *refs,
	     int nrefs, uint64_t ino)
{
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	int i = nameset_find(&d->index, name);
	if (i < 0) {
		struct item it = { copy, 0, type };
		int rc = add_entry(d, &it, refs[0].layer);
		if (rc) {
			free(copy);
			return rc;
		}
		i = (int)d->n - 1;
	}
	struct uentry *e = &d->v[i];
	if (udir_set_refs(e, refs, nrefs)) {
		free(copy);
		return -ENOMEM;
	}
	/* Changes through the mount own their memory: a folder changed all
	 * day must not grow its blocks. */
	if (e->own_name)
		free(e->name);
	e->name = copy;
	e->own_name = 1;
	d->index.names[i] = copy;   /* same name ignoring case: same hash */
	e->type = type;
	e->ino = ino;
	e->gone = 0;
	e->closed = 1;
	e->spelled = 1;          /* made through the mount: as its maker spelt it */
	e->spell_layer = refs[0].layer;
	return 0;
}

void udir_free(struct udir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].own_name)
			free(d->v[i].name);
		if (d->v[i].own_refs)
			free(d->v[i].refs);
	}
	lf_arena_free(&d->blocks);
	free(d->v);
	nameset_free(&d->index);
	free(d);
}
