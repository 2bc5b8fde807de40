/* Where the NTFS volume is on a disk: at sector 0 (a bare volume), in an
 * MBR partition, or in a GPT basic-data partition. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/bytes.h"
#include "layerfs/source.h"

static int is_ntfs_boot(const uint8_t *b)
{
	return memcmp(b + 3, "NTFS    ", 8) == 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* The volume's own idea of its size, from its boot sector. */
static uint64_t ntfs_boot_size(const uint8_t *b)
{
	uint32_t bps = (uint32_t)b[11] | (uint32_t)b[12] << 8;
	return (le64(b + 40) + 1) * bps;
}

static int check_candidate(struct lf_source *s, uint64_t off, uint64_t len,
			   int *found, struct lf_volume_extent *out, int index,
			   const char *scheme, char *why, size_t whylen)
{
	uint8_t b[512];
	if (off >= s->size || len == 0) {
		snprintf(why, whylen, "partition %d lies outside the %llu-byte disk",
			 index, (unsigned long long)s->size);
		return 0;
	}
	if (len > s->size - off)
		len = s->size - off;
	int rc = lf_source_pread(s, b, sizeof b, off, NULL);
	if (rc)
		return rc;
	if (!is_ntfs_boot(b)) {
		snprintf(why, whylen, "partition %d (%s, at byte %llu) has no NTFS boot sector%s",
			 index, scheme, (unsigned long long)off,
			 all_zero(b, sizeof b) ? " (it is zeroed)" : "");
		return 0;
	}
	out->offset = off;
	out->length = len;
	out->partition = index;
	out->scheme = scheme;
	*found = 1;
	return 0;
}

static const uint8_t gpt_basic_data[16] = {
	0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44,
	0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99, 0xC7,
};

static int scan_gpt(struct lf_source *s, uint32_t ss, int *found,
		    struct lf_volume_extent *out, char *why, size_t whylen)
{
	uint8_t hdr[512];
	if ((uint64_t)ss * 2 > s->size || lf_source_pread(s, hdr, sizeof hdr, ss, NULL))
		return 0;
	if (memcmp(hdr, "EFI PART", 8) != 0)
		return 0;
	uint64_t lba = le64(hdr + 72);
	uint32_t count = le32(hdr + 80), esize = le32(hdr + 84);
	if (esize < 128 || esize > 4096 || count > 1024) {
		snprintf(why, whylen, "GPT header has %u entries of %u bytes", count, esize);
		return 0;
	}
	uint8_t *tab = malloc((size_t)count * esize);
	if (!tab)
		return -ENOMEM;
	if (lba > s->size / ss ||
	    lf_source_pread(s, tab, (size_t)count * esize, lba * ss, NULL)) {
		snprintf(why, whylen, "GPT partition table at LBA %llu is past the end of the disk",
			 (unsigned long long)lba);
		free(tab);
		return 0;
	}
	int rc = 0;
	for (uint32_t i = 0; i < count && !*found && !rc; i++) {
		const uint8_t *e = tab + (size_t)i * esize;
		if (memcmp(e, gpt_basic_data, 16) != 0)
			continue;
		uint64_t first = le64(e + 32), last = le64(e + 40);
		if (last < first)
			continue;
		rc = check_candidate(s, first * ss, (last - first + 1) * ss, found,
				     out, (int)i + 1, "gpt", why, whylen);
	}
	free(tab);
	return rc;
}

int lf_partition_find_ntfs(struct lf_source *s, struct lf_volume_extent *out,
			   struct lf_err *err)
{
	uint8_t b[512];
	if (s->size < sizeof b)
		return lf_err_set(err, EINVAL, "%s: too small to hold an NTFS volume (%llu bytes)",
				  s->path, (unsigned long long)s->size);
	int rc = lf_source_pread(s, b, sizeof b, 0, err);
	if (rc)
		return rc;
	if (is_ntfs_boot(b)) {
		out->offset = 0;
		out->length = s->size;
		uint64_t own = ntfs_boot_size(b);
		/* the boot sector's size less its backup sector: what must be there */
		if (own > s->size + 512)
			return lf_err_set(err, EINVAL, "%s: truncated: the NTFS volume is %llu bytes, "
					  "the image holds %llu", s->path, (unsigned long long)own,
					  (unsigned long long)s->size);
		if (own && own < out->length)
			out->length = own;
		out->partition = 0;
		out->scheme = "bare";
		return 0;
	}
	if (all_zero(b, sizeof b))
		return lf_err_set(err, EINVAL,
				  "%s: sector 0 is zeroed: no NTFS boot sector, MBR or GPT",
				  s->path);
	/* other hypervisors' disk formats are not layers: say which it is */
	static const struct { const char *magic; size_t at, len; const char *name; } other[] = {
		{ "QFI\xfb", 0, 4, "a qcow2 image" }, { "KDMV", 0, 4, "a VMware VMDK (sparse) image" },
		{ "# Disk DescriptorFile", 0, 21, "a VMware VMDK descriptor" },
		{ "<<< ", 0, 4, "a VirtualBox VDI image" },
	};
	for (size_t i = 0; b[510] != 0x55 && i < sizeof other / sizeof other[0]; i++)
		if (!memcmp(b + other[i].at, other[i].magic, other[i].len))
			return lf_err_set(err, EINVAL, "%s: %s, which is not a layer format: convert "
					  "it (qemu-img convert -O vpc %s OUT.vhd)", s->path,
					  other[i].name, s->path);
	if (b[510] != 0x55 || b[511] != 0xAA)
		return lf_err_set(err, EINVAL,
				  "%s: not an NTFS volume or a partitioned disk (no NTFS boot sector, no MBR signature)",
				  s->path);
	int found = 0;
	char why[256] = "";
	for (int i = 0; i < 4 && !found; i++) {
		const uint8_t *e = b + 446 + 16 * i;
		uint8_t type = e[4];
		if (type == 0xEE) {
			/* Protective MBR: try 512-byte then 4 KiB sectors. */
			rc = scan_gpt(s, 512, &found, out, why, sizeof why);
			if (!rc && !found)
				rc = scan_gpt(s, 4096, &found, out, why, sizeof why);
		} else if (type == 0x07 || type == 0x27) {
			uint64_t start = le32(e + 8), count = le32(e + 12);
			rc = check_candidate(s, start * 512, count * 512, &found, out,
					     i + 1, "mbr", why, sizeof why);
		}
		if (rc)
			return lf_err_set(err, -rc, "%s: cannot read the partition table: %s",
					  s->path, strerror(-rc));
	}
	if (found)
		return 0;
	return lf_err_set(err, EINVAL, "%s: no NTFS partition found%s%s", s->path,
			  why[0] ? ": " : "", why);
}
