/* The mount's requests (layerfs/union_req.h): each one enters the union
 * once, checks the caller's rights inside, and does the work; the shape
 * of fuse-overlayfs' handlers (lock, check, act, unlock) with the check
 * and the act sharing one view of the layer set, so what was checked is
 * what is changed. Descriptors read during a request are kept until it
 * leaves (union_sds_*): a create reads its folder's once, to check and to
 * inherit from. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "layerfs/security.h"
#include "layerfs/union_req.h"
#include "union_int.h"

static void enter(struct lf_union *u)
{
	union_enter(u);
	union_sds_begin();
}

static int leave(struct lf_union *u, int rc)
{
	union_sds_end();
	return union_leave(u, rc);
}

/* After a change: what the reply shows is read afresh. */
static void shown(struct lf_union *u, const struct lf_cred *c, int rc, struct lf_attr *out)
{
	union_sds_forget();
	if (!rc)
		union_show(u, c, out);
}

int lf_req_lookup(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		  const char *name, struct lf_attr *out)
{
	enter(u);
	int rc = union_lookup(u, parent, name, out);
	if (!rc)
		union_show(u, c, out);
	return leave(u, rc);
}

int lf_req_getattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		   struct lf_attr *out)
{
	enter(u);
	int rc = union_getattr(u, ino, out);
	if (!rc)
		union_show(u, c, out);
	return leave(u, rc);
}

int lf_req_access(struct lf_union *u, const struct lf_cred *c, uint64_t ino, int mask)
{
	enter(u);
	return leave(u, union_may_access(u, c, ino, mask));
}

int lf_req_open(struct lf_union *u, const struct lf_cred *c, uint64_t ino, int flags,
		struct lf_ufile **out)
{
	enter(u);
	int rc = union_may_open(u, c, ino, flags);
	if (!rc)
		rc = union_open_file(u, ino, flags, out);
	return leave(u, rc);
}

int lf_req_opendir(struct lf_union *u, const struct lf_cred *c, uint64_t ino)
{
	enter(u);
	struct lf_attr a;
	int rc = union_getattr(u, ino, &a);
	if (!rc && !S_ISDIR(a.mode))
		rc = -ENOTDIR;
	if (!rc)
		rc = union_may(u, c, ino, LF_FILE_LIST_DIRECTORY);
	return leave(u, rc);
}

int lf_req_readdir(struct lf_union *u, const struct lf_cred *c, uint64_t ino, uint64_t off,
		   int plus, lf_union_dirent_fn keep, lf_req_kept_fn kept, void *ctx)
{
	enter(u);
	int rc = union_readdir(u, ino, off, plus, keep, ctx);
	struct lf_attr *a;
	for (size_t i = 0; plus && (a = kept(ctx, i)) != NULL; i++)
		union_show(u, c, a);
	return leave(u, rc);
}

ssize_t lf_req_getxattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
			const char *name, void *buf, size_t size)
{
	enter(u);
	ssize_t n = union_may_xattr(u, c, ino, name, 0);
	if (!n)
		n = union_getxattr(u, ino, name, buf, size);
	union_sds_end();
	return union_leave_n(u, n);
}

ssize_t lf_req_listxattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino, char *buf,
			 size_t size)
{
	enter(u);
	ssize_t n = union_may_list_xattrs(u, c, ino);
	if (!n)
		n = union_listxattr(u, ino, buf, size);
	union_sds_end();
	return union_leave_n(u, n);
}

int lf_req_create(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		  const char *name, uint32_t mode, int flags, struct lf_attr *out,
		  struct lf_ufile **file)
{
	enter(u);
	int rc = union_may_make(u, c, parent, S_IFREG);
	if (!rc)
		rc = union_create(u, parent, name, mode, flags, c, out, file);
	shown(u, c, rc, out);
	return leave(u, rc);
}

int lf_req_mknod(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		 const char *name, uint32_t mode, uint64_t rdev, struct lf_attr *out)
{
	enter(u);
	int rc = union_may_make(u, c, parent, mode & S_IFMT);
	struct lf_ufile *f;
	if (!rc && S_ISREG(mode)) {
		rc = union_create(u, parent, name, mode, O_WRONLY, c, out, &f);
		if (!rc)
			lf_union_release(u, f);
	} else if (!rc) {
		/* FIFOs, sockets (bind), devices: in the writable layer's
		 * folder, which holds them as any Linux folder does */
		rc = union_mknod(u, parent, name, mode, rdev, c, out);
	}
	shown(u, c, rc, out);
	return leave(u, rc);
}

int lf_req_mkdir(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		 const char *name, uint32_t mode, struct lf_attr *out)
{
	enter(u);
	int rc = union_may_make(u, c, parent, S_IFDIR);
	if (!rc)
		rc = union_mkdir(u, parent, name, mode, c, out);
	shown(u, c, rc, out);
	return leave(u, rc);
}

int lf_req_symlink(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		   const char *name, const char *target, struct lf_attr *out)
{
	enter(u);
	int rc = union_may_make(u, c, parent, S_IFLNK);
	if (!rc)
		rc = union_symlink(u, parent, name, target, c, out);
	shown(u, c, rc, out);
	return leave(u, rc);
}

int lf_req_link(struct lf_union *u, const struct lf_cred *c, uint64_t ino, uint64_t newparent,
		const char *newname, struct lf_attr *out)
{
	enter(u);
	int rc = union_may_link(u, c, ino, newparent);
	if (!rc)
		rc = union_link(u, ino, newparent, newname, out);
	shown(u, c, rc, out);
	return leave(u, rc);
}

int lf_req_unlink(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		  const char *name)
{
	enter(u);
	int rc = union_may_delete(u, c, parent, name);
	return leave(u, rc ? rc : union_unlink(u, parent, name));
}

int lf_req_rmdir(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		 const char *name)
{
	enter(u);
	int rc = union_may_delete(u, c, parent, name);
	return leave(u, rc ? rc : union_rmdir(u, parent, name));
}

int lf_req_rename(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		  const char *name, uint64_t newparent, const char *newname, unsigned flags)
{
	enter(u);
	int rc = union_may_rename(u, c, parent, name, newparent, newname);
	if (!rc && (flags & RENAME_EXCHANGE))   /* both go both ways */
		rc = union_may_rename(u, c, newparent, newname, parent, name);
	if (!rc)
		rc = union_rename(u, parent, name, newparent, newname, flags);
	return leave(u, rc);
}

int lf_req_setattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		   struct lf_ufile *f, const struct lf_attr *a, unsigned valid,
		   struct lf_attr *out)
{
	enter(u);
	int rc = union_may_setattr(u, c, ino, f ? valid & ~LF_SET_SIZE : valid);
	if (!rc)
		rc = union_setattr(u, ino, f, a, valid, out);
	shown(u, c, rc, out);
	return leave(u, rc);
}

int lf_req_setxattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		    const char *name, const void *value, size_t size, int flags)
{
	enter(u);
	int rc = union_may_xattr(u, c, ino, name, 1);
	return leave(u, rc ? rc : union_setxattr(u, ino, name, value, size, flags));
}

int lf_req_removexattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		       const char *name)
{
	enter(u);
	int rc = union_may_xattr(u, c, ino, name, 1);
	return leave(u, rc ? rc : union_removexattr(u, ino, name));
}
