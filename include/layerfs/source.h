/* Block sources: the virtual disk under an NTFS layer (raw image, VHD v1,
 * VHDX), read at byte offsets. Thread-safe reads. */
#ifndef LAYERFS_SOURCE_H
#define LAYERFS_SOURCE_H

#include <stdint.h>
#include <sys/types.h>

#include "layerfs/err.h"

enum lf_source_kind {
	LF_SRC_RAW,
	LF_SRC_VHD_FIXED,
	LF_SRC_VHD_DYNAMIC,
	LF_SRC_VHD_DIFF,
	LF_SRC_VHDX,
};

/* The bytes of a disk image file: a host file, or one whose chunks are
 * fetched from a registry on demand (layerfs/oci.h). The formats read
 * through it. Thread-safe reads. */
struct lf_file;
struct lf_file_ops {
	/* Read exactly len bytes at off (off+len <= size); 0 or -errno,
	 * with f->why saying more when the file knows more than errno. */
	int (*pread)(struct lf_file *f, void *buf, size_t len, uint64_t off);
	void (*close)(struct lf_file *f);
};
struct lf_file {
	const struct lf_file_ops *ops;
	uint64_t size;
	char *name;              /* a host path or an oci:// reference */
	dev_t dev;               /* a host file's, to catch a parent chain that */
	ino_t ino;               /* loops; 0 for a fetched one */
	char why[400];           /* per thread of use: set by a failed pread */
};
int lf_file_open_local(const char *path, struct lf_file **out, struct lf_err *err);
/* Bounds-checked read: -EIO past the end. */
int lf_file_pread(struct lf_file *f, void *buf, size_t len, uint64_t off);
void lf_file_close(struct lf_file *f);

/* Read exactly len bytes at off from fd; 0, -EIO on a short file, or
 * -errno. */
int lf_fd_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* Read len bytes at off in pieces that never cross a multiple of UNIT (a
 * disk format's block, a fetched file's chunk): one(ctx, buf, n, off,
 * index of the unit, offset in it) for each, up to the first error. */
int lf_read_by_unit(void *ctx, void *buf, size_t len, uint64_t off, uint64_t unit,
		    int (*one)(void *ctx, uint8_t *buf, size_t n, uint64_t off, uint64_t index,
			       uint64_t in));
/* Write exactly len bytes at off; 0 or -errno. */
int lf_fd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

struct lf_source;

struct lf_source_ops {
	/* Read exactly len bytes at off (off+len <= size); 0 or -errno. */
	int (*pread)(struct lf_source *s, void *buf, size_t len, uint64_t off);
	void (*close)(struct lf_source *s);
};

struct lf_source {
	const struct lf_source_ops *ops;
	enum lf_source_kind kind;
	char *path;
	uint64_t size;           /* virtual disk size in bytes */
	struct lf_source *parent; /* differencing disks: the next in the chain */
	struct lf_file *file;     /* the file it reads (NULL: a library reads it) */
	/* why the last read failed, when the format knows more than EIO
	 * (set by ops->pread, said by lf_source_pread); "" when not */
	char why[400];
};

#define LF_MAX_CHAIN 32

struct lf_source_opts {
	/* Parents named by the user, child's parent first; tried before the
	 * parent locators. The parent's unique id must still match. */
	const char *const *parents;
	int nparents;
	/* Opens the parent of the disk at depth (0: the child's) when the
	 * locators mean nothing: a registry's revision names its parent by
	 * digest. NULL: the locators and parents above. */
	int (*open_parent)(void *ctx, int depth, struct lf_file **out, struct lf_err *err);
	void *parent_ctx;
};

/* Open PATH as a block source, sniffing the format (VHD footer, VHDX
 * signature, otherwise raw). Parents of differencing disks are found and
 * opened too. */
int lf_source_open(const char *path, const struct lf_source_opts *opts,
		   struct lf_source **out, struct lf_err *err);
void lf_source_close(struct lf_source *s);

/* Read with bounds checking: reading past the end is an error naming the
 * source. */
int lf_source_pread(struct lf_source *s, void *buf, size_t len, uint64_t off,
		    struct lf_err *err);

const char *lf_source_kind_name(enum lf_source_kind k);

/* Chain depth (1 for a disk without parent). */
int lf_source_depth(const struct lf_source *s);

/* A block source over FILE, sniffed as lf_source_open does; FILE is the
 * source's from then on, closed with it (or here, on an error). */
int lf_source_open_file(struct lf_file *file, const struct lf_source_opts *opts,
			struct lf_source **out, struct lf_err *err);

/* Format openers, used by lf_source_open (and by tests). The file ones
 * take FILE over as above. */
int lf_source_open_raw(const char *path, struct lf_source **out,
		       struct lf_err *err);
int lf_source_open_raw_file(struct lf_file *file, struct lf_source **out,
			    struct lf_err *err);
int lf_source_open_vhd(const char *path, const struct lf_source_opts *opts,
		       int depth, struct lf_source **out, struct lf_err *err);
int lf_source_open_vhd_file(struct lf_file *file, const struct lf_source_opts *opts,
			    int depth, struct lf_source **out, struct lf_err *err);
int lf_source_open_vhdx(const char *path, const struct lf_source_opts *opts,
			struct lf_source **out, struct lf_err *err);
/* VHDX through FILE, our own reader (a registry's layer: libvhdi reads
 * host paths only); its parent only through opts->open_parent. */
int lf_source_open_vhdx_file(struct lf_file *file, const struct lf_source_opts *opts,
			     int depth, struct lf_source **out, struct lf_err *err);

/* Where the NTFS volume lies on the disk. */
struct lf_volume_extent {
	uint64_t offset;
	uint64_t length;
	int partition;           /* 0 for a bare volume, else 1-based index */
	const char *scheme;      /* "bare", "mbr" or "gpt" */
};

int lf_partition_find_ntfs(struct lf_source *s, struct lf_volume_extent *out,
			   struct lf_err *err);

#endif
