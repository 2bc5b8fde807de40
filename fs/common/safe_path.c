/* Walking beneath a directory fd, never through a symlink (safe_path.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layerfs/safe_path.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static int bad_path(const char *rel)
{
	if (!*rel || *rel == '/')
		return 1;
	for (const char *p = rel; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && !strncmp(p, "..", 2))
			return 1;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* Before openat2: one component at a time, O_NOFOLLOW each. */
static int open_by_parts(int dirfd, const char *rel, int flags, mode_t mode)
{
	char part[256];
	int fd = dirfd;
	const char *p = rel;
	for (;;) {
		while (*p == '/')
			p++;
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		while (e && e[1] == '/')
			e++;
		int last = !e || !e[1];
		if (n >= sizeof part) {
			if (fd != dirfd)
				close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(part, p, n);
		part[n] = 0;
		int nfd = last ? openat(fd, part, flags | O_NOFOLLOW | O_CLOEXEC, mode)
			       : openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e2 = errno;
		struct stat st;
		/* a symlink where a folder should be says ENOTDIR: say ELOOP */
		if (nfd < 0 && e2 == ENOTDIR && fstatat(fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			e2 = ELOOP;
		if (fd != dirfd)
			close(fd);
		if (nfd < 0)
			return -e2;
		if (last)
			return nfd;
		fd = nfd;
		p += n;
	}
}

int lf_safe_open(int dirfd, const char *rel, int flags, mode_t mode)
{
	if (bad_path(rel))
		return -EXDEV;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = flags & (O_CREAT | O_TMPFILE) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
	if (fd >= 0)
		return (int)fd;
	struct stat st;
	/* O_DIRECTORY on a symlink says ENOTDIR: say what it is */
	if (errno == ENOTDIR && fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		errno = ELOOP;
	if (errno != ENOSYS)
		return -errno;
	return open_by_parts(dirfd, rel, flags, mode);
}

int lf_safe_mkdirs(int dirfd, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	if (bad_path(rel))
		return -EXDEV;
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	char part[256];
	for (const char *p = rel; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n >= sizeof part) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(part, p, n);
		part[n] = 0;
		p += n;
		int made = mkdirat(fd, part, mode) == 0;
		if (!made && errno != EEXIST) {
			int e2 = errno;
			close(fd);
			return -e2;
		}
		int nfd = lf_safe_open(fd, part, O_RDONLY | O_DIRECTORY, 0);
		close(fd);
		if (nfd < 0)
			return nfd;          /* a symlink or a file there: ELOOP, ENOTDIR */
		fd = nfd;
		if (made && uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) {
			int e2 = errno;
			close(fd);
			return -e2;
		}
	}
	return fd;
}

int lf_safe_fchmod(int fd, mode_t mode)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL && errno != EBADF)
		return -errno;
	if (fchmod(fd, mode) == 0)     /* a regular fd */
		return 0;
	if (errno != EBADF)
		return -errno;
	/* an O_PATH fd before fchmodat2: its /proc link names this inode */
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	return chmod(proc, mode) < 0 ? -errno : 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The file NAME replaces (if a regular file is there) gives the new one
 * its owner, mode and extended attributes: a hive regfs rewrites in a
 * user's profile stays hers, with the descriptor the union keeps on it.
 * 0, or -errno (nothing of it lost quietly). */
static int keep_what_it_was(int dirfd, const char *name, int fd)
{
	struct stat was, st;
	/* only a regular file is opened (never a device or a FIFO a user
	 * put there), and only the one seen */
	if (fstatat(dirfd, name, &was, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(was.st_mode))
		return 0;
	int old = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (old < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	int rc = fstat(old, &st) < 0 ? -errno : 0;
	if (!rc && (!S_ISREG(st.st_mode) || st.st_ino != was.st_ino || st.st_dev != was.st_dev)) {
		close(old);
		return -EAGAIN;   /* changed under us: said, not guessed */
	}
	if (!rc && fchown(fd, st.st_uid, st.st_gid) < 0)
		rc = -errno;
	if (!rc && fchmod(fd, st.st_mode & 07777) < 0)
		rc = -errno;
	char names[4096];
	ssize_t n = rc ? 0 : flistxattr(old, names, sizeof names);
	if (n < 0)
		rc = errno == ENOTSUP ? 0 : -errno;
	for (ssize_t i = 0; !rc && i < n; i += (ssize_t)strlen(names + i) + 1) {
		char v[65536];
		ssize_t vl = fgetxattr(old, names + i, v, sizeof v);
		if (vl < 0 || fsetxattr(fd, names + i, v, (size_t)vl, 0) < 0)
			rc = -errno;
	}
	close(old);
	return rc;
}

int lf_safe_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	return lf_safe_replace_via(dirfd, dirfd, name, data, len, mode);
}

int lf_safe_replace_via(int tmpfd, int dirfd, const char *name, const void *data, size_t len,
			mode_t mode)
{
	if (strchr(name, '/') || bad_path(name))
		return -EXDEV;
	char tmp[300];
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		uint64_t r = 0;
		if (getrandom(&r, sizeof r, 0) != sizeof r)
			r ^= (uint64_t)getpid() << 32 ^ (uint64_t)tries;
		/* ".NAME.tmp.DIGITS": what fsck knows as a temporary */
		snprintf(tmp, sizeof tmp, ".%.200s.tmp.%llu", name, (unsigned long long)r);
		fd = openat(tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	int rc = keep_what_it_was(dirfd, name, fd);
	if (!rc)
		rc = write_all(fd, data, len);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(tmpfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc)
		unlinkat(tmpfd, tmp, 0);
	else
		fsync(dirfd);
	return rc;
}

int lf_safe_read_all(int dirfd, const char *rel, size_t max, uint8_t **out, size_t *len)
{
	int fd = lf_safe_open(dirfd, rel, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EINVAL
		 : (uint64_t)st.st_size > max ? -EFBIG : 0;
	uint8_t *b = rc ? NULL : malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!rc && !b)
		rc = -ENOMEM;
	size_t got = 0;
	while (!rc && got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (rc) {
		free(b);
		return rc;
	}
	*out = b;
	*len = got;
	return 0;
}

int lf_open_parent(const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	*name = slash ? slash + 1 : path;
	char dir[4096] = ".";
	size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof dir)
		return -ENAMETOOLONG;
	if (slash) {
		memcpy(dir, path, n);
		dir[n] = 0;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
