/* The `dir` backend's write side, for the writable personalization layer.
 * Every call works on a folder fd and one name (the *at() calls), so
 * paths past PATH_MAX work; a node keeps its number when it is renamed,
 * so the union can hold on to it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layer_dir_int.h"
#include "layerfs/security.h"
#include "layerfs/safe_path.h"
#include "layerfs/win_names.h"
#include "layerfs/lockcheck.h"

static int valid_name(const char *name)
{
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return strlen(name) > NAME_MAX ? -ENAMETOOLONG : 0;
}

/* Intern (dir, name) and stat it into out. */
static int intern_stat(struct dir_layer *d, int dfd, lf_ino dir, const char *name,
		 struct lf_attr *out)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	/* a file by its host inode: a new hard link is the node it links */
	lf_ino ino = dirl_intern(d, dir, name, !S_ISDIR(st.st_mode) && st.st_dev == d->dev
						? (uint64_t)st.st_ino : 0, (uint32_t)st.st_nlink);
	lf_mutex_unlock(&d->lock);
	if (!ino)
		return -ENOMEM;
	if (out)
		dirl_stat_to_attr(&st, ino, out);
	return 0;
}

/* A new entry's Windows descriptor, through its own fd (a name swapped
 * for a symlink meanwhile is refused). Symlinks keep none: they show one
 * made from their owner and mode. A host that cannot keep it (no xattrs)
 * does the same. */
static void set_new_sd(struct dir_layer *d, int dfd, const char *name, int fd, uint32_t type,
		       const struct lf_new *w)
{
	if (type == S_IFLNK)
		return;
	/* by an O_PATH handle's proc path: a new socket or FIFO is not opened */
	int nfd = fd >= 0 ? fd : openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC |
				      (type == S_IFDIR ? O_DIRECTORY : 0));
	if (nfd < 0)
		return;
	char proc[32];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", nfd);
	(void)setxattr(proc, d->acl_name, w->sd, w->sdlen, 0);
	if (nfd != fd)
		close(nfd);
}

/* The fd of folder dir, for a change of NAME in it: -EINVAL (or what
 * valid_name says) for a name no host file may have. */
static int named_dir_fd(struct dir_layer *d, lf_ino dir, const char *name, int *owned)
{
	int rc = valid_name(name);
	return rc ? rc : dirl_dir_fd(d, dir, owned);
}

static int dw_mkobj(struct lf_layer *l, lf_ino dir, const char *name,
		    const struct lf_new *w, struct lf_attr *out, uint64_t *fh)
{
	struct dir_layer *d = DL(l);
	int owned, rc = 0;
	int dfd = named_dir_fd(d, dir, name, &owned);
	if (dfd < 0)
		return dfd;
	int fd = -1;
	uint32_t type = w->mode & S_IFMT;
	mode_t perm = w->mode & 07777;
	if (type == S_IFDIR)
		rc = mkdirat(dfd, name, perm) < 0 ? -errno : 0;
	else if (type == S_IFLNK)
		rc = symlinkat(w->target, dfd, name) < 0 ? -errno : 0;
	else if (type == S_IFREG) {
		int flags = fh ? w->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_DIRECT | O_APPEND)
			       : O_WRONLY;
		fd = openat(dfd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
		rc = fd < 0 ? -errno : 0;
		/* the umask must not narrow what was asked for (a daemon
		 * running with umask 0 skips the extra call) */
		if (!rc && (perm & d->umask) && fchmod(fd, perm) < 0)
			rc = -errno;
	} else if (type == S_IFIFO || type == S_IFSOCK || type == S_IFCHR || type == S_IFBLK) {
		/* a host folder holds them as any Linux folder does */
		rc = mknodat(dfd, name, w->mode, (dev_t)w->rdev) < 0 ? -errno : 0;
		if (!rc && (perm & d->umask)) {
			int nfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			rc = nfd < 0 ? -errno : lf_safe_fchmod(nfd, perm);
			if (nfd >= 0)
				close(nfd);
		}
	} else {
		rc = -EPERM;
	}
	/* the owner asked for, unless the daemon is that owner already */
	uid_t uid = w->uid == LF_KEEP_ID || w->uid == geteuid() ? (uid_t)-1 : w->uid;
	gid_t gid = w->gid == LF_KEEP_ID || w->gid == getegid() ? (gid_t)-1 : w->gid;
	if (!rc && (uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
		rc = -errno;
	if (!rc && type == S_IFDIR && ((perm & d->umask) || (perm & 07000))) {
		/* through the folder's own fd: a name swapped for a symlink
		 * meanwhile is refused, not followed */
		int nfd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = nfd < 0 ? -errno : lf_safe_fchmod(nfd, perm);
		if (nfd >= 0)
			close(nfd);
	}
	if (!rc && w->sd)
		set_new_sd(d, dfd, name, fd, type, w);
	/* a token, an opaque marker: the union's own (users' are refused) */
	if (!rc && lf_name_reserved(name))
		dirl_mark(dfd, name, fd);
	if (!rc)
		rc = intern_stat(d, dfd, dir, name, out);
	if (rc && fd >= 0) {
		close(fd);
		fd = -1;
	}
	dirl_put_fd(dfd, owned);
	if (fh)
		*fh = (uint64_t)fd;
	else if (fd >= 0)
		close(fd);
	return rc;
}

static int dw_link(struct lf_layer *l, lf_ino ino, lf_ino dir, const char *name,
		   struct lf_attr *out)
{
	struct dir_layer *d = DL(l);
	int rc = valid_name(name);
	if (rc)
		return rc;
	char old[NAME_MAX + 1];
	int sowned, downed;
	int sfd = dirl_parent_fd(d, ino, old, sizeof old, &sowned);
	if (sfd < 0)
		return sfd;
	int dfd = dirl_dir_fd(d, dir, &downed);
	if (dfd < 0) {
		dirl_put_fd(sfd, sowned);
		return dfd;
	}
	rc = linkat(sfd, old, dfd, name, 0) < 0 ? -errno : 0;
	if (!rc)
		rc = intern_stat(d, dfd, dir, name, out);
	dirl_put_fd(sfd, sowned);
	dirl_put_fd(dfd, downed);
	return rc;
}

/* Forget (dir, name): its node goes, or lives on under another name of
 * the same file; a folder's cached fd goes with it. */
static void forget_name(struct dir_layer *d, lf_ino dir, const char *name)
{
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	dirl_forget(d, dir, name);
	lf_mutex_unlock(&d->lock);
}

/* Remove the tree under folder fd dfd's entry name (in layer folder dir),
 * depth first; the layer forgets each name it removes (a host inode freed
 * here may come back for another file). */
static int remove_tree(struct dir_layer *d, int dfd, lf_ino dir, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOTDIR && errno != ELOOP)
			return -errno;
		int rc = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
		if (!rc && dir)
			forget_name(d, dir, name);
		return rc;
	}
	DIR *dh = fdopendir(fd);
	if (!dh) {
		close(fd);
		return -errno;
	}
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	lf_ino self = dir ? dirl_find(d, dir, name, 0) : 0;
	lf_mutex_unlock(&d->lock);
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) {
			rc = remove_tree(d, dirfd(dh), self, e->d_name);
		} else if (unlinkat(dirfd(dh), e->d_name, 0) < 0) {
			rc = -errno;
		} else if (self) {
			forget_name(d, self, e->d_name);
		}
	}
	closedir(dh);
	if (!rc && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	return rc;
}

static int dw_remove(struct lf_layer *l, lf_ino dir, const char *name, int how)
{
	struct dir_layer *d = DL(l);
	int owned, rc = 0;
	int dfd = named_dir_fd(d, dir, name, &owned);
	if (dfd < 0)
		return dfd;
	if (how == LF_RM_TREE)
		rc = remove_tree(d, dfd, dir, name);
	else
		rc = unlinkat(dfd, name, how == LF_RM_DIR ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
	dirl_put_fd(dfd, owned);
	if (!rc)
		forget_name(d, dir, name);
	return rc;
}

static int dw_rename(struct lf_layer *l, lf_ino dir, const char *name, lf_ino newdir,
		     const char *newname, unsigned flags)
{
	struct dir_layer *d = DL(l);
	int rc = valid_name(name);
	if (!rc)
		rc = valid_name(newname);
	if (rc)
		return rc;
	int o1, o2;
	int fd1 = dirl_dir_fd(d, dir, &o1);
	if (fd1 < 0)
		return fd1;
	int fd2 = dirl_dir_fd(d, newdir, &o2);
	if (fd2 < 0) {
		dirl_put_fd(fd1, o1);
		return fd2;
	}
	rc = renameat2(fd1, name, fd2, newname, flags) < 0 ? -errno : 0;
	dirl_put_fd(fd1, o1);
	dirl_put_fd(fd2, o2);
	if (rc)
		return rc;
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	/* the names themselves (an alias is a name of its own) */
	lf_ino src = dirl_find(d, dir, name, 1);
	lf_ino dst = dirl_find(d, newdir, newname, 1);
	lf_ino srcn = src ? dirl_find(d, dir, name, 0) : 0;
	lf_ino dstn = dst ? dirl_find(d, newdir, newname, 0) : 0;
	if (!src) {
		/* a name the layer never saw: nothing to move */
		if (dst && !(flags & RENAME_EXCHANGE))
			dirl_forget(d, newdir, newname);
	} else if (src == dst || (srcn == dstn && !(flags & RENAME_EXCHANGE))) {
		rc = 0;  /* a name onto itself, or onto another name of its file:
			  * the host moved nothing */
	} else if (flags & RENAME_EXCHANGE) {
		if (dst)
			dirl_unhash(d, dst);
		rc = dirl_rehash(d, src, newdir, newname);
		if (!rc && dst)
			rc = dirl_rehash(d, dst, dir, name);
	} else {
		if (dst)
			dirl_forget(d, newdir, newname);  /* what the new name held is gone */
		rc = dirl_rehash(d, src, newdir, newname);
	}
	lf_mutex_unlock(&d->lock);
	return rc;
}

/* Set what valid says on node fd (O_PATH will do: it is never reopened,
 * so a device or FIFO is not opened and a symlink is never followed); st
 * is its fstat; (dfd, name) names it, for a symlink's times. */
static int set_on_fd(int fd, const struct stat *st, int dfd, const char *name,
		     const struct lf_attr *a, unsigned valid)
{
	int rc = 0;
	int link = S_ISLNK(st->st_mode);
	if (valid & LF_SET_MODE) {
		rc = lf_safe_fchmod(fd, a->mode & 07777);
		if (rc == -ELOOP)
			rc = -EOPNOTSUPP;        /* as chmod of a symlink is on Linux */
	}
	if (!rc && (valid & (LF_SET_UID | LF_SET_GID))) {
		uid_t uid = valid & LF_SET_UID ? a->uid : (uid_t)-1;
		gid_t gid = valid & LF_SET_GID ? a->gid : (gid_t)-1;
		rc = fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0 ? -errno : 0;
	}
	if (!rc && (valid & (LF_SET_ATIME | LF_SET_MTIME | LF_SET_ATIME_NOW | LF_SET_MTIME_NOW))) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
		if (valid & LF_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (valid & LF_SET_ATIME)
			ts[0] = a->atime;
		if (valid & LF_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (valid & LF_SET_MTIME)
			ts[1] = a->mtime;
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		/* the /proc link reaches this very inode; a symlink's own
		 * times only by its name, never followed */
		rc = (link ? utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW)
			   : utimensat(AT_FDCWD, proc, ts, 0)) < 0 ? -errno : 0;
	}
	return rc;
}

static int dw_setattr(struct lf_layer *l, lf_ino ino, const uint64_t *fh,
		      const struct lf_attr *a, unsigned valid, struct lf_attr *out)
{
	struct dir_layer *d = DL(l);
	int fd = fh ? (int)*fh : -1;
	int rc = 0;
	/* Through a handle: its /proc/self/fd link reaches the file even when
	 * no name does (an O_PATH handle takes no fchmod or ftruncate). */
	char proc[64];
	if (fd >= 0)
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if (valid & LF_SET_SIZE) {
		int tfd = fd >= 0 ? open(proc, O_WRONLY | O_CLOEXEC) : dirl_open_file(d, ino, O_WRONLY);
		if (tfd < 0)
			return fd >= 0 ? -errno : tfd;
		rc = ftruncate(tfd, (off_t)a->size) < 0 ? -errno : 0;
		close(tfd);
		if (rc)
			return rc;
	}
	char name[NAME_MAX + 1];
	int owned = 0, dfd, nfd = -1;
	struct stat nst;
	if (fd >= 0) {
		dfd = AT_FDCWD;
		rc = fstat(fd, &nst) < 0 ? -errno : set_on_fd(fd, &nst, AT_FDCWD, proc, a, valid);
	} else if (ino == DIR_ROOT) {
		dfd = d->root_fd;
		rc = fstat(dfd, &nst) < 0 ? -errno : set_on_fd(dfd, &nst, dfd, ".", a, valid);
	} else {
		dfd = dirl_parent_fd(d, ino, name, sizeof name, &owned);
		if (dfd < 0)
			return dfd;
		nfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		rc = nfd < 0 || fstat(nfd, &nst) < 0 ? -errno
		     : set_on_fd(nfd, &nst, dfd, name, a, valid);
		if (nfd >= 0)
			close(nfd);
	}
	struct stat st;
	if (!rc && (fd >= 0 ? fstat(fd, &st)
		    : fstatat(dfd, dfd == d->root_fd ? "." : name, &st, AT_SYMLINK_NOFOLLOW)) < 0)
		rc = -errno;
	if (!rc && out)
		dirl_stat_to_attr(&st, ino, out);
	if (dfd >= 0 && dfd != d->root_fd)
		dirl_put_fd(dfd, owned);
	return rc;
}

/* An fd to change a node's xattrs through (by its proc path); symlinks
 * carry none. */
static int xattr_fd(struct dir_layer *d, lf_ino ino, char proc[32])
{
	int fd = dirl_xattr_fd(d, ino, proc);
	return fd == -ELOOP ? -EPERM : fd;
}

static int dw_setxattr(struct lf_layer *l, lf_ino ino, const char *name,
		       const void *value, size_t size, int flags)
{
	const char *hname = dirl_xattr_host(DL(l), name);
	if (!hname)
		return -EPERM;
	if (hname == DL(l)->attrib_name && size != 4)
		return -EINVAL;          /* FILE_ATTRIBUTE_* bits, 32 of them */
	if (hname == DL(l)->acl_name && lf_sd_check(value, size, NULL))
		return -EINVAL;          /* only a descriptor that reads back */
	char proc[32];
	int fd = xattr_fd(DL(l), ino, proc);
	if (fd < 0)
		return fd;
	int rc = setxattr(proc, hname, value, size, flags) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int dw_removexattr(struct lf_layer *l, lf_ino ino, const char *name)
{
	const char *hname = dirl_xattr_host(DL(l), name);
	if (!hname)
		return -EPERM;
	char proc[32];
	int fd = xattr_fd(DL(l), ino, proc);
	if (fd < 0)
		return fd;
	int rc = removexattr(proc, hname) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int dw_open_rw(struct lf_layer *l, lf_ino ino, int flags, uint64_t *fh)
{
	/* the kernel has created, and computes append offsets itself;
	 * O_DIRECT would bind our buffers to its alignment */
	int fd = dirl_open_file(DL(l), ino, flags & ~(O_CREAT | O_EXCL | O_DIRECT | O_APPEND));
	if (fd < 0)
		return fd;
	*fh = (uint64_t)fd;
	return 0;
}

static ssize_t dw_pwrite(struct lf_layer *l, uint64_t fh, const void *buf, size_t len,
			 uint64_t off)
{
	(void)l;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite((int)fh, (const char *)buf + done, len - done,
				   (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return done ? (ssize_t)done : -errno;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int dw_fsync(struct lf_layer *l, uint64_t fh, int datasync)
{
	(void)l;
	return (datasync ? fdatasync((int)fh) : fsync((int)fh)) < 0 ? -errno : 0;
}

static int dw_fallocate(struct lf_layer *l, uint64_t fh, int mode, uint64_t off, uint64_t len)
{
	(void)l;
	return fallocate((int)fh, mode, (off_t)off, (off_t)len) < 0 ? -errno : 0;
}

static int dw_fgetattr(struct lf_layer *l, uint64_t fh, struct lf_attr *out)
{
	(void)l;
	struct stat st;
	if (fstat((int)fh, &st) < 0)
		return -errno;
	dirl_stat_to_attr(&st, 0, out);
	return 0;
}

static int dw_hold(struct lf_layer *l, lf_ino ino, uint64_t *fh)
{
	int fd = dirl_open_node(DL(l), ino, O_PATH);
	if (fd < 0)
		return fd;
	*fh = (uint64_t)fd;
	return 0;
}

static int dw_statfs(struct lf_layer *l, struct statvfs *out)
{
	return fstatvfs(DL(l)->root_fd, out) < 0 ? -errno : 0;
}

void dirl_write_ops(struct lf_layer_ops *ops)
{
	ops->mkobj = dw_mkobj;
	ops->link = dw_link;
	ops->remove = dw_remove;
	ops->rename = dw_rename;
	ops->setattr = dw_setattr;
	ops->setxattr = dw_setxattr;
	ops->removexattr = dw_removexattr;
	ops->open_rw = dw_open_rw;
	ops->pwrite = dw_pwrite;
	ops->fsync = dw_fsync;
	ops->fallocate = dw_fallocate;
	ops->fgetattr = dw_fgetattr;
	ops->hold = dw_hold;
	ops->statfs = dw_statfs;
}

/* Empty the work folder: temporaries a killed daemon left behind. */
static int empty_work(struct dir_layer *d, int wfd, const char *path, struct lf_err *err)
{
	int fd = openat(wfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dh = fd < 0 ? NULL : fdopendir(fd);
	if (!dh) {
		if (fd >= 0)
			close(fd);
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	}
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(dh))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = remove_tree(d, dirfd(dh), 0, e->d_name);
		if (rc)
			lf_err_set(err, -rc, "%s/%s: cannot remove a left-over temporary: %s",
				   path, e->d_name, strerror(-rc));
	}
	closedir(dh);
	return rc;
}

int lf_layer_open_upper(const char *path, const char *workdir, struct lf_layer **out,
			struct lf_err *err)
{
	struct lf_layer *l;
	int rc = lf_layer_open_dir(path, &l, err);
	if (rc)
		return rc;
	struct dir_layer *d = DL(l);
	char defwork[PATH_MAX];
	struct stat up, wst;
	int wfd = -1;
	if (faccessat(d->root_fd, ".", W_OK, AT_EACCESS) < 0) {
		rc = lf_err_set(err, errno, "%s: cannot write here: %s", path, strerror(errno));
		goto fail;
	}
	if (!workdir) {
		if (mkdirat(d->root_fd, LF_WORK_NAME, 0700) < 0 && errno != EEXIST) {
			rc = lf_err_set(err, errno, "%s/%s: %s", path, LF_WORK_NAME, strerror(errno));
			goto fail;
		}
		snprintf(defwork, sizeof defwork, "%s/%s", path, LF_WORK_NAME);
		workdir = defwork;
	}
	/* the default one through the layer's own fd: the folder opened
	 * above, not whatever a swap put at that path meanwhile */
	wfd = workdir == defwork ? lf_safe_open(d->root_fd, LF_WORK_NAME, O_RDONLY | O_DIRECTORY, 0)
				 : open(workdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (wfd < 0 && workdir == defwork) {
		errno = -wfd;            /* lf_safe_open says -errno */
		wfd = -1;
	}
	if (wfd < 0) {
		rc = lf_err_set(err, errno, "%s: work folder: %s", workdir,
				errno == ELOOP ? "a symlink: refused (never followed)" : strerror(errno));
		goto fail;
	}
	if (fstat(d->root_fd, &up) < 0 || fstat(wfd, &wst) < 0 || up.st_dev != wst.st_dev) {
		rc = lf_err_set(err, EXDEV, "%s: the work folder must be on the file system of %s",
				workdir, path);
		goto fail;
	}
	rc = empty_work(d, wfd, workdir, err);
	if (rc)
		goto fail;
	lf_mutex_lock(&d->lock, LF_LK_LAYER);
	lf_ino work = dirl_intern(d, DIR_ROOT, LF_WORK_NAME, 0, 0);
	if (work) {
		/* reached only through its own fd, never by name */
		dirl_unhash(d, work);
		dirl_node(d, work)->parent = 0;
		dirl_node(d, work)->fd = wfd;
		wfd = -1;
	}
	lf_mutex_unlock(&d->lock);
	if (!work) {
		rc = lf_err_set(err, ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	/* its full name: `layerctl reset` finds the mount by it */
	char *full = realpath(path, NULL);
	if (full) {
		free(l->path);
		l->path = full;
	}
	/* a layer made before the union marked its tokens: marked now,
	 * once, so nothing they hide comes back */
	if (!d->tokens_marked) {
		long n = dirl_tokens_convert(d->root_fd);
		if (n < 0) {
			rc = lf_err_set(err, (int)-n, "%s: cannot mark its delete tokens as the "
					"union's: %s", path, strerror((int)-n));
			goto fail;
		}
		d->tokens_marked = 1;
	}
	d->writable = 1;
	d->umask = umask(0);
	umask(d->umask);
	d->rw_ops = *l->ops;
	dirl_write_ops(&d->rw_ops);
	l->ops = &d->rw_ops;
	l->work = work;
	*out = l;
	return 0;
fail:
	if (wfd >= 0)
		close(wfd);
	lf_layer_close(l);
	return rc;
}
