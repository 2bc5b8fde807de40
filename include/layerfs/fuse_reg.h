/* regfs's FUSE glue around the registry view. */
#ifndef LF_FUSE_REG_H
#define LF_FUSE_REG_H

#include "layerfs/regview.h"

struct lf_regfs_opts {
	const char *mountpoint;
	int foreground;
	int single_thread;
	int debug;
	const char *fuse_opts;   /* "-o" options for libfuse (comma list) */
};

/* Mount, go to the background once the mount is live (unless
 * foreground), serve until unmounted or signalled; an exit status. */
int lf_regfs_run(struct lf_regview *v, const struct lf_regfs_opts *o);

/* For a daemon with many mounts: mount and serve from threads of its own;
 * stop unmounts and waits. The view stays the caller's. */
struct lf_regfs_mount;
int lf_regfs_start(struct lf_regview *v, const struct lf_regfs_opts *o, int max_threads,
		   struct lf_regfs_mount **out);
void lf_regfs_stop(struct lf_regfs_mount *m);

#endif
