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
/* fn(ctx) gives memory back on its own (a union forgets the names its
 * layers hold for no one): run by the helper thread before each trim,
 * never by two threads at once. 0, or -1 without memory. */
int lf_heap_reclaimer_add(void (*fn)(void *), void *ctx);
/* Not run again once this returns (waits for a run in progress). */
void lf_heap_reclaimer_remove(void (*fn)(void *), void *ctx);
/* For a daemon, at start: one malloc arena for all threads (unless
 * MALLOC_ARENA_MAX says otherwise). glibc gives each thread that
 * allocates its own arena, and a walk's nodes and indexes, made by the
 * FUSE and read-ahead threads and freed by others, leave every arena
 * half used: measured on a 150,000-file walk, 78 MB after it and 19 MB
 * after drop_caches with the default, 69 and 10 MB with one arena, at
 * the same speed (threads mostly allocate from their own tcache). */
void lf_heap_setup(void);
/* Trim now (tests and reports). */
void lf_heap_trim(void);

#endif
