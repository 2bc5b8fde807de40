/* lf_publish: the union's tree into a new NTFS volume (publish.h). The
 * packer's steps (pack_int.h) make each entry; what they are given comes
 * from the union instead of a host folder, so nothing is staged. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layerfs/layout.h"
#include "layerfs/publish.h"
#include "layerfs/safe_path.h"
#include "layerfs/security.h"
#include "layerfs/vhd.h"
#include "layerfs/dosname.h"
#include "layerfs/win_names.h"
#include "layerfs/wof.h"
#include "layerfs/wim.h"
#include "ntfs_glue.h"
#include "pack_int.h"
#include "reparse.h"
#include "lxattr.h"
#include <ntfs-3g/object_id.h>

#define MAX_DEPTH 256
#define BOOT_BYTES 8192          /* $Boot: the boot sector and the loader after it */

struct publisher {
	struct packer p;
	struct lf_union *u;
	const struct lf_publish_opts *o;
	struct lf_publish_stats *st;
	struct lf_pack_stats pst;
	uint64_t entries, clusters;
	const char *dos_now;     /* the 8.3 name of the entry being made, or "" */
	uint64_t *held;          /* nodes of files with more names, held */
	size_t nheld, capheld;
};

/* Folder ino read whole (l empty on an error, which is set). */
static int list_folder(struct publisher *w, uint64_t ino, int depth, struct lf_union_list *l)
{
	memset(l, 0, sizeof *l);
	if (depth > MAX_DEPTH)
		return lf_err_set(w->p.err, ELOOP, "the stack is deeper than %d folders", MAX_DEPTH);
	int rc = lf_union_list(w->u, ino, l);
	if (rc)
		rc = lf_err_set(w->p.err, -rc, "%s: cannot read the folder: %s",
				w->p.path[0] ? w->p.path : "/", strerror(-rc));
	return rc;
}

/* --- scan: how much there is --- */

#define HOLE_UNIT 65536u        /* a sparse file's zeros, skipped in these */

/* A file its layer stores with holes (a folder layer's sparse host
 * file): copied as one, its holes left holes. */
static int has_holes(const struct lf_attr *a)
{
	return a->alloc + HOLE_UNIT < a->size;
}

/* Can Windows hold entry NAME at depth? Not: left out and said (0 after
 * it is said), or refused when strict (-1, err set). 1: it can. */
static int windows_holds(struct publisher *w, const char *name, int depth, int say)
{
	const char *bad = lf_name_forbidden(name);
	char why[200];
	if (!bad && depth <= MAX_DEPTH)
		return 1;
	if (bad)
		snprintf(why, sizeof why, "the name has %s", bad);
	else
		snprintf(why, sizeof why, "deeper than %d folders", MAX_DEPTH);
	if (w->o->strict)
		return lf_err_set(w->p.err, EINVAL, "%s/%s: %s (--strict)", w->p.path, name, why), -1;
	if (say) {
		char path[sizeof w->p.path + 300];
		snprintf(path, sizeof path, "%s/%.255s", w->p.path, name);
		if (w->o->skipped)
			w->o->skipped(w->o->skipped_ctx, path[0] == '/' ? path + 1 : path, why);
		w->st->skipped++;
	}
	return 0;
}

static int scan(struct publisher *w, uint64_t ino, int depth)
{
	struct lf_union_list l;
	int rc = list_folder(w, ino, depth, &l);
	for (size_t i = 0; !rc && i < l.n; i++) {
		const struct lf_attr *a = &l.v[i].a;
		int holds = windows_holds(w, l.v[i].name, depth + S_ISDIR(a->mode), 0);
		if (holds <= 0) {
			rc = holds;
			continue;
		}
		w->entries++;
		if (S_ISREG(a->mode)) {
			/* a sparse or compressed file takes what it takes now */
			uint64_t takes = (a->wattr & (LF_WATTR_SPARSE | LF_WATTR_COMPRESSED) ||
					  has_holes(a)) && a->alloc < a->size ? a->alloc : a->size;
			w->clusters += (takes + CLUSTER - 1) / CLUSTER;
			w->p.total += a->size;
		} else if (S_ISDIR(a->mode)) {
			size_t keep = pack_path_push(&w->p, l.v[i].name);
			rc = scan(w, a->ino, depth + 1);
			w->p.path[keep] = 0;
		}
		if (w->entries % 4096 == 0 && w->o->progress)   /* a count: no total yet */
			w->o->progress(w->o->progress_ctx, "scan", w->entries, 0);
	}
	lf_union_list_free(w->u, &l);
	return rc;
}

/* --- fill --- */

static void times_of(const struct lf_attr *a, struct timespec t[4])
{
	t[0] = lf_attr_born(a);
	t[1] = a->mtime;
	t[2] = a->atime;
	t[3] = a->ctime;
}

/* All four, the MFT change time too (pack_put_times). */
static int set_times(ntfs_inode *ni, const struct lf_attr *a)
{
	struct timespec t[4];
	times_of(a, t);
	return pack_put_times(ni, t);
}

static int all_zero(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}



/* The bytes; a sparse file's runs of zeros left as holes (the attribute
 * grown to its size first: libntfs-3g makes that a hole and marks the
 * file sparse). */
static int copy_data(struct publisher *w, const struct lf_attr *a, ntfs_inode *ni, int sparse)
{
	struct lf_ufile *f = NULL;
	int rc = lf_union_open_file(w->u, a->ino, O_RDONLY, &f);
	if (rc)
		return lf_err_set(w->p.err, -rc, "%s: cannot open: %s", w->p.path, strerror(-rc));
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na)
		rc = pack_fail(&w->p, "cannot open its data");
	sparse |= has_holes(a);
	if (!rc && sparse && a->size > HOLE_UNIT && ntfs_attr_truncate(na, (s64)a->size))
		rc = pack_fail(&w->p, "cannot make it sparse");
	/* only where the layer has data (its holes are not read at all: a
	 * sparse file of terabytes is its few blocks), zeros left holes */
	uint64_t end = 0;
	for (uint64_t off = 0; !rc && sparse && a->size > HOLE_UNIT && off < a->size;) {
		int r = off < end ? 1 : lf_union_next_data(w->u, f, &off, a->size, &end);
		if (r <= 0) {
			if (r)
				rc = lf_err_set(w->p.err, -r, "%s: %s", w->p.path, strerror(-r));
			break;
		}
		size_t want = end - off < HOLE_UNIT ? (size_t)(end - off) : HOLE_UNIT;
		ssize_t n = lf_union_pread(w->u, f, w->p.buf, want, off);
		if (n < 0) {
			rc = lf_err_set(w->p.err, (int)-n, "%s: %s", w->p.path, strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
		if (!all_zero(w->p.buf, (size_t)n) && ntfs_attr_pwrite(na, (s64)off, n, w->p.buf) != n)
			rc = pack_fail(&w->p, "write failed");
		off += (uint64_t)n;
		w->st->bytes += (uint64_t)n;
		w->p.done += (uint64_t)n;
		pack_progress(&w->p, "fill");
	}
	for (s64 off = 0; !rc && !(sparse && a->size > HOLE_UNIT);) {
		ssize_t n = lf_union_pread(w->u, f, w->p.buf, PACK_CHUNK, (uint64_t)off);
		if (n < 0) {
			rc = lf_err_set(w->p.err, (int)-n, "%s: %s", w->p.path, strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
		if (ntfs_attr_pwrite(na, off, n, w->p.buf) != n) {
			rc = pack_fail(&w->p, "write failed");
			break;
		}
		off += n;
		w->st->bytes += (uint64_t)n;
		w->p.done += (uint64_t)n;
		pack_progress(&w->p, "fill");
	}
	if (na)
		ntfs_attr_close(na);
	lf_union_release(w->u, f);
	return rc;
}

/* A Compact OS file's stream, piece by piece (hundreds of megabytes for
 * a big file), into a stream of the same name. */
static int copy_wof_stream(struct publisher *w, const struct lf_attr *a, ntfs_inode *ni)
{
	int rc = pack_add_stream(&w->p, ni, LF_WOF_STREAM, "", 0);
	ntfschar *uname = NULL;
	int ulen = ntfs_mbstoucs(LF_WOF_STREAM, &uname);
	ntfs_attr *na = rc || ulen <= 0 ? NULL : ntfs_attr_open(ni, AT_DATA, uname, (u32)ulen);
	free(uname);
	if (!rc && !na)
		rc = pack_fail(&w->p, "cannot open its Compact OS stream");
	for (uint64_t off = 0; !rc;) {
		ssize_t n = lf_union_stream_pread(w->u, a->ino, LF_WOF_STREAM, w->p.buf, PACK_CHUNK, off);
		if (n < 0)
			rc = lf_err_set(w->p.err, (int)-n, "%s: cannot read its Compact OS stream: %s",
					w->p.path, strerror((int)-n));
		if (n <= 0)
			break;
		if (ntfs_attr_pwrite(na, (s64)off, n, w->p.buf) != n)
			rc = pack_fail(&w->p, "cannot write its Compact OS stream");
		off += (uint64_t)n;
	}
	if (na)
		ntfs_attr_close(na);
	w->st->streams += !rc;
	return rc;
}

/* A file whose data is not plain, kept in the form it is stored in: a
 * Compact OS file compressed as it is (its stream copied, its $DATA
 * holes at its size), a file whose data is elsewhere as the placeholder
 * it is (holes at its size; its reparse point comes after). An EFS
 * file's $EFS is not carried: refused by name, never published as its
 * ciphertext or as nothing. */
static int keep_stored(struct publisher *w, const struct lf_attr *a, ntfs_inode *ni)
{
	if (a->store == LF_STORE_EFS)
		return lf_err_set(w->p.err, EOPNOTSUPP, "%s: EFS-encrypted: its key and data "
				  "cannot be carried into the image (decrypt it on Windows first)",
				  w->p.path);
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	int rc = !na || (a->size && ntfs_attr_truncate(na, (s64)a->size))
		 ? pack_fail(&w->p, "cannot size its data") : 0;
	if (na)
		ntfs_attr_close(na);
	if (!rc && lf_store_is_wof(a->store))
		rc = copy_wof_stream(w, a, ni);
	w->st->files++;
	return rc;
}

static int copy_streams(struct publisher *w, uint64_t ino, ntfs_inode *ni)
{
	char *names = NULL;
	ssize_t n = lf_union_listxattr(w->u, ino, NULL, 0);
	if (n <= 0)
		return 0;
	if (!(names = malloc((size_t)n)) || (n = lf_union_listxattr(w->u, ino, names, (size_t)n)) < 0) {
		free(names);
		return lf_err_set(w->p.err, ENOMEM, "%s: cannot list its streams", w->p.path);
	}
	int rc = 0;
	for (ssize_t i = 0; i < n && !rc; i += (ssize_t)strlen(names + i) + 1) {
		const char *x = names + i;
		if (strncmp(x, "user.", 5) != 0 || !x[5] || !strncmp(x, "user.layerfs.", 13))
			continue;
		char *v;
		ssize_t len = lf_union_xattr_alloc(w->u, ino, x, &v);
		if (len < 0)
			rc = lf_err_set(w->p.err, (int)-len, "%s: cannot read its stream %s: %s",
					w->p.path, x + 5, strerror((int)-len));
		else
			rc = pack_add_stream(&w->p, ni, x + 5, v, (size_t)len);
		w->st->streams += !rc;
		free(v);
	}
	free(names);
	return rc;
}

/* Its extended attributes ($EA: WSL's $LX* records made from its owner
 * and mode, the rest as its layer has them) and its object ID. */
static int copy_ea_objid(struct publisher *w, const struct lf_attr *a, uint64_t ino, ntfs_inode *ni)
{
	char *ea, *oid;
	ssize_t n = lf_union_xattr_alloc(w->u, ino, "system.ntfs_ea", &ea);
	ssize_t k = lf_union_xattr_alloc(w->u, ino, "system.ntfs_object_id", &oid);
	struct lx_meta lx;
	struct stat st = { .st_uid = a->uid, .st_gid = a->gid, .st_mode = a->mode,
			   .st_rdev = (dev_t)a->rdev };
	pack_lx_of(&st, &lx);
	struct pack_meta m = { .ea = (const uint8_t *)ea, .ealen = n > 0 ? (size_t)n : 0,
			       .lx = (a->flags & LF_ATTR_LX) ? &lx : NULL,
			       .oid = (const uint8_t *)oid, .oidlen = k >= 16 ? (size_t)k : 0 };
	int rc = pack_keep_ea_objid(&w->p, ni, &m);
	free(ea);
	free(oid);
	return rc;
}

/* The reparse data to give it (*rp malloc'd; 0 bytes: none): its own, or
 * for a folder layer's symlink one made from the target. */
static ssize_t reparse_of(struct publisher *w, const struct lf_attr *a, uint8_t **rp, int *own)
{
	char *v;
	/* a Compact OS file's is its storage's, not shown but kept */
	ssize_t n = lf_union_xattr_alloc(w->u, a->ino, lf_store_is_wof(a->store)
					 ? LF_XATTR_WOF_REPARSE : "system.ntfs_reparse_data", &v);
	*rp = NULL;
	*own = n >= 8;
	if (n >= 8) {
		*rp = (uint8_t *)v;
		return n;
	}
	free(v);
	if (!S_ISLNK(a->mode))
		return 0;
	char target[PATH_MAX];
	ssize_t t = lf_union_readlink(w->u, a->ino, target, sizeof target - 1);
	if (t < 0)
		return lf_err_set(w->p.err, (int)-t, "%s: cannot read the link: %s", w->p.path,
				  strerror((int)-t)), -1;
	target[t] = 0;
	if (!(*rp = malloc(LF_REPARSE_MAX)))
		return lf_err_set(w->p.err, ENOMEM, "out of memory"), -1;
	n = lf_reparse_encode_symlink(target, *rp, LF_REPARSE_MAX);
	if (n < 0)
		return lf_err_set(w->p.err, (int)-n, "%s: cannot store the link's target", w->p.path), -1;
	return n;
}

/* Is a folder layer's symlink one to a folder (a directory entry in
 * Windows)? Its target looked up in the union. */
static int link_to_dir(struct publisher *w, const struct lf_attr *a)
{
	char target[PATH_MAX], path[PATH_MAX * 2];
	ssize_t t = lf_union_readlink(w->u, a->ino, target, sizeof target - 1);
	if (t <= 0)
		return 0;
	target[t] = 0;
	if (target[0] == '/') {
		snprintf(path, sizeof path, "%s", target);
	} else {
		const char *slash = strrchr(w->p.path, '/');
		int dlen = slash ? (int)(slash - w->p.path) : 0;
		snprintf(path, sizeof path, "%.*s/%s", dlen, w->p.path, target);
	}
	/* ".." and "." resolved here: the union looks up names alone */
	char norm[PATH_MAX * 2];
	size_t n = 0;
	for (char *save = NULL, *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, ".."))
			while (n && norm[--n] != '/')
				;
		else if (strcmp(c, ".") && n + strlen(c) + 2 < sizeof norm)
			n += (size_t)sprintf(norm + n, "/%s", c);
	}
	norm[n] = 0;
	struct lf_attr ta;
	struct lf_walk wk;
	if (lf_union_walk(w->u, norm, &ta, &wk))
		return 0;
	lf_union_walk_end(w->u, &wk);
	return S_ISDIR(ta.mode);
}

static int fill_dir(struct publisher *w, const struct lf_attr *da, ntfs_inode **dirp, int depth);

static int want_dos_name(struct publisher *w, const struct lf_attr *a, u64 mft, u64 dir,
			 const struct lf_attr *dir_attr)
{
	struct timespec t[4], dt[4];
	times_of(a, t);
	times_of(dir_attr, dt);
	return w->dos_now && *w->dos_now ? pack_dos_want(&w->p, mft, dir, w->dos_now, t, dt) : 0;
}

/* The 8.3 names of a folder's entries: the stack's where it has them,
 * none where an NTFS layer's entry has none (a volume Windows wrote with
 * 8.3 names off keeps none: nothing is made up), else as Windows makes
 * them (the stack from folder layers has none; old installers and
 * 16-bit paths use PROGRA~1). */
static char (*dos_names(struct publisher *w, const struct lf_union_list *l))[13]
{
	char (*given)[13] = calloc(l->n ? l->n : 1, sizeof *given);
	const char **names = calloc(l->n ? l->n : 1, sizeof *names);
	for (size_t i = 0; given && names && i < l->n; i++) {
		char dos[40];
		ssize_t n = lf_union_getxattr(w->u, l->v[i].a.ino, "system.ntfs_dos_name", dos,
					      sizeof dos - 1);
		if (n > 0 && n < 13) {
			memcpy(given[i], dos, (size_t)n);
			given[i][n] = 0;
		}
		/* a file of several names (WinSxS's) has none: NTFS keeps an
		 * 8.3 name for a file's only name alone */
		if (!given[i][0] && l->v[i].a.nlink > 1 && !S_ISDIR(l->v[i].a.mode))
			memcpy(given[i], "-", 2);
		const char *kind = given[i][0] ? NULL : lf_union_top_kind(w->u, l->v[i].a.ino);
		if (kind && !strcmp(kind, "ntfs"))
			memcpy(given[i], "-", 2);   /* Windows gave it none */
		names[i] = l->v[i].name;
	}
	if (!given || !names || lf_dos_names_for(names, given, l->n)) {
		free(given);
		given = NULL;
	}
	free(names);
	return given;
}

static int give_dos_names(struct publisher *w)
{
	size_t given = 0;
	int rc = pack_dos_give(&w->p, &given);
	w->st->dos_names += given;
	return rc;
}

/* A file with more names, made as MFT record mft: its other names find
 * it by node number, so the node is held (looked up once more) until the
 * end; a folder layer forgets a node no one holds, and would number the
 * next name of the file anew. */
static int remember_link(struct publisher *w, uint64_t dir, const char *name,
			 const struct lf_attr *a, u64 mft)
{
	if (w->nheld == w->capheld) {
		size_t cap = w->capheld ? w->capheld * 2 : 256;
		uint64_t *v = realloc(w->held, cap * sizeof *v);
		if (!v)
			return lf_err_set(w->p.err, ENOMEM, "out of memory");
		w->held = v;
		w->capheld = cap;
	}
	struct lf_attr again;
	int rc = lf_union_lookup(w->u, dir, name, &again);
	if (rc)
		return lf_err_set(w->p.err, -rc, "%s: %s", w->p.path, strerror(-rc));
	w->held[w->nheld++] = again.ino;
	return pack_remember_link(&w->p, 0, a->ino, mft);
}

static int fill_one(struct publisher *w, const struct lf_union_entry *e, ntfs_inode **dirp,
		    const struct lf_attr *da, int depth)
{
	const struct lf_attr *a = &e->a;
	const char *dos = w->dos_now;    /* its folder's children change it */
	ntfschar *uname = NULL;
	/* a folder layer may hold names Windows cannot (a user's, from a
	 * plain mount): left out and said, or refused with --strict */
	w->p.path[strlen(w->p.path) - strlen(e->name) - 1] = 0;
	int holds = windows_holds(w, e->name, depth + S_ISDIR(a->mode), 1);
	pack_path_push(&w->p, e->name);
	if (holds <= 0)
		return holds;
	int ulen = ntfs_mbstoucs(e->name, &uname);
	if (ulen <= 0)
		return lf_err_set(w->p.err, EILSEQ, "%s: the name is not valid UTF-8", w->p.path);
	if (ulen > 255) {
		free(uname);
		return lf_err_set(w->p.err, ENAMETOOLONG, "%s: the name is longer than NTFS allows "
				  "(255 UTF-16 units)", w->p.path);
	}
	int rc = 0;
	struct hardlink *h = !S_ISDIR(a->mode) && a->nlink > 1 ? pack_find_link(&w->p, 0, a->ino) : NULL;
	if (h) {
		/* another name of a file made before: one record, one more name */
		ntfs_inode *ni = ntfs_inode_open(w->p.vol, h->mft);
		if (!ni || ntfs_link(ni, *dirp, uname, (u8)ulen))
			rc = pack_fail(&w->p, "cannot add a hard link");
		if (ni && ntfs_inode_close_in_dir(ni, *dirp) && !rc)
			rc = pack_fail(&w->p, "cannot close");
		w->st->hardlinks++;
		free(uname);
		return rc;
	}
	uint8_t *rp = NULL;
	int own_rp;
	ssize_t rlen = reparse_of(w, a, &rp, &own_rp);
	if (rlen < 0) {
		free(rp);
		free(uname);
		return -1;
	}
	uint32_t tag = rlen >= 4 ? pack_le32(rp) : 0;
	uint32_t wattr = lf_union_win_attrib(w->u, a);
	/* a link an NTFS layer holds is a folder or a file as it was made; a
	 * folder layer's is one if its target is */
	int folder = S_ISDIR(a->mode) || (wattr & LF_WATTR_DIRECTORY) ||
		     tag == LF_REPARSE_TAG_JUNCTION ||
		     (S_ISLNK(a->mode) && !own_rp && link_to_dir(w, a));
	uint8_t *sd = NULL;
	size_t sdlen = 0;
	le32 sid = 0;
	if (!lf_union_win_sd(w->u, a->ino, &sd, &sdlen))
		sid = pack_sec_id(&w->p, sd, sdlen);
	free(sd);
	/* libntfs-3g makes a file compressed (and compresses what is written)
	 * when its folder is: so the folder is, for the moment it is made */
	le32 dir_flags = (*dirp)->flags;
	int compressed = S_ISREG(a->mode) && (wattr & LF_WATTR_COMPRESSED);
	if (compressed)
		(*dirp)->flags |= FILE_ATTR_COMPRESSED;
	ntfs_inode *ni = ntfs_create(*dirp, sid, uname, (u8)ulen, folder ? S_IFDIR : S_IFREG);
	(*dirp)->flags = dir_flags;
	free(uname);
	if (!ni) {
		free(rp);
		return pack_fail(&w->p, "cannot create");
	}
	if (S_ISREG(a->mode) && a->store != LF_STORE_PLAIN && a->store != LF_STORE_ALIAS) {
		rc = keep_stored(w, a, ni);
	} else if (S_ISREG(a->mode)) {
		rc = copy_data(w, a, ni, (wattr & LF_WATTR_SPARSE) != 0);
		w->st->files++;
		w->st->hives += (a->flags & LF_ATTR_MERGED) != 0;
	} else if (S_ISDIR(a->mode)) {
		rc = fill_dir(w, a, &ni, depth + 1);
		w->st->dirs++;
	} else if (S_ISLNK(a->mode)) {
		w->st->symlinks++;
	} else if (!rlen) {
		/* a FIFO, socket or device of a folder layer: as WSL keeps it */
		ni->flags |= FILE_ATTRIBUTE_RECALL_ON_OPEN;
		if (ntfs_reparse_set_wsl_not_symlink(ni, a->mode & S_IFMT))
			rc = pack_fail(&w->p, "cannot create the special file");
	}
	if (!rc)
		rc = copy_streams(w, a->ino, ni);
	if (!rc)
		rc = copy_ea_objid(w, a, a->ino, ni);
	if (!rc && rlen && ntfs_set_ntfs_reparse_data(ni, (const char *)rp, (size_t)rlen, 0))
		rc = pack_fail(&w->p, "cannot set its reparse data");
	w->st->reparse += !rc && rlen;
	free(rp);
	if (!rc) {
		pack_set_attrib(ni, wattr);
		/* a placeholder's: its data is offline, fetched on open or on
		 * a read (FILE_ATTRIBUTE_OFFLINE, _RECALL_ON_OPEN,
		 * _RECALL_ON_DATA_ACCESS) */
		if (lf_store_missing(a->store))
			ni->flags |= cpu_to_le32(wattr & (0x1000u | 0x40000u | 0x400000u));
		/* a folder's says what new files in it will be: set after its own */
		if (S_ISDIR(a->mode) && (wattr & LF_WATTR_COMPRESSED))
			ni->flags |= FILE_ATTR_COMPRESSED;
	}
	w->dos_now = dos;
	if (!rc)
		rc = want_dos_name(w, a, ni->mft_no, (*dirp)->mft_no, da);
	/* times last: content, children and names change them */
	if (!rc && set_times(ni, a))
		rc = pack_fail(&w->p, "cannot set times");
	if (!rc && a->nlink > 1 && !S_ISDIR(a->mode))
		rc = remember_link(w, da->ino, e->name, a, ni->mft_no);
	if (ni && *dirp && ntfs_inode_close_in_dir(ni, *dirp) && !rc)
		rc = pack_fail(&w->p, "cannot close");
	return rc;
}

static int fill_dir(struct publisher *w, const struct lf_attr *da, ntfs_inode **dirp, int depth)
{
	struct lf_union_list l;
	int rc = list_folder(w, da->ino, depth, &l);
	char (*dos)[13] = rc ? NULL : dos_names(w, &l);
	if (!rc && !dos)
		rc = lf_err_set(w->p.err, ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < l.n; i++) {
		size_t keep = pack_path_push(&w->p, l.v[i].name);
		w->dos_now = dos[i];
		rc = fill_one(w, &l.v[i], dirp, da, depth);
		w->p.path[keep] = 0;
	}
	free(dos);
	lf_union_list_free(w->u, &l);
	return rc;
}

static struct publisher *the_publisher(struct packer *p)
{
	return (struct publisher *)((char *)p - offsetof(struct publisher, p));
}

/* The root: what is in it, and its own descriptor, attributes, times. */
static int fill_root(struct packer *p, int dfd, ntfs_inode **dirp)
{
	(void)dfd;
	struct publisher *w = the_publisher(p);
	struct lf_attr a;
	uint8_t *sd = NULL;
	size_t len = 0;
	int rc = -lf_union_getattr(w->u, LF_UNION_ROOT, &a);
	if (rc)
		return lf_err_set(p->err, rc, "cannot read the root: %s", strerror(rc));
	rc = fill_dir(w, &a, dirp, 0);
	if (!rc && w->p.ndos) {
		/* with nothing open, the root neither */
		ntfs_inode_close(*dirp);
		rc = give_dos_names(w);
		if (!(*dirp = ntfs_inode_open(p->vol, FILE_root)) && !rc)
			rc = pack_fail(p, "cannot open the root again");
	}
	if (!rc && !lf_union_win_sd(w->u, LF_UNION_ROOT, &sd, &len)) {
		struct SECURITY_CONTEXT scx;
		memset(&scx, 0, sizeof scx);
		scx.vol = p->vol;
		if (ntfs_set_ntfs_acl(&scx, *dirp, (const char *)sd, len, 0))
			rc = pack_fail(p, "cannot store the root's security descriptor");
	}
	free(sd);
	if (!rc)
		rc = copy_streams(w, LF_UNION_ROOT, *dirp);
	if (!rc && set_times(*dirp, &a))
		rc = pack_fail(p, "cannot set the root's times");
	return rc;
}

/* --- the boot sector: the OS layer's code and serial, mkntfs' geometry --- */

static int keep_boot(struct publisher *w, struct lf_source *base, uint64_t base_off, int vol_fd,
		     uint64_t vol_size)
{
	uint8_t old[BOOT_BYTES], now[512];
	if (lf_source_pread(base, old, sizeof old, base_off, w->p.err))
		return -1;
	if (memcmp(old + 3, "NTFS    ", 8))
		return 0;
	if (pread(vol_fd, now, sizeof now, 0) != (ssize_t)sizeof now)
		return lf_err_set(w->p.err, EIO, "cannot read the new volume's boot sector");
	/* the layout (sizes, where $MFT lies) is the new volume's; the jump,
	 * the code, $Boot's loader and the serial are the OS layer's */
	memcpy(old + 0x0B, now + 0x0B, 0x48 - 0x0B);
	memcpy(old + 0x50, now + 0x50, 0x54 - 0x50);
	w->st->serial_lo = pack_le32(old + 0x48);
	w->st->serial_hi = pack_le32(old + 0x4C);
	uint8_t backup[512];
	/* mkntfs keeps a copy of sector 0 in the volume's last sector */
	int has_backup = pread(vol_fd, backup, sizeof backup, (off_t)(vol_size - 512)) == 512 &&
			 !memcmp(backup, now, sizeof now);
	if (pwrite(vol_fd, old, sizeof old, 0) != (ssize_t)sizeof old ||
	    (has_backup && pwrite(vol_fd, old, 512, (off_t)(vol_size - 512)) != 512))
		return lf_err_set(w->p.err, errno, "cannot write the boot sector: %s", strerror(errno));
	return 0;
}

/* --- the work files and the output --- */

static void work_name(char *buf, size_t size, const char *out, const char *what)
{
	snprintf(buf, size, "%s.publish-%ld.%s", out, (long)getpid(), what);
}

int lf_publish_clean(const char *out)
{
	const char *base;
	int dfd = lf_open_parent(out, &base);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	size_t blen = strlen(base);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, base, blen) || strncmp(e->d_name + blen, ".publish-", 9))
			continue;
		long pid = strtol(e->d_name + blen + 9, NULL, 10);
		if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			n += unlinkat(dirfd(d), e->d_name, 0) == 0;
	}
	closedir(d);
	return n;
}

static void write_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct packer *p = ctx;
	p->done = done;
	p->total = total;
	pack_progress(p, "write");
}

static int write_raw(struct publisher *w, struct lf_layout *lay, const char *path)
{
	return pack_write_raw_disk(&w->p, path, lf_layout_read, lay, lf_layout_disk_size(lay));
}

/* The disk around the volume, in the format asked, at work path disk. */
static int write_disk(struct publisher *w, struct lf_layout *lay, const char *disk,
		      const char *out)
{
	if (w->o->format == LF_PUBLISH_RAW)
		return write_raw(w, lay, disk);
	if (w->o->format == LF_PUBLISH_VHDX) {
		char raw[PATH_MAX];
		work_name(raw, sizeof raw, out, "raw");
		int rc = write_raw(w, lay, raw);
		if (!rc)
			rc = pack_qemu_vhdx(&w->p, raw, disk);
		unlink(raw);
		return rc;
	}
	uint64_t size = lf_vhd_round_size(lf_layout_disk_size(lay));
	if (lf_layout_set_disk_size(lay, size, w->p.err))
		return -1;
	struct lf_vhd_write_opts vo = {
		.type = w->o->format == LF_PUBLISH_VHD_FIXED ? LF_VHD_FIXED : LF_VHD_DYNAMIC,
		.size = size, .progress = write_progress, .progress_ctx = &w->p,
	};
	return lf_vhd_write(disk, &vo, lf_layout_read, lay, w->p.err);
}

static int open_base(const struct lf_publish_opts *o, struct lf_source **src,
		     struct lf_volume_extent *ext, struct lf_err *err)
{
	*src = NULL;
	struct stat st;
	if (!o->base || (stat(o->base, &st) == 0 && S_ISDIR(st.st_mode)))
		return 0;
	struct lf_source_opts so = { .parents = o->base_parents, .nparents = o->nbase_parents };
	int rc = lf_source_open(o->base, &so, src, err);
	if (!rc && (rc = lf_partition_find_ntfs(*src, ext, err))) {
		lf_source_close(*src);
		*src = NULL;
	}
	return rc;
}

/* Bytes free for us in the folder path's file goes in; UINT64_MAX when
 * not known. */
static uint64_t free_room(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
		 slash ? path : ".");
	struct statvfs sv;
	return statvfs(dir, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : UINT64_MAX;
}

int lf_publish(struct lf_union *u, const char *out, const struct lf_publish_opts *o,
	       struct lf_publish_stats *stats, struct lf_err *err)
{
	struct lf_publish_stats local;
	struct publisher w = { .u = u, .o = o, .st = stats ? stats : &local };
	memset(w.st, 0, sizeof *w.st);
	struct lf_pack_opts po = { .label = o->label ? o->label : "Windows",
				   .progress = o->progress, .progress_ctx = o->progress_ctx,
				   .note = o->note, .note_ctx = o->note_ctx };
	w.p = (struct packer){ .o = &po, .st = &w.pst, .err = err, .src = "", .src_root = -1 };
	lf_publish_clean(out);

	struct lf_source *base = NULL;
	struct lf_volume_extent ext = {0};
	int rc = open_base(o, &base, &ext, err);
	if (!rc && !(w.p.buf = malloc(PACK_CHUNK)))
		rc = lf_err_set(err, ENOMEM, "out of memory");
	if (!rc)
		rc = scan(&w, LF_UNION_ROOT, 0);
	uint64_t need = lf_pack_size_for(w.entries, w.clusters * CLUSTER);
	uint64_t vol_size = o->size ? o->size / 4096 * 4096 : need;
	if (!rc && o->size && vol_size < need)
		rc = lf_err_set(err, ENOSPC, "--size %llu is too small: the stack needs about %llu bytes",
				(unsigned long long)o->size, (unsigned long long)need);
	/* before anything is written: the folder OUT goes in must hold it
	 * (a file sparse in a folder layer counts whole: its holes are
	 * written), or the run would end minutes later with a full disk */
	uint64_t room = free_room(out);
	if (!rc && room != UINT64_MAX && need > room)
		rc = lf_err_set(err, ENOSPC, "%s: the image needs about %llu bytes, its folder has %llu "
				"free (a sparse file of the stack counts whole)", out,
				(unsigned long long)need, (unsigned long long)room);
	struct lf_layout *lay = NULL;
	/* a WIM holds a volume's files, no disk around them */
	int wim = o->format == LF_PUBLISH_WIM;
	int bare = wim || !base || !strcmp(ext.scheme, "bare");
	if (!rc)
		rc = lf_layout_new(base, bare ? NULL : &ext, vol_size, &lay, err);
	if (!rc && !bare) {
		/* the partition as it is, or grown to what the content needs */
		vol_size = ext.length > vol_size ? ext.length / 512 * 512 : vol_size;
		w.st->grown = lf_layout_grown(lay);
	}
	w.st->layout = wim ? "wim" : bare ? (o->format == LF_PUBLISH_RAW ? "bare" : "mbr")
			    : lay ? lf_layout_scheme(lay) : ext.scheme;
	w.st->volume_size = w.pst.volume_size = vol_size;

	char vol[PATH_MAX], disk[PATH_MAX];
	work_name(vol, sizeof vol, out, "vol");
	work_name(disk, sizeof disk, out, "disk");
	int vol_fd = -1;
	if (!rc && (vol_fd = open(vol, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
		rc = lf_err_set(err, errno, "%s: cannot create a work file beside it: %s", out,
				strerror(errno));
	if (!rc && ftruncate(vol_fd, (off_t)vol_size) < 0)
		rc = lf_err_set(err, errno, "%s: %s", vol, strerror(errno));
	if (!rc)
		rc = pack_mkntfs(&w.p, vol, vol_size, bare ? (o->format == LF_PUBLISH_RAW || wim ? 0 : 2048)
							   : lf_layout_volume_offset(lay) / 512);
	if (!rc) {
		lf_ntfs_log_capture();
		lf_ntfs_log_clear();
		if (!(w.p.vol = ntfs_mount(vol, 0)))
			rc = lf_err_set(err, errno, "%s: cannot mount the new volume: %s", vol,
					lf_ntfs_log_last()[0] ? lf_ntfs_log_last() : strerror(errno));
		else
			NVolSetCompression(w.p.vol);   /* files the source has compressed */
	}
	if (!rc) {
		w.p.done = 0;
		rc = pack_fill_volume(&w.p, vol, fill_root);
	}
	if (!rc && base && !wim)
		rc = keep_boot(&w, base, ext.offset, vol_fd, vol_size);
	if (!rc && wim) {
		/* the volume captured: the WIM is written beside OUT and
		 * renamed into place by lf_wim_capture */
		struct lf_wim_capture_opts wo = {
			.name = o->wim_name, .description = o->wim_description,
			.compress = (enum lf_wim_compress)o->wim_compress,
			.progress = o->progress, .progress_ctx = o->progress_ctx,
		};
		rc = lf_wim_capture(vol, out, &wo, err);
		struct stat wst;
		w.st->disk_size = !rc && stat(out, &wst) == 0 ? (uint64_t)wst.st_size : 0;
	} else if (!rc && bare && o->format == LF_PUBLISH_RAW) {
		/* a bare volume: the work file is the image */
		w.st->disk_size = vol_size;
		if (fsync(vol_fd) < 0)
			rc = lf_err_set(err, errno, "%s: %s", vol, strerror(errno));
		else
			snprintf(disk, sizeof disk, "%s", vol);
	} else if (!rc) {
		lf_layout_set_volume(lay, vol_fd);
		rc = write_disk(&w, lay, disk, out);
		w.st->disk_size = lf_layout_disk_size(lay);
	}
	if (!rc && !wim && rename(disk, out) < 0)
		rc = lf_err_set(err, errno, "%s: cannot rename into place: %s", out, strerror(errno));
	if (!rc && !wim) {
		/* the rename itself made durable */
		const char *name;
		int dfd = lf_open_parent(out, &name);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	if (vol_fd >= 0)
		close(vol_fd);
	unlink(vol);
	if (rc)
		unlink(disk);
	lf_layout_free(lay);
	if (base)
		lf_source_close(base);
	for (size_t i = 0; i < w.nheld; i++)
		lf_union_forget(u, w.held[i], 1);
	free(w.held);
	pack_free(&w.p);
	return rc;
}
