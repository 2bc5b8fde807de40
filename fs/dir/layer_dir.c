/* The `dir` backend: a host directory. Node numbers index a table of
 * (parent, name) pairs; every call walks from the root with openat(2) and
 * O_NOFOLLOW, so paths longer than PATH_MAX work and no symlink inside the
 * layer leads out of it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/casefold.h"
#include "layer_dir_int.h"



static uint64_t key_hash(lf_ino parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ parent;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

static int grow_slots(struct dir_layer *d)
{
	size_t n = d->nslots ? d->nslots * 2 : 1024;
	lf_ino *s = calloc(n, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (size_t i = DIR_ROOT + 1; i < d->nnodes; i++) {
		if (!d->nodes[i].hashed)
			continue;
		size_t j = d->nodes[i].hash & (n - 1);
		while (s[j])
			j = (j + 1) & (n - 1);
		s[j] = i;
	}
	free(d->slots);
	d->slots = s;
	d->nslots = n;
	return 0;
}

static uint64_t ino_hash(uint64_t hino)
{
	return hino * 0x9E3779B97F4A7C15ull >> 16;
}

static int grow_islots(struct dir_layer *d)
{
	size_t n = d->nislots ? d->nislots * 2 : 1024;
	lf_ino *s = calloc(n, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < d->nislots; i++) {
		if (!d->islots[i])
			continue;
		size_t j = ino_hash(d->nodes[d->islots[i]].hino) & (n - 1);
		while (s[j])
			j = (j + 1) & (n - 1);
		s[j] = d->islots[i];
	}
	free(d->islots);
	d->islots = s;
	d->nislots = n;
	return 0;
}

static lf_ino find_hino(const struct dir_layer *d, uint64_t hino)
{
	if (!d->nislots)
		return 0;
	for (size_t j = ino_hash(hino) & (d->nislots - 1); d->islots[j];
	     j = (j + 1) & (d->nislots - 1))
		if (d->nodes[d->islots[j]].hino == hino)
			return d->islots[j];
	return 0;
}

/* Remember node ino as host inode hino's (a failure only costs sharing). */
static void add_hino(struct dir_layer *d, lf_ino ino, uint64_t hino)
{
	if ((d->nlinked + 1) * 2 > d->nislots && grow_islots(d))
		return;
	size_t j = ino_hash(hino) & (d->nislots - 1);
	while (d->islots[j])
		j = (j + 1) & (d->nislots - 1);
	d->islots[j] = ino;
	d->nodes[ino].hino = hino;
	d->nlinked++;
}

/* Forget node ino's host inode (a writable layer's file is gone: its
 * number may come back for another file). */
static void del_hino(struct dir_layer *d, lf_ino ino)
{
	uint64_t hino = d->nodes[ino].hino;
	if (!hino || !d->nislots)
		return;
	size_t mask = d->nislots - 1, i = ino_hash(hino) & mask;
	while (d->islots[i] && d->islots[i] != ino)
		i = (i + 1) & mask;
	if (!d->islots[i])
		return;
	for (size_t j = (i + 1) & mask; d->islots[j]; j = (j + 1) & mask) {
		size_t home = ino_hash(d->nodes[d->islots[j]].hino) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			d->islots[i] = d->islots[j];
			i = j;
		}
	}
	d->islots[i] = 0;
	d->nodes[ino].hino = 0;
	d->nlinked--;
}

static lf_ino node_of(const struct dir_layer *d, lf_ino x)
{
	return d->nodes[x].same_as ? d->nodes[x].same_as : x;
}

lf_ino dirl_find(const struct dir_layer *d, lf_ino parent, const char *name, int raw)
{
	uint64_t h = key_hash(parent, name);
	if (d->nslots)
		for (size_t j = h & (d->nslots - 1); d->slots[j]; j = (j + 1) & (d->nslots - 1)) {
			const struct dnode *n = &d->nodes[d->slots[j]];
			if (n->hash == h && n->parent == parent && !strcmp(n->name, name))
				return raw ? d->slots[j] : node_of(d, d->slots[j]);
		}
	return 0;
}

void dirl_drop(struct dir_layer *d, lf_ino ino)
{
	dirl_unhash(d, ino);
	del_hino(d, ino);
	d->nodes[ino].parent = 0;
	if (d->nodes[ino].fd >= 0) {
		close(d->nodes[ino].fd);
		d->nodes[ino].fd = -1;
		d->nfds--;
	}
}

void dirl_forget(struct dir_layer *d, lf_ino parent, const char *name)
{
	lf_ino x = dirl_find(d, parent, name, 1);
	if (!x)
		return;
	struct dnode *n = &d->nodes[x];
	if (n->same_as) {
		/* an alias: out of its node's chain */
		uint32_t *p = &d->nodes[n->same_as].next_name;
		while (*p && *p != x)
			p = &d->nodes[*p].next_name;
		if (*p)
			*p = n->next_name;
		dirl_unhash(d, x);
		n->parent = 0;
		return;
	}
	lf_ino a = n->next_name;
	if (!a) {
		dirl_drop(d, x);
		return;
	}
	/* the node lives on under its first alias's name */
	struct dnode *al = &d->nodes[a];
	char keep[NAME_MAX + 1];
	snprintf(keep, sizeof keep, "%s", al->name);
	lf_ino ap = al->parent;
	n->next_name = al->next_name;
	dirl_unhash(d, a);
	al->parent = 0;
	if (dirl_rehash(d, x, ap, keep))
		dirl_unhash(d, x);       /* out of memory: unfindable, as before */
}

/* The node for (parent, name), made on first sight (an alias if hino is a
 * host file known by another name). Caller holds lock. */
lf_ino dirl_intern(struct dir_layer *d, lf_ino parent, const char *name, uint64_t hino)
{
	uint64_t h = key_hash(parent, name);
	lf_ino have = dirl_find(d, parent, name, 0);
	if (have)
		return have;
	lf_ino same = hino ? find_hino(d, hino) : 0;
	if (same && !d->writable)
		return same;     /* another name of a file we know: its node */
	if ((d->nnodes + 1) * 2 > d->nslots && grow_slots(d))
		return 0;
	if (d->nnodes == d->cap) {
		size_t cap = d->cap * 2;
		struct dnode *v = realloc(d->nodes, cap * sizeof *v);
		if (!v)
			return 0;
		d->nodes = v;
		d->cap = cap;
	}
	char *copy = lf_arena_strdup(&d->names, name);
	if (!copy)
		return 0;
	lf_ino ino = d->nnodes++;
	d->nodes[ino] = (struct dnode){ .parent = parent, .name = copy, .hash = h, .fd = -1,
					.hashed = 1 };
	size_t j = h & (d->nslots - 1);
	while (d->slots[j])
		j = (j + 1) & (d->nslots - 1);
	d->slots[j] = ino;
	if (same) {
		/* a writable layer keeps every name, so that the file stays
		 * reachable when its first name goes */
		d->nodes[ino].same_as = (uint32_t)same;
		d->nodes[ino].next_name = d->nodes[same].next_name;
		d->nodes[same].next_name = (uint32_t)ino;
		return same;
	}
	if (hino)
		add_hino(d, ino, hino);
	return ino;
}

/* The host inode to share a node by, or 0: non-folders on the root's
 * device (another device's numbers are its own). */
static uint64_t share_key(const struct dir_layer *d, uint32_t type, dev_t dev, uint64_t hino)
{
	return type && !S_ISDIR(type) && dev == d->dev ? hino : 0;
}

void dirl_unhash(struct dir_layer *d, lf_ino ino)
{
	struct dnode *x = &d->nodes[ino];
	if (!x->hashed || !d->nslots)
		return;
	size_t mask = d->nslots - 1, i = x->hash & mask;
	while (d->slots[i] != ino)
		i = (i + 1) & mask;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (size_t j = (i + 1) & mask; d->slots[j]; j = (j + 1) & mask) {
		size_t home = d->nodes[d->slots[j]].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			d->slots[i] = d->slots[j];
			i = j;
		}
	}
	d->slots[i] = 0;
	x->hashed = 0;
}

int dirl_rehash(struct dir_layer *d, lf_ino ino, lf_ino parent, const char *name)
{
	/* the old name stays in its block until the layer closes */
	char *copy = lf_arena_strdup(&d->names, name);
	if (!copy || ((d->nnodes + 1) * 2 > d->nslots && grow_slots(d)))
		return -ENOMEM;
	dirl_unhash(d, ino);
	struct dnode *x = &d->nodes[ino];
	x->name = copy;
	x->parent = parent;
	x->hash = key_hash(parent, name);
	size_t j = x->hash & (d->nslots - 1);
	while (d->slots[j])
		j = (j + 1) & (d->nslots - 1);
	d->slots[j] = ino;
	x->hashed = 1;
	return 0;
}

/* An O_PATH fd for folder node ino; *owned says the caller must close it.
 * Folders keep their fd (up to maxfds of them) until the layer closes, so
 * most calls cost no path walk; O_PATH fds follow their folder even when
 * it is renamed. */
int dirl_dir_fd(struct dir_layer *d, lf_ino ino, int *owned)
{
	*owned = 0;
	if (ino == DIR_ROOT)
		return d->root_fd;
	char name[NAME_MAX + 1];
	pthread_mutex_lock(&d->lock);
	if (ino == 0 || ino >= d->nnodes) {
		pthread_mutex_unlock(&d->lock);
		return -ESTALE;
	}
	int fd = d->nodes[ino].fd;
	lf_ino parent = d->nodes[ino].parent;
	snprintf(name, sizeof name, "%s", d->nodes[ino].name);
	pthread_mutex_unlock(&d->lock);
	if (fd >= 0)
		return fd;
	int powned;
	int pfd = dirl_dir_fd(d, parent, &powned);
	if (pfd < 0)
		return pfd;
	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	if (powned)
		close(pfd);
	if (fd < 0)
		return -e;
	pthread_mutex_lock(&d->lock);
	if (d->nodes[ino].fd >= 0) {            /* another thread was first */
		close(fd);
		fd = d->nodes[ino].fd;
	} else if (d->nfds < d->maxfds) {
		d->nodes[ino].fd = fd;
		d->nfds++;
	} else {
		*owned = 1;
	}
	pthread_mutex_unlock(&d->lock);
	return fd;
}

/* The parent folder's fd and the node's name (copied into name). */
int dirl_parent_fd(struct dir_layer *d, lf_ino ino, char *name, size_t size, int *owned)
{
	pthread_mutex_lock(&d->lock);
	if (ino <= DIR_ROOT || ino >= d->nnodes) {
		pthread_mutex_unlock(&d->lock);
		return -ESTALE;
	}
	lf_ino parent = d->nodes[ino].parent;
	size_t n = strlen(d->nodes[ino].name);
	if (n >= size) {
		pthread_mutex_unlock(&d->lock);
		return -ENAMETOOLONG;
	}
	memcpy(name, d->nodes[ino].name, n + 1);
	pthread_mutex_unlock(&d->lock);
	return dirl_dir_fd(d, parent, owned);
}

void dirl_put_fd(int fd, int owned)
{
	if (owned)
		close(fd);
}

void dirl_stat_to_attr(const struct stat *st, lf_ino ino, struct lf_attr *a)
{
	memset(a, 0, sizeof *a);
	a->ino = ino;
	a->mode = st->st_mode;
	a->rdev = (uint64_t)st->st_rdev;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->size = (uint64_t)st->st_size;
	a->alloc = (uint64_t)st->st_blocks * 512;
	a->atime = st->st_atim;
	a->mtime = st->st_mtim;
	a->ctime = st->st_ctim;
	a->btime = st->st_mtim;
	if (S_ISDIR(st->st_mode))
		a->wattr = LF_WATTR_DIRECTORY;
	else if (!(st->st_mode & 0222))
		a->wattr = LF_WATTR_READONLY;
}

static int dl_getattr(struct lf_layer *l, lf_ino ino, struct lf_attr *out)
{
	struct dir_layer *d = DL(l);
	struct stat st;
	if (ino == DIR_ROOT) {
		if (fstat(d->root_fd, &st) < 0)
			return -errno;
		dirl_stat_to_attr(&st, ino, out);
		return 0;
	}
	char name[NAME_MAX + 1];
	int owned;
	int dfd = dirl_parent_fd(d, ino, name, sizeof name, &owned);
	if (dfd < 0)
		return dfd;
	int rc = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	dirl_put_fd(dfd, owned);
	if (!rc)
		dirl_stat_to_attr(&st, ino, out);
	return rc;
}

/* The entry of folder dfd whose name equals `name` ignoring case; when
 * the host folder holds several spellings, the first in byte order. */
static int find_nocase(int dfd, const char *name, char *found, size_t size)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	int rc = -ENOENT;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (lf_casecmp(e->d_name, name) != 0)
			continue;
		if (rc == -ENOENT || strcmp(e->d_name, found) < 0) {
			if (strlen(e->d_name) >= size)
				continue;
			strcpy(found, e->d_name);
			rc = 0;
		}
	}
	closedir(dir);
	return rc;
}

static int dl_lookup(struct lf_layer *l, lf_ino dir, const char *name,
		     struct lf_attr *out)
{
	struct dir_layer *d = DL(l);
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	int owned;
	int dfd = dirl_dir_fd(d, dir, &owned);
	if (dfd < 0)
		return dfd;
	char actual[NAME_MAX + 1];
	struct stat st;
	int rc = 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		strcpy(actual, name);
	} else if (errno != ENOENT) {
		rc = -errno;
	} else if (!(rc = find_nocase(dfd, name, actual, sizeof actual))) {
		if (fstatat(dfd, actual, &st, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -errno;
	}
	dirl_put_fd(dfd, owned);
	if (rc)
		return rc;
	pthread_mutex_lock(&d->lock);
	lf_ino ino = dirl_intern(d, dir, actual,
				 share_key(d, st.st_mode & S_IFMT, st.st_dev, st.st_ino));
	pthread_mutex_unlock(&d->lock);
	if (!ino)
		return -ENOMEM;
	dirl_stat_to_attr(&st, ino, out);
	return 0;
}

static int dl_readdir(struct lf_layer *l, lf_ino dir, lf_readdir_fn fn, void *ctx)
{
	struct dir_layer *d = DL(l);
	int owned;
	int dfd = dirl_dir_fd(d, dir, &owned);
	if (dfd < 0)
		return dfd;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dirl_put_fd(dfd, owned);
	if (fd < 0)
		return -errno;
	DIR *dh = fdopendir(fd);
	if (!dh) {
		close(fd);
		return -errno;
	}
	/* entries' inode numbers are the folder's device's */
	struct stat dst;
	dev_t dev = fstat(fd, &dst) == 0 ? dst.st_dev : (dev_t)-1;
	struct ent { char *name; lf_ino ino; uint32_t type; } *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct ent *nv = realloc(v, cap * sizeof *nv);
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		uint32_t type = e->d_type == DT_DIR ? S_IFDIR : e->d_type == DT_LNK ? S_IFLNK
			      : e->d_type == DT_REG ? S_IFREG : 0;
		if (e->d_type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(dirfd(dh), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				type = st.st_mode & S_IFMT;
		}
		pthread_mutex_lock(&d->lock);
		lf_ino ino = dirl_intern(d, dir, e->d_name, share_key(d, type, dev, e->d_ino));
		pthread_mutex_unlock(&d->lock);
		char *s = strdup(e->d_name);
		if (!ino || !s) {
			free(s);
			rc = -ENOMEM;
			break;
		}
		v[n++] = (struct ent){ s, ino, type };
	}
	closedir(dh);
	for (size_t i = 0; i < n; i++) {
		if (!rc && fn(ctx, v[i].name, v[i].ino, v[i].type))
			rc = 1;
		free(v[i].name);
	}
	free(v);
	return rc > 0 ? 0 : rc;
}

/* Open a node for reading (O_NOFOLLOW: a symlink is never read through). */
int dirl_open_node(struct dir_layer *d, lf_ino ino, int flags)
{
	if (ino == DIR_ROOT) {
		int fd = openat(d->root_fd, ".", flags | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	char name[NAME_MAX + 1];
	int owned;
	int dfd = dirl_parent_fd(d, ino, name, sizeof name, &owned);
	if (dfd < 0)
		return dfd;
	int fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	dirl_put_fd(dfd, owned);
	return fd < 0 ? -e : fd;
}

static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t done = 0;
	while ((size_t)done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - (size_t)done,
				  (off_t)(off + (uint64_t)done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			done = -errno;
			break;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

int dirl_open_file(struct dir_layer *d, lf_ino ino, int flags)
{
	int fd = dirl_open_node(d, ino, flags | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fd == -ELOOP ? -EINVAL : fd;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		close(fd);
		return rc;
	}
	return fd;
}

static ssize_t dl_read(struct lf_layer *l, lf_ino ino, void *buf, size_t len,
		       uint64_t off)
{
	int fd = dirl_open_file(DL(l), ino, O_RDONLY);
	if (fd < 0)
		return fd;
	ssize_t n = pread_full(fd, buf, len, off);
	close(fd);
	return n;
}

static int dl_open(struct lf_layer *l, lf_ino ino, uint64_t *fh)
{
	int fd = dirl_open_file(DL(l), ino, O_RDONLY);
	if (fd < 0)
		return fd;
	*fh = (uint64_t)fd;
	return 0;
}

static ssize_t dl_pread(struct lf_layer *l, uint64_t fh, void *buf, size_t len, uint64_t off)
{
	(void)l;
	return pread_full((int)fh, buf, len, off);
}

static void dl_willneed(struct lf_layer *l, lf_ino ino)
{
	int fd = dirl_open_node(DL(l), ino, O_RDONLY | O_NONBLOCK);
	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		close(fd);
	}
}

static void dl_release(struct lf_layer *l, uint64_t fh)
{
	(void)l;
	close((int)fh);
}

static ssize_t dl_readlink(struct lf_layer *l, lf_ino ino, char *buf,
			   size_t size, enum lf_link_kind *kind)
{
	char name[NAME_MAX + 1];
	int owned;
	int dfd = dirl_parent_fd(DL(l), ino, name, sizeof name, &owned);
	if (dfd < 0)
		return dfd;
	char target[4096];
	ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
	int e = errno;
	dirl_put_fd(dfd, owned);
	if (n < 0)
		return -e;
	target[n] = 0;
	/* A packed layer is a volume: an absolute target means from its
	 * root. In the writable layer a user made it, and means what it says. */
	if (kind)
		*kind = target[0] != '/' ? LF_LINK_RELATIVE
			: DL(l)->writable ? LF_LINK_FOREIGN : LF_LINK_ROOTED;
	if (size) {
		size_t c = (size_t)n < size - 1 ? (size_t)n : size - 1;
		memcpy(buf, target, c);
		buf[c] = 0;
	}
	return n;
}

static int open_for_xattr(struct dir_layer *d, lf_ino ino)
{
	int fd = dirl_open_node(d, ino, O_RDONLY | O_NONBLOCK);
	return fd == -ELOOP ? -ENOTSUP : fd; /* symlinks carry none here */
}

/* A host file keeps its Windows descriptor in an xattr users cannot set
 * (trusted.*, when root runs us; user.* otherwise, on the caller's own
 * files), shown under ntfs-3g's name as an NTFS layer shows it. */
#define ACL_NAME "system.ntfs_acl"
#define OWN_TRUSTED "trusted.layerfs."
#define OWN_USER "user.layerfs."

static int own_name(const char *name)
{
	return !strncmp(name, OWN_TRUSTED, sizeof OWN_TRUSTED - 1) ||
	       !strncmp(name, OWN_USER, sizeof OWN_USER - 1);
}

const char *dirl_xattr_host(const struct dir_layer *d, const char *name)
{
	if (!strcmp(name, ACL_NAME))
		return d->acl_name;
	return own_name(name) ? NULL : name;
}

static ssize_t list_shown(const char *host, ssize_t n, const struct dir_layer *d,
			  char *buf, size_t size)
{
	size_t out = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(host + i) + 1) {
		const char *name = host + i;
		if (!strcmp(name, d->acl_name))
			name = ACL_NAME;
		else if (own_name(name))
			continue;
		size_t k = strlen(name) + 1;
		if (size && out + k > size)
			return -ERANGE;
		if (size)
			memcpy(buf + out, name, k);
		out += k;
	}
	return (ssize_t)out;
}

static ssize_t dl_listxattr(struct lf_layer *l, lf_ino ino, char *buf, size_t size)
{
	int fd = open_for_xattr(DL(l), ino);
	if (fd == -ENOTSUP)
		return 0;
	if (fd < 0)
		return fd;
	ssize_t n = flistxattr(fd, NULL, 0);
	char *host = n > 0 ? malloc((size_t)n) : NULL;
	if (n > 0 && !host)
		n = -ENOMEM;
	else if (n > 0 && (n = flistxattr(fd, host, (size_t)n)) < 0)
		n = -errno;
	else if (n < 0)
		n = -errno;
	close(fd);
	if (n > 0)
		n = list_shown(host, n, DL(l), buf, size);
	free(host);
	return n;
}

static ssize_t dl_getxattr(struct lf_layer *l, lf_ino ino, const char *name,
			   void *buf, size_t size)
{
	const char *hname = dirl_xattr_host(DL(l), name);
	if (!hname)
		return -ENODATA;
	int fd = open_for_xattr(DL(l), ino);
	if (fd == -ENOTSUP)
		return -ENODATA;
	if (fd < 0)
		return fd;
	ssize_t n = fgetxattr(fd, hname, buf, size);
	int e = errno;
	close(fd);
	return n < 0 ? -e : n;
}

static void dl_close(struct lf_layer *l)
{
	struct dir_layer *d = DL(l);
	for (size_t i = 0; i < d->nnodes; i++)
		if (d->nodes[i].fd >= 0)
			close(d->nodes[i].fd);
	lf_arena_free(&d->names);
	free(d->nodes);
	free(d->slots);
	free(d->islots);
	if (d->root_fd >= 0)
		close(d->root_fd);
	pthread_mutex_destroy(&d->lock);
	free(l->path);
	free(d);
}

static const struct lf_layer_ops dir_ops = {
	.lookup = dl_lookup, .getattr = dl_getattr, .readdir = dl_readdir,
	.read = dl_read, .readlink = dl_readlink, .listxattr = dl_listxattr,
	.getxattr = dl_getxattr, .open = dl_open, .pread = dl_pread,
	.release = dl_release, .willneed = dl_willneed, .close = dl_close,
};

int lf_layer_open_dir(const char *path, struct lf_layer **out, struct lf_err *err)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	struct dir_layer *d = calloc(1, sizeof *d);
	if (d) {
		d->nodes = calloc(64, sizeof *d->nodes);
		lf_arena_init(&d->names, 65536 - 32, 65536 - 32);
	}
	if (!d || !d->nodes || !(d->base.path = strdup(path))) {
		if (d)
			free(d->nodes);
		free(d);
		close(fd);
		return lf_err_set(err, ENOMEM, "%s: out of memory", path);
	}
	d->cap = 64;
	d->nnodes = DIR_ROOT + 1;
	d->nodes[0].fd = d->nodes[DIR_ROOT].fd = -1;
	/* Leave most of the process's fds to others: an eighth each. */
	struct rlimit rl;
	d->maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		? rl.rlim_cur / 8 : 128;
	d->root_fd = fd;
	struct stat st;
	d->dev = fstat(fd, &st) == 0 ? st.st_dev : (dev_t)-1;
	pthread_mutex_init(&d->lock, NULL);
	d->acl_name = geteuid() == 0 ? OWN_TRUSTED "ntfs_acl" : OWN_USER "ntfs_acl";
	d->base.ops = &dir_ops;
	d->base.kind = "dir";
	d->base.root = DIR_ROOT;
	*out = &d->base;
	return 0;
}
