/* What differs between two merged trees (each a stack of layers, a disk
 * or a folder): names on one side only, and entries whose type, spelling,
 * size, content, descriptor, Windows attributes, streams or reparse data
 * (or times, where asked) differ. Names match as Windows matches them (any
 * case). Files that are obviously the same (same size and modification
 * time) are not read; the others are compared by content. Files merged
 * from every layer's copy (hives) are left to the caller, which compares
 * what they hold. The first step of capture (issue 17). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/casefold.h"
#include "layerfs/dosname.h"
#include "layerfs/win_names.h"
#include "layerfs/wof.h"
#include "union_int.h"

#define CHUNK (1u << 20)
#define MAX_DEPTH 256

/* Same bytes? 1 yes, 0 no, <0 an error. */
static int same_content(struct lf_union *a, uint64_t ia, struct lf_union *b, uint64_t ib,
			uint64_t size, char *ba, char *bb)
{
	struct lf_ufile *fa = NULL, *fb = NULL;
	int rc = lf_union_open_file(a, ia, O_RDONLY, &fa);
	if (!rc)
		rc = lf_union_open_file(b, ib, O_RDONLY, &fb);
	int same = 1;
	/* only where one side has data: a hole on both is the same zeros,
	 * and a sparse file of terabytes is compared in its few blocks */
	uint64_t end = 0;
	for (uint64_t off = 0; !rc && same && off < size;) {
		if (off >= end) {
			uint64_t da, ha, db, hb;
			int ra = lf_union_data(a, fa, off, &da, &ha);
			int rb = lf_union_data(b, fb, off, &db, &hb);
			if ((ra && ra != -ENXIO) || (rb && rb != -ENXIO)) {
				rc = ra && ra != -ENXIO ? ra : rb;
				break;
			}
			if (ra)
				da = ha = UINT64_MAX;
			if (rb)
				db = hb = UINT64_MAX;
			uint64_t start = da < db ? da : db;
			if (start >= size)
				break;
			/* up to where either side changes between data and hole */
			uint64_t ea = da <= start ? ha : da, eb = db <= start ? hb : db;
			end = ea < eb ? ea : eb;
			off = start;
		}
		uint64_t left = (end < size ? end : size) - off;
		size_t want = left < CHUNK ? (size_t)left : CHUNK;
		ssize_t na = lf_union_pread(a, fa, ba, want, off);
		ssize_t nb = lf_union_pread(b, fb, bb, want, off);
		if (na < 0 || nb < 0)
			rc = (int)(na < 0 ? na : nb);
		else if (na != nb || memcmp(ba, bb, (size_t)na))
			same = 0;
		else if (na == 0)
			break;
		else
			off += (uint64_t)na;
	}
	if (fa)
		lf_union_release(a, fa);
	if (fb)
		lf_union_release(b, fb);
	return rc ? rc : same;
}

/* ino -> ino, open addressing (0: free; no node is numbered 0) */
struct ino_map {
	uint64_t *k, *v;
	size_t n, cap;
};

struct differ {
	struct lf_union *a, *b;
	struct ino_map a2b, b2a; /* files with more names: a's node <-> b's */
	unsigned flags;
	const struct lf_diff_opts *o;
	uint64_t seen;
	lf_diff_fn fn;
	void *ctx;
	char *ba, *bb;
	char path[8192];
	int stop;
};

static uint64_t *map_find(const struct ino_map *m, uint64_t k)
{
	if (!m->cap)
		return NULL;
	for (size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->k[i])
			return NULL;
		if (m->k[i] == k)
			return &m->v[i];
	}
}

static int map_put(struct ino_map *m, uint64_t k, uint64_t v)
{
	if (2 * (m->n + 1) > m->cap) {
		struct ino_map g = { .cap = m->cap ? m->cap * 2 : 256 };
		g.k = calloc(g.cap, sizeof *g.k);
		g.v = calloc(g.cap, sizeof *g.v);
		if (!g.k || !g.v) {
			free(g.k);
			free(g.v);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->k[i])
				map_put(&g, m->k[i], m->v[i]);
		free(m->k);
		free(m->v);
		*m = g;
	}
	size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
	while (m->k[i])
		i = (i + 1) & (m->cap - 1);
	m->k[i] = k;
	m->v[i] = v;
	m->n++;
	return 0;
}

/* Hard links: one file's names on one side are one file's names on the
 * other (a link count says less: a name deleted by a token above still
 * counts in its layer). Each such node is looked up once more and held
 * to the end, so that a folder layer does not number it anew once the
 * walk forgets it. 1: they differ; <0 an error. */
static int links_differ(struct differ *d, uint64_t pa, uint64_t pb, const struct lf_union_entry *x,
			const struct lf_union_entry *y)
{
	if (S_ISDIR(x->a.mode) || (x->a.nlink < 2 && y->a.nlink < 2))
		return 0;
	uint64_t *ma = map_find(&d->a2b, x->a.ino), *mb = map_find(&d->b2a, y->a.ino);
	if (ma || mb)
		return !(ma && mb && *ma == y->a.ino && *mb == x->a.ino);
	struct lf_attr ta, tb;
	int rc = lf_union_lookup(d->a, pa, x->name, &ta);
	if (rc)
		return rc;
	if ((rc = lf_union_lookup(d->b, pb, y->name, &tb))) {
		lf_union_forget(d->a, ta.ino, 1);
		return rc;
	}
	if (map_put(&d->a2b, ta.ino, tb.ino)) {
		lf_union_forget(d->a, ta.ino, 1);
		lf_union_forget(d->b, tb.ino, 1);
		return -ENOMEM;
	}
	/* a2b holds the references (links_free); b2a only answers */
	return map_put(&d->b2a, tb.ino, ta.ino);
}

static void links_free(struct differ *d)
{
	for (size_t i = 0; i < d->a2b.cap; i++)
		if (d->a2b.k[i]) {
			lf_union_forget(d->a, d->a2b.k[i], 1);
			lf_union_forget(d->b, d->a2b.v[i], 1);
		}
	free(d->a2b.k);
	free(d->a2b.v);
	free(d->b2a.k);
	free(d->b2a.v);
}

static int report(struct differ *d, char what, const char *why, const struct lf_attr *at)
{
	if (!d->stop && d->fn(d->ctx, what, d->path, why, at))
		d->stop = 1;
	return d->stop;
}

static int diff_folders(struct differ *d, uint64_t ia, uint64_t ib, int depth);

/* Do a's and b's values of xattr name differ? (<0: an error) */
/* An object ID's length that counts: its three birth IDs all zero are
 * none (ntfs-3g shows 64 bytes where 16 were given). */
static ssize_t objid_len(const char *v, ssize_t n)
{
	if (n != 64)
		return n;
	for (int i = 16; i < 64; i++)
		if (v[i])
			return n;
	return 16;
}

static int xattr_differs(struct differ *d, uint64_t ia, uint64_t ib, const char *name)
{
	char *va, *vb;
	ssize_t na = lf_union_xattr_alloc(d->a, ia, name, &va);
	ssize_t nb = lf_union_xattr_alloc(d->b, ib, name, &vb);
	if (!strcmp(name, "system.ntfs_object_id")) {
		na = objid_len(va, na);
		nb = objid_len(vb, nb);
	}
	int r = na == -ENODATA || na == -ENOTSUP ? (nb >= 0 ? 1 : 0)
		: nb == -ENODATA || nb == -ENOTSUP ? (na >= 0 ? 1 : 0)
		: na < 0 ? (int)na : nb < 0 ? (int)nb
		: na != nb || memcmp(va, vb, (size_t)na) != 0;
	free(va);
	free(vb);
	return r;
}

/* Extended attributes other than WSL's $LX* (the owner and mode, which a
 * folder layer keeps as its host's and compare judges on their own). */
static int ea_differs(struct differ *d, uint64_t ia, uint64_t ib)
{
	char *va, *vb;
	ssize_t na = lf_union_xattr_alloc(d->a, ia, "system.ntfs_ea", &va);
	ssize_t nb = lf_union_xattr_alloc(d->b, ib, "system.ntfs_ea", &vb);
	int r = 0;
	if ((na < 0 && na != -ENODATA && na != -ENOTSUP) || (nb < 0 && nb != -ENODATA && nb != -ENOTSUP)) {
		r = na < 0 && na != -ENODATA && na != -ENOTSUP ? (int)na : (int)nb;
	} else {
		size_t sa = 0, sb = 0;
		uint8_t *ea = na > 0 ? malloc((size_t)na) : NULL, *eb = nb > 0 ? malloc((size_t)nb) : NULL;
		if ((na > 0 && !ea) || (nb > 0 && !eb))
			r = -ENOMEM;
		if (!r && ea)
			sa = lf_ea_strip_lx((const uint8_t *)va, (size_t)na, ea);
		if (!r && eb)
			sb = lf_ea_strip_lx((const uint8_t *)vb, (size_t)nb, eb);
		if (!r)
			r = sa != sb || (sa && memcmp(ea, eb, sa));
		free(ea);
		free(eb);
	}
	free(va);
	free(vb);
	return r;
}

/* Streams (user.NAME, apart from this project's own user.layerfs.*) of
 * ino, as a '\0'-separated list (*v malloc'd): its length or -errno. */
static ssize_t streams_of(struct lf_union *u, uint64_t ino, char **v)
{
	*v = NULL;
	ssize_t n = lf_union_listxattr(u, ino, NULL, 0);
	if (n == -ENOTSUP || n == -ENODATA)
		return 0;
	if (n < 0)
		return n;
	char *all = malloc((size_t)n + 1);
	if (!all)
		return -ENOMEM;
	if ((n = lf_union_listxattr(u, ino, all, (size_t)n + 1)) < 0) {
		free(all);
		return n;
	}
	size_t k = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(all + i) + 1)
		if (!strncmp(all + i, "user.", 5) && strncmp(all + i, "user.layerfs.", 13)) {
			size_t l = strlen(all + i) + 1;
			memmove(all + k, all + i, l);
			k += l;
		}
	*v = all;
	return (ssize_t)k;
}

static int has_name(const char *list, size_t len, const char *name)
{
	for (size_t i = 0; i < len; i += strlen(list + i) + 1)
		if (!strcmp(list + i, name))
			return 1;
	return 0;
}

/* Do the streams differ, in names or bytes? (<0: an error) */
static int streams_differ(struct differ *d, uint64_t ia, uint64_t ib)
{
	char *la, *lb;
	ssize_t na = streams_of(d->a, ia, &la), nb = streams_of(d->b, ib, &lb);
	int r = na < 0 ? (int)na : nb < 0 ? (int)nb : 0;
	for (ssize_t i = 0; !r && i < na; i += (ssize_t)strlen(la + i) + 1)
		r = !has_name(lb, (size_t)nb, la + i) ? 1 : xattr_differs(d, ia, ib, la + i);
	for (ssize_t i = 0; !r && i < nb; i += (ssize_t)strlen(lb + i) + 1)
		r = !has_name(la, (size_t)na, lb + i);
	free(la);
	free(lb);
	return r;
}

static void why_add(char *why, size_t size, const char *what)
{
	size_t n = strlen(why);
	snprintf(why + n, size - n, "%s%s", n ? ", " : "", what);
}

/* Do the descriptors Windows sees differ? (<0: an error) */
static int sd_differs(struct differ *d, const struct lf_union_entry *x, const struct lf_union_entry *y)
{
	uint8_t *sa = NULL, *sb = NULL;
	size_t na = 0, nb = 0;
	int r = lf_union_win_sd(d->a, x->a.ino, &sa, &na);
	if (!r)
		r = lf_union_win_sd(d->b, y->a.ino, &sb, &nb);
	if (!r)
		r = na != nb || memcmp(sa, sb, na) != 0;
	free(sa);
	free(sb);
	return r;
}

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int has_xattr(struct lf_union *u, uint64_t ino, const char *name)
{
	return lf_union_getxattr(u, ino, name, NULL, 0) >= 0;
}

/* The same time to NTFS, which keeps 100 ns (a folder layer's host keeps 1). */
static int same_ntfs_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec / 100 == b.tv_nsec / 100;
}

/* What compare adds: times, 8.3 names (hard links: links_differ). */
static int exact_differs(struct differ *d, const struct lf_union_entry *x,
			 const struct lf_union_entry *y, char *why, size_t size)
{
	const struct lf_attr *p = &x->a, *q = &y->a;
	if (!same_ntfs_time(lf_attr_born(p), lf_attr_born(q)) || !same_ntfs_time(p->mtime, q->mtime) ||
	    (!(d->flags & LF_DIFF_NO_CTIME) && !same_ntfs_time(p->ctime, q->ctime)))
		why_add(why, size, "times");
	int r = xattr_differs(d, p->ino, q->ino, "system.ntfs_dos_name");
	/* the stack has none, or one another layer's folder held too (two
	 * layers' PROGRA~1 merged), and the image the one publish made as
	 * Windows makes them: the same */
	char dos[16], sdos[16];
	ssize_t n, sn = 0;
	if (r > 0 &&
	    (!has_xattr(d->b, q->ino, "system.ntfs_dos_name") ||
	     ((sn = lf_union_getxattr(d->b, q->ino, "system.ntfs_dos_name", sdos, sizeof sdos - 1)) > 0 &&
	      (sdos[sn] = 0, lf_dos_made_for(y->name, sdos)))) &&
	    (n = lf_union_getxattr(d->a, p->ino, "system.ntfs_dos_name", dos, sizeof dos - 1)) > 0) {
		dos[n] = 0;
		if (lf_dos_made_for(y->name, dos))
			r = 0;
	}
	if (r > 0)
		why_add(why, size, "8.3 name");
	return r < 0 ? r : 0;
}

/* What NTFS keeps beside the bytes: the descriptor, the Windows
 * attributes (but the folder bit, which the type says), the streams, the
 * reparse data; times where asked. Added to why; <0 an error. */
static int meta_differs(struct differ *d, const struct lf_union_entry *x, const struct lf_union_entry *y,
			char *why, size_t size)
{
	int r = sd_differs(d, x, y);
	if (r < 0)
		return r;
	if (r)
		why_add(why, size, "descriptor");
	if ((r = xattr_differs(d, x->a.ino, y->a.ino, "system.ntfs_reparse_data")) < 0)
		return r;
	if (r && (d->flags & LF_DIFF_EXACT) && S_ISLNK(x->a.mode) &&
	    (!has_xattr(d->a, x->a.ino, "system.ntfs_reparse_data") ||
	     !has_xattr(d->b, y->a.ino, "system.ntfs_reparse_data")))
		r = 0;
	if (r)
		why_add(why, size, "reparse data");
	/* a link's folder bit says whether Windows sees a folder or a file */
	/* sparse is how the bytes are stored (publish keeps a folder
	 * layer's holes as holes and NTFS then says so), not what they are */
	uint32_t keep = S_ISLNK(x->a.mode) && (d->flags & LF_DIFF_EXACT) ? ~0u
		        : ~(uint32_t)(LF_WATTR_DIRECTORY | LF_WATTR_SPARSE | LF_WATTR_NORMAL);
	if ((lf_union_win_attrib(d->a, &x->a) ^ lf_union_win_attrib(d->b, &y->a)) & keep)
		why_add(why, size, "attributes");
	if ((r = streams_differ(d, x->a.ino, y->a.ino)) < 0)
		return r;
	if (r)
		why_add(why, size, "streams");
	if ((r = ea_differs(d, x->a.ino, y->a.ino)) < 0)
		return r;
	if (r)
		why_add(why, size, "extended attributes");
	if ((r = xattr_differs(d, x->a.ino, y->a.ino, "system.ntfs_object_id")) < 0)
		return r;
	if (r)
		why_add(why, size, "object ID");
	if ((d->flags & LF_DIFF_TIMES) && !(d->flags & LF_DIFF_EXACT) && !S_ISDIR(x->a.mode) &&
	    !same_time(x->a.mtime, y->a.mtime))
		why_add(why, size, "times");
	if (d->flags & LF_DIFF_EXACT)
		return exact_differs(d, x, y, why, size);
	return 0;
}

/* A name on one side, or both. */
static int one_name(struct differ *d, uint64_t pa, uint64_t pb, const struct lf_union_entry *x,
		    const struct lf_union_entry *y, int depth)
{
	size_t len = strlen(d->path);
	const char *name = y ? y->name : x->name;
	if (len + strlen(name) + 2 > sizeof d->path)
		return -ENAMETOOLONG;
	snprintf(d->path + len, sizeof d->path - len, "%s%s", len ? "/" : "", name);
	int rc = 0;
	char why[160] = "";
	if (++d->seen % 1024 == 0 && d->o->progress)
		d->o->progress(d->o->progress_ctx, "compare", d->seen, 0);
	if (x && y && d->o->stats) {
		uint32_t t = y->a.mode & S_IFMT;
		*(S_ISREG(t) ? &d->o->stats->files : S_ISDIR(t) ? &d->o->stats->folders
							: &d->o->stats->other) += 1;
	}
	if (!x && (d->flags & LF_DIFF_WINDOWS) &&
	    (lf_name_forbidden(name) || depth >= LF_DIFF_WINDOWS_DEPTH)) {
		rc = 0;          /* left out of the image, and said then */
	} else if (!y) {
		report(d, '-', S_ISDIR(x->a.mode) ? "folder" : "file", &x->a);
	} else if (!x) {
		report(d, '+', S_ISDIR(y->a.mode) ? "folder" : "file", &y->a);
	} else if ((x->a.mode & S_IFMT) != (y->a.mode & S_IFMT)) {
		report(d, '~', "type", &y->a);
	} else if (strcmp(x->name, y->name)) {
		/* Windows' rename to another case: the name is spelled anew
		 * (a folder with all in it) */
		report(d, '~', "spelling", &y->a);
	} else if ((x->a.flags & LF_ATTR_MERGED) || (y->a.flags & LF_ATTR_MERGED)) {
		report(d, 'm', "merged file", &y->a);    /* the caller compares what it holds */
	} else {
		if (S_ISLNK(x->a.mode)) {
			char ta[4096], tb[4096];
			ssize_t na = lf_union_readlink(d->a, x->a.ino, ta, sizeof ta);
			ssize_t nb = lf_union_readlink(d->b, y->a.ino, tb, sizeof tb);
			if (na < 0 || nb < 0 || strcmp(ta, tb))
				why_add(why, sizeof why, "link target");
		} else if (S_ISREG(x->a.mode) && x->a.size != y->a.size) {
			why_add(why, sizeof why, "size");
		} else if (S_ISREG(x->a.mode) && (lf_store_missing(x->a.store) ||
						  lf_store_missing(y->a.store))) {
			/* its data is not on the volume to read: the placeholders
			 * are what is compared (reparse data, attributes, below) */
			if (x->a.store != y->a.store)
				why_add(why, sizeof why, "storage");
		} else if (S_ISREG(x->a.mode) && ((d->flags & LF_DIFF_EXACT) ||
						  !same_time(x->a.mtime, y->a.mtime))) {
			/* not obviously the same: by content */
			int same = same_content(d->a, x->a.ino, d->b, y->a.ino, x->a.size, d->ba, d->bb);
			if (same < 0)
				rc = same;
			else if (!same)
				why_add(why, sizeof why, "content");
		}
		if (!rc)
			rc = meta_differs(d, x, y, why, sizeof why);
		int l = !rc && (d->flags & LF_DIFF_EXACT) ? links_differ(d, pa, pb, x, y) : 0;
		if (l < 0)
			rc = l;
		else if (l)
			why_add(why, sizeof why, "links");
		if (!rc && why[0])
			report(d, S_ISDIR(x->a.mode) ? 'd' : '~', why, &y->a);
		if (!rc && S_ISDIR(x->a.mode))
			rc = diff_folders(d, x->a.ino, y->a.ino, depth + 1);
	}
	d->path[len] = 0;
	return rc;
}

static int diff_folders(struct differ *d, uint64_t ia, uint64_t ib, int depth)
{
	if (depth > MAX_DEPTH)
		return -ELOOP;
	struct lf_union_list la, lb;
	int rc = lf_union_list(d->a, ia, &la);
	if (!rc)
		rc = lf_union_list(d->b, ib, &lb);
	else
		memset(&lb, 0, sizeof lb);
	size_t i = 0, k = 0;
	while (!rc && !d->stop && (i < la.n || k < lb.n)) {
		int c = i == la.n ? 1 : k == lb.n ? -1 : lf_casecmp(la.v[i].name, lb.v[k].name);
		const struct lf_union_entry *x = c <= 0 ? &la.v[i] : NULL, *y = c >= 0 ? &lb.v[k] : NULL;
		rc = one_name(d, ia, ib, x, y, depth);
		i += c <= 0;
		k += c >= 0;
	}
	lf_union_list_free(d->a, &la);
	lf_union_list_free(d->b, &lb);
	return rc;
}

int lf_union_diff(struct lf_union *a, struct lf_union *b, const struct lf_diff_opts *o,
		  lf_diff_fn fn, void *ctx)
{
	static const struct lf_diff_opts none;
	o = o ? o : &none;
	struct differ d = { .a = a, .b = b, .flags = o->flags, .o = o, .fn = fn, .ctx = ctx, .ba = malloc(CHUNK),
			    .bb = malloc(CHUNK) };
	int rc = d.ba && d.bb ? diff_folders(&d, LF_UNION_ROOT, LF_UNION_ROOT, 0) : -ENOMEM;
	links_free(&d);
	free(d.ba);
	free(d.bb);
	return rc;
}
