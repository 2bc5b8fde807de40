/* The disk around a published volume (layout.h). What is not the Windows
 * volume comes from the OS layer's disk unchanged; the partition table is
 * rewritten only when the disk's size changes (the Windows partition grew,
 * or a VHD's geometry rounds the size up): then the GPT's backup moves to
 * the new last sectors and both headers' sizes and checksums follow, the
 * GUIDs staying what they were. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "layerfs/bytes.h"
#include "layerfs/layout.h"

#define NEW_PART_START (1u << 20)
#define MAX_PATCHES 6

struct patch {
	uint64_t off;
	size_t len;
	const uint8_t *data;     /* NULL: zeros */
};

struct lf_layout {
	struct lf_source *base;  /* NULL: a new MBR disk */
	uint64_t vol_off, old_len, vol_len, base_size, disk_size;
	int part;                /* 1-based index of the Windows partition */
	int gpt, grown;
	uint32_t ss;             /* the GPT's sector size */
	int vol_fd;
	uint8_t mbr[512];
	uint8_t hdr[512];        /* the GPT's primary header, as it is now */
	uint8_t *entries;        /* the GPT's entries, as they are now */
	size_t entries_len;
	uint8_t *bak;            /* the backup: entries, then its header */
	size_t bak_len;
	int rewritten;
	struct patch patches[MAX_PATCHES];
	int npatches;
};

/* CRC-32 (IEEE 802.3, reflected), as the GPT's headers use it. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void gpt_seal(uint8_t *hdr)
{
	uint32_t size = le32(hdr + 12);
	if (size < 92 || size > 512)
		size = 92;
	put_le32(hdr + 16, 0);
	put_le32(hdr + 16, crc32_ieee(hdr, size));
}

static const char *gpt_kind(const uint8_t *type)
{
	static const struct { uint8_t g[4]; const char *name; } kinds[] = {
		{ { 0x28, 0x73, 0x2A, 0xC1 }, "an EFI system partition" },
		{ { 0x16, 0xE3, 0xC9, 0xE3 }, "a Microsoft reserved partition" },
		{ { 0xA4, 0xBB, 0x94, 0xDE }, "a recovery partition" },
		{ { 0xA2, 0xA0, 0xD0, 0xEB }, "a basic data partition" },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!memcmp(type, kinds[i].g, 4))
			return kinds[i].name;
	return "a partition";
}

static int read_gpt(struct lf_layout *l, struct lf_err *err)
{
	const char *path = l->base->path;
	for (uint32_t ss = 512; ss <= 4096 && !l->gpt; ss *= 8) {
		if (lf_source_pread(l->base, l->hdr, sizeof l->hdr, ss, NULL) == 0 &&
		    !memcmp(l->hdr, "EFI PART", 8)) {
			l->gpt = 1;
			l->ss = ss;
		}
	}
	if (!l->gpt)
		return lf_err_set(err, EINVAL, "%s: no GPT header behind the protective MBR", path);
	uint32_t count = le32(l->hdr + 80), esize = le32(l->hdr + 84);
	if (esize < 128 || esize > 4096 || count > 1024 || le64(l->hdr + 72) != 2)
		return lf_err_set(err, EINVAL, "%s: a GPT laid out as this tool cannot rewrite "
				  "(%u entries of %u bytes at LBA %llu)", path, count, esize,
				  (unsigned long long)le64(l->hdr + 72));
	l->entries_len = ((size_t)count * esize + l->ss - 1) / l->ss * l->ss;
	if (!(l->entries = calloc(1, l->entries_len)))
		return lf_err_set(err, ENOMEM, "out of memory");
	return lf_source_pread(l->base, l->entries, (size_t)count * esize, 2ull * l->ss, err);
}

/* May the Windows partition grow? Not when another one follows it. */
static int check_follows(struct lf_layout *l, struct lf_err *err)
{
	uint64_t end = l->vol_off + l->old_len;
	if (l->gpt) {
		uint32_t count = le32(l->hdr + 80), esize = le32(l->hdr + 84);
		for (uint32_t i = 0; i < count; i++) {
			const uint8_t *e = l->entries + (size_t)i * esize;
			if ((int)i + 1 != l->part && le64(e + 32) * l->ss >= end && le64(e + 40))
				return lf_err_set(err, EFBIG, "%s: the Windows partition (%d) cannot grow "
						  "to %llu bytes: %s (%u) follows it at byte %llu",
						  l->base->path, l->part, (unsigned long long)l->vol_len,
						  gpt_kind(e), i + 1,
						  (unsigned long long)(le64(e + 32) * l->ss));
		}
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = l->mbr + 446 + 16 * i;
		if (i + 1 != l->part && e[4] && (uint64_t)le32(e + 8) * 512 >= end)
			return lf_err_set(err, EFBIG, "%s: the Windows partition (%d) cannot grow to "
					  "%llu bytes: partition %d (type 0x%02x) follows it at byte %llu",
					  l->base->path, l->part, (unsigned long long)l->vol_len, i + 1,
					  e[4], (unsigned long long)le32(e + 8) * 512);
	}
	if (l->part > 4)
		return lf_err_set(err, EFBIG, "%s: the Windows volume is a logical partition; it "
				  "cannot grow", l->base->path);
	return 0;
}

static void new_mbr(struct lf_layout *l)
{
	memset(l->mbr, 0, sizeof l->mbr);
	uint32_t sig;
	if (getrandom(&sig, sizeof sig, 0) != sizeof sig)
		sig = (uint32_t)getpid();
	put_le32(l->mbr + 440, sig);
	uint8_t *e = l->mbr + 446;
	/* CHS fields at their "use LBA" maximum, as for large disks */
	e[1] = 0xFE; e[2] = 0xFF; e[3] = 0xFF;
	e[4] = 0x07;
	e[5] = 0xFE; e[6] = 0xFF; e[7] = 0xFF;
	put_le32(e + 8, NEW_PART_START / 512);
	put_le32(e + 12, (uint32_t)(l->vol_len / 512));
	l->mbr[510] = 0x55;
	l->mbr[511] = 0xAA;
}

static void add_patch(struct lf_layout *l, uint64_t off, size_t len, const uint8_t *data)
{
	if (l->npatches < MAX_PATCHES)
		l->patches[l->npatches++] = (struct patch){ off, len, data };
}

/* The tables for the disk as it is now (its size, the partition's). */
static int rewrite(struct lf_layout *l, struct lf_err *err)
{
	l->npatches = 0;
	add_patch(l, 0, sizeof l->mbr, l->mbr);
	if (!l->base)
		return 0;
	uint64_t delta = l->vol_len - l->old_len;
	if (!l->gpt) {
		if (delta)
			put_le32(l->mbr + 446 + 16 * (l->part - 1) + 12, (uint32_t)(l->vol_len / 512));
		return 0;
	}
	if (!l->rewritten && l->disk_size == l->base_size)
		return 0;          /* the same size: the OS layer's own tables */
	uint64_t last = l->disk_size / l->ss - 1, old_last = l->base_size / l->ss - 1;
	uint64_t esec = l->entries_len / l->ss;
	uint32_t esize = le32(l->hdr + 84), count = le32(l->hdr + 80);
	if (!l->rewritten) {
		/* the Windows partition's end moves with it (once) */
		uint8_t *e = l->entries + (size_t)(l->part - 1) * esize;
		put_le64(e + 40, le64(e + 40) + delta / l->ss);
	}
	l->rewritten = 1;
	put_le64(l->hdr + 32, last);
	put_le64(l->hdr + 48, last - esec - 1);
	put_le32(l->hdr + 88, crc32_ieee(l->entries, (size_t)count * esize));
	gpt_seal(l->hdr);
	free(l->bak);
	l->bak_len = l->entries_len + l->ss;
	if (!(l->bak = calloc(1, l->bak_len)))
		return lf_err_set(err, ENOMEM, "out of memory");
	memcpy(l->bak, l->entries, l->entries_len);
	uint8_t *bh = l->bak + l->entries_len;
	memcpy(bh, l->hdr, 512 < l->ss ? 512 : l->ss);
	put_le64(bh + 24, last);
	put_le64(bh + 32, 1);
	put_le64(bh + 72, last - esec);
	gpt_seal(bh);
	/* the protective MBR covers the disk */
	uint8_t *pe = l->mbr + 446;
	if (pe[4] == 0xEE)
		put_le32(pe + 12, last > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)last);
	add_patch(l, l->ss, l->ss, l->hdr);
	add_patch(l, 2ull * l->ss, l->entries_len, l->entries);
	/* the old backup, now inside the disk, is gone */
	add_patch(l, (old_last - esec) * l->ss + delta, l->bak_len, NULL);
	add_patch(l, (last - esec) * l->ss, l->bak_len, l->bak);
	return 0;
}

int lf_layout_new(struct lf_source *base, const struct lf_volume_extent *ext, uint64_t vol_len,
		  struct lf_layout **out, struct lf_err *err)
{
	struct lf_layout *l = calloc(1, sizeof *l);
	if (!l)
		return lf_err_set(err, ENOMEM, "out of memory");
	l->vol_fd = -1;
	l->vol_len = vol_len;
	int rc = 0;
	if (!base || !ext || !strcmp(ext->scheme, "bare")) {
		l->vol_off = NEW_PART_START;
		l->old_len = vol_len;
		l->disk_size = NEW_PART_START + vol_len;
		new_mbr(l);
	} else {
		l->base = base;
		l->vol_off = ext->offset;
		l->old_len = ext->length;
		l->part = ext->partition;
		l->base_size = base->size;
		if (vol_len < ext->length)
			l->vol_len = vol_len = ext->length;   /* the partition stays as it was */
		rc = lf_source_pread(base, l->mbr, sizeof l->mbr, 0, err);
		if (!rc && !strcmp(ext->scheme, "gpt"))
			rc = read_gpt(l, err);
		l->grown = vol_len > ext->length;
		if (!rc && l->grown)
			rc = check_follows(l, err);
		l->disk_size = base->size + (vol_len - ext->length);
	}
	if (!rc)
		rc = rewrite(l, err);
	if (rc) {
		lf_layout_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void lf_layout_free(struct lf_layout *l)
{
	if (!l)
		return;
	free(l->entries);
	free(l->bak);
	free(l);
}

uint64_t lf_layout_volume_offset(const struct lf_layout *l) { return l->vol_off; }
uint64_t lf_layout_disk_size(const struct lf_layout *l) { return l->disk_size; }
const char *lf_layout_scheme(const struct lf_layout *l) { return l->gpt ? "gpt" : "mbr"; }
int lf_layout_grown(const struct lf_layout *l) { return l->grown; }
void lf_layout_set_volume(struct lf_layout *l, int fd) { l->vol_fd = fd; }

int lf_layout_set_disk_size(struct lf_layout *l, uint64_t size, struct lf_err *err)
{
	if (size < l->disk_size)
		return lf_err_set(err, EINVAL, "a disk of %llu bytes cannot hold %llu",
				  (unsigned long long)size, (unsigned long long)l->disk_size);
	if (size == l->disk_size)
		return 0;
	l->disk_size = size;
	return rewrite(l, err);
}

/* [off, off+len) of the disk without the patches. */
static int read_plain(struct lf_layout *l, uint8_t *b, size_t len, uint64_t off)
{
	uint64_t vend = l->vol_off + l->vol_len, delta = l->vol_len - l->old_len;
	while (len) {
		size_t n = len;
		if (off < l->vol_off) {
			if (off + n > l->vol_off)
				n = (size_t)(l->vol_off - off);
			if (!l->base || off + n > l->base_size)
				memset(b, 0, n);
			else if (lf_source_pread(l->base, b, n, off, NULL))
				return -EIO;
		} else if (off < vend) {
			if (off + n > vend)
				n = (size_t)(vend - off);
			ssize_t r = l->vol_fd >= 0 ? pread(l->vol_fd, b, n, (off_t)(off - l->vol_off)) : 0;
			if (r < 0)
				return -errno;
			memset(b + r, 0, n - (size_t)r);
		} else {
			/* after the volume: the OS layer's bytes, moved by the growth */
			uint64_t src = off - delta;
			if (!l->base || src >= l->base_size) {
				memset(b, 0, n);
			} else {
				if (src + n > l->base_size)
					n = (size_t)(l->base_size - src);
				if (lf_source_pread(l->base, b, n, src, NULL))
					return -EIO;
			}
		}
		b += n;
		off += n;
		len -= n;
	}
	return 0;
}

int lf_layout_read(void *layout, void *buf, size_t len, uint64_t off)
{
	struct lf_layout *l = layout;
	int rc = read_plain(l, buf, len, off);
	for (int i = 0; !rc && i < l->npatches; i++) {
		const struct patch *p = &l->patches[i];
		if (p->off >= off + len || p->off + p->len <= off)
			continue;
		uint64_t from = p->off > off ? p->off : off;
		uint64_t to = p->off + p->len < off + len ? p->off + p->len : off + len;
		uint8_t *dst = (uint8_t *)buf + (from - off);
		if (p->data)
			memcpy(dst, p->data + (from - p->off), (size_t)(to - from));
		else
			memset(dst, 0, (size_t)(to - from));
	}
	return rc;
}
