/* lf_pack_revision: a new revision of a layer disk, stored as what changed.
 * The previous revision's volume is copied and made, through libntfs-3g,
 * to hold exactly what the source folder holds, in two passes: what goes
 * (names the folder lacks, entries of another kind, files whose bytes,
 * streams or links differ) is found and then deleted, then what stays is
 * kept where it lies (its descriptor, attributes and times set anew) and
 * the rest is made as pack makes it. What was not touched keeps its sectors, so the
 * differencing VHD written against the previous revision's file stores
 * only the sectors that differ. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/source.h"
#include "layerfs/vhd.h"
#include "pack_int.h"

/* ---- the volume's side ---- */

struct names {
	char **v;
	size_t n, cap;
	int failed;
};

static int collect(void *ctx, const ntfschar *name, const int len, const int type,
		   const s64 pos, const MFT_REF mref, const unsigned dt)
{
	(void)pos;
	(void)dt;
	struct names *l = ctx;
	char *mbs = NULL;
	/* DOS 8.3 aliases go with their long names; metadata files stay */
	if (type == FILE_NAME_DOS || MREF(mref) < FILE_first_user)
		return 0;
	if (ntfs_ucstombs(name, len, &mbs, 0) < 0) {
		l->failed = errno ? errno : EILSEQ;
		return -1;
	}
	if (!strcmp(mbs, ".") || !strcmp(mbs, "..")) {
		free(mbs);
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			free(mbs);
			l->failed = ENOMEM;
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = mbs;
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int list_volume(struct packer *p, ntfs_inode *dir, struct names *l)
{
	memset(l, 0, sizeof *l);
	s64 pos = 0;
	if (ntfs_readdir(dir, &pos, l, collect) && !l->failed)
		return pack_fail(p, "cannot list the previous revision's folder");
	return l->failed ? lf_err_set(p->err, l->failed, "%s%s: cannot list it: %s", p->src,
				      p->path, strerror(l->failed)) : 0;
}

/* ---- keeping what is the same ---- */

/* Does the volume's file hold the named streams? Any at all: a file with
 * streams is made anew rather than compared stream by stream. */
static int has_streams(ntfs_inode *ni)
{
	ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
	int found = 0;
	while (ctx && !found && !ntfs_attr_lookup(AT_DATA, NULL, 0, CASE_SENSITIVE, 0, NULL, 0, ctx))
		found = ctx->attr->name_length > 0;
	if (ctx)
		ntfs_attr_put_search_ctx(ctx);
	return found;
}

static int host_has_streams(int fd)
{
	char names[65536];
	ssize_t n = flistxattr(fd, names, sizeof names);
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1)
		if (!strncmp(names + i, "user.", 5) && strncmp(names + i, "user.layerfs.", 13))
			return 1;
	return n < 0 && errno != ENOTSUP;
}

/* The same bytes in the volume's file and the folder's, one name each
 * and no streams on either? 1 yes, 0 no, <0 an error. */
static int same_file(struct packer *p, int dfd, const char *name, const struct stat *st,
		     ntfs_inode *ni)
{
	if (st->st_nlink != 1 || le16_to_cpu(ni->mrec->link_count) != 1 ||
	    (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) || (ni->flags & FILE_ATTR_REPARSE_POINT) ||
	    has_streams(ni))
		return 0;
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na)
		return 0;
	int fd = na->data_size == st->st_size
		? openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	int same = fd >= 0 && !host_has_streams(fd);
	char *theirs = same ? malloc(PACK_CHUNK) : NULL;
	if (same && !theirs)
		same = -ENOMEM;
	for (s64 off = 0; same == 1 && off < st->st_size;) {
		ssize_t n = pread(fd, p->buf, PACK_CHUNK, off);
		if (n <= 0) {
			same = n < 0 ? -errno : 0;
			break;
		}
		same = ntfs_attr_pread(na, off, n, theirs) == n && !memcmp(p->buf, theirs, (size_t)n);
		off += n;
	}
	free(theirs);
	if (fd >= 0)
		close(fd);
	ntfs_attr_close(na);
	return same;
}

/* An entry kept: the descriptor, attributes, EAs, object ID and times
 * the folder gives. */
static int refresh(struct packer *p, int dfd, const char *name, const struct stat *st,
		   ntfs_inode *ni)
{
	le32 id = pack_sec_id_of(p, dfd, name, st);
	if (id && ni->security_id != id) {
		ni->security_id = id;
		NInoSetDirty(ni);
	}
	if (pack_copy_meta(p, dfd, name, st, ni, 1))
		return -1;
	return pack_set_times(ni, st) ? pack_fail(p, "cannot set times") : 0;
}

/* ---- deleting: what the new revision drops or makes anew ---- */

/* Paths (below the root, '/'-separated) to delete, children before their
 * folder. libntfs-3g's ntfs_delete closes the folder too, and closing a
 * changed folder writes its entry in its own parent through a handle of
 * its own: so each is deleted with nothing but its folder open, never
 * while this code holds an ancestor (two handles of one record would
 * write over each other). */
struct doomed {
	char **v;
	size_t n, cap;
};

static int doom(struct packer *p, struct doomed *d, const char *path)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		char **v = realloc(d->v, cap * sizeof *v);
		if (!v)
			return lf_err_set(p->err, ENOMEM, "out of memory");
		d->v = v;
		d->cap = cap;
	}
	return (d->v[d->n++] = strdup(path)) ? 0 : lf_err_set(p->err, ENOMEM, "out of memory");
}

/* path (ni, open here and closed) and all below it, into d. */
static int doom_tree(struct packer *p, struct doomed *d, ntfs_inode *ni, const char *path)
{
	int rc = 0;
	if ((ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) && !(ni->flags & FILE_ATTR_REPARSE_POINT)) {
		struct names l;
		rc = list_volume(p, ni, &l);
		for (size_t i = 0; !rc && i < l.n; i++) {
			char sub[PATH_MAX];
			snprintf(sub, sizeof sub, "%s/%s", path, l.v[i]);
			u64 ref = ntfs_inode_lookup_by_mbsname(ni, l.v[i]);
			ntfs_inode *c = ref == (u64)-1 ? NULL : ntfs_inode_open(p->vol, MREF(ref));
			rc = c ? doom_tree(p, d, c, sub) : pack_fail(p, "cannot open what the revision drops");
		}
		names_free(&l);
	}
	ntfs_inode_close(ni);
	return rc ? rc : doom(p, d, path);
}

/* Which entries of the volume's folder dir (at path) go: names the host
 * folder dfd lacks in exactly this spelling (a name respelled in another
 * case is the old one gone, a new one made), entries of another kind, and
 * files whose bytes, streams or links differ. Nothing is changed yet. */
static int plan(struct packer *p, struct doomed *d, int dfd, ntfs_inode *dir, const char *path)
{
	struct names l;
	int rc = list_volume(p, dir, &l);
	for (size_t i = 0; !rc && i < l.n; i++) {
		char sub[PATH_MAX];
		snprintf(sub, sizeof sub, "%s/%s", path, l.v[i]);
		u64 ref = ntfs_inode_lookup_by_mbsname(dir, l.v[i]);
		ntfs_inode *ni = ref == (u64)-1 ? NULL : ntfs_inode_open(p->vol, MREF(ref));
		if (!ni) {
			rc = pack_fail(p, "cannot open what the previous revision holds");
			break;
		}
		struct stat st;
		int folder = (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) &&
			     !(ni->flags & FILE_ATTR_REPARSE_POINT) && !has_streams(ni);
		int keep = 0;
		if (fstatat(dfd, l.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISDIR(st.st_mode) && folder) {
				int fd = openat(dfd, l.v[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				rc = fd < 0 ? lf_err_set(p->err, errno, "%s%s: %s", p->src, sub, strerror(errno))
					    : plan(p, d, fd, ni, sub);
				if (fd >= 0)
					close(fd);
				keep = 1;
			} else if (S_ISREG(st.st_mode)) {
				int same = same_file(p, dfd, l.v[i], &st, ni);
				if (same < 0)
					rc = lf_err_set(p->err, -same, "%s%s: %s", p->src, sub, strerror(-same));
				keep = same == 1;
			}
		}
		if (keep || rc)
			ntfs_inode_close(ni);
		else
			rc = doom_tree(p, d, ni, sub);
	}
	names_free(&l);
	return rc;
}

/* Each doomed path deleted, its folder the only thing open. */
static int execute(struct packer *p, const struct doomed *d)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < d->n; i++) {
		char *slash = strrchr(d->v[i], '/');
		*slash = 0;
		snprintf(p->path, sizeof p->path, "%s/%s", d->v[i], slash + 1);
		ntfs_inode *dir = ntfs_pathname_to_inode(p->vol, NULL, d->v[i][0] ? d->v[i] : "/");
		u64 ref = dir ? ntfs_inode_lookup_by_mbsname(dir, slash + 1) : (u64)-1;
		ntfs_inode *ni = ref == (u64)-1 ? NULL : ntfs_inode_open(p->vol, MREF(ref));
		ntfschar *uname = NULL;
		int ulen = ntfs_mbstoucs(slash + 1, &uname);
		if (!ni || ulen <= 0) {
			rc = pack_fail(p, "cannot open what the new revision drops");
			if (ni)
				ntfs_inode_close(ni);
			if (dir)
				ntfs_inode_close(dir);
		} else if (ntfs_delete(p->vol, NULL, ni, dir, uname, (u8)ulen)) {
			rc = pack_fail(p, "cannot delete");   /* both closed, done or not */
		}
		free(uname);
		*slash = '/';
	}
	p->path[0] = 0;
	return rc;
}

/* ---- keeping and making ---- */

static int sync_folder(struct packer *p, int dfd, ntfs_inode **dirp);

/* After the deletions: an entry still there is kept (refreshed), one not
 * there is made as pack makes it. */
static int sync_entry(struct packer *p, int dfd, const char *name, const struct stat *st,
		      void *arg)
{
	ntfs_inode *dir = *(ntfs_inode **)arg;
	u64 ref = ntfs_inode_lookup_by_mbsname(dir, name);
	if (ref == (u64)-1)
		return pack_fill_entry(p, dfd, name, st, dir);
	ntfs_inode *ni = ntfs_inode_open(p->vol, MREF(ref));
	if (!ni)
		return pack_fail(p, "cannot open");
	int rc = 0;
	if (S_ISDIR(st->st_mode)) {
		int fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = fd < 0 ? lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno))
			    : sync_folder(p, fd, &ni);
		if (fd >= 0)
			close(fd);
		if (!rc)
			rc = pack_copy_streams(p, dfd, name, ni, 1);
		p->st->dirs++;
	} else {
		p->st->files++;
		p->st->bytes += (uint64_t)st->st_size;
	}
	if (!rc)
		rc = refresh(p, dfd, name, st, ni);
	if (ntfs_inode_close_in_dir(ni, dir) && !rc)
		rc = pack_fail(p, "cannot close");
	return rc;
}

static int sync_folder(struct packer *p, int dfd, ntfs_inode **dirp)
{
	return pack_each_entry(p, dfd, sync_entry, dirp);
}

/* The volume made to hold exactly what the host folder holds: first what
 * goes is found and deleted, then the rest is kept or made. */
static int sync_volume(struct packer *p, int dfd, ntfs_inode **rootp)
{
	struct doomed d = {0};
	int rc = plan(p, &d, dfd, *rootp, "");
	if (!rc && d.n) {
		/* the root is opened anew after: nothing held while deleting */
		ntfs_inode_close(*rootp);
		*rootp = NULL;
		rc = execute(p, &d);
		if (!(*rootp = ntfs_inode_open(p->vol, FILE_root)) && !rc)
			rc = pack_fail(p, "cannot open the root");
	}
	for (size_t i = 0; i < d.n; i++)
		free(d.v[i]);
	free(d.v);
	return rc ? rc : sync_folder(p, dfd, rootp);
}

/* ---- the disk ---- */

struct revision_disk {
	struct lf_source *prev;
	struct lf_volume_extent ext;
	int vol_fd;
};

/* The new disk: the previous one's bytes around the volume, the new volume. */
static int revision_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct revision_disk *d = ctx;
	uint8_t *b = buf;
	while (len) {
		uint64_t start = d->ext.offset, end = d->ext.offset + d->ext.length;
		size_t n = len;
		int rc = 0;
		if (off < start) {
			n = start - off < len ? (size_t)(start - off) : len;
			rc = d->prev->ops->pread(d->prev, b, n, off);
		} else if (off < end) {
			n = end - off < len ? (size_t)(end - off) : len;
			ssize_t r = pread(d->vol_fd, b, n, (off_t)(off - start));
			if (r < 0)
				rc = -errno;
			else if ((size_t)r < n)
				memset(b + r, 0, n - (size_t)r);
		} else {
			rc = d->prev->ops->pread(d->prev, b, n, off);
		}
		if (rc)
			return rc;
		b += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* The previous volume into fd, leaving holes where it is all zeros. */
static int copy_volume(struct packer *p, struct revision_disk *d, const char *out)
{
	if (ftruncate(d->vol_fd, (off_t)d->ext.length) < 0)
		return lf_err_set(p->err, errno, "%s: %s", out, strerror(errno));
	static const uint8_t zero[PACK_CHUNK];
	for (uint64_t off = 0; off < d->ext.length; off += PACK_CHUNK) {
		size_t n = d->ext.length - off < PACK_CHUNK ? (size_t)(d->ext.length - off) : PACK_CHUNK;
		int rc = lf_source_pread(d->prev, p->buf, n, d->ext.offset + off, p->err);
		if (rc)
			return rc;
		if (memcmp(p->buf, zero, n) && pwrite(d->vol_fd, p->buf, n, (off_t)off) != (ssize_t)n)
			return lf_err_set(p->err, errno ? errno : EIO, "%s: %s", out,
					  strerror(errno ? errno : EIO));
		p->done = off + n;
		p->total = d->ext.length;
		pack_progress(p, "copy");
	}
	return 0;
}

int lf_pack_revision(const char *src_dir, const char *prev, const char *out,
		     const struct lf_pack_opts *o, struct lf_pack_stats *stats, struct lf_err *err)
{
	struct lf_pack_stats local;
	struct packer p = { .o = o, .st = stats ? stats : &local, .err = err, .src = src_dir };
	memset(p.st, 0, sizeof *p.st);
	struct revision_disk d = { .vol_fd = -1 };
	char *vol_path = NULL;
	int rc = 0;
	if ((p.src_root = open(src_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		rc = lf_err_set(err, errno, "%s: %s", src_dir, strerror(errno));
	if (!rc && !(p.buf = malloc(PACK_CHUNK)))
		rc = lf_err_set(err, ENOMEM, "out of memory");
	if (!rc)
		rc = lf_source_open(prev, NULL, &d.prev, err);
	if (!rc && d.prev->kind != LF_SRC_VHD_DYNAMIC && d.prev->kind != LF_SRC_VHD_FIXED &&
	    d.prev->kind != LF_SRC_VHD_DIFF)
		rc = lf_err_set(err, EINVAL, "%s: a revision's parent must be a VHD (this is %s)", prev,
				lf_source_kind_name(d.prev->kind));
	if (!rc)
		rc = lf_partition_find_ntfs(d.prev, &d.ext, err);
	if (!rc) {
		size_t len = strlen(out) + 20;
		if (!(vol_path = malloc(len)))
			rc = lf_err_set(err, ENOMEM, "out of memory");
		else
			snprintf(vol_path, len, "%s.vol.XXXXXX", out);
	}
	if (!rc && (d.vol_fd = mkstemp(vol_path)) < 0) {
		rc = lf_err_set(err, errno, "%s: cannot create a work file beside it: %s", out,
				strerror(errno));
		free(vol_path);
		vol_path = NULL;
	}
	p.st->volume_size = d.ext.length;
	if (!rc)
		rc = copy_volume(&p, &d, out);
	if (!rc) {
		lf_ntfs_log_capture();
		lf_ntfs_log_clear();
		if (!(p.vol = ntfs_mount(vol_path, 0)))
			rc = lf_err_set(err, errno, "%s: cannot mount its volume: %s", prev,
					lf_ntfs_log_last()[0] ? lf_ntfs_log_last() : strerror(errno));
	}
	if (!rc) {
		rc = pack_fill_volume(&p, vol_path, sync_volume);
		if (rc && err->code == ENOSPC)
			lf_err_set(err, ENOSPC, "%s: its %llu-byte volume has no room for the new "
				   "revision: make it whole, not as a differencing disk", prev,
				   (unsigned long long)d.ext.length);
	}
	if (!rc) {
		struct lf_vhd_write_opts vo = { .type = LF_VHD_DIFF, .size = d.prev->size,
						.parent_path = prev };
		p.st->disk_size = d.prev->size;
		rc = lf_vhd_write(out, &vo, revision_read, &d, err);
	}
	if (d.vol_fd >= 0)
		close(d.vol_fd);
	if (vol_path) {
		unlink(vol_path);
		free(vol_path);
	}
	if (d.prev)
		lf_source_close(d.prev);
	pack_free(&p);
	return rc;
}
