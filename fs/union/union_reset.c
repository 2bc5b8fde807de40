/* Reset: take the personalization layer's copy of PATH (or its delete
 * token) away, so the read-only layers' version shows again. Offline on
 * the upper folder, or through a running union, which then drops what it
 * knew of the name and says what the kernel must forget. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/casefold.h"
#include "union_write_int.h"
#include "layerfs/lockcheck.h"

struct match {
	char **names;
	uint32_t *types;
	size_t n;
	const char *want;
	int err;
};

/* NAME or .wh.NAME, in any case. */
static int collect_match(void *ctx, const char *name, lf_ino ino, uint32_t type)
{
	(void)ino;
	struct match *m = ctx;
	size_t pl = strlen(LF_WHITEOUT_PREFIX);
	int hit = lf_casecmp(name, m->want) == 0 ||
		  (!strncmp(name, LF_WHITEOUT_PREFIX, pl) && lf_casecmp(name + pl, m->want) == 0);
	if (!hit)
		return 0;
	char **nv = realloc(m->names, (m->n + 1) * sizeof *nv);
	uint32_t *tv = nv ? realloc(m->types, (m->n + 1) * sizeof *tv) : NULL;
	if (nv)
		m->names = nv;
	if (tv)
		m->types = tv;
	if (!nv || !tv || !(m->names[m->n] = strdup(name))) {
		m->err = -ENOMEM;
		return 1;
	}
	m->types[m->n++] = type;
	return 0;
}

/* Remove NAME's copies and tokens from the upper folder dir; each removed
 * name is reported. Folders go to the work folder first, so they vanish
 * whole. Returns how many were removed, or an error. */
static int reset_in(struct lf_layer *up, lf_ino dir, const char *name, uint64_t *seq,
		    lf_reset_fn fn, void *ctx)
{
	struct match m = { .want = name };
	int rc = up->ops->readdir(up, dir, collect_match, &m);
	if (!rc)
		rc = m.err;
	int removed = 0;
	for (size_t i = 0; i < m.n && !rc; i++) {
		if (S_ISDIR(m.types[i])) {
			char tmp[64];
			snprintf(tmp, sizeof tmp, "reset.%llu", (unsigned long long)++*seq);
			rc = up->ops->rename(up, dir, m.names[i], up->work, tmp, RENAME_NOREPLACE);
			if (!rc)
				rc = up->ops->remove(up, up->work, tmp, LF_RM_TREE);
		} else {
			rc = up->ops->remove(up, dir, m.names[i], LF_RM_FILE);
		}
		if (!rc) {
			removed++;
			if (fn)
				fn(ctx, m.names[i], m.types[i]);
		}
	}
	for (size_t i = 0; i < m.n; i++)
		free(m.names[i]);
	free(m.names);
	free(m.types);
	return rc ? rc : removed;
}

static void mark_gone(struct lf_union *u, uint64_t ino)
{
	struct unode *c = node_get(u, ino);
	if (c) {
		c->unlinked = 1;
		node_put(u, c, 0);
	}
}

/* Split PATH into its folder and its last name (both in folder's
 * buffer: "a/b/c" -> "a/b" and "c"). */
static int split(const char *path, char *folder, size_t fsize, const char **last)
{
	while (*path == '/')
		path++;
	size_t n = strlen(path);
	while (n && path[n - 1] == '/')
		n--;
	if (!n || n >= fsize)
		return n ? -ENAMETOOLONG : -EINVAL;
	if (n + 2 > fsize)
		return -ENAMETOOLONG;
	/* a leading '/' keeps a name without a folder apart from "" */
	folder[0] = '/';
	memcpy(folder + 1, path, n);
	folder[n + 1] = 0;
	char *slash = strrchr(folder, '/');
	*last = slash + 1;
	*slash = 0;
	memmove(folder, folder + 1, (size_t)(slash - folder));
	for (char *p = folder, *q; *p; p = q + 1) {
		q = strchr(p, '/');
		size_t len = q ? (size_t)(q - p) : strlen(p);
		if ((len == 2 && !strncmp(p, "..", 2)) || (len == 1 && *p == '.'))
			return -EINVAL;  /* paths are from the layer's root, never up */
		if (!q)
			break;
	}
	return !strcmp(*last, "..") || !strcmp(*last, ".") ? -EINVAL : 0;
}

int lf_upper_reset(const char *upper, const char *path, lf_reset_fn fn, void *ctx,
		   struct lf_err *err)
{
	char folder[4096];
	const char *name;
	int rc = split(path, folder, sizeof folder, &name);
	if (rc)
		return lf_err_set(err, -rc, "%s: not a path inside the layer", path);
	struct lf_layer *up;
	rc = lf_layer_open_upper(upper, NULL, &up, err);
	if (rc)
		return rc;
	struct lf_attr a;
	rc = lf_layer_resolve(up, folder, &a);
	uint64_t seq = 0;
	if (rc == -ENOENT || rc == -ENOTDIR)
		rc = 0;  /* nothing of it was ever changed */
	else if (rc)
		lf_err_set(err, -rc, "%s: %s: %s", upper, folder, strerror(-rc));
	else if ((rc = reset_in(up, a.ino, name, &seq, fn, ctx)) < 0)
		lf_err_set(err, -rc, "%s: %s: %s", upper, path, strerror(-rc));
	lf_layer_close(up);
	return rc;
}

static int u_reset(struct lf_union *u, const char *path, struct lf_reset_inval *inval)
{
	char folder[4096];
	const char *name;
	int rc = split(path, folder, sizeof folder, &name);
	if (rc)
		return rc;
	if (!u->upper)
		return -EROFS;
	memset(inval, 0, sizeof *inval);
	lf_mutex_lock(&u->wlock, LF_LK_UNION_WRITE);
	/* the folder, walked through the merged view */
	struct unode *p = node_get(u, LF_UNION_ROOT);
	for (char *c = folder, *next; p && *c && !rc; c = next) {
		next = strchr(c, '/');
		if (next)
			*next++ = 0;
		else
			next = c + strlen(c);
		struct lf_attr a;
		rc = union_lookup(u, p->ino, c, &a);
		struct unode *q = rc ? NULL : node_get(u, a.ino);
		if (!rc)
			union_forget(u, a.ino, 1);
		node_put(u, p, 0);
		p = q;
		if (!rc && !q)
			rc = -ESTALE;
	}
	if (!p && !rc)
		rc = -ESTALE;
	struct lf_layer *up = u->layers[0];
	if (!rc && p->refs[0].layer == 0)
		rc = reset_in(up, p->refs[0].ino, name, &u->tmp_seq, NULL, NULL);
	else if (!rc)
		rc = 0;  /* its folder was never copied up: nothing to take away */
	if (rc > 0) {
		/* What was there is gone; what shows now is the lower layers'.
		 * The folder's index is built again; a node that lives on under
		 * the same number is pointed at its new layers. */
		inval->parent = p->ino;
		snprintf(inval->name, sizeof inval->name, "%s", name);
		node_lock(p);
		struct uentry *e = p->dir ? udir_find(p->dir, name) : NULL;
		inval->ino = e ? e->ino : 0;
		udir_free(p->dir);
		p->dir = NULL;
		node_unlock(p);
		struct udir *d;
		if (node_dir(u, p, &d) == 0) {
			e = udir_find(d, name);
			struct unode *c = e ? node_get(u, e->ino) : NULL;
			if (c) {
				node_lock_child(c);
				node_set_refs(u, c, e->refs, e->nrefs);
				udir_free(c->dir);   /* a folder's contents changed too */
				c->dir = NULL;
				node_unlock(c);
			}
			node_unlock(p);
			if (c) {
				c->unlinked = 0;
				node_put(u, c, 0);
			}
		}
		if (inval->ino && (!e || e->ino != inval->ino))
			mark_gone(u, inval->ino);
		rc = 0;
	} else if (rc == 0) {
		rc = -ENOENT;  /* nothing there to reset */
	}
	if (p)
		node_put(u, p, 0);
	lf_mutex_unlock(&u->wlock);
	return rc;
}

int lf_union_reset(struct lf_union *u, const char *path, struct lf_reset_inval *inval)
{
	union_enter(u);
	return union_leave(u, u_reset(u, path, inval));
}
