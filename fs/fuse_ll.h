/* The FUSE low-level glue around the union engine. */
#ifndef LF_FUSE_LL_H
#define LF_FUSE_LL_H

#include "layerfs/union.h"

struct lf_fuse_opts {
	const char *mountpoint;
	int foreground;
	int single_thread;
	int debug;
	double timeout;          /* entry and attribute timeout, seconds */
	const char *fuse_opts;   /* "-o" options for libfuse (comma list) */
};

/* Mount, go to the background once the mount is live (unless
 * foreground), serve until unmounted or signalled; returns an exit
 * status. */
int lf_fuse_run(struct lf_union *u, const struct lf_fuse_opts *o);

#endif
