/* Node numbers that outlive a copy-up. A node's number comes from the
 * layer node that provides it; when the writable layer takes a node over
 * (copy-up, a hard link), the node keeps the number it had, and this map
 * says so whenever its folder's index is built again. And the link counts
 * of hard-linked lower files as names of them stop showing: a layer's
 * count knows nothing of tokens and copies above it. */
#include <errno.h>
#include <stdlib.h>

#include "union_int.h"
#include "layerfs/lockcheck.h"

struct alias {
	struct slot { lf_ino upper; uint64_t ino; } *v;
	size_t n, cap;           /* cap: a power of two, or 0 */
};

struct links {
	struct linkrec { uint64_t ino; uint32_t nlink, shadowed; } *v;
	size_t n, cap;           /* cap: a power of two, or 0 */
};

static size_t home(lf_ino k, size_t cap)
{
	return (size_t)(k * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1);
}

static int grow(struct alias *a)
{
	size_t cap = a->cap ? a->cap * 2 : 64;
	struct slot *v = calloc(cap, sizeof *v);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap; i++) {
		if (!a->v[i].upper)
			continue;
		size_t j = home(a->v[i].upper, cap);
		while (v[j].upper)
			j = (j + 1) & (cap - 1);
		v[j] = a->v[i];
	}
	free(a->v);
	a->v = v;
	a->cap = cap;
	return 0;
}

int alias_add(struct lf_union *u, lf_ino upper, uint64_t ino)
{
	if (ino == union_make_ino(u, (struct lref){ 0, upper }))
		return 0;        /* its own number: nothing to remember */
	lf_mutex_lock(&u->alias_lock, LF_LK_UNION_MAPS);
	int rc = 0;
	if (!u->alias && !(u->alias = calloc(1, sizeof *u->alias)))
		rc = -ENOMEM;
	struct alias *a = u->alias;
	if (!rc && (a->n + 1) * 2 > a->cap)
		rc = grow(a);
	if (!rc) {
		size_t j = home(upper, a->cap);
		while (a->v[j].upper && a->v[j].upper != upper)
			j = (j + 1) & (a->cap - 1);
		if (!a->v[j].upper)
			a->n++;
		a->v[j] = (struct slot){ upper, ino };
	}
	lf_mutex_unlock(&u->alias_lock);
	return rc;
}

uint64_t union_entry_ino(struct lf_union *u, struct lref r)
{
	uint64_t ino = union_make_ino(u, r);
	if (r.layer != 0 || !u->upper)
		return ino;
	lf_mutex_lock(&u->alias_lock, LF_LK_UNION_MAPS);
	struct alias *a = u->alias;
	if (a && a->cap) {
		for (size_t j = home(r.ino, a->cap); a->v[j].upper; j = (j + 1) & (a->cap - 1)) {
			if (a->v[j].upper == r.ino) {
				ino = a->v[j].ino;
				break;
			}
		}
	}
	lf_mutex_unlock(&u->alias_lock);
	return ino;
}

void alias_free(struct lf_union *u)
{
	if (u->alias)
		free(u->alias->v);
	free(u->alias);
	u->alias = NULL;
	if (u->links)
		free(u->links->v);
	free(u->links);
	u->links = NULL;
}

static struct linkrec *links_find(struct links *l, uint64_t ino)
{
	if (!l || !l->cap)
		return NULL;
	for (size_t j = home(ino, l->cap); l->v[j].ino; j = (j + 1) & (l->cap - 1))
		if (l->v[j].ino == ino)
			return &l->v[j];
	return NULL;
}

static int links_grow(struct links *l)
{
	size_t cap = l->cap ? l->cap * 2 : 16;
	struct linkrec *v = calloc(cap, sizeof *v);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < l->cap; i++) {
		if (!l->v[i].ino)
			continue;
		size_t j = home(l->v[i].ino, cap);
		while (v[j].ino)
			j = (j + 1) & (cap - 1);
		v[j] = l->v[i];
	}
	free(l->v);
	l->v = v;
	l->cap = cap;
	return 0;
}

void links_shadow(struct lf_union *u, uint64_t ino, uint32_t layer_nlink)
{
	lf_mutex_lock(&u->alias_lock, LF_LK_UNION_MAPS);
	struct linkrec *r = links_find(u->links, ino);
	if (!r && layer_nlink > 1) {
		if (!u->links)
			u->links = calloc(1, sizeof *u->links);
		struct links *l = u->links;
		if (l && ((l->n + 1) * 2 <= l->cap || links_grow(l) == 0)) {
			size_t j = home(ino, l->cap);
			while (l->v[j].ino)
				j = (j + 1) & (l->cap - 1);
			r = &l->v[j];
			*r = (struct linkrec){ ino, layer_nlink, 0 };
			l->n++;
		}
	}
	/* out of memory: the count stays the layer's, as before */
	if (r && r->shadowed < r->nlink)
		r->shadowed++;
	lf_mutex_unlock(&u->alias_lock);
}

int links_visible(struct lf_union *u, uint64_t ino, uint32_t *visible)
{
	if (!u->links)
		return 0;
	lf_mutex_lock(&u->alias_lock, LF_LK_UNION_MAPS);
	struct linkrec *r = links_find(u->links, ino);
	if (r)
		*visible = r->nlink - r->shadowed;
	lf_mutex_unlock(&u->alias_lock);
	return r != NULL;
}

void alias_each(struct lf_union *u, void (*fn)(struct lf_union *u, uint64_t ino))
{
	lf_mutex_lock(&u->alias_lock, LF_LK_UNION_MAPS);
	struct alias *a = u->alias;
	for (size_t j = 0; a && j < a->cap; j++)
		if (a->v[j].upper) {
			fn(u, union_make_ino(u, (struct lref){ 0, a->v[j].upper }));
			fn(u, a->v[j].ino);
		}
	struct links *l = u->links;
	for (size_t j = 0; l && j < l->cap; j++)
		if (l->v[j].ino)
			fn(u, l->v[j].ino);
	lf_mutex_unlock(&u->alias_lock);
}
