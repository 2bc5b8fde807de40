/* Which delete tokens and opaque markers of a writable layer the union
 * made. A name beginning ".wh." in a personalization layer could once be
 * made by its user through her drive (".wh.Vendor" hid a folder she could
 * not delete, at her next login). The union refuses such names now, and
 * marks each it makes itself with an xattr a user cannot set (trusted.*
 * when root runs us; user.* on one's own layer otherwise). A layer whose
 * root carries the "marked" note honours only marked ones; any other such
 * name there is no token, and is not shown (fsck says it).
 *
 * Why a mark, not overlayfs' 0/0 character devices: a layer is also read
 * as a folder by pack, capture and publish, and carried as a folder to
 * other hosts and share types; a device node needs CAP_MKNOD to make and
 * is lost by copies and file systems that do not hold devices, while the
 * xattr sits beside the descriptors we keep there already, and the ".wh."
 * names keep working for the OCI tools that read them.
 *
 * Layers made before the mark: the first writable open (a login, a
 * layerfs mount, fsck --repair) marks every ".wh." name in them once, so
 * nothing a token hides comes back, then notes the root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layer_dir_int.h"
#include "layerfs/win_names.h"

#define MARK_TRUSTED "trusted.layerfs.made"
#define MARK_USER "user.layerfs.made"
#define NOTE_TRUSTED "trusted.layerfs.tokens"
#define NOTE_USER "user.layerfs.tokens"

static const char *mark_name(void)
{
	return geteuid() == 0 ? MARK_TRUSTED : MARK_USER;
}

static const char *note_name(void)
{
	return geteuid() == 0 ? NOTE_TRUSTED : NOTE_USER;
}

/* fd, an open folder: does it carry the note? */
static int noted(int fd)
{
	char v[16];
	ssize_t n = fgetxattr(fd, note_name(), v, sizeof v);
	return n == 6 && !memcmp(v, "marked", 6);
}

int dirl_tokens_noted(int root_fd)
{
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd >= 0 && noted(fd);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Only files and folders are ever the union's: nothing else is opened
 * (a device node opened by root may do something). */
static int plain(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

int dirl_made_by_union(int dfd, const char *name)
{
	if (!plain(dfd, name))
		return 0;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;        /* a symlink, a socket: never one of ours */
	int r = fgetxattr(fd, mark_name(), NULL, 0) >= 0;
	close(fd);
	return r;
}

void dirl_mark(int dfd, const char *name, int fd)
{
	if (fd < 0 && !plain(dfd, name))
		return;
	int nfd = fd >= 0 ? fd : openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
					O_CLOEXEC);
	if (nfd < 0)
		return;
	(void)fsetxattr(nfd, mark_name(), "1", 1, 0);
	if (nfd != fd)
		close(nfd);
}

/* Mark each ".wh." name in folder fd and below (through fds, never a
 * link followed). How many; depth bounds a hostile tree. */
static long mark_tree(int fd, int depth)
{
	if (depth > 512)
		return 0;
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		return 0;
	}
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (lf_name_reserved(e->d_name) && !dirl_made_by_union(fd, e->d_name)) {
			dirl_mark(fd, e->d_name, -1);
			n++;
		}
		if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) {
			int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				n += mark_tree(sub, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return n;
}

long dirl_tokens_convert(int root_fd)
{
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	long n = noted(fd) ? 0 : mark_tree(fd, 0);
	if (!noted(fd) && fsetxattr(fd, note_name(), "marked", 6, 0) < 0)
		n = -errno;
	close(fd);
	return n;
}

int lf_dir_tokens_noted(int dirfd)
{
	return dirl_tokens_noted(dirfd);
}

int lf_dir_made_by_union(int dfd, const char *name)
{
	return dirl_made_by_union(dfd, name);
}

long lf_dir_tokens_convert(int dirfd)
{
	return dirl_tokens_convert(dirfd);
}
