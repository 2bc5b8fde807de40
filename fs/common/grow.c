/* Arrays that grow by doubling (layerfs/grow.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/grow.h"

int lf_grow(void *array, size_t *cap, size_t n, size_t elem, size_t first)
{
	if (n < *cap)
		return 0;
	size_t want = *cap ? *cap * 2 : first;
	if (want < n + 1)
		want = n + 1;
	if (want > SIZE_MAX / elem)
		return -ENOMEM;
	/* the pointer is copied, not read through a void **: it is a
	 * pointer to some other type */
	void *old;
	memcpy(&old, array, sizeof old);
	void *v = realloc(old, want * elem);
	if (!v)
		return -ENOMEM;
	memcpy(array, &v, sizeof v);
	*cap = want;
	return 0;
}
