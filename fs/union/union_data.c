/* Where an open file of the union has data: what copies ask to keep a
 * sparse file's holes holes (publish, capture, pack's staging, compare),
 * never reading them. The layer says (its data op); a merged file, or a
 * layer that cannot tell, is all data. */
#include <errno.h>
#include <stdint.h>

#include "union_int.h"

int lf_union_data(struct lf_union *u, struct lf_ufile *f, uint64_t off, uint64_t *data,
		  uint64_t *hole)
{
	(void)u;
	if (f->merged || !f->layer->ops->data) {
		*data = off;
		*hole = UINT64_MAX;
		return 0;
	}
	return f->layer->ops->data(f->layer, f->fh, off, data, hole);
}

int lf_union_next_data(struct lf_union *u, struct lf_ufile *f, uint64_t *off, uint64_t size,
		       uint64_t *end)
{
	uint64_t data;
	int r = lf_union_data(u, f, *off, &data, end);
	if (r == -ENXIO || (!r && data >= size))
		return 0;
	if (r)
		return r;
	*off = data;
	return 1;
}
