/* The bytes of a disk image file, as the formats read them: a host file
 * here; a file fetched a chunk at a time from a registry in fs/oci/. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/source.h"
#include "source_int.h"

struct local_file {
	struct lf_file base;
	int fd;
};

static int local_pread(struct lf_file *f, void *buf, size_t len, uint64_t off)
{
	return lf_fd_pread_full(((struct local_file *)f)->fd, buf, len, off);
}

static void local_close(struct lf_file *f)
{
	close(((struct local_file *)f)->fd);
	free(f->name);
	free(f);
}

static const struct lf_file_ops local_ops = { local_pread, local_close };

int lf_file_open_local(const char *path, struct lf_file **out, struct lf_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		int dir = S_ISDIR(st.st_mode);
		close(fd);
		return dir ? lf_err_set(err, EISDIR, "%s: is a directory, not a disk image", path)
			   : lf_err_set(err, EINVAL, "%s: not a regular file or block device", path);
	}
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		size = end > 0 ? (uint64_t)end : 0;
	}
	struct local_file *l = calloc(1, sizeof *l);
	char *name = strdup(path);
	if (!l || !name) {
		free(l);
		free(name);
		close(fd);
		return lf_err_set(err, ENOMEM, "%s: out of memory", path);
	}
	*l = (struct local_file){ { &local_ops, size, name, st.st_dev, st.st_ino, "" }, fd };
	*out = &l->base;
	return 0;
}

int lf_file_pread(struct lf_file *f, void *buf, size_t len, uint64_t off)
{
	if (off > f->size || len > f->size - off)
		return -EIO;
	f->why[0] = 0;
	return f->ops->pread(f, buf, len, off);
}

void lf_file_close(struct lf_file *f)
{
	if (f)
		f->ops->close(f);
}
