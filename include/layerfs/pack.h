/* Packing a host directory into a layer: an NTFS volume (made by mkntfs,
 * filled through libntfs-3g) as a raw image or inside a VHD. */
#ifndef LAYERFS_PACK_H
#define LAYERFS_PACK_H

#include <stdint.h>

#include "layerfs/err.h"

/* VHDX is written by qemu-img convert (qemu-utils), as publish writes it */
enum lf_pack_format { LF_PACK_VHD_DYNAMIC, LF_PACK_VHD_FIXED, LF_PACK_RAW, LF_PACK_VHDX };

struct lf_pack_opts {
	enum lf_pack_format format;
	uint64_t size;           /* volume size; 0 = computed from the tree */
	const char *label;       /* volume label; NULL = "layer" */
	int no_lx;               /* leave out the Linux owner and mode ($LX* EAs) */
	/* phase is "scan", "fill" or "write"; may be NULL */
	void (*progress)(void *ctx, const char *phase, uint64_t done,
			 uint64_t total);
	void *progress_ctx;
	/* what is left out of one entry and why (an object ID another has);
	 * path is the entry's, "/"-separated; may be NULL */
	void (*note)(void *ctx, const char *path, const char *what);
	void *note_ctx;
};

struct lf_pack_stats {
	uint64_t files, dirs, symlinks, hardlinks, special;
	uint64_t dos_names;      /* 8.3 names given, as Windows gives them */
	uint64_t bytes;          /* file contents */
	uint64_t volume_size;
	uint64_t disk_size;
};

int lf_pack(const char *src_dir, const char *out, const struct lf_pack_opts *o,
	    struct lf_pack_stats *stats, struct lf_err *err);

/* A new revision of the layer disk PREV (a VHD, as pack and capture make
 * them), written to OUT as a differencing VHD whose parent is PREV: PREV's
 * volume is copied and made to hold exactly what src_dir holds (names it
 * lacks deleted, files of the same bytes left where they lie with their
 * descriptor, attributes and times set anew, the rest made as lf_pack
 * makes it), so only the sectors that differ are stored. ENOSPC when
 * PREV's volume has no room (make the revision whole then). Phases:
 * "copy", "fill", "write". */
int lf_pack_revision(const char *src_dir, const char *prev, const char *out,
		     const struct lf_pack_opts *o, struct lf_pack_stats *stats,
		     struct lf_err *err);

/* The volume size lf_pack picks for a tree of this shape. */
uint64_t lf_pack_size_for(uint64_t entries, uint64_t bytes_in_clusters);

#endif
