/* FUSE low-level glue: turn requests into union engine calls and replies.
 * Nothing here knows a format or a merge rule. */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuse_ll_int.h"
#include "layerfs/metrics.h"
#include "layerfs/grow.h"
#include "layerfs/fuse_serve.h"
#include "layerfs/union_req.h"

void fl_to_stat(const struct lf_attr *a, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;  /* 0: deleted, still open */
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)((a->alloc + 511) / 512);
	st->st_blksize = 4096;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
	st->st_rdev = (dev_t)a->rdev;
}

double fl_attr_timeout(const struct ctx *c, const struct lf_attr *a)
{
	/* a merged hive's size changes when a layer's copy does */
	return a->flags & LF_ATTR_MERGED ? 0 : c->timeout;
}

void fl_fill_entry(struct ctx *c, const struct lf_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	e->ino = a->ino;
	e->attr_timeout = fl_attr_timeout(c, a);
	e->entry_timeout = c->timeout;
	fl_to_stat(a, &e->attr);
}

struct lf_cred fl_cred(fuse_req_t req)
{
	const struct fuse_ctx *x = fuse_req_ctx(req);
	return (struct lf_cred){ x->uid, x->gid };
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	LF_FUSE_TIMED(lookup);
	struct ctx *c = CTX(req);
	struct lf_attr a;
	struct fuse_entry_param e;
	struct lf_cred cr = fl_cred(req);
	int rc = lf_req_lookup(c->u, &cr, parent, name, &a);
	if (rc == -ENOENT) {
		/* a negative entry: the kernel keeps the "no" as long */
		memset(&e, 0, sizeof e);
		e.entry_timeout = c->timeout;
		fuse_reply_entry(req, &e);
	} else if (rc) {
		fuse_reply_err(req, -rc);
	} else {
		fl_fill_entry(c, &a, &e);
		fuse_reply_entry(req, &e);
	}
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	LF_FUSE_TIMED(forget);
	lf_union_forget(CTX(req)->u, ino, nlookup);
	fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	LF_FUSE_TIMED(forget);
	for (size_t i = 0; i < count; i++)
		lf_union_forget(CTX(req)->u, f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(getattr);
	(void)fi;
	struct ctx *c = CTX(req);
	struct lf_attr a;
	struct stat st;
	struct lf_cred cr = fl_cred(req);
	int rc = lf_req_getattr(c->u, &cr, ino, &a);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fl_to_stat(&a, &st);
	fuse_reply_attr(req, &st, fl_attr_timeout(c, &a));
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	LF_FUSE_TIMED(readlink);
	char buf[8192];
	ssize_t n = lf_union_readlink(CTX(req)->u, ino, buf, sizeof buf);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_readlink(req, buf);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(open);
	struct lf_ufile *f;
	struct lf_cred cr = fl_cred(req);
	int rc = lf_req_open(CTX(req)->u, &cr, ino, fi->flags, &f);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	/* every change comes through this mount, so what the page cache
	 * holds stays true; a merged hive is built anew when a layer's
	 * copy changes, and read afresh */
	fi->keep_cache = !lf_union_file_merged(f);
	fi->noflush = 1;  /* close need not ask: writes are in the host file */
	if (fuse_reply_open(req, fi))
		lf_union_release(CTX(req)->u, f); /* the opener went away */
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(release);
	(void)ino;
	lf_union_release(CTX(req)->u, (struct lf_ufile *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(read);
	(void)ino;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = lf_union_pread(CTX(req)->u, (struct lf_ufile *)(uintptr_t)fi->fh, buf, size,
				   (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(opendir);
	struct lf_cred cr = fl_cred(req);
	int rc = lf_req_opendir(CTX(req)->u, &cr, ino);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* A listing is made in two steps. The union hands over each entry with
 * the folder's lock held, so nothing may call back into it then: the
 * entries are only kept (and measured against the reply's room). The
 * union then shows each as the caller may see it (her rights from its
 * descriptor, with the folder's lock let go: it may read a merged hive),
 * and they are put in the reply. */
struct pending {
	char *name;
	struct lf_attr a;
	off_t off;
};

struct dirbuf {
	fuse_req_t req;
	size_t room;             /* bytes of the reply not yet promised */
	int plus;
	struct pending *v;
	size_t n, cap;
};

/* "." and ".." take positions 1 and 2; the merged entries follow. */
#define DOT_ENTRIES 2

static size_t entry_size(const struct dirbuf *d, const char *name)
{
	/* libfuse says the size an entry takes when given no buffer */
	return d->plus ? fuse_add_direntry_plus(d->req, NULL, 0, name, NULL, 0)
		       : fuse_add_direntry(d->req, NULL, 0, name, NULL, 0);
}

static int keep_entry(void *vctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	struct dirbuf *d = vctx;
	size_t len = entry_size(d, name);
	if (len > d->room)
		return 1;                  /* full: not taken */
	if (lf_grow(&d->v, &d->cap, d->n, sizeof *d->v, 64))
		return 1;
	char *copy = strdup(name);
	if (!copy)
		return 1;
	d->v[d->n++] = (struct pending){ copy, *a, (off_t)(next + DOT_ENTRIES) };
	d->room -= len;
	return 0;
}

static struct lf_attr *kept_attr(void *vctx, size_t i)
{
	struct dirbuf *d = vctx;
	return i < d->n ? &d->v[i].a : NULL;
}

static size_t put_entry(struct ctx *c, fuse_req_t req, char *buf, size_t size, int plus,
			struct pending *p)
{
	if (plus) {
		struct fuse_entry_param e;
		fl_fill_entry(c, &p->a, &e);
		return fuse_add_direntry_plus(req, buf, size, p->name, &e, p->off);
	}
	struct stat st = { .st_ino = p->a.ino, .st_mode = p->a.mode };
	return fuse_add_direntry(req, buf, size, p->name, &st, p->off);
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct ctx *c = CTX(req);
	char *buf = malloc(size ? size : 1);
	size_t used = 0;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* "." and ".." carry no lookup reference, even in readdirplus. */
	for (off_t i = off; i < DOT_ENTRIES; i++) {
		const char *name = i == 0 ? "." : "..";
		struct stat st = { .st_ino = ino, .st_mode = S_IFDIR };
		size_t len;
		if (plus) {
			struct fuse_entry_param e = { .attr = st };
			len = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
		} else {
			len = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		}
		if (len > size - used)
			break;
		used += len;
	}
	int rc = 0;
	uint64_t from = off > DOT_ENTRIES ? (uint64_t)off - DOT_ENTRIES : 0;
	struct dirbuf d = { req, size - used, plus, NULL, 0, 0 };
	struct lf_cred cr = fl_cred(req);
	if (used < size)
		rc = lf_req_readdir(c->u, &cr, ino, from, plus, keep_entry, kept_attr, &d);
	for (size_t i = 0; i < d.n; i++) {
		used += put_entry(c, req, buf + used, size - used, plus, &d.v[i]);
		free(d.v[i].name);
	}
	free(d.v);
	if (rc && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(readdir);
	(void)fi;
	readdir_common(req, ino, size, off, 0);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	LF_FUSE_TIMED(readdirplus);
	(void)fi;
	readdir_common(req, ino, size, off, 1);
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	LF_FUSE_TIMED(getxattr);
	struct lf_union *u = CTX(req)->u;
	if (ino == FUSE_ROOT_ID && !strcmp(name, LF_UPPER_XATTR) && lf_union_writable(u)) {
		/* which personalization layer this is, for `layerctl reset` */
		const char *up = lf_union_layer(u, 0)->path;
		ssize_t n = (ssize_t)strlen(up);
		lf_fuse_reply_sized(req, size && (size_t)n > size ? -ERANGE : n, up, size);
		return;
	}
	if (ino == FUSE_ROOT_ID && !strcmp(name, LF_SETTLE_XATTR)) {
		fl_inval_settle();
		lf_fuse_reply_sized(req, 0, "", size);
		return;
	}
	struct lf_cred cr = fl_cred(req);
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = lf_req_getxattr(u, &cr, ino, name, buf, size);
	lf_fuse_reply_sized(req, n, buf, size);
	free(buf);
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	LF_FUSE_TIMED(listxattr);
	struct lf_cred cr = fl_cred(req);
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = lf_req_listxattr(CTX(req)->u, &cr, ino, buf, size);
	lf_fuse_reply_sized(req, n, buf, size);
	free(buf);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	LF_FUSE_TIMED(statfs);
	(void)ino;
	struct statvfs sv;
	int rc = lf_union_statfs(CTX(req)->u, &sv);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

static void ll_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in, size_t insz,
		     size_t outsz)
{
	LF_FUSE_TIMED(ioctl);
	(void)ino; (void)cmd; (void)arg; (void)fi; (void)flags; (void)in; (void)insz; (void)outsz;
	fuse_reply_err(req, ENOTTY);  /* as a local file system for one it does not know */
}

static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	LF_FUSE_TIMED(access);
	struct lf_cred cr = fl_cred(req);
	fuse_reply_err(req, -lf_req_access(CTX(req)->u, &cr, ino, mask));
}

static const struct fuse_lowlevel_ops read_ops = {
	.access = ll_access,
	.ioctl = ll_ioctl,
	.lookup = ll_lookup,
	.forget = ll_forget,
	.forget_multi = ll_forget_multi,
	.getattr = ll_getattr,
	.readlink = ll_readlink,
	.open = ll_open,
	.read = ll_read,
	.release = ll_release,
	.opendir = ll_opendir,
	.readdir = ll_readdir,
	.readdirplus = ll_readdirplus,
	.getxattr = ll_getxattr,
	.listxattr = ll_listxattr,
	.statfs = ll_statfs,
};

/* The session for a union: read calls, and change calls if it can change. */
static struct fuse_session *new_session(struct ctx *c, const struct lf_fuse_opts *o,
					const char *prog)
{
	struct fuse_lowlevel_ops ops = read_ops;
	if (lf_union_writable(c->u))
		fl_write_ops(&ops);
	char *argv[4];
	struct fuse_args args = lf_fuse_args(argv, prog, o->debug, o->fuse_opts);
	/* libfuse keeps its own copy of ops */
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, c);
	fuse_opt_free_args(&args);
	c->se = se;
	return se;
}

int lf_fuse_run(struct lf_union *u, const struct lf_fuse_opts *o)
{
	struct ctx c = { u, o->timeout, NULL };
	struct fuse_session *se = new_session(&c, o, "layerfs");
	int status = 1;
	if (se) {
		status = lf_fuse_serve(se, "layerfs", o->mountpoint, o->foreground,
				       o->single_thread);
		fuse_session_destroy(se);
	}
	return status;
}

struct lf_fuse_mount {
	struct ctx c;
	struct lf_fuse_thread *t;
};

int lf_fuse_start(struct lf_union *u, const struct lf_fuse_opts *o, int max_threads,
		  struct lf_fuse_mount **out)
{
	struct lf_fuse_mount *m = calloc(1, sizeof *m);
	if (!m)
		return -1;
	m->c = (struct ctx){ u, o->timeout, NULL };
	struct fuse_session *se = new_session(&m->c, o, "layerd");
	if (!se || lf_fuse_serve_start(se, "layerd", o->mountpoint, max_threads, &m->t)) {
		if (se)
			fuse_session_destroy(se);
		free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void lf_fuse_stop(struct lf_fuse_mount *m)
{
	if (!m)
		return;
	lf_fuse_serve_stop(m->t);
	fuse_session_destroy(m->c.se);
	free(m);
}

void lf_fuse_inval(void *ctx, uint64_t ino, const char *name)
{
	struct lf_fuse_mount *m = ctx;
	if (name)
		fuse_lowlevel_notify_inval_entry(m->c.se, ino, name, strlen(name));
	else
		fuse_lowlevel_notify_inval_inode(m->c.se, ino, 0, 0);
}
