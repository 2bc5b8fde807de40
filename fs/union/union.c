/* The union's nodes and operations. A node's number is derived from the
 * layer node that provides it (layer index in the top 16 bits), so it is
 * the same every time the node is looked up, and hard links in one layer
 * share it. Nodes live in a table split into shards, each with its own
 * lock; a folder's merged index is built once, under the folder's lock. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/heap.h"
#include "union_int.h"
#include "union_prefetch.h"
#include "layerfs/lockcheck.h"


struct lf_layer *union_layer(struct lf_union *u, int i)
{
	return u->layers[i];
}

void union_log(struct lf_union *u, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (u->opts.log)
		u->opts.log(u->opts.log_ctx, line);
	else
		fprintf(stderr, "layerfs: %s\n", line);
}

/* The layer's slot, not its place in the stack: a layer keeps its slot
 * when layers are added or removed around it, so its nodes keep their
 * numbers. */
static uint64_t make_ino(const struct lf_union *u, struct lref r)
{
	return ((uint64_t)(u->slot[r.layer] + 1) << INO_LAYER_SHIFT) | (r.ino & INO_MASK);
}

static struct shard *shard_of(struct lf_union *u, uint64_t ino)
{
	return &u->shards[(ino ^ ino >> 17) % NSHARDS];
}

static struct unode **slot_of(struct shard *s, uint64_t ino)
{
	return &s->buckets[(ino * 0x9E3779B97F4A7C15ull >> 20) & (s->nbuckets - 1)];
}

/* Rehash into n buckets (a power of two). */
static int shard_resize(struct shard *s, size_t n)
{
	struct unode **b = calloc(n, sizeof *b);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct unode *x = s->buckets[i], *nx; x; x = nx) {
			nx = x->next;
			struct unode **to = &b[(x->ino * 0x9E3779B97F4A7C15ull >> 20) & (n - 1)];
			x->next = *to;
			*to = x;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
	return 0;
}

static int shard_grow(struct shard *s)
{
	return shard_resize(s, s->nbuckets ? s->nbuckets * 2 : 256);
}

uint64_t union_make_ino(const struct lf_union *u, struct lref r)
{
	return make_ino(u, r);
}

static void node_free(struct lf_union *u, struct unode *n)
{
	if (n->held) {
		struct lf_layer *up = u->layers[0];
		up->ops->release(up, n->hold_fh);
	}
	udir_free(n->dir);
	if (n->name != n->inline_name)
		free(n->name);
	if (n->refs != &n->ref1)
		free(n->refs);
	free(n);
}

/* The node for ino in shard s, or NULL; with the shard's lock held. */
static struct unode *shard_find(struct shard *s, uint64_t ino)
{
	struct unode *n = s->nbuckets ? *slot_of(s, ino) : NULL;
	while (n && n->ino != ino)
		n = n->next;
	return n;
}

/* The node for ino, marked busy; NULL if the kernel has none. */
static struct unode *node_get_any(struct lf_union *u, uint64_t ino, int gone_too)
{
	struct shard *s = shard_of(u, ino);
	lf_mutex_lock(&s->lock, LF_LK_LEAF);
	struct unode *n = shard_find(s, ino);
	if (n && n->gone && !gone_too)
		n = NULL;        /* its layers went away: stale to every caller */
	if (n)
		n->busy++;
	lf_mutex_unlock(&s->lock);
	return n;
}

struct unode *node_get(struct lf_union *u, uint64_t ino)
{
	return node_get_any(u, ino, 0);
}

struct unode *union_node_find(struct lf_union *u, uint64_t ino)
{
	struct shard *s = shard_of(u, ino);
	lf_mutex_lock(&s->lock, LF_LK_LEAF);
	struct unode *n = shard_find(s, ino);
	lf_mutex_unlock(&s->lock);
	return n;
}

size_t union_all_nodes(struct lf_union *u, struct unode ***out)
{
	size_t n = 0, cap = 0;
	struct unode **v = NULL;
	for (int i = 0; i < NSHARDS; i++) {
		struct shard *s = &u->shards[i];
		lf_mutex_lock(&s->lock, LF_LK_LEAF);
		for (size_t b = 0; b < s->nbuckets; b++)
			for (struct unode *x = s->buckets[b]; x; x = x->next) {
				if (n == cap) {
					cap = cap ? cap * 2 : 1024;
					struct unode **nv = realloc(v, cap * sizeof *nv);
					if (!nv) {
						lf_mutex_unlock(&s->lock);
						free(v);
						return (size_t)-1;
					}
					v = nv;
				}
				v[n++] = x;
			}
		lf_mutex_unlock(&s->lock);
	}
	*out = v;
	return n;
}


/* Drop a busy mark and `forget` lookups; free the node when nothing
 * holds it. */
void node_put(struct lf_union *u, struct unode *n, uint64_t forget)
{
	struct shard *s = shard_of(u, n->ino);
	lf_mutex_lock(&s->lock, LF_LK_LEAF);
	if (forget)
		n->nlookup = forget > n->nlookup ? 0 : n->nlookup - forget;
	else
		n->busy--;
	int dead = n != u->root && n->nlookup == 0 && n->busy == 0;
	if (dead) {
		struct unode **p = slot_of(s, n->ino);
		while (*p != n)
			p = &(*p)->next;
		*p = n->next;
		s->count--;
		/* the kernel forgot most: the table follows (a walk grew it) */
		if (s->nbuckets > 256 && s->count * 8 < s->nbuckets)
			shard_resize(s, s->nbuckets / 4);
	}
	lf_mutex_unlock(&s->lock);
	if (dead) {
		node_free(u, n);
		lf_heap_freed(1);   /* a walk forgotten gives its heap back */
	}
}

struct unode *node_intern(struct lf_union *u, const struct uentry *e, const struct unode *p)
{
	uint32_t depth = p->depth + 1;
	uint64_t parent = p->ino;
	uint64_t ino = e->ino;
	struct shard *s = shard_of(u, ino);
	lf_mutex_lock(&s->lock, LF_LK_LEAF);
	struct unode *n = shard_find(s, ino);
	if (!n && (s->count + 1) * 2 > s->nbuckets && shard_grow(s))
		goto fail;
	if (!n) {
		size_t len = strlen(e->name);
		/* the name right after the fields, not after sizeof's padding */
		n = calloc(1, offsetof(struct unode, inline_name) + len + 1);
		if (!n)
			goto fail;
		n->refs = e->nrefs == 1 ? &n->ref1 : malloc(e->nrefs * sizeof *n->refs);
		if (!n->refs) {
			free(n);
			goto fail;
		}
		n->name = memcpy(n->inline_name, e->name, len + 1);
		memcpy(n->refs, e->refs, e->nrefs * sizeof *n->refs);
		n->nrefs = e->nrefs;
		n->ino = ino;
		n->type = e->type;
		n->depth = depth > UINT16_MAX ? UINT16_MAX : (uint16_t)depth;
		n->parent = parent;
		n->smask = p->smask ? stacked_mask(u, p->smask, depth, e->name) : 0;
		struct unode **slot = slot_of(s, ino);
		n->next = *slot;
		*slot = n;
		s->count++;
	}
	n->nlookup++;
	lf_mutex_unlock(&s->lock);
	return n;
fail:
	lf_mutex_unlock(&s->lock);
	return NULL;
}

struct lref node_top(struct lf_union *u, struct unode *n)
{
	struct shard *s = shard_of(u, n->ino);
	lf_mutex_lock(&s->lock, LF_LK_LEAF);
	struct lref r = n->refs[0];
	lf_mutex_unlock(&s->lock);
	return r;
}

int node_refs_copy(struct lf_union *u, struct unode *n, struct lref *out, int max)
{
	struct shard *s = shard_of(u, n->ino);
	lf_mutex_lock(&s->lock, LF_LK_LEAF);
	int k = n->nrefs < max ? n->nrefs : max;
	memcpy(out, n->refs, (size_t)k * sizeof *out);
	lf_mutex_unlock(&s->lock);
	return k;
}

int node_set_refs(struct lf_union *u, struct unode *n, const struct lref *refs, int nrefs)
{
	struct lref *v = &n->ref1;
	if (nrefs > 1 && !(v = malloc((size_t)nrefs * sizeof *v)))
		return -ENOMEM;
	struct shard *s = shard_of(u, n->ino);
	lf_mutex_lock(&s->lock, LF_LK_LEAF);
	/* readers hold the shard's lock or n->lock, and the caller holds
	 * n->lock: ref1 may be written in place */
	memmove(v, refs, (size_t)nrefs * sizeof *v);
	struct lref *old = n->refs;
	n->refs = v;
	n->nrefs = (uint16_t)nrefs;
	lf_mutex_unlock(&s->lock);
	if (old != &n->ref1 && old != v)
		free(old);
	return 0;
}

static uint64_t entry_ino(const struct uentry *e)
{
	return e->ino;
}

/* The merged index of a folder node, built on first use (or taken from
 * what was built ahead); its subfolders' are then built ahead. */
int node_dir(struct lf_union *u, struct unode *n, struct udir **out)
{
	if (!S_ISDIR(n->type))
		return -ENOTDIR;
	node_lock(n);
	int rc = 0;
	if (!n->dir) {
		n->dir = prefetch_take(u->prefetch, n->ino);
		if (!n->dir)
			rc = udir_build(u, n->refs, n->nrefs, &n->dir);
		if (!rc) {
			prefetch_children(u->prefetch, n->dir);
			dirkeep_built(u, n);
		}
	}
	*out = n->dir;
	if (rc)
		node_unlock(n);
	return rc;
}

/* A link's target as the merged view needs it: a target from the layer's
 * root ("C:\Windows") is made relative to the link's folder, so it points
 * inside the mount wherever the mount is. */
ssize_t union_link_target(struct lf_union *u, struct unode *n, char *buf, size_t size)
{
	char raw[4096];
	enum lf_link_kind kind = LF_LINK_RELATIVE;
	struct lref top = node_top(u, n);
	struct lf_layer *l = u->layers[top.layer];
	ssize_t len = l->ops->readlink(l, top.ino, raw, sizeof raw, &kind);
	if (len < 0)
		return len;
	if ((size_t)len >= sizeof raw)
		return -ENAMETOOLONG;
	char out[4096 + 3 * 512];
	size_t o = 0;
	if (kind == LF_LINK_ROOTED) {
		const char *rest = raw;
		while (*rest == '/')
			rest++;
		/* the link's folder is one level above the link */
		for (uint32_t i = 1; i < n->depth && o + 3 < sizeof out; i++) {
			memcpy(out + o, "../", 3);
			o += 3;
		}
		if (!*rest && o == 0)
			rest = ".";
		else if (!*rest)
			o--; /* "../../" -> "../.." */
		size_t rl = strlen(rest);
		if (o + rl >= sizeof out)
			return -ENAMETOOLONG;
		memcpy(out + o, rest, rl);
		o += rl;
	} else {
		memcpy(out, raw, (size_t)len);
		o = (size_t)len;
	}
	out[o] = 0;
	if (size) {
		size_t c = o < size - 1 ? o : size - 1;
		memcpy(buf, out, c);
		buf[c] = 0;
	}
	return (ssize_t)o;
}

int node_attr(struct lf_union *u, struct unode *n, struct lf_attr *a)
{
	struct lref top = node_top(u, n);
	struct lf_layer *l = u->layers[top.layer];
	int rc;
	if (n->held) /* unlinked: only the held handle reaches it */
		rc = l->ops->fgetattr(l, n->hold_fh, a);
	else
		rc = l->ops->getattr(l, top.ino, a);
	if (rc) {
		if (rc == -EIO)
			union_log(u, "%s: node %llu: I/O error reading its attributes", l->path,
				  (unsigned long long)top.ino);
		return rc;
	}
	a->ino = n->ino;
	a->flags &= LF_ATTR_LX;
	uint64_t msize;
	if (stacked_is(u, n)) {
		a->flags |= LF_ATTR_MERGED;
		if (merged_known(u, n->ino, &msize, &a->mtime))
			a->size = msize;
	}
	uint32_t visible;
	if (!S_ISDIR(a->mode) && links_visible(u, n->ino, &visible))
		a->nlink = top.layer == 0 ? a->nlink + visible : visible;
	if (n->unlinked)
		a->nlink = 0;
	if (S_ISLNK(a->mode)) {
		ssize_t len = union_link_target(u, n, NULL, 0);
		a->size = len > 0 ? (uint64_t)len : 0;
	}
	/* A merged folder's link count is 2 and its merged subfolders, as
	 * overlayfs says, once its index is built; until then 1 (unless one
	 * layer alone makes it), which tells tools such as find that it is
	 * not known. Never waits for the lock: a caller may hold it. */
	if (S_ISDIR(a->mode)) {
		/* a folder of one layer is that folder: its own count holds
		 * (a host folder's; NTFS says 1, not known) */
		if (n->nrefs != 1 || a->nlink < 2)
			a->nlink = 1;
		if (node_trylock(n) == 0) {
			if (n->dir) {
				uint32_t k = 2;
				for (size_t i = 0; i < n->dir->n; i++)
					k += !n->dir->v[i].gone && S_ISDIR(n->dir->v[i].type);
				a->nlink = k;
			}
			node_unlock(n);
		}
	}
	return 0;
}

static int u_lookup(struct lf_union *u, uint64_t parent, const char *name,
		    struct lf_attr *out)
{
	if (strlen(name) > 255 * 3)
		return -ENAMETOOLONG;
	struct unode *p = node_get(u, parent);
	if (!p)
		return -ESTALE;
	struct udir *d;
	int rc = node_dir(u, p, &d);
	const struct uentry *e = rc ? NULL : udir_find(d, name);
	struct unode *c = e ? node_intern(u, e, p) : NULL;
	if (!rc && !e)
		p->negative = 1;         /* the kernel may keep the answer */
	if (!rc) {
		node_unlock(p);
		/* Linux names stop at 255 bytes: a longer one not found is
		 * too long, as a local file system says */
		rc = !e ? (strlen(name) > 255 ? -ENAMETOOLONG : -ENOENT) : !c ? -ENOMEM : 0;
	}
	if (c) {
		rc = node_attr(u, c, out);
		if (rc)
			node_put(u, c, 1);
	}
	node_put(u, p, 0);
	return rc;
}

int union_lookup(struct lf_union *u, uint64_t parent, const char *name, struct lf_attr *out)
{
	return u_lookup(u, parent, name, out);
}

int lf_union_lookup(struct lf_union *u, uint64_t parent, const char *name,
		    struct lf_attr *out)
{
	union_enter(u);
	return union_leave(u, u_lookup(u, parent, name, out));
}

static void u_forget(struct lf_union *u, uint64_t ino, uint64_t nlookup)
{
	struct unode *n = node_get_any(u, ino, 1);
	if (!n)
		return;
	node_put(u, n, nlookup);   /* the lookups */
	node_put(u, n, 0);         /* our own busy mark */
}

void union_forget(struct lf_union *u, uint64_t ino, uint64_t nlookup)
{
	u_forget(u, ino, nlookup);
}

void lf_union_forget(struct lf_union *u, uint64_t ino, uint64_t nlookup)
{
	lf_rdlock(&u->cfg, LF_LK_UNION_CFG);
	u_forget(u, ino, nlookup);
	lf_rwunlock(&u->cfg);
}

static int u_getattr(struct lf_union *u, uint64_t ino, struct lf_attr *out);

static void u_walk_end(struct lf_union *u, struct lf_walk *w)
{
	while (w->n)
		u_forget(u, w->held[--w->n], 1);
}

/* With cfg read-locked (lf_union_walk, and callers already inside). */
int union_walk(struct lf_union *u, const char *path, struct lf_attr *out, struct lf_walk *w)
{
	uint64_t at = LF_UNION_ROOT;
	int rc = 0;
	w->n = 0;
	char *copy = strdup(path), *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *c = strtok_r(copy, "/", &save); c && !rc; c = strtok_r(NULL, "/", &save)) {
		if (w->n == (int)(sizeof w->held / sizeof *w->held))
			rc = -ENAMETOOLONG;
		else if (!(rc = u_lookup(u, at, c, out)))
			at = w->held[w->n++] = out->ino;
	}
	free(copy);
	if (!rc && at == LF_UNION_ROOT)
		rc = u_getattr(u, LF_UNION_ROOT, out);
	if (rc)
		u_walk_end(u, w);
	return rc;
}

void union_walk_end(struct lf_union *u, struct lf_walk *w)
{
	u_walk_end(u, w);
}

int lf_union_walk(struct lf_union *u, const char *path, struct lf_attr *out, struct lf_walk *w)
{
	union_enter(u);
	return union_leave(u, union_walk(u, path, out, w));
}

void lf_union_walk_end(struct lf_union *u, struct lf_walk *w)
{
	lf_rdlock(&u->cfg, LF_LK_UNION_CFG);
	u_walk_end(u, w);
	lf_rwunlock(&u->cfg);
}

static int u_getattr(struct lf_union *u, uint64_t ino, struct lf_attr *out)
{
	struct unode *n = node_get(u, ino);
	if (!n)
		return -ESTALE;
	/* a stat of a merged file says its merged size: build it */
	struct merged *m = NULL;
	if (stacked_is(u, n) && merged_get(u, n, &m) == 0)
		merged_put(u, m);
	int rc = node_attr(u, n, out);
	node_put(u, n, 0);
	return rc;
}

int union_getattr(struct lf_union *u, uint64_t ino, struct lf_attr *out)
{
	return u_getattr(u, ino, out);
}

int union_plain_attr(struct lf_union *u, uint64_t ino, struct lf_attr *out)
{
	struct unode *n = node_get(u, ino);
	int rc = n ? node_attr(u, n, out) : -ESTALE;
	if (n)
		node_put(u, n, 0);
	return rc;
}

int lf_union_getattr(struct lf_union *u, uint64_t ino, struct lf_attr *out)
{
	union_enter(u);
	return union_leave(u, u_getattr(u, ino, out));
}

int union_readdir(struct lf_union *u, uint64_t ino, uint64_t off, int plus,
		  lf_union_dirent_fn fn, void *ctx)
{
	struct unode *n = node_get(u, ino);
	if (!n)
		return -ESTALE;
	struct udir *d;
	int rc = node_dir(u, n, &d);
	for (uint64_t i = off; !rc && i < d->n; i++) {
		const struct uentry *e = &d->v[i];
		if (e->gone)
			continue;
		struct lf_attr a;
		struct unode *c = NULL;
		if (plus) {
			c = node_intern(u, e, n);
			if (!c || node_attr(u, c, &a)) {
				/* skip what cannot be read; it is logged */
				if (c)
					node_put(u, c, 1);
				continue;
			}
		} else {
			memset(&a, 0, sizeof a);
			a.ino = e->ino;
			a.mode = e->type;
		}
		if (fn(ctx, e->name, &a, i + 1)) {
			if (c)
				node_put(u, c, 1); /* not handed over */
			break;
		}
	}
	if (!rc)
		node_unlock(n);
	node_put(u, n, 0);
	return rc;
}

int lf_union_readdir(struct lf_union *u, uint64_t ino, uint64_t off, int plus,
		     lf_union_dirent_fn fn, void *ctx)
{
	union_enter(u);
	return union_leave(u, union_readdir(u, ino, off, plus, fn, ctx));
}

/* A file several layers hold and the union merges (a hive): read from
 * its merged bytes; the registry's merge makes it, and regfs changes it. */
static int open_merged(struct lf_union *u, struct unode *n, int flags, struct lf_ufile *f)
{
	if (union_wants_write(flags)) {
		char name[NAME_MAX * 3 + 1];
		node_where(n, name, sizeof name);
		union_log(u, "%s: it is merged from several layers and cannot be written "
			  "(change the registry through regfs)", name);
		merged_put(u, f->merged);
		f->merged = NULL;
		return -EPERM;
	}
	f->layer = NULL;
	f->ino = n->ino;
	return 0;
}

/* Open node n into f: merged, copied up for writing, or its top layer's. */
static int open_node(struct lf_union *u, struct unode *n, int flags, struct lf_ufile *f)
{
	if (f->beside) {
		int rc = merged_get(u, n, &f->merged);
		if (rc != -ENOENT)
			return rc ? rc : open_merged(u, n, flags, f);
	}
	if (union_wants_write(flags))
		return union_open_rw(u, n, flags, f);
	struct lref top = node_top(u, n);
	f->layer = u->layers[top.layer];
	f->ino = top.ino;
	return f->layer->ops->open(f->layer, f->ino, &f->fh);
}

/* The first file opened in a folder: its siblings will likely follow. */
static void read_siblings_ahead(struct lf_union *u, struct unode *n)
{
	struct unode *p = u->prefetch ? node_get(u, node_where(n, NULL, 0)) : NULL;
	if (!p)
		return;
	node_lock(p);
	if (p->dir && !p->dir->data_asked) {
		p->dir->data_asked = 1;
		prefetch_data(u->prefetch, p->dir);
	}
	node_unlock(p);
	node_put(u, p, 0);
}

int union_open_file(struct lf_union *u, uint64_t ino, int flags, struct lf_ufile **out)
{
	struct unode *n = node_get(u, ino);
	if (!n)
		return -ESTALE;
	struct lf_ufile *f = NULL;
	int rc = S_ISDIR(n->type) ? -EISDIR : 0;
	if (!rc && !(f = calloc(1, sizeof *f)))
		rc = -ENOMEM;
	if (!rc) {
		/* a hive's path: merged, or changed beside the mount */
		f->beside = stacked_is(u, n);
		rc = open_node(u, n, flags, f);
	}
	if (!rc)
		read_siblings_ahead(u, n);
	node_put(u, n, 0);
	if (rc) {
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int lf_union_open_file(struct lf_union *u, uint64_t ino, int flags, struct lf_ufile **out)
{
	union_enter(u);
	return union_leave(u, union_open_file(u, ino, flags, out));
}

ssize_t lf_union_pread(struct lf_union *u, struct lf_ufile *f, void *buf,
		       size_t len, uint64_t off)
{
	if (f->merged)
		return merged_read(f->merged, buf, len, off);
	ssize_t r = f->layer->ops->pread(f->layer, f->fh, buf, len, off);
	/* an NTFS layer says it itself, once a file, with the file's path */
	if (r == -EIO && strcmp(f->layer->kind, "ntfs"))
		union_log(u, "%s: node %llu: I/O error reading at %llu", f->layer->path,
			  (unsigned long long)f->ino, (unsigned long long)off);
	return r;
}

void lf_union_release(struct lf_union *u, struct lf_ufile *f)
{
	if (f->merged)
		merged_put(u, f->merged);
	else
		f->layer->ops->release(f->layer, f->fh);
	free(f);
}

int lf_union_file_merged(const struct lf_ufile *f)
{
	/* her NTUSER.DAT is one copy, but regfs rewrites it beside the
	 * mount: what the kernel cached of it is not to be kept either */
	return f->merged != NULL || f->beside;
}

static ssize_t u_readlink(struct lf_union *u, uint64_t ino, char *buf, size_t size)
{
	struct unode *n = node_get(u, ino);
	if (!n)
		return -ESTALE;
	ssize_t r = S_ISLNK(n->type) ? union_link_target(u, n, buf, size) : -EINVAL;
	node_put(u, n, 0);
	return r;
}

ssize_t lf_union_readlink(struct lf_union *u, uint64_t ino, char *buf, size_t size)
{
	union_enter(u);
	return union_leave_n(u, u_readlink(u, ino, buf, size));
}

int union_node_layers(struct lf_union *u, uint64_t ino, int *layers, int max)
{
	struct unode *n = node_get(u, ino);
	if (!n)
		return -ESTALE;
	/* A folder is made of the layers its index read (an opaque one ends
	 * it); anything else of its top layer alone. */
	int used = n->nrefs;
	struct udir *d;
	if (S_ISDIR(n->type) && node_dir(u, n, &d) == 0) {
		used = d->nused;
		node_unlock(n);
	}
	int k = 0;
	for (int i = 0; i < used && k < max; i++)
		layers[k++] = n->refs[i].layer;
	node_put(u, n, 0);
	return k;
}

int lf_union_nlayers(const struct lf_union *u)
{
	return u->n;
}

int lf_union_ndetached(const struct lf_union *u)
{
	return u->nall - u->n;
}

struct lf_layer *lf_union_layer(const struct lf_union *u, int i)
{
	return u->layers[i];
}

const struct lf_layer_spec *lf_union_spec(const struct lf_union *u, int i)
{
	return &u->specs[i];
}

int lf_union_open(const struct lf_stack *s, const struct lf_union_opts *o,
		  struct lf_union **out, struct lf_err *err)
{
	if (s->n == 0)
		return lf_err_set(err, EINVAL, "no layers given");
	int up = s->upper != NULL, total = s->n + up;
	if (total > 0xFFFE)
		return lf_err_set(err, E2BIG, "%d layers; at most 65534", total);
	struct lf_union *u = calloc(1, sizeof *u);
	if (!u)
		return lf_err_set(err, ENOMEM, "out of memory");
	if (o)
		u->opts = *o;
	for (int i = 0; i < NSHARDS; i++)
		pthread_mutex_init(&u->shards[i].lock, NULL);
	pthread_mutex_init(&u->wlock, NULL);
	pthread_rwlock_init(&u->cfg, NULL);
	pthread_mutex_init(&u->alias_lock, NULL);
	pthread_mutex_init(&u->stacked_lock, NULL);
	pthread_mutex_init(&u->keep_lock, NULL);
	u->layers = calloc((size_t)total, sizeof *u->layers);
	u->specs = calloc((size_t)total, sizeof *u->specs);
	u->slot = calloc((size_t)total, sizeof *u->slot);
	int rc = u->layers && u->specs && u->slot ? 0 : lf_err_set(err, ENOMEM, "out of memory");
	for (int i = 0; !rc && i < total; i++)
		u->slot[i] = (uint16_t)i;
	u->next_slot = (uint16_t)total;
	struct lf_layer_opts lo = { .source = { .parents = s->parents, .nparents = s->nparents } };
	for (int i = 0; i < total && !rc; i++) {
		if (up && i == 0) {
			/* the personalization layer: always the highest */
			u->specs[0] = (struct lf_layer_spec){ .path = strdup(s->upper),
				.name = strdup("personalization"), .type = LF_LAYER_UPPER };
			rc = lf_layer_open_upper(s->upper, s->workdir, &u->layers[0], err);
			if (rc)
				lf_err_prefix(err, "writable layer: ");
			u->upper = !rc;
		} else {
			const struct lf_layer_spec *sp = &s->v[i - up];
			u->specs[i] = *sp;
			u->specs[i].path = strdup(sp->path);
			u->specs[i].name = strdup(sp->name);
			rc = u->opts.open_layer
				? u->opts.open_layer(u->opts.layer_ctx, sp->path, &lo, &u->layers[i], err)
				: lf_layer_open(sp->path, &lo, &u->layers[i], err);
			if (rc)
				lf_err_prefix(err, "layer '%s': ", sp->name);
		}
		u->n = u->nall = i + 1;
	}
	if (!rc) {
		/* The root: every layer's root, merged. */
		struct uentry root = { .type = S_IFDIR, .nrefs = (uint16_t)u->n };
		root.refs = malloc((size_t)u->n * sizeof *root.refs);
		if (!root.refs) {
			rc = lf_err_set(err, ENOMEM, "out of memory");
		} else {
			for (int i = 0; i < u->n; i++)
				root.refs[i] = (struct lref){ (uint16_t)i, u->layers[i]->root };
			struct shard *sh = shard_of(u, LF_UNION_ROOT);
			shard_grow(sh);
			u->root = calloc(1, sizeof *u->root + 1);
			if (u->root) {
				u->root->ino = LF_UNION_ROOT;
				u->root->type = S_IFDIR;
				u->root->nlookup = 1;
				u->root->nrefs = root.nrefs;
				u->root->refs = root.refs;
				u->root->name = u->root->inline_name;
				u->root->smask = 0xFFFFFFFFu;
				*slot_of(sh, LF_UNION_ROOT) = u->root;
				sh->count = 1;
			} else {
				free(root.refs);
				rc = lf_err_set(err, ENOMEM, "out of memory");
			}
		}
	}
	if (!rc && stacked_init(u))
		rc = lf_err_set(err, EINVAL, "bad merged-file patterns (at most 32)");
	if (!rc && u->opts.prefetch)
		u->prefetch = prefetch_start(u, entry_ino);
	if (rc) {
		lf_union_close(u);
		return rc;
	}
	union_gc_start(u);
	*out = u;
	return 0;
}

void union_prefetch_pause(struct lf_union *u)
{
	prefetch_stop(u->prefetch);
	u->prefetch = NULL;
}

void union_prefetch_resume(struct lf_union *u)
{
	if (u->opts.prefetch && !u->prefetch)
		u->prefetch = prefetch_start(u, entry_ino);
}

void lf_union_close(struct lf_union *u)
{
	if (!u)
		return;
	union_gc_stop(u);
	prefetch_stop(u->prefetch);
	union_access_free(u);
	for (int i = 0; i < NSHARDS; i++) {
		struct shard *s = &u->shards[i];
		for (size_t b = 0; b < s->nbuckets; b++)
			for (struct unode *n = s->buckets[b], *nx; n; n = nx) {
				nx = n->next;
				node_free(u, n);
			}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	for (int i = 0; i < u->nall; i++) {
		if (u->opts.close_layer && !(u->upper && i == 0))
			u->opts.close_layer(u->opts.layer_ctx, u->layers[i]);
		else
			lf_layer_close(u->layers[i]);
		free(u->specs[i].path);
		free(u->specs[i].name);
	}
	free(u->layers);
	free(u->specs);
	free(u->slot);
	alias_free(u);
	stacked_free(u);
	pthread_mutex_destroy(&u->stacked_lock);
	pthread_mutex_destroy(&u->keep_lock);
	free(u->keep);
	pthread_mutex_destroy(&u->wlock);
	pthread_rwlock_destroy(&u->cfg);
	pthread_mutex_destroy(&u->alias_lock);
	free(u);
}
