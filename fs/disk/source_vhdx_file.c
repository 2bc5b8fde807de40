/* VHDX read through an lf_file: for a layer whose file is not on this
 * host (a registry's, fetched a chunk at a time). A host file is read by
 * libvhdi (source_vhdx.c), which reads only paths: Debian builds it with a
 * private copy of libbfio, so its file-IO-handle entry cannot be given our
 * reads. This reader is checked against libvhdi on every VHDX the tests
 * have (tests/unit/test_vhd.c). [MS-VHDX]: headers, region table,
 * metadata, block allocation table, sector bitmaps. A VHDX with a log to
 * replay is refused (its data may be in the log), as is anything that does
 * not add up. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layerfs/bytes.h"
#include "layerfs/lockcheck.h"
#include "layerfs/source.h"
#include "layerfs/utf16.h"
#include "source_int.h"

#define MiB (1u << 20)

/* GUIDs as they lie on disk (the first three fields little-endian) */
static const uint8_t BAT_GUID[16] = { 0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42,
				      0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08 };
static const uint8_t META_GUID[16] = { 0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B,
				       0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E };
static const uint8_t FILE_PARAMS[16] = { 0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D,
					 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B };
static const uint8_t DISK_SIZE[16] = { 0x24, 0x42, 0xA5, 0x2F, 0x1B, 0xCD, 0x76, 0x48,
				       0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8 };
static const uint8_t LOGICAL_SECTOR[16] = { 0x1D, 0xBF, 0x41, 0x81, 0x6F, 0xA9, 0x09, 0x47,
					    0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F };
static const uint8_t PARENT_LOCATOR[16] = { 0x2D, 0x5F, 0xD3, 0xA8, 0x0B, 0xB3, 0x4D, 0x45,
					    0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C };

enum { PB_NOT_PRESENT = 0, PB_UNDEFINED = 1, PB_ZERO = 2, PB_UNMAPPED = 3,
       PB_FULLY_PRESENT = 6, PB_PARTIALLY_PRESENT = 7 };

struct vhdx_file_source {
	struct lf_source base;
	struct lf_file *file;            /* set once */
	uint32_t block_size, sector;     /* set once */
	uint64_t chunk_ratio;            /* payload blocks a sector bitmap block covers */
	uint64_t *bat;                   /* set once */
	uint64_t nbat;
	uint8_t data_guid[16];           /* DataWriteGuid: a child's parent_linkage */
	pthread_mutex_t lock;            /* guards bitmaps */
	uint8_t **bitmaps;               /* a sector bitmap block a chunk, loaded on use */
};

/* CRC-32C (Castagnoli), as VHDX checksums its headers and tables. */
static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;
		for (int k = 0; k < 8; k++)
			v = v & 1 ? (v >> 1) ^ 0x82F63B78u : v >> 1;
		crc_table[i] = v;
	}
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, crc_init);
	uint32_t c = 0xFFFFFFFFu;
	while (n--)
		c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
	return ~c;
}

static int checksum_ok(uint8_t *buf, size_t len)
{
	uint32_t want = le32(buf + 4);
	memset(buf + 4, 0, 4);
	return crc32c(buf, len) == want;
}

static int file_read(struct vhdx_file_source *x, void *buf, size_t len, uint64_t off)
{
	int rc = lf_file_pread(x->file, buf, len, off);
	if (rc && x->file->why[0])
		memcpy(x->base.why, x->file->why, sizeof x->base.why);
	return rc;
}

/* The sector bitmap of chunk c (NULL: none in the file). */
static const uint8_t *chunk_bitmap(struct vhdx_file_source *x, uint64_t c, int *rc)
{
	uint64_t e = x->bat[c * (x->chunk_ratio + 1) + x->chunk_ratio];
	if ((e & 7) != PB_FULLY_PRESENT)
		return NULL;
	lf_mutex_lock(&x->lock, LF_LK_LEAF);
	uint8_t *bm = x->bitmaps[c];
	lf_mutex_unlock(&x->lock);
	if (bm)
		return bm;
	uint8_t *buf = malloc(MiB);
	if (!buf || (*rc = file_read(x, buf, MiB, e >> 20 << 20))) {
		if (!buf)
			*rc = -ENOMEM;
		free(buf);
		return NULL;
	}
	lf_mutex_lock(&x->lock, LF_LK_LEAF);
	if (x->bitmaps[c]) {
		free(buf);
		buf = x->bitmaps[c];
	} else {
		x->bitmaps[c] = buf;
	}
	lf_mutex_unlock(&x->lock);
	return buf;
}

static int absent(struct vhdx_file_source *x, uint8_t *buf, size_t len, uint64_t off)
{
	struct lf_source *p = x->base.parent;
	if (!p) {
		memset(buf, 0, len);
		return 0;
	}
	int rc = p->ops->pread(p, buf, len, off);
	if (rc && p->why[0])
		memcpy(x->base.why, p->why, sizeof x->base.why);
	return rc;
}

/* One payload block's part of a read. */
static int read_block(void *ctx, uint8_t *buf, size_t n, uint64_t off, uint64_t blk,
		      uint64_t in)
{
	struct vhdx_file_source *x = ctx;
	uint64_t e = x->bat[blk + blk / x->chunk_ratio];
	uint64_t at = (e >> 20 << 20) + in;
	int rc = 0;
	switch (e & 7) {
	case PB_FULLY_PRESENT:
		return file_read(x, buf, n, at);
	case PB_NOT_PRESENT:
		return absent(x, buf, n, off);
	case PB_PARTIALLY_PRESENT:
		break;
	default:                 /* undefined, zero, unmapped: zeros */
		memset(buf, 0, n);
		return 0;
	}
	const uint8_t *bm = chunk_bitmap(x, blk / x->chunk_ratio, &rc);
	if (!bm) {
		if (!rc) {
			snprintf(x->base.why, sizeof x->base.why, "block %llu is partly present but "
				 "its sector bitmap is not", (unsigned long long)blk);
			rc = -EIO;
		}
		return rc;
	}
	/* runs of sectors all in this file or all in the parent */
	uint64_t first = (blk % x->chunk_ratio) * (x->block_size / x->sector);
	size_t done = 0;
	while (!rc && done < n) {
		uint64_t sec = (in + done) / x->sector;
		uint64_t bit = first + sec;
		int here = bm[bit / 8] >> (bit % 8) & 1;
		uint64_t end = sec + 1;
		while (end * x->sector < in + n &&
		       (bm[(first + end) / 8] >> ((first + end) % 8) & 1) == here)
			end++;
		size_t run = (size_t)(end * x->sector - (in + done));
		if (run > n - done)
			run = n - done;
		rc = here ? file_read(x, buf + done, run, at + done)
			  : absent(x, buf + done, run, off + done);
		done += run;
	}
	return rc;
}

static int vhdx_pread(struct lf_source *s, void *buf, size_t len, uint64_t off)
{
	struct vhdx_file_source *x = (struct vhdx_file_source *)s;
	return lf_read_by_unit(x, buf, len, off, x->block_size, read_block);
}

static void vhdx_close(struct lf_source *s)
{
	struct vhdx_file_source *x = (struct vhdx_file_source *)s;
	for (uint64_t i = 0; x->bitmaps && i * (x->chunk_ratio + 1) < x->nbat; i++)
		free(x->bitmaps[i]);
	free(x->bitmaps);
	free(x->bat);
	pthread_mutex_destroy(&x->lock);
	lf_file_close(x->file);
	lf_source_fini(s);
	free(x);
}

static const struct lf_source_ops vhdx_file_ops = { vhdx_pread, vhdx_close };

/* The current header: the valid one of the two with the higher sequence. */
static int read_header(struct vhdx_file_source *x, uint8_t *best, struct lf_err *err)
{
	uint8_t h[4096];
	uint64_t seq = 0;
	int found = 0;
	for (int i = 0; i < 2; i++) {
		if (file_read(x, h, sizeof h, (uint64_t)(i + 1) * 64 * 1024) ||
		    memcmp(h, "head", 4) || !checksum_ok(h, sizeof h))
			continue;
		if (!found || le64(h + 8) > seq) {
			seq = le64(h + 8);
			memcpy(best, h, sizeof h);
			found = 1;
		}
	}
	if (!found)
		return lf_err_set(err, EINVAL, "%s: not a readable VHDX: neither header is whole",
				  x->base.path);
	if ((best[66] | best[67] << 8) != 1)
		return lf_err_set(err, EINVAL, "%s: VHDX version %u: only 1 is known", x->base.path,
				  best[66] | best[67] << 8);
	static const uint8_t none[16];
	if (memcmp(best + 48, none, 16))
		return lf_err_set(err, EINVAL, "%s: the VHDX has a log to replay (it was not closed "
				  "cleanly): open it once where it was made, or replay it with "
				  "'qemu-img check -r all', and push it again", x->base.path);
	memcpy(x->data_guid, best + 32, 16);
	return 0;
}

/* The BAT's and metadata's place, from the region table. */
static int read_regions(struct vhdx_file_source *x, uint64_t *bat_off, uint32_t *bat_len,
			uint64_t *meta_off, uint32_t *meta_len, struct lf_err *err)
{
	uint8_t *r = malloc(64 * 1024);
	int rc = r ? file_read(x, r, 64 * 1024, 192 * 1024) : -ENOMEM;
	if (!rc && (memcmp(r, "regi", 4) || !checksum_ok(r, 64 * 1024)))
		rc = -EINVAL;
	uint32_t n = rc ? 0 : le32(r + 8);
	if (n > 2047)
		rc = -EINVAL;
	*bat_off = *meta_off = 0;
	for (uint32_t i = 0; !rc && i < n; i++) {
		const uint8_t *e = r + 16 + 32 * i;
		if (!memcmp(e, BAT_GUID, 16)) {
			*bat_off = le64(e + 16);
			*bat_len = le32(e + 24);
		} else if (!memcmp(e, META_GUID, 16)) {
			*meta_off = le64(e + 16);
			*meta_len = le32(e + 24);
		} else if (le32(e + 28) & 1) {
			rc = -ENOTSUP;         /* a required region we do not know */
		}
	}
	free(r);
	if (rc || !*bat_off || !*meta_off)
		return lf_err_set(err, EINVAL, "%s: not a readable VHDX: its region table %s",
				  x->base.path, rc == -ENOTSUP ? "requires a region this reader "
				  "does not know" : "is damaged or lacks the BAT or metadata");
	return 0;
}

struct meta {
	uint32_t block_size, sector;
	int has_parent;
	uint64_t size;
	char linkage[64];                /* the parent's DataWriteGuid, "{...}" */
};

static void parent_linkage(const uint8_t *loc, uint32_t len, char *out, size_t size)
{
	if (len < 20)
		return;
	uint32_t n = loc[18] | loc[19] << 8;
	for (uint32_t i = 0; i < n && 20 + 12 * (i + 1) <= len; i++) {
		const uint8_t *e = loc + 20 + 12 * i;
		uint32_t ko = le32(e), vo = le32(e + 4), kl = e[8] | e[9] << 8, vl = e[10] | e[11] << 8;
		if ((uint64_t)ko + kl > len || (uint64_t)vo + vl > len)
			continue;
		char *k = lf_utf16_to_utf8(loc + ko, kl, 0);
		char *v = lf_utf16_to_utf8(loc + vo, vl, 0);
		if (k && v && !strcmp(k, "parent_linkage"))
			snprintf(out, size, "%s", v);
		free(k);
		free(v);
	}
}

static int read_metadata(struct vhdx_file_source *x, uint64_t off, uint32_t len, struct meta *m,
			 struct lf_err *err)
{
	if (len < 64 * 1024 || len > 16 * MiB)
		return lf_err_set(err, EINVAL, "%s: VHDX metadata of %u bytes", x->base.path, len);
	uint8_t *b = malloc(len);
	int rc = b ? file_read(x, b, len, off) : -ENOMEM;
	int ok = !rc && !memcmp(b, "metadata", 8);
	uint32_t n = ok ? (uint32_t)(b[10] | b[11] << 8) : 0;
	int have = 0;
	for (uint32_t i = 0; ok && i < n && 32 + 32 * (i + 1) <= 64 * 1024; i++) {
		const uint8_t *e = b + 32 + 32 * i;
		uint32_t io = le32(e + 16), il = le32(e + 20);
		if ((uint64_t)io + il > len) {
			ok = 0;
			break;
		}
		const uint8_t *v = b + io;
		if (!memcmp(e, FILE_PARAMS, 16) && il >= 8) {
			m->block_size = le32(v);
			m->has_parent = le32(v + 4) >> 1 & 1;
			have |= 1;
		} else if (!memcmp(e, DISK_SIZE, 16) && il >= 8) {
			m->size = le64(v);
			have |= 2;
		} else if (!memcmp(e, LOGICAL_SECTOR, 16) && il >= 4) {
			m->sector = le32(v);
			have |= 4;
		} else if (!memcmp(e, PARENT_LOCATOR, 16)) {
			parent_linkage(v, il, m->linkage, sizeof m->linkage);
		}
	}
	free(b);
	if (!ok || have != 7 || m->block_size < MiB || m->block_size > 256 * MiB ||
	    (m->block_size & (m->block_size - 1)) || (m->sector != 512 && m->sector != 4096) ||
	    !m->size || m->size % m->sector)
		return lf_err_set(err, EINVAL, "%s: not a readable VHDX: its metadata is damaged or "
				  "lacks the block size, disk size or sector size", x->base.path);
	return 0;
}

static void guid_str(const uint8_t *g, char *out, size_t size)
{
	snprintf(out, size, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", le32(g),
		 g[4] | g[5] << 8, g[6] | g[7] << 8, g[8], g[9], g[10], g[11], g[12], g[13], g[14],
		 g[15]);
}

static int open_parent(struct vhdx_file_source *x, const struct meta *m,
		       const struct lf_source_opts *opts, int depth, struct lf_err *err)
{
	if (!opts || !opts->open_parent)
		return lf_err_set(err, ENOTSUP, "%s: a differencing VHDX whose parent is not named "
				  "by its registry revision", x->base.path);
	struct lf_file *pf = NULL;
	struct lf_source *p = NULL;
	int rc = opts->open_parent(opts->parent_ctx, depth, &pf, err);
	if (!rc)
		rc = lf_source_open_vhdx_file(pf, opts, depth + 1, &p, err);
	if (rc)
		return rc;
	char got[64];
	guid_str(((struct vhdx_file_source *)p)->data_guid, got, sizeof got);
	if (p->size != x->base.size || strcasecmp(got, m->linkage)) {
		rc = lf_err_set(err, EINVAL, "%s: parent %s (data id %s, %llu bytes) is not the disk "
				"the child was made on (%s, %llu bytes)", x->base.path, p->path, got,
				(unsigned long long)p->size, m->linkage,
				(unsigned long long)x->base.size);
		lf_source_close(p);
		return rc;
	}
	x->base.parent = p;
	return 0;
}

int lf_source_open_vhdx_file(struct lf_file *file, const struct lf_source_opts *opts,
			     int depth, struct lf_source **out, struct lf_err *err)
{
	struct vhdx_file_source *x = calloc(1, sizeof *x);
	if (!x || lf_source_init(&x->base, &vhdx_file_ops, LF_SRC_VHDX, file->name, 0)) {
		free(x);
		int rc = lf_err_set(err, ENOMEM, "out of memory");
		lf_file_close(file);
		return rc;
	}
	x->file = file;
	x->base.file = file;
	pthread_mutex_init(&x->lock, NULL);
	uint8_t *h = malloc(4096);
	uint64_t bat_off = 0, meta_off = 0;
	uint32_t bat_len = 0, meta_len = 0;
	struct meta m = {0};
	int rc = h ? 0 : lf_err_set(err, ENOMEM, "out of memory");
	if (!rc && depth >= LF_MAX_CHAIN)
		rc = lf_err_set(err, ELOOP, "%s: parent chain deeper than %d disks", file->name,
				LF_MAX_CHAIN);
	if (!rc)
		rc = read_header(x, h, err);
	free(h);
	if (!rc)
		rc = read_regions(x, &bat_off, &bat_len, &meta_off, &meta_len, err);
	if (!rc)
		rc = read_metadata(x, meta_off, meta_len, &m, err);
	if (!rc) {
		x->block_size = m.block_size;
		x->sector = m.sector;
		x->base.size = m.size;
		x->chunk_ratio = ((uint64_t)1 << 23) * m.sector / m.block_size;
		uint64_t blocks = (m.size + m.block_size - 1) / m.block_size;
		uint64_t chunks = (blocks + x->chunk_ratio - 1) / x->chunk_ratio;
		/* every payload entry, and a bitmap entry after each chunk ratio of them */
		x->nbat = chunks * (x->chunk_ratio + 1);
		if (x->nbat * 8 > bat_len || bat_off + bat_len > file->size)
			rc = lf_err_set(err, EINVAL, "%s: the VHDX block table (%u bytes) is too short "
					"for a %llu-byte disk, or past the end of the file", file->name,
					bat_len, (unsigned long long)m.size);
	}
	uint8_t *raw = rc ? NULL : malloc(x->nbat * 8);
	x->bat = rc ? NULL : calloc(x->nbat, 8);
	x->bitmaps = rc ? NULL : calloc(x->nbat / (x->chunk_ratio + 1) + 1, sizeof *x->bitmaps);
	if (!rc && (!raw || !x->bat || !x->bitmaps))
		rc = lf_err_set(err, ENOMEM, "out of memory for the VHDX block table");
	if (!rc && (rc = file_read(x, raw, x->nbat * 8, bat_off)))
		rc = lf_err_set(err, -rc, "%s: cannot read the VHDX block table: %s", file->name,
				x->base.why[0] ? x->base.why : strerror(-rc));
	for (uint64_t i = 0; !rc && i < x->nbat; i++) {
		uint64_t e = le64(raw + 8 * i), at = e >> 20 << 20;
		unsigned st = e & 7;
		int bitmap = i % (x->chunk_ratio + 1) == x->chunk_ratio;
		uint64_t span = bitmap ? MiB : x->block_size;
		if ((st == PB_FULLY_PRESENT || st == PB_PARTIALLY_PRESENT) &&
		    (at < MiB || at > file->size || file->size - at < span))
			rc = lf_err_set(err, EINVAL, "%s: VHDX block table entry %llu points past the "
					"end of the %llu-byte file", file->name, (unsigned long long)i,
					(unsigned long long)file->size);
		else if (st == PB_PARTIALLY_PRESENT && !m.has_parent)
			rc = lf_err_set(err, EINVAL, "%s: block %llu is partly present in a disk "
					"without parent", file->name, (unsigned long long)i);
		x->bat[i] = e;
	}
	free(raw);
	if (!rc && m.has_parent)
		rc = open_parent(x, &m, opts, depth, err);
	if (rc) {
		vhdx_close(&x->base);
		return rc;
	}
	*out = &x->base;
	return 0;
}
