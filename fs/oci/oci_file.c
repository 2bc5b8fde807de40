/* A layer file read from a registry: its chunks fetched when a read needs
 * them, through the host's cache, each checked against its digest; a chunk
 * one thread is getting, the others wait for. With the registry gone, what
 * is cached keeps working and a read that needs anything else is EIO, said
 * in one line naming the layer. The disk format on top is sniffed as for a
 * host file; a differencing revision's parent is the revision its config
 * names by digest. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/lockcheck.h"
#include "layerfs/oci.h"
#include "layerfs/source.h"
#include "layerfs/background.h"

/* fds kept open a layer: a chunk's first read checks it, later ones
 * reuse the fd; the oldest unused close past this many */
#define MAX_OPEN 256
/* a reader that reads chunks in order (an MFT scan, a hive, a file) has
 * the next ones fetched ahead of it, by this many threads a layer */
#define READ_AHEAD 16
#define FETCHERS 2

struct chunk {
	int fd;                  /* checked and open; -1: not yet */
	int users;               /* reads through fd now */
	uint8_t busy;            /* a thread is getting it */
	uint8_t logged;          /* its failure was said */
};

struct oci_file {
	struct lf_file base;
	struct lf_registry *reg;        /* set once */
	struct lf_chunk_cache *cache;   /* set once */
	char host[256], repo[256];      /* set once */
	char label[1024];               /* "app layer Office 100.2 (oci://...)": set once */
	struct lf_oci_layer layer;      /* set once */
	pthread_mutex_t lock;           /* guards what follows */
	pthread_cond_t got;             /* a busy chunk is done */
	struct chunk *chunks;
	size_t *ring, ring_head, nopen; /* chunks with an open fd, oldest first */
	int closing;
	int opening;                    /* lf_source_open_oci has not returned yet */
	/* the fetchers' work: chunks ahead of a reader that reads on in
	 * order (ra_next..ra_end), then with --prefetch every chunk (sweep) */
	pthread_cond_t work;
	size_t last_read;               /* the chunk a reader took last, + 1 */
	size_t ra_next, ra_end, sweep;
	int prefetch;
	pthread_t fetchers[FETCHERS];
	int nfetchers;
	pid_t fetch_pid;                /* the process the fetchers run in */
};

/* A chunk's fd from the cache, else fetched (checked, put in the cache). */
static int obtain(struct oci_file *f, size_t i)
{
	const char *digest = f->layer.chunks[i];
	uint64_t cs = f->layer.chunk_size;
	size_t size = (size_t)lf_oci_chunk_len(f->layer.file_size, cs, i);
	int fd = lf_chunk_cache_open(f->cache, digest, size);
	if (fd >= 0)
		return fd;
	void *buf = malloc(size ? size : 1);
	struct lf_err e = {0};
	int rc = buf ? lf_registry_get_blob(f->reg, f->repo, digest, buf, size, &e)
		     : lf_err_set(&e, ENOMEM, "out of memory");
	if (!rc) {
		fd = lf_chunk_cache_put(f->cache, digest, buf, size);
		if (fd < 0)
			rc = lf_err_set(&e, -fd, "cannot keep it: %s", strerror(-fd));
	}
	free(buf);
	if (!rc)
		return fd;
	snprintf(f->base.why, sizeof f->base.why, "%s %.60s %u.%u: chunk %zu of %zu is not cached and "
		 "cannot be fetched: %.250s", f->layer.type, f->layer.name, f->layer.id, f->layer.revision,
		 i, f->layer.nchunks, e.msg);
	lf_mutex_lock(&f->lock, LF_LK_LEAF);
	/* while the layer opens, its opener says the error */
	int say = !f->chunks[i].logged && !f->opening;
	f->chunks[i].logged = 1;
	lf_mutex_unlock(&f->lock);
	if (say)
		fprintf(stderr, "layerfs: %s: chunk %zu of %zu (bytes %llu-%llu) is not cached and "
			"cannot be fetched: %s\n", f->label, i, f->layer.nchunks,
			(unsigned long long)(i * cs), (unsigned long long)(i * cs + size - 1), e.msg);
	return -EIO;
}

/* Close the oldest fds nobody reads through, past MAX_OPEN (under lock). */
static void trim_open(struct oci_file *f)
{
	size_t cap = f->layer.nchunks + 1, tries = f->nopen;
	while (f->nopen > MAX_OPEN && tries--) {
		size_t j = f->ring[f->ring_head];
		f->ring_head = (f->ring_head + 1) % cap;
		f->nopen--;
		if (f->chunks[j].users == 0) {
			close(f->chunks[j].fd);
			f->chunks[j].fd = -1;
		} else {
			f->ring[(f->ring_head + f->nopen) % cap] = j;
			f->nopen++;
		}
	}
}

/* A reader at chunk i right after chunk i - 1: fetch ahead (under lock). */
static void read_on(struct oci_file *f, size_t i)
{
	size_t n = f->layer.nchunks;
	if (f->last_read == i && i + 1 < n) {       /* i follows the last one read */
		size_t end = i + 1 + READ_AHEAD < n ? i + 1 + READ_AHEAD : n;
		if (f->ra_end < end) {
			if (f->ra_next < i + 1 || f->ra_next >= f->ra_end)
				f->ra_next = i + 1;
			f->ra_end = end;
			pthread_cond_signal(&f->work);
		}
	}
	f->last_read = i + 1;
}

static void *fetcher_run(void *arg);

/* The fetchers run in this process (under lock). Started with the first
 * read once the program lets its threads start (background.h): a child
 * forked from a process whose fetchers had started would inherit a chunk
 * they were fetching as busy for ever. Started again in a new process
 * all the same. */
static void fetchers_here(struct oci_file *f)
{
	pid_t me = getpid();
	if (f->fetch_pid == me || !lf_background_allowed())
		return;
	if (f->fetch_pid) {
		for (size_t i = 0; i < f->layer.nchunks; i++)
			f->chunks[i].busy = 0;
		pthread_cond_broadcast(&f->got);
	}
	f->fetch_pid = me;
	f->nfetchers = 0;
	for (int i = 0; i < FETCHERS; i++)
		if (pthread_create(&f->fetchers[f->nfetchers], NULL, fetcher_run, f) == 0)
			f->nfetchers++;
}

/* READER: a read's, not a fetcher's (only reads move the read-ahead). */
static int take_chunk(struct oci_file *f, size_t i, int reader)
{
	lf_mutex_lock(&f->lock, LF_LK_LEAF);
	if (reader) {
		fetchers_here(f);
		read_on(f, i);
	}
	for (;;) {
		struct chunk *c = &f->chunks[i];
		if (c->fd >= 0) {
			c->users++;
			int fd = c->fd;
			lf_mutex_unlock(&f->lock);
			return fd;
		}
		if (c->busy) {
			pthread_cond_wait(&f->got, &f->lock);
			continue;
		}
		c->busy = 1;
		lf_mutex_unlock(&f->lock);
		int fd = obtain(f, i);
		lf_mutex_lock(&f->lock, LF_LK_LEAF);
		c->busy = 0;
		pthread_cond_broadcast(&f->got);
		if (fd < 0) {
			lf_mutex_unlock(&f->lock);
			return fd;
		}
		c->fd = fd;
		f->ring[(f->ring_head + f->nopen++) % (f->layer.nchunks + 1)] = i;
		trim_open(f);
	}
}

static void give_chunk(struct oci_file *f, size_t i)
{
	lf_mutex_lock(&f->lock, LF_LK_LEAF);
	f->chunks[i].users--;
	lf_mutex_unlock(&f->lock);
}

/* One chunk's part of a read. */
static int read_chunk(void *ctx, uint8_t *buf, size_t n, uint64_t off, uint64_t i, uint64_t in)
{
	struct oci_file *f = ctx;
	(void)off;
	int fd = take_chunk(f, (size_t)i, 1);
	if (fd < 0)
		return fd;
	int rc = lf_fd_pread_full(fd, buf, n, in);
	give_chunk(f, (size_t)i);
	return rc;
}

static int oci_pread(struct lf_file *lf, void *buf, size_t len, uint64_t off)
{
	struct oci_file *f = (struct oci_file *)lf;
	return lf_read_by_unit(f, buf, len, off, f->layer.chunk_size, read_chunk);
}

static void oci_close(struct lf_file *lf)
{
	struct oci_file *f = (struct oci_file *)lf;
	lf_mutex_lock(&f->lock, LF_LK_LEAF);
	f->closing = 1;
	pthread_cond_broadcast(&f->work);
	lf_mutex_unlock(&f->lock);
	/* fetchers of another process (before layerfs forked) are not ours */
	for (int i = 0; f->fetch_pid == getpid() && i < f->nfetchers; i++)
		pthread_join(f->fetchers[i], NULL);
	for (size_t i = 0; f->chunks && i < f->layer.nchunks; i++)
		if (f->chunks[i].fd >= 0)
			close(f->chunks[i].fd);
	free(f->chunks);
	free(f->ring);
	lf_oci_layer_free(&f->layer);
	pthread_cond_destroy(&f->got);
	pthread_cond_destroy(&f->work);
	pthread_mutex_destroy(&f->lock);
	free(f->base.name);
	free(f);
}

static const struct lf_file_ops oci_ops = { oci_pread, oci_close };

/* A layer's fetchers: the chunks ahead of a reader first, then (with
 * --prefetch) every chunk not had yet, until the layer closes. */
static void *fetcher_run(void *arg)
{
	struct oci_file *f = arg;
	lf_mutex_lock(&f->lock, LF_LK_LEAF);
	while (!f->closing) {
		size_t i;
		if (f->ra_next < f->ra_end) {
			i = f->ra_next++;
		} else if (f->prefetch && f->sweep < f->layer.nchunks) {
			i = f->sweep++;
		} else {
			pthread_cond_wait(&f->work, &f->lock);
			continue;
		}
		if (f->chunks[i].fd >= 0 || f->chunks[i].busy)
			continue;
		lf_mutex_unlock(&f->lock);
		int fd = take_chunk(f, i, 0);
		if (fd >= 0)
			give_chunk(f, i);
		lf_mutex_lock(&f->lock, LF_LK_LEAF);
	}
	lf_mutex_unlock(&f->lock);
	return NULL;
}


static int file_open(struct lf_registry *reg, struct lf_chunk_cache *cache, const char *host,
		     const char *repo, const char *reference, struct oci_file **out,
		     struct lf_err *err)
{
	struct oci_file *f = calloc(1, sizeof *f);
	if (!f)
		return lf_err_set(err, ENOMEM, "out of memory");
	int rc = lf_oci_layer_fetch(reg, host, repo, reference, &f->layer, err);
	if (rc) {
		free(f);
		return rc;
	}
	size_t n = f->layer.nchunks;
	f->chunks = calloc(n + 1, sizeof *f->chunks);
	f->ring = calloc(n + 1, sizeof *f->ring);
	char name[700];
	snprintf(name, sizeof name, "oci://%s/%s@%s", host, repo, f->layer.manifest_digest);
	f->base.name = strdup(name);
	if (!f->chunks || !f->ring || !f->base.name) {
		free(f->chunks);
		free(f->ring);
		free(f->base.name);
		lf_oci_layer_free(&f->layer);
		free(f);
		return lf_err_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		f->chunks[i].fd = -1;
	f->base.ops = &oci_ops;
	f->base.size = f->layer.file_size;
	f->reg = reg;
	f->cache = cache;
	snprintf(f->host, sizeof f->host, "%s", host);
	snprintf(f->repo, sizeof f->repo, "%s", repo);
	snprintf(f->label, sizeof f->label, "%s layer %s %u.%u (%s)", f->layer.type,
		 f->layer.name, f->layer.id, f->layer.revision, name);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->got, NULL);
	pthread_cond_init(&f->work, NULL);
	f->opening = 1;
	f->prefetch = lf_oci_config()->prefetch;
	*out = f;
	return 0;
}

/* The layer and its parents opened: their failures are said from now on. */
static void opened(struct lf_source *s)
{
	for (; s; s = s->parent) {
		struct lf_file *file = s->file;
		if (!file || file->ops != &oci_ops)
			continue;
		struct oci_file *f = (struct oci_file *)file;
		lf_mutex_lock(&f->lock, LF_LK_LEAF);
		f->opening = 0;
		lf_mutex_unlock(&f->lock);
	}
}

struct parent_ctx {
	struct lf_registry *reg;
	struct lf_chunk_cache *cache;
	const char *host, *repo;
	char next[LF_OCI_DIGEST_MAX];   /* the next parent to open */
};

static int open_parent(void *ctx, int depth, struct lf_file **out, struct lf_err *err)
{
	struct parent_ctx *p = ctx;
	(void)depth;
	if (!p->next[0])
		return lf_err_set(err, ENOENT, "oci://%s/%s: a differencing revision whose config "
				  "names no parent", p->host, p->repo);
	struct oci_file *f;
	int rc = file_open(p->reg, p->cache, p->host, p->repo, p->next, &f, err);
	if (rc)
		return rc;
	memcpy(p->next, f->layer.parent, sizeof p->next);
	*out = &f->base;
	return 0;
}

int lf_source_open_oci(const char *uri, struct lf_source **out, struct lf_err *err)
{
	struct lf_oci_ref ref;
	struct lf_registry *reg;
	struct lf_chunk_cache *cache;
	int rc = lf_oci_ref_parse(uri, &ref, err);
	if (!rc)
		rc = lf_registry_get(ref.host, &reg, err);
	if (!rc)
		rc = lf_chunk_cache_get(&cache, err);
	if (rc)
		return rc;
	struct oci_file *f;
	const char *reference = ref.digest[0] ? ref.digest : ref.tag[0] ? ref.tag : "latest";
	rc = file_open(reg, cache, ref.host, ref.name, reference, &f, err);
	if (rc)
		return rc;
	struct parent_ctx pc = { reg, cache, ref.host, ref.name, "" };
	memcpy(pc.next, f->layer.parent, sizeof pc.next);
	struct lf_source_opts opts = { .open_parent = open_parent, .parent_ctx = &pc };
	rc = lf_source_open_file(&f->base, &opts, out, err);
	if (!rc)
		opened(*out);
	return rc;
}
