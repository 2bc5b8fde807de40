/* Internals shared by the block-source formats. */
#ifndef LF_SOURCE_INT_H
#define LF_SOURCE_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "layerfs/source.h"
#include "layerfs/utf16.h"


/* A parent named in a child disk, as written by Windows or by us: a
 * relative or absolute Windows path (backslashes) or a host path. The
 * candidate host paths to try, in order: relative to the child's folder,
 * then as absolute, then the bare file name in the child's folder. Fills
 * up to max malloc'd strings; returns how many. */
int lf_parent_candidates(const char *child_path, const char *named,
			 char **out, int max);

/* Initialise the common part of a source. */
int lf_source_init(struct lf_source *s, const struct lf_source_ops *ops,
		   enum lf_source_kind kind, const char *path, uint64_t size);
void lf_source_fini(struct lf_source *s);

#endif
