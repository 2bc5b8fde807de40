/* Changes to the merged tree. They all go to the writable layer (layer 0):
 * a node from a read-only layer is copied up first; deleting a name a
 * lower layer has leaves a delete token; a folder made where a lower one
 * was deleted is made opaque. One change at a time (u->wlock); readers
 * never wait for it except on the folder index being changed.
 *
 * Order matters for a daemon killed at any moment: a token is made before
 * the upper entry it replaces is removed (a token never hides its own
 * layer, so until then the old entry still shows), and new folders are
 * built in the work folder and renamed into place whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/casefold.h"
#include "layerfs/win_names.h"
#include "union_write_int.h"
#include "layerfs/lockcheck.h"

/* A copy of a folder entry, safe to keep while the index changes. */
struct found {
	char *name;
	uint64_t ino;
	uint32_t type;
	int nrefs;
	struct lref *refs;
};

static void found_free(struct found *f)
{
	free(f->name);
	free(f->refs);
	memset(f, 0, sizeof *f);
}

/* f becomes a copy of index entry e (its folder's lock held). */
static int found_copy(const struct uentry *e, struct found *f)
{
	f->name = strdup(e->name);
	f->refs = malloc(e->nrefs * sizeof *f->refs);
	if (!f->name || !f->refs) {
		found_free(f);
		return -ENOMEM;
	}
	memcpy(f->refs, e->refs, e->nrefs * sizeof *f->refs);
	f->nrefs = e->nrefs;
	f->ino = e->ino;
	f->type = e->type;
	return 0;
}

static int find_entry(struct lf_union *u, struct unode *p, const char *name, struct found *f)
{
	memset(f, 0, sizeof *f);
	struct udir *d;
	int rc = node_dir(u, p, &d);
	if (rc)
		return rc;
	const struct uentry *e = udir_find(d, name);
	rc = !e ? (strlen(name) > 255 ? -ENAMETOOLONG : -ENOENT) : found_copy(e, f);
	node_unlock(p);
	return rc;
}

void union_dir_update(struct lf_union *u, struct unode *p, const char *name, uint64_t ino,
		      const struct lref *refs, int nrefs)
{
	node_lock(p);
	struct uentry *e = p->dir ? udir_find(p->dir, name) : NULL;
	if (e && e->ino == ino) {
		if (udir_set_refs(e, refs, nrefs)) {
			/* cannot say where it lives now: build the index again */
			udir_free(p->dir);
			p->dir = NULL;
		}
	}
	node_unlock(p);
	(void)u;
}

static int dir_put(struct lf_union *u, struct unode *p, const char *name, uint32_t type,
		   const struct lref *refs, int nrefs, uint64_t ino)
{
	struct udir *d;
	int rc = node_dir(u, p, &d);
	if (rc)
		return rc;
	rc = udir_put(d, name, type, refs, nrefs, ino);
	node_unlock(p);
	return rc;
}

static void dir_drop(struct lf_union *u, struct unode *p, const char *name)
{
	struct udir *d;
	if (node_dir(u, p, &d))
		return;
	struct uentry *e = udir_find(d, name);
	if (e)
		e->gone = 1;
	node_unlock(p);
}

/* Does a layer below the writable one have NAME in folder p? Then a
 * delete needs a token, and a new folder there must be opaque. */
static int lower_has(struct lf_union *u, struct unode *p, const char *name)
{
	struct udir *d;
	if (node_dir(u, p, &d))
		return 1;  /* cannot tell: a token too many hides nothing */
	int used = d->nused, has = 0;
	for (int i = 0; i < used && i < p->nrefs && !has; i++) {
		struct lref r = p->refs[i];
		struct lf_layer *l = u->layers[r.layer];
		struct lf_attr a;
		if (r.layer != 0 && l->ops->lookup(l, r.ino, name, &a) == 0)
			has = 1;
	}
	node_unlock(p);
	return has;
}

static int lower_parts(const struct found *f)
{
	for (int i = 0; i < f->nrefs; i++)
		if (f->refs[i].layer != 0)
			return 1;
	return 0;
}

static int make_token(struct lf_union *u, lf_ino dir, const char *name)
{
	char tok[300];
	if (strlen(name) + strlen(LF_WHITEOUT_PREFIX) > 255)
		return -ENAMETOOLONG;  /* the token would not fit a host name */
	snprintf(tok, sizeof tok, "%s%s", LF_WHITEOUT_PREFIX, name);
	struct lf_layer *up = u->layers[0];
	struct lf_new w = { .mode = S_IFREG, .uid = LF_KEEP_ID, .gid = LF_KEEP_ID };
	int rc = up->ops->mkobj(up, dir, tok, &w, NULL, NULL);
	return rc == -EEXIST ? 0 : rc;
}

/* Node ino's name is about to go. An upper node is held open, so its
 * attributes (nlink 0 once its last name is gone) still come from the
 * host; a lower one hidden by a token says nlink 0 itself. */
static void mark_unlinked(struct lf_union *u, uint64_t ino)
{
	struct unode *c = node_get(u, ino);
	if (!c)
		return;
	struct lref top = node_top(u, c);
	struct lf_layer *up = u->layers[0];
	if (top.layer == 0 && !c->held && !S_ISDIR(c->type) &&
	    up->ops->hold(up, top.ino, &c->hold_fh) == 0)
		c->held = 1;
	uint32_t visible;
	if ((top.layer != 0 && !(links_visible(u, ino, &visible) && visible > 0)) ||
	    S_ISDIR(c->type))
		c->unlinked = 1;
	node_put(u, c, 0);
}

static int readonly(struct lf_union *u)
{
	return u->upper ? 0 : -EROFS;
}

/* Start a change in folder parent that may make newname there (NULL: it
 * makes no name): the folder, busy, under wlock. */
/* Every operation that makes a name (create, mkdir, mknod, symlink,
 * link, rename's target) begins here with it: a name the writable layer
 * keeps for itself (a user's ".wh.Vendor" would be a delete token at her
 * next login) is refused, and so, where Windows' rules are asked for, is
 * a name Windows programs cannot use. */
static int name_ok(const struct lf_union *u, const char *name)
{
	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	if (lf_name_reserved(name))
		return -EINVAL;
	return u->opts.windows_names && lf_name_forbidden(name) ? -EINVAL : 0;
}

/* A change begins: the write lock taken and folder parent held (NULL,
 * *rc set, when it cannot be changed); change_end lets both go. */
static struct unode *change_begin(struct lf_union *u, uint64_t parent, const char *newname,
				  int *rc)
{
	*rc = newname ? name_ok(u, newname) : 0;
	if (!*rc)
		*rc = readonly(u);
	if (*rc)
		return NULL;
	lf_mutex_lock(&u->wlock, LF_LK_UNION_WRITE);
	struct unode *p = node_get(u, parent);
	if (!p) {
		lf_mutex_unlock(&u->wlock);
		*rc = -ESTALE;
	} else if (newname && u->opts.windows_names && p->depth >= LF_DIFF_WINDOWS_DEPTH) {
		/* deeper than publish makes an image of: Windows' own paths
		 * end long before (32,767 characters) */
		node_put(u, p, 0);
		lf_mutex_unlock(&u->wlock);
		*rc = -EINVAL;
	} else if (!S_ISDIR(p->type)) {
		node_put(u, p, 0);
		lf_mutex_unlock(&u->wlock);
		*rc = -ENOTDIR;
	}
	return *rc ? NULL : p;
}

static void change_end(struct lf_union *u, struct unode *p)
{
	node_put(u, p, 0);
	lf_mutex_unlock(&u->wlock);
}

/* Enter a new upper node into folder p's index and the node table. */
static int enter(struct lf_union *u, struct unode *p, const char *name, struct lref ref,
		 uint32_t type, uint64_t ino, struct lf_attr *out)
{
	int rc = dir_put(u, p, name, type, &ref, 1, ino);
	struct uentry e = { .name = (char *)name, .ino = ino, .type = type, .nrefs = 1, .refs = &ref };
	struct unode *c = rc ? NULL : node_intern(u, &e, p);
	if (!rc && !c)
		rc = -ENOMEM;
	if (c) {
		rc = node_attr(u, c, out);
		if (rc)
			node_put(u, c, 1);
	}
	return rc;
}

/* A new folder where a lower layer has that name: built with its opaque
 * marker in the work folder, then renamed into place whole. */
static int make_opaque_dir(struct lf_union *u, lf_ino dir, const char *name,
			   const struct lf_new *w, struct lf_attr *out)
{
	struct lf_layer *up = u->layers[0];
	char tmp[64];
	union_tmp_name(u, tmp, sizeof tmp);
	int rc = up->ops->mkobj(up, up->work, tmp, w, out, NULL);
	if (rc)
		return rc;
	struct lf_new marker = { .mode = S_IFREG, .uid = LF_KEEP_ID, .gid = LF_KEEP_ID };
	rc = up->ops->mkobj(up, out->ino, LF_OPAQUE_NAME, &marker, NULL, NULL);
	if (!rc)
		rc = up->ops->rename(up, up->work, tmp, dir, name, RENAME_NOREPLACE);
	if (rc)
		up->ops->remove(up, up->work, tmp, LF_RM_TREE);
	return rc;
}

static int make_new(struct lf_union *u, uint64_t parent, const char *name,
		    struct lf_new *w, const struct lf_cred *c, struct lf_attr *out, uint64_t *fh)
{
	uint8_t *sd = NULL;
	int rc = union_new_sd(u, c, parent, S_ISDIR(w->mode), &sd, &w->sdlen);
	if (rc)
		return rc;
	w->sd = sd;
	struct unode *p = change_begin(u, parent, name, &rc);
	if (!p) {
		free(sd);
		return rc;
	}
	struct found f;
	rc = find_entry(u, p, name, &f);
	if (!rc) {
		found_free(&f);
		rc = -EEXIST;
	} else if (rc == -ENOENT) {
		rc = union_copy_up(u, p, 1);
	}
	struct lf_layer *up = u->layers[0];
	struct lf_attr a;
	if (!rc) {
		lf_ino dir = p->refs[0].ino;
		if (S_ISDIR(w->mode) && lower_has(u, p, name))
			rc = make_opaque_dir(u, dir, name, w, &a);
		else
			rc = up->ops->mkobj(up, dir, name, w, &a, fh);
	}
	if (!rc) {
		struct lref ref = { 0, a.ino };
		rc = enter(u, p, name, ref, w->mode & S_IFMT, union_entry_ino(u, ref), out);
		if (rc && fh)
			up->ops->release(up, *fh);
	}
	change_end(u, p);
	free(sd);
	return rc;
}

/* What a create, mkdir or symlink makes: owned by c (NULL: the daemon). */
static struct lf_new owned(uint32_t mode, const struct lf_cred *c)
{
	return (struct lf_new){ .mode = mode, .uid = c ? c->uid : LF_KEEP_ID,
				.gid = c ? c->gid : LF_KEEP_ID };
}

int union_create(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		    int flags, const struct lf_cred *c, struct lf_attr *out,
		    struct lf_ufile **file)
{
	struct lf_ufile *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	struct lf_new w = owned(S_IFREG | (mode & 07777), c);
	w.flags = flags;
	int rc = make_new(u, parent, name, &w, c, out, &f->fh);
	if (rc) {
		free(f);
		return rc;
	}
	f->layer = u->layers[0];
	f->ino = out->ino;
	*file = f;
	return 0;
}

int lf_union_create(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		    int flags, const struct lf_cred *c, struct lf_attr *out,
		    struct lf_ufile **file)
{
	union_enter(u);
	return union_leave(u, union_create(u, parent, name, mode, flags, c, out, file));
}

int union_mkdir(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		   const struct lf_cred *c, struct lf_attr *out)
{
	struct lf_new w = owned(S_IFDIR | (mode & 07777), c);
	return make_new(u, parent, name, &w, c, out, NULL);
}

int lf_union_mkdir(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		   const struct lf_cred *c, struct lf_attr *out)
{
	union_enter(u);
	return union_leave(u, union_mkdir(u, parent, name, mode, c, out));
}

int union_mknod(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		uint64_t rdev, const struct lf_cred *c, struct lf_attr *out)
{
	uint32_t type = mode & S_IFMT;
	if (type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR && type != S_IFBLK)
		return -EINVAL;
	if ((type == S_IFCHR || type == S_IFBLK) && c && c->uid != 0)
		return -EPERM;
	struct lf_new w = owned(type | (mode & 07777), c);
	w.rdev = rdev;
	return make_new(u, parent, name, &w, c, out, NULL);
}

int lf_union_mknod(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		   uint64_t rdev, const struct lf_cred *c, struct lf_attr *out)
{
	union_enter(u);
	return union_leave(u, union_mknod(u, parent, name, mode, rdev, c, out));
}

int union_symlink(struct lf_union *u, uint64_t parent, const char *name,
		     const char *target, const struct lf_cred *c, struct lf_attr *out)
{
	struct lf_new w = owned(S_IFLNK | 0777, c);
	w.target = target;
	return make_new(u, parent, name, &w, c, out, NULL);
}

int lf_union_symlink(struct lf_union *u, uint64_t parent, const char *name,
		     const char *target, const struct lf_cred *c, struct lf_attr *out)
{
	union_enter(u);
	return union_leave(u, union_symlink(u, parent, name, target, c, out));
}

int union_link(struct lf_union *u, uint64_t ino, uint64_t newparent, const char *newname,
		  struct lf_attr *out)
{
	int rc;
	struct unode *p = change_begin(u, newparent, newname, &rc);
	if (!p)
		return rc;
	struct unode *n = node_get(u, ino);
	struct found f;
	if (!n)
		rc = -ESTALE;
	else if (S_ISDIR(n->type))
		rc = -EPERM;
	else if ((rc = find_entry(u, p, newname, &f)) == 0) {
		found_free(&f);
		rc = -EEXIST;
	} else if (rc == -ENOENT) {
		rc = union_copy_up(u, n, 0);
	}
	if (!rc)
		rc = union_copy_up(u, p, 1);
	struct lf_attr a;
	struct lf_layer *up = u->layers[0];
	if (!rc)
		rc = up->ops->link(up, n->refs[0].ino, p->refs[0].ino, newname, &a);
	if (!rc) {
		/* the new name is the same node: same number */
		struct lref ref = { 0, a.ino };
		rc = alias_add(u, a.ino, n->ino);
		if (!rc)
			rc = enter(u, p, newname, ref, n->type, n->ino, out);
	}
	if (n)
		node_put(u, n, 0);
	change_end(u, p);
	return rc;
}

int lf_union_link(struct lf_union *u, uint64_t ino, uint64_t newparent, const char *newname,
		  struct lf_attr *out)
{
	union_enter(u);
	return union_leave(u, union_link(u, ino, newparent, newname, out));
}

/* Entry f still names a lower file whose node is already in the writable
 * layer under another name (a lower hard link copied up through one of
 * its names): this name joins that file there, as a hard link, so what is
 * then done to it (a rename) finds it in the writable layer. */
static int link_up_name(struct lf_union *u, struct unode *p, const struct found *f,
			struct unode *n)
{
	int rc = union_copy_up(u, p, 1);
	struct lf_attr a;
	struct lf_layer *up = u->layers[0];
	/* an index entry may not know yet that its name was copied up */
	if (!rc && up->ops->lookup(up, p->refs[0].ino, f->name, &a) == 0)
		return 0;
	if (!rc)
		rc = up->ops->link(up, n->refs[0].ino, p->refs[0].ino, f->name, &a);
	if (!rc)
		rc = alias_add(u, a.ino, n->ino);
	if (!rc) {
		struct lref ref = { 0, a.ino };
		union_dir_update(u, p, f->name, f->ino, &ref, 1);
		links_shadow(u, n->ino, 0);
	}
	return rc;
}

/* The writable layer's copy of node ino is about to lose its last name
 * there (unlinked, renamed over) while names of it in a lower layer still
 * show (a lower hard link copied up through one name): one of those in
 * folder p joins the copy first, so what was written stays reachable.
 * Names in other folders are not looked for (their indexes may not be
 * built); they show the layer's file again. */
static int keep_by_lower_name(struct lf_union *u, struct unode *p, uint64_t ino,
			      const char *leaving)
{
	uint32_t visible;
	if (!links_visible(u, ino, &visible) || visible == 0)
		return 0;
	struct found other = {0};
	struct udir *d;
	int rc = node_dir(u, p, &d);
	if (rc)
		return rc;
	int found = 0;
	for (size_t i = 0; i < d->n && !found && !rc; i++) {
		const struct uentry *e = &d->v[i];
		found = !e->gone && e->ino == ino && e->refs[0].layer != 0 && strcmp(e->name, leaving);
		if (found)
			rc = found_copy(e, &other);
	}
	node_unlock(p);
	if (!found || rc)
		return rc;
	struct unode *n = node_get(u, ino);
	rc = !n ? -ESTALE : link_up_name(u, p, &other, n);
	if (n)
		node_put(u, n, 0);
	found_free(&other);
	return rc;
}

/* Entry f's name stops showing (deleted, renamed over). If it named a
 * lower file with more names, those show one name fewer. */
static void lower_name_gone(struct lf_union *u, const struct found *f)
{
	if (f->refs[0].layer == 0 || S_ISDIR(f->type))
		return;
	struct lf_layer *l = u->layers[f->refs[0].layer];
	struct lf_attr a;
	if (l->ops->getattr(l, f->refs[0].ino, &a) == 0 && a.nlink > 1)
		links_shadow(u, f->ino, a.nlink);
}

/* Take NAME (entry f) out of folder p: a token if a lower layer has it,
 * then the upper entry goes (a folder's moved to the work folder first,
 * so it vanishes at once, then removed with the tokens inside it). */
static int take_out(struct lf_union *u, struct unode *p, const struct found *f)
{
	int rc = 0;
	struct lf_layer *up = u->layers[0];
	int upper = f->refs[0].layer == 0;
	if (!upper || lower_has(u, p, f->name)) {
		rc = union_copy_up(u, p, 1);
		if (!rc)
			rc = make_token(u, p->refs[0].ino, f->name);
	}
	if (rc)
		return rc;
	lower_name_gone(u, f);
	mark_unlinked(u, f->ino);
	if (upper && S_ISDIR(f->type)) {
		char tmp[64];
		union_tmp_name(u, tmp, sizeof tmp);
		rc = up->ops->rename(up, p->refs[0].ino, f->name, up->work, tmp, RENAME_NOREPLACE);
		if (!rc)
			up->ops->remove(up, up->work, tmp, LF_RM_TREE);
	} else if (upper) {
		rc = keep_by_lower_name(u, p, f->ino, f->name);
		if (!rc)
			rc = up->ops->remove(up, p->refs[0].ino, f->name, LF_RM_FILE);
	}
	if (!rc)
		dir_drop(u, p, f->name);
	return rc;
}

/* Is merged folder f empty? */
static int empty_dir(struct lf_union *u, struct unode *p, const struct found *f)
{
	struct uentry e = { .name = f->name, .ino = f->ino, .type = f->type,
			    .nrefs = (uint16_t)f->nrefs, .refs = f->refs };
	struct unode *c = node_intern(u, &e, p);
	if (!c)
		return -ENOMEM;
	struct udir *d;
	int rc = node_dir(u, c, &d);
	if (!rc) {
		for (size_t i = 0; !rc && i < d->n; i++)
			if (!d->v[i].gone)
				rc = -ENOTEMPTY;
		node_unlock(c);
	}
	node_put(u, c, 1);
	return rc;
}

static int remove_name(struct lf_union *u, uint64_t parent, const char *name, int dir)
{
	int rc;
	struct unode *p = change_begin(u, parent, NULL, &rc);
	if (!p)
		return rc;
	struct found f;
	rc = find_entry(u, p, name, &f);
	if (!rc && dir && !S_ISDIR(f.type))
		rc = -ENOTDIR;
	else if (!rc && !dir && S_ISDIR(f.type))
		rc = -EISDIR;
	if (!rc && dir)
		rc = empty_dir(u, p, &f);
	if (!rc)
		rc = take_out(u, p, &f);
	found_free(&f);
	change_end(u, p);
	return rc;
}

int union_unlink(struct lf_union *u, uint64_t parent, const char *name)
{
	return remove_name(u, parent, name, 0);
}

int lf_union_unlink(struct lf_union *u, uint64_t parent, const char *name)
{
	union_enter(u);
	return union_leave(u, union_unlink(u, parent, name));
}

int union_rmdir(struct lf_union *u, uint64_t parent, const char *name)
{
	return remove_name(u, parent, name, 1);
}

int lf_union_rmdir(struct lf_union *u, uint64_t parent, const char *name)
{
	union_enter(u);
	return union_leave(u, union_rmdir(u, parent, name));
}

/* The node of entry f, copied up; busy (node_put it). */
static int copy_up_entry(struct lf_union *u, struct unode *p, const struct found *f,
			 struct unode **out)
{
	struct uentry e = { .name = f->name, .ino = f->ino, .type = f->type,
			    .nrefs = (uint16_t)f->nrefs, .refs = f->refs };
	struct unode *n = node_intern(u, &e, p);
	if (!n)
		return -ENOMEM;
	int rc = union_copy_up(u, n, 0);
	if (!rc && f->refs[0].layer != 0 && n->refs[0].layer == 0 && !S_ISDIR(f->type))
		rc = link_up_name(u, p, f, n);
	/* the lookup reference becomes a busy mark */
	struct unode *b = node_get(u, n->ino);
	node_put(u, n, 1);
	*out = b;
	return rc ? rc : b ? 0 : -ESTALE;
}

/* Under wlock and n's lock: readers that hold neither (a merged file's
 * build, a log line) copy the name under n's lock (node_where). */
static void moved(struct unode *n, struct unode *to, const char *name)
{
	node_lock(n);
	if (node_rename(n, name) == 0) {
		n->parent = to->ino;
		n->depth = to->depth + 1;
	}   /* else it keeps the old name: only a later copy-up would miss it */
	node_unlock(n);
}

static int do_rename(struct lf_union *u, struct unode *p1, const char *name,
		     struct unode *p2, const char *newname, unsigned flags)
{
	struct found s, t = {0};
	int opaque = 0;
	int rc = find_entry(u, p1, name, &s);
	if (rc)
		return rc;
	int rt = find_entry(u, p2, newname, &t);
	/* one entry under two spellings, or one file under two names */
	int same = rt == 0 && p1 == p2 && lf_casecmp(s.name, t.name) == 0;
	if (rt && rt != -ENOENT)
		rc = rt;
	else if (same && !strcmp(s.name, newname))
		rc = 1;                              /* onto itself: nothing to do */
	else if (!rt && !same && t.ino == s.ino)
		rc = flags & RENAME_NOREPLACE ? -EEXIST : 1;  /* hard links: as rename(2) */
	else if ((flags & RENAME_EXCHANGE) && rt)
		rc = -ENOENT;
	else if ((flags & RENAME_NOREPLACE) && !rt && !same)
		rc = -EEXIST;
	else if (!rt && !same && !(flags & RENAME_EXCHANGE)) {
		if (S_ISDIR(s.type) && !S_ISDIR(t.type))
			rc = -ENOTDIR;
		else if (!S_ISDIR(s.type) && S_ISDIR(t.type))
			rc = -EISDIR;
		else if (S_ISDIR(t.type)) {
			/* onto a folder a lower layer has: refused if the merged
			 * folder holds anything, else the moved one hides it (opaque),
			 * as overlayfs does; a source with lower parts is EXDEV below */
			rc = S_ISDIR(s.type) && lower_parts(&s) ? -EXDEV : empty_dir(u, p2, &t);
			opaque = !rc && lower_parts(&t);
		}
	}
	/* A folder with parts in read-only layers would have to take them
	 * along: EXDEV, as overlayfs without redirect_dir (mv copies). */
	if (!rc && S_ISDIR(s.type) && lower_parts(&s))
		rc = -EXDEV;
	if (!rc && (flags & RENAME_EXCHANGE) && S_ISDIR(t.type) && lower_parts(&t))
		rc = -EXDEV;
	struct unode *sn = NULL, *tn = NULL;
	if (!rc)
		rc = copy_up_entry(u, p1, &s, &sn);
	if (!rc && (flags & RENAME_EXCHANGE))
		rc = copy_up_entry(u, p2, &t, &tn);
	if (!rc)
		rc = union_copy_up(u, p2, 1);
	/* the name it leaves must not uncover a lower layer's */
	if (!rc && !(flags & RENAME_EXCHANGE) && !same && lower_has(u, p1, s.name))
		rc = make_token(u, p1->refs[0].ino, s.name);
	/* onto an existing name: that entry's spelling stays, as on NTFS */
	const char *dst = !rt && !same ? t.name : newname;
	struct lf_layer *up = u->layers[0];
	if (!rc && opaque) {
		struct lf_new marker = { .mode = S_IFREG, .uid = LF_KEEP_ID, .gid = LF_KEEP_ID };
		rc = up->ops->mkobj(up, sn->refs[0].ino, LF_OPAQUE_NAME, &marker, NULL, NULL);
		if (rc == -EEXIST)
			rc = 0;          /* opaque already */
	}
	int replaced = !rc && !rt && !same && !(flags & RENAME_EXCHANGE);
	if (replaced && t.refs[0].layer == 0 && !S_ISDIR(t.type))
		rc = keep_by_lower_name(u, p2, t.ino, t.name);
	if (replaced && !rc) {
		lower_name_gone(u, &t);
		mark_unlinked(u, t.ino);
	}
	if (replaced && S_ISDIR(t.type) && t.refs[0].layer == 0)
		rc = up->ops->remove(up, p2->refs[0].ino, t.name, LF_RM_TREE); /* tokens only */
	if (!rc)
		rc = up->ops->rename(up, p1->refs[0].ino, s.name, p2->refs[0].ino, dst,
				     flags & RENAME_EXCHANGE);
	if (!rc && (flags & RENAME_EXCHANGE)) {
		struct lref rs = sn->refs[0], rtt = tn->refs[0];
		rc = dir_put(u, p1, s.name, t.type, &rtt, 1, t.ino);
		if (!rc)
			rc = dir_put(u, p2, t.name, s.type, &rs, 1, s.ino);
		moved(sn, p2, t.name);
		moved(tn, p1, s.name);
	} else if (!rc) {
		struct lref rs = sn->refs[0];
		dir_drop(u, p1, s.name);
		rc = dir_put(u, p2, dst, s.type, &rs, 1, s.ino);
		moved(sn, p2, dst);
	}
	if (sn)
		node_put(u, sn, 0);
	if (tn)
		node_put(u, tn, 0);
	found_free(&s);
	found_free(&t);
	return rc;
}

int union_rename(struct lf_union *u, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname, unsigned flags)
{
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	int rc;
	struct unode *p1 = change_begin(u, parent, newname, &rc);
	if (!p1)
		return rc;
	struct unode *p2 = node_get(u, newparent);
	if (!p2)
		rc = -ESTALE;
	else if (!S_ISDIR(p2->type))
		rc = -ENOTDIR;
	else
		rc = do_rename(u, p1, name, p2, newname, flags);
	if (p2)
		node_put(u, p2, 0);
	change_end(u, p1);
	return rc > 0 ? 0 : rc;
}

int lf_union_rename(struct lf_union *u, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname, unsigned flags)
{
	union_enter(u);
	return union_leave(u, union_rename(u, parent, name, newparent, newname, flags));
}

int union_wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

int union_open_rw(struct lf_union *u, struct unode *n, int flags, struct lf_ufile *f)
{
	int rc = readonly(u);
	if (rc)
		return rc;
	lf_mutex_lock(&u->wlock, LF_LK_UNION_WRITE);
	rc = union_copy_up(u, n, (flags & O_TRUNC) != 0);
	struct lf_layer *up = u->layers[0];
	lf_ino top = n->refs[0].ino;
	lf_mutex_unlock(&u->wlock);
	if (!rc)
		rc = up->ops->open_rw(up, top, flags, &f->fh);
	if (!rc) {
		f->layer = up;
		f->ino = top;
	}
	return rc;
}

/* Node ino, copied up, busy (node_put it). */
static struct unode *upper_node(struct lf_union *u, uint64_t ino, int nodata, int *rc)
{
	*rc = readonly(u);
	if (*rc)
		return NULL;
	struct unode *n = node_get(u, ino);
	if (!n) {
		*rc = -ESTALE;
		return NULL;
	}
	lf_mutex_lock(&u->wlock, LF_LK_UNION_WRITE);
	*rc = union_copy_up(u, n, nodata);
	lf_mutex_unlock(&u->wlock);
	if (*rc) {
		node_put(u, n, 0);
		return NULL;
	}
	return n;
}

int union_setattr(struct lf_union *u, uint64_t ino, struct lf_ufile *f,
		     const struct lf_attr *a, unsigned valid, struct lf_attr *out)
{
	int rc;
	int nodata = (valid & LF_SET_SIZE) && a->size == 0;
	struct unode *n = upper_node(u, ino, nodata, &rc);
	if (!n)
		return rc;
	struct lf_layer *up = u->layers[0];
	/* through the open file if it is the upper one (an unlinked file has
	 * no name left to go by) */
	const uint64_t *fh = f && f->layer == up ? &f->fh : n->held ? &n->hold_fh : NULL;
	rc = up->ops->setattr(up, node_top(u, n).ino, fh, a, valid, NULL);
	if (!rc)
		rc = node_attr(u, n, out);
	node_put(u, n, 0);
	return rc;
}

int lf_union_setattr(struct lf_union *u, uint64_t ino, struct lf_ufile *f,
		     const struct lf_attr *a, unsigned valid, struct lf_attr *out)
{
	union_enter(u);
	return union_leave(u, union_setattr(u, ino, f, a, valid, out));
}

/* Set (value) or remove (value NULL) xattr NAME of node ino, copied up. */
static int change_xattr(struct lf_union *u, uint64_t ino, const char *name, const void *value,
			size_t size, int flags)
{
	int rc;
	struct unode *n = upper_node(u, ino, 0, &rc);
	if (!n)
		return rc;
	struct lf_layer *up = u->layers[0];
	char esc[300];
	name = union_ovl_escape(name, esc, sizeof esc);
	lf_ino top = node_top(u, n).ino;
	rc = value ? up->ops->setxattr(up, top, name, value, size, flags)
		   : up->ops->removexattr(up, top, name);
	node_put(u, n, 0);
	return rc;
}

int union_setxattr(struct lf_union *u, uint64_t ino, const char *name, const void *value,
		   size_t size, int flags)
{
	/* an empty value is a value, not a removal */
	return change_xattr(u, ino, name, value ? value : "", size, flags);
}

int lf_union_setxattr(struct lf_union *u, uint64_t ino, const char *name, const void *value,
		      size_t size, int flags)
{
	union_enter(u);
	return union_leave(u, union_setxattr(u, ino, name, value, size, flags));
}

int union_removexattr(struct lf_union *u, uint64_t ino, const char *name)
{
	return change_xattr(u, ino, name, NULL, 0, 0);
}

int lf_union_removexattr(struct lf_union *u, uint64_t ino, const char *name)
{
	union_enter(u);
	return union_leave(u, union_removexattr(u, ino, name));
}

ssize_t lf_union_pwrite(struct lf_union *u, struct lf_ufile *f, const void *buf, size_t len,
			uint64_t off)
{
	(void)u;
	if (!f->layer->ops->pwrite)
		return -EBADF;
	return f->layer->ops->pwrite(f->layer, f->fh, buf, len, off);
}

int lf_union_fsync(struct lf_union *u, struct lf_ufile *f, int datasync)
{
	(void)u;
	return f->layer->ops->fsync ? f->layer->ops->fsync(f->layer, f->fh, datasync) : 0;
}

int lf_union_fallocate(struct lf_union *u, struct lf_ufile *f, int mode, uint64_t off,
		       uint64_t len)
{
	(void)u;
	if (!f->layer->ops->fallocate)
		return -EBADF;
	return f->layer->ops->fallocate(f->layer, f->fh, mode, off, len);
}

int lf_union_writable(const struct lf_union *u)
{
	return u->upper;
}

static int u_statfs(struct lf_union *u, struct statvfs *out)
{
	memset(out, 0, sizeof *out);
	if (u->upper) {
		struct lf_layer *up = u->layers[0];
		int rc = up->ops->statfs(up, out);
		out->f_namemax = 255;
		return rc;
	}
	out->f_bsize = out->f_frsize = 4096;
	out->f_namemax = 255;
	for (int i = 0; i < u->n; i++)
		if (u->layers[i]->source)
			out->f_blocks += u->layers[i]->extent.length / 4096;
	return 0;
}

int lf_union_statfs(struct lf_union *u, struct statvfs *out)
{
	union_enter(u);
	return union_leave(u, u_statfs(u, out));
}
