/* Building folder indexes ahead of use. When a folder's index is first
 * used, the indexes of the folders up to AHEAD levels below it are built
 * by a few background threads (and their entries' attributes read once),
 * newest request first, so a depth-first walk of a cold tree overlaps its
 * disk reads instead of waiting for each in turn. A
 * result waits, keyed by the subfolder's node number, until the subfolder
 * is used; a caller that arrives while it is being built waits for it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "layerfs/heap.h"
#include "union_prefetch.h"
#include "layerfs/lockcheck.h"
#include "layerfs/metrics.h"

#define WORKERS 4
#define AHEAD 2          /* levels below a folder in use */
#define MAX_PENDING 4096
#define SMALL_FILE (256u * 1024)
#define DATA_AHEAD 16     /* folders whose data is read ahead at a time */
#define STALE 20          /* seconds a built index waits for its folder */

struct job {
	uint64_t ino;            /* 0: read ahead the data of small files */
	int depth;               /* levels below the folder in use */
	int cancelled;           /* its folder was built by the caller instead */
	int nrefs;
	struct lref *refs;
	struct job *next;
};

/* A folder built ahead, or being built: in a hash by node number and in
 * a list by age (newest first), so a lookup and an eviction cost the same
 * however many wait. */
struct ready {
	uint64_t ino;
	int done;
	time_t built;                 /* CLOCK_MONOTONIC seconds, once done */
	struct udir *dir;
	struct job *job;              /* queued, not started: NULL once it is */
	struct ready *hnext;          /* same hash bucket */
	struct ready *newer, *older;  /* age list */
};

#define RBUCKETS 8192             /* power of two, >= MAX_PENDING */

/* Everything under lock (PREFETCH, rank 8) but u and ino_of, fixed at
 * prefetch_new; a job and a ready entry belong to whoever unlinked them
 * from these lists. */
struct prefetch {
	struct lf_union *u;      /* fixed */
	pthread_mutex_t lock;
	pthread_cond_t work, finished;   /* waited on with lock */
	struct job *head;        /* lock: newest first */
	struct ready *buckets[RBUCKETS]; /* lock */
	struct ready *newest, *oldest;   /* lock */
	int count, stop;         /* lock */
	int with_data;           /* lock: files are being read, read data ahead too */
	uint64_t (*ino_of)(const struct uentry *); /* fixed: a subfolder's node number */
	pthread_t threads[WORKERS];      /* lock to add; joined once stop is set */
	int nthreads;            /* lock to add; read by prefetch_stop after stop */
};

static struct ready **bucket_of(struct prefetch *p, uint64_t ino)
{
	return &p->buckets[(ino * 0x9E3779B97F4A7C15ull >> 32) & (RBUCKETS - 1)];
}

static struct ready *find_ready(struct prefetch *p, uint64_t ino)
{
	struct ready *r = *bucket_of(p, ino);
	while (r && r->ino != ino)
		r = r->hnext;
	return r;
}

static struct ready *add_ready(struct prefetch *p, uint64_t ino)
{
	struct ready *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->ino = ino;
	struct ready **b = bucket_of(p, ino);
	r->hnext = *b;
	*b = r;
	r->older = p->newest;
	if (p->newest)
		p->newest->newer = r;
	else
		p->oldest = r;
	p->newest = r;
	p->count++;
	return r;
}

/* Unlink r from both lists and free it; its folder index is the caller's. */
static void drop_ready(struct prefetch *p, struct ready *r)
{
	struct ready **b = bucket_of(p, r->ino);
	while (*b != r)
		b = &(*b)->hnext;
	*b = r->hnext;
	if (r->newer)
		r->newer->older = r->older;
	else
		p->newest = r->older;
	if (r->older)
		r->older->newer = r->newer;
	else
		p->oldest = r->newer;
	p->count--;
	free(r);
}

static void queue_children(struct prefetch *p, const struct udir *d, int depth);

/* Read a node's attributes (the caches warm) and, if asked and it is a
 * small file, start reading its data into the page cache. */
static void warm(struct lf_union *u, const struct lref *r, int data)
{
	struct lf_layer *l = union_layer(u, r->layer);
	struct lf_attr a;
	if (l->ops->getattr(l, r->ino, &a) == 0 && data && l->ops->willneed &&
	    S_ISREG(a.mode) && a.size <= SMALL_FILE)
		l->ops->willneed(l, r->ino);
}

static void read_ahead(struct lf_union *u, const struct lref *refs, int n)
{
	for (int i = 0; i < n; i++)
		warm(u, &refs[i], 1);
}

static void job_free(struct job *j)
{
	free(j->refs);
	free(j);
}

static time_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Results nobody came for within STALE seconds go: the walk that wanted
 * them is over (or went elsewhere), and an idle daemon should hold no
 * more than the kernel does. Caller holds lock. */
static void expire(struct prefetch *p)
{
	time_t now = mono_now();
	for (struct ready *r = p->oldest, *newer; r; r = newer) {
		newer = r->newer;
		if (r->done && now - r->built >= STALE) {
			if (r->dir)
				lf_heap_freed(r->dir->n);   /* a walk's leftovers: worth a trim */
			udir_free(r->dir);
			drop_ready(p, r);
		}
	}
}

static void *worker(void *arg)
{
	struct prefetch *p = arg;
	lf_mutex_lock(&p->lock, LF_LK_PREFETCH);
	for (;;) {
		while (!p->head && !p->stop) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += STALE / 2;
			if (pthread_cond_timedwait(&p->work, &p->lock, &until) == ETIMEDOUT)
				expire(p);
		}
		if (p->stop)
			break;
		struct job *j = p->head;
		p->head = j->next;
		if (j->cancelled) {
			job_free(j);
			continue;
		}
		struct ready *r = j->ino ? find_ready(p, j->ino) : NULL;
		if (r)
			r->job = NULL;   /* started: a caller now waits for it */
		lf_mutex_unlock(&p->lock);

		if (!j->ino) {
			read_ahead(p->u, j->refs, j->nrefs);
			job_free(j);
			lf_mutex_lock(&p->lock, LF_LK_PREFETCH);
			continue;
		}
		struct udir *d = NULL;
		if (udir_build(p->u, j->refs, j->nrefs, &d) == 0) {
			/* read each entry's attributes once: the caches warm; and
			 * once files are being read, their data too */
			lf_mutex_lock(&p->lock, LF_LK_PREFETCH);
			int data = p->with_data;
			lf_mutex_unlock(&p->lock);
			for (size_t i = 0; i < d->n; i++)
				warm(p->u, &d->v[i].refs[0], data);
		}
		lf_mutex_lock(&p->lock, LF_LK_PREFETCH);
		/* r is still there: only finished entries are evicted or taken
		 * by anyone but their waiter */
		r = find_ready(p, j->ino);
		if (r) {
			r->dir = d;
			r->done = 1;
			r->built = mono_now();
			if (d && j->depth < AHEAD)
				queue_children(p, d, j->depth + 1);
		} else {
			udir_free(d);
		}
		pthread_cond_broadcast(&p->finished);
		job_free(j);
	}
	lf_mutex_unlock(&p->lock);
	return NULL;
}

struct prefetch *prefetch_start(struct lf_union *u,
				uint64_t (*ino_of)(const struct uentry *))
{
	struct prefetch *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->u = u;
	p->ino_of = ino_of;
	pthread_mutex_init(&p->lock, NULL);
	/* the idle wait is timed on the monotonic clock */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&p->finished, NULL);
	return p;
}

void prefetch_stop(struct prefetch *p)
{
	if (!p)
		return;
	lf_mutex_lock(&p->lock, LF_LK_PREFETCH);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	lf_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (struct job *j = p->head, *n; j; j = n) {
		n = j->next;
		job_free(j);
	}
	while (p->newest) {
		udir_free(p->newest->dir);
		drop_ready(p, p->newest);
	}
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->finished);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Threads start with the first work, not before: a daemon forks after the
 * union is open, and threads do not survive a fork. Caller holds lock. */
static int start_threads(struct prefetch *p)
{
	while (p->nthreads < WORKERS &&
	       pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0)
		p->nthreads++;
	return p->nthreads;
}

/* Newest first: a walk goes depth first, so what was asked last is what
 * it needs next. */
static void enqueue(struct prefetch *p, struct job *j)
{
	j->next = p->head;
	p->head = j;
}

/* Drop finished results nobody came for, oldest first, down to half.
 * Never `keep`: the caller is reading that index. */
static void evict(struct prefetch *p, const struct udir *keep)
{
	for (struct ready *r = p->oldest, *newer; r && p->count > MAX_PENDING / 2; r = newer) {
		newer = r->newer;
		if (r->done && r->dir != keep) {
			udir_free(r->dir);
			drop_ready(p, r);
		}
	}
}

void prefetch_children(struct prefetch *p, const struct udir *d)
{
	if (!p)
		return;
	lf_mutex_lock(&p->lock, LF_LK_PREFETCH);
	if (start_threads(p))
		queue_children(p, d, 1);
	/* else no threads: every folder is built when used */
	lf_mutex_unlock(&p->lock);
}

/* A live subfolder not built or asked for yet. Caller holds lock. */
static int wanted(struct prefetch *p, const struct uentry *e)
{
	return S_ISDIR(e->type) && !e->gone && !find_ready(p, p->ino_of(e));
}

/* Caller holds lock. d may be an index the ready list owns: evict spares it. */
static void queue_children(struct prefetch *p, const struct udir *d, int depth)
{
	if (p->count >= MAX_PENDING)
		evict(p, d);
	/* A walk takes the entries in order: when not all fit, the first
	 * ones are queued, the first of them last (newest runs first). */
	size_t end = 0;
	for (int room = MAX_PENDING - p->count; end < d->n && room > 0; end++)
		room -= wanted(p, &d->v[end]);
	for (size_t k = end; k-- > 0;) {
		const struct uentry *e = &d->v[k];
		if (!wanted(p, e))
			continue;
		uint64_t ino = p->ino_of(e);
		struct job *j = malloc(sizeof *j);
		struct lref *refs = malloc(e->nrefs * sizeof *refs);
		struct ready *r = j && refs ? add_ready(p, ino) : NULL;
		if (!r) {
			free(j);
			free(refs);
			break;
		}
		memcpy(refs, e->refs, e->nrefs * sizeof *refs);
		*j = (struct job){ ino, depth, 0, e->nrefs, refs, NULL };
		r->job = j;
		enqueue(p, j);
	}
	pthread_cond_broadcast(&p->work);
}

struct udir *prefetch_take(struct prefetch *p, uint64_t ino)
{
	if (!p)
		return NULL;
	lf_mutex_lock(&p->lock, LF_LK_PREFETCH);
	struct udir *d = NULL;
	for (;;) {
		struct ready *r = find_ready(p, ino);
		if (!r)
			break;
		if (r->job) {
			/* Not started yet: the caller builds it now rather than wait. */
			r->job->cancelled = 1;
			drop_ready(p, r);
			break;
		}
		if (r->done) {
			d = r->dir;
			drop_ready(p, r);
			break;
		}
		pthread_cond_wait(&p->finished, &p->lock);
	}
	lf_mutex_unlock(&p->lock);
	if (d)
		lf_metrics()->readahead_hits++;
	else
		lf_metrics()->readahead_misses++;
	return d;
}

/* A data job for the small files of d; NULL if nothing to read. */
static struct job *data_job(const struct udir *d)
{
	struct job *j = malloc(sizeof *j);
	struct lref *refs = d->n ? malloc(d->n * sizeof *refs) : NULL;
	if (!j || !refs) {
		free(j);
		free(refs);
		return NULL;
	}
	int n = 0;
	for (size_t i = 0; i < d->n; i++)
		if (S_ISREG(d->v[i].type) && !d->v[i].gone)
			refs[n++] = d->v[i].refs[0];
	*j = (struct job){ 0, 0, 0, n, refs, NULL };
	return j;
}

void prefetch_data(struct prefetch *p, struct udir *d)
{
	if (!p)
		return;
	struct job *j = data_job(d);
	lf_mutex_lock(&p->lock, LF_LK_PREFETCH);
	p->with_data = 1;
	if (start_threads(p)) {
		/* The folders built ahead but not yet used are where a reader
		 * goes next (the newest first): their data too, a few at a time. */
		int k = 0;
		for (struct ready *r = p->newest; r && k < DATA_AHEAD; r = r->older) {
			if (!r->done || !r->dir || r->dir->data_asked)
				continue;
			struct job *more = data_job(r->dir);
			if (!more)
				break;
			r->dir->data_asked = 1;
			enqueue(p, more);
			k++;
		}
		if (j)
			enqueue(p, j);  /* newest first: this folder's own data leads */
		j = NULL;
		pthread_cond_broadcast(&p->work);
	}
	lf_mutex_unlock(&p->lock);
	if (j)
		job_free(j);
}
