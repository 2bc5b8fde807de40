/* Working as root inside trees that users can influence (personalization
 * layers, fragments, the repository): everything from a directory fd,
 * nothing through a symlink, never above the fd. A symlink where a file or
 * folder should be is refused (ELOOP), not followed. See "Trust
 * boundaries" in docs/ARCHITECTURE.md. */
#ifndef LAYERFS_SAFE_PATH_H
#define LAYERFS_SAFE_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Open REL ('/'-separated, relative) beneath dirfd with open(2) flags
 * (O_CREAT makes the last component; add O_EXCL for a new file). No
 * component may be a symlink or "..": openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, or O_NOFOLLOW per component
 * on kernels before 5.6. An fd, or -errno (-ELOOP: a symlink met). */
int lf_safe_open(int dirfd, const char *rel, int flags, mode_t mode);
/* The folder REL beneath dirfd, made where missing with mode (and, unless
 * uid is -1, owner uid:gid set through the new folder's fd): an
 * O_DIRECTORY fd, or -errno. A component that is not a folder (a symlink
 * included) is refused. */
int lf_safe_mkdirs(int dirfd, const char *rel, mode_t mode, uid_t uid, gid_t gid);
/* Mode of what fd is (an O_PATH fd too); a symlink is refused (-ELOOP). */
int lf_safe_fchmod(int fd, mode_t mode);
/* NAME in dirfd becomes these bytes: a new temporary beside it
 * (O_CREAT | O_EXCL | O_NOFOLLOW, an unguessable name) written, fsynced
 * and renamed over NAME (a symlink there is replaced, never followed), the
 * folder fsynced. The owner, mode and extended attributes of the regular
 * file it replaces go with it (else mode, root's). 0 or -errno (ENOSPC,
 * EDQUOT as they come); on error NAME is as it was. */
int lf_safe_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
/* The same with the temporary made in folder tmpfd (on the same file
 * system), out of sight of whoever lists dirfd: a union's work folder. */
int lf_safe_replace_via(int tmpfd, int dirfd, const char *name, const void *data, size_t len,
			mode_t mode);
/* A regular file beneath dirfd, read whole (at most max bytes: -EFBIG);
 * *out malloc'd. -EINVAL if it is not a regular file. */
int lf_safe_read_all(int dirfd, const char *rel, size_t max, uint8_t **out, size_t *len);
/* Split PATH at its last '/': the folder (opened with O_DIRECTORY, the
 * caller's own path, trusted) and the name; an fd or -errno. */
int lf_open_parent(const char *path, const char **name);

#endif
