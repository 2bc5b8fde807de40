/* On-disk layout of VHD v1 (Microsoft "Virtual Hard Disk Image Format
 * Specification" 1.0). Big-endian fields; shared by reader and writer. */
#ifndef LF_VHD_FORMAT_H
#define LF_VHD_FORMAT_H

#include <stdint.h>
#include <string.h>

#include "layerfs/bytes.h"

#define VHD_SECTOR 512u
#define VHD_FOOTER_SIZE 512u
#define VHD_DYNHDR_SIZE 1024u
#define VHD_BAT_UNUSED 0xFFFFFFFFu
#define VHD_COOKIE "conectix"
#define VHD_DYN_COOKIE "cxsparse"
#define VHD_NLOCATORS 8
#define VHD_EPOCH 946684800 /* 2000-01-01T00:00:00Z as a Unix time */

/* footer field offsets */
enum {
	VF_COOKIE = 0, VF_FEATURES = 8, VF_VERSION = 12, VF_DATA_OFFSET = 16,
	VF_TIMESTAMP = 24, VF_CREATOR_APP = 28, VF_CREATOR_VER = 32,
	VF_CREATOR_OS = 36, VF_ORIG_SIZE = 40, VF_CUR_SIZE = 48,
	VF_GEOMETRY = 56, VF_DISK_TYPE = 60, VF_CHECKSUM = 64, VF_UUID = 68,
	VF_SAVED_STATE = 84,
};

/* dynamic header field offsets */
enum {
	VD_COOKIE = 0, VD_DATA_OFFSET = 8, VD_TABLE_OFFSET = 16,
	VD_VERSION = 24, VD_MAX_ENTRIES = 28, VD_BLOCK_SIZE = 32,
	VD_CHECKSUM = 36, VD_PARENT_UUID = 40, VD_PARENT_TIME = 56,
	VD_PARENT_NAME = 64, VD_LOCATORS = 576, VD_LOCATOR_SIZE = 24,
};

/* parent locator entry field offsets (relative to the entry) */
enum { VL_CODE = 0, VL_SPACE = 4, VL_LENGTH = 8, VL_OFFSET = 16 };

#define VHD_PLAT_W2RU 0x57327275u /* "W2ru": relative, UTF-16LE */
#define VHD_PLAT_W2KU 0x57326B75u /* "W2ku": absolute, UTF-16LE */
#define VHD_PLAT_MACX 0x4D616358u /* "MacX": file URL, UTF-8 */

/* One's complement of the byte sum, with the checksum field as zero. */
static inline uint32_t vhd_checksum(const uint8_t *buf, size_t len,
				    size_t cksum_off)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < cksum_off || i >= cksum_off + 4)
			sum += buf[i];
	return ~sum;
}

/* Bytes of the sector bitmap in front of each block: one bit a sector,
 * padded to whole sectors. */
static inline uint32_t vhd_bitmap_size(uint32_t block_size)
{
	uint32_t bytes = block_size / VHD_SECTOR / 8;
	return (bytes + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
}

#endif
