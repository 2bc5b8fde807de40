/* regfs's FUSE glue (the path-based API: a registry view is looked up by
 * path anyway). A value opened for writing is edited in a buffer and set
 * when it is flushed, so a partial write never reaches the hive. */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_reg.h"
#include "fuse_serve.h"

#define VIEW() ((struct lf_regview *)fuse_get_context()->private_data)

/* An open value: its text, and whether it was changed. */
struct rfile {
	char *path;
	char *buf;
	size_t len, cap;
	int dirty;
};

static int r_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	return lf_regview_stat(VIEW(), path, st);
}

struct fill {
	void *buf;
	fuse_fill_dir_t filler;
};

static int fill_one(void *ctx, const char *name, const struct stat *st)
{
	struct fill *f = ctx;
	return f->filler(f->buf, name, st, 0, FUSE_FILL_DIR_PLUS);
}

static int r_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	struct fill f = { buf, filler };
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	return lf_regview_list(VIEW(), path, fill_one, &f);
}

static int r_readlink(const char *path, char *buf, size_t size)
{
	return lf_regview_readlink(VIEW(), path, buf, size);
}

static int load(struct rfile *f)
{
	free(f->buf);
	f->buf = NULL;
	int rc = lf_regview_read(VIEW(), f->path, &f->buf, &f->len);
	f->cap = f->len;
	return rc;
}

static int open_file(const char *path, struct fuse_file_info *fi, int created)
{
	struct rfile *f = calloc(1, sizeof *f);
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return -ENOMEM;
	}
	int rc = 0;
	if (created || (fi->flags & O_TRUNC)) {
		f->dirty = (fi->flags & O_TRUNC) != 0;
	} else {
		rc = load(f);
	}
	if (rc) {
		free(f->path);
		free(f);
		return rc;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;       /* reads come from the buffer, whatever the size said */
	return 0;
}

static int r_open(const char *path, struct fuse_file_info *fi)
{
	struct stat st;
	int rc = lf_regview_stat(VIEW(), path, &st);
	if (!rc && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (!rc && (fi->flags & O_ACCMODE) != O_RDONLY && !(st.st_mode & 0200))
		rc = -EROFS;
	return rc ? rc : open_file(path, fi, 0);
}

static int r_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	int rc = lf_regview_create(VIEW(), path);
	return rc ? rc : open_file(path, fi, 1);
}

#define FILE_OF(fi) ((struct rfile *)(uintptr_t)(fi)->fh)

static int r_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	struct rfile *f = FILE_OF(fi);
	if ((size_t)off >= f->len)
		return 0;
	size_t n = f->len - (size_t)off < size ? f->len - (size_t)off : size;
	memcpy(buf, f->buf + off, n);
	return (int)n;
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

static int r_write(const char *path, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)path;
	struct rfile *f = FILE_OF(fi);
	if (fi->flags & O_APPEND)
		off = (off_t)f->len;
	int rc = reserve(f, (size_t)off + size);
	if (rc)
		return rc;
	if ((size_t)off > f->len)
		memset(f->buf + f->len, 0, (size_t)off - f->len);
	memcpy(f->buf + off, buf, size);
	if ((size_t)off + size > f->len)
		f->len = (size_t)off + size;
	f->dirty = 1;
	return (int)size;
}

static int commit(struct rfile *f)
{
	if (!f->dirty)
		return 0;
	int rc = lf_regview_write(VIEW(), f->path, f->buf ? f->buf : "", f->len);
	if (rc == 0)
		f->dirty = 0;
	return rc;
}

static int r_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return commit(FILE_OF(fi));
}

static int r_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	return commit(FILE_OF(fi));
}

static int r_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	struct rfile *f = FILE_OF(fi);
	commit(f);               /* flush said how it went */
	free(f->buf);
	free(f->path);
	free(f);
	return 0;
}

static int r_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct rfile tmp = { .path = (char *)path }, *f = fi ? FILE_OF(fi) : &tmp;
	int rc = fi ? 0 : load(f);
	if (!rc)
		rc = reserve(f, (size_t)size);
	if (!rc && (size_t)size > f->len)
		memset(f->buf + f->len, 0, (size_t)size - f->len);
	if (!rc) {
		f->len = (size_t)size;
		f->dirty = 1;
	}
	if (!rc && !fi)
		rc = commit(f);
	if (!fi)
		free(tmp.buf);
	return rc;
}

static int r_unlink(const char *path)
{
	return lf_regview_unlink(VIEW(), path);
}

static int r_mkdir(const char *path, mode_t mode)
{
	(void)mode;
	return lf_regview_mkdir(VIEW(), path);
}

static int r_rmdir(const char *path)
{
	return lf_regview_rmdir(VIEW(), path);
}

static int r_rename(const char *from, const char *to, unsigned int flags)
{
	return lf_regview_rename(VIEW(), from, to, flags);
}

static int r_getxattr(const char *path, const char *name, char *value, size_t size)
{
	return (int)lf_regview_getxattr(VIEW(), path, name, value, size);
}

static int r_listxattr(const char *path, char *list, size_t size)
{
	return (int)lf_regview_listxattr(VIEW(), path, list, size);
}

static int r_setxattr(const char *path, const char *name, const char *value, size_t size,
		      int flags)
{
	(void)flags;
	return lf_regview_setxattr(VIEW(), path, name, value, size);
}

/* Times are the keys' own; setting them is accepted and has no effect
 * (touch on a value must work). */
static int r_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	struct stat st;
	return lf_regview_stat(VIEW(), path, &st);
}

static void *r_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* O_TRUNC comes with the open, not as a truncate before it: a value
	 * is emptied only if what is written after parses */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	cfg->entry_timeout = 1;
	cfg->attr_timeout = 1;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->nullpath_ok = 0;
	return fuse_get_context()->private_data;
}

static const struct fuse_operations ops = {
	.init = r_init,
	.getattr = r_getattr,
	.readdir = r_readdir,
	.readlink = r_readlink,
	.open = r_open,
	.create = r_create,
	.read = r_read,
	.write = r_write,
	.flush = r_flush,
	.fsync = r_fsync,
	.release = r_release,
	.truncate = r_truncate,
	.unlink = r_unlink,
	.mkdir = r_mkdir,
	.rmdir = r_rmdir,
	.rename = r_rename,
	.getxattr = r_getxattr,
	.listxattr = r_listxattr,
	.setxattr = r_setxattr,
	.utimens = r_utimens,
};

int lf_regfs_run(struct lf_regview *v, const struct lf_regfs_opts *o)
{
	char *argv[4];
	struct fuse_args args = lf_fuse_args(argv, "regfs", o->debug, o->fuse_opts);
	struct fuse *fu = fuse_new(&args, &ops, sizeof ops, v);
	int status = 1;
	if (fu) {
		/* the high-level loop would only add a cache-cleaning thread,
		 * which regfs does not use (paths are not remembered) */
		status = lf_fuse_serve(fuse_get_session(fu), "regfs", o->mountpoint,
				       o->foreground, o->single_thread);
		fuse_destroy(fu);
	}
	fuse_opt_free_args(&args);
	return status;
}

struct lf_regfs_mount {
	struct fuse *fu;
	struct lf_fuse_thread *t;
};

int lf_regfs_start(struct lf_regview *v, const struct lf_regfs_opts *o, int max_threads,
		   struct lf_regfs_mount **out)
{
	struct lf_regfs_mount *m = calloc(1, sizeof *m);
	if (!m)
		return -1;
	char *argv[4];
	struct fuse_args args = lf_fuse_args(argv, "layerd", o->debug, o->fuse_opts);
	m->fu = fuse_new(&args, &ops, sizeof ops, v);
	fuse_opt_free_args(&args);
	if (!m->fu || lf_fuse_serve_start(fuse_get_session(m->fu), "layerd", o->mountpoint,
					  max_threads, &m->t)) {
		if (m->fu)
			fuse_destroy(m->fu);
		free(m);
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
	fuse_destroy(m->fu);
	free(m);
}
