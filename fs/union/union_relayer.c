/* A new set of read-only layers for a running union (an app layer added
 * to or taken from a user's session), made in place: no call runs while
 * it happens (the layer-set lock), and afterwards every node the kernel
 * holds is what its path now is in the new stack, under the number it
 * had. Layers in both sets keep their slots, so the numbers of their
 * nodes stay; a node whose path no layer has any more is stale. The
 * kernel is then told what to forget, after the lock is dropped (telling
 * it can wait on calls that wait on the lock). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "union_int.h"
#include "layerfs/lockcheck.h"

struct inval {
	uint64_t ino;
	char *name;              /* NULL: the node's data, attributes, listing */
};

struct invals {
	struct inval *v;
	size_t n, cap;
};

static void want(struct invals *iv, uint64_t ino, const char *name)
{
	if (iv->n == iv->cap) {
		size_t cap = iv->cap ? iv->cap * 2 : 256;
		struct inval *v = realloc(iv->v, cap * sizeof *v);
		if (!v)
			return;      /* the kernel keeps a stale cache entry until it expires */
		iv->v = v;
		iv->cap = cap;
	}
	iv->v[iv->n].ino = ino;
	iv->v[iv->n].name = name ? strdup(name) : NULL;
	if (!name || iv->v[iv->n].name)
		iv->n++;
}

/* The new layer arrays, reusing the layers both sets have. */
struct newset {
	struct lf_layer **layers;
	struct lf_layer_spec *specs;
	uint16_t *slot;
	int n;                   /* the set */
	int nall;                /* and the layers detached behind it */
	int *old_to_new;         /* by old index; -1: taken out */
	int *opened;             /* by new index: opened here */
};

static int open_set(struct lf_union *u, const struct lf_stack *s, struct newset *ns,
		    struct lf_err *err)
{
	int up = u->upper;
	ns->n = ns->nall = s->n + up;
	/* room for every old layer behind the set too (detach_rest) */
	size_t cap = (size_t)(ns->n + u->nall - up);
	ns->layers = calloc(cap, sizeof *ns->layers);
	ns->specs = calloc(cap, sizeof *ns->specs);
	ns->slot = calloc(cap, sizeof *ns->slot);
	ns->opened = calloc(cap, sizeof *ns->opened);
	ns->old_to_new = malloc((size_t)u->nall * sizeof *ns->old_to_new);
	if (!ns->layers || !ns->specs || !ns->slot || !ns->opened || !ns->old_to_new)
		return lf_err_set(err, ENOMEM, "out of memory");
	for (int j = 0; j < u->nall; j++)
		ns->old_to_new[j] = -1;
	if (up) {
		ns->layers[0] = u->layers[0];
		ns->slot[0] = u->slot[0];
		ns->old_to_new[0] = 0;
	}
	struct lf_layer_opts lo = { .source = { .parents = s->parents, .nparents = s->nparents } };
	for (int i = 0; i < s->n; i++) {
		const struct lf_layer_spec *sp = &s->v[i];
		int k = up + i, j = up;
		while (j < u->n && (ns->old_to_new[j] >= 0 || strcmp(u->specs[j].path, sp->path)))
			j++;
		ns->specs[k] = *sp;
		ns->specs[k].path = strdup(sp->path);
		ns->specs[k].name = strdup(sp->name);
		if (!ns->specs[k].path || !ns->specs[k].name)
			return lf_err_set(err, ENOMEM, "out of memory");
		if (j < u->n) {
			ns->layers[k] = u->layers[j];
			ns->slot[k] = u->slot[j];
			ns->old_to_new[j] = k;
			continue;
		}
		if (u->next_slot >= 0xFFFE)
			return lf_err_set(err, E2BIG, "too many layers added over the union's life");
		int rc = u->opts.open_layer
			? u->opts.open_layer(u->opts.layer_ctx, sp->path, &lo, &ns->layers[k], err)
			: lf_layer_open(sp->path, &lo, &ns->layers[k], err);
		if (rc)
			return lf_err_prefix(err, "layer '%s': ", sp->name), rc;
		ns->opened[k] = 1;
		ns->slot[k] = u->next_slot++;
	}
	return 0;
}

/* The old layers the new set has not go behind it, detached, with their
 * slots (node numbers) and names; so do those detached before. An open
 * file holds its layer, not a reference the union can count: they stay
 * until the union closes (a session's logoff). Cannot fail. */
static void detach_rest(struct lf_union *u, struct newset *ns)
{
	for (int j = u->upper; j < u->nall; j++) {
		if (ns->old_to_new[j] >= 0)
			continue;
		int k = ns->nall++;
		ns->layers[k] = u->layers[j];
		ns->slot[k] = u->slot[j];
		ns->specs[k] = u->specs[j];
		u->specs[j].path = u->specs[j].name = NULL;   /* moved */
		ns->old_to_new[j] = k;
	}
}

static void close_layer(struct lf_union *u, struct lf_layer *l)
{
	if (u->opts.close_layer)
		u->opts.close_layer(u->opts.layer_ctx, l);
	else
		lf_layer_close(l);
}

static void newset_free(struct lf_union *u, struct newset *ns, int failed)
{
	for (int k = 0; failed && k < ns->n; k++) {
		if (ns->opened && ns->opened[k] && ns->layers[k])
			close_layer(u, ns->layers[k]);
		if (ns->specs) {
			free(ns->specs[k].path);
			free(ns->specs[k].name);
		}
	}
	if (failed) {
		free(ns->layers);
		free(ns->specs);
		free(ns->slot);
	}
	free(ns->opened);
	free(ns->old_to_new);
}

/* Give node n the refs its path has now, under its own number. */
static void refresh(struct lf_union *u, struct unode *n, struct invals *iv)
{
	struct unode *p = union_node_find(u, n->parent);
	const struct uentry *e = NULL;
	if (p && !p->gone && (p->dir || udir_build(u, p->refs, p->nrefs, &p->dir) == 0))
		e = udir_find(p->dir, n->name);
	if (!e || (e->type & S_IFMT) != (n->type & S_IFMT)) {
		/* its path is not in the new set: the kernel forgets the
		 * name, and what it holds (an open file, a shell's folder)
		 * reads on from the detached layers until it forgets that */
		if (p && n->nrefs)
			n->detached = 1;
		else
			n->gone = 1;
		if (p)
			want(iv, p->ino, n->name);
		return;
	}
	n->detached = p->detached;   /* its path is back, or it was never away */
	struct lref before = n->nrefs ? n->refs[0] : (struct lref){ 0xFFFF, 0 };
	((struct uentry *)e)->ino = n->ino;   /* the name keeps the number the kernel has */
	node_set_refs(u, n, e->refs, e->nrefs);
	if (!S_ISDIR(n->type) && (e->refs[0].ino != before.ino || e->refs[0].layer != before.layer))
		want(iv, n->ino, NULL);
}

/* Names a folder's listing gained or lost: the kernel may hold a name, or
 * its absence, for each. */
static void diff_names(struct unode *n, struct udir *old, struct invals *iv)
{
	if (!old || !n->dir)
		return;
	for (size_t i = 0; i < n->dir->n; i++)
		if (!n->dir->v[i].gone && !udir_find(old, n->dir->v[i].name))
			want(iv, n->ino, n->dir->v[i].name);
	for (size_t i = 0; i < old->n; i++)
		if (!old->v[i].gone && !udir_find(n->dir, old->v[i].name))
			want(iv, n->ino, old->v[i].name);
}

struct pair {
	struct unode *n;
	struct udir *old;        /* its folder index in the old set */
};

static int by_depth(const void *a, const void *b)
{
	const struct unode *x = ((const struct pair *)a)->n, *y = ((const struct pair *)b)->n;
	return x->depth < y->depth ? -1 : x->depth > y->depth;
}

int lf_union_set_layers(struct lf_union *u, const struct lf_stack *s, lf_inval_fn fn, void *ctx,
			struct lf_err *err)
{
	if (s->n == 0)
		return lf_err_set(err, EINVAL, "no layers given");
	lf_wrlock(&u->cfg, LF_LK_UNION_CFG);
	lf_mutex_lock(&u->wlock, LF_LK_UNION_WRITE);
	struct newset ns = {0};
	int rc = open_set(u, s, &ns, err);
	struct unode **nodes = NULL;
	size_t nn = rc ? 0 : union_all_nodes(u, &nodes);
	if (!rc && nn == (size_t)-1)
		rc = lf_err_set(err, ENOMEM, "out of memory");
	struct pair *pairs = rc ? NULL : calloc(nn ? nn : 1, sizeof *pairs);
	if (!rc && !pairs)
		rc = lf_err_set(err, ENOMEM, "out of memory");
	if (rc) {
		newset_free(u, &ns, 1);
		free(nodes);
		lf_mutex_unlock(&u->wlock);
		lf_rwunlock(&u->cfg);
		return rc;
	}
	union_prefetch_pause(u);
	detach_rest(u, &ns);
	/* every node's refs in the new numbering; folder indexes set aside */
	for (size_t i = 0; i < nn; i++) {
		struct unode *n = nodes[i];
		int k = 0;
		for (int r = 0; r < n->nrefs; r++)
			if (ns.old_to_new[n->refs[r].layer] >= 0)
				n->refs[k++] = (struct lref){ (uint16_t)ns.old_to_new[n->refs[r].layer],
							      n->refs[r].ino };
		n->nrefs = (uint16_t)k;
		if (!k && n != u->root)
			n->gone = 1;
		pairs[i] = (struct pair){ n, n->dir };
		n->dir = NULL;
	}
	free(nodes);
	for (int j = u->upper; j < u->nall; j++) {
		free(u->specs[j].path);
		free(u->specs[j].name);
	}
	if (u->upper)
		ns.specs[0] = u->specs[0];
	free(u->layers);
	free(u->specs);
	free(u->slot);
	u->layers = ns.layers;
	u->specs = ns.specs;
	u->slot = ns.slot;
	u->n = ns.n;
	u->nall = ns.nall;
	newset_free(u, &ns, 0);
	merged_forget_all(u);
	/* the root is every layer's root; then each node, from the top down */
	struct lref *roots = malloc((size_t)u->n * sizeof *roots);
	for (int i = 0; roots && i < u->n; i++)
		roots[i] = (struct lref){ (uint16_t)i, u->layers[i]->root };
	if (roots)
		node_set_refs(u, u->root, roots, u->n);
	free(roots);
	struct invals iv = {0};
	qsort(pairs, nn, sizeof *pairs, by_depth);
	for (size_t i = 0; i < nn; i++)
		/* a deleted but open file is the writable layer's, held: as it was */
		if (pairs[i].n != u->root && !pairs[i].n->gone && !pairs[i].n->unlinked)
			refresh(u, pairs[i].n, &iv);
	/* each folder the kernel listed: its listing, and the names it gained
	 * or lost (the kernel may hold a name, or its absence) */
	for (size_t i = 0; i < nn; i++) {
		struct unode *n = pairs[i].n;
		if (!S_ISDIR(n->type) || n->gone)
			continue;
		if (pairs[i].old && !n->dir)
			udir_build(u, n->refs, n->nrefs, &n->dir);
		diff_names(n, pairs[i].old, &iv);
		want(&iv, n->ino, NULL);
	}
	union_prefetch_resume(u);
	lf_mutex_unlock(&u->wlock);
	lf_rwunlock(&u->cfg);
	for (size_t i = 0; i < iv.n; i++) {
		if (fn)
			fn(ctx, iv.v[i].ino, iv.v[i].name);
		free(iv.v[i].name);
	}
	free(iv.v);
	for (size_t i = 0; i < nn; i++)
		udir_free(pairs[i].old);
	free(pairs);
	return 0;
}
