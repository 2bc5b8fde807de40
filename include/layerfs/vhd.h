/* VHD v1 (Virtual PC / Hyper-V) writer. The reader is a block source
 * (source.h). */
#ifndef LAYERFS_VHD_H
#define LAYERFS_VHD_H

#include <stdint.h>

#include "layerfs/err.h"
#include "layerfs/source.h"

enum lf_vhd_type { LF_VHD_FIXED = 2, LF_VHD_DYNAMIC = 3, LF_VHD_DIFF = 4 };

/* Supplies the disk's contents to the writer: read len bytes at off. */
typedef int (*lf_vhd_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

struct lf_vhd_write_opts {
	enum lf_vhd_type type;
	uint64_t size;           /* disk size; rounded up to whole CHS geometry */
	uint32_t block_size;     /* dynamic/diff; 0 = 2 MiB */
	/* LF_VHD_DIFF: the parent, whose contents are compared with the new
	 * contents; only sectors that differ are stored. */
	const char *parent_path;
	/* Report progress (bytes done of total); may be NULL. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

/* Write OUT as a VHD whose contents come from read(ctx, ...). For dynamic
 * disks, blocks that are all zero are not stored. The file is written to a
 * temporary name and renamed into place only when complete. */
int lf_vhd_write(const char *out, const struct lf_vhd_write_opts *opts,
		 lf_vhd_read_fn read, void *ctx, struct lf_err *err);

/* The size a disk of at least `size` bytes gets (whole CHS geometry). */
uint64_t lf_vhd_round_size(uint64_t size);

#endif
