/* Node numbers for the registry's file tree (see reg_nodes.h). Nodes are
 * freed when the kernel forgets them (and no node below still names
 * them), so what regfs holds follows the kernel's cache, not the size of
 * the hive. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/casefold.h"
#include "layerfs/heap.h"
#include "reg_nodes.h"
#include "layerfs/lockcheck.h"


/* Every field under the table's lock (t->lock, a leaf), but ino and
 * inline_name, fixed when the node is made. */
struct rnode {
	uint64_t ino, nlookup;
	struct rnode *parent;
	struct rnode *inext;         /* in the table by number */
	struct rnode *nnext;         /* in the table by (parent, name) */
	uint32_t children;           /* nodes whose parent this is */
	uint8_t named;               /* in the table by name (not unlinked) */
	char *name;                  /* inline_name, or malloc'd after a rename */
	char inline_name[];          /* one allocation a node: a walk makes 900,000 */
};

static void free_node(struct rnode *n)
{
	if (n->name != n->inline_name)
		free(n->name);
	free(n);
}

struct rnodes {
	pthread_mutex_t lock;        /* a leaf: everything below, and every node */
	struct rnode **byino, **byname;
	size_t nslots;               /* of each table, a power of two */
	uint64_t count, next;
	struct rnode root;
};

static size_t ino_slot(const struct rnodes *t, uint64_t ino)
{
	return (size_t)(ino * 0x9E3779B97F4A7C15ull >> 20) & (t->nslots - 1);
}

static size_t name_slot(const struct rnodes *t, uint64_t parent, const char *name)
{
	return (size_t)((lf_casehash(name) ^ parent * 0x9E3779B97F4A7C15ull) >> 7) & (t->nslots - 1);
}

struct rnodes *rnodes_new(void)
{
	struct rnodes *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->nslots = 1024;
	t->byino = calloc(t->nslots, sizeof *t->byino);
	t->byname = calloc(t->nslots, sizeof *t->byname);
	if (!t->byino || !t->byname) {
		free(t->byino);
		free(t->byname);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->root = (struct rnode){ .ino = RNODE_ROOT, .nlookup = 1, .name = "" };
	t->byino[ino_slot(t, RNODE_ROOT)] = &t->root;
	t->next = RNODE_ROOT + 1;
	return t;
}

void rnodes_free(struct rnodes *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nslots; i++)
		for (struct rnode *n = t->byino[i], *nx; n; n = nx) {
			nx = n->inext;
			if (n != &t->root)
				free_node(n);
		}
	free(t->byino);
	free(t->byname);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct rnode *by_ino(struct rnodes *t, uint64_t ino)
{
	struct rnode *n = t->byino[ino_slot(t, ino)];
	while (n && n->ino != ino)
		n = n->inext;
	return n;
}

static struct rnode **name_link(struct rnodes *t, uint64_t parent, const char *name)
{
	struct rnode **pp = &t->byname[name_slot(t, parent, name)];
	while (*pp && ((*pp)->parent->ino != parent || lf_casecmp((*pp)->name, name)))
		pp = &(*pp)->nnext;
	return pp;
}

static void unname(struct rnodes *t, struct rnode *n)
{
	if (!n->named)
		return;
	struct rnode **pp = name_link(t, n->parent->ino, n->name);
	while (*pp && *pp != n)
		pp = &(*pp)->nnext;
	if (*pp)
		*pp = n->nnext;
	n->named = 0;
}

static void put_named(struct rnodes *t, struct rnode *n)
{
	size_t s = name_slot(t, n->parent->ino, n->name);
	n->nnext = t->byname[s];
	t->byname[s] = n;
	n->named = 1;
}

/* Twice the slots once there are as many nodes as slots. */
static void grow(struct rnodes *t)
{
	size_t old = t->nslots, ns = old * 2;
	struct rnode **bi = calloc(ns, sizeof *bi), **bn = calloc(ns, sizeof *bn);
	if (!bi || !bn) {
		free(bi);
		free(bn);
		return;                  /* longer chains, still right */
	}
	struct rnode **oi = t->byino;
	free(t->byname);         /* rebuilt below from the nodes */
	t->byino = bi;
	t->byname = bn;
	t->nslots = ns;
	for (size_t i = 0; i < old; i++)
		for (struct rnode *n = oi[i], *nx; n; n = nx) {
			nx = n->inext;
			size_t s = ino_slot(t, n->ino);
			n->inext = bi[s];
			bi[s] = n;
			if (n->named)
				put_named(t, n);
		}
	free(oi);
}

/* Free n (and parents left with nothing) when nothing holds it. */
static void release(struct rnodes *t, struct rnode *n)
{
	while (n && n != &t->root && n->nlookup == 0 && n->children == 0) {
		unname(t, n);
		struct rnode **pp = &t->byino[ino_slot(t, n->ino)];
		while (*pp != n)
			pp = &(*pp)->inext;
		*pp = n->inext;
		struct rnode *p = n->parent;
		p->children--;
		free_node(n);
		t->count--;
		lf_heap_freed(1);
		n = p;
	}
}

uint64_t rnodes_lookup(struct rnodes *t, uint64_t parent, const char *name)
{
	lf_mutex_lock(&t->lock, LF_LK_LEAF);
	struct rnode *n = *name_link(t, parent, name);
	if (!n) {
		struct rnode *p = by_ino(t, parent);
		size_t len = strlen(name);
		n = p ? calloc(1, sizeof *n + len + 1) : NULL;
		if (n) {
			n->name = memcpy(n->inline_name, name, len + 1);
			n->ino = t->next++;
			n->parent = p;
			p->children++;
			if (t->count + 1 >= t->nslots)
				grow(t);
			size_t s = ino_slot(t, n->ino);
			n->inext = t->byino[s];
			t->byino[s] = n;
			put_named(t, n);
			t->count++;
		}
	}
	uint64_t ino = 0;
	if (n) {
		n->nlookup++;
		ino = n->ino;
	}
	lf_mutex_unlock(&t->lock);
	return ino;
}

void rnodes_forget(struct rnodes *t, uint64_t ino, uint64_t k)
{
	lf_mutex_lock(&t->lock, LF_LK_LEAF);
	struct rnode *n = by_ino(t, ino);
	if (n && n != &t->root) {
		n->nlookup = k < n->nlookup ? n->nlookup - k : 0;
		release(t, n);
	}
	lf_mutex_unlock(&t->lock);
}

int rnodes_path(struct rnodes *t, uint64_t ino, const char *name, char **path)
{
	lf_mutex_lock(&t->lock, LF_LK_LEAF);
	struct rnode *n = by_ino(t, ino);
	size_t len = name ? strlen(name) + 1 : 0;
	int depth = 0;
	for (struct rnode *a = n; a && a != &t->root; a = a->parent, depth++)
		len += strlen(a->name) + 1;
	int rc = !n ? -ENOENT : depth > 1024 || len > 1 << 20 ? -ENAMETOOLONG : 0;
	char *p = rc ? NULL : malloc(len + 2);
	if (!rc && !p)
		rc = -ENOMEM;
	if (!rc) {
		/* from the end back to the root */
		size_t at = len;
		p[at] = 0;
		if (name) {
			at -= strlen(name);
			memcpy(p + at, name, strlen(name));
			p[--at] = '/';
		}
		for (struct rnode *a = n; a != &t->root; a = a->parent) {
			size_t l = strlen(a->name);
			at -= l;
			memcpy(p + at, a->name, l);
			p[--at] = '/';
		}
		if (len == 0) {
			p[0] = '/';
			p[1] = 0;
		}
		*path = p;
	}
	lf_mutex_unlock(&t->lock);
	return rc;
}

void rnodes_unlink(struct rnodes *t, uint64_t parent, const char *name)
{
	lf_mutex_lock(&t->lock, LF_LK_LEAF);
	struct rnode *n = *name_link(t, parent, name);
	if (n)
		unname(t, n);
	lf_mutex_unlock(&t->lock);
}

void rnodes_rename(struct rnodes *t, uint64_t parent, const char *name, uint64_t newparent,
		   const char *to)
{
	lf_mutex_lock(&t->lock, LF_LK_LEAF);
	struct rnode *n = *name_link(t, parent, name);
	struct rnode *there = *name_link(t, newparent, to);
	struct rnode *np = by_ino(t, newparent);
	char *nn = n && np ? strdup(to) : NULL;
	if (there && there != n)
		unname(t, there);
	if (nn) {
		unname(t, n);
		if (n->name != n->inline_name)
			free(n->name);
		n->name = nn;
		struct rnode *op = n->parent;
		np->children++;
		n->parent = np;
		op->children--;
		put_named(t, n);
		release(t, op);
	} else if (n) {
		unname(t, n);            /* out of memory: a later lookup makes it anew */
	}
	lf_mutex_unlock(&t->lock);
}
