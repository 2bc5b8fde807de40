/* Copy-up: before a node from a read-only layer is changed, the writable
 * layer gets a copy of it (its folders first). The copy is made under a
 * temporary name in the work folder, with its data, owner, mode, user.*
 * xattrs and times, and only then renamed into place: a daemon killed
 * half-way leaves a temporary (emptied at the next mount), never a
 * half-copied file in the view. The node keeps its number. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "union_write_int.h"

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

/* Make a copy of node n (from layer node `from`) in the work folder;
 * its node in the writable layer goes in *made, the layer's link count of
 * what it copied in *layer_nlink. */
static int make_copy(struct lf_union *u, struct unode *n, struct lref from, int nodata,
		     const char *tmp, lf_ino *made, uint32_t *layer_nlink)
{
	struct lf_layer *l = u->layers[from.layer], *up = u->layers[0];
	struct lf_attr a, t;
	int rc = l->ops->getattr(l, from.ino, &a);
	if (rc)
		return rc;
	*layer_nlink = S_ISDIR(a.mode) ? 1 : a.nlink;
	char target[4096];
	struct lf_new w = { .mode = a.mode, .uid = a.uid, .gid = a.gid, .flags = O_WRONLY,
			    .rdev = a.rdev };
	if (S_ISLNK(a.mode)) {
		/* as the view shows it: a target from the layer's root was
		 * made relative, and stays so in the copy */
		ssize_t tn = union_link_target(u, n, target, sizeof target);
		if (tn < 0)
			return (int)tn;
		w.target = target;
	}
	/* FIFOs, sockets and devices (a layer packed from Linux keeps them)
	 * are made anew: they have no data */
	uint64_t fh = (uint64_t)-1;
	rc = up->ops->mkobj(up, up->work, tmp, &w, &t, S_ISREG(a.mode) ? &fh : NULL);
	if (rc)
		return rc;
	if (S_ISREG(a.mode) && !nodata)
		rc = copy_data(u, from, fh);
	if (S_ISREG(a.mode))
		up->ops->release(up, fh);
	if (!rc)
		rc = copy_xattrs(u, from, t.ino);
	if (!rc)
		rc = up->ops->setattr(up, t.ino, NULL, &a, LF_SET_ATIME | LF_SET_MTIME, NULL);
	*made = t.ino;
	return rc;
}

int union_copy_up(struct lf_union *u, struct unode *n, int nodata)
{
	if (n->refs[0].layer == 0)
		return 0;        /* there already (the root always is) */
	if (n->detached)
		return -ESTALE;  /* its layer left the set: read only, until forgotten */
	struct unode *p = node_get(u, n->parent);
	if (!p)
		return -ESTALE;
	int rc = union_copy_up(u, p, 1);
	struct lf_layer *up = u->layers[0];
	char tmp[64];
	union_tmp_name(u, tmp, sizeof tmp);
	lf_ino made = 0;
	uint32_t layer_nlink = 1;
	if (!rc)
		rc = make_copy(u, n, n->refs[0], nodata, tmp, &made, &layer_nlink);
	if (!rc)
		rc = up->ops->rename(up, up->work, tmp, p->refs[0].ino, n->name, RENAME_NOREPLACE);
	struct lf_attr there;
	if (rc == -EEXIST && S_ISDIR(n->type) &&
	    up->ops->lookup(up, p->refs[0].ino, n->name, &there) == 0 && S_ISDIR(there.mode)) {
		/* the folder is in the writable layer already, made beside the
		 * union (the registry view saves its fragments under
		 * Windows/System32/config itself): that one is the copy */
		up->ops->remove(up, up->work, tmp, LF_RM_TREE);
		made = there.ino;
		rc = 0;
	} else if (rc && made) {
		up->ops->remove(up, up->work, tmp, LF_RM_TREE);
	}
	struct lref *refs = NULL;
	int nrefs = 0;
	if (!rc) {
		/* a folder goes on merging with the ones below it */
		nrefs = S_ISDIR(n->type) ? n->nrefs + 1 : 1;
		refs = malloc((size_t)nrefs * sizeof *refs);
		if (!refs)
			rc = -ENOMEM;
	}
	if (!rc) {
		refs[0] = (struct lref){ 0, made };
		memcpy(refs + 1, n->refs, (size_t)(nrefs - 1) * sizeof *refs);
		rc = alias_add(u, made, n->ino);
		node_lock(n);
		if (!rc)
			rc = node_set_refs(u, n, refs, nrefs);
		if (!rc && n->dir)
			n->dir->nused++;
		node_unlock(n);
	}
	if (!rc)
		union_dir_update(u, p, n->name, n->ino, refs, nrefs);
	if (!rc && layer_nlink > 1)
		links_shadow(u, n->ino, layer_nlink);   /* the copy shadows this name */
	free(refs);
	node_put(u, p, 0);
	return rc;
}
