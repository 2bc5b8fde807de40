/* Merged files: a file at a path the union was told of (a registry hive)
 * is not won by the highest layer that has it; every layer's copy is
 * read and handed to the stack function, and the result shows. It is
 * built on first open or stat and kept, and built again when one of the
 * copies it came from changes (size, time or which node it is).
 *
 * Which nodes are such files is known from their path: each node carries
 * a mask of the patterns its path has followed so far, taken from its
 * folder's when the node is made. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "union_int.h"
#include "layerfs/lockcheck.h"

#define MAX_COPIES 64

struct stamp {
	uint16_t layer;
	lf_ino ino;
	uint64_t size;
	struct timespec mtime;
	lf_ino log[2];           /* NAME.LOG1, NAME.LOG2 beside it, or 0 */
	uint64_t loglen[2];
};

/* NAME.LOGn in layer l's folder dir, in the case Windows wrote it
 * ("ntuser.dat.LOG1" beside "NTUSER.DAT") or ours. */
static void find_logs(struct lf_layer *l, lf_ino dir, const char *name, struct stamp *st)
{
	for (int i = 0; i < 2; i++) {
		char want[1100], lower[1100];
		snprintf(want, sizeof want, "%s.LOG%d", name, i + 1);
		size_t n = strlen(want);
		for (size_t k = 0; k <= n; k++)
			lower[k] = (char)(k < n - 4 ? tolower((unsigned char)want[k]) : want[k]);
		const char *tries[] = { want, lower };
		struct lf_attr a;
		for (int t = 0; t < 2; t++)
			if (l->ops->lookup(l, dir, tries[t], &a) == 0 && S_ISREG(a.mode)) {
				st->log[i] = a.ino;
				st->loglen[i] = a.size;
				break;
			}
	}
}

/* A merged file's bytes. refs and next under stacked_lock; the rest is
 * fixed once it is in the list (readers share it, read only). */
struct merged {
	uint64_t ino;
	int refs;                /* stacked_lock: the cache's and each user's */
	uint8_t *data;
	size_t len;
	int nst;
	struct stamp st[MAX_COPIES];
	struct merged *next;     /* stacked_lock: u->merged's list */
};

int stacked_init(struct lf_union *u)
{
	if (u->opts.nstacked > 32)
		return -EINVAL;
	for (int i = 0; i < u->opts.nstacked; i++) {
		struct spattern *p = &u->spat[u->nspat++];
		char *s = strdup(u->opts.stacked[i]);
		if (!s)
			return -ENOMEM;
		for (char *save = NULL, *c = strtok_r(s, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
			char **v = realloc(p->c, (size_t)(p->n + 1) * sizeof *v);
			if (!v || !(v[p->n] = strdup(c))) {
				free(v ? v : p->c);
				p->c = NULL;
				free(s);
				return -ENOMEM;
			}
			p->c = v;
			p->n++;
		}
		free(s);
		if (p->n == 0)
			return -EINVAL;
	}
	return 0;
}

void stacked_free(struct lf_union *u)
{
	for (int i = 0; i < u->nspat; i++) {
		for (int j = 0; j < u->spat[i].n; j++)
			free(u->spat[i].c[j]);
		free(u->spat[i].c);
	}
	for (struct merged *m = u->merged, *nx; m; m = nx) {
		nx = m->next;
		free(m->data);
		free(m);
	}
}

uint32_t stacked_mask(const struct lf_union *u, uint32_t pmask, uint32_t depth, const char *name)
{
	uint32_t mask = 0;
	for (int i = 0; i < u->nspat; i++) {
		const struct spattern *p = &u->spat[i];
		if ((pmask >> i & 1) && depth <= (uint32_t)p->n &&
		    fnmatch(p->c[depth - 1], name, FNM_CASEFOLD) == 0)
			mask |= 1u << i;
	}
	return mask;
}

int stacked_is(const struct lf_union *u, const struct unode *n)
{
	if (!n->smask || !S_ISREG(n->type))
		return 0;
	for (int i = 0; i < u->nspat; i++)
		if ((n->smask >> i & 1) && (uint32_t)u->spat[i].n == n->depth)
			return 1;
	return 0;
}

/* Folder p's path from the root ("" for the root): 0, or -1 when a
 * folder on the way is no longer known or the path is too long. */
static int node_path(struct lf_union *u, struct unode *p, char *out, size_t size)
{
	const char *names[256];
	struct unode *held[256];
	int k = 0, rc = 0;
	for (struct unode *x = p; x != u->root; k++) {
		if (k == 256) {
			rc = -1;
			break;
		}
		names[k] = x->name;
		held[k] = node_get(u, x->parent);
		if (!(x = held[k])) {
			rc = -1;
			break;
		}
	}
	size_t o = 0;
	out[0] = 0;
	for (int i = k - 1; i >= 0 && !rc; i--) {
		int w = snprintf(out + o, size - o, "%s%s", o ? "/" : "", names[i]);
		if (w < 0 || (size_t)w >= size - o)
			rc = -1;
		else
			o += (size_t)w;
	}
	for (int i = 0; i < k; i++)
		if (held[i])
			node_put(u, held[i], 0);
	return rc;
}

/* The writable layer's copy of NAME in folder p when that folder was made
 * there beside the mount (regfs saves a hive's fragment into the layer
 * itself; the union's folder was built before): it goes on top. */
static void upper_copy(struct lf_union *u, struct unode *p, const char *name, struct stamp *st,
		       int *nst)
{
	char path[4096];
	struct lf_layer *up = u->layers[0];
	struct lf_attr d, a;
	if (*nst == MAX_COPIES || node_path(u, p, path, sizeof path) ||
	    lf_layer_resolve(up, path, &d) || !S_ISDIR(d.mode) ||
	    up->ops->lookup(up, d.ino, name, &a) || !S_ISREG(a.mode))
		return;
	memmove(st + 1, st, (size_t)*nst * sizeof *st);
	st[0] = (struct stamp){ 0, a.ino, a.size, a.mtime, {0}, {0} };
	find_logs(up, d.ino, name, &st[0]);
	(*nst)++;
}

/* The copies of NAME in the layer folders its folder (node parent) is
 * made of, highest first, down to a delete token or to something not a
 * file. */
static int gather(struct lf_union *u, uint64_t parent, const char *name, struct stamp *st,
		  int *nst)
{
	*nst = 0;
	struct unode *p = node_get(u, parent);
	if (!p)
		return -ENOENT;
	struct udir *d;
	int rc = node_dir(u, p, &d);
	if (rc) {
		node_put(u, p, 0);
		return rc;
	}
	char token[NAME_MAX * 3 + sizeof LF_WHITEOUT_PREFIX];
	snprintf(token, sizeof token, "%s%s", LF_WHITEOUT_PREFIX, name);
	for (int r = 0; r < d->nused && *nst < MAX_COPIES; r++) {
		struct lf_layer *l = u->layers[p->refs[r].layer];
		struct lf_attr a;
		int found = l->ops->lookup(l, p->refs[r].ino, name, &a) == 0;
		if (found && !S_ISREG(a.mode))
			break;
		if (found) {
			st[*nst] = (struct stamp){ p->refs[r].layer, a.ino, a.size, a.mtime, {0}, {0} };
			find_logs(l, p->refs[r].ino, name, &st[*nst]);
			(*nst)++;
		}
		if (l->ops->lookup(l, p->refs[r].ino, token, &a) == 0)
			break;
	}
	int top_is_upper = p->refs[0].layer == 0;
	node_unlock(p);
	if (u->upper && !top_is_upper && (*nst == 0 || st[0].layer != 0))
		upper_copy(u, p, name, st, nst);
	node_put(u, p, 0);
	return 0;
}

static void copies_free(struct lf_copy *c, int n)
{
	for (int i = 0; i < n; i++) {
		free((void *)c[i].data);
		free((void *)c[i].log[0]);
		free((void *)c[i].log[1]);
	}
	free(c);
}

void lf_union_copies_free(struct lf_copy *copies, int n)
{
	copies_free(copies, n);
}

/* Read the copies whole (with_data) or only say which they are, lowest
 * layer first. */
static int read_copies(struct lf_union *u, const struct stamp *st, int nst, int with_data,
		       struct lf_copy **out)
{
	struct lf_copy *c = calloc((size_t)nst, sizeof *c);
	if (!c)
		return -ENOMEM;
	int rc = 0, k = 0;
	for (int i = nst - 1; i >= 0 && !rc; i--, k++) {
		struct lf_layer *l = u->layers[st[i].layer];
		c[k].layer = u->specs[st[i].layer].name;
		c[k].file = u->specs[st[i].layer].path;
		c[k].ino = st[i].ino;
		c[k].mtime = st[i].mtime;
		c[k].len = st[i].size;
		uint8_t *b = NULL;
		rc = with_data ? lf_layer_read_all(l, st[i].ino, st[i].size, &b) : 0;
		c[k].data = b;
		/* its logs, for a dirty hive to be read as Windows reads it */
		for (int j = 0; with_data && !rc && j < 2; j++) {
			uint8_t *lb = NULL;
			if (st[i].log[j] && st[i].loglen[j] <= (64u << 20) &&
			    lf_layer_read_all(l, st[i].log[j], st[i].loglen[j], &lb) == 0) {
				c[k].log[j] = lb;
				c[k].loglen[j] = st[i].loglen[j];
			}
		}
	}
	if (rc) {
		copies_free(c, nst);
		return rc;
	}
	*out = c;
	return 0;
}

static struct merged *cached(struct lf_union *u, uint64_t ino)
{
	struct merged *m = u->merged;
	while (m && m->ino != ino)
		m = m->next;
	return m;
}

int merged_known(struct lf_union *u, uint64_t ino, uint64_t *size, struct timespec *mtime)
{
	lf_mutex_lock(&u->stacked_lock, LF_LK_UNION_MAPS);
	struct merged *m = cached(u, ino);
	if (m) {
		*size = m->len;
		/* the newest copy's time: a change through the registry (in
		 * the writable layer's copy) is a change of the file */
		for (int i = 0; i < m->nst; i++)
			if (i == 0 || m->st[i].mtime.tv_sec > mtime->tv_sec ||
			    (m->st[i].mtime.tv_sec == mtime->tv_sec &&
			     m->st[i].mtime.tv_nsec > mtime->tv_nsec))
				*mtime = m->st[i].mtime;
	}
	lf_mutex_unlock(&u->stacked_lock);
	return m != NULL;
}

static void merged_unref(struct merged *m)
{
	if (--m->refs == 0) {
		free(m->data);
		free(m);
	}
}

void merged_put(struct lf_union *u, struct merged *m)
{
	lf_mutex_lock(&u->stacked_lock, LF_LK_UNION_MAPS);
	merged_unref(m);
	lf_mutex_unlock(&u->stacked_lock);
}

ssize_t merged_read(const struct merged *m, void *buf, size_t len, uint64_t off)
{
	if (off >= m->len)
		return 0;
	size_t n = m->len - off < len ? (size_t)(m->len - off) : len;
	memcpy(buf, m->data + off, n);
	return (ssize_t)n;
}

static int same_stamps(const struct merged *m, const struct stamp *st, int nst)
{
	if (m->nst != nst)
		return 0;
	for (int i = 0; i < nst; i++)
		if (m->st[i].layer != st[i].layer || m->st[i].ino != st[i].ino ||
		    m->st[i].size != st[i].size || m->st[i].mtime.tv_sec != st[i].mtime.tv_sec ||
		    m->st[i].mtime.tv_nsec != st[i].mtime.tv_nsec)
			return 0;
	return 1;
}

int merged_get(struct lf_union *u, struct unode *n, struct merged **out)
{
	if (!u->opts.stack)
		return -ENOENT;
	struct merged *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	char name[NAME_MAX * 3 + 1];
	uint64_t parent = node_where(n, name, sizeof name);
	int rc = gather(u, parent, name, m->st, &m->nst);
	if (!rc && m->nst < 2)
		rc = -ENOENT;          /* one copy: an ordinary file */
	if (rc) {
		free(m);
		return rc;
	}
	lf_mutex_lock(&u->stacked_lock, LF_LK_UNION_MAPS);
	struct merged *have = cached(u, n->ino);
	if (have && same_stamps(have, m->st, m->nst)) {
		have->refs++;
		lf_mutex_unlock(&u->stacked_lock);
		free(m);
		*out = have;
		return 0;
	}
	lf_mutex_unlock(&u->stacked_lock);

	struct lf_copy *copies = NULL;
	rc = read_copies(u, m->st, m->nst, 1, &copies);
	struct lf_err err = {0};
	void *data = NULL;
	if (rc)
		lf_err_set(&err, -rc, "cannot read a copy: %s", strerror(-rc));
	else
		rc = u->opts.stack(u->opts.stack_ctx, name, copies, m->nst, &data, &m->len, &err);
	if (copies)
		copies_free(copies, m->nst);
	if (rc) {
		union_log(u, "%s: cannot merge the copies of %d layers: %s", name, m->nst,
			  err.msg);
		free(m);
		return -EIO;
	}
	m->data = data;
	m->ino = n->ino;
	m->refs = 2;             /* the cache's and the caller's */
	lf_mutex_lock(&u->stacked_lock, LF_LK_UNION_MAPS);
	struct merged **pp = &u->merged;
	while (*pp && (*pp)->ino != n->ino)
		pp = &(*pp)->next;
	if (*pp) {
		struct merged *old = *pp;
		*pp = old->next;
		merged_unref(old);
	}
	m->next = u->merged;
	u->merged = m;
	lf_mutex_unlock(&u->stacked_lock);
	*out = m;
	return 0;
}

static int u_copies(struct lf_union *u, const char *path, int with_data, struct lf_copy **copies,
		    int *n)
{
	struct lf_attr a;
	struct lf_walk w;
	int rc = union_walk(u, path, &a, &w);
	struct unode *node = rc ? NULL : node_get(u, a.ino);
	struct stamp st[MAX_COPIES];
	int nst = 0;
	if (!rc && (!node || !S_ISREG(node->type)))
		rc = -ENOENT;
	char name[NAME_MAX * 3 + 1];
	if (!rc)
		rc = gather(u, node_where(node, name, sizeof name), name, st, &nst);
	if (!rc)
		rc = nst ? read_copies(u, st, nst, with_data, copies) : -ENOENT;
	if (!rc)
		*n = nst;
	if (node)
		node_put(u, node, 0);
	union_walk_end(u, &w);
	return rc;
}

int lf_union_copies(struct lf_union *u, const char *path, struct lf_copy **copies, int *n)
{
	union_enter(u);
	return union_leave(u, u_copies(u, path, 1, copies, n));
}

int lf_union_copy_stamps(struct lf_union *u, const char *path, struct lf_copy **copies, int *n)
{
	union_enter(u);
	return union_leave(u, u_copies(u, path, 0, copies, n));
}

void merged_forget_all(struct lf_union *u)
{
	lf_mutex_lock(&u->stacked_lock, LF_LK_UNION_MAPS);
	struct merged *m = u->merged;
	u->merged = NULL;
	while (m) {
		struct merged *nx = m->next;
		merged_unref(m);             /* the cache's reference; open files keep theirs */
		m = nx;
	}
	lf_mutex_unlock(&u->stacked_lock);
}

void merged_each(struct lf_union *u, void (*fn)(struct lf_union *u, uint64_t ino))
{
	lf_mutex_lock(&u->stacked_lock, LF_LK_UNION_MAPS);
	for (struct merged *m = u->merged; m; m = m->next)
		fn(u, m->ino);
	lf_mutex_unlock(&u->stacked_lock);
}
