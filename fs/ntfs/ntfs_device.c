/* A read-only struct ntfs_device_operations on a block source, so that
 * libntfs-3g reads volumes inside VHD/VHDX files and partitioned disks. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntfs_glue.h"

struct blk {
	struct lf_source *src;
	uint64_t off, len;
	s64 pos;
};

static int dev_open(struct ntfs_device *dev, int flags)
{
	if (NDevOpen(dev)) {
		errno = EBUSY;
		return -1;
	}
	if ((flags & O_ACCMODE) != O_RDONLY) {
		errno = EROFS;
		return -1;
	}
	NDevSetReadOnly(dev);
	NDevSetOpen(dev);
	return 0;
}

static int dev_close(struct ntfs_device *dev)
{
	/* ntfs_device_free refuses a device still marked open. */
	NDevClearOpen(dev);
	return 0;
}

static s64 dev_seek(struct ntfs_device *dev, s64 offset, int whence)
{
	struct blk *b = dev->d_private;
	s64 pos;
	switch (whence) {
	case SEEK_SET: pos = offset; break;
	case SEEK_CUR: pos = b->pos + offset; break;
	case SEEK_END: pos = (s64)b->len + offset; break;
	default: errno = EINVAL; return -1;
	}
	/* The boot-sector check seeks to the last sector: past the end must
	 * fail. */
	if (pos < 0 || (uint64_t)pos > b->len) {
		errno = EINVAL;
		return -1;
	}
	b->pos = pos;
	return pos;
}

static s64 dev_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
	struct blk *b = dev->d_private;
	if (offset < 0 || count < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((uint64_t)offset >= b->len)
		return 0;
	if ((uint64_t)count > b->len - (uint64_t)offset)
		count = (s64)(b->len - (uint64_t)offset);
	int rc = b->src->ops->pread(b->src, buf, (size_t)count, b->off + (uint64_t)offset);
	if (rc) {
		errno = -rc;
		return -1;
	}
	return count;
}

static s64 dev_read(struct ntfs_device *dev, void *buf, s64 count)
{
	struct blk *b = dev->d_private;
	s64 n = dev_pread(dev, buf, count, b->pos);
	if (n > 0)
		b->pos += n;
	return n;
}

static s64 dev_write(struct ntfs_device *dev, const void *buf, s64 count)
{
	(void)dev; (void)buf; (void)count;
	errno = EROFS;
	return -1;
}

static s64 dev_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 off)
{
	(void)off;
	return dev_write(dev, buf, count);
}

static int dev_sync(struct ntfs_device *dev)
{
	(void)dev;
	return 0;
}

static int dev_stat(struct ntfs_device *dev, struct stat *st)
{
	struct blk *b = dev->d_private;
	memset(st, 0, sizeof *st);
	st->st_mode = S_IFREG;
	st->st_size = (off_t)b->len;
	return 0;
}

static int dev_ioctl(struct ntfs_device *dev, unsigned long req, void *arg)
{
	(void)dev; (void)req; (void)arg;
	errno = ENOTTY;
	return -1;
}

static struct ntfs_device_operations blk_ops = {
	.open = dev_open, .close = dev_close, .seek = dev_seek,
	.read = dev_read, .write = dev_write, .pread = dev_pread,
	.pwrite = dev_pwrite, .sync = dev_sync, .stat = dev_stat,
	.ioctl = dev_ioctl,
};

struct ntfs_device *lf_ntfs_device_new(struct lf_source *src,
				       const struct lf_volume_extent *ext)
{
	struct blk *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->src = src;
	b->off = ext->offset;
	b->len = ext->length;
	struct ntfs_device *dev = ntfs_device_alloc(src->path, 0, &blk_ops, b);
	if (!dev)
		free(b);
	return dev;
}

static __thread char last_msg[256];

static int capture_handler(const char *function, const char *file, int line,
			   u32 level, void *data, const char *format,
			   va_list args)
{
	(void)function; (void)file; (void)line; (void)data;
	if (level & (NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
		     NTFS_LOG_LEVEL_CRITICAL)) {
		char msg[sizeof last_msg];
		vsnprintf(msg, sizeof msg, format, args);
		/* its first line only, and not its advice for ntfs-3g's users
		 * (RAID, mdadm, chkdsk): the cause said before it stays */
		msg[strcspn(msg, "\n")] = 0;
		if (!msg[0] || !strncmp(msg, "HINTS", 5) || strstr(msg, "chkdsk"))
			return 0;
		memcpy(last_msg, msg, sizeof msg);
		size_t n = strlen(last_msg);
		while (n && (last_msg[n - 1] == '\n' || last_msg[n - 1] == '.'))
			last_msg[--n] = 0;
	}
	return 0;
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void install_handler(void)
{
	ntfs_log_set_handler(capture_handler);
	ntfs_log_set_levels(NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
			    NTFS_LOG_LEVEL_CRITICAL);
}

void lf_ntfs_log_capture(void)
{
	pthread_once(&log_once, install_handler);
}

const char *lf_ntfs_log_last(void)
{
	return last_msg;
}

void lf_ntfs_log_clear(void)
{
	last_msg[0] = 0;
}
