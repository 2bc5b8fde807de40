/* The process-wide heap trimmer (see heap.h). */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <time.h>

#include "layerfs/heap.h"
#include "layerfs/lockcheck.h"
#include "layerfs/background.h"

#define TRIM_EVERY 8192     /* objects freed that make a trim worth its walk */
#define QUIET_MS 500        /* a burst is over after this long without frees */

static atomic_size_t freed;          /* since the last trim */
static atomic_int started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

/* Held while reclaimers run and while one is added or removed: a removed
 * one is never running after lf_heap_reclaimer_remove returns. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reclaimer {
	void (*fn)(void *);
	void *ctx;
	struct reclaimer *next;
} *reclaimers;

int lf_heap_reclaimer_add(void (*fn)(void *), void *ctx)
{
	struct reclaimer *r = malloc(sizeof *r);
	if (!r)
		return -1;
	lf_mutex_lock(&reg_lock, LF_LK_RECLAIM);
	*r = (struct reclaimer){ fn, ctx, reclaimers };
	reclaimers = r;
	lf_mutex_unlock(&reg_lock);
	return 0;
}

void lf_heap_reclaimer_remove(void (*fn)(void *), void *ctx)
{
	lf_mutex_lock(&reg_lock, LF_LK_RECLAIM);
	for (struct reclaimer **p = &reclaimers; *p; p = &(*p)->next)
		if ((*p)->fn == fn && (*p)->ctx == ctx) {
			struct reclaimer *r = *p;
			*p = r->next;
			free(r);
			break;
		}
	lf_mutex_unlock(&reg_lock);
}

static void run_reclaimers(void)
{
	lf_mutex_lock(&reg_lock, LF_LK_RECLAIM);
	for (struct reclaimer *r = reclaimers; r; r = r->next)
		r->fn(r->ctx);
	lf_mutex_unlock(&reg_lock);
}

void lf_heap_setup(void)
{
#ifdef __GLIBC__
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 1);
#endif
}

void lf_heap_trim(void)
{
	atomic_store_explicit(&freed, 0, memory_order_relaxed);
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void *trimmer(void *arg)
{
	(void)arg;
	lf_mutex_lock(&lock, LF_LK_HEAP_WAKE);
	for (;;) {
		while (atomic_load_explicit(&freed, memory_order_relaxed) == 0)
			pthread_cond_wait(&wake, &lock);
		/* wait for the burst to end (or to be big enough) */
		size_t seen;
		do {
			seen = atomic_load_explicit(&freed, memory_order_relaxed);
			if (seen >= TRIM_EVERY)
				break;
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += QUIET_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&wake, &lock, &until);
		} while (atomic_load_explicit(&freed, memory_order_relaxed) != seen);
		lf_mutex_unlock(&lock);
		run_reclaimers();
		lf_heap_trim();
		lf_mutex_lock(&lock, LF_LK_HEAP_WAKE);
	}
	return NULL;
}

static void start(void)
{
	pthread_attr_t a;
	pthread_t t;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	if (pthread_create(&t, &a, trimmer, NULL) != 0)
		atomic_store(&started, 0);    /* try again on the next free */
	pthread_attr_destroy(&a);
}

void lf_heap_freed(size_t n)
{
	size_t before = atomic_fetch_add_explicit(&freed, n, memory_order_relaxed);
	int now = before == 0 || (before < TRIM_EVERY && before + n >= TRIM_EVERY);
	if (!atomic_load(&started)) {
		/* counted; the trimmer starts once threads may (background.h:
		 * regfs frees nodes as it opens, then forks) */
		if (!lf_background_allowed())
			return;
		now = 1;
	}
	if (now) {
		if (!atomic_exchange(&started, 1))
			start();
		/* under the lock: the trimmer cannot be between its test and
		 * its wait, where a signal would be lost */
		lf_mutex_lock(&lock, LF_LK_HEAP_WAKE);
		pthread_cond_signal(&wake);
		lf_mutex_unlock(&lock);
	}
}
