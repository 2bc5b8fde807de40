/* The process's own threads (the heap trimmer, a registry layer's
 * fetchers) start only once the program lets them. layerfs and regfs open
 * their layers, then fork to go on in the background; a child has only
 * the forking thread, and inherits every lock another thread held at the
 * fork (ASan's allocator's, a condition variable's waiters): it would
 * wait for them for ever. So the program lets threads start once it will
 * not fork to go on: layerd and layerctl at start, the FUSE glue once it
 * is in the background. Until then the work is done inline, or later. */
#ifndef LAYERFS_BACKGROUND_H
#define LAYERFS_BACKGROUND_H

void lf_background_allow(void);
int lf_background_allowed(void);

#endif
