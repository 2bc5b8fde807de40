/* The lock-order checker (include/layerfs/lockcheck.h): each thread keeps
 * the locks it holds, with their class and where they were taken; a wait
 * for a lock that breaks the order aborts with both places. Only built
 * with -Dlockcheck=true. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/lockcheck.h"

#ifdef LF_LOCKCHECK

static const char *const class_name[LF_LK_NCLASSES] = {
	[LF_LK_DAEMON] = "layerd sessions",
	[LF_LK_SESSION] = "layerd session (refresh, logoff)",
	[LF_LK_RECLAIM] = "heap reclaimers",
	[LF_LK_UNION_CFG] = "union layer set (cfg)",
	[LF_LK_UNION_WRITE] = "union write lock",
	[LF_LK_LAYER_CACHE] = "layerd layer cache",
	[LF_LK_NODE] = "union node",
	[LF_LK_NODE_CHILD] = "union node (child under its parent)",
	[LF_LK_PREFETCH] = "read-ahead queues",
	[LF_LK_UNION_MAPS] = "union alias/link/merged tables",
	[LF_LK_REG_FILE] = "regfs open value file",
	[LF_LK_REG_SAVE] = "regfs change and its save",
	[LF_LK_REG_VIEW] = "regfs view",
	[LF_LK_HIVE_CACHE] = "hive cache",
	[LF_LK_WOF] = "Compact OS file decoder",
	[LF_LK_LAYER] = "a layer's own lock",
	[LF_LK_OCI] = "registry clients' or chunk cache's table",
	[LF_LK_LEAF] = "leaf lock",
	[LF_LK_HEAP_WAKE] = "heap trimmer wake-up",
};

#define MAX_HELD 32

struct held {
	const void *lock;
	enum lf_lock_class c;
	const char *where;
};

static _Thread_local struct held held[MAX_HELD];
static _Thread_local int nheld;

/* A daemon's stderr is /dev/null once it detaches: the report also goes
 * to the file LF_LOCKCHECK_LOG names (the tests read it), appended. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fputs(line, stderr);
	const char *log = getenv("LF_LOCKCHECK_LOG");
	int fd = log && *log ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		if (write(fd, line, strlen(line)) < 0) {
			/* stderr had it too */
		}
		close(fd);
	}
}

static void dump_held(void)
{
	for (int i = 0; i < nheld; i++)
		say("lockcheck:   held: %s %p, taken at %s\n", class_name[held[i].c],
		    held[i].lock, held[i].where);
}

static void __attribute__((noreturn)) fail(const char *what, const void *l, enum lf_lock_class c,
					   const char *where, const struct held *h)
{
	say("lockcheck: %s: taking %s %p at %s while holding %s %p taken at %s (pid %d)\n",
	    what, class_name[c], l, where, class_name[h->c], h->lock, h->where, (int)getpid());
	dump_held();
	abort();
}

void lf_lk_check(const void *l, enum lf_lock_class c, const char *where)
{
	for (int i = 0; i < nheld; i++) {
		if (held[i].lock == l)
			fail("the same lock twice", l, c, where, &held[i]);
		if (held[i].c >= c)
			fail("lock order", l, c, where, &held[i]);
	}
}

void lf_lk_held(const void *l, enum lf_lock_class c, const char *where)
{
	if (nheld == MAX_HELD) {
		say("lockcheck: more than %d locks held at %s\n", MAX_HELD, where);
		dump_held();
		abort();
	}
	held[nheld++] = (struct held){ l, c, where };
}

void lf_lk_drop(const void *l, const char *where)
{
	for (int i = nheld - 1; i >= 0; i--)
		if (held[i].lock == l) {
			memmove(&held[i], &held[i + 1], (size_t)(nheld - i - 1) * sizeof *held);
			nheld--;
			return;
		}
	say("lockcheck: letting go of %p at %s, which this thread does not hold\n", l, where);
	dump_held();
	abort();
}

int lf_lk_depth(void)
{
	return nheld;
}

#else
/* ISO C wants something in a translation unit. */
typedef int lf_lockcheck_off;
#endif
