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

#include "union_prefetch.h"

#define WORKERS 4
#define AHEAD 2          /* levels below a folder in use */
#define MAX_PENDING 4096
#define SMALL_FILE (256u * 1024)
#define DATA_AHEAD 16     /* folders whose data is read ahead at a time */

struct job {
	uint64_t ino;            /* 0: read ahead the data of small files */
	int depth;               /* levels below the folder in use */
	int nrefs;
	struct lref *refs;
	struct job *next;
};

struct ready {
	uint64_t ino;
	int done;
	struct udir *dir;
	struct ready *next;
};

struct prefetch {
	struct lf_union *u;
	pthread_mutex_t lock;
	pthread_cond_t work, finished;
	struct job *head;        /* newest first */
	struct ready *ready;     /* built or being built */
	int count, stop;
	int with_data;           /* files are being read: read data ahead too */
	uint64_t (*ino_of)(const struct uentry *); /* a subfolder's node number */
	pthread_t threads[WORKERS];
	int nthreads;
};

static struct ready **find_ready(struct prefetch *p, uint64_t ino)
{
	struct ready **r = &p->ready;
	while (*r && (*r)->ino != ino)
		r = &(*r)->next;
	return r;
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

static void *worker(void *arg)
{
	struct prefetch *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		struct job *j = p->head;
		p->head = j->next;
		pthread_mutex_unlock(&p->lock);

		if (!j->ino) {
			read_ahead(p->u, j->refs, j->nrefs);
			free(j->refs);
			free(j);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		struct udir *d = NULL;
		if (udir_build(p->u, j->refs, j->nrefs, &d) == 0) {
			/* read each entry's attributes once: the caches warm; and
			 * once files are being read, their data too */
			pthread_mutex_lock(&p->lock);
			int data = p->with_data;
			pthread_mutex_unlock(&p->lock);
			for (size_t i = 0; i < d->n; i++)
				warm(p->u, &d->v[i].refs[0], data);
		}
		pthread_mutex_lock(&p->lock);
		struct ready *r = *find_ready(p, j->ino);
		if (r) {
			r->dir = d;
			r->done = 1;
			if (d && j->depth < AHEAD)
				queue_children(p, d, j->depth + 1);
		} else {
			udir_free(d);
		}
		pthread_cond_broadcast(&p->finished);
		free(j->refs);
		free(j);
	}
	pthread_mutex_unlock(&p->lock);
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
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->finished, NULL);
	return p;
}

void prefetch_stop(struct prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (struct job *j = p->head, *n; j; j = n) {
		n = j->next;
		free(j->refs);
		free(j);
	}
	for (struct ready *r = p->ready, *n; r; r = n) {
		n = r->next;
		udir_free(r->dir);
		free(r);
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

/* Drop finished results nobody came for, oldest first, down to half. */
static void evict(struct prefetch *p)
{
	int keep = MAX_PENDING / 2, seen = 0;
	for (struct ready **r = &p->ready; *r;) {
		if (++seen > keep && (*r)->done) {
			struct ready *dead = *r;
			*r = dead->next;
			udir_free(dead->dir);
			free(dead);
			p->count--;
		} else {
			r = &(*r)->next;
		}
	}
}

void prefetch_children(struct prefetch *p, const struct udir *d)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (start_threads(p))
		queue_children(p, d, 1);
	/* else no threads: every folder is built when used */
	pthread_mutex_unlock(&p->lock);
}

/* Caller holds lock. */
static void queue_children(struct prefetch *p, const struct udir *d, int depth)
{
	if (p->count >= MAX_PENDING)
		evict(p);
	for (size_t k = d->n; k-- > 0 && p->count < MAX_PENDING;) {
		const struct uentry *e = &d->v[k];
		if (!S_ISDIR(e->type))
			continue;
		uint64_t ino = p->ino_of(e);
		if (*find_ready(p, ino))
			continue;
		struct job *j = malloc(sizeof *j);
		struct ready *r = malloc(sizeof *r);
		struct lref *refs = malloc(e->nrefs * sizeof *refs);
		if (!j || !r || !refs) {
			free(j);
			free(r);
			free(refs);
			break;
		}
		memcpy(refs, e->refs, e->nrefs * sizeof *refs);
		*j = (struct job){ ino, depth, e->nrefs, refs, NULL };
		*r = (struct ready){ ino, 0, NULL, p->ready };
		p->ready = r;
		p->count++;
		enqueue(p, j);
	}
	pthread_cond_broadcast(&p->work);
}

struct udir *prefetch_take(struct prefetch *p, uint64_t ino)
{
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->lock);
	struct ready **rp = find_ready(p, ino);
	if (*rp && !(*rp)->done) {
		/* Not started yet: the caller builds it now rather than wait. */
		for (struct job **jp = &p->head; *jp; jp = &(*jp)->next) {
			if ((*jp)->ino == ino) {
				struct job *j = *jp;
				*jp = j->next;
				free(j->refs);
				free(j);
				struct ready *r = *rp;
				*rp = r->next;
				free(r);
				p->count--;
				pthread_mutex_unlock(&p->lock);
				return NULL;
			}
		}
	}
	while (*rp && !(*rp)->done) {
		pthread_cond_wait(&p->finished, &p->lock);
		rp = find_ready(p, ino);
	}
	struct udir *d = NULL;
	if (*rp) {
		struct ready *r = *rp;
		*rp = r->next;
		d = r->dir;
		free(r);
		p->count--;
	}
	pthread_mutex_unlock(&p->lock);
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
	*j = (struct job){ 0, 0, n, refs, NULL };
	return j;
}

void prefetch_data(struct prefetch *p, struct udir *d)
{
	if (!p)
		return;
	struct job *j = data_job(d);
	pthread_mutex_lock(&p->lock);
	p->with_data = 1;
	if (start_threads(p)) {
		/* The folders built ahead but not yet used are where a reader
		 * goes next (the newest first): their data too, a few at a time. */
		int k = 0;
		for (struct ready *r = p->ready; r && k < DATA_AHEAD; r = r->next) {
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
	pthread_mutex_unlock(&p->lock);
	if (j) {
		free(j->refs);
		free(j);
	}
}
