/* Blocks freed together (see arena.h). */
#include <stdlib.h>
#include <string.h>

#include "layerfs/arena.h"

struct lf_arena_block {
	struct lf_arena_block *next;
	size_t used, cap;
	_Alignas(8) char data[];
};

void lf_arena_init(struct lf_arena *a, uint32_t first, uint32_t most)
{
	a->head = NULL;
	a->first = first;
	a->most = most < first ? first : most;
}

void *lf_arena_bytes(struct lf_arena *a, size_t n)
{
	struct lf_arena_block *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = b ? b->cap * 2 : a->first;
		if (cap > a->most)
			cap = a->most;
		if (cap < n)
			cap = n;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		*b = (struct lf_arena_block){ a->head, 0, cap };
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

void *lf_arena_alloc(struct lf_arena *a, size_t n)
{
	struct lf_arena_block *b = a->head;
	if (b) {
		size_t u = (b->used + 7) & ~(size_t)7;
		b->used = u < b->cap ? u : b->cap;
	}
	return lf_arena_bytes(a, (n + 7) & ~(size_t)7);
}

void *lf_arena_dup(struct lf_arena *a, const void *p, size_t n)
{
	void *c = lf_arena_bytes(a, n);
	if (c && n)
		memcpy(c, p, n);
	return c;
}

char *lf_arena_strdup(struct lf_arena *a, const char *s)
{
	return lf_arena_dup(a, s, strlen(s) + 1);
}

void lf_arena_free(struct lf_arena *a)
{
	for (struct lf_arena_block *b = a->head, *n; b; b = n) {
		n = b->next;
		free(b);
	}
	a->head = NULL;
}
