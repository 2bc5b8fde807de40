/* regfs's FUSE glue, on libfuse's low-level API: the kernel's node
 * numbers map to paths through reg_nodes (only for what the kernel
 * holds), listings come with their attributes (readdirplus). A value
 * opened for writing is edited in a buffer and set when it is flushed,
 * so a partial write never reaches the hive. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/fuse_reg.h"
#include "layerfs/grow.h"
#include "layerfs/fuse_serve.h"
#include "layerfs/security.h"
#include "layerfs/arena.h"
#include "reg_nodes.h"
#include "layerfs/lockcheck.h"

#define TIMEOUT 0.5              /* a refresh, a reset through the drive may change the
				  * view under the mount: within a second it shows */

struct rctx {
	struct lf_regview *v;
	struct rnodes *nodes;
};

#define CTX(req) ((struct rctx *)fuse_req_userdata(req))

/* An open value: its text, and whether it was changed. */
struct rfile {
	uint64_t ino;            /* fixed at open */
	pthread_mutex_t lock;    /* buf, len, cap, dirty: reads and writes of one
				  * open file come from several threads */
	char *buf;
	size_t len, cap;
	int dirty;
};

/* An open key: its listing, taken at opendir. */
struct rlist {
	struct lf_arena mem;
	struct rentry { const char *name; struct stat st; } *v;
	size_t n, cap;
};

#define FILE_OF(fi) ((struct rfile *)(uintptr_t)(fi)->fh)
#define LIST_OF(fi) ((struct rlist *)(uintptr_t)(fi)->fh)

/* The path of ino (with name: of its child); replies the error itself. */
static char *path_of(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char *p;
	int rc = rnodes_path(CTX(req)->nodes, ino, name, &p);
	if (rc) {
		fuse_reply_err(req, -rc);
		return NULL;
	}
	return p;
}

/* Who sends the request: her rights are checked in the view's calls. */
static uid_t asker(fuse_req_t req)
{
	return fuse_req_ctx(req)->uid;
}

/* Reply the entry NAME of PARENT whose attributes (as shown) are st (rc:
 * how getting them went), a lookup taken. */
static void reply_entry(fuse_req_t req, fuse_ino_t parent, const char *name, int rc,
			const struct stat *st)
{
	struct rctx *c = CTX(req);
	struct fuse_entry_param e = { .attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT };
	if (!rc)
		e.attr = *st;
	if (!rc && !(e.ino = rnodes_lookup(c->nodes, parent, name)))
		rc = -ENOMEM;
	e.attr.st_ino = e.ino;
	if (rc)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_entry(req, &e))
		rnodes_forget(c->nodes, e.ino, 1);   /* the kernel did not take it */
}

static void r_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char *p = path_of(req, parent, name);
	struct stat st;
	if (p)
		reply_entry(req, parent, name, lf_regview_stat_as(CTX(req)->v, asker(req), p, &st),
			    &st);
	free(p);
}

static void r_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	rnodes_forget(CTX(req)->nodes, ino, n);
	fuse_reply_none(req);
}

static void r_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		rnodes_forget(CTX(req)->nodes, f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void reply_attr(fuse_req_t req, fuse_ino_t ino, const char *path)
{
	struct stat st;
	int rc = lf_regview_stat_as(CTX(req)->v, asker(req), path, &st);
	st.st_ino = ino;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

static void r_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	char *p = path_of(req, ino, NULL);
	if (p)
		reply_attr(req, ino, p);
	free(p);
}

static void r_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *p = path_of(req, ino, NULL), buf[64];
	int rc = p ? lf_regview_readlink(CTX(req)->v, p, buf, sizeof buf) : 0;
	if (p && rc)
		fuse_reply_err(req, -rc);
	else if (p)
		fuse_reply_readlink(req, buf);
	free(p);
}

static int add_listed(void *ctx, const char *name, const struct stat *st)
{
	struct rlist *l = ctx;
	if (lf_grow(&l->v, &l->cap, l->n, sizeof *l->v, 64))
		return -ENOMEM;
	const char *n = lf_arena_strdup(&l->mem, name);
	if (!n)
		return -ENOMEM;
	l->v[l->n++] = (struct rentry){ n, *st };
	return 0;
}

static void list_free(struct rlist *l)
{
	lf_arena_free(&l->mem);
	free(l->v);
	free(l);
}

static void r_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char *p = path_of(req, ino, NULL);
	if (!p)
		return;
	struct rlist *l = calloc(1, sizeof *l);
	int rc = l ? 0 : -ENOMEM;
	if (l) {
		lf_arena_init(&l->mem, 4096, 256 * 1024);
		rc = lf_regview_list_as(CTX(req)->v, asker(req), p, add_listed, l);
	}
	free(p);
	if (rc) {
		if (l)
			list_free(l);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)l;
	if (fuse_reply_open(req, fi))
		list_free(l);
}

/* "." and ".." first (no lookup taken on them, even in readdirplus), then
 * the listing; offsets are positions + 1. */
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi, int plus)
{
	struct rctx *c = CTX(req);
	struct rlist *l = LIST_OF(fi);
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	for (size_t i = (size_t)off; i < l->n + 2; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : l->v[i - 2].name;
		struct fuse_entry_param e = { .attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT };
		e.attr = i < 2 ? (struct stat){ .st_ino = ino, .st_mode = S_IFDIR } : l->v[i - 2].st;
		size_t len;
		if (plus) {
			len = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
						     (off_t)i + 1);
		} else {
			e.attr.st_ino = i < 2 ? ino : 0xffffffffu;  /* unknown: lookup gives it */
			len = fuse_add_direntry(req, buf + used, size - used, name, &e.attr,
						(off_t)i + 1);
		}
		if (len > size - used)
			break;
		if (plus && i >= 2) {
			/* the entry is in the buffer: it takes a lookup now */
			e.ino = rnodes_lookup(c->nodes, ino, name);
			if (!e.ino)
				break;
			e.attr.st_ino = e.ino;
			fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t)i + 1);
		}
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void r_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

static void r_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

static void r_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	list_free(LIST_OF(fi));
	fuse_reply_err(req, 0);
}

/* An open value file gone: its buffer, its lock, itself (the one way). */
static void rfile_free(struct rfile *f)
{
	free(f->buf);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* An open value file for node ino: its text loaded by the view's open
 * (the caller's rights checked there), or none when created or cut. */
static struct rfile *open_file(fuse_req_t req, const char *path, uint64_t ino, int flags,
			       int created, int *rc)
{
	struct rfile *f = calloc(1, sizeof *f);
	*rc = f ? 0 : -ENOMEM;
	if (!f)
		return NULL;
	f->ino = ino;
	pthread_mutex_init(&f->lock, NULL);
	f->dirty = (flags & O_TRUNC) != 0;      /* emptied: saved at flush */
	if (!created)
		*rc = lf_regview_open_as(CTX(req)->v, asker(req), path, flags,
					 f->dirty ? NULL : &f->buf, &f->len);
	f->cap = f->len;
	if (*rc) {
		rfile_free(f);
		return NULL;
	}
	return f;
}

static void r_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char *p = path_of(req, ino, NULL);
	if (!p)
		return;
	int rc;
	struct rfile *f = open_file(req, p, ino, fi->flags, 0, &rc);
	free(p);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;       /* reads come from the buffer, whatever the size said */
	if (fuse_reply_open(req, fi))
		rfile_free(f);
}

static void r_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     struct fuse_file_info *fi)
{
	(void)mode;
	struct rctx *c = CTX(req);
	char *p = path_of(req, parent, name);
	if (!p)
		return;
	struct fuse_entry_param e = { .attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT };
	int rc = lf_regview_create(c->v, asker(req), p, &e.attr);
	if (!rc && !(e.ino = rnodes_lookup(c->nodes, parent, name)))
		rc = -ENOMEM;
	struct rfile *f = rc ? NULL : open_file(req, p, e.ino, fi->flags, 1, &rc);
	free(p);
	if (rc) {
		if (e.ino)
			rnodes_forget(c->nodes, e.ino, 1);
		fuse_reply_err(req, -rc);
		return;
	}
	e.attr.st_ino = e.ino;
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi)) {
		rnodes_forget(c->nodes, e.ino, 1);
		rfile_free(f);
	}
}

static void r_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)ino;
	struct rfile *f = FILE_OF(fi);
	/* a copy: the kernel may send the release (which frees the buffer)
	 * as soon as it has the reply, and a write may move the buffer */
	lf_mutex_lock(&f->lock, LF_LK_REG_FILE);
	size_t n = (size_t)off >= f->len ? 0
		   : f->len - (size_t)off < size ? f->len - (size_t)off : size;
	char *copy = n ? malloc(n) : NULL;
	if (copy)
		memcpy(copy, f->buf + off, n);
	lf_mutex_unlock(&f->lock);
	if (n && !copy)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, copy, n);
	free(copy);
}

static int reserve(struct rfile *f, size_t need)
{
	if (need > 0x3FFFFFFF)
		return -EFBIG;
	if (need <= f->cap)
		return 0;
	size_t cap = f->cap ? f->cap : 256;
	while (cap < need)
		cap *= 2;
	char *b = realloc(f->buf, cap);
	if (!b)
		return -ENOMEM;
	f->buf = b;
	f->cap = cap;
	return 0;
}

/* Set f's size, zeros filling a gap. */
static int resize(struct rfile *f, size_t size)
{
	int rc = reserve(f, size);
	if (rc)
		return rc;
	if (size > f->len)
		memset(f->buf + f->len, 0, size - f->len);
	f->len = size;
	f->dirty = 1;
	return 0;
}

static void r_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	struct rfile *f = FILE_OF(fi);
	lf_mutex_lock(&f->lock, LF_LK_REG_FILE);
	if (fi->flags & O_APPEND)
		off = (off_t)f->len;
	size_t end = (size_t)off + size;
	int rc = end > f->len ? resize(f, end) : 0;
	if (!rc) {
		memcpy(f->buf + off, buf, size);
		f->dirty = 1;
	}
	lf_mutex_unlock(&f->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

static int commit(fuse_req_t req, struct rfile *f)
{
	if (!f->dirty)
		return 0;
	char *p;
	int rc = rnodes_path(CTX(req)->nodes, f->ino, NULL, &p);
	if (!rc) {
		rc = lf_regview_write(CTX(req)->v, p, f->buf ? f->buf : "", f->len);
		free(p);
	}
	/* saved or refused, once: a refused change (ENOSPC) was told to the
	 * caller and the view put back, so a later flush or the release must
	 * not save it behind her back when room comes again */
	f->dirty = 0;
	return rc;
}

/* commit() on an open file, under its lock */
static int commit_open(fuse_req_t req, struct rfile *f)
{
	lf_mutex_lock(&f->lock, LF_LK_REG_FILE);
	int rc = commit(req, f);
	lf_mutex_unlock(&f->lock);
	return rc;
}

static void r_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, -commit_open(req, FILE_OF(fi)));
}

static void r_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	fuse_reply_err(req, -commit_open(req, FILE_OF(fi)));
}

static void r_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct rfile *f = FILE_OF(fi);
	commit(req, f);          /* flush said how it went; nothing else uses f now */
	rfile_free(f);
	fuse_reply_err(req, 0);
}

/* Size (truncate) through the open file or by path; times are the keys'
 * own: setting them is accepted and has no effect (touch must work). */
static void r_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		      struct fuse_file_info *fi)
{
	struct lf_regview *v = CTX(req)->v;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	char *p = path_of(req, ino, NULL);
	if (!p)
		return;
	int rc = 0;
	if ((to_set & FUSE_SET_ATTR_SIZE) && fi) {   /* through a handle: checked at open */
		struct rfile *f = FILE_OF(fi);
		lf_mutex_lock(&f->lock, LF_LK_REG_FILE);
		rc = resize(f, (size_t)attr->st_size);
		lf_mutex_unlock(&f->lock);
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		rc = attr->st_size > 0x3FFFFFFF ? -EFBIG
			: lf_regview_truncate(v, asker(req), p, (size_t)attr->st_size);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_attr(req, ino, p);
	free(p);
}

/* A removal by name in PARENT: fn on the path (it checks her right),
 * nodes told after. */
static void by_name(fuse_req_t req, fuse_ino_t parent, const char *name,
		    int (*fn)(struct lf_regview *, uid_t, const char *))
{
	char *p = path_of(req, parent, name);
	if (!p)
		return;
	int rc = fn(CTX(req)->v, asker(req), p);
	free(p);
	if (!rc)
		rnodes_unlink(CTX(req)->nodes, parent, name);
	fuse_reply_err(req, -rc);
}

static void r_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	by_name(req, parent, name, lf_regview_unlink);
}

static void r_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	by_name(req, parent, name, lf_regview_rmdir);
}

static void r_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	char *p = path_of(req, parent, name);
	if (!p)
		return;
	struct stat st;
	reply_entry(req, parent, name, lf_regview_mkdir(CTX(req)->v, asker(req), p, &st), &st);
	free(p);
}

static void r_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname, unsigned int flags)
{
	struct rctx *c = CTX(req);
	char *from = path_of(req, parent, name);
	char *to = from ? path_of(req, newparent, newname) : NULL;
	if (!to) {
		free(from);
		return;
	}
	int rc = lf_regview_rename(c->v, asker(req), from, to, flags);
	if (!rc)
		rnodes_rename(c->nodes, parent, name, newparent, newname);
	free(from);
	free(to);
	fuse_reply_err(req, -rc);
}

static void r_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *p = path_of(req, ino, NULL);
	char *buf = p && size ? malloc(size) : NULL;
	if (p && size && !buf)
		fuse_reply_err(req, ENOMEM);
	else if (p)
		lf_fuse_reply_sized(req, lf_regview_getxattr(CTX(req)->v, p, name, buf, size), buf, size);
	free(buf);
	free(p);
}

static void r_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *p = path_of(req, ino, NULL);
	char *buf = p && size ? malloc(size) : NULL;
	if (p && size && !buf)
		fuse_reply_err(req, ENOMEM);
	else if (p)
		lf_fuse_reply_sized(req, lf_regview_listxattr(CTX(req)->v, p, buf, size), buf, size);
	free(buf);
	free(p);
}

static void r_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		       size_t size, int flags)
{
	(void)flags;
	char *p = path_of(req, ino, NULL);
	if (p)
		fuse_reply_err(req, -lf_regview_setxattr(CTX(req)->v, asker(req), p, name, value,
							 size));
	free(p);
}

static void r_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC comes with the open, not as a truncate before it: a value
	 * is emptied only if what is written after parses */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;  /* always plus: a walk stats all */
}

static const struct fuse_lowlevel_ops ops = {
	.init = r_init,
	.lookup = r_lookup,
	.forget = r_forget,
	.forget_multi = r_forget_multi,
	.getattr = r_getattr,
	.setattr = r_setattr,
	.readlink = r_readlink,
	.mkdir = r_mkdir,
	.unlink = r_unlink,
	.rmdir = r_rmdir,
	.rename = r_rename,
	.open = r_open,
	.create = r_create,
	.read = r_read,
	.write = r_write,
	.flush = r_flush,
	.fsync = r_fsync,
	.release = r_release,
	.opendir = r_opendir,
	.readdir = r_readdir,
	.readdirplus = r_readdirplus,
	.releasedir = r_releasedir,
	.getxattr = r_getxattr,
	.listxattr = r_listxattr,
	.setxattr = r_setxattr,
};

struct lf_regfs_mount {
	struct rctx c;
	struct fuse_session *se;
	struct lf_fuse_thread *t;
};

static struct lf_regfs_mount *mount_new(struct lf_regview *v, const struct lf_regfs_opts *o,
					const char *prog)
{
	struct lf_regfs_mount *m = calloc(1, sizeof *m);
	if (!m || !(m->c.nodes = rnodes_new())) {
		free(m);
		return NULL;
	}
	m->c.v = v;
	char *argv[4];
	struct fuse_args args = lf_fuse_args(argv, prog, o->debug, o->fuse_opts);
	m->se = fuse_session_new(&args, &ops, sizeof ops, &m->c);
	fuse_opt_free_args(&args);
	if (!m->se) {
		rnodes_free(m->c.nodes);
		free(m);
		return NULL;
	}
	return m;
}

static void mount_free(struct lf_regfs_mount *m)
{
	fuse_session_destroy(m->se);
	rnodes_free(m->c.nodes);
	free(m);
}

int lf_regfs_run(struct lf_regview *v, const struct lf_regfs_opts *o)
{
	struct lf_regfs_mount *m = mount_new(v, o, "regfs");
	if (!m)
		return 1;
	int status = lf_fuse_serve(m->se, "regfs", o->mountpoint, o->foreground, o->single_thread);
	mount_free(m);
	return status;
}

int lf_regfs_start(struct lf_regview *v, const struct lf_regfs_opts *o, int max_threads,
		   struct lf_regfs_mount **out)
{
	struct lf_regfs_mount *m = mount_new(v, o, "layerd");
	if (!m)
		return -1;
	if (lf_fuse_serve_start(m->se, "layerd", o->mountpoint, max_threads, &m->t)) {
		mount_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void lf_regfs_stop(struct lf_regfs_mount *m)
{
	if (!m)
		return;
	lf_fuse_serve_stop(m->t);
	mount_free(m);
}
