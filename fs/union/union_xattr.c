/* Extended attributes through the union: the top layer's, but for the
 * Windows descriptor and attributes, which are the highest layer's that
 * has them; and a whole value read (lf_union_xattr_alloc). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "union_int.h"
#include "layerfs/lockcheck.h"

/* The names in buf (n bytes of a list) as a kernel union shows them:
 * escaped ones unescaped, its own left out. The new length. */
ssize_t union_ovl_unescape_list(char *buf, ssize_t n, size_t size)
{
	(void)size;
	ssize_t out = 0;
	for (ssize_t i = 0; i < n;) {
		const char *name = buf + i;
		size_t k = strlen(name) + 1;
		i += (ssize_t)k;
		if (!strncmp(name, OVL_ESCAPED, sizeof OVL_ESCAPED - 1)) {
			/* shorter by "overlay.": fits where it was */
			size_t drop = sizeof OVL_ESCAPED - sizeof OVL_PREFIX;
			memmove(buf + out, OVL_PREFIX, sizeof OVL_PREFIX - 1);
			memmove(buf + out + sizeof OVL_PREFIX - 1, name + sizeof OVL_ESCAPED - 1,
				k - (sizeof OVL_ESCAPED - 1));
			out += (ssize_t)(k - drop);
		} else if (!strncmp(name, OVL_PREFIX, sizeof OVL_PREFIX - 1)) {
			continue;
		} else {
			memmove(buf + out, name, k);
			out += (ssize_t)k;
		}
	}
	return out;
}

ssize_t union_listxattr(struct lf_union *u, uint64_t ino, char *buf, size_t size)
{
	struct unode *n = node_get(u, ino);
	if (!n)
		return -ESTALE;
	struct lref top = node_top(u, n);
	struct lf_layer *l = u->layers[top.layer];
	ssize_t r = l->ops->listxattr(l, top.ino, buf, size);
	/* a length asked (size 0) stays an upper bound: the list is only
	 * ever shortened */
	if (r > 0 && size)
		r = union_ovl_unescape_list(buf, r, size);
	node_put(u, n, 0);
	return r;
}

ssize_t lf_union_listxattr(struct lf_union *u, uint64_t ino, char *buf, size_t size)
{
	union_enter(u);
	return union_leave_n(u, union_listxattr(u, ino, buf, size));
}

/* The descriptor and the Windows attributes are those of the node's
 * highest layer that has them: a merged folder's copy in a writable or
 * folder layer (made to hold what was put in it) often keeps none, and
 * the folder is still the layers' below. Anything else is the top's. */
ssize_t union_getxattr(struct lf_union *u, uint64_t ino, const char *name,
			  void *buf, size_t size)
{
	char esc[300];
	name = union_ovl_escape(name, esc, sizeof esc);
	struct unode *n = node_get(u, ino);
	if (!n)
		return -ESTALE;
	struct lref refs[64];
	int k = 1;
	if (!strcmp(name, "system.ntfs_acl") || !strcmp(name, "system.ntfs_attrib"))
		k = node_refs_copy(u, n, refs, 64);
	else
		refs[0] = node_top(u, n);
	ssize_t r = -ENODATA;
	for (int i = 0; i < k && (i == 0 || r == -ENODATA || r == -ENOTSUP); i++) {
		struct lf_layer *l = u->layers[refs[i].layer];
		r = l->ops->getxattr(l, refs[i].ino, name, buf, size);
	}
	node_put(u, n, 0);
	return r;
}

ssize_t lf_union_getxattr(struct lf_union *u, uint64_t ino, const char *name,
			  void *buf, size_t size)
{
	union_enter(u);
	return union_leave_n(u, union_getxattr(u, ino, name, buf, size));
}

/* Extended attribute name of ino (*v malloc'd): its length, or -errno
 * (-ENODATA: none). */
ssize_t union_xattr_alloc(struct lf_union *u, uint64_t ino, const char *name, char **v)
{
	*v = NULL;
	for (int tries = 0; tries < 4; tries++) {
		ssize_t n = union_getxattr(u, ino, name, NULL, 0);
		if (n < 0)
			return n;
		if (!(*v = malloc((size_t)n + 1)))
			return -ENOMEM;
		ssize_t got = union_getxattr(u, ino, name, *v, (size_t)n + 1);
		if (got >= 0)
			return got;
		free(*v);
		*v = NULL;
		if (got != -ERANGE)
			return got;
	}
	return -ERANGE;
}

ssize_t lf_union_xattr_alloc(struct lf_union *u, uint64_t ino, const char *name, char **v)
{
	union_enter(u);
	return union_leave_n(u, union_xattr_alloc(u, ino, name, v));
}

ssize_t lf_union_stream_pread(struct lf_union *u, uint64_t ino, const char *name, void *buf,
			      size_t len, uint64_t off)
{
	lf_rdlock(&u->cfg, LF_LK_UNION_CFG);
	struct unode *n = node_get(u, ino);
	ssize_t r = -ESTALE;
	if (n) {
		struct lref top = node_top(u, n);
		struct lf_layer *l = u->layers[top.layer];
		r = l->ops->stream_pread ? l->ops->stream_pread(l, top.ino, name, buf, len, off)
					 : -ENODATA;
		node_put(u, n, 0);
	}
	lf_rwunlock(&u->cfg);
	return r;
}
