/* Folder indexes built ahead of use by background threads. */
#ifndef LF_UNION_PREFETCH_H
#define LF_UNION_PREFETCH_H

#include "union_int.h"

struct prefetch;

/* ino_of gives a subfolder entry's node number. */
struct prefetch *prefetch_start(struct lf_union *u,
				uint64_t (*ino_of)(const struct uentry *));
void prefetch_stop(struct prefetch *p);
/* Queue the folders below d, which is now in use. */
void prefetch_children(struct prefetch *p, const struct udir *d);
/* Read the data of d's small files ahead, in the background: asked when
 * a file of the folder is opened, as a copy or an archiver reads them all. */
void prefetch_data(struct prefetch *p, struct udir *d);
/* The index built ahead for node ino (waiting if it is being built), or
 * NULL if none was asked for. */
struct udir *prefetch_take(struct prefetch *p, uint64_t ino);

#endif
