/* Compact OS files read as their data, and the storage kinds whose data
 * is not on the volume told apart (include/layerfs/wof.h).
 *
 * The format, as the public readers have it (Eric Biggers' NTFS-3G
 * system-compression plugin, src/system_compression.c; Linux fs/ntfs3,
 * frecord.c):
 * - the reparse point: tag 0x80000017, then le32 WOF version (1), le32
 *   provider (2 = file; 1 = a WIM, i.e. WIMBoot), le32 file-provider
 *   version (1), le32 algorithm (0 XPRESS4K, 1 LZX, 2 XPRESS8K, 3
 *   XPRESS16K) [plugin: WOF_FILE_PROVIDER_REPARSE_POINT_V1];
 * - the data in the stream "WofCompressedData": a table of one entry
 *   fewer than there are chunks (the first chunk has none), each the
 *   offset of a chunk from the end of the table, 4 bytes while the
 *   file's size is at most 0xFFFFFFFF and 8 above [plugin:
 *   get_chunk_location, "uncompressed_size <= UINT32_MAX"], then the
 *   chunks; a chunk stored at its full size did not shrink and is raw
 *   [plugin: read_and_decompress_chunk];
 * - chunks of 4 KiB (XPRESS4K), 32 KiB (LZX), 8 and 16 KiB; the last
 *   chunk is what is left [plugin: get_chunk_order];
 * - XPRESS is the WIM format's XPRESS with Huffman codes and LZX is WIM's
 *   with a 32 KiB window [plugin README: "identical to the formats used
 *   in WIM archives"]: wimlib's decompressors, made with the chunk size as
 *   their block size.
 * The unnamed $DATA is sparse at the file's size; its size is the size. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wimlib.h>

#include "layerfs/bytes.h"
#include "layerfs/lockcheck.h"
#include "layerfs/wof.h"

/* FILE_ATTRIBUTE_* a cloud placeholder keeps its data off the volume by
 * (MS-FSCC 2.6) */
#define WATTR_OFFLINE 0x1000u
#define WATTR_RECALL_ON_OPEN 0x40000u
#define WATTR_RECALL_ON_DATA_ACCESS 0x400000u

#define TAG_DEDUP 0x80000013u
#define TAG_HSM 0xC0000004u
#define TAG_WIMBOOT 0x80000008u
#define TAG_APPEXECLINK 0x8000001Bu
#define TAG_CLOUD 0x9000001Au   /* | n << 12, n = 0..15 */

static const char *const names[LF_STORE_NKINDS] = {
	[LF_STORE_PLAIN] = "plain",
	[LF_STORE_WOF_XPRESS4K] = "wof-xpress4k",
	[LF_STORE_WOF_LZX] = "wof-lzx",
	[LF_STORE_WOF_XPRESS8K] = "wof-xpress8k",
	[LF_STORE_WOF_XPRESS16K] = "wof-xpress16k",
	[LF_STORE_ALIAS] = "app-execution-alias",
	[LF_STORE_DEDUP] = "dedup",
	[LF_STORE_HSM] = "hsm",
	[LF_STORE_WIMBOOT] = "wimboot",
	[LF_STORE_EFS] = "efs",
	[LF_STORE_CLOUD] = "cloud",
	[LF_STORE_WOF_UNKNOWN] = "wof-unknown",
};

static const char *const whys[LF_STORE_NKINDS] = {
	[LF_STORE_DEDUP] = "its data is in Data Deduplication's chunk store, not in the file",
	[LF_STORE_HSM] = "its data is offline, in hierarchical storage",
	[LF_STORE_WIMBOOT] = "its data is in a WIM file on another volume (WIMBoot)",
	[LF_STORE_EFS] = "it is encrypted (EFS): only its ciphertext is on the volume",
	[LF_STORE_CLOUD] = "it is a cloud-files placeholder whose data is not on this device",
	[LF_STORE_WOF_UNKNOWN] = "it is a Windows Overlay Filter file of a form not known here",
};

const char *lf_store_name(unsigned s)
{
	return s < LF_STORE_NKINDS ? names[s] : "unknown";
}

const char *lf_store_why(unsigned s)
{
	return s < LF_STORE_NKINDS ? whys[s] : NULL;
}

uint32_t lf_wof_chunk_size(unsigned s)
{
	switch (s) {
	case LF_STORE_WOF_XPRESS4K: return 4096;
	case LF_STORE_WOF_LZX: return 32768;
	case LF_STORE_WOF_XPRESS8K: return 8192;
	case LF_STORE_WOF_XPRESS16K: return 16384;
	default: return 0;
	}
}

static unsigned classify_wof(const uint8_t *rp, size_t rplen)
{
	/* 8 bytes of reparse header, then the four le32 words */
	if (rplen < 24 || le32(rp + 8) != 1)
		return LF_STORE_WOF_UNKNOWN;
	if (le32(rp + 12) == 1)
		return LF_STORE_WIMBOOT;             /* the WIM provider */
	if (le32(rp + 12) != 2 || le32(rp + 16) != 1)
		return LF_STORE_WOF_UNKNOWN;
	switch (le32(rp + 20)) {
	case 0: return LF_STORE_WOF_XPRESS4K;
	case 1: return LF_STORE_WOF_LZX;
	case 2: return LF_STORE_WOF_XPRESS8K;
	case 3: return LF_STORE_WOF_XPRESS16K;
	default: return LF_STORE_WOF_UNKNOWN;
	}
}

unsigned lf_store_classify(const uint8_t *rp, size_t rplen, uint32_t wattr, int efs,
			   int data_unallocated)
{
	if (efs)
		return LF_STORE_EFS;
	if (!rp || rplen < 8)
		return LF_STORE_PLAIN;
	uint32_t tag = le32(rp);
	if (tag == LF_REPARSE_TAG_WOF)
		return classify_wof(rp, rplen);
	if (tag == TAG_DEDUP)
		return LF_STORE_DEDUP;
	if (tag == TAG_HSM)
		return LF_STORE_HSM;
	if (tag == TAG_WIMBOOT)
		return LF_STORE_WIMBOOT;
	if (tag == TAG_APPEXECLINK)
		return LF_STORE_ALIAS;
	if ((tag & ~0xF000u) == TAG_CLOUD) {
		/* a placeholder whose data is kept on the device reads as any
		 * file (a OneDrive file "always keep on this device") */
		if ((wattr & (WATTR_OFFLINE | WATTR_RECALL_ON_OPEN | WATTR_RECALL_ON_DATA_ACCESS)) ||
		    data_unallocated)
			return LF_STORE_CLOUD;
	}
	return LF_STORE_PLAIN;
}

/* ---- the decoder ---- */

#define TABLE_WINDOW 1024       /* chunk table entries read at once */
#define CACHE_CHUNKS 8          /* chunks kept decompressed, per file */
#define WOF_POOL 4              /* decompressors kept, per file */

struct cached_chunk {
	uint64_t idx;           /* UINT64_MAX: empty */
	uint64_t used;          /* w->clock when last used */
	uint8_t *data;
};

struct lf_wof {
	pthread_mutex_t lock;   /* (WOF) what changes below: pool, table window, cache */
	unsigned store;
	uint64_t size, stream_size, nchunks, table_size;
	uint32_t chunk;         /* bytes of a chunk, but the last */
	unsigned entry;         /* bytes of a table entry: 4 or 8 */
	/* decompressors not in use: a reader takes one (or makes one) for
	 * its run and gives it back */
	struct wimlib_decompressor *pool[WOF_POOL];
	int npool;
	uint64_t win_first;     /* table entries [win_first, win_first + win_n) */
	size_t win_n;
	uint64_t *win;
	struct cached_chunk cache[CACHE_CHUNKS];
	uint64_t clock;
};

int lf_wof_open(unsigned s, uint64_t size, uint64_t stream_size, struct lf_wof **out)
{
	*out = NULL;
	if (!lf_store_is_wof(s))
		return -EINVAL;
	struct lf_wof *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	w->store = s;
	w->size = size;
	w->stream_size = stream_size;
	w->chunk = lf_wof_chunk_size(s);
	w->nchunks = (size + w->chunk - 1) / w->chunk;
	w->entry = size <= 0xFFFFFFFFull ? 4 : 8;
	w->table_size = w->nchunks ? (w->nchunks - 1) * w->entry : 0;
	for (int i = 0; i < CACHE_CHUNKS; i++)
		w->cache[i].idx = UINT64_MAX;
	*out = w;
	return 0;
}

unsigned lf_wof_store(const struct lf_wof *w)
{
	return w->store;
}

void lf_wof_close(struct lf_wof *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->npool; i++)
		wimlib_free_decompressor(w->pool[i]);
	for (int i = 0; i < CACHE_CHUNKS; i++)
		free(w->cache[i].data);
	free(w->win);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

#define BAD(...) (snprintf(why, whylen, __VA_ARGS__), -EIO)

/* Read exactly len bytes of the stream at off. */
static int read_exact(lf_wof_read_fn rd, void *ctx, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = rd(ctx, (uint8_t *)buf + done, len - done, off + done);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Table entry j (the offset of chunk j + 1 after the table). */
static int table_entry(struct lf_wof *w, lf_wof_read_fn rd, void *ctx, uint64_t j,
		       uint64_t *out)
{
	if (!w->win || j < w->win_first || j >= w->win_first + w->win_n) {
		uint64_t total = w->nchunks - 1;
		uint64_t first = j - j % TABLE_WINDOW;
		size_t n = total - first < TABLE_WINDOW ? (size_t)(total - first) : TABLE_WINDOW;
		uint8_t *buf = malloc(n * w->entry);
		if (!buf)
			return -ENOMEM;
		if (!w->win && !(w->win = malloc(TABLE_WINDOW * sizeof *w->win))) {
			free(buf);
			return -ENOMEM;
		}
		int rc = read_exact(rd, ctx, buf, n * w->entry, first * w->entry);
		for (size_t i = 0; !rc && i < n; i++)
			w->win[i] = w->entry == 4 ? le32(buf + i * 4) : le64(buf + i * 8);
		free(buf);
		if (rc) {
			w->win_n = 0;
			return rc;
		}
		w->win_first = first;
		w->win_n = n;
	}
	*out = w->win[j - w->win_first];
	return 0;
}

static uint32_t chunk_len(const struct lf_wof *w, uint64_t i)
{
	return i + 1 < w->nchunks ? w->chunk : (uint32_t)(w->size - i * w->chunk);
}

/* Where chunk i is stored: [*from, *to) of the stream. */
static int locate(struct lf_wof *w, lf_wof_read_fn rd, void *ctx, uint64_t i, uint64_t *from,
		  uint64_t *to, char *why, size_t whylen)
{
	uint64_t a = 0, b = w->stream_size - w->table_size;
	int rc = 0;
	if (i > 0)
		rc = table_entry(w, rd, ctx, i - 1, &a);
	if (!rc && i + 1 < w->nchunks)
		rc = table_entry(w, rd, ctx, i, &b);
	if (rc)
		return rc == -EIO ? BAD("its chunk table cannot be read") : rc;
	if (a > b || b > w->stream_size - w->table_size)
		return BAD("chunk %llu is out of its stream (%llu..%llu of %llu bytes)",
			   (unsigned long long)i, (unsigned long long)a, (unsigned long long)b,
			   (unsigned long long)(w->stream_size - w->table_size));
	if (b - a > chunk_len(w, i) || (b == a && chunk_len(w, i)))
		return BAD("chunk %llu is stored in %llu bytes for %u of data",
			   (unsigned long long)i, (unsigned long long)(b - a), chunk_len(w, i));
	*from = w->table_size + a;
	*to = w->table_size + b;
	return 0;
}

static const char *codec(unsigned s)
{
	return s == LF_STORE_WOF_LZX ? "LZX" : "XPRESS";
}

/* Decode chunk i, stored as src[0..n), into out (chunk_len bytes), with
 * decompressor *dec (made here when the first compressed chunk needs
 * one). */
static int decode(const struct lf_wof *w, struct wimlib_decompressor **dec, uint64_t i,
		  const uint8_t *src, size_t n, uint8_t *out, char *why, size_t whylen)
{
	uint32_t len = chunk_len(w, i);
	if (n == len) {                          /* did not shrink: stored raw */
		memcpy(out, src, n);
		return 0;
	}
	if (!*dec && wimlib_create_decompressor(w->store == LF_STORE_WOF_LZX
						? WIMLIB_COMPRESSION_TYPE_LZX
						: WIMLIB_COMPRESSION_TYPE_XPRESS,
						w->chunk, dec))
		return -ENOMEM;
	if (wimlib_decompress(src, n, out, len, *dec))
		return BAD("chunk %llu does not decompress (%s, %zu bytes for %u)",
			   (unsigned long long)i, codec(w->store), n, len);
	return 0;
}

static struct cached_chunk *cache_find(struct lf_wof *w, uint64_t i)
{
	for (int k = 0; k < CACHE_CHUNKS; k++)
		if (w->cache[k].idx == i) {
			w->cache[k].used = ++w->clock;
			return &w->cache[k];
		}
	return NULL;
}

/* Keep chunk i's data (a copy) for the next read of part of it. */
static void cache_put(struct lf_wof *w, uint64_t i, const uint8_t *data)
{
	if (cache_find(w, i))
		return;                 /* another reader kept it meanwhile */
	struct cached_chunk *old = &w->cache[0];
	for (int k = 1; k < CACHE_CHUNKS; k++)
		if (w->cache[k].used < old->used)
			old = &w->cache[k];
	if (!old->data && !(old->data = malloc(w->chunk)))
		return;                 /* a cache, not a promise */
	memcpy(old->data, data, chunk_len(w, i));
	old->idx = i;
	old->used = ++w->clock;
}

/* The most chunks read from the stream in one call: a read of the mount
 * (128 KiB) is 32 XPRESS4K chunks, one stream read instead of 32. */
#define RUN_BYTES (256u << 10)
#define RUN_CHUNKS 72           /* 256 KiB of 4 KiB chunks, and some stored raw */

/* A run of chunks [first, first + n) stored one after another, where the
 * stream holds each. */
struct run {
	uint64_t first;
	unsigned n;
	uint64_t at[RUN_CHUNKS + 1];   /* chunk first + k is at[k]..at[k + 1] */
};

/* Under the lock: the run the read at pos (to end) needs next, from
 * chunk pos is in; chunks in the cache end it. */
static int plan(struct lf_wof *w, lf_wof_read_fn rd, void *ctx, uint64_t pos, uint64_t end,
		struct run *r, char *why, size_t whylen)
{
	uint64_t from, to;
	r->first = pos / w->chunk;
	r->n = 1;
	int rc = locate(w, rd, ctx, r->first, &from, &to, why, whylen);
	r->at[0] = from;
	r->at[1] = to;
	for (uint64_t j = r->first + 1; !rc && j < w->nchunks && j * w->chunk < end &&
	     r->n < RUN_CHUNKS && to - from < RUN_BYTES && !cache_find(w, j); j++) {
		uint64_t f2, t2;
		rc = locate(w, rd, ctx, j, &f2, &t2, why, whylen);
		if (rc || f2 != to)
			break;
		to = t2;
		r->at[++r->n] = to;
	}
	return rc;
}

/* Reads of one file run at once: the lock is held to look chunks up in
 * the cache and the table (whose windows are read under it), not while
 * a run of chunks is read and decoded, each reader with a decompressor
 * of its own from the file's pool. */
ssize_t lf_wof_pread(struct lf_wof *w, lf_wof_read_fn rd, void *ctx, void *buf, size_t len,
		     uint64_t off, char *why, size_t whylen)
{
	if (off >= w->size || !len)
		return 0;
	if (len > w->size - off)
		len = (size_t)(w->size - off);
	if (w->stream_size < w->table_size)
		return BAD("its stream (%llu bytes) is shorter than its chunk table (%llu)",
			   (unsigned long long)w->stream_size, (unsigned long long)w->table_size);
	int rc = 0;
	uint8_t *out = buf, *raw = NULL, *part = NULL;
	struct wimlib_decompressor *dec = NULL;
	struct run r;
	uint64_t pos = off, end = off + len;
	while (!rc && pos < end) {
		uint64_t i = pos / w->chunk;
		size_t skip = (size_t)(pos - i * w->chunk);
		lf_mutex_lock(&w->lock, LF_LK_WOF);
		struct cached_chunk *c = cache_find(w, i);
		if (c) {
			size_t take = end - pos < chunk_len(w, i) - skip ? (size_t)(end - pos)
									 : chunk_len(w, i) - skip;
			memcpy(out + (pos - off), c->data + skip, take);
			lf_mutex_unlock(&w->lock);
			pos += take;
			continue;
		}
		rc = plan(w, rd, ctx, pos, end, &r, why, whylen);
		if (!rc && !dec && w->npool)
			dec = w->pool[--w->npool];
		lf_mutex_unlock(&w->lock);
		size_t bytes = (size_t)(r.at[r.n] - r.at[0]);
		uint8_t *grown = rc ? NULL : realloc(raw, bytes ? bytes : 1);
		if (!rc && !grown)
			rc = -ENOMEM;
		if (!rc) {
			raw = grown;
			rc = read_exact(rd, ctx, raw, bytes, r.at[0]);
			if (rc == -EIO)
				rc = BAD("its stream cannot be read at %llu", (unsigned long long)r.at[0]);
		}
		/* each chunk of the run: into the caller's buffer when wanted
		 * whole, through the cache when in part */
		for (unsigned k = 0; !rc && k < r.n; k++) {
			uint64_t ci = r.first + k, cstart = ci * w->chunk;
			uint32_t clen = chunk_len(w, ci);
			size_t cskip = pos > cstart ? (size_t)(pos - cstart) : 0;
			size_t take = end - (cstart + cskip) < clen - cskip
				      ? (size_t)(end - (cstart + cskip)) : clen - cskip;
			const uint8_t *src = raw + (r.at[k] - r.at[0]);
			size_t n = (size_t)(r.at[k + 1] - r.at[k]);
			if (!cskip && take == clen) {
				rc = decode(w, &dec, ci, src, n, out + (cstart - off), why, whylen);
			} else {
				if (!part && !(part = malloc(w->chunk)))
					rc = -ENOMEM;
				if (!rc)
					rc = decode(w, &dec, ci, src, n, part, why, whylen);
				if (!rc) {
					memcpy(out + (cstart + cskip - off), part + cskip, take);
					lf_mutex_lock(&w->lock, LF_LK_WOF);
					cache_put(w, ci, part);
					lf_mutex_unlock(&w->lock);
				}
			}
			pos = cstart + cskip + take;
		}
	}
	if (dec) {
		lf_mutex_lock(&w->lock, LF_LK_WOF);
		if (w->npool < WOF_POOL) {
			w->pool[w->npool++] = dec;
			dec = NULL;
		}
		lf_mutex_unlock(&w->lock);
		wimlib_free_decompressor(dec);
	}
	free(raw);
	free(part);
	return rc ? rc : (ssize_t)len;
}
