/* Shared by the FUSE glue's read side (fuse_ll.c) and write side
 * (fuse_ll_write.c). */
#ifndef LF_FUSE_LL_INT_H
#define LF_FUSE_LL_INT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include "layerfs/fuse_ll.h"

struct ctx {
	struct lf_union *u;
	double timeout;
	struct fuse_session *se;
};

#define CTX(req) ((struct ctx *)fuse_req_userdata(req))

double fl_attr_timeout(const struct ctx *c, const struct lf_attr *a);
void fl_to_stat(const struct lf_attr *a, struct stat *st);
void fl_fill_entry(struct ctx *c, const struct lf_attr *a, struct fuse_entry_param *e);
/* Who sent the request. */
struct lf_cred fl_cred(fuse_req_t req);
/* Wait (up to 5 s) until the kernel has had every notice a reset sent:
 * `layerctl reset` asks, so what it reset shows at once when it returns. */
void fl_inval_settle(void);
/* Fill in the operations that change the tree. */
void fl_write_ops(struct fuse_lowlevel_ops *ops);

#endif
