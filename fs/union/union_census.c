/* What each layer gives the merged view below a folder (the console's
 * stack picture): for each folder in it, the files that show and their
 * bytes by the layer they come from, and by layer what does not show: a
 * copy a higher layer's hides (shadowed), a name a delete token or an
 * opaque folder above takes away (deleted). Built from the folders'
 * merged indexes as a lookup builds them (udir_build), without nodes, so
 * a census of a whole drive leaves the node table as it was; and from
 * each layer's own listing of the same folders. A subtree one NTFS layer
 * alone gives is counted once per layer file: its counts go to the
 * layer's memo (union_census_memo.c) and come from there after. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "union_int.h"
#include "layerfs/grow.h"
#include "layerfs/lockcheck.h"

struct census_walk {
	struct lf_union *u;
	struct lf_census_memo *const *memos;   /* by layer, or NULL */
	struct lf_census_row *row;   /* where this subtree's counts go */
	const struct udir *d;        /* the merged index being compared */
	int layer;                   /* the layer whose listing is read */
	int depth;
	int cut;                     /* a subtree deeper than MAX_DEPTH was left out */
	int err;
};

#define MAX_DEPTH 256

/* One entry of a layer's own listing: does it show? */
static int hidden_entry(void *ctx, const char *name, lf_ino ino, uint32_t type)
{
	struct census_walk *w = ctx;
	size_t tl = strlen(LF_WHITEOUT_PREFIX);
	if (!strncmp(name, LF_WHITEOUT_PREFIX, tl))
		return 0;                /* tokens and markers (the work folder) are not names */
	struct lf_layer *l = w->u->layers[w->layer];
	if (!type) {
		struct lf_attr a;
		type = l->ops->getattr(l, ino, &a) == 0 ? a.mode & S_IFMT : S_IFREG;
	}
	const struct uentry *e = udir_find(w->d, name);
	if (!e || e->gone) {
		w->row->deleted[w->layer]++;
		return 0;
	}
	int here = 0;
	for (int k = 0; k < e->nrefs; k++)
		here |= e->refs[k].layer == (uint64_t)w->layer;
	if (!here)
		w->row->shadowed[w->layer]++;
	return 0;
}

static void count_folder(struct census_walk *w, const struct lref *refs, int nrefs);

/* A file that shows, to the layer it comes from. */
static void count_file(struct census_walk *w, const struct uentry *e)
{
	int top = (int)e->refs[0].layer;
	struct lf_layer *l = w->u->layers[top];
	struct lf_attr a;
	w->row->files[top]++;
	if (l->ops->getattr(l, e->refs[0].ino, &a) == 0)
		w->row->bytes[top] += a.size;
}

/* The files of an index that show, by their layer; its folders walked
 * too unless files_only. */
static void count_shown(struct census_walk *w, const struct udir *d, int files_only)
{
	for (size_t i = 0; i < d->n && !w->err; i++) {
		const struct uentry *e = &d->v[i];
		if (e->gone || !e->nrefs)
			continue;
		if (!S_ISDIR(e->type))
			count_file(w, e);
		else if (!files_only)
			count_folder(w, e->refs, e->nrefs);
	}
}

/* What the layers' own listings of this folder hold that does not show. */
static void count_hidden(struct census_walk *w, const struct udir *d, const struct lref *refs)
{
	const struct udir *was = w->d;
	w->d = d;
	for (int k = 0; k < d->nused && !w->err; k++) {
		w->layer = (int)refs[k].layer;
		struct lf_layer *l = w->u->layers[w->layer];
		l->ops->readdir(l, refs[k].ino, hidden_entry, w);
	}
	w->d = was;
}

/* The memo of the layer that alone gives a folder, if it has one (an
 * NTFS layer's folder numbers are the same at every open). */
static struct lf_census_memo *memo_of(struct census_walk *w, const struct lref *refs, int nrefs)
{
	if (!w->memos || nrefs != 1 || !w->memos[refs[0].layer])
		return NULL;
	return strcmp(w->u->layers[refs[0].layer]->kind, "ntfs") ? NULL : w->memos[refs[0].layer];
}

static void counts_of(const struct lf_census_row *r, int layer, struct lf_census_counts *c)
{
	*c = (struct lf_census_counts){ r->files[layer], r->bytes[layer], r->shadowed[layer],
					r->deleted[layer] };
}

static void count_folder(struct census_walk *w, const struct lref *refs, int nrefs)
{
	if (w->depth >= MAX_DEPTH) {
		w->cut = 1;
		return;
	}
	struct lf_census_memo *memo = memo_of(w, refs, nrefs);
	int layer = (int)refs[0].layer;
	struct lf_census_counts before, c;
	if (memo && lf_census_memo_get(memo, refs[0].ino, &c)) {
		w->row->files[layer] += c.files;
		w->row->bytes[layer] += c.bytes;
		w->row->shadowed[layer] += c.shadowed;
		w->row->deleted[layer] += c.deleted;
		return;
	}
	counts_of(w->row, layer, &before);
	int cut = w->cut;
	w->cut = 0;
	struct udir *d;
	int rc = udir_build(w->u, refs, nrefs, &d);
	if (rc) {
		w->err = rc;
		return;
	}
	w->depth++;
	count_shown(w, d, 0);
	count_hidden(w, d, refs);
	w->depth--;
	udir_free(d);
	/* a subtree only this layer gives counts only to this layer: what it
	 * added is the subtree's, in any stack */
	if (memo && !w->err && !w->cut) {
		counts_of(w->row, layer, &c);
		c.files -= before.files;
		c.bytes -= before.bytes;
		c.shadowed -= before.shadowed;
		c.deleted -= before.deleted;
		lf_census_memo_put(memo, refs[0].ino, &c);
	}
	w->cut |= cut;
}

/* A folder of 20,000 folders is 20,000 rows: room made by doubling. */
static int add_row(struct lf_census *c, size_t *cap, const char *name, int dir)
{
	if (lf_grow(&c->rows, cap, c->nrows, sizeof *c->rows, 16))
		return -ENOMEM;
	struct lf_census_row *r = &c->rows[c->nrows];
	memset(r, 0, sizeof *r);
	r->name = strdup(name);
	r->dir = dir;
	r->files = calloc((size_t)c->nlayers * 4, sizeof *r->files);
	if (!r->name || !r->files) {
		free(r->name);
		free(r->files);
		return -ENOMEM;
	}
	r->bytes = r->files + c->nlayers;
	r->shadowed = r->bytes + c->nlayers;
	r->deleted = r->shadowed + c->nlayers;
	c->nrows++;
	return 0;
}

/* The refs of the folder at PATH (walked through the merged indexes
 * from the root's), copied into *refs. */
static int folder_refs(struct lf_union *u, const char *path, struct lref **refs, int *nrefs)
{
	struct unode *root = node_get(u, LF_UNION_ROOT);
	if (!root)
		return -ESTALE;
	node_lock(root);
	int n = root->nrefs;
	struct lref *v = malloc((size_t)n * sizeof *v);
	if (v)
		memcpy(v, root->refs, (size_t)n * sizeof *v);
	node_unlock(root);
	node_put(u, root, 0);
	if (!v)
		return -ENOMEM;
	int rc = 0;
	for (const char *p = path; *p && !rc;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (!len)
			break;
		char name[1024];
		if (len >= sizeof name) {
			rc = -ENAMETOOLONG;
			break;
		}
		memcpy(name, p, len);
		name[len] = 0;
		p += len;
		struct udir *d;
		rc = udir_build(u, v, n, &d);
		if (rc)
			break;
		const struct uentry *e = udir_find(d, name);
		if (!e || e->gone)
			rc = -ENOENT;
		else if (!S_ISDIR(e->type))
			rc = -ENOTDIR;
		if (!rc) {
			struct lref *w = malloc(e->nrefs * sizeof *w);
			if (!w) {
				rc = -ENOMEM;
			} else {
				memcpy(w, e->refs, e->nrefs * sizeof *w);
				free(v);
				v = w;
				n = e->nrefs;
			}
		}
		udir_free(d);
	}
	if (rc) {
		free(v);
		return rc;
	}
	*refs = v;
	*nrefs = n;
	return 0;
}

static int u_census(struct lf_union *u, const char *folder, struct lf_census_memo *const *memos,
		    struct lf_census *c)
{
	memset(c, 0, sizeof *c);
	c->nlayers = u->n;
	struct lref *refs;
	int nrefs;
	int rc = folder_refs(u, folder, &refs, &nrefs);
	if (rc)
		return rc;
	struct udir *d;
	rc = udir_build(u, refs, nrefs, &d);
	if (rc) {
		free(refs);
		return rc;
	}
	/* row 0: the folder's own files and names; then one a subfolder */
	size_t cap = 0;
	rc = add_row(c, &cap, "", 0);
	struct census_walk w = { .u = u, .memos = memos };
	for (size_t i = 0; i < d->n && !rc; i++) {
		const struct uentry *e = &d->v[i];
		if (e->gone || !e->nrefs || !S_ISDIR(e->type))
			continue;
		rc = add_row(c, &cap, e->name, 1);
		if (rc)
			break;
		w.row = &c->rows[c->nrows - 1];
		w.depth = 1;
		count_folder(&w, e->refs, e->nrefs);
		rc = w.err;
	}
	if (!rc) {
		/* the folder's own files, and what its layers hold that does not show */
		w.row = &c->rows[0];
		w.depth = 0;
		count_shown(&w, d, 1);
		count_hidden(&w, d, refs);
		rc = w.err;
	}
	udir_free(d);
	free(refs);
	if (rc)
		lf_census_free(c);
	return rc;
}

int lf_union_census(struct lf_union *u, const char *folder, struct lf_census_memo *const *memos,
		    struct lf_census *out)
{
	union_enter(u);
	return union_leave(u, u_census(u, folder, memos, out));
}

void lf_census_free(struct lf_census *c)
{
	for (size_t i = 0; i < c->nrows; i++) {
		free(c->rows[i].name);
		free(c->rows[i].files);
	}
	free(c->rows);
	memset(c, 0, sizeof *c);
}
