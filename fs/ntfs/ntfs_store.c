/* Files of an NTFS layer whose data is not plainly in their unnamed
 * $DATA: Compact OS files, read through their decoder (wof.c), which
 * lives while the file is open and is shared by its readers; and the
 * kinds whose data is off the volume, an error to read (EIO and one log
 * line per file), never the zeros or ciphertext the volume holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/lockcheck.h"
#include "layerfs/wof.h"
#include "layer_ntfs_int.h"

struct ntfs_wof_open {
	lf_ino ino;
	unsigned refs;                  /* opens, and reads under way */
	struct lf_wof *w;
	struct ntfs_wof_open *next;
};

static ntfschar efs_name[] = { const_cpu_to_le16('$'), const_cpu_to_le16('E'),
			       const_cpu_to_le16('F'), const_cpu_to_le16('S') };
static ntfschar wof_name[] = {
	const_cpu_to_le16('W'), const_cpu_to_le16('o'), const_cpu_to_le16('f'),
	const_cpu_to_le16('C'), const_cpu_to_le16('o'), const_cpu_to_le16('m'),
	const_cpu_to_le16('p'), const_cpu_to_le16('r'), const_cpu_to_le16('e'),
	const_cpu_to_le16('s'), const_cpu_to_le16('s'), const_cpu_to_le16('e'),
	const_cpu_to_le16('d'), const_cpu_to_le16('D'), const_cpu_to_le16('a'),
	const_cpu_to_le16('t'), const_cpu_to_le16('a'),
};
#define WOF_NAME_LEN (sizeof wof_name / sizeof wof_name[0])

/* Its unnamed $DATA says bytes but holds none on disk (a placeholder
 * that was never fetched). */
static int data_unallocated(ntfs_inode *ni)
{
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na)
		return 0;
	int none = NAttrNonResident(na) && na->data_size > 0 &&
		   (na->allocated_size == 0 ||
		    ((NAttrSparse(na) || NAttrCompressed(na)) && na->compressed_size == 0));
	ntfs_attr_close(na);
	return none;
}

unsigned ntfs_store_of(ntfs_inode *ni, const uint8_t *rp, int rlen)
{
	if (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY)
		return LF_STORE_PLAIN;          /* a folder's names are on the volume */
	uint32_t wattr = le32_to_cpu(ni->flags);
	int efs = (ni->flags & FILE_ATTR_ENCRYPTED) ||
		  ntfs_attr_exist(ni, AT_LOGGED_UTILITY_STREAM, efs_name, 4);
	if (!efs && !rlen)
		return LF_STORE_PLAIN;
	/* whether its $DATA holds anything matters to a cloud placeholder
	 * only (tag 0x9000001A | n << 12) */
	int cloud = rlen >= 4 && ((rp[0] | rp[1] << 8 | (uint32_t)(rp[2] & 0x0F) << 16 |
				   (uint32_t)rp[3] << 24) == 0x9000001Au);
	return lf_store_classify(rlen ? rp : NULL, (size_t)rlen, wattr, efs,
				 cloud && data_unallocated(ni));
}

int ntfs_data_record_size(ntfs_inode *ni, uint64_t *size, uint64_t *alloc)
{
	ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
	int rc = -ENODATA;
	if (ctx && !ntfs_attr_lookup(AT_DATA, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0, ctx)) {
		const ATTR_RECORD *a = ctx->attr;
		*size = a->non_resident ? (uint64_t)sle64_to_cpu(a->data_size)
					: le32_to_cpu(a->value_length);
		*alloc = a->non_resident ? (uint64_t)sle64_to_cpu(a->allocated_size) : 0;
		rc = 0;
	}
	if (ctx)
		ntfs_attr_put_search_ctx(ctx);
	return rc;
}

uint64_t ntfs_wof_alloc(ntfs_inode *ni)
{
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, wof_name, WOF_NAME_LEN);
	if (!na)
		return 0;
	uint64_t n = (uint64_t)(NAttrNonResident(na) ? na->allocated_size : na->data_size);
	ntfs_attr_close(na);
	return n;
}

/* ---- the open decoders ---- */

struct stream_ctx {
	struct ntfs_layer *nl;
	lf_ino ino;
};

/* lf_wof_read_fn: the stream, a call each, under the volume's lock (the
 * decoder's is held: WOF before LAYER) */
static ssize_t read_stream(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct stream_ctx *c = ctx;
	struct ntfs_layer *nl = c->nl;
	ssize_t rc;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = ntfs_inode_open(nl->vol, (MFT_REF)c->ino);
	ntfs_attr *na = ni ? ntfs_attr_open(ni, AT_DATA, wof_name, WOF_NAME_LEN) : NULL;
	if (!na) {
		rc = -EIO;
	} else {
		s64 n = ntfs_attr_pread(na, (s64)off, (s64)len, buf);
		rc = n < 0 ? -EIO : (ssize_t)n;
		ntfs_attr_close(na);
	}
	if (ni)
		ntfs_inode_close(ni);
	lf_mutex_unlock(&nl->lock);
	return rc;
}

/* The stream's size (0: none or empty). */
static uint64_t stream_size(struct ntfs_layer *nl, lf_ino ino)
{
	uint64_t n = 0;
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	ntfs_inode *ni = ntfs_inode_open(nl->vol, (MFT_REF)ino);
	ntfs_attr *na = ni ? ntfs_attr_open(ni, AT_DATA, wof_name, WOF_NAME_LEN) : NULL;
	if (na) {
		n = (uint64_t)na->data_size;
		ntfs_attr_close(na);
	}
	if (ni)
		ntfs_inode_close(ni);
	lf_mutex_unlock(&nl->lock);
	return n;
}

static struct ntfs_wof_open *wof_open_find(struct ntfs_layer *nl, lf_ino ino)
{
	for (struct ntfs_wof_open *o = nl->wof_open; o; o = o->next)
		if (o->ino == ino)
			return o;
	return NULL;
}

/* A decoder for ino, held (a reference taken), new or the open one. */
static struct ntfs_wof_open *wof_open_take(struct ntfs_layer *nl, lf_ino ino, unsigned s, uint64_t size,
				  int *rc)
{
	lf_mutex_lock(&nl->store_lock, LF_LK_LEAF);
	struct ntfs_wof_open *o = wof_open_find(nl, ino);
	if (o)
		o->refs++;
	lf_mutex_unlock(&nl->store_lock);
	if (o)
		return o;
	uint64_t csize = stream_size(nl, ino);
	struct ntfs_wof_open *n = calloc(1, sizeof *n);
	*rc = n ? lf_wof_open(s, size, csize, &n->w) : -ENOMEM;
	if (*rc) {
		free(n);
		return NULL;
	}
	n->ino = ino;
	n->refs = 1;
	lf_mutex_lock(&nl->store_lock, LF_LK_LEAF);
	if ((o = wof_open_find(nl, ino))) {      /* another reader made one meanwhile */
		o->refs++;
	} else {
		n->next = nl->wof_open;
		nl->wof_open = n;
	}
	lf_mutex_unlock(&nl->store_lock);
	if (o) {
		lf_wof_close(n->w);
		free(n);
		return o;
	}
	return n;
}

static void wof_open_put(struct ntfs_layer *nl, lf_ino ino)
{
	struct ntfs_wof_open *gone = NULL;
	lf_mutex_lock(&nl->store_lock, LF_LK_LEAF);
	for (struct ntfs_wof_open **p = &nl->wof_open; *p; p = &(*p)->next)
		if ((*p)->ino == ino) {
			if (--(*p)->refs == 0) {
				gone = *p;
				*p = gone->next;
			}
			break;
		}
	lf_mutex_unlock(&nl->store_lock);
	if (gone) {
		lf_wof_close(gone->w);
		free(gone);
	}
}

int ntfs_wof_hold(struct ntfs_layer *nl, lf_ino ino, unsigned s, uint64_t size)
{
	int rc = 0;
	return wof_open_take(nl, ino, s, size, &rc) ? 0 : rc;
}

void ntfs_wof_drop(struct ntfs_layer *nl, lf_ino ino)
{
	wof_open_put(nl, ino);
}

void ntfs_store_free(struct ntfs_layer *nl)
{
	while (nl->wof_open) {
		struct ntfs_wof_open *o = nl->wof_open;
		nl->wof_open = o->next;
		lf_wof_close(o->w);
		free(o);
	}
	free(nl->logged);
	nl->logged = NULL;
	nl->nlogged = 0;
}

/* ---- one log line per file ---- */

/* Its path from the root, by its first long name and parents (at most
 * 64 levels: a hostile volume's loop ends there). Under nl->lock. */
static void path_of(struct ntfs_layer *nl, lf_ino ino, char *out, size_t size)
{
	char path[4096] = "";
	u64 at = ino;
	for (int depth = 0; depth < 64 && at != FILE_root; depth++) {
		ntfs_inode *ni = ntfs_inode_open(nl->vol, (MFT_REF)at);
		if (!ni)
			break;
		ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
		char *name = NULL;
		u64 parent = FILE_root;
		while (ctx && !name && !ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE,
							 0, NULL, 0, ctx)) {
			const FILE_NAME_ATTR *fn = (const FILE_NAME_ATTR *)
				((const u8 *)ctx->attr + le16_to_cpu(ctx->attr->value_offset));
			if (fn->file_name_type == FILE_NAME_DOS)
				continue;
			ntfschar u[256];
			memcpy(u, (const u8 *)fn + offsetof(FILE_NAME_ATTR, file_name),
			       fn->file_name_length * sizeof(ntfschar));
			if (ntfs_ucstombs(u, fn->file_name_length, &name, 0) < 0)
				name = NULL;
			parent = MREF_LE(fn->parent_directory);
		}
		if (ctx)
			ntfs_attr_put_search_ctx(ctx);
		ntfs_inode_close(ni);
		if (!name)
			break;
		char next[4096];
		snprintf(next, sizeof next, "/%s%s", name, path);
		memcpy(path, next, sizeof path);
		free(name);
		if (parent == at)
			break;
		at = parent;
	}
	snprintf(out, size, "%s", path[0] ? path : "/?");
	if (at != FILE_root)
		snprintf(out, size, "record %llu (%s)", (unsigned long long)ino, path[0] ? path : "?");
}

/* Say it once for this file: 1 if it is to be said now. */
static int first_time(struct ntfs_layer *nl, lf_ino ino)
{
	int fresh = 1;
	lf_mutex_lock(&nl->store_lock, LF_LK_LEAF);
	for (size_t i = 0; i < nl->nlogged && fresh; i++)
		fresh = nl->logged[i] != ino;
	/* a bound: past it, files are said again rather than remembered */
	if (fresh && nl->nlogged < 4096) {
		lf_ino *v = realloc(nl->logged, (nl->nlogged + 1) * sizeof *v);
		if (v) {
			nl->logged = v;
			v[nl->nlogged++] = ino;
		}
	}
	lf_mutex_unlock(&nl->store_lock);
	return fresh;
}

static void say(struct ntfs_layer *nl, lf_ino ino, const char *fmt, const char *what)
{
	if (!first_time(nl, ino))
		return;
	char path[4096];
	lf_mutex_lock(&nl->lock, LF_LK_LAYER);
	path_of(nl, ino, path, sizeof path);
	lf_mutex_unlock(&nl->lock);
	fprintf(stderr, "layerfs: %s: %s: ", nl->base.path, path);
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
}

static void say_undecoded(struct ntfs_layer *nl, lf_ino ino, unsigned s, const char *why)
{
	char line[300];
	snprintf(line, sizeof line, "its Compact OS data (%s) does not decode: %s",
		 lf_store_name(s), why[0] ? why : "a read failed");
	say(nl, ino, "%s (EIO)", line);
}

void ntfs_say_unread(struct ntfs_layer *nl, lf_ino ino, uint64_t off, const char *why)
{
	char line[400];
	snprintf(line, sizeof line, "its data cannot be read at %llu: %s",
		 (unsigned long long)off, why && *why ? why : "a volume read failed");
	say(nl, ino, "%s (EIO)", line);
}

ssize_t ntfs_wof_pread_open(struct ntfs_layer *nl, lf_ino ino, void *buf, size_t len, uint64_t off)
{
	lf_mutex_lock(&nl->store_lock, LF_LK_LEAF);
	struct ntfs_wof_open *o = wof_open_find(nl, ino);
	if (o)
		o->refs++;
	lf_mutex_unlock(&nl->store_lock);
	if (!o)
		return -ENOENT;
	struct stream_ctx ctx = { nl, ino };
	char why[200] = "";
	ssize_t n = lf_wof_pread(o->w, read_stream, &ctx, buf, len, off, why, sizeof why);
	unsigned s = lf_wof_store(o->w);
	wof_open_put(nl, ino);
	if (n == -EIO)
		say_undecoded(nl, ino, s, why);
	return n;
}

ssize_t ntfs_store_read(struct ntfs_layer *nl, lf_ino ino, unsigned s, uint64_t size, void *buf,
			size_t len, uint64_t off)
{
	if (s == LF_STORE_ALIAS)
		return 0;              /* as Windows shows it: no bytes */
	if (!lf_store_is_wof(s)) {
		say(nl, ino, "not read: %s (EIO)", lf_store_why(s));
		return -EIO;
	}
	int rc = 0;
	struct ntfs_wof_open *o = wof_open_take(nl, ino, s, size, &rc);
	if (!o)
		return rc;
	struct stream_ctx ctx = { nl, ino };
	char why[200] = "";
	ssize_t n = lf_wof_pread(o->w, read_stream, &ctx, buf, len, off, why, sizeof why);
	wof_open_put(nl, ino);
	if (n == -EIO)
		say_undecoded(nl, ino, s, why);
	return n;
}
