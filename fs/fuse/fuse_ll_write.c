/* FUSE low-level glue, write side: requests that change the tree, turned
 * into union engine calls. Only a union with a writable layer gets these
 * (a read-only mount is mounted "ro" and the kernel answers EROFS). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_ll_int.h"
#include "layerfs/metrics.h"
#include "layerfs/union.h"
#include "layerfs/union_req.h"
#include "layerfs/lockcheck.h"

#define FILE_OF(fi) ((struct lf_ufile *)(uintptr_t)(fi)->fh)

static void reply_entry(fuse_req_t req, int rc, struct lf_attr *a)
{
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct fuse_entry_param e;
	fl_fill_entry(CTX(req), a, &e);
	if (fuse_reply_entry(req, &e))
		lf_union_forget(CTX(req)->u, a->ino, 1); /* the caller went away */
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(create);
	struct ctx *c = CTX(req);
	struct lf_cred cr = fl_cred(req);
	struct lf_attr a;
	struct lf_ufile *f;
	int rc = lf_req_create(c->u, &cr, parent, name, mode, fi->flags, &a, &f);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct fuse_entry_param e;
	fl_fill_entry(c, &a, &e);
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->noflush = 1;  /* close need not ask: writes are in the host file */
	if (fuse_reply_create(req, &e, fi)) {
		lf_union_release(c->u, f);
		lf_union_forget(c->u, a.ino, 1);
	}
}

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	LF_FUSE_TIMED(mknod);
	struct ctx *c = CTX(req);
	struct lf_cred cr = fl_cred(req);
	struct lf_attr a;
	reply_entry(req, lf_req_mknod(c->u, &cr, parent, name, mode, rdev, &a), &a);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	LF_FUSE_TIMED(mkdir);
	struct lf_cred cr = fl_cred(req);
	struct lf_attr a;
	reply_entry(req, lf_req_mkdir(CTX(req)->u, &cr, parent, name, mode, &a), &a);
}

static void ll_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	LF_FUSE_TIMED(symlink);
	struct lf_cred cr = fl_cred(req);
	struct lf_attr a;
	reply_entry(req, lf_req_symlink(CTX(req)->u, &cr, parent, name, target, &a), &a);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	LF_FUSE_TIMED(link);
	struct lf_cred cr = fl_cred(req);
	struct lf_attr a;
	reply_entry(req, lf_req_link(CTX(req)->u, &cr, ino, newparent, newname, &a), &a);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	LF_FUSE_TIMED(unlink);
	struct lf_cred cr = fl_cred(req);
	fuse_reply_err(req, -lf_req_unlink(CTX(req)->u, &cr, parent, name));
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	LF_FUSE_TIMED(rmdir);
	struct lf_cred cr = fl_cred(req);
	fuse_reply_err(req, -lf_req_rmdir(CTX(req)->u, &cr, parent, name));
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	LF_FUSE_TIMED(rename);
	struct lf_cred cr = fl_cred(req);
	fuse_reply_err(req, -lf_req_rename(CTX(req)->u, &cr, parent, name, newparent, newname,
					  flags));
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, int to_set,
		       struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(setattr);
	static const struct { int fuse; unsigned lf; } map[] = {
		{ FUSE_SET_ATTR_MODE, LF_SET_MODE }, { FUSE_SET_ATTR_UID, LF_SET_UID },
		{ FUSE_SET_ATTR_GID, LF_SET_GID }, { FUSE_SET_ATTR_SIZE, LF_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, LF_SET_ATIME }, { FUSE_SET_ATTR_MTIME, LF_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, LF_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, LF_SET_MTIME_NOW },
	};
	unsigned valid = 0;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (to_set & map[i].fuse)
			valid |= map[i].lf;
	struct lf_attr a = { .mode = st->st_mode, .uid = st->st_uid, .gid = st->st_gid,
			     .size = (uint64_t)st->st_size, .atime = st->st_atim,
			     .mtime = st->st_mtim };
	struct lf_attr out;
	struct ctx *c = CTX(req);
	struct lf_cred cr = fl_cred(req);
	int rc = lf_req_setattr(c->u, &cr, ino, fi ? FILE_OF(fi) : NULL, &a, valid, &out);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct stat res;
	fl_to_stat(&out, &res);
	fuse_reply_attr(req, &res, fl_attr_timeout(c, &out));
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(write);
	(void)ino;
	ssize_t n = lf_union_pwrite(CTX(req)->u, FILE_OF(fi), buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(fsync);
	(void)ino;
	fuse_reply_err(req, -lf_union_fsync(CTX(req)->u, FILE_OF(fi), datasync));
}

static void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(fsyncdir);
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);  /* names are changed by the host's own calls */
}

static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(fallocate);
	(void)ino;
	fuse_reply_err(req, -lf_union_fallocate(CTX(req)->u, FILE_OF(fi), mode, (uint64_t)off,
						(uint64_t)len));
}

struct inval_job {
	struct fuse_session *se;
	struct lf_reset_inval what;
};

/* The kernel forgets a reset name, its folder's listing and the node it
 * showed. Not from the request's own thread: the kernel holds the root's
 * lock until the reply is read, and the entry notice needs it. */
static pthread_mutex_t inval_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inval_done = PTHREAD_COND_INITIALIZER;
static int inval_pending;        /* notices not yet given, in this process */

static void inval_finished(void)
{
	lf_mutex_lock(&inval_lock, LF_LK_LEAF);
	inval_pending--;
	pthread_cond_broadcast(&inval_done);
	lf_mutex_unlock(&inval_lock);
}

static void *inval_thread(void *arg)
{
	struct inval_job *j = arg;
	fuse_lowlevel_notify_inval_entry(j->se, j->what.parent, j->what.name,
					 strlen(j->what.name));
	fuse_lowlevel_notify_inval_inode(j->se, j->what.parent, 0, 0);
	if (j->what.ino)
		fuse_lowlevel_notify_inval_inode(j->se, j->what.ino, 0, 0);
	free(j);
	inval_finished();
	return NULL;
}

void fl_inval_settle(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;       /* a kernel that never takes the notice: do not hang */
	lf_mutex_lock(&inval_lock, LF_LK_LEAF);
	while (inval_pending > 0 &&
	       pthread_cond_timedwait(&inval_done, &inval_lock, &until) == 0)
		;
	lf_mutex_unlock(&inval_lock);
}

/* `layerctl reset` against this mount: setxattr(ROOT, LF_RESET_XATTR,
 * PATH). Only root gets this far: the kernel keeps trusted.* to it. */
static void reset_request(fuse_req_t req, const char *value, size_t size)
{
	struct ctx *c = CTX(req);
	struct inval_job *j = malloc(sizeof *j);
	char *path = malloc(size + 1);
	int rc = j && path ? 0 : -ENOMEM;
	if (!rc) {
		memcpy(path, value, size);
		path[size] = 0;
		rc = lf_union_reset(c->u, path, &j->what);
	}
	free(path);
	fuse_reply_err(req, -rc);
	pthread_t t;
	if (!rc) {
		j->se = c->se;
		lf_mutex_lock(&inval_lock, LF_LK_LEAF);
		inval_pending++;
		lf_mutex_unlock(&inval_lock);
		if (pthread_create(&t, NULL, inval_thread, j) == 0) {
			pthread_detach(t);
			j = NULL;
		} else {
			inval_finished();
		}
	}
	free(j);
}

static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	LF_FUSE_TIMED(setxattr);
	if (ino == FUSE_ROOT_ID && !strcmp(name, LF_RESET_XATTR)) {
		reset_request(req, value, size);
		return;
	}
	struct lf_cred cr = fl_cred(req);
	fuse_reply_err(req, -lf_req_setxattr(CTX(req)->u, &cr, ino, name, value, size, flags));
}

static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	LF_FUSE_TIMED(removexattr);
	struct lf_cred cr = fl_cred(req);
	fuse_reply_err(req, -lf_req_removexattr(CTX(req)->u, &cr, ino, name));
}

void fl_write_ops(struct fuse_lowlevel_ops *ops)
{
	ops->create = ll_create;
	ops->mknod = ll_mknod;
	ops->mkdir = ll_mkdir;
	ops->symlink = ll_symlink;
	ops->link = ll_link;
	ops->unlink = ll_unlink;
	ops->rmdir = ll_rmdir;
	ops->rename = ll_rename;
	ops->setattr = ll_setattr;
	ops->write = ll_write;
	ops->fsync = ll_fsync;
	ops->fsyncdir = ll_fsyncdir;
	ops->fallocate = ll_fallocate;
	ops->setxattr = ll_setxattr;
	ops->removexattr = ll_removexattr;
}
