/* The compact regf writer: a hive in memory written as cells laid out
 * key by key in hbins of 4 KiB as Windows writes them (a cell too big for
 * one has a bin of its own), the root key's cell first, no free space but
 * each bin's tail. hivex cannot make
 * a hive and its writes only append, so the project writes its own.
 *
 * Three passes over the same walk: the first finds the shared security
 * descriptors (their cells come first), the second lays every cell out (a
 * cell's size depends on its key alone), the third writes them, when every
 * offset (parents, subkeys, security cells) is known. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/bytes.h"
#include "layerfs/casefold.h"
#include "layerfs/hash.h"
#include "layerfs/hive.h"
#include "layerfs/safe_path.h"

#define HBIN_START 0x1000
#define HBIN_HEADER 0x20
#define BIG_DATA 16344            /* data cells above this are split (db) */
#define LH_MAX 512                /* entries per lh list; more go under an ri */
#define NONE 0xFFFFFFFFu

struct sk {
	const uint8_t *sd;
	uint32_t len, refs, off;
	uint64_t hash;
};

struct writer {
	uint8_t *buf;            /* the hbin area (emit pass) */
	size_t used;             /* offset of the next cell, from HBIN_START */
	size_t bin_start, bin_end;   /* the hbin cells go in now */
	int64_t mtime;           /* the first hbin's time */
	int minor;               /* format 1.minor: 1.3 has lf lists, no lh */
	int pass;                /* 0: descriptors, 1: layout, 2: emit */
	int emit;
	struct sk *sks;
	size_t nsk, capsk;
	uint32_t *skslots;       /* index + 1 */
	size_t nskslots;
	int err;
};

/* A minimal descriptor for keys that come without one: owner, group and
 * DACL absent, which Windows reads as "everyone" (a NULL DACL). Our own
 * loader reads it back as "none" (the key takes its parent's rules). */
static const uint8_t default_sd[20] = { 1, 0, 0x04, 0x80 };

/* An hbin from w->bin_end on, of size bytes: its header (emit pass). */
static void open_bin(struct writer *w, size_t size)
{
	w->bin_start = w->bin_end;
	w->bin_end = w->bin_start + size;
	w->used = w->bin_start + HBIN_HEADER;
	if (w->emit) {
		uint8_t *hb = w->buf + w->bin_start;
		memcpy(hb, "hbin", 4);
		put_le32(hb + 4, (uint32_t)w->bin_start);
		put_le32(hb + 8, (uint32_t)size);
		if (!w->bin_start)
			put_le64(hb + 0x14, (uint64_t)w->mtime);
	}
}

/* The rest of the current hbin, a free cell. */
static void close_bin(struct writer *w)
{
	if (w->emit && w->bin_end > w->used)
		put_le32(w->buf + w->used, (uint32_t)(w->bin_end - w->used));
	w->used = w->bin_end;
}

/* A cell of n payload bytes: its offset, and where to write (emit pass).
 * Cells go in hbins of 4 KiB, as Windows writes them; a cell that needs
 * more has a bin of its own, rounded to 4 KiB. */
static uint32_t cell(struct writer *w, size_t n, uint8_t **p)
{
	size_t total = (n + 4 + 7) & ~(size_t)7;
	if (w->used + total > w->bin_end) {
		close_bin(w);
		open_bin(w, (total + HBIN_HEADER + 4095) & ~(size_t)4095);
	}
	uint32_t off = (uint32_t)w->used;
	if (w->used + total > 0x7FFFFFF0u) {
		w->err = -EFBIG;
		total = 0;
	}
	w->used += total;
	*p = NULL;
	if (w->emit && total) {
		uint8_t *c = w->buf + off;
		memset(c, 0, total);
		put_le32(c, (uint32_t)-(int32_t)total);
		*p = c + 4;
	}
	return off;
}

/* UTF-8 to code points; -1 on a bad sequence. */
static long next_cp(const unsigned char **s)
{
	const unsigned char *p = *s;
	long c = *p++;
	int more = c < 0x80 ? 0 : c < 0xC0 ? -1 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : c < 0xF8 ? 3 : -1;
	if (more < 0)
		return -1;
	if (more)
		c &= 0x3F >> more;
	while (more--) {
		if ((*p & 0xC0) != 0x80)
			return -1;
		c = c << 6 | (*p++ & 0x3F);
	}
	*s = p;
	return c;
}

/* A name as the hive stores it: Latin-1 ("compressed") when it can be,
 * else UTF-16LE. Returns its byte length; out (if given) gets the bytes. */
static size_t encode_name(const char *name, uint8_t *out, int *compressed)
{
	const unsigned char *p = (const unsigned char *)name;
	int latin = 1;
	while (*p) {
		long c = next_cp(&p);
		if (c < 0 || c > 0xFF) {
			latin = 0;
			break;
		}
	}
	*compressed = latin;
	size_t n = 0;
	for (p = (const unsigned char *)name; *p;) {
		long c = next_cp(&p);
		if (c < 0)
			c = 0xFFFD, p++;
		if (latin) {
			if (out)
				out[n] = (uint8_t)c;
			n++;
		} else if (c >= 0x10000) {
			c -= 0x10000;
			if (out) {
				put_le16(out + n, (uint16_t)(0xD800 | (c >> 10)));
				put_le16(out + n + 2, (uint16_t)(0xDC00 | (c & 0x3FF)));
			}
			n += 4;
		} else {
			if (out)
				put_le16(out + n, (uint16_t)c);
			n += 2;
		}
	}
	return n;
}

/* The lh hash: upper-cased UTF-16 units, h = h * 37 + unit. */
static uint32_t lh_hash(const char *name)
{
	uint32_t h = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p;) {
		long c = next_cp(&p);
		if (c < 0)
			c = 0xFFFD, p++;
		if (c >= 'a' && c <= 'z')
			c -= 32;
		else if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
			c -= 32;
		h = h * 37 + (uint32_t)(c >= 0x10000 ? 0xFFFD : c);
	}
	return h;
}

static uint64_t sd_hash(const uint8_t *p, uint32_t n)
{
	uint64_t h = lf_fnv1a(p, n);
	return h ? h : 1;
}

/* The shared sk for a descriptor (made on first sight, counted). */
static uint32_t sk_of(struct writer *w, const uint8_t *sd, uint32_t len)
{
	if (!sd || !len) {
		sd = default_sd;
		len = sizeof default_sd;
	}
	uint64_t h = sd_hash(sd, len);
	if ((w->nsk + 1) * 2 > w->nskslots) {
		size_t n = w->nskslots ? w->nskslots * 2 : 64;
		uint32_t *s = calloc(n, sizeof *s);
		if (!s) {
			w->err = -ENOMEM;
			return 0;
		}
		for (size_t i = 0; i < w->nsk; i++) {
			size_t j = w->sks[i].hash & (n - 1);
			while (s[j])
				j = (j + 1) & (n - 1);
			s[j] = (uint32_t)i + 1;
		}
		free(w->skslots);
		w->skslots = s;
		w->nskslots = n;
	}
	size_t j = h & (w->nskslots - 1);
	for (; w->skslots[j]; j = (j + 1) & (w->nskslots - 1)) {
		struct sk *s = &w->sks[w->skslots[j] - 1];
		if (s->hash == h && s->len == len && !memcmp(s->sd, sd, len)) {
			s->refs++;
			return w->skslots[j] - 1;
		}
	}
	if (w->nsk == w->capsk) {
		size_t cap = w->capsk ? w->capsk * 2 : 16;
		struct sk *v = realloc(w->sks, cap * sizeof *v);
		if (!v) {
			w->err = -ENOMEM;
			return 0;
		}
		w->sks = v;
		w->capsk = cap;
	}
	w->sks[w->nsk] = (struct sk){ sd, len, 1, 0, h };
	w->skslots[j] = (uint32_t)w->nsk + 1;
	return (uint32_t)w->nsk++;
}

/* The sk cells, first in the hbin, linked in a ring as Windows keeps them. */
static void put_sks(struct writer *w)
{
	for (size_t i = 0; i < w->nsk; i++) {
		uint8_t *p;
		w->sks[i].off = cell(w, 20 + w->sks[i].len, &p);
	}
	if (!w->emit)
		return;
	for (size_t i = 0; i < w->nsk; i++) {
		uint8_t *p = w->buf + w->sks[i].off + 4;
		memcpy(p, "sk", 2);
		put_le32(p + 4, w->sks[(i + w->nsk - 1) % w->nsk].off);
		put_le32(p + 8, w->sks[(i + 1) % w->nsk].off);
		put_le32(p + 12, w->sks[i].refs);
		put_le32(p + 16, w->sks[i].len);
		memcpy(p + 20, w->sks[i].sd, w->sks[i].len);
	}
}

static uint32_t put_data(struct writer *w, const struct lf_rval *v)
{
	uint8_t *p;
	/* big-data records came with format 1.4: a 1.3 hive (Windows XP's)
	 * keeps a value of any size in one cell, as XP wrote it, and 1.3
	 * readers (reglookup) read it so */
	if (v->len <= BIG_DATA || (w->minor && w->minor < 4)) {
		uint32_t off = cell(w, v->len, &p);
		if (p)
			memcpy(p, v->data, v->len);
		return off;
	}
	uint32_t nseg = (v->len + BIG_DATA - 1) / BIG_DATA;
	uint8_t *db, *list;
	uint32_t dboff = cell(w, 8, &db);
	uint32_t listoff = cell(w, 4 * (size_t)nseg, &list);
	if (db) {
		memcpy(db, "db", 2);
		put_le16(db + 2, (uint16_t)nseg);
		put_le32(db + 4, listoff);
	}
	for (uint32_t i = 0; i < nseg; i++) {
		uint32_t n = i + 1 < nseg ? BIG_DATA : v->len - i * BIG_DATA;
		/* 4 bytes more than the data, as Windows sizes segments
		 * (16344 + 4 + size field = 16352); readers such as hivex
		 * count on them */
		uint32_t off = cell(w, n + 4, &p);
		if (p)
			memcpy(p, v->data + (size_t)i * BIG_DATA, n);
		if (list)
			put_le32(list + 4 * i, off);
	}
	if (nseg > 0xFFFF)
		w->err = -EFBIG;
	return dboff;
}

static uint32_t put_value(struct writer *w, const struct lf_rval *v, uint32_t *maxname)
{
	int comp;
	size_t nl = encode_name(v->name, NULL, &comp);
	if (nl > 0xFFFF) {
		w->err = -ENAMETOOLONG;
		nl = 0;
	}
	if (nl > *maxname)
		*maxname = (uint32_t)nl;
	uint8_t *p;
	uint32_t off = cell(w, 0x14 + nl, &p);
	uint32_t dataoff = 0, size = v->len;
	if (v->len <= 4) {
		size |= 0x80000000u;   /* small data lives in the offset field */
	} else {
		dataoff = put_data(w, v);
	}
	if (p) {
		memcpy(p, "vk", 2);
		put_le16(p + 2, (uint16_t)nl);
		put_le32(p + 4, size);
		if (v->len <= 4)
			memcpy(p + 8, v->data, v->len);
		else
			put_le32(p + 8, dataoff);
		put_le32(p + 12, v->type);
		put_le16(p + 16, comp && nl ? 1 : 0);
		encode_name(v->name, p + 0x14, &comp);
	}
	return off;
}

/* Subkey list(s) of k: one lh, or an ri over lh lists of LH_MAX. */
static uint32_t put_subkeys(struct writer *w, const struct lf_rkey *k)
{
	if (!k->nsub)
		return NONE;
	size_t nlists = (k->nsub + LH_MAX - 1) / LH_MAX;
	uint8_t *ri = NULL;
	uint32_t rioff = nlists > 1 ? cell(w, 4 + 4 * nlists, &ri) : NONE;
	if (ri) {
		memcpy(ri, "ri", 2);
		put_le16(ri + 2, (uint16_t)nlists);
	}
	uint32_t first = NONE;
	for (size_t l = 0; l < nlists; l++) {
		size_t from = l * LH_MAX, n = k->nsub - from < LH_MAX ? k->nsub - from : LH_MAX;
		uint8_t *p;
		uint32_t off = cell(w, 4 + 8 * n, &p);
		if (l == 0)
			first = off;
		if (ri)
			put_le32(ri + 4 + 4 * l, off);
		if (!p)
			continue;
		/* a 1.3 hive (Windows XP) has lf lists: each entry's hint the
		 * name's first four characters; lh (a hash) came with 1.5 */
		int lf = w->minor && w->minor < 5;
		memcpy(p, lf ? "lf" : "lh", 2);
		put_le16(p + 2, (uint16_t)n);
		for (size_t i = 0; i < n; i++) {
			put_le32(p + 4 + 8 * i, k->sub[from + i]->woff);
			if (!lf) {
				put_le32(p + 8 + 8 * i, lh_hash(k->sub[from + i]->name));
			} else {
				const char *nm = k->sub[from + i]->name;
				for (int c = 0; c < 4 && nm[c]; c++)   /* ASCII of it, as Windows */
					p[8 + 8 * i + c] = (uint8_t)nm[c] < 0x80 ? (uint8_t)nm[c] : 0;
			}
		}
	}
	return nlists > 1 ? rioff : first;
}

/* Key k's nk cell: its offset in k->woff, where to write in *nk. */
static void nk_cell(struct writer *w, struct lf_rkey *k, uint8_t **nk)
{
	int comp;
	size_t nl = encode_name(k->name, NULL, &comp);
	if (nl > 0xFFFF)
		w->err = -ENAMETOOLONG;
	k->woff = cell(w, 0x4C + nl, nk);
}

static void put_key_in(struct writer *w, struct lf_rkey *k, uint32_t parent, int root,
		       uint8_t *nk);

static void put_key(struct writer *w, struct lf_rkey *k, uint32_t parent, int root)
{
	uint8_t *nk;
	nk_cell(w, k, &nk);
	put_key_in(w, k, parent, root, nk);
}

/* The rest of key k, its nk cell made (nk: where to write it). */
static void put_key_in(struct writer *w, struct lf_rkey *k, uint32_t parent, int root,
		       uint8_t *nk)
{
	int comp;
	size_t nl = encode_name(k->name, NULL, &comp);
	if (w->pass == 0)
		k->wsk = sk_of(w, k->sd, k->sdlen);
	uint8_t *cp;
	uint32_t clsoff = k->clslen ? cell(w, k->clslen, &cp) : NONE;
	if (k->clslen && cp)
		memcpy(cp, k->cls, k->clslen);
	uint8_t *vl;
	uint32_t vloff = k->nval ? cell(w, 4 * k->nval, &vl) : NONE;
	uint32_t maxvname = 0, maxdata = 0;
	for (size_t i = 0; i < k->nval; i++) {
		uint32_t off = put_value(w, &k->val[i], &maxvname);
		if (k->nval && vl)
			put_le32(vl + 4 * i, off);
		if (k->val[i].len > maxdata)
			maxdata = k->val[i].len;
	}
	uint32_t suboff = put_subkeys(w, k);
	uint32_t maxsub = 0, maxcls = 0;
	for (size_t i = 0; i < k->nsub; i++) {
		int c;
		uint32_t n = (uint32_t)encode_name(k->sub[i]->name, NULL, &c) * (c ? 2 : 1);
		if (n > maxsub)
			maxsub = n;
		if (k->sub[i]->clslen > maxcls)
			maxcls = k->sub[i]->clslen;
	}
	if (nk) {
		memcpy(nk, "nk", 2);
		put_le16(nk + 2, (uint16_t)((root ? 0x2C : 0) | (comp ? 0x20 : 0)));
		put_le64(nk + 0x04, (uint64_t)k->mtime);
		put_le32(nk + 0x10, parent);
		put_le32(nk + 0x14, (uint32_t)k->nsub);
		put_le32(nk + 0x1C, suboff);
		put_le32(nk + 0x20, NONE);
		put_le32(nk + 0x24, (uint32_t)k->nval);
		put_le32(nk + 0x28, vloff);
		put_le32(nk + 0x2C, w->sks[k->wsk].off);
		put_le32(nk + 0x30, clsoff);
		put_le32(nk + 0x34, maxsub);
		put_le32(nk + 0x38, maxcls);
		put_le32(nk + 0x3C, maxvname);
		put_le32(nk + 0x40, maxdata);
		put_le16(nk + 0x48, (uint16_t)nl);
		put_le16(nk + 0x4A, k->clslen);
		encode_name(k->name, nk + 0x4C, &comp);
	}
	for (size_t i = 0; i < k->nsub; i++)
		put_key(w, k->sub[i], k->woff, 0);
}

/* The base block: signature, sequence numbers, root, size, checksum. */
static void base_block(uint8_t *b, const struct lf_hive *h, uint32_t hbins)
{
	memset(b, 0, HBIN_START);
	memcpy(b, "regf", 4);
	put_le32(b + 0x04, 1);
	put_le32(b + 0x08, 1);
	put_le64(b + 0x0C, (uint64_t)h->mtime);
	put_le32(b + 0x14, 1);
	put_le32(b + 0x18, h->minor ? (uint32_t)h->minor : 5);
	put_le32(b + 0x20, 1);
	put_le32(b + 0x24, h->root->woff);
	put_le32(b + 0x28, hbins);
	put_le32(b + 0x2C, 1);
	uint32_t x = 0;
	for (int i = 0; i < 0x1FC; i += 4)
		x ^= (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
		     (uint32_t)b[i + 3] << 24;
	put_le32(b + 0x1FC, x == 0xFFFFFFFF ? 0xFFFFFFFE : x == 0 ? 1 : x);
}

/* Windows keeps subkey lists sorted by upper-cased name (it searches
 * them by bisection); merged and edited trees are sorted here. */
static int by_name(const void *a, const void *b)
{
	const struct lf_rkey *x = *(struct lf_rkey *const *)a, *y = *(struct lf_rkey *const *)b;
	return lf_casecmp(x->name, y->name);
}

static void sort_keys(struct lf_rkey *k, int depth)
{
	int sorted = 1;
	for (size_t i = 1; i < k->nsub && sorted; i++)
		sorted = lf_casecmp(k->sub[i - 1]->name, k->sub[i]->name) <= 0;
	if (!sorted) {
		qsort(k->sub, k->nsub, sizeof *k->sub, by_name);
		lf_rkey_changed(k);  /* the index holds positions */
	}
	if (depth < 512)
		for (size_t i = 0; i < k->nsub; i++)
			sort_keys(k->sub[i], depth + 1);
}

int lf_hive_image(struct lf_hive *h, uint8_t **image, size_t *size, struct lf_err *err)
{
	if (h->root && h->root->frozen)   /* the writer keeps notes in the keys */
		return lf_err_set(err, EROFS, "a frozen (shared) hive cannot be written: write a copy");
	sort_keys(h->root, 0);
	struct writer w = { .mtime = h->mtime, .minor = h->minor };
	size_t hbins = 0;
	for (w.pass = 0; w.pass < 3; w.pass++) {
		w.bin_end = 0;
		open_bin(&w, 4096);
		/* the root key's cell first, as Windows has it (regipy takes
		 * the first cell for the root, whatever the header says) */
		uint8_t *root_nk;
		nk_cell(&w, h->root, &root_nk);
		put_sks(&w);
		put_key_in(&w, h->root, 0, 1, root_nk);
		if (w.err)
			break;
		if (w.used == w.bin_end)
			open_bin(&w, 4096);   /* a free cell ends the last bin */
		close_bin(&w);
		hbins = w.bin_end;
		if (w.pass == 1) {
			w.buf = calloc(1, HBIN_START + hbins);
			if (!w.buf) {
				w.err = -ENOMEM;
				break;
			}
			w.buf += HBIN_START;
			w.emit = 1;
		}
	}
	int rc = w.err;
	if (!rc) {
		base_block(w.buf - HBIN_START, h, (uint32_t)hbins);
		*image = w.buf - HBIN_START;
		*size = HBIN_START + hbins;
	} else if (w.buf) {
		free(w.buf - HBIN_START);
	}
	free(w.sks);
	free(w.skslots);
	if (rc)
		return lf_err_set(err, -rc, "%s",
				  rc == -EFBIG ? "the hive would pass 2 GiB, or a value 1 GiB"
				  : rc == -ENAMETOOLONG ? "a name longer than a hive can hold"
				  : strerror(-rc));
	return 0;
}

int lf_hive_write_at(struct lf_hive *h, int dirfd, const char *name, struct lf_err *err)
{
	return lf_hive_write_via(h, dirfd, dirfd, name, err);
}

int lf_hive_write_via(struct lf_hive *h, int tmpfd, int dirfd, const char *name,
		      struct lf_err *err)
{
	uint8_t *img = NULL;
	size_t size = 0;
	int rc = lf_hive_image(h, &img, &size, err);
	if (rc) {
		lf_err_prefix(err, "%s: ", name);
		return rc;
	}
	/* a new temporary (never an existing name, never through a symlink),
	 * fsynced, renamed over the hive */
	rc = lf_safe_replace_via(tmpfd, dirfd, name, img, size, 0600);
	free(img);
	if (rc)
		return lf_err_set(err, -rc, "%s: %s", name, strerror(-rc));
	return 0;
}

int lf_hive_write(struct lf_hive *h, const char *file, struct lf_err *err)
{
	const char *name;
	int dfd = lf_open_parent(file, &name);
	if (dfd < 0)
		return lf_err_set(err, -dfd, "%s: %s", file, strerror(-dfd));
	int rc = lf_hive_write_at(h, dfd, name, err);
	close(dfd);
	if (rc)
		lf_err_set(err, err->code, "%s: %s", file, strerror(err->code));
	return rc;
}
