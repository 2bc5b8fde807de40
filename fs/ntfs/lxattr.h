/* Linux owner, mode and device numbers on NTFS, the way WSL stores them:
 * the extended attributes $LXUID, $LXGID, $LXMOD and $LXDEV (one EA_ATTR
 * record each in the file's $EA; values little-endian: uid, gid and the
 * full st_mode as 32 bits, a device as major then minor, 32 bits each).
 * FIFOs, sockets and devices are files with one of WSL's reparse tags.
 * Pack writes them from the source tree; the NTFS backend shows them. */
#ifndef LF_LXATTR_H
#define LF_LXATTR_H

#include <stddef.h>
#include <stdint.h>

#define LX_HAS_UID 1
#define LX_HAS_GID 2
#define LX_HAS_MODE 4
#define LX_HAS_DEV 8

struct lx_meta {
	unsigned has;            /* LX_HAS_* */
	uint32_t uid, gid, mode;
	uint32_t major, minor;
};

/* WSL's reparse tags for special files (MS-FSCC 2.1.2.1). */
#define LX_TAG_AF_UNIX 0x80000023u
#define LX_TAG_FIFO 0x80000024u
#define LX_TAG_CHR 0x80000025u
#define LX_TAG_BLK 0x80000026u

/* The file type a WSL reparse tag stands for (S_IF*), or 0. */
uint32_t lx_tag_type(uint32_t tag);

/* The $EA value (a run of EA_ATTR records) holding what m has; returns
 * its length, or 0 if the buffer is too small (128 bytes always do). */
size_t lx_encode(const struct lx_meta *m, uint8_t *buf, size_t size);
/* The $LX* records found in an $EA value read from disk: anything else,
 * and records that do not hold together, are passed over. Never reads
 * outside buf. */
void lx_decode(const uint8_t *buf, size_t len, struct lx_meta *m);

#endif
