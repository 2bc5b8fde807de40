/* Copy-up: before a node from a read-only layer is changed, the writable
 * layer gets a copy of it (its folders first). The copy is made under a
 * temporary name in the work folder, with its data, owner, mode, user.*
 * xattrs and times, its data fsynced, and only then renamed into place:
 * a daemon killed (or a host crashed) half-way leaves a temporary
 * (emptied at the next mount), never a half-copied file in the view. The
 * node keeps its number. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/grow.h"
#include "union_write_int.h"
#include "layerfs/metrics.h"

#define COPY_CHUNK (1u << 20)

int union_tmp_name(struct lf_union *u, char *buf, size_t size)
{
	/* under wlock: the counter needs no lock of its own */
	snprintf(buf, size, "tmp.%ld.%llu", (long)getpid(), (unsigned long long)++u->tmp_seq);
	return 0;
}

static int copy_data(struct lf_union *u, struct lref from, uint64_t to)
{
	struct lf_layer *l = u->layers[from.layer], *up = u->layers[0];
	uint64_t fh;
	int rc = l->ops->open(l, from.ino, &fh);
	if (rc)
		return rc;
	char *buf = malloc(COPY_CHUNK);
	if (!buf)
		rc = -ENOMEM;
	for (uint64_t off = 0; !rc;) {
		ssize_t n = l->ops->pread(l, fh, buf, COPY_CHUNK, off);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		ssize_t w = up->ops->pwrite(up, to, buf, (size_t)n, off);
		if (w != n)
			rc = w < 0 ? (int)w : -EIO;
		else
			lf_metrics()->copyup_bytes += (uint64_t)n;
		off += (uint64_t)n;
	}
	free(buf);
	l->ops->release(l, fh);
	return rc;
}

/* The user.* xattrs (NTFS streams among them), the Windows descriptor
 * and attributes (a hidden, system desktop.ini stays so once changed),
 * extended attributes and object ID (publish gives them back); the other
 * system.ntfs_* names describe where an NTFS file lies and have no place
 * on a host file. */
static int copy_xattrs(struct lf_union *u, struct lref from, lf_ino to)
{
	struct lf_layer *l = u->layers[from.layer], *up = u->layers[0];
	ssize_t size = l->ops->listxattr(l, from.ino, NULL, 0);
	if (size <= 0)
		return size == -ENOTSUP ? 0 : (int)size;
	char *names = malloc((size_t)size);
	if (!names)
		return -ENOMEM;
	int rc = 0;
	size = l->ops->listxattr(l, from.ino, names, (size_t)size);
	for (ssize_t i = 0; !rc && i < size; i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		if (strncmp(name, "user.", 5) && strcmp(name, "system.ntfs_acl") &&
		    strcmp(name, "system.ntfs_attrib") && strcmp(name, "system.ntfs_ea") &&
		    strcmp(name, "system.ntfs_object_id"))
			continue;
		ssize_t vn = l->ops->getxattr(l, from.ino, name, NULL, 0);
		char *v = vn >= 0 ? malloc(vn ? (size_t)vn : 1) : NULL;
		if (vn >= 0 && !v)
			rc = -ENOMEM;
		if (v && (vn = l->ops->getxattr(l, from.ino, name, v, (size_t)vn)) >= 0)
			rc = up->ops->setxattr(up, to, name, v, (size_t)vn, 0);
		free(v);
		if (rc == -ENOTSUP || rc == -EPERM)
			rc = 0;  /* the host cannot hold it (a symlink's, say) */
	}
	free(names);
	return rc < 0 ? rc : 0;
}

/* One node's copy-up (the kernel's ovl_copy_up_ctx): what is copied,
 * into which folder, and what is made on the way. */
struct copy_up {
	struct unode *n;          /* the node copied (busy) */
	struct unode *p;          /* its folder, in the writable layer (busy) */
	struct lref from;         /* the layer node copied: n's top */
	int nodata;               /* its data is not wanted (a truncate, a folder) */
	char tmp[64];             /* the copy's name in the work folder */
	lf_ino made;              /* the copy, in the writable layer (0: none yet) */
	uint32_t layer_nlink;     /* the layer's link count of what was copied */
};

/* Make the copy of c->n in the work folder: c->made, c->layer_nlink. A
 * file's data is fsynced before the copy is renamed into place (as the
 * kernel's overlayfs does): the name must never show a copy whose data
 * a crash could still take away, over a lower file that had it. */
static int make_copy(struct lf_union *u, struct copy_up *c)
{
	struct lf_layer *l = u->layers[c->from.layer], *up = u->layers[0];
	struct lf_attr a, t;
	int rc = l->ops->getattr(l, c->from.ino, &a);
	if (rc)
		return rc;
	c->layer_nlink = S_ISDIR(a.mode) ? 1 : a.nlink;
	char target[4096];
	struct lf_new w = { .mode = a.mode, .uid = a.uid, .gid = a.gid, .flags = O_WRONLY,
			    .rdev = a.rdev };
	if (S_ISLNK(a.mode)) {
		/* as the view shows it: a target from the layer's root was
		 * made relative, and stays so in the copy */
		ssize_t tn = union_link_target(u, c->n, target, sizeof target);
		if (tn < 0)
			return (int)tn;
		w.target = target;
	}
	/* FIFOs, sockets and devices (a layer packed from Linux keeps them)
	 * are made anew: they have no data, and are never opened */
	uint64_t fh = (uint64_t)-1;
	rc = up->ops->mkobj(up, up->work, c->tmp, &w, &t, S_ISREG(a.mode) ? &fh : NULL);
	if (rc)
		return rc;
	c->made = t.ino;
	if (S_ISREG(a.mode) && !c->nodata) {
		rc = copy_data(u, c->from, fh);
		if (!rc && up->ops->fsync)
			rc = up->ops->fsync(up, fh, 1);
	}
	if (S_ISREG(a.mode))
		up->ops->release(up, fh);
	if (!rc)
		rc = copy_xattrs(u, c->from, t.ino);
	if (!rc)
		rc = up->ops->setattr(up, t.ino, NULL, &a, LF_SET_ATIME | LF_SET_MTIME, NULL);
	return rc;
}

/* Rename the copy into n's folder under n's name. */
static int put_in_place(struct lf_union *u, struct copy_up *c)
{
	struct lf_layer *up = u->layers[0];
	int rc = up->ops->rename(up, up->work, c->tmp, c->p->refs[0].ino, c->n->name,
				 RENAME_NOREPLACE);
	struct lf_attr there;
	if (rc == -EEXIST && S_ISDIR(c->n->type) &&
	    up->ops->lookup(up, c->p->refs[0].ino, c->n->name, &there) == 0 &&
	    S_ISDIR(there.mode)) {
		/* the folder is in the writable layer already, made beside the
		 * union (the registry view saves its fragments under
		 * Windows/System32/config itself): that one is the copy */
		up->ops->remove(up, up->work, c->tmp, LF_RM_TREE);
		c->made = there.ino;
		return 0;
	}
	return rc;
}

/* n now reads the copy: its refs, its folder's entry, its number kept. */
static int take_copy(struct lf_union *u, struct copy_up *c)
{
	struct unode *n = c->n;
	/* a folder goes on merging with the ones below it */
	int nrefs = S_ISDIR(n->type) ? n->nrefs + 1 : 1;
	struct lref *refs = malloc((size_t)nrefs * sizeof *refs);
	if (!refs)
		return -ENOMEM;
	refs[0] = (struct lref){ 0, c->made };
	memcpy(refs + 1, n->refs, (size_t)(nrefs - 1) * sizeof *refs);
	int rc = alias_add(u, c->made, n->ino);
	node_lock(n);
	if (!rc)
		rc = node_set_refs(u, n, refs, nrefs);
	if (!rc && n->dir)
		n->dir->nused++;
	node_unlock(n);
	if (!rc)
		union_dir_update(u, c->p, n->name, n->ino, refs, nrefs);
	if (!rc && c->layer_nlink > 1)
		links_shadow(u, n->ino, c->layer_nlink);   /* the copy shadows this name */
	free(refs);
	return rc;
}

/* Copy n up, its folder p being in the writable layer already. */
static int copy_one(struct lf_union *u, struct unode *n, struct unode *p, int nodata)
{
	if (n->refs[0].layer == 0)
		return 0;
	if (n->detached)
		return -ESTALE;  /* its layer left the set: read only, until forgotten */
	struct copy_up c = { .n = n, .p = p, .from = n->refs[0], .nodata = nodata,
			     .layer_nlink = 1 };
	union_tmp_name(u, c.tmp, sizeof c.tmp);
	int rc = make_copy(u, &c);
	if (!rc)
		rc = put_in_place(u, &c);
	if (rc && c.made) {
		/* a half copy (no room for its data, say) or one not placed */
		struct lf_layer *up = u->layers[0];
		up->ops->remove(up, up->work, c.tmp, LF_RM_TREE);
	}
	if (!rc)
		lf_metrics()->copyups++;
	return rc ? rc : take_copy(u, &c);
}

int union_copy_up(struct lf_union *u, struct unode *n, int nodata)
{
	if (n->refs[0].layer == 0)
		return 0;        /* there already (the root always is) */
	if (n->detached)
		return -ESTALE;  /* its layer left the set: read only, until forgotten */
	/* The folders above that are not copied yet, nearest first (busy):
	 * a loop, not recursion, as a path may be 65,535 folders deep. */
	struct unode **up = NULL;
	size_t k = 0, cap = 0;
	int rc = 0;
	for (struct unode *at = n; !rc;) {
		struct unode *p = node_get(u, at->parent);
		if (!p) {
			rc = -ESTALE;
			break;
		}
		if (lf_grow(&up, &cap, k, sizeof *up, 8)) {
			node_put(u, p, 0);
			rc = -ENOMEM;
			break;
		}
		up[k++] = p;
		if (p->refs[0].layer == 0)
			break;
		at = p;
	}
	/* up[k - 1] is in the writable layer: copy each below it, top down */
	for (size_t i = k - 1; !rc && i > 0; i--)
		rc = copy_one(u, up[i - 1], up[i], 1);
	if (!rc)
		rc = copy_one(u, n, up[0], nodata);
	for (size_t i = 0; i < k; i++)
		node_put(u, up[i], 0);
	free(up);
	return rc;
}
