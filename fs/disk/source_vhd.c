/* VHD v1 reader: fixed, dynamic and differencing disks. Our own, because
 * libvhdi 20210425 decodes the sector bitmap wrongly (see
 * shared/NOTES-formats.md): differencing reads return wrong data and
 * dynamic reads are ~40x slow. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/source.h"
#include "source_int.h"
#include "vhd_format.h"
#include "layerfs/lockcheck.h"

struct vhd_source {
	struct lf_source base;
	struct lf_file *file;
	uint64_t file_size;
	uint8_t uuid[16];
	/* dynamic and differencing */
	uint32_t block_size;
	uint32_t bitmap_size;
	uint32_t nblocks;
	uint32_t *bat;              /* sector offsets, host order */
	pthread_mutex_t bitmap_lock;
	uint8_t **bitmaps;          /* loaded on first use, kept until close */
};

/* Marks a loaded bitmap with every sector present: the common case,
 * read without looking at bits. */
static uint8_t all_present;

/* Chain of files being opened, to catch a parent chain that loops. */
struct open_chain {
	dev_t dev;
	ino_t ino;
	const struct open_chain *next;
};

static int vhd_open_chain(struct lf_file *file, const struct lf_source_opts *opts,
			  int depth, const struct open_chain *seen,
			  struct vhd_source **out, struct lf_err *err);

/* Exactly len bytes of the file at off; why it failed, in the source's */
static int file_read(struct vhd_source *v, void *buf, size_t len, uint64_t off)
{
	int rc = lf_file_pread(v->file, buf, len, off);
	if (rc && v->file->why[0])
		memcpy(v->base.why, v->file->why, sizeof v->base.why);
	return rc;
}

/* A block's sector bitmap, read on first use and kept. Read with the lock
 * let go: the file may be a registry's, its chunk fetched over the
 * network; two first readers both read it, one keeps its copy. */
static const uint8_t *block_bitmap(struct vhd_source *v, uint32_t blk, int *rc)
{
	lf_mutex_lock(&v->bitmap_lock, LF_LK_LEAF);
	uint8_t *bm = v->bitmaps[blk];
	lf_mutex_unlock(&v->bitmap_lock);
	if (bm)
		return bm;
	uint8_t *buf = malloc(v->bitmap_size);
	if (!buf) {
		*rc = -ENOMEM;
		return NULL;
	}
	if ((*rc = file_read(v, buf, v->bitmap_size, (uint64_t)v->bat[blk] * VHD_SECTOR))) {
		free(buf);
		return NULL;
	}
	uint32_t used = v->block_size / VHD_SECTOR / 8;
	uint32_t i = 0;
	while (i < used && buf[i] == 0xFF)
		i++;
	if (i == used) {
		free(buf);
		bm = &all_present;
	} else {
		bm = buf;
	}
	lf_mutex_lock(&v->bitmap_lock, LF_LK_LEAF);
	if (v->bitmaps[blk]) {
		if (bm != &all_present)
			free(bm);
		bm = v->bitmaps[blk];
	} else {
		v->bitmaps[blk] = bm;
	}
	lf_mutex_unlock(&v->bitmap_lock);
	return bm;
}

static inline int sector_present(const uint8_t *bm, uint32_t sector)
{
	return bm == &all_present || (bm[sector / 8] >> (7 - sector % 8) & 1);
}

/* Bytes not stored in this disk: the parent's, or zeros. */
static int read_absent(struct vhd_source *v, uint8_t *buf, size_t len,
		       uint64_t off)
{
	if (v->base.parent) {
		struct lf_source *p = v->base.parent;
		int rc = p->ops->pread(p, buf, len, off);
		if (rc && p->why[0])
			memcpy(v->base.why, p->why, sizeof v->base.why);
		return rc;
	}
	memset(buf, 0, len);
	return 0;
}

/* One block's part of a read. */
static int read_block(void *ctx, uint8_t *buf, size_t n, uint64_t off, uint64_t index,
		      uint64_t block_off)
{
	struct vhd_source *v = ctx;
	uint32_t blk = (uint32_t)index, in = (uint32_t)block_off;
	if (blk >= v->nblocks || v->bat[blk] == VHD_BAT_UNUSED)
		return read_absent(v, buf, n, off);
	int rc = 0;
	const uint8_t *bm = block_bitmap(v, blk, &rc);
	uint64_t data = (uint64_t)v->bat[blk] * VHD_SECTOR + v->bitmap_size;
	size_t done = 0;
	while (!rc && done < n) {
		/* One run of sectors that are all present or all absent. */
		uint32_t pos = in + (uint32_t)done;
		uint32_t sec = pos / VHD_SECTOR;
		int present = sector_present(bm, sec);
		uint32_t end = sec + 1;
		uint32_t last = (uint32_t)((in + n - 1) / VHD_SECTOR);
		while (end <= last && sector_present(bm, end) == present)
			end++;
		size_t run = (size_t)end * VHD_SECTOR - pos;
		if (run > n - done)
			run = n - done;
		if (present)
			rc = file_read(v, buf + done, run, data + pos);
		else
			rc = read_absent(v, buf + done, run, off + done);
		done += run;
	}
	return rc;
}

static int vhd_pread(struct lf_source *s, void *buf, size_t len, uint64_t off)
{
	struct vhd_source *v = (struct vhd_source *)s;
	if (s->kind == LF_SRC_VHD_FIXED)
		return file_read(v, buf, len, off);
	return lf_read_by_unit(v, buf, len, off, v->block_size, read_block);
}

static void vhd_close(struct lf_source *s)
{
	struct vhd_source *v = (struct vhd_source *)s;
	if (v->bitmaps) {
		for (uint32_t i = 0; i < v->nblocks; i++)
			if (v->bitmaps[i] != &all_present)
				free(v->bitmaps[i]);
		free(v->bitmaps);
	}
	free(v->bat);
	pthread_mutex_destroy(&v->bitmap_lock);
	lf_file_close(v->file);
	lf_source_fini(s);
	free(v);
}

static const struct lf_source_ops vhd_ops = { vhd_pread, vhd_close };

static void uuid_str(const uint8_t *u, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = 0;
}

static int check_checksum(const char *path, const char *what, const uint8_t *buf,
			  size_t len, size_t off, struct lf_err *err)
{
	uint32_t stored = be32(buf + off), computed = vhd_checksum(buf, len, off);
	if (stored != computed)
		return lf_err_set(err, EINVAL, "%s: bad %s checksum (stored 0x%08x, computed 0x%08x)",
				  path, what, stored, computed);
	return 0;
}

static int read_footer(struct vhd_source *v, const char *path, uint8_t *f,
		       struct lf_err *err)
{
	if (v->file_size < VHD_FOOTER_SIZE)
		return lf_err_set(err, EINVAL, "%s: too small to be a VHD (%llu bytes)",
				  path, (unsigned long long)v->file_size);
	int rc = file_read(v, f, VHD_FOOTER_SIZE, v->file_size - VHD_FOOTER_SIZE);
	if (rc)
		return lf_err_set(err, -rc, "%s: cannot read the VHD footer: %s",
				  path, strerror(-rc));
	if (memcmp(f + VF_COOKIE, VHD_COOKIE, 8) != 0) {
		uint8_t head[8];
		if (file_read(v, head, 8, 0) == 0 &&
		    memcmp(head, VHD_COOKIE, 8) == 0)
			return lf_err_set(err, EINVAL,
					  "%s: truncated VHD: the footer at the end of the file is missing (its copy at the start is there)",
					  path);
		return lf_err_set(err, EINVAL, "%s: no VHD footer", path);
	}
	if ((rc = check_checksum(path, "VHD footer", f, VHD_FOOTER_SIZE, VF_CHECKSUM, err)))
		return rc;
	if (be32(f + VF_VERSION) >> 16 != 1)
		return lf_err_set(err, EINVAL, "%s: unsupported VHD version 0x%08x",
				  path, be32(f + VF_VERSION));
	return 0;
}

/* The dynamic header, the BAT, and a check that every block the disk
 * uses lies inside the file. */
static int read_dynamic(struct vhd_source *v, const char *path,
			const uint8_t *f, uint8_t *h, struct lf_err *err)
{
	uint64_t hoff = be64(f + VF_DATA_OFFSET);
	uint64_t limit = v->file_size - VHD_FOOTER_SIZE;
	if (hoff > limit || limit - hoff < VHD_DYNHDR_SIZE)
		return lf_err_set(err, EINVAL,
				  "%s: truncated VHD: dynamic header at offset %llu is past the end of the file",
				  path, (unsigned long long)hoff);
	int rc = file_read(v, h, VHD_DYNHDR_SIZE, hoff);
	if (rc)
		return lf_err_set(err, -rc, "%s: cannot read the dynamic header: %s",
				  path, strerror(-rc));
	if (memcmp(h + VD_COOKIE, VHD_DYN_COOKIE, 8) != 0)
		return lf_err_set(err, EINVAL, "%s: bad dynamic disk header (no \"cxsparse\" cookie)", path);
	if ((rc = check_checksum(path, "dynamic header", h, VHD_DYNHDR_SIZE, VD_CHECKSUM, err)))
		return rc;
	uint32_t bs = be32(h + VD_BLOCK_SIZE);
	if (bs < VHD_SECTOR * 8 || bs > (256u << 20) || (bs & (bs - 1)))
		return lf_err_set(err, EINVAL, "%s: unsupported block size %u", path, bs);
	uint32_t max = be32(h + VD_MAX_ENTRIES);
	uint64_t need = (v->base.size + bs - 1) / bs;
	if (need > max)
		return lf_err_set(err, EINVAL,
				  "%s: the block table has %u entries but the %llu-byte disk needs %llu",
				  path, max, (unsigned long long)v->base.size,
				  (unsigned long long)need);
	uint64_t toff = be64(h + VD_TABLE_OFFSET);
	uint64_t tbytes = (uint64_t)max * 4;
	if (toff > limit || limit - toff < tbytes)
		return lf_err_set(err, EINVAL,
				  "%s: truncated VHD: block table at offset %llu (%llu bytes) runs past the end of the file",
				  path, (unsigned long long)toff,
				  (unsigned long long)tbytes);
	v->block_size = bs;
	v->bitmap_size = vhd_bitmap_size(bs);
	v->nblocks = (uint32_t)need;
	v->bat = malloc((size_t)need * 4 + 4);
	v->bitmaps = calloc((size_t)need + 1, sizeof *v->bitmaps);
	uint8_t *raw = malloc((size_t)need * 4 + 4);
	if (!v->bat || !v->bitmaps || !raw) {
		free(raw);
		return lf_err_set(err, ENOMEM, "%s: out of memory for the block table", path);
	}
	rc = file_read(v, raw, (size_t)need * 4, toff);
	if (rc) {
		free(raw);
		return lf_err_set(err, -rc, "%s: cannot read the block table: %s",
				  path, strerror(-rc));
	}
	uint64_t span = (uint64_t)v->bitmap_size + bs;
	for (uint32_t i = 0; i < need; i++) {
		uint32_t e = be32(raw + 4 * (size_t)i);
		v->bat[i] = e;
		if (e == VHD_BAT_UNUSED)
			continue;
		uint64_t at = (uint64_t)e * VHD_SECTOR;
		if (at > limit || limit - at < span) {
			free(raw);
			return lf_err_set(err, EINVAL,
					  "%s: block table entry %u points past the end of the file (block at byte %llu, %llu bytes long; the data ends at %llu)",
					  path, i, (unsigned long long)at,
					  (unsigned long long)span,
					  (unsigned long long)limit);
		}
	}
	free(raw);
	return 0;
}

/* Try the explicit parent, then each locator, then the parent's name in
 * the child's folder; the first whose unique id matches wins. */
static int open_parent(struct vhd_source *v, const char *path,
		       const uint8_t *h, const struct lf_source_opts *opts,
		       int depth, const struct open_chain *seen,
		       struct lf_err *err)
{
	enum { MAXC = 40 };
	char *cand[MAXC];
	int n = 0;
	if (opts && depth < opts->nparents && opts->parents[depth])
		cand[n++] = strdup(opts->parents[depth]);
	/* Relative locators first, then absolute ones, whatever order the
	 * table holds them in. */
	static const uint32_t order[] = { VHD_PLAT_W2RU, VHD_PLAT_W2KU, VHD_PLAT_MACX };
	for (int k = 0; k < 3 * VHD_NLOCATORS && n < MAXC - 3; k++) {
		int i = k % VHD_NLOCATORS;
		const uint8_t *l = h + VD_LOCATORS + i * VD_LOCATOR_SIZE;
		uint32_t code = be32(l + VL_CODE);
		if (code != order[k / VHD_NLOCATORS])
			continue;
		uint32_t len = be32(l + VL_LENGTH);
		uint64_t loff = be64(l + VL_OFFSET);
		if (code == 0 || len == 0 || len > 65536 ||
		    loff > v->file_size || v->file_size - loff < len)
			continue;
		uint8_t *buf = malloc(len + 1);
		if (!buf || file_read(v, buf, len, loff)) {
			free(buf);
			continue;
		}
		char *named = NULL;
		if (code == VHD_PLAT_W2RU || code == VHD_PLAT_W2KU) {
			named = lf_utf16_to_utf8(buf, len, 0);
		} else if (code == VHD_PLAT_MACX) {
			buf[len] = 0;
			const char *s = (const char *)buf;
			if (strncmp(s, "file://", 7) == 0)
				s += 7;
			named = strdup(s);
		}
		free(buf);
		if (named)
			n += lf_parent_candidates(path, named, cand + n, MAXC - n);
		free(named);
	}
	char *pname = lf_utf16_to_utf8(h + VD_PARENT_NAME, 512, 1);
	if (pname && n < MAXC - 3)
		n += lf_parent_candidates(path, pname, cand + n, MAXC - n);
	free(pname);

	char want[40], tried[600] = "";
	uuid_str(h + VD_PARENT_UUID, want);
	int rc = -ENOENT;
	struct lf_err perr = {0};
	for (int i = 0; i < n; i++) {
		if (rc == -ENOENT && access(cand[i], F_OK) == 0) {
			struct vhd_source *p = NULL;
			struct lf_file *pf = NULL;
			int r = lf_file_open_local(cand[i], &pf, &perr);
			if (r == 0)
				r = vhd_open_chain(pf, opts, depth + 1, seen, &p, &perr);
			if (r == 0 && memcmp(p->uuid, h + VD_PARENT_UUID, 16) != 0) {
				char got[40];
				uuid_str(p->uuid, got);
				r = lf_err_set(&perr, EINVAL,
					       "%s: parent %s has unique id %s, the child expects %s",
					       path, cand[i], got, want);
				lf_source_close(&p->base);
			} else if (r == 0 && p->base.size != v->base.size) {
				r = lf_err_set(&perr, EINVAL,
					       "%s: parent %s is %llu bytes, the child is %llu",
					       path, cand[i],
					       (unsigned long long)p->base.size,
					       (unsigned long long)v->base.size);
				lf_source_close(&p->base);
			}
			if (r == 0) {
				v->base.parent = &p->base;
				rc = 0;
			} else if (perr.code == ELOOP) {
				rc = r;
			} else if (opts && depth < opts->nparents && i == 0) {
				rc = r; /* the user named this parent: say why it failed */
			}
		}
		if (rc == -ENOENT) {
			size_t used = strlen(tried);
			snprintf(tried + used, sizeof tried - used, "%s%s",
				 used ? ", " : "", cand[i]);
		}
		free(cand[i]);
	}
	if (rc == 0)
		return 0;
	if (rc != -ENOENT) {
		if (err)
			*err = perr;
		return rc;
	}
	if (perr.msg[0] && err) {
		*err = perr;
		return -perr.code;
	}
	return lf_err_set(err, ENOENT,
			  "%s: parent disk %s not found (tried: %s); name it with --parent",
			  path, want, n ? tried : "no locator");
}

/* The parent a registry names by digest, through opts->open_parent. */
static int open_given_parent(struct vhd_source *v, const char *path, const uint8_t *h,
			     const struct lf_source_opts *opts, int depth,
			     const struct open_chain *seen, struct lf_err *err)
{
	struct lf_file *pf = NULL;
	struct vhd_source *p = NULL;
	int rc = opts->open_parent(opts->parent_ctx, depth, &pf, err);
	if (!rc)
		rc = vhd_open_chain(pf, opts, depth + 1, seen, &p, err);
	if (rc)
		return rc;
	if (memcmp(p->uuid, h + VD_PARENT_UUID, 16) != 0 || p->base.size != v->base.size) {
		char want[40], got[40];
		uuid_str(h + VD_PARENT_UUID, want);
		uuid_str(p->uuid, got);
		rc = lf_err_set(err, EINVAL, "%s: parent %s (unique id %s, %llu bytes) is not the disk "
				"the child was made on (%s, %llu bytes)", path, p->base.path, got,
				(unsigned long long)p->base.size, want,
				(unsigned long long)v->base.size);
		lf_source_close(&p->base);
		return rc;
	}
	v->base.parent = &p->base;
	return 0;
}

/* Takes FILE over: closed with the source, or here on an error. */
static int vhd_open_chain(struct lf_file *file, const struct lf_source_opts *opts,
			  int depth, const struct open_chain *seen,
			  struct vhd_source **out, struct lf_err *err)
{
	const char *path = file->name;
	if (depth >= LF_MAX_CHAIN) {
		int rc = lf_err_set(err, ELOOP, "%s: parent chain deeper than %d disks",
				    path, LF_MAX_CHAIN);
		lf_file_close(file);
		return rc;
	}
	struct vhd_source *v = calloc(1, sizeof *v);
	if (!v || lf_source_init(&v->base, &vhd_ops, LF_SRC_VHD_FIXED, path, 0)) {
		free(v);
		int rc = lf_err_set(err, ENOMEM, "%s: out of memory", path);
		lf_file_close(file);
		return rc;
	}
	pthread_mutex_init(&v->bitmap_lock, NULL);
	v->file = file;
	v->base.file = file;
	path = v->base.path;
	for (const struct open_chain *c = seen; c && file->ino; c = c->next) {
		if (c->dev == file->dev && c->ino == file->ino) {
			int rc = lf_err_set(err, ELOOP,
					    "%s: the parent chain loops (this disk is its own ancestor)",
					    path);
			vhd_close(&v->base);
			return rc;
		}
	}
	struct open_chain me = { file->dev, file->ino, seen };
	v->file_size = file->size;

	uint8_t f[VHD_FOOTER_SIZE], h[VHD_DYNHDR_SIZE];
	int rc = read_footer(v, path, f, err);
	if (rc)
		goto fail;
	memcpy(v->uuid, f + VF_UUID, 16);
	v->base.size = be64(f + VF_CUR_SIZE);
	uint32_t type = be32(f + VF_DISK_TYPE);
	switch (type) {
	case 2:
		v->base.kind = LF_SRC_VHD_FIXED;
		if (v->file_size - VHD_FOOTER_SIZE < v->base.size) {
			rc = lf_err_set(err, EINVAL,
					"%s: truncated VHD: a fixed disk of %llu bytes needs a %llu-byte file, this one has %llu",
					path, (unsigned long long)v->base.size,
					(unsigned long long)v->base.size + VHD_FOOTER_SIZE,
					(unsigned long long)v->file_size);
			goto fail;
		}
		break;
	case 3:
	case 4:
		v->base.kind = type == 3 ? LF_SRC_VHD_DYNAMIC : LF_SRC_VHD_DIFF;
		if ((rc = read_dynamic(v, path, f, h, err)))
			goto fail;
		if (type == 4 && opts && opts->open_parent)
			rc = open_given_parent(v, path, h, opts, depth, &me, err);
		else if (type == 4)
			rc = open_parent(v, path, h, opts, depth, &me, err);
		if (rc)
			goto fail;
		break;
	default:
		rc = lf_err_set(err, EINVAL, "%s: unsupported VHD disk type %u", path, type);
		goto fail;
	}
	*out = v;
	return 0;
fail:
	vhd_close(&v->base);
	return rc;
}

int lf_source_open_vhd_file(struct lf_file *file, const struct lf_source_opts *opts,
			    int depth, struct lf_source **out, struct lf_err *err)
{
	struct vhd_source *v = NULL;
	int rc = vhd_open_chain(file, opts, depth, NULL, &v, err);
	if (rc == 0)
		*out = &v->base;
	return rc;
}

int lf_source_open_vhd(const char *path, const struct lf_source_opts *opts,
		       int depth, struct lf_source **out, struct lf_err *err)
{
	struct lf_file *f;
	int rc = lf_file_open_local(path, &f, err);
	return rc ? rc : lf_source_open_vhd_file(f, opts, depth, out, err);
}
