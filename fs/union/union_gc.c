/* Sweeps of the layers' node tables. A folder layer remembers every name
 * it gave a number to, since the union's node numbers are built from
 * them; after a walk of a Windows tree that is 170,000 names held for
 * the life of the mount. When the kernel has forgotten most of a walk
 * (frees stop: the heap trimmer asks), the union names every layer
 * number it still holds (its nodes, the folder indexes they keep, the
 * numbers copy-ups and hard links kept, merged files) and the layer
 * forgets the rest. Only layers the union opened itself are swept: a
 * layer layerd shares between sessions is held by all of them. */
#include <stdlib.h>
#include <time.h>

#include "layerfs/heap.h"
#include "union_int.h"
#include "layerfs/lockcheck.h"

#define GC_SLACK 8192            /* layer numbers worth a sweep */

static int sweeps(const struct lf_union *u, int i)
{
	return u->layers[i]->ops->gc_sweep && (!u->opts.open_layer || (u->upper && i == 0));
}

static void mark_ref(struct lf_union *u, struct lref r)
{
	if (r.layer < u->n && sweeps(u, r.layer))
		u->layers[r.layer]->ops->gc_mark(u->layers[r.layer], r.ino);
}

static void mark_ino(struct lf_union *u, uint64_t ino)
{
	uint64_t slot = ino >> INO_LAYER_SHIFT;
	for (int i = 0; slot && i < u->n; i++)
		if (u->slot[i] + 1u == slot) {
			mark_ref(u, (struct lref){ (uint16_t)i, ino & INO_MASK });
			return;
		}
}

static void mark_node(struct lf_union *u, const struct unode *n)
{
	for (int k = 0; k < n->nrefs; k++)
		mark_ref(u, n->refs[k]);
	mark_ino(u, n->ino);
	const struct udir *d = n->dir;
	for (size_t i = 0; d && i < d->n; i++) {
		const struct uentry *e = &d->v[i];
		for (int k = 0; k < e->nrefs; k++)
			mark_ref(u, e->refs[k]);
		mark_ino(u, e->ino);
	}
}

static size_t layer_numbers(struct lf_union *u)
{
	size_t total = 0;
	for (int i = 0; i < u->n; i++)
		if (sweeps(u, i))
			total += u->layers[i]->ops->gc_count(u->layers[i]);
	return total;
}

static size_t nodes_held(struct lf_union *u)
{
	size_t n = 0;
	for (int i = 0; i < NSHARDS; i++) {
		lf_mutex_lock(&u->shards[i].lock, LF_LK_LEAF);
		n += u->shards[i].count;
		lf_mutex_unlock(&u->shards[i].lock);
	}
	return n;
}

/* With cfg write-locked: no call runs. */
static size_t sweep(struct lf_union *u)
{
	struct unode **nodes = NULL;
	size_t nn = union_all_nodes(u, &nodes);
	if (nn == (size_t)-1)
		return 0;            /* no memory to list them: nothing forgotten */
	union_prefetch_pause(u);     /* what it built ahead holds numbers too */
	for (size_t i = 0; i < nn; i++)
		mark_node(u, nodes[i]);
	free(nodes);
	alias_each(u, mark_ino);
	merged_each(u, mark_ino);
	size_t kept = 0;
	for (int i = 0; i < u->n; i++)
		if (sweeps(u, i))
			kept += u->layers[i]->ops->gc_sweep(u->layers[i]);
	union_prefetch_resume(u);
	u->gc_kept = kept;
	u->gc_held = nn;
	return kept;
}

size_t lf_union_sweep(struct lf_union *u)
{
	lf_wrlock(&u->cfg, LF_LK_UNION_CFG);
	size_t kept = sweep(u);
	lf_rwunlock(&u->cfg);
	return kept;
}

/* The trimmer's call: a sweep when at least half of the layers' numbers
 * would go, and something changed since the last one (a walk grew the
 * tables, or the kernel forgot much of what it held). */
static void reclaim(void *arg)
{
	struct lf_union *u = arg;
	if (lf_tryrdlock(&u->cfg, LF_LK_UNION_CFG))
		return;              /* a new layer set is being made */
	size_t have = layer_numbers(u), held = nodes_held(u);
	int worth = have > 2 * held + GC_SLACK
		&& (have > u->gc_kept + GC_SLACK || held < u->gc_held / 2);
	lf_rwunlock(&u->cfg);
	if (!worth)
		return;
	/* calls in progress finish first; under steady load it waits for the
	 * next quiet moment rather than stall the mount */
	for (int tries = 0; tries < 100; tries++) {
		if (lf_trywrlock(&u->cfg, LF_LK_UNION_CFG) == 0) {
			sweep(u);
			lf_rwunlock(&u->cfg);
			return;
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	}
}

void union_gc_start(struct lf_union *u)
{
	lf_heap_reclaimer_add(reclaim, u);   /* without memory: no sweeps */
}

void union_gc_stop(struct lf_union *u)
{
	lf_heap_reclaimer_remove(reclaim, u);
}
