/* Folder indexes kept for the folders used last. A walk builds the index
 * of every folder and the kernel keeps those folders for long; an index
 * costs ~100 bytes a name, a node less than twice that, so without a
 * bound a session's memory would be the whole tree's. An index is let go
 * only when building it again gives the same answers: no change made
 * through the mount in it (those keep slots and numbers the layers alone
 * would not give) and no "no such name" told to the kernel from it (the
 * kernel may keep that answer, and a new layer set could only correct it
 * by comparing with the old index). */
#include <stdlib.h>

#include "union_int.h"
#include "layerfs/lockcheck.h"

#define DIR_KEEP 4096            /* folder indexes kept at least */

static int rebuilds_same(struct lf_union *u, const struct udir *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct uentry *e = &d->v[i];
		if (e->gone || e->own_name || e->own_refs || e->ino != union_entry_ino(u, e->refs[0]))
			return 0;
	}
	return 1;
}

static void let_go(struct lf_union *u, uint64_t ino)
{
	struct unode *n = node_get(u, ino);
	if (!n)
		return;
	/* never wait on another node's lock while holding one: skipped, the
	 * index stays (this bounds memory, not what is right) */
	if (node_trylock(n) == 0) {
		if (n->dir && !n->negative && rebuilds_same(u, n->dir)) {
			udir_free(n->dir);
			n->dir = NULL;
		}
		node_unlock(n);
	}
	node_put(u, n, 0);
}

void dirkeep_built(struct lf_union *u, struct unode *n)
{
	lf_mutex_lock(&u->keep_lock, LF_LK_LEAF);
	if (!u->keep)
		u->keep = calloc(DIR_KEEP, sizeof *u->keep);
	uint64_t old = 0;
	if (u->keep) {
		old = u->keep[u->keep_at];
		u->keep[u->keep_at] = n->ino;
		u->keep_at = (u->keep_at + 1) % DIR_KEEP;
	}
	lf_mutex_unlock(&u->keep_lock);
	if (old && old != n->ino)
		let_go(u, old);
}
