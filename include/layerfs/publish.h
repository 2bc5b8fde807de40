/* Publishing: a stack of layers composed into one disk image that
 * Windows can boot. The union's tree (tokens applied, hives merged, the
 * union's spelling) is written through libntfs-3g into a new NTFS volume
 * keeping what NTFS keeps per file: the descriptor (shared in $Secure),
 * attributes, the four times, streams, reparse data, hard links, 8.3
 * names. Around it, the OS layer's own disk (layout.h): its partition
 * table, ids and other partitions, and its volume's serial number and
 * boot code. Everything is written beside OUT under temporary names,
 * fsynced and renamed into place last. */
#ifndef LAYERFS_PUBLISH_H
#define LAYERFS_PUBLISH_H

#include <stdint.h>

#include "layerfs/err.h"
#include "layerfs/union.h"

enum lf_publish_format {
	LF_PUBLISH_VHD_DYNAMIC, LF_PUBLISH_VHD_FIXED, LF_PUBLISH_VHDX, LF_PUBLISH_RAW,
	LF_PUBLISH_WIM,          /* the volume captured as one WIM image (wimlib) */
};

struct lf_publish_opts {
	enum lf_publish_format format;
	/* The OS layer's disk (its partition table, boot code, serial); NULL
	 * or a folder: a new MBR disk. */
	const char *base;
	const char *const *base_parents;   /* differencing disks' parents */
	int nbase_parents;
	uint64_t size;           /* the Windows volume; 0: what it needs */
	const char *label;       /* NULL: the OS layer's, else "Windows" */
	/* phases "scan", "fill", "write"; may be NULL */
	void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *progress_ctx;
	/* an entry Windows cannot hold (a name it forbids, a folder deeper
	 * than publish goes) is left out and said to skipped (may be NULL);
	 * strict: refused instead */
	int strict;
	void (*skipped)(void *ctx, const char *path, const char *why);
	void *skipped_ctx;
	/* something of an entry not kept, said (may be NULL): an object ID
	 * another file took first */
	void (*note)(void *ctx, const char *path, const char *what);
	void *note_ctx;
	/* LF_PUBLISH_WIM: the image's name and description, its compression
	 * (enum lf_wim_compress, layerfs/wim.h) */
	const char *wim_name, *wim_description;
	int wim_compress;
};

struct lf_publish_stats {
	uint64_t files, dirs, symlinks, hardlinks, streams, reparse, dos_names, hives;
	uint64_t skipped;        /* entries left out (not strict) */
	uint64_t bytes;          /* file contents */
	uint64_t volume_size, disk_size;
	const char *layout;      /* "bare", "mbr" or "gpt" */
	int grown;               /* the Windows partition had to grow */
	uint32_t serial_lo, serial_hi;
};

int lf_publish(struct lf_union *u, const char *out, const struct lf_publish_opts *o,
	       struct lf_publish_stats *stats, struct lf_err *err);

/* Work files an interrupted publish of OUT left (their process gone):
 * removed; how many. */
int lf_publish_clean(const char *out);

#endif
