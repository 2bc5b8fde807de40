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
#include "layerfs/win_names.h"
#include "layer_dir_int.h"
#include "layerfs/lockcheck.h"



/* The host inode to share a node by, or 0: non-folders on the root's
 * device (another device's numbers are its own). */
static uint64_t share_key(const struct dir_layer *d, uint32_t type, dev_t dev, uint64_t hino)
{
	return type && !S_ISDIR(type) && dev == d->dev ? hino : 0;
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
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	struct dnode *n = dirl_node(d, ino);
	if (!n) {
		lf_mutex_unlock(&d->lock);
		return -ESTALE;
	}
	int fd = n->fd;
	lf_ino parent = n->parent;
	snprintf(name, sizeof name, "%s", n->name);
	lf_mutex_unlock(&d->lock);
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
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	n = dirl_node(d, ino);
	if (n && n->fd >= 0) {                  /* another thread was first */
		close(fd);
		fd = n->fd;
	} else if (n && d->nfds < d->maxfds) {
		n->fd = fd;
		d->nfds++;
	} else {
		*owned = 1;
	}
	lf_mutex_unlock(&d->lock);
	return fd;
}

/* The parent folder's fd and the node's name (copied into name). */
int dirl_parent_fd(struct dir_layer *d, lf_ino ino, char *name, size_t size, int *owned)
{
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	struct dnode *x = ino == DIR_ROOT ? NULL : dirl_node(d, ino);
	if (!x) {
		lf_mutex_unlock(&d->lock);
		return -ESTALE;
	}
	lf_ino parent = x->parent;
	size_t n = strlen(x->name);
	if (n >= size) {
		lf_mutex_unlock(&d->lock);
		return -ENAMETOOLONG;
	}
	memcpy(name, x->name, n + 1);
	lf_mutex_unlock(&d->lock);
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
	if (!rc && d->tokens_marked && lf_name_reserved(actual) && !dirl_made_by_union(dfd, actual))
		rc = -ENOENT;
	dirl_put_fd(dfd, owned);
	if (rc)
		return rc;
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	lf_ino ino = dirl_intern(d, dir, actual,
				 share_key(d, st.st_mode & S_IFMT, st.st_dev, st.st_ino),
				 (uint32_t)st.st_nlink);
	lf_mutex_unlock(&d->lock);
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
		/* a ".wh." name the union did not make is nobody's token */
		if (d->tokens_marked && lf_name_reserved(e->d_name) &&
		    !dirl_made_by_union(dirfd(dh), e->d_name))
			continue;
		uint32_t type = e->d_type == DT_DIR ? S_IFDIR : e->d_type == DT_LNK ? S_IFLNK
			      : e->d_type == DT_REG ? S_IFREG : 0;
		if (e->d_type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(dirfd(dh), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				type = st.st_mode & S_IFMT;
		}
		lf_mutex_lock(&d->lock, LF_LK_LAYER);
		lf_ino ino = dirl_intern(d, dir, e->d_name, share_key(d, type, dev, e->d_ino), 0);
		lf_mutex_unlock(&d->lock);
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

static int dl_data(struct lf_layer *l, uint64_t fh, uint64_t off, uint64_t *data,
		   uint64_t *hole)
{
	(void)l;
	off_t d = lseek((int)fh, (off_t)off, SEEK_DATA);
	if (d < 0)
		return -errno;
	off_t h = lseek((int)fh, d, SEEK_HOLE);
	if (h < 0)
		return -errno;
	*data = (uint64_t)d;
	*hole = (uint64_t)h;
	return 0;
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

int dirl_xattr_fd(struct dir_layer *d, lf_ino ino, char proc[32])
{
	int fd = dirl_open_node(d, ino, O_PATH);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
		close(fd);
		return -ELOOP;
	}
	if (fd >= 0)
		snprintf(proc, 32, "/proc/self/fd/%d", fd);
	return fd;
}

static int open_for_xattr(struct dir_layer *d, lf_ino ino, char proc[32])
{
	int fd = dirl_xattr_fd(d, ino, proc);
	return fd == -ELOOP ? -ENOTSUP : fd; /* symlinks carry none here */
}

/* A host file keeps its Windows descriptor in an xattr users cannot set
 * (trusted.*, when root runs us; user.* otherwise, on the caller's own
 * files), shown under ntfs-3g's name as an NTFS layer shows it. */
#define ACL_NAME "system.ntfs_acl"
/* and its Windows attributes (hidden, system, ...: a copy-up keeps them) */
#define ATTRIB_NAME "system.ntfs_attrib"
/* and an NTFS file's extended attributes and object ID, as copied up */
#define EA_NAME "system.ntfs_ea"
#define OBJID_NAME "system.ntfs_object_id"
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
	if (!strcmp(name, ATTRIB_NAME))
		return d->attrib_name;
	if (!strcmp(name, EA_NAME))
		return d->ea_name;
	if (!strcmp(name, OBJID_NAME))
		return d->objid_name;
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
		else if (!strcmp(name, d->attrib_name))
			name = ATTRIB_NAME;
		else if (!strcmp(name, d->ea_name))
			name = EA_NAME;
		else if (!strcmp(name, d->objid_name))
			name = OBJID_NAME;
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
	char proc[32];
	int fd = open_for_xattr(DL(l), ino, proc);
	if (fd == -ENOTSUP)
		return 0;
	if (fd < 0)
		return fd;
	ssize_t n = listxattr(proc, NULL, 0);
	char *host = n > 0 ? malloc((size_t)n) : NULL;
	if (n > 0 && !host)
		n = -ENOMEM;
	else if (n > 0 && (n = listxattr(proc, host, (size_t)n)) < 0)
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
	char proc[32];
	int fd = open_for_xattr(DL(l), ino, proc);
	if (fd == -ENOTSUP)
		return -ENODATA;
	if (fd < 0)
		return fd;
	ssize_t n = getxattr(proc, hname, buf, size);
	int e = errno;
	close(fd);
	return n < 0 ? -e : n;
}

static void dl_close(struct lf_layer *l)
{
	struct dir_layer *d = DL(l);
	dirl_nodes_free(d);
	if (d->root_fd >= 0)
		close(d->root_fd);
	pthread_mutex_destroy(&d->lock);
	free(l->path);
	free(d);
}

static const struct lf_layer_ops dir_ops = {
	.lookup = dl_lookup, .getattr = dl_getattr, .readdir = dl_readdir,
	.read = dl_read, .readlink = dl_readlink, .listxattr = dl_listxattr,
	.getxattr = dl_getxattr, .open = dl_open, .pread = dl_pread, .data = dl_data,
	.release = dl_release, .willneed = dl_willneed, .close = dl_close,
	.gc_mark = dirl_gc_mark, .gc_sweep = dirl_gc_sweep, .gc_count = dirl_gc_count,
};

int lf_layer_open_dir(const char *path, struct lf_layer **out, struct lf_err *err)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	struct dir_layer *d = calloc(1, sizeof *d);
	if (!d || dirl_nodes_init(d) || !(d->base.path = strdup(path))) {
		if (d)
			dirl_nodes_free(d);
		free(d);
		close(fd);
		return lf_err_set(err, ENOMEM, "%s: out of memory", path);
	}
	/* Leave most of the process's fds to others: an eighth each. */
	struct rlimit rl;
	d->maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		? rl.rlim_cur / 8 : 128;
	d->root_fd = fd;
	struct stat st;
	d->dev = fstat(fd, &st) == 0 ? st.st_dev : (dev_t)-1;
	pthread_mutex_init(&d->lock, NULL);
	d->acl_name = geteuid() == 0 ? OWN_TRUSTED "ntfs_acl" : OWN_USER "ntfs_acl";
	d->attrib_name = geteuid() == 0 ? OWN_TRUSTED "ntfs_attrib" : OWN_USER "ntfs_attrib";
	d->ea_name = geteuid() == 0 ? OWN_TRUSTED "ntfs_ea" : OWN_USER "ntfs_ea";
	d->objid_name = geteuid() == 0 ? OWN_TRUSTED "ntfs_object_id" : OWN_USER "ntfs_object_id";
	d->tokens_marked = dirl_tokens_noted(fd);
	d->base.ops = &dir_ops;
	d->base.kind = "dir";
	d->base.root = DIR_ROOT;
	*out = &d->base;
	return 0;
}
