/* The floor a FUSE file system stands on, for benchmarks (issue 11): one
 * host folder shown through the low-level API with nothing else done, the
 * way layerfs serves a walk (readdirplus, the same timeouts, a node per
 * host inode, resolved by its path below the source). A cold find through it costs what any
 * FUSE server pays in round trips and context switches; layerfs's distance
 * to kernel overlayfs is measured against it. Reads are served too, so
 * tar can be timed. Not a file system to use: read-only, no xattrs.
 *   fuse-floor [-f] SOURCE MOUNTPOINT */
#define FUSE_USE_VERSION 312
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLOTS (1u << 20)
#define TIMEOUT 86400.0

/* A node is its host inode, named by its parent and a name: no fd held
 * (a Windows tree has more folders than a process may hold fds), so each
 * call resolves a path below the source, as a path-keeping server does. */
struct node {
	dev_t dev;
	ino_t ino;
	uint64_t lookups;        /* the kernel's, plus one per child node */
	struct node *parent, *next;
	char name[];
};

static struct node *root;
static int root_fd;
static struct node **table;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct node *node_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? root : (struct node *)(uintptr_t)ino;
}

static size_t slot(dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) ^ dev) % SLOTS;
}

/* n's path below the source ("." for the root). */
static void path_of(const struct node *n, char *buf, size_t size)
{
	const struct node *up[256];
	int k = 0;
	for (; n && n != root && k < 256; n = n->parent)
		up[k++] = n;
	size_t used = (size_t)snprintf(buf, size, ".");
	while (k-- > 0 && used < size)
		used += (size_t)snprintf(buf + used, size - used, "/%s", up[k]->name);
}

static void node_put(struct node *x, uint64_t n)
{
	while (x && x != root) {
		pthread_mutex_lock(&lock);
		struct node *parent = NULL;
		if ((x->lookups -= n) == 0) {
			struct node **s = &table[slot(x->dev, x->ino)];
			while (*s != x)
				s = &(*s)->next;
			*s = x->next;
			parent = x->parent;
			free(x);
		}
		pthread_mutex_unlock(&lock);
		x = parent;              /* the child's hold on its parent goes */
		n = 1;
	}
}

/* name in parent (open as pfd, or -1): its attributes and a held node. */
static int do_lookup_at(struct node *parent, int pfd, const char *name, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	int own = -1;
	if (pfd < 0 && parent != root) {
		char path[PATH_MAX];
		path_of(parent, path, sizeof path);
		if ((pfd = own = openat(root_fd, path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			return errno;
	}
	int rc = fstatat(pfd < 0 ? root_fd : pfd, name, &e->attr, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
	if (own >= 0)
		close(own);
	if (rc)
		return rc;
	pthread_mutex_lock(&lock);
	struct node **s = &table[slot(e->attr.st_dev, e->attr.st_ino)], *n;
	for (n = *s; n && !(n->dev == e->attr.st_dev && n->ino == e->attr.st_ino); n = n->next)
		;
	if (!n) {
		if (!(n = calloc(1, sizeof *n + strlen(name) + 1))) {
			pthread_mutex_unlock(&lock);
			return ENOMEM;
		}
		n->dev = e->attr.st_dev;
		n->ino = e->attr.st_ino;
		n->parent = parent;
		strcpy(n->name, name);
		n->next = *s;
		*s = n;
		if (parent != root)
			parent->lookups++;
	}
	n->lookups++;
	pthread_mutex_unlock(&lock);
	e->ino = (fuse_ino_t)(uintptr_t)n;
	e->attr_timeout = e->entry_timeout = TIMEOUT;
	return 0;
}

static void fl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = do_lookup_at(node_of(parent), -1, name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void forget_one(fuse_ino_t ino, uint64_t n)
{
	node_put(node_of(ino), n);
}

static void fl_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	forget_one(ino, n);
	fuse_reply_none(req);
}

static void fl_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		forget_one(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void fl_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	char path[PATH_MAX];
	path_of(node_of(ino), path, sizeof path);
	if (fstatat(root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

static void fl_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[4096], path[PATH_MAX];
	path_of(node_of(ino), path, sizeof path);
	ssize_t n = readlinkat(root_fd, path, buf, sizeof buf - 1);
	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[n] = 0;
	fuse_reply_readlink(req, buf);
}

static int reopen(fuse_ino_t ino, int flags)
{
	char path[PATH_MAX];
	path_of(node_of(ino), path, sizeof path);
	return openat(root_fd, path, flags | O_NOFOLLOW | O_CLOEXEC);
}

static void fl_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = reopen(ino, O_RDONLY | O_DIRECTORY);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void fl_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	seekdir(d, off);
	for (;;) {
		long here = telldir(d);
		struct dirent *de = readdir(d);
		if (!de)
			break;
		struct fuse_entry_param e = { .attr.st_ino = de->d_ino };
		int dots = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
		if (!dots && do_lookup_at(node_of(ino), dirfd(d), de->d_name, &e))
			continue;
		size_t len = fuse_add_direntry_plus(req, buf + used, size - used, de->d_name, &e,
						    telldir(d));
		if (len > size - used) {
			if (!dots)
				forget_one(e.ino, 1);
			seekdir(d, here);
			break;
		}
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fl_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	closedir((DIR *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = reopen(ino, O_RDONLY);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void fl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	struct fuse_bufvec v = FUSE_BUFVEC_INIT(size);
	v.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	v.buf[0].fd = (int)fi->fh;
	v.buf[0].pos = off;
	fuse_reply_data(req, &v, FUSE_BUF_SPLICE_MOVE);
}

static void fl_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = fl_lookup, .forget = fl_forget, .forget_multi = fl_forget_multi,
	.getattr = fl_getattr, .readlink = fl_readlink, .opendir = fl_opendir,
	.readdirplus = fl_readdirplus, .releasedir = fl_releasedir, .open = fl_open,
	.read = fl_read, .release = fl_release,
};

int main(int argc, char **argv)
{
	int fg = argc > 1 && !strcmp(argv[1], "-f");
	if (argc - fg != 3) {
		fprintf(stderr, "usage: fuse-floor [-f] SOURCE MOUNTPOINT\n");
		return 2;
	}
	const char *src = argv[1 + fg], *mnt = argv[2 + fg];
	if ((root_fd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(table = calloc(SLOTS, sizeof *table)) || !(root = calloc(1, sizeof *root + 1))) {
		perror(src);
		return 1;
	}
	char *fargs[] = { argv[0], "-o", "ro,default_permissions,fsname=fuse-floor", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargs);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (!se || fuse_session_mount(se, mnt)) {
		fprintf(stderr, "fuse-floor: %s: cannot mount\n", mnt);
		return 1;
	}
	fuse_daemonize(fg);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(cfg, 16);
	int rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc < 0;
}
