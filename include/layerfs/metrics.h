/* Process-wide counts for monitoring (layerd's /metrics): FUSE requests
 * and their latency per operation, copy-ups, hive saves, read-ahead,
 * logins. Atomics only, no lock: a count is bumped on every request. */
#ifndef LAYERFS_METRICS_H
#define LAYERFS_METRICS_H

#include <stdint.h>

/* The FUSE operations counted, by name (X-macro: the enum and the names
 * come from one list). */
#define LF_FUSE_OPS(X) \
	X(lookup) X(forget) X(getattr) X(setattr) X(readlink) X(mknod) X(mkdir) \
	X(unlink) X(rmdir) X(symlink) X(rename) X(link) X(open) X(read) X(write) \
	X(flush) X(release) X(fsync) X(opendir) X(readdir) X(readdirplus) \
	X(releasedir) X(fsyncdir) X(statfs) X(setxattr) X(getxattr) X(listxattr) \
	X(removexattr) X(access) X(create) X(ioctl) X(fallocate) X(copy_file_range) \
	X(lseek) X(tmpfile)

enum lf_fuse_op {
#define LF_FUSE_OP_ENUM(name) LF_FUSE_##name,
	LF_FUSE_OPS(LF_FUSE_OP_ENUM)
#undef LF_FUSE_OP_ENUM
	LF_FUSE_NOPS
};
const char *lf_fuse_op_name(enum lf_fuse_op op);

/* A histogram of durations, Prometheus-style: bucket i counts those at
 * most lf_histogram_bounds[i] seconds (cumulative when written out). */
#define LF_HIST_BUCKETS 12
extern const double lf_histogram_bounds[LF_HIST_BUCKETS];
struct lf_histogram {
	_Atomic uint64_t bucket[LF_HIST_BUCKETS];   /* not cumulative */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ns;
};
void lf_histogram_observe(struct lf_histogram *h, uint64_t ns);

struct lf_metrics {
	struct lf_histogram fuse[LF_FUSE_NOPS];
	_Atomic uint64_t copyups, copyup_bytes;
	_Atomic uint64_t hive_saves, hive_save_failures;
	_Atomic uint64_t readahead_hits, readahead_misses;
	_Atomic uint64_t logins, login_failures;
	struct lf_histogram login;
};
/* The process's counts. */
struct lf_metrics *lf_metrics(void);
uint64_t lf_now_ns(void);

/* One FUSE request, timed from its op's start to its end: in an op,
 * LF_FUSE_TIMED(read); records when the op returns (the ops reply before
 * they return). */
struct lf_op_timer {
	enum lf_fuse_op op;
	uint64_t start;
};
void lf_op_timer_end(struct lf_op_timer *t);
#define LF_FUSE_TIMED(name) \
	struct lf_op_timer lf_op_timer_ __attribute__((cleanup(lf_op_timer_end), unused)) = \
		{ LF_FUSE_##name, lf_now_ns() }

#endif
