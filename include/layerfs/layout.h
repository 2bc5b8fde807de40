/* The disk around a published Windows volume: the OS layer's own disk
 * (partition table, disk ids, the EFI, MSR and recovery partitions byte
 * for byte) with only the Windows partition's contents replaced, or, for
 * an OS layer without a partition table, a new MBR disk with the volume
 * at 1 MiB as Windows lays one out. */
#ifndef LAYERFS_LAYOUT_H
#define LAYERFS_LAYOUT_H

#include <stdint.h>

#include "layerfs/err.h"
#include "layerfs/source.h"

struct lf_layout;

/* base: the OS layer's disk and where its NTFS volume lies (NULL, or a
 * bare volume: a new MBR disk). vol_len: the new volume's size; larger
 * than the partition grows the partition and the disk, refused (EFBIG,
 * saying why) when another partition follows it. */
int lf_layout_new(struct lf_source *base, const struct lf_volume_extent *ext, uint64_t vol_len,
		  struct lf_layout **out, struct lf_err *err);
void lf_layout_free(struct lf_layout *l);
/* Where the volume starts on the disk, and the disk's size. */
uint64_t lf_layout_volume_offset(const struct lf_layout *l);
uint64_t lf_layout_disk_size(const struct lf_layout *l);
/* "mbr" or "gpt", and whether the partition had to grow. */
const char *lf_layout_scheme(const struct lf_layout *l);
int lf_layout_grown(const struct lf_layout *l);
/* Make the disk size bytes (no smaller than it is: a VHD's whole
 * geometry); a GPT's backup moves to the new end. */
int lf_layout_set_disk_size(struct lf_layout *l, uint64_t size, struct lf_err *err);
/* The volume's bytes: read from fd (beyond its end: zeros). */
void lf_layout_set_volume(struct lf_layout *l, int fd);
/* The disk's bytes (an lf_vhd_read_fn): 0 or -errno. */
int lf_layout_read(void *layout, void *buf, size_t len, uint64_t off);

#endif
