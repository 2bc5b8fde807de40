/* The process's counts for monitoring (see metrics.h). */
#include <time.h>

#include "layerfs/metrics.h"

const double lf_histogram_bounds[LF_HIST_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 10,
};

static struct lf_metrics metrics;

struct lf_metrics *lf_metrics(void)
{
	return &metrics;
}

uint64_t lf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *lf_fuse_op_name(enum lf_fuse_op op)
{
	static const char *const names[] = {
#define LF_FUSE_OP_NAME(name) #name,
		LF_FUSE_OPS(LF_FUSE_OP_NAME)
#undef LF_FUSE_OP_NAME
	};
	return (unsigned)op < LF_FUSE_NOPS ? names[op] : "?";
}

void lf_histogram_observe(struct lf_histogram *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;
	while (i < LF_HIST_BUCKETS && s > lf_histogram_bounds[i])
		i++;
	if (i < LF_HIST_BUCKETS)
		h->bucket[i]++;
	h->count++;
	h->sum_ns += ns;
}

void lf_op_timer_end(struct lf_op_timer *t)
{
	lf_histogram_observe(&metrics.fuse[t->op], lf_now_ns() - t->start);
}
