/* Memory handed out in blocks and freed together. Things built in bulk
 * and dropped in bulk (a folder's names, a frozen hive) would otherwise
 * leave the heap too scattered for free() to give pages back. */
#ifndef LAYERFS_ARENA_H
#define LAYERFS_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct lf_arena_block;

struct lf_arena {
	struct lf_arena_block *head;
	uint32_t first, most;    /* block sizes: the first, and the cap of doubling */
};

/* Blocks start at `first` bytes and double up to `most`. */
void lf_arena_init(struct lf_arena *a, uint32_t first, uint32_t most);
/* n bytes, 8-aligned; NULL when out of memory. */
void *lf_arena_alloc(struct lf_arena *a, size_t n);
/* n bytes with no alignment (strings pack tight). */
void *lf_arena_bytes(struct lf_arena *a, size_t n);
void *lf_arena_dup(struct lf_arena *a, const void *p, size_t n);
char *lf_arena_strdup(struct lf_arena *a, const char *s);
void lf_arena_free(struct lf_arena *a);

#endif
