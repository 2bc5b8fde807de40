/* A raw image file: the disk is the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/source.h"
#include "source_int.h"

struct raw_source {
	struct lf_source base;
	int fd;
};

static int raw_pread(struct lf_source *s, void *buf, size_t len, uint64_t off)
{
	return lf_fd_pread_full(((struct raw_source *)s)->fd, buf, len, off);
}

static void raw_close(struct lf_source *s)
{
	struct raw_source *r = (struct raw_source *)s;
	close(r->fd);
	lf_source_fini(s);
	free(r);
}

static const struct lf_source_ops raw_ops = { raw_pread, raw_close };

int lf_source_open_raw(const char *path, struct lf_source **out,
		       struct lf_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		return lf_err_set(err, EINVAL, "%s: not a regular file or block device", path);
	}
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		size = end > 0 ? (uint64_t)end : 0;
	}
	struct raw_source *r = calloc(1, sizeof *r);
	if (!r || lf_source_init(&r->base, &raw_ops, LF_SRC_RAW, path, size) < 0) {
		free(r);
		close(fd);
		return lf_err_set(err, ENOMEM, "%s: out of memory", path);
	}
	r->fd = fd;
	*out = &r->base;
	return 0;
}
