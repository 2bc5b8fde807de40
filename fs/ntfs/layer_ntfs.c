/* The `ntfs` backend: a read-only NTFS volume through libntfs-3g.
 * libntfs-3g is not thread-safe, so one mutex guards each volume; inodes
 * are opened and closed within one call, so no MFT record is ever held
 * twice. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <string.h>

#include "layerfs/layer.h"
#include "layer_ntfs_int.h"
#include "lxattr.h"
#include "reparse.h"
#include <ntfs-3g/object_id.h>
#include "layerfs/lockcheck.h"
#include "layerfs/wof.h"


/* Metafiles ($MFT, $Extend...) stay hidden; the root is record 5. */
static int hidden_record(u64 mft_no)
{
	return mft_no < FILE_first_user && mft_no != FILE_root;
}

static ntfs_inode *open_ino(struct ntfs_layer *nl, lf_ino ino, int *rc)
{
	if (hidden_record(ino)) {
		*rc = -ENOENT;
		return NULL;
	}
	ntfs_inode *ni = ntfs_inode_open(nl->vol, (MFT_REF)ino);
	if (!ni)
		*rc = errno ? -errno : -EIO;
	return ni;
}

static int is_dir(ntfs_inode *ni)
{
	return (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) != 0;
}

/* The reparse tag, or 0 for none. */
static uint32_t reparse_tag(ntfs_inode *ni, uint8_t *buf, int *len)
{
	*len = 0;
	if (!(ni->flags & FILE_ATTR_REPARSE_POINT))
		return 0;
	int n = ntfs_get_ntfs_reparse_data(ni, (char *)buf, LF_REPARSE_MAX);
	if (n < 8 || n > LF_REPARSE_MAX)
		return 0;
	*len = n;
	return (uint32_t)buf[0] | (uint32_t)buf[1] << 8 |
	       (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
}

/* Call fn for each FILE_NAME attribute of ni until it returns non-zero;
 * returns that value, or 0. */
static int each_name(ntfs_inode *ni, int (*fn)(const FILE_NAME_ATTR *, void *),
		     void *arg)
{
	ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
	if (!ctx)
		return 0;
	int rc = 0;
	while (!rc && !ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE,
					0, NULL, 0, ctx))
		rc = fn((const FILE_NAME_ATTR *)((const u8 *)ctx->attr +
						 le16_to_cpu(ctx->attr->value_offset)), arg);
	ntfs_attr_put_search_ctx(ctx);
	return rc;
}

static int count_long(const FILE_NAME_ATTR *fn, void *arg)
{
	if (fn->file_name_type != FILE_NAME_DOS)
		++*(uint32_t *)arg;
	return 0;
}

/* Names of the inode not counting DOS 8.3 aliases (link_count counts
 * them). */
static uint32_t count_names(ntfs_inode *ni)
{
	uint32_t n = 0;
	each_name(ni, count_long, &n);
	return n ? n : 1;
}

/* An NTFS time (100 ns since 1601) as a timespec. libntfs-3g's
 * ntfs2timespec subtracts the 1601-1970 offset first, which overflows for
 * the times a hostile volume can hold; dividing first cannot. */
static struct timespec nt_time(sle64 v)
{
	int64_t t = sle64_to_cpu(v);
	int64_t sec = t / 10000000, rem = t % 10000000;
	if (rem < 0) {
		rem += 10000000;
		sec--;
	}
	return (struct timespec){ .tv_sec = sec - 11644473600LL, .tv_nsec = (long)rem * 100 };
}

/* Owner, mode and device numbers a Linux tree left in $LX* EAs (pack
 * keeps them; WSL writes them too): they win over the defaults. The type
 * stays what NTFS says, so an EA cannot make a folder a file. */
static void apply_lx(ntfs_inode *ni, struct lf_attr *a)
{
	uint8_t buf[512];
	/* looks the $EA up itself: -ENODATA for most files */
	int n = ntfs_get_ntfs_ea(ni, (char *)buf, sizeof buf);
	if (n <= 0 || n > (int)sizeof buf)
		return;       /* bigger: not only WSL's few records; leave it */
	struct lx_meta m;
	lx_decode(buf, (size_t)n, &m);
	if (m.has & LX_HAS_UID)
		a->uid = m.uid;
	if (m.has & LX_HAS_GID)
		a->gid = m.gid;
	if (m.has & LX_HAS_MODE)
		a->mode = (a->mode & S_IFMT) | (m.mode & 07777);
	if ((m.has & LX_HAS_DEV) && (S_ISCHR(a->mode) || S_ISBLK(a->mode)))
		a->rdev = makedev(m.major, m.minor);
	if (m.has)
		a->flags |= LF_ATTR_LX;
}

static void fill_attr(ntfs_inode *ni, struct lf_attr *a)
{
	memset(a, 0, sizeof *a);
	a->ino = ni->mft_no;
	a->nlink = count_names(ni);
	if (!a->nlink)
		a->nlink = 1;  /* a record with no name left is still this file */
	a->btime = nt_time(ni->creation_time);
	a->mtime = nt_time(ni->last_data_change_time);
	a->ctime = nt_time(ni->last_mft_change_time);
	a->atime = nt_time(ni->last_access_time);
	a->wattr = le32_to_cpu(ni->flags) & 0xFFFF;
	uint8_t *rp = malloc(LF_REPARSE_MAX);
	int rlen = 0;
	uint32_t tag = rp ? reparse_tag(ni, rp, &rlen) : 0;
	if (lx_tag_type(tag)) {
		a->mode = lx_tag_type(tag) | 0644;   /* a FIFO, socket or device, as WSL makes them */
	} else if (lf_reparse_is_link(tag)) {
		a->mode = S_IFLNK | 0777;
		ssize_t n = lf_reparse_decode(rp, (size_t)rlen, NULL, 0, NULL);
		a->size = n > 0 ? (uint64_t)n : 0;
	} else if (is_dir(ni)) {
		a->mode = S_IFDIR | 0755;
		a->wattr |= LF_WATTR_DIRECTORY;
	} else {
		a->mode = S_IFREG | ((a->wattr & LF_WATTR_READONLY) ? 0444 : 0644);
		ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
		if (na) {
			a->size = (uint64_t)na->data_size;
			a->alloc = (uint64_t)((na->data_flags & (ATTR_IS_COMPRESSED | ATTR_IS_SPARSE))
				? na->compressed_size : na->allocated_size);
			ntfs_attr_close(na);
		} else if (ni->flags & FILE_ATTR_ENCRYPTED) {
			ntfs_data_record_size(ni, &a->size, &a->alloc);   /* EFS: not opened */
		}
		a->store = ntfs_store_of(ni, rp, rlen);
		if (lf_store_is_wof(a->store)) {
			/* as through Windows' overlay filter: its data, its
			 * stream's size on disk, and neither the reparse point
			 * nor the sparse $DATA that store it */
			a->wattr &= ~(uint32_t)(LF_WATTR_REPARSE | LF_WATTR_SPARSE);
			a->alloc = ntfs_wof_alloc(ni);
		} else if (a->store == LF_STORE_ALIAS) {
			a->size = a->alloc = 0;
		}
	}
	free(rp);
	apply_lx(ni, a);
}

struct wanted_name {
	ntfs_volume *vol;
	u64 dir;
	const ntfschar *uname;
	int ulen;
};

static int is_wanted_name(const FILE_NAME_ATTR *fn, void *arg)
{
	const struct wanted_name *w = arg;
	if (fn->file_name_type == FILE_NAME_DOS || MREF_LE(fn->parent_directory) != w->dir)
		return 0;
	/* The record's name is packed and may be unaligned. */
	ntfschar aligned[256];
	memcpy(aligned, (const u8 *)fn + offsetof(FILE_NAME_ATTR, file_name),
	       fn->file_name_length * sizeof(ntfschar));
	return ntfs_names_are_equal(aligned, fn->file_name_length, w->uname,
				    (size_t)w->ulen, IGNORE_CASE, w->vol->upcase,
				    w->vol->upcase_len);
}

/* Does the inode carry, in folder dir, a non-DOS name equal (ignoring case
 * as NTFS does) to uname? A lookup that matched only an 8.3 alias must
 * fail: DOS names stay hidden. */
static int has_long_name(ntfs_volume *vol, ntfs_inode *ni, u64 dir,
			 const ntfschar *uname, int ulen)
{
	struct wanted_name w = { vol, dir, uname, ulen };
	return each_name(ni, is_wanted_name, &w);
}

static int nl_lookup(struct lf_layer *l, lf_ino dir, const char *name,
		     struct lf_attr *out)
{
	struct ntfs_layer *nl = NL(l);
	if (!*name || strchr(name, '/'))
		return -EINVAL;
	ntfschar *uname = NULL;
	int ulen = ntfs_mbstoucs(name, &uname);
	if (ulen < 0)
		return -EILSEQ;
	if (ulen > 255) {
		free(uname);
		return -ENAMETOOLONG;
	}
	int rc = 0;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *dni = open_ino(nl, dir, &rc);
	if (dni && !is_dir(dni))
		rc = -ENOTDIR;
	u64 mref = (u64)-1;
	if (dni && !rc) {
		mref = ntfs_inode_lookup_by_name(dni, uname, ulen);
		if (mref == (u64)-1)
			rc = errno == ENOENT || !errno ? -ENOENT : -errno;
	}
	if (dni)
		ntfs_inode_close(dni);
	if (!rc) {
		ntfs_inode *ni = open_ino(nl, MREF(mref), &rc);
		if (ni) {
			if (has_long_name(nl->vol, ni, dir, uname, ulen))
				fill_attr(ni, out);
			else
				rc = -ENOENT;
			ntfs_inode_close(ni);
		}
	}
	lf_mutex_unlock(&nl->lock);
	free(uname);
	return rc;
}

static int nl_getattr(struct lf_layer *l, lf_ino ino, struct lf_attr *out)
{
	struct ntfs_layer *nl = NL(l);
	int rc = 0;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = open_ino(nl, ino, &rc);
	if (ni) {
		fill_attr(ni, out);
		ntfs_inode_close(ni);
	}
	lf_mutex_unlock(&nl->lock);
	return rc;
}

struct dirent_buf {
	struct entry { char *name; lf_ino ino; uint32_t type; } *v;
	size_t n, cap;
	int err;
};

static int collect(void *ctx, const ntfschar *name, const int name_len,
		   const int name_type, const s64 pos, const MFT_REF mref,
		   const unsigned dt_type)
{
	(void)pos;
	struct dirent_buf *d = ctx;
	if (name_type == FILE_NAME_DOS || hidden_record(MREF(mref)))
		return 0;
	char *s = NULL;
	if (ntfs_ucstombs(name, name_len, &s, 0) < 0) {
		d->err = -EILSEQ;
		return 0; /* skip a name we cannot show, keep the rest */
	}
	if (!strcmp(s, ".") || !strcmp(s, "..")) {
		free(s);
		return 0;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct entry *v = realloc(d->v, cap * sizeof *v);
		if (!v) {
			free(s);
			d->err = -ENOMEM;
			return -1;
		}
		d->v = v;
		d->cap = cap;
	}
	uint32_t type = dt_type == NTFS_DT_DIR ? S_IFDIR
		      : dt_type == NTFS_DT_LNK ? S_IFLNK
		      : dt_type == NTFS_DT_REG ? S_IFREG : 0;
	d->v[d->n++] = (struct entry){ s, MREF(mref), type };
	return 0;
}

static int nl_readdir(struct lf_layer *l, lf_ino dir, lf_readdir_fn fn, void *ctx)
{
	struct ntfs_layer *nl = NL(l);
	struct dirent_buf d = {0};
	int rc = 0;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = open_ino(nl, dir, &rc);
	if (ni && !is_dir(ni))
		rc = -ENOTDIR;
	if (ni && !rc) {
		s64 pos = 0;
		if (ntfs_readdir(ni, &pos, &d, collect))
			rc = errno ? -errno : -EIO;
	}
	if (ni)
		ntfs_inode_close(ni);
	/* Reparse points and unknown types: ask the inode itself. */
	for (size_t i = 0; !rc && i < d.n; i++) {
		if (d.v[i].type)
			continue;
		int r = 0;
		ntfs_inode *ci = open_ino(nl, d.v[i].ino, &r);
		if (ci) {
			struct lf_attr a;
			fill_attr(ci, &a);
			d.v[i].type = a.mode & S_IFMT;
			ntfs_inode_close(ci);
		}
	}
	lf_mutex_unlock(&nl->lock);
	if (!rc && d.err == -ENOMEM)
		rc = -ENOMEM;
	/* Callbacks run unlocked: they may call back into this layer. */
	for (size_t i = 0; i < d.n; i++) {
		if (!rc && fn(ctx, d.v[i].name, d.v[i].ino, d.v[i].type))
			rc = 1;
		free(d.v[i].name);
	}
	free(d.v);
	return rc > 0 ? 0 : rc;
}

static ssize_t nl_read(struct lf_layer *l, lf_ino ino, void *buf, size_t len,
		       uint64_t off)
{
	struct ntfs_layer *nl = NL(l);
	int rc = 0;
	ssize_t done = 0;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = open_ino(nl, ino, &rc);
	if (ni && is_dir(ni))
		rc = -EISDIR;
	unsigned store = LF_STORE_PLAIN;
	uint64_t size = 0;
	if (ni && !rc && (ni->flags & (FILE_ATTR_REPARSE_POINT | FILE_ATTR_ENCRYPTED))) {
		struct lf_attr a;
		fill_attr(ni, &a);
		store = a.store;
		size = a.size;
	}
	if (ni && !rc && store == LF_STORE_PLAIN) {
		ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
		if (!na) {
			rc = errno == ENOENT ? 0 : -errno; /* no data: empty */
		} else {
			while ((size_t)done < len && off + (uint64_t)done < (uint64_t)na->data_size) {
				s64 n = ntfs_attr_pread(na, (s64)(off + (uint64_t)done),
							(s64)(len - (size_t)done),
							(uint8_t *)buf + done);
				if (n <= 0) {
					rc = n < 0 ? (errno ? -errno : -EIO) : 0;
					break;
				}
				done += n;
			}
			ntfs_attr_close(na);
		}
	}
	if (ni)
		ntfs_inode_close(ni);
	char why[200] = "";
	if (rc == -EIO)
		snprintf(why, sizeof why, "%s", lf_ntfs_log_last());
	lf_mutex_unlock(&nl->lock);
	if (!rc && store != LF_STORE_PLAIN)
		return ntfs_store_read(nl, ino, store, size, buf, len, off);
	if (rc == -EIO)
		ntfs_say_unread(nl, ino, off + (uint64_t)done, why);
	return rc ? rc : done;
}

/* A handle is the record number: libntfs-3g must never hold two inodes
 * of one record, so each read opens and closes it under the lock. */
static int nl_open(struct lf_layer *l, lf_ino ino, uint64_t *fh)
{
	struct lf_attr a;
	int rc = nl_getattr(l, ino, &a);
	if (!rc && S_ISDIR(a.mode))
		rc = -EISDIR;
	/* a Compact OS file's decoder lives while it is open: its readers
	 * share the chunk table read and the chunks decompressed */
	if (!rc && lf_store_is_wof(a.store))
		rc = ntfs_wof_hold(NL(l), ino, a.store, a.size);
	if (!rc)
		*fh = ino;
	return rc;
}

static ssize_t nl_pread(struct lf_layer *l, uint64_t fh, void *buf, size_t len, uint64_t off)
{
	/* an open Compact OS file: straight to its decoder */
	ssize_t n = ntfs_wof_pread_open(NL(l), fh, buf, len, off);
	return n == -ENOENT ? nl_read(l, fh, buf, len, off) : n;
}

/* Data and holes of a sparse $DATA, from its runlist: a hole is a run
 * of LCN_HOLE. A compressed attribute's runs hold holes inside its
 * compression units that are no zeros: all of it is data then, as is a
 * resident or plain one. */
static int nl_data(struct lf_layer *l, uint64_t fh, uint64_t off, uint64_t *data, uint64_t *hole)
{
	struct ntfs_layer *nl = NL(l);
	int rc = 0;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = open_ino(nl, fh, &rc);
	ntfs_attr *na = ni ? ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0) : NULL;
	uint64_t size = na ? (uint64_t)na->data_size : 0;
	*data = off;
	*hole = size;
	struct lf_attr a = { .store = LF_STORE_PLAIN };
	if (ni && (ni->flags & (FILE_ATTR_REPARSE_POINT | FILE_ATTR_ENCRYPTED)))
		fill_attr(ni, &a);
	if (a.store != LF_STORE_PLAIN) {
		/* its $DATA's holes are no holes of its data: all of it is
		 * data (a read says what cannot be read) */
		*hole = a.size;
		rc = off >= a.size ? -ENXIO : 0;
	} else if (ni && !na) {
		rc = -ENXIO;                 /* no data at all */
	} else if (na && off >= size) {
		rc = -ENXIO;
	} else if (na && NAttrNonResident(na) && NAttrSparse(na) && !NAttrCompressed(na) &&
		   ntfs_attr_map_whole_runlist(na) == 0) {
		unsigned bits = nl->vol->cluster_size_bits;
		int in_data = 0;
		rc = -ENXIO;
		for (runlist_element *r = na->rl; r && r->length; r++) {
			uint64_t from = (uint64_t)r->vcn << bits, to = (uint64_t)(r->vcn + r->length) << bits;
			int hole_run = r->lcn == LCN_HOLE;
			if (!in_data) {
				if (to <= off || hole_run)
					continue;
				*data = from > off ? from : off;
				in_data = 1;
				rc = 0;
			} else if (hole_run) {
				*hole = from;
				break;
			}
		}
		if (!rc && *data >= size)
			rc = -ENXIO;
		if (!rc && *hole > size)
			*hole = size;
	}
	if (na)
		ntfs_attr_close(na);
	if (ni)
		ntfs_inode_close(ni);
	lf_mutex_unlock(&nl->lock);
	return rc;
}

static void nl_release(struct lf_layer *l, uint64_t fh)
{
	ntfs_wof_drop(NL(l), fh);
}

static ssize_t nl_readlink(struct lf_layer *l, lf_ino ino, char *buf,
			   size_t size, enum lf_link_kind *kind)
{
	struct ntfs_layer *nl = NL(l);
	int rc = 0;
	ssize_t n = -EINVAL;
	uint8_t *rp = malloc(LF_REPARSE_MAX);
	if (!rp)
		return -ENOMEM;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = open_ino(nl, ino, &rc);
	if (ni) {
		int rlen;
		if (lf_reparse_is_link(reparse_tag(ni, rp, &rlen)))
			n = lf_reparse_decode(rp, (size_t)rlen, buf, size, kind);
		ntfs_inode_close(ni);
	}
	lf_mutex_unlock(&nl->lock);
	free(rp);
	return rc ? rc : n;
}

/* The xattr names ntfs-3g uses, so tools that know ntfs-3g work here. */
#define XA_ATTRIB "system.ntfs_attrib"
#define XA_TIMES "system.ntfs_times"
#define XA_ACL "system.ntfs_acl"
#define XA_DOS "system.ntfs_dos_name"
#define XA_REPARSE "system.ntfs_reparse_data"
#define XA_STREAM "user."
#define XA_EA "system.ntfs_ea"
#define XA_OBJID "system.ntfs_object_id"

static int is_dos(const FILE_NAME_ATTR *fn, void *arg)
{
	(void)arg;
	return fn->file_name_type == FILE_NAME_DOS ||
	       fn->file_name_type == FILE_NAME_WIN32_AND_DOS;
}

static int has_dos_name(ntfs_inode *ni)
{
	return each_name(ni, is_dos, NULL);
}

static int first_parent(const FILE_NAME_ATTR *fn, void *arg)
{
	*(u64 *)arg = MREF_LE(fn->parent_directory);
	return 1;
}

static u64 parent_of(ntfs_inode *ni)
{
	u64 p = FILE_root;
	each_name(ni, first_parent, &p);
	return p;
}

/* Is it a Compact OS file (its reparse point and stream not shown)? */
static int is_wof(ntfs_inode *ni)
{
	if (!(ni->flags & FILE_ATTR_REPARSE_POINT) || is_dir(ni))
		return 0;
	uint8_t *rp = malloc(LF_REPARSE_MAX);
	int rlen = 0;
	int wof = rp && reparse_tag(ni, rp, &rlen) == LF_REPARSE_TAG_WOF &&
		  lf_store_is_wof(ntfs_store_of(ni, rp, rlen));
	free(rp);
	return wof;
}

static ssize_t put_name(char *buf, size_t size, size_t at, const char *name)
{
	size_t n = strlen(name) + 1;
	if (size && at + n <= size)
		memcpy(buf + at, name, n);
	return (ssize_t)n;
}

static ssize_t nl_listxattr(struct lf_layer *l, lf_ino ino, char *buf, size_t size)
{
	struct ntfs_layer *nl = NL(l);
	int rc = 0;
	size_t at = 0;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = open_ino(nl, ino, &rc);
	if (ni) {
		int wof = is_wof(ni);
		at += (size_t)put_name(buf, size, at, XA_ATTRIB);
		at += (size_t)put_name(buf, size, at, XA_TIMES);
		if (nl->have_secure)
			at += (size_t)put_name(buf, size, at, XA_ACL);
		if (has_dos_name(ni))
			at += (size_t)put_name(buf, size, at, XA_DOS);
		if ((ni->flags & FILE_ATTR_REPARSE_POINT) && !wof)
			at += (size_t)put_name(buf, size, at, XA_REPARSE);
		/* extended attributes and the object ID, where the file has
		 * them (ntfs-3g's names) */
		if (ntfs_get_ntfs_ea(ni, NULL, 0) > 0)
			at += (size_t)put_name(buf, size, at, XA_EA);
		if (ntfs_get_ntfs_object_id(ni, NULL, 0) > 0)
			at += (size_t)put_name(buf, size, at, XA_OBJID);
		ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
		while (ctx && !ntfs_attr_lookup(AT_DATA, NULL, 0, CASE_SENSITIVE, 0,
						NULL, 0, ctx)) {
			if (!ctx->attr->name_length)
				continue;
			char *s = NULL;
			const ntfschar *an = (const ntfschar *)((const u8 *)ctx->attr +
					     le16_to_cpu(ctx->attr->name_offset));
			if (ntfs_ucstombs(an, ctx->attr->name_length, &s, 0) < 0)
				continue;
			if (wof && !strcmp(s, LF_WOF_STREAM)) {
				free(s);
				continue;
			}
			char full[600];
			snprintf(full, sizeof full, XA_STREAM "%s", s);
			free(s);
			at += (size_t)put_name(buf, size, at, full);
		}
		if (ctx)
			ntfs_attr_put_search_ctx(ctx);
		ntfs_inode_close(ni);
	}
	lf_mutex_unlock(&nl->lock);
	if (rc)
		return rc;
	if (size && at > size)
		return -ERANGE;
	return (ssize_t)at;
}

#define STREAM_MAX (256 << 20)

static ssize_t read_stream(ntfs_inode *ni, const char *sname, void *buf, size_t size)
{
	ntfschar *u = NULL;
	int ul = ntfs_mbstoucs(sname, &u);
	if (ul <= 0)
		return -ENODATA;
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, u, (u32)ul);
	free(u);
	if (!na)
		return -ENODATA;
	/* Whole, past the 64 KiB a mount's xattr can carry (the kernel says
	 * E2BIG there itself): publish and copy-up read a CompactOS file's
	 * WofCompressedData, megabytes. A bound all the same: it is read into
	 * memory, and the size is the volume's word. */
	ssize_t rc = (ssize_t)na->data_size;
	if (na->data_size > STREAM_MAX)
		rc = -E2BIG;
	else if (size && (size_t)na->data_size > size)
		rc = -ERANGE;
	else if (size && ntfs_attr_pread(na, 0, na->data_size, buf) != na->data_size)
		rc = -EIO;
	ntfs_attr_close(na);
	return rc;
}

static ssize_t nl_getxattr(struct lf_layer *l, lf_ino ino, const char *name,
			   void *buf, size_t size)
{
	struct ntfs_layer *nl = NL(l);
	int rc = 0;
	ssize_t n = -ENODATA;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = open_ino(nl, ino, &rc);
	int wof = ni && is_wof(ni);
	if (ni) {
		if (wof && (!strcmp(name, XA_REPARSE) || !strcmp(name, XA_STREAM LF_WOF_STREAM))) {
			n = -ENODATA;           /* its storage, not shown */
		} else if (wof && !strcmp(name, LF_XATTR_WOF_REPARSE)) {
			n = ntfs_get_ntfs_reparse_data(ni, buf, size);
		} else if (!strcmp(name, XA_ATTRIB)) {
			n = ntfs_get_ntfs_attrib(ni, buf, size);
			if (wof && n == 4 && size >= 4) {
				uint32_t v = le32_to_cpu(*(le32 *)buf) &
					     ~(uint32_t)(LF_WATTR_REPARSE | LF_WATTR_SPARSE);
				*(le32 *)buf = cpu_to_le32(v);
			}
		} else if (!strcmp(name, XA_TIMES)) {
			n = ntfs_inode_get_times(ni, buf, size);
		} else if (!strcmp(name, XA_EA)) {
			n = ntfs_get_ntfs_ea(ni, buf, size);
			if (n == 0)
				n = -ENODATA;
		} else if (!strcmp(name, XA_OBJID)) {
			n = ntfs_get_ntfs_object_id(ni, buf, size);
			if (n == 0)
				n = -ENODATA;
		} else if (!strcmp(name, XA_ACL) && nl->have_secure) {
			struct SECURITY_CONTEXT scx;
			memset(&scx, 0, sizeof scx);
			scx.vol = nl->vol;
			n = ntfs_get_ntfs_acl(&scx, ni, buf, size);
		} else if (!strcmp(name, XA_REPARSE)) {
			n = ntfs_get_ntfs_reparse_data(ni, buf, size);
		} else if (!strcmp(name, XA_DOS) && has_dos_name(ni)) {
			u64 p = parent_of(ni);
			int r2 = 0;
			ntfs_inode *dni = p != ni->mft_no ? open_ino(nl, p, &r2) : NULL;
			if (dni) {
				n = ntfs_get_ntfs_dos_name(ni, dni, buf, size);
				ntfs_inode_close(dni);
			}
		} else if (!strncmp(name, XA_STREAM, strlen(XA_STREAM)) &&
			   name[strlen(XA_STREAM)]) {
			n = read_stream(ni, name + strlen(XA_STREAM), buf, size);
		}
		if (n < 0 && n != -ENODATA && n != -ERANGE && n != -E2BIG)
			n = errno == ENODATA || !errno ? -ENODATA : -errno;
		ntfs_inode_close(ni);
	}
	lf_mutex_unlock(&nl->lock);
	if (rc)
		return rc;
	if (n >= 0 && size && (size_t)n > size)
		return -ERANGE;
	return n;
}

static ssize_t nl_stream_pread(struct lf_layer *l, lf_ino ino, const char *name, void *buf,
			       size_t len, uint64_t off)
{
	struct ntfs_layer *nl = NL(l);
	ntfschar *u = NULL;
	int ul = ntfs_mbstoucs(name, &u);
	if (ul <= 0)
		return -ENODATA;
	int rc = 0;
	ssize_t n = 0;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = open_ino(nl, ino, &rc);
	ntfs_attr *na = ni ? ntfs_attr_open(ni, AT_DATA, u, (u32)ul) : NULL;
	if (ni && !na)
		rc = -ENODATA;
	if (na && off < (uint64_t)na->data_size) {
		s64 got = ntfs_attr_pread(na, (s64)off, (s64)len, buf);
		n = got < 0 ? -EIO : (ssize_t)got;
	}
	if (na)
		ntfs_attr_close(na);
	if (ni)
		ntfs_inode_close(ni);
	lf_mutex_unlock(&nl->lock);
	free(u);
	return rc ? rc : n;
}

static void nl_close(struct lf_layer *l)
{
	struct ntfs_layer *nl = NL(l);
	if (nl->vol) {
		ntfs_store_free(nl);
		if (nl->have_secure)
			ntfs_close_secure(nl->vol);
		/* ntfs_umount frees the device; its private block is ours */
		void *priv = nl->vol->dev->d_private;
		ntfs_umount(nl->vol, FALSE);
		free(priv);
	}
	pthread_mutex_destroy(&nl->lock);
	pthread_mutex_destroy(&nl->store_lock);
	free(l->label);
	free(l->path);
	free(nl);
}

static const struct lf_layer_ops ntfs_ops = {
	.lookup = nl_lookup, .getattr = nl_getattr, .readdir = nl_readdir,
	.read = nl_read, .readlink = nl_readlink, .listxattr = nl_listxattr,
	.getxattr = nl_getxattr, .open = nl_open, .pread = nl_pread, .data = nl_data,
	.stream_pread = nl_stream_pread,
	.release = nl_release, .close = nl_close,
};

int lf_layer_open_ntfs(struct lf_source *src, struct lf_layer **out,
		       struct lf_err *err)
{
	struct lf_volume_extent ext;
	int rc = lf_partition_find_ntfs(src, &ext, err);
	if (!rc)
		rc = lf_ntfs_precheck(src, &ext, err);
	if (rc)
		return rc;
	struct ntfs_layer *nl = calloc(1, sizeof *nl);
	if (!nl)
		return lf_err_set(err, ENOMEM, "%s: out of memory", src->path);
	pthread_mutex_init(&nl->lock, NULL);
	pthread_mutex_init(&nl->store_lock, NULL);
	lf_ntfs_log_capture();
	lf_ntfs_log_clear();
	struct ntfs_device *dev = lf_ntfs_device_new(src, &ext);
	if (dev) {
		errno = 0;
		nl->vol = ntfs_device_mount(dev, NTFS_MNT_RDONLY);
	}
	if (!nl->vol) {
		int e = errno ? errno : EINVAL;
		const char *why = lf_ntfs_log_last();
		rc = lf_err_set(err, e, "%s: the NTFS volume at byte %llu does not mount: %s",
				src->path, (unsigned long long)ext.offset,
				why[0] ? why : strerror(e));
		if (dev) {
			free(dev->d_private);
			ntfs_device_free(dev);
		}
		pthread_mutex_destroy(&nl->lock);
		pthread_mutex_destroy(&nl->store_lock);
		free(nl);
		return rc;
	}
	/* ntfs_mount would do this; ntfs_device_mount does not. */
	ntfs_create_lru_caches(nl->vol);
	/* Lookups ignore case (with the volume's own $UpCase), readdir keeps
	 * it. ntfs_set_ignore_case() would lowercase readdir's names. */
	NVolClearCaseSensitive(nl->vol);
	ntfs_set_shown_files(nl->vol, FALSE, TRUE, FALSE);
	nl->have_secure = ntfs_open_secure(nl->vol) == 0;
	nl->base.ops = &ntfs_ops;
	nl->base.kind = "ntfs";
	nl->base.path = strdup(src->path);
	nl->base.root = FILE_root;
	nl->base.label = nl->vol->vol_name ? strdup(nl->vol->vol_name) : NULL;
	nl->base.source = src;
	nl->base.extent = ext;
	*out = &nl->base;
	return 0;
}
