/* WIM images (Microsoft's install.wim/.esd, split .swm sets) in and out,
 * through wimlib's NTFS-3G modes (fs/ntfs/wim.c). */
#ifndef LAYERFS_WIM_H
#define LAYERFS_WIM_H

#include <stdint.h>

#include "layerfs/err.h"
#include "layerfs/pack.h"

struct WIMStruct;

/* One image of a WIM file, open. */
struct lf_wim {
	struct WIMStruct *wim;
	char *path;              /* the file */
	int image;               /* 1-based */
	const char *name;        /* the image's name ("" if none) */
	uint64_t bytes, files, dirs;   /* as the image's XML says */
};

/* Open FILE, FILE:INDEX or FILE:NAME (a file of one image needs neither;
 * a .swm finds its other parts beside it). */
int lf_wim_open(const char *spec, struct lf_wim *out, struct lf_err *err);
void lf_wim_close(struct lf_wim *w);
/* Apply the image onto the NTFS volume file vol_path (made by mkntfs,
 * empty). Phase "apply". */
int lf_wim_apply(struct lf_wim *w, const char *vol_path,
		 void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total),
		 void *ctx, struct lf_err *err);

/* pack --wim: the image applied onto a new NTFS volume, written as OUT
 * in o->format (raw or VHD, as lf_pack writes them); o->size as pack's
 * --size (0: from the image's size). Phases "apply", "write". */
int lf_pack_wim(const char *spec, const char *out, const struct lf_pack_opts *o,
		struct lf_pack_stats *stats, struct lf_err *err);

enum lf_wim_compress { LF_WIM_LZX, LF_WIM_XPRESS, LF_WIM_NONE };

struct lf_wim_capture_opts {
	const char *name;        /* the image's name; NULL: "Windows" */
	const char *description; /* NULL: none */
	enum lf_wim_compress compress;
	void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *progress_ctx;
};

/* The NTFS volume file vol_path captured as the one image of a new WIM,
 * OUT (written beside it, fsynced, renamed). Phase "capture". */
int lf_wim_capture(const char *vol_path, const char *out, const struct lf_wim_capture_opts *o,
		   struct lf_err *err);

/* Does PATH start as a WIM file does ("MSWIM")? */
int lf_is_wim(const char *path);

#endif
