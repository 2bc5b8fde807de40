/* Arrays that grow by doubling: the one way the code base makes room for
 * one more element. */
#ifndef LAYERFS_GROW_H
#define LAYERFS_GROW_H

#include <stddef.h>

/* Room for element n of the array *array (array: the address of the
 * array's pointer) of *cap elements of elem bytes: when n == *cap it is
 * reallocated to twice as many (first, when empty). 0, or -ENOMEM (the
 * array as it was). */
int lf_grow(void *array, size_t *cap, size_t n, size_t elem, size_t first);

#endif
