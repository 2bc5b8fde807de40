/* The `dir` backend's node table: the (parent, name) pairs it has seen,
 * by number. Numbers are given in order and never again, so a number
 * the table forgot is stale (ESTALE), never another file. The table lives
 * in chunks of numbers: when the union says which nodes it still uses
 * (gc_mark, gc_sweep), the rest are forgotten and chunks left empty are
 * freed; without that a walk of a Windows tree would keep every name it
 * ever saw for the life of the mount. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layer_dir_int.h"
#include "layerfs/lockcheck.h"

static const char root_name[] = "";

static uint64_t key_hash(lf_ino parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ parent;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

static uint64_t node_hash(const struct dnode *n)
{
	return key_hash(n->parent, n->name);
}

struct dnode *dirl_node(const struct dir_layer *d, lf_ino ino)
{
	if (ino == 0 || ino >= d->next)
		return NULL;
	struct dchunk *c = d->chunks[ino >> DCHUNK_SHIFT];
	if (!c)
		return NULL;
	struct dnode *n = &c->v[ino & (DCHUNK - 1)];
	return n->name ? n : NULL;
}

/* A node known to be in the table. */
static struct dnode *N(const struct dir_layer *d, lf_ino ino)
{
	return &d->chunks[ino >> DCHUNK_SHIFT]->v[ino & (DCHUNK - 1)];
}

static void slot_put(lf_ino *slots, size_t nslots, uint64_t h, lf_ino ino)
{
	size_t j = h & (nslots - 1);
	while (slots[j])
		j = (j + 1) & (nslots - 1);
	slots[j] = ino;
}

static size_t pow2_for(size_t n)
{
	size_t s = 1024;
	while (s < n * 2)
		s *= 2;
	return s;
}

/* Every hashed node into a new table of slots, sized for want nodes. */
static int rebuild_slots(struct dir_layer *d, size_t want)
{
	size_t n = pow2_for(want);
	lf_ino *s = calloc(n, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (size_t c = 0; c * DCHUNK < d->next; c++) {
		struct dchunk *ch = d->chunks[c];
		for (size_t i = 0; ch && i < DCHUNK; i++)
			if (ch->v[i].name && ch->v[i].hashed)
				slot_put(s, n, node_hash(&ch->v[i]), c * DCHUNK + i);
	}
	free(d->slots);
	d->slots = s;
	d->nslots = n;
	return 0;
}

static uint64_t ino_hash(uint64_t hino)
{
	return hino * 0x9E3779B97F4A7C15ull >> 16;
}

static int rebuild_islots(struct dir_layer *d, size_t want)
{
	size_t n = pow2_for(want);
	lf_ino *s = calloc(n, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < d->nislots; i++)
		if (d->islots[i])
			slot_put(s, n, ino_hash(N(d, d->islots[i])->hino), d->islots[i]);
	free(d->islots);
	d->islots = s;
	d->nislots = n;
	return 0;
}

static lf_ino find_hino(const struct dir_layer *d, uint64_t hino)
{
	if (!d->nislots)
		return 0;
	for (size_t j = ino_hash(hino) & (d->nislots - 1); d->islots[j];
	     j = (j + 1) & (d->nislots - 1))
		if (N(d, d->islots[j])->hino == hino)
			return d->islots[j];
	return 0;
}

/* Remember node ino as host inode hino's (a failure only costs sharing). */
static void add_hino(struct dir_layer *d, lf_ino ino, uint64_t hino)
{
	if ((d->nlinked + 1) * 2 > d->nislots && rebuild_islots(d, d->nlinked + 1))
		return;
	slot_put(d->islots, d->nislots, ino_hash(hino), ino);
	N(d, ino)->hino = hino;
	d->nlinked++;
}

/* Take slot i out of an open-addressing table, keeping every probe chain
 * unbroken (backward-shift deletion). */
static void slot_delete(lf_ino *slots, size_t nslots, size_t i,
			uint64_t (*home)(const struct dir_layer *, lf_ino),
			const struct dir_layer *d)
{
	size_t mask = nslots - 1;
	for (size_t j = (i + 1) & mask; slots[j]; j = (j + 1) & mask) {
		size_t h = home(d, slots[j]) & mask;
		if (((j - h) & mask) >= ((j - i) & mask)) {
			slots[i] = slots[j];
			i = j;
		}
	}
	slots[i] = 0;
}

static uint64_t name_home(const struct dir_layer *d, lf_ino ino)
{
	return node_hash(N(d, ino));
}

static uint64_t hino_home(const struct dir_layer *d, lf_ino ino)
{
	return ino_hash(N(d, ino)->hino);
}

/* Forget node ino's host inode (a writable layer's file is gone). */
static void del_hino(struct dir_layer *d, lf_ino ino)
{
	uint64_t hino = N(d, ino)->hino;
	if (!hino || !d->nislots)
		return;
	size_t mask = d->nislots - 1, i = ino_hash(hino) & mask;
	while (d->islots[i] && d->islots[i] != ino)
		i = (i + 1) & mask;
	if (!d->islots[i])
		return;
	slot_delete(d->islots, d->nislots, i, hino_home, d);
	N(d, ino)->hino = 0;
	d->nlinked--;
}

static lf_ino node_of(const struct dir_layer *d, lf_ino x)
{
	return N(d, x)->same_as ? N(d, x)->same_as : x;
}

lf_ino dirl_find(const struct dir_layer *d, lf_ino parent, const char *name, int raw)
{
	if (!d->nslots)
		return 0;
	for (size_t j = key_hash(parent, name) & (d->nslots - 1); d->slots[j];
	     j = (j + 1) & (d->nslots - 1)) {
		const struct dnode *n = N(d, d->slots[j]);
		if (n->parent == parent && !strcmp(n->name, name))
			return raw ? d->slots[j] : node_of(d, d->slots[j]);
	}
	return 0;
}

void dirl_unhash(struct dir_layer *d, lf_ino ino)
{
	struct dnode *x = N(d, ino);
	if (!x->hashed || !d->nslots)
		return;
	size_t mask = d->nslots - 1, i = node_hash(x) & mask;
	while (d->slots[i] != ino)
		i = (i + 1) & mask;
	slot_delete(d->slots, d->nslots, i, name_home, d);
	x->hashed = 0;
}

void dirl_drop(struct dir_layer *d, lf_ino ino)
{
	dirl_unhash(d, ino);
	del_hino(d, ino);
	struct dnode *n = N(d, ino);
	n->parent = 0;
	if (n->fd >= 0) {
		close(n->fd);
		n->fd = -1;
		d->nfds--;
	}
}

void dirl_forget(struct dir_layer *d, lf_ino parent, const char *name)
{
	lf_ino x = dirl_find(d, parent, name, 1);
	if (!x)
		return;
	struct dnode *n = N(d, x);
	if (n->same_as) {
		/* an alias: out of its node's chain */
		lf_ino *p = &N(d, n->same_as)->next_name;
		while (*p && *p != x)
			p = &N(d, *p)->next_name;
		if (*p)
			*p = n->next_name;
		dirl_unhash(d, x);
		n->parent = 0;
		n->same_as = n->next_name = 0;
		return;
	}
	lf_ino a = n->next_name;
	if (!a) {
		dirl_drop(d, x);
		return;
	}
	/* the node lives on under its first alias's name */
	struct dnode *al = N(d, a);
	char keep[NAME_MAX + 1];
	snprintf(keep, sizeof keep, "%s", al->name);
	lf_ino ap = al->parent;
	n->next_name = al->next_name;
	dirl_unhash(d, a);
	al->parent = 0;
	al->same_as = al->next_name = 0;
	if (dirl_rehash(d, x, ap, keep))
		dirl_unhash(d, x);       /* out of memory: unfindable, as before */
}

/* A new number, its chunk made if need be; 0 when out of memory. */
static lf_ino new_number(struct dir_layer *d)
{
	lf_ino ino = d->next;
	size_t c = ino >> DCHUNK_SHIFT;
	if (c >= d->nchunks) {
		size_t n = d->nchunks ? d->nchunks * 2 : 16;
		struct dchunk **v = realloc(d->chunks, n * sizeof *v);
		if (!v)
			return 0;
		memset(v + d->nchunks, 0, (n - d->nchunks) * sizeof *v);
		d->chunks = v;
		d->nchunks = n;
	}
	if (!d->chunks[c] && !(d->chunks[c] = calloc(1, sizeof *d->chunks[c])))
		return 0;
	d->next++;
	return ino;
}

static void node_init(struct dir_layer *d, lf_ino ino, lf_ino parent, char *name)
{
	*N(d, ino) = (struct dnode){ .parent = parent, .name = name, .fd = -1 };
	d->chunks[ino >> DCHUNK_SHIFT]->used++;
	d->nlive++;
}

lf_ino dirl_intern(struct dir_layer *d, lf_ino parent, const char *name, uint64_t hino,
		   uint32_t nlink)
{
	lf_ino have = dirl_find(d, parent, name, 0);
	if (have)
		return have;
	lf_ino same = hino ? find_hino(d, hino) : 0;
	if (same && !d->writable)
		return same;     /* another name of a file we know: its node */
	if (same && nlink == 1) {
		/* A file of one name is no other name of a node we know: that
		 * node's file was replaced or deleted beside the layer (regfs
		 * saves a hive by rename), and the host gave its inode number
		 * to this new file. Sharing would show the old file's bytes
		 * under this name. The record is stale. */
		del_hino(d, same);
		same = 0;
	} else if (same && nlink == 0) {
		same = hino = 0; /* not known (a listing): never shared on a guess */
	}
	if ((d->nlive + 1) * 2 > d->nslots && rebuild_slots(d, d->nlive + 1))
		return 0;
	char *copy = lf_arena_strdup(&d->names, name);
	lf_ino ino = copy ? new_number(d) : 0;
	if (!ino)
		return 0;
	node_init(d, ino, parent, copy);
	struct dnode *n = N(d, ino);
	slot_put(d->slots, d->nslots, key_hash(parent, name), ino);
	n->hashed = 1;
	if (same) {
		/* a writable layer keeps every name, so that the file stays
		 * reachable when its first name goes */
		n->same_as = same;
		n->next_name = N(d, same)->next_name;
		N(d, same)->next_name = ino;
		return same;
	}
	if (hino)
		add_hino(d, ino, hino);
	return ino;
}

int dirl_rehash(struct dir_layer *d, lf_ino ino, lf_ino parent, const char *name)
{
	/* the old name stays in its block until the next sweep */
	char *copy = lf_arena_strdup(&d->names, name);
	if (!copy || ((d->nlive + 1) * 2 > d->nslots && rebuild_slots(d, d->nlive + 1)))
		return -ENOMEM;
	dirl_unhash(d, ino);
	struct dnode *x = N(d, ino);
	x->name = copy;
	x->parent = parent;
	slot_put(d->slots, d->nslots, key_hash(parent, name), ino);
	x->hashed = 1;
	return 0;
}

int dirl_nodes_init(struct dir_layer *d)
{
	lf_arena_init(&d->names, 65536 - 32, 65536 - 32);
	d->next = DIR_ROOT;
	if (new_number(d) != DIR_ROOT)
		return -ENOMEM;
	node_init(d, DIR_ROOT, 0, (char *)root_name);
	return 0;
}

void dirl_nodes_free(struct dir_layer *d)
{
	for (size_t c = 0; c < d->nchunks; c++) {
		struct dchunk *ch = d->chunks[c];
		for (size_t i = 0; ch && i < DCHUNK; i++)
			if (ch->v[i].name && ch->v[i].fd >= 0)
				close(ch->v[i].fd);
		free(ch);
	}
	free(d->chunks);
	lf_arena_free(&d->names);
	free(d->slots);
	free(d->islots);
}

/* --- forgetting what no one uses --- */

void dirl_gc_mark(struct lf_layer *l, lf_ino ino)
{
	struct dir_layer *d = DL(l);
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	struct dnode *n = dirl_node(d, ino);
	if (n)
		n->mark = 1;
	lf_mutex_unlock(&d->lock);
}

/* Keep node x and the folders above it (reaching it goes through them). */
static void keep_up(struct dir_layer *d, lf_ino x)
{
	for (struct dnode *n; x && (n = dirl_node(d, x)) && !n->kept; x = n->parent)
		n->kept = 1;
}

/* Keep node x, and every name of its file: a writable layer's hard links
 * are one node under several names, any of which may be the one left. */
static void mark_kept(struct dir_layer *d, lf_ino x)
{
	keep_up(d, x);
	lf_ino head = node_of(d, x);
	keep_up(d, head);
	for (lf_ino a = N(d, head)->next_name; a && dirl_node(d, a); a = N(d, a)->next_name)
		keep_up(d, a);
}

size_t dirl_gc_sweep(struct lf_layer *l)
{
	struct dir_layer *d = DL(l);
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	mark_kept(d, DIR_ROOT);
	if (l->work)
		mark_kept(d, l->work);
	for (size_t c = 0; c < d->nchunks; c++) {
		struct dchunk *ch = d->chunks[c];
		for (size_t i = 0; ch && i < DCHUNK; i++)
			if (ch->v[i].name && ch->v[i].mark)
				mark_kept(d, c * DCHUNK + i);
	}
	/* survivors' names into new blocks: the old ones hold every name
	 * the walk saw */
	struct lf_arena names;
	lf_arena_init(&names, 4096, 65536 - 32);
	size_t links = 0;
	int nomem = 0;
	for (size_t c = 0; c < d->nchunks; c++) {
		struct dchunk *ch = d->chunks[c];
		for (size_t i = 0; ch && i < DCHUNK; i++) {
			struct dnode *n = &ch->v[i];
			if (!n->name)
				continue;
			if (!n->kept) {
				if (n->fd >= 0) {
					close(n->fd);
					d->nfds--;
				}
				*n = (struct dnode){ .fd = -1 };
				ch->used--;
				d->nlive--;
				continue;
			}
			n->kept = n->mark = 0;
			links += n->hino != 0;
			if (n->name != root_name && !nomem) {
				char *copy = lf_arena_strdup(&names, n->name);
				if (copy)
					n->name = copy;
				else
					nomem = 1;
			}
		}
		if (ch && ch->used == 0) {
			free(ch);
			d->chunks[c] = NULL;
		}
	}
	if (nomem) {
		lf_arena_free(&names);   /* some names still point into the old blocks */
	} else {
		lf_arena_free(&d->names);
		d->names = names;
	}
	/* the tables, sized for what is left (a failure keeps the old ones,
	 * whose stale slots must go: rebuild them in place) */
	if (rebuild_slots(d, d->nlive) < 0) {
		memset(d->slots, 0, d->nslots * sizeof *d->slots);
		for (size_t c = 0; c * DCHUNK < d->next; c++)
			for (size_t i = 0; d->chunks[c] && i < DCHUNK; i++)
				if (d->chunks[c]->v[i].name && d->chunks[c]->v[i].hashed)
					slot_put(d->slots, d->nslots, node_hash(&d->chunks[c]->v[i]),
						 c * DCHUNK + i);
	}
	size_t old_n = d->nislots;
	lf_ino *old = d->islots;
	d->islots = NULL;
	d->nislots = 0;
	d->nlinked = 0;
	if (links && rebuild_islots(d, links) == 0)
		for (size_t i = 0; i < old_n; i++)
			if (old[i] && dirl_node(d, old[i])) {
				slot_put(d->islots, d->nislots, ino_hash(N(d, old[i])->hino), old[i]);
				d->nlinked++;
			}
	free(old);
	size_t live = d->nlive;
	lf_mutex_unlock(&d->lock);
	return live;
}

size_t dirl_gc_count(struct lf_layer *l)
{
	struct dir_layer *d = DL(l);
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	size_t n = d->nlive;
	lf_mutex_unlock(&d->lock);
	return n;
}
