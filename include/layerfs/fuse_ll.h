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

/* For a daemon with many mounts: mount and serve from threads of its own
 * (at most max_threads); stop unmounts and waits. The union stays the
 * caller's. */
struct lf_fuse_mount;
int lf_fuse_start(struct lf_union *u, const struct lf_fuse_opts *o, int max_threads,
		  struct lf_fuse_mount **out);
void lf_fuse_stop(struct lf_fuse_mount *m);
/* lf_inval_fn for a mount (ctx: the struct lf_fuse_mount): tell the
 * kernel to forget a node's cached data and listing, or a name. Not from
 * a call the mount is serving. */
void lf_fuse_inval(void *ctx, uint64_t ino, const char *name);

#endif
