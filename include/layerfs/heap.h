/* Giving freed heap back to the system. glibc keeps what free() returns
 * inside its arenas (one per thread that allocated); after the kernel
 * forgets a walk's nodes the daemon would stay at its largest size. */
#ifndef LAYERFS_HEAP_H
#define LAYERFS_HEAP_H

#include <stddef.h>

/* n objects were freed. A process-wide helper thread trims the heap once
 * enough was freed, and again when the freeing stops for a moment, so
 * the last of a burst is given back too. Cheap: one atomic add. */
void lf_heap_freed(size_t n);
/* Trim now (tests and reports). */
void lf_heap_trim(void);

#endif
