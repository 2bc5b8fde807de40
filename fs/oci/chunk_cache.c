/* The host's cache of registry blobs, shared by every mount and session:
 *
 *   DIR/blobs/sha256/AB/ABCD...   a layer file's chunks, by digest; evicted
 *                                 least recently used past the bound
 *   DIR/meta/sha256/AB/ABCD...    manifests and configs (small, kept: a
 *                                 host logs in from them when offline)
 *   DIR/tags/HASH                 the digest a tag had last (HASH: of
 *                                 "host/name:tag")
 *   DIR/tmp/                      blobs being written
 *
 * A blob is written to tmp/ and renamed in only after its digest was
 * checked; it is checked again when a process first opens it (a crash, a
 * full disk or a hand may have left a wrong one: it is removed, and
 * fetched anew). Root's and 0700, its files 0600: an OS layer holds SAM
 * and SECURITY. Reached through the folder's fd; names are ours (hex). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/layer.h"
#include "layerfs/lockcheck.h"
#include "layerfs/oci.h"
#include "layerfs/source.h"

struct lf_chunk_cache {
	char *dir;               /* set once */
	int dirfd;               /* set once */
	uint64_t max;            /* set once */
	pthread_mutex_t lock;    /* guards what follows */
	uint64_t bytes, blobs;   /* in blobs/, as last counted plus what we put */
	int evicting;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lf_chunk_cache *cache;   /* guarded by cache_lock; kept until exit */

/* "blobs/sha256/ab/abcd..." for a digest (checked by the caller). */
static void blob_rel(const char *store, const char *digest, char *out, size_t size)
{
	snprintf(out, size, "%s/sha256/%.2s/%s", store, digest + 7, digest + 7);
}

static int mkdirs_at(int dirfd, const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s", rel);
	for (char *s = p;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = 0;
		if (mkdirat(dirfd, p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = c;
		if (!c)
			return 0;
	}
}

/* Count what blobs/ holds; with EVICT, remove the least recently used
 * until it holds at most 90% of the bound. */
struct entry {
	time_t mtime;
	uint64_t size;
	char rel[100];
};

static int by_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

static void scan(struct lf_chunk_cache *c, int evict)
{
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t bytes = 0;
	int fd = openat(c->dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *top = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *d;
	while (top && (d = readdir(top))) {
		if (strlen(d->d_name) != 2)
			continue;
		int sfd = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *sub = sfd >= 0 ? fdopendir(sfd) : NULL;
		struct dirent *e;
		while (sub && (e = readdir(sub))) {
			struct stat st;
			if (e->d_name[0] == '.' || fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
			    !S_ISREG(st.st_mode))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				struct entry *nv = realloc(v, cap * sizeof *v);
				if (!nv)
					break;
				v = nv;
			}
			v[n].mtime = st.st_mtime;
			v[n].size = (uint64_t)st.st_size;
			snprintf(v[n].rel, sizeof v[n].rel, "blobs/sha256/%s/%.70s", d->d_name, e->d_name);
			bytes += v[n].size;
			n++;
		}
		if (sub)
			closedir(sub);
		else if (sfd >= 0)
			close(sfd);
	}
	if (top)
		closedir(top);
	else if (fd >= 0)
		close(fd);
	size_t kept = n;
	if (evict && bytes > c->max) {
		qsort(v, n, sizeof *v, by_age);
		uint64_t goal = c->max / 10 * 9;
		/* a blob a mount has open stays readable through its fd */
		for (size_t i = 0; i < n && bytes > goal; i++)
			if (unlinkat(c->dirfd, v[i].rel, 0) == 0) {
				bytes -= v[i].size;
				kept--;
			}
	}
	free(v);
	lf_mutex_lock(&c->lock, LF_LK_LEAF);
	c->bytes = bytes;
	c->blobs = kept;
	lf_mutex_unlock(&c->lock);
}

int lf_chunk_cache_get(struct lf_chunk_cache **out, struct lf_err *err)
{
	lf_mutex_lock(&cache_lock, LF_LK_OCI);
	struct lf_chunk_cache *c = cache;
	int rc = 0;
	if (!c) {
		const struct lf_oci_config *cf = lf_oci_config();
		const char *dir = lf_oci_cache_dir();
		struct lf_err e = {0};
		rc = lf_mkdirs(dir, 0700, (uid_t)-1, (gid_t)-1, &e);
		int fd = rc ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (!rc && fd < 0)
			rc = lf_err_set(&e, errno, "%s: %s", dir, strerror(errno));
		else if (!rc && fstat(fd, &st) == 0 && st.st_uid != geteuid())
			rc = lf_err_set(&e, EPERM, "%s: the chunk cache is not ours (owner %u): refused",
					dir, (unsigned)st.st_uid);
		else if (!rc && (st.st_mode & 077))
			fprintf(stderr, "layerfs: warning: %s: the chunk cache is open to others "
				"(mode %04o; layers hold SAM and SECURITY): chmod 700 it\n", dir,
				st.st_mode & 07777);
		if (!rc && (mkdirs_at(fd, "blobs/sha256") || mkdirs_at(fd, "meta/sha256") ||
			    mkdirs_at(fd, "tags") || mkdirs_at(fd, "tmp")))
			rc = lf_err_set(&e, errno, "%s: cannot make its folders: %s", dir,
					strerror(errno));
		if (!rc && !(c = calloc(1, sizeof *c)))
			rc = lf_err_set(&e, ENOMEM, "out of memory");
		if (rc) {
			if (fd >= 0)
				close(fd);
			if (err)
				*err = e;
		} else {
			c->dir = strdup(dir);
			c->dirfd = fd;
			c->max = cf->cache_max ? cf->cache_max : (10ull << 30);
			pthread_mutex_init(&c->lock, NULL);
			scan(c, 0);
			cache = c;
		}
	}
	lf_mutex_unlock(&cache_lock);
	if (!rc)
		*out = c;
	return rc;
}

const char *lf_chunk_cache_dir(const struct lf_chunk_cache *c)
{
	return c->dir;
}

void lf_chunk_cache_usage(struct lf_chunk_cache *c, uint64_t *bytes, uint64_t *blobs)
{
	lf_mutex_lock(&c->lock, LF_LK_LEAF);
	*bytes = c->bytes;
	*blobs = c->blobs;
	lf_mutex_unlock(&c->lock);
}

/* Open STORE's blob and check it is DIGEST (size SIZE, or any when
 * UINT64_MAX); a wrong one is removed. */
static int open_checked(struct lf_chunk_cache *c, const char *store, const char *digest,
			uint64_t size, void **data)
{
	if (!lf_oci_digest_ok(digest))
		return -EINVAL;
	char rel[128];
	blob_rel(store, digest, rel, sizeof rel);
	int fd = openat(c->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	struct stat st = {0};
	char got[LF_OCI_DIGEST_MAX] = "";
	void *buf = NULL;
	int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		 (size == UINT64_MAX || (uint64_t)st.st_size == size) && st.st_size <= (64 << 20) &&
		 (buf = malloc((size_t)st.st_size + 1)) &&
		 lf_fd_pread_full(fd, buf, (size_t)st.st_size, 0) == 0;
	if (ok) {
		lf_oci_digest(buf, (size_t)st.st_size, got);
		ok = !strcmp(got, digest);
	}
	if (!ok) {
		if (buf || (fstat(fd, &st) == 0 && size != UINT64_MAX && (uint64_t)st.st_size != size)) {
			fprintf(stderr, "layerfs: %s/%s: a damaged blob in the cache (%lld bytes%s%s): "
				"removed, to be fetched again\n", c->dir, rel, (long long)st.st_size,
				got[0] ? ", hashing to " : "", got);
			unlinkat(c->dirfd, rel, 0);
		}
		free(buf);
		close(fd);
		return -ENOENT;
	}
	if (data) {
		((char *)buf)[st.st_size] = 0;
		*data = buf;
	} else {
		free(buf);
	}
	futimens(fd, NULL);       /* used now: last to be evicted */
	return fd;
}

int lf_chunk_cache_open(struct lf_chunk_cache *c, const char *digest, uint64_t size)
{
	return open_checked(c, "blobs", digest, size, NULL);
}

int lf_chunk_cache_has(struct lf_chunk_cache *c, const char *digest, uint64_t size)
{
	char rel[128];
	struct stat st;
	if (!lf_oci_digest_ok(digest))
		return 0;
	blob_rel("blobs", digest, rel, sizeof rel);
	return fstatat(c->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size == size;
}

int lf_chunk_cache_read(struct lf_chunk_cache *c, const char *digest, char **body, size_t *len)
{
	void *data = NULL;
	int fd = open_checked(c, "meta", digest, UINT64_MAX, &data);
	if (fd < 0)
		return fd;
	struct stat st;
	fstat(fd, &st);
	close(fd);
	*body = data;
	*len = (size_t)st.st_size;
	return 0;
}

/* Write BUF to tmp/ and rename it to REL; an fd on it. */
static int store(struct lf_chunk_cache *c, const char *rel, const void *buf, size_t size)
{
	char tmp[64];
	static _Atomic unsigned seq;
	snprintf(tmp, sizeof tmp, "tmp/%d.%u", (int)getpid(), seq++);
	int fd = openat(c->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = lf_fd_pwrite_full(fd, buf, size, 0);
	char dir[128];
	snprintf(dir, sizeof dir, "%s", rel);
	*strrchr(dir, '/') = 0;
	if (!rc)
		rc = mkdirs_at(c->dirfd, dir);
	if (!rc && renameat(c->dirfd, tmp, c->dirfd, rel) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(c->dirfd, tmp, 0);
		close(fd);
		return rc;
	}
	return fd;
}

int lf_chunk_cache_put(struct lf_chunk_cache *c, const char *digest, const void *buf, size_t size)
{
	char rel[128];
	if (!lf_oci_digest_ok(digest))
		return -EINVAL;
	blob_rel("blobs", digest, rel, sizeof rel);
	int fd = store(c, rel, buf, size);
	if (fd < 0) {
		/* a full disk: the data is still right, kept in memory for this use */
		fd = memfd_create("layerfs-chunk", MFD_CLOEXEC);
		if (fd < 0 || lf_fd_pwrite_full(fd, buf, size, 0)) {
			if (fd >= 0)
				close(fd);
			return -ENOSPC;
		}
		return fd;
	}
	lf_mutex_lock(&c->lock, LF_LK_LEAF);
	c->bytes += size;
	c->blobs++;
	int evict = c->bytes > c->max && !c->evicting;
	if (evict)
		c->evicting = 1;
	lf_mutex_unlock(&c->lock);
	if (evict) {
		scan(c, 1);
		lf_mutex_lock(&c->lock, LF_LK_LEAF);
		c->evicting = 0;
		lf_mutex_unlock(&c->lock);
	}
	return fd;
}

int lf_chunk_cache_keep(struct lf_chunk_cache *c, const char *digest, const void *buf, size_t size)
{
	char rel[128];
	if (!lf_oci_digest_ok(digest))
		return -EINVAL;
	blob_rel("meta", digest, rel, sizeof rel);
	struct stat st;
	if (fstatat(c->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && (uint64_t)st.st_size == size)
		return 0;
	int fd = store(c, rel, buf, size);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static void tag_rel(const char *host, const char *name, const char *tag, char *out, size_t size)
{
	char key[800], d[LF_OCI_DIGEST_MAX];
	snprintf(key, sizeof key, "%s/%s:%s", host, name, tag);
	lf_oci_digest(key, strlen(key), d);
	snprintf(out, size, "tags/%s", d + 7);
}

void lf_chunk_cache_set_tag(struct lf_chunk_cache *c, const char *host, const char *name,
			    const char *tag, const char *digest)
{
	char rel[128];
	tag_rel(host, name, tag, rel, sizeof rel);
	int fd = store(c, rel, digest, strlen(digest));
	if (fd >= 0)
		close(fd);
}

int lf_chunk_cache_tag(struct lf_chunk_cache *c, const char *host, const char *name,
		       const char *tag, char digest[LF_OCI_DIGEST_MAX])
{
	char rel[128];
	tag_rel(host, name, tag, rel, sizeof rel);
	int fd = openat(c->dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	char buf[LF_OCI_DIGEST_MAX] = "";
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n != 71)
		return -ENOENT;
	buf[n] = 0;
	if (!lf_oci_digest_ok(buf))
		return -ENOENT;
	memcpy(digest, buf, LF_OCI_DIGEST_MAX);
	return 0;
}
