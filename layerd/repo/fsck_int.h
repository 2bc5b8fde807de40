/* Internals of the repository check shared by its files. */
#ifndef LF_FSCK_INT_H
#define LF_FSCK_INT_H

#include "layerfs/fsck.h"
#include "layerfs/repo.h"

struct fsck {
	const struct lf_fsck_opts *o;
	struct lf_repo *r;
	int errors, fixed;
	int users;               /* personalization folders seen (progress) */
	unsigned char *opens;    /* by place in r->layers: its file opened as a layer */
	unsigned char *mine;     /* --user: by place in r->layers, in her stack */
};

/* The severity argument of fsck_report: an error, a warning (exit status
 * unchanged), or space to reclaim. */
enum { FSCK_RECLAIM = 0, FSCK_ERROR = 1, FSCK_WARNING = 2 };

void fsck_report(struct fsck *c, enum lf_fsck_class cls, int severity, int fixed, uint64_t bytes,
		 const char *path, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* The personalization layers under Users/ (or --user's alone). */
void fsck_personal(struct fsck *c);

#endif
