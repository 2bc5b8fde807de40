/* What libntfs-3g refuses only after leaking: ntfs_device_mount leaves the
 * $AttrDef inode allocated when the table is over 24 bits long (~1.2 KB on
 * every try: a daemon that retries a broken layer at every login grows).
 * The same test is made here first, from the boot sector and MFT record 4,
 * every read bounds-checked; anything this cannot read is left for
 * libntfs-3g to judge. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ntfs_glue.h"

#define ATTRDEF_RECORD 4
#define ATTR_DATA 0x80
#define ATTR_END 0xFFFFFFFFu

static uint64_t get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The record's update sequence put back: the last two bytes of each
 * 512-byte stride hold a check value, their real bytes sit in the array. */
static int fixup(uint8_t *r, uint32_t size)
{
	uint32_t ofs = (uint32_t)get(r + 4, 2), cnt = (uint32_t)get(r + 6, 2);
	if (cnt < 2 || ofs + 2u * cnt > size || (cnt - 1) * 512u > size)
		return -1;
	for (uint32_t i = 1; i < cnt; i++) {
		uint8_t *end = r + i * 512 - 2;
		if (memcmp(end, r + ofs, 2))
			return -1;
		memcpy(end, r + ofs + 2 * i, 2);
	}
	return 0;
}

int lf_ntfs_precheck(struct lf_source *src, const struct lf_volume_extent *ext,
		     struct lf_err *err)
{
	uint8_t boot[512];
	if (lf_source_pread(src, boot, sizeof boot, ext->offset, NULL))
		return 0;
	uint32_t bps = (uint32_t)get(boot + 0x0B, 2), spc = boot[0x0D];
	if (spc > 0x80)
		spc = spc < 0xF8 ? 0 : 1u << (256 - spc);
	uint64_t cluster = (uint64_t)bps * spc;
	int8_t cpr = (int8_t)boot[0x40];
	uint64_t rsize = cpr < 0 ? (cpr > -32 ? 1ull << -cpr : 0) : (uint64_t)cpr * cluster;
	uint64_t mft = get(boot + 0x30, 8);
	if (memcmp(boot + 3, "NTFS    ", 8) || bps < 256 || bps > 4096 || !cluster ||
	    rsize < 512 || rsize > 65536 || mft > (ext->length ? ext->length : UINT64_MAX) / cluster)
		return 0;                /* libntfs-3g says what is wrong */
	uint8_t *r = malloc(rsize);
	if (!r || lf_source_pread(src, r, rsize, ext->offset + mft * cluster +
				  ATTRDEF_RECORD * rsize, NULL) || memcmp(r, "FILE", 4) ||
	    fixup(r, (uint32_t)rsize)) {
		free(r);
		return 0;
	}
	uint64_t len = 0;
	for (uint32_t at = (uint32_t)get(r + 0x14, 2); at + 16 <= rsize;) {
		uint32_t type = (uint32_t)get(r + at, 4), alen = (uint32_t)get(r + at + 4, 4);
		if (type == ATTR_END || alen < 16 || at + alen > rsize)
			break;
		if (type == ATTR_DATA) {
			int nonres = r[at + 8];
			if (nonres && alen >= 0x38)
				len = get(r + at + 0x30, 8);
			else if (!nonres)
				len = get(r + at + 0x10, 4);
			break;
		}
		at += alen;
	}
	free(r);
	if (len > 0xFFFFFF)
		return lf_err_set(err, EINVAL, "%s: the NTFS volume at byte %llu does not mount: its "
				  "attribute definition table ($AttrDef) is %llu bytes (at most 16 MiB)",
				  src->path, (unsigned long long)ext->offset, (unsigned long long)len);
	return 0;
}
