/* Internals of the union's write side: union_write.c, union_copyup.c,
 * union_reset.c. Every function here runs under u->wlock. */
#ifndef LF_UNION_WRITE_INT_H
#define LF_UNION_WRITE_INT_H

#include "union_int.h"

/* Copy node n and the folders above it into the writable layer, unless
 * there; nodata: a file's bytes are not wanted (it is being truncated). */
int union_copy_up(struct lf_union *u, struct unode *n, int nodata);
/* A fresh name for a temporary in the work folder. */
int union_tmp_name(struct lf_union *u, char *buf, size_t size);
/* Point folder p's entry NAME (the one numbered ino) at new refs. */
void union_dir_update(struct lf_union *u, struct unode *p, const char *name, uint64_t ino,
		      const struct lref *refs, int nrefs);

#endif
