/* A session's folders on the host, made and checked as root through
 * directory fds (never by a path a user could have bent): the
 * personalization layer in the repository, and RUN/USER with its mount
 * points. A user never needs the host copy of her layer (she writes
 * through her mounts), so REPO/Users and each REPO/Users/USER are root's
 * and closed (0700): nobody but root can plant a link in there, or read
 * another's files. Folders that older versions gave the user are taken
 * back at login. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerd_int.h"
#include "layerfs/safe_path.h"

/* fd is a folder of root's with this mode (made so if it was not). */
static int take_root(struct daemon *d, int fd, mode_t mode, const char *what, struct lf_err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lf_err_set(err, errno, "%s: %s", what, strerror(errno));
	if (st.st_uid == 0 && st.st_gid == 0 && (st.st_mode & 07777) == mode)
		return 0;
	if ((st.st_uid || st.st_gid) && fchown(fd, 0, 0) < 0)
		return lf_err_set(err, errno, "%s: cannot make it root's: %s (a share that squashes "
				  "root cannot hold it)", what, strerror(errno));
	if (fchmod(fd, mode) < 0)
		return lf_err_set(err, errno, "%s: %s", what, strerror(errno));
	/* root's own may stay as they are: nothing to say of a mode alone */
	if (st.st_uid || st.st_gid)
		d->log("%s: was %04o %u:%u, now root's and %04o (users reach their layer through "
		       "their mounts only)", what, (unsigned)(st.st_mode & 07777),
		       (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)mode);
	return 0;
}

static int refused(struct lf_err *err, const char *what, int rc)
{
	return lf_err_set(err, -rc, "%s: %s", what,
			  rc == -ELOOP ? "a symlink: refused (root never follows links in a "
					 "user's tree)"
			  : rc == -ENOTDIR ? "not a folder: refused" : strerror(-rc));
}

/* The folder NAME in dirfd (made with mode, owner uid:gid, if missing). */
static int folder(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid,
		  const char *what, struct lf_err *err)
{
	int fd = lf_safe_mkdirs(dirfd, name, mode, uid, gid);
	if (fd < 0)
		refused(err, what, fd);
	return fd;
}

/* The folder NAME in dirfd, root's with this mode (made, or taken back). */
static int root_folder(struct daemon *d, int dirfd, const char *name, mode_t mode,
		       const char *what, struct lf_err *err)
{
	int fd = folder(dirfd, name, mode, 0, 0, what, err);
	if (fd >= 0 && take_root(d, fd, mode, what, err)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int upper_prepare(struct daemon *d, const char *root, const char *rel, const char *user,
		  uid_t uid, gid_t gid, int *lockfd, struct lf_err *err)
{
	char what[4200];
	/* rel is "Users/USER/ID" (repo_resolve.c) */
	char users[256], id[256];
	if (sscanf(rel, "Users/%255[^/]/%255[^/]", users, id) != 2)
		return lf_err_set(err, EINVAL, "%s: not Users/USER/ID", rel);
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return lf_err_set(err, errno, "%s: %s", root, strerror(errno));
	snprintf(what, sizeof what, "%s/Users", root);
	int ufd = root_folder(d, rfd, "Users", 0700, what, err);
	close(rfd);
	if (ufd < 0)
		return -1;
	snprintf(what, sizeof what, "%s/Users/%s", root, users);
	int hfd = root_folder(d, ufd, users, 0700, what, err);
	close(ufd);
	if (hfd < 0)
		return -1;
	/* the layer's root is hers and closed: C:\ shows as hers, and the
	 * mount is no one else's to enter */
	snprintf(what, sizeof what, "%s/%s", root, rel);
	int up = folder(hfd, id, 0700, uid, gid, what, err);
	close(hfd);
	struct stat st;
	if (up >= 0 && fstat(up, &st) == 0 && (st.st_mode & 077) && fchmod(up, st.st_mode & 07700)) {
		lf_err_set(err, errno, "%s: %s", what, strerror(errno));
		close(up);
		return -1;
	}
	if (up < 0)
		return -1;
	/* her profile folder, C:\Users\USER, as Windows makes it at a first
	 * login (C:\Users as the layers have it) */
	snprintf(what, sizeof what, "%s/%s/Users", root, rel);
	int pfd = folder(up, "Users", 0755, 0, 0, what, err);
	snprintf(what, sizeof what, "%s/%s/Users/%s", root, rel, user);
	int hers = pfd < 0 ? -1 : lf_safe_open(pfd, user, O_PATH | O_DIRECTORY, 0);
	if (pfd >= 0 && hers == -ENOENT)
		hers = folder(pfd, user, 0700, uid, gid, what, err);
	else if (pfd >= 0 && hers < 0)
		refused(err, what, hers);
	if (pfd >= 0)
		close(pfd);
	if (hers < 0) {
		close(up);
		return -1;
	}
	close(hers);
	/* the session lock: made or opened here, never through a link */
	int lk = lf_safe_open(up, LF_SESSION_LOCK, O_RDWR | O_CREAT, 0600);
	if (lk < 0) {
		snprintf(what, sizeof what, "%s/%s/%s", root, rel, LF_SESSION_LOCK);
		refused(err, what, lk);
		close(up);
		return -1;
	}
	if (flock(lk, LOCK_EX | LOCK_NB) < 0) {
		close(lk);
		close(up);
		return lf_err_set(err, EBUSY, "%s/%s: in use by another session (logged in on another "
				  "host?)", root, rel);
	}
	*lockfd = lk;
	return up;
}

int run_prepare(struct daemon *d, const char *run, const char *user, struct lf_err *err)
{
	/* RUN itself is the admin's (layerd's --run): made by path */
	if (lf_mkdirs(run, 0755, 0, 0, err))
		return -1;
	int rfd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return lf_err_set(err, errno, "%s: %s", run, strerror(errno)), -1;
	char what[4200];
	snprintf(what, sizeof what, "%s/%s", run, user);
	/* RUN/USER and the mount points in it are root's: mount(2) takes a
	 * path, and a user who owned them could swap C for a link to /etc in
	 * between. The mounts' own roots are hers and closed (0700), so no
	 * one else gets in. */
	int ufd = root_folder(d, rfd, user, 0755, what, err);
	close(rfd);
	if (ufd < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++) {
		snprintf(what, sizeof what, "%s/%s/%s", run, user, i ? "REG" : "C");
		int fd = root_folder(d, ufd, i ? "REG" : "C", 0755, what, err);
		rc = fd < 0 ? -1 : 0;
		if (fd >= 0)
			close(fd);
	}
	close(ufd);
	return rc;
}
