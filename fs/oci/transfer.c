/* A layer file pushed to a registry and pulled back whole: cut in chunks,
 * several at once. A push sends only the chunks the registry lacks (a
 * revision's unchanged chunks are the same blobs), so one cut short goes on
 * where it stopped; a pull writes into NAME.partial and, run again, keeps
 * the chunks there that hash right. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/lockcheck.h"
#include "layerfs/oci.h"
#include "layerfs/source.h"

struct job {
	struct lf_registry *reg;
	const char *repo;
	int fd;
	uint64_t file_size, chunk_size;
	size_t nchunks;
	char (*digests)[LF_OCI_DIGEST_MAX];
	int pull;
	int resume;                  /* pull: a partial file from before is there */
	_Atomic size_t next;
	_Atomic uint64_t done_bytes;
	struct lf_oci_stats *stats;
	pthread_mutex_t lock;        /* guards err, stats, progress calls, seen */
	/* push: the digests sent or being sent by this push (a volume's
	 * empty chunks are one blob: it goes once; two uploads of one blob
	 * at once make the registry answer 500) */
	char (*seen)[LF_OCI_DIGEST_MAX];
	size_t seen_cap;
	struct lf_err err;
	int failed;
	void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *pctx;
};

uint64_t lf_oci_chunk_len(uint64_t file_size, uint64_t chunk_size, size_t i)
{
	uint64_t at = (uint64_t)i * chunk_size;
	return file_size - at < chunk_size ? file_size - at : chunk_size;
}

static uint64_t chunk_len(const struct job *j, size_t i)
{
	return lf_oci_chunk_len(j->file_size, j->chunk_size, i);
}

/* Has this push taken DIGEST already? Marks it taken (under j->lock). */
static int seen_before(struct job *j, const char *digest)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = digest + 7; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	for (size_t i = h % j->seen_cap;; i = (i + 1) % j->seen_cap) {
		if (!j->seen[i][0]) {
			memcpy(j->seen[i], digest, LF_OCI_DIGEST_MAX);
			return 0;
		}
		if (!strcmp(j->seen[i], digest))
			return 1;
	}
}

/* One chunk: pushed if the registry lacks it; pulled unless the partial
 * file holds it right already. Counted. */
static int one_chunk(struct job *j, size_t i, uint8_t *buf, struct lf_err *e)
{
	size_t len = (size_t)chunk_len(j, i);
	uint64_t off = (uint64_t)i * j->chunk_size;
	int rc, sent = 0, had = 0;
	if (!j->pull) {
		rc = lf_fd_pread_full(j->fd, buf, len, off);
		if (rc)
			return lf_err_set(e, -rc, "read at %llu: %s", (unsigned long long)off,
					  strerror(-rc));
		lf_oci_digest(buf, len, j->digests[i]);
		lf_mutex_lock(&j->lock, LF_LK_LEAF);
		had = seen_before(j, j->digests[i]);
		lf_mutex_unlock(&j->lock);
		rc = had ? 1 : lf_registry_has_blob(j->reg, j->repo, j->digests[i], e);
		if (rc < 0)
			return rc;
		had = rc;
		if (!had && (rc = lf_registry_put_blob(j->reg, j->repo, j->digests[i], buf, len, e)))
			return rc;
		sent = !had;
	} else {
		char now[LF_OCI_DIGEST_MAX];
		if (j->resume && lf_fd_pread_full(j->fd, buf, len, off) == 0) {
			lf_oci_digest(buf, len, now);
			had = !strcmp(now, j->digests[i]);
		}
		if (!had && (rc = lf_registry_get_blob(j->reg, j->repo, j->digests[i], buf, len, e)))
			return rc;
		if (!had && (rc = lf_fd_pwrite_full(j->fd, buf, len, off)))
			return lf_err_set(e, -rc, "write at %llu: %s", (unsigned long long)off,
					  strerror(-rc));
		sent = !had;
	}
	lf_mutex_lock(&j->lock, LF_LK_LEAF);
	if (sent) {
		j->stats->chunks_sent++;
		j->stats->bytes_sent += len;
	} else {
		j->stats->chunks_kept++;
	}
	uint64_t done = atomic_fetch_add(&j->done_bytes, len) + len;
	if (j->progress)
		j->progress(j->pctx, j->pull ? "pull" : "push", done, j->file_size);
	lf_mutex_unlock(&j->lock);
	return 0;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	uint8_t *buf = malloc(j->chunk_size);
	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		lf_mutex_lock(&j->lock, LF_LK_LEAF);
		int stop = j->failed || i >= j->nchunks;
		lf_mutex_unlock(&j->lock);
		if (stop)
			break;
		struct lf_err e = {0};
		int rc = buf ? one_chunk(j, i, buf, &e) : lf_err_set(&e, ENOMEM, "out of memory");
		if (rc) {
			lf_mutex_lock(&j->lock, LF_LK_LEAF);
			if (!j->failed) {
				j->failed = 1;
				lf_err_set(&j->err, e.code ? e.code : -rc, "chunk %zu: %s", i, e.msg);
			}
			lf_mutex_unlock(&j->lock);
			break;
		}
	}
	free(buf);
	return NULL;
}

static int run(struct job *j, struct lf_err *err)
{
	int n = lf_oci_config()->jobs > 0 ? lf_oci_config()->jobs : 4;
	if (n > 32)
		n = 32;
	pthread_t t[32];
	int started = 0;
	pthread_mutex_init(&j->lock, NULL);
	for (int i = 0; i < n && (size_t)i < (j->nchunks ? j->nchunks : 1); i++)
		if (pthread_create(&t[started], NULL, worker, j) == 0)
			started++;
	if (!started)
		worker(j);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&j->lock);
	if (j->failed && err)
		*err = j->err;
	return j->failed ? -(j->err.code ? j->err.code : EIO) : 0;
}

uint64_t lf_oci_chunk_size(uint64_t file_size)
{
	uint64_t cs = LF_OCI_CHUNK_SIZE;
	while ((file_size + cs - 1) / cs > LF_OCI_MAX_CHUNKS && cs < (64u << 20))
		cs *= 2;
	return cs;
}

int lf_oci_push_layer(struct lf_registry *reg, const char *repo, const char *path,
		      struct lf_oci_layer *meta, const char *tag, struct lf_oci_stats *stats,
		      void (*progress)(void *, const char *, uint64_t, uint64_t), void *pctx,
		      struct lf_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = lf_err_set(err, errno, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	meta->file_size = (uint64_t)st.st_size;
	if (!meta->chunk_size)
		meta->chunk_size = lf_oci_chunk_size(meta->file_size);
	size_t n = (size_t)((meta->file_size + meta->chunk_size - 1) / meta->chunk_size);
	struct job j = { .reg = reg, .repo = repo, .fd = fd, .file_size = meta->file_size,
			 .chunk_size = meta->chunk_size, .nchunks = n, .stats = stats,
			 .progress = progress, .pctx = pctx };
	j.digests = calloc(n + 1, sizeof *j.digests);
	j.seen_cap = 2 * n + 1;
	j.seen = calloc(j.seen_cap, sizeof *j.seen);
	uint64_t *sizes = calloc(n + 1, sizeof *sizes);
	int rc = j.digests && sizes && j.seen ? run(&j, err) : lf_err_set(err, ENOMEM, "out of memory");
	free(j.seen);
	close(fd);
	if (rc && err) {
		char m[sizeof err->msg];
		snprintf(m, sizeof m, "%s", err->msg);
		lf_err_set(err, err->code, "%s: %s", path, m);
	}
	for (size_t i = 0; i < n; i++)
		sizes[i] = chunk_len(&j, i);
	size_t clen = 0, mlen = 0;
	char cdigest[LF_OCI_DIGEST_MAX];
	char *config = rc ? NULL : lf_oci_layer_config(meta, &clen);
	if (!rc && !config)
		rc = lf_err_set(err, ENOMEM, "out of memory");
	if (!rc)
		rc = lf_registry_ensure_blob(reg, repo, config, clen, cdigest, err);
	char title[600];
	snprintf(title, sizeof title, "%s", meta->file_name);
	char *manifest = rc ? NULL : lf_oci_manifest(LF_OCI_LAYER_CONFIG, cdigest, clen, LF_OCI_CHUNK,
						      j.digests, sizes, n, title, &mlen);
	if (!rc && !manifest)
		rc = lf_err_set(err, ENOMEM, "out of memory");
	if (!rc)
		rc = lf_registry_put_manifest(reg, repo, tag, manifest, mlen, meta->manifest_digest, err);
	free(manifest);
	free(config);
	free(sizes);
	free(j.digests);
	return rc;
}

int lf_oci_pull_layer(struct lf_registry *reg, const char *repo, const struct lf_oci_layer *l,
		      const char *dst, struct lf_oci_stats *stats,
		      void (*progress)(void *, const char *, uint64_t, uint64_t), void *pctx,
		      struct lf_err *err)
{
	char part[4200];
	snprintf(part, sizeof part, "%s.partial", dst);
	int fd = open(part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    ftruncate(fd, (off_t)l->file_size) < 0) {
		int rc = lf_err_set(err, errno ? errno : EINVAL, "%s: %s", part, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	struct job j = { .reg = reg, .repo = repo, .fd = fd, .file_size = l->file_size,
			 .chunk_size = l->chunk_size, .nchunks = l->nchunks, .pull = 1,
			 .digests = l->chunks, .stats = stats, .progress = progress, .pctx = pctx,
			 .resume = st.st_size > 0 };
	int rc = run(&j, err);
	if (!rc && fsync(fd) < 0)
		rc = lf_err_set(err, errno, "%s: fsync: %s", part, strerror(errno));
	if (close(fd) < 0 && !rc)
		rc = lf_err_set(err, errno, "%s: %s", part, strerror(errno));
	if (!rc && rename(part, dst) < 0)
		rc = lf_err_set(err, errno, "%s -> %s: %s", part, dst, strerror(errno));
	return rc;
}
