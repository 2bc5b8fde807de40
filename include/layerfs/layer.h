/* A layer: a tree of names, attributes and bytes behind one table of
 * functions. Backends: `ntfs` (an NTFS volume on a block source, through
 * libntfs-3g) and `dir` (a host directory). Node numbers are the layer's
 * own; the root is lf_layer_root(). All calls are thread-safe. */
#ifndef LAYERFS_LAYER_H
#define LAYERFS_LAYER_H

#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "layerfs/err.h"
#include "layerfs/source.h"

typedef uint64_t lf_ino;

/* Windows file attributes (FILE_ATTRIBUTE_*), as NTFS stores them. */
enum {
	LF_WATTR_READONLY = 0x1,
	LF_WATTR_HIDDEN = 0x2,
	LF_WATTR_SYSTEM = 0x4,
	LF_WATTR_DIRECTORY = 0x10,
	LF_WATTR_ARCHIVE = 0x20,
	LF_WATTR_NORMAL = 0x80,          /* none of the others */
	LF_WATTR_SPARSE = 0x200,
	LF_WATTR_REPARSE = 0x400,
	LF_WATTR_COMPRESSED = 0x800,
	LF_WATTR_ENCRYPTED = 0x4000,
};

struct lf_attr {
	lf_ino ino;
	uint32_t mode;           /* S_IF* type and permission bits */
	uint32_t nlink;          /* names, not counting DOS 8.3 aliases */
	uint32_t uid, gid;
	uint64_t size;
	uint64_t alloc;          /* bytes allocated on disk */
	struct timespec atime, mtime, ctime, btime;
	uint32_t wattr;          /* LF_WATTR_* */
	uint32_t flags;          /* LF_ATTR_* */
	uint64_t rdev;           /* device nodes */
	uint32_t store;          /* enum lf_store (layerfs/wof.h): where its data is */
};

/* Its creation time; a folder layer's file may know none (0): then its
 * modification time, as publish writes it and compare reads it. */
static inline struct timespec lf_attr_born(const struct lf_attr *a)
{
	return a->btime.tv_sec || a->btime.tv_nsec ? a->btime : a->mtime;
}

/* The file is built from several layers' copies (a merged registry
 * hive): its size can change without a change through the mount, so
 * its attributes must not be cached. */
#define LF_ATTR_MERGED 1
/* Owner and mode come from WSL's $LX* EAs on an NTFS layer (see
 * fs/ntfs/lxattr.h), not from defaults. */
#define LF_ATTR_LX 2

/* A Compact OS file's reparse data, for publish, which keeps the file
 * as it is stored (its stream: stream_pread). An NTFS layer answers it
 * for such a file and never lists it (what the file shows is its data,
 * as through Windows' overlay filter). */
#define LF_XATTR_WOF_REPARSE "trusted.layerfs.wof.reparse"

/* An NTFS file's extended attributes (system.ntfs_ea: a run of EA
 * records) without WSL's $LX* ones, which say the Linux owner and mode a
 * folder layer keeps otherwise: its length in out (len bytes always do).
 * Records that do not hold together end it. fs/ntfs/lxattr.c. */
size_t lf_ea_strip_lx(const uint8_t *buf, size_t len, uint8_t *out);

/* Link kinds, as readlink reports them. */
enum lf_link_kind {
	LF_LINK_RELATIVE,        /* target relative to the link's folder */
	LF_LINK_ROOTED,          /* target from the layer's root ("/Windows/x") */
	LF_LINK_FOREIGN,         /* another volume or device; kept as given */
};

/* Called for each entry; return non-zero to stop. The name is UTF-8. */
typedef int (*lf_readdir_fn)(void *ctx, const char *name, lf_ino ino,
			     uint32_t type /* S_IF* */);

struct lf_layer;

/* What a writable layer's mkobj makes. */
struct lf_new {
	uint32_t mode;           /* S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK,
				  * S_IFCHR or S_IFBLK, and permissions */
	uint32_t uid, gid;       /* owner; LF_KEEP_ID keeps the creator's */
	const char *target;      /* symlinks */
	int flags;               /* files: O_* flags for the returned handle */
	uint64_t rdev;           /* devices */
	const void *sd;          /* its Windows descriptor, or NULL */
	size_t sdlen;
};
#define LF_KEEP_ID ((uint32_t)-1)

/* setattr: which fields of struct lf_attr to set. */
enum {
	LF_SET_MODE = 1, LF_SET_UID = 2, LF_SET_GID = 4, LF_SET_SIZE = 8,
	LF_SET_ATIME = 16, LF_SET_MTIME = 32, LF_SET_ATIME_NOW = 64,
	LF_SET_MTIME_NOW = 128,
};

/* remove: how. */
enum { LF_RM_FILE = 0, LF_RM_DIR = 1, LF_RM_TREE = 2 };

struct lf_layer_ops {
	int (*lookup)(struct lf_layer *l, lf_ino dir, const char *name,
		      struct lf_attr *out);
	int (*getattr)(struct lf_layer *l, lf_ino ino, struct lf_attr *out);
	int (*readdir)(struct lf_layer *l, lf_ino dir, lf_readdir_fn fn,
		       void *ctx);
	ssize_t (*read)(struct lf_layer *l, lf_ino ino, void *buf, size_t len,
			uint64_t off);
	/* Target with '/' separators; returns its length (NUL-terminated,
	 * truncated to size). */
	ssize_t (*readlink)(struct lf_layer *l, lf_ino ino, char *buf,
			    size_t size, enum lf_link_kind *kind);
	/* NUL-separated names, as listxattr(2); size 0 asks for the length. */
	ssize_t (*listxattr)(struct lf_layer *l, lf_ino ino, char *buf,
			     size_t size);
	ssize_t (*getxattr)(struct lf_layer *l, lf_ino ino, const char *name,
			    void *buf, size_t size);
	/* Open for reading; *fh is the layer's handle for pread/release. A
	 * handle stays valid for reads however many there are at once. */
	int (*open)(struct lf_layer *l, lf_ino ino, uint64_t *fh);
	ssize_t (*pread)(struct lf_layer *l, uint64_t fh, void *buf, size_t len,
			 uint64_t off);
	void (*release)(struct lf_layer *l, uint64_t fh);
	/* Optional: where data is at or after off (*data) and where the
	 * hole after it begins (*hole), as SEEK_DATA/SEEK_HOLE; -ENXIO when
	 * only a hole is left. NULL: all of it is data. */
	int (*data)(struct lf_layer *l, uint64_t fh, uint64_t off, uint64_t *data,
		    uint64_t *hole);
	/* Optional: read len bytes of the file's alternate data stream NAME
	 * at off (a Compact OS file's, which no xattr shows, for publish);
	 * the count read, 0 at its end, -ENODATA without it. */
	ssize_t (*stream_pread)(struct lf_layer *l, lf_ino ino, const char *name, void *buf,
				size_t len, uint64_t off);
	/* Optional: start reading a file's data into the cache, without
	 * waiting (a hint; NULL where it would not help). */
	void (*willneed)(struct lf_layer *l, lf_ino ino);
	void (*close)(struct lf_layer *l);

	/* Writable layers only (NULL elsewhere). NAME is one component,
	 * spelt exactly; nothing here knows of delete tokens. */
	/* Make NAME in DIR (failing if it exists); a file is also opened
	 * with what->flags into *fh. */
	int (*mkobj)(struct lf_layer *l, lf_ino dir, const char *name,
		     const struct lf_new *what, struct lf_attr *out, uint64_t *fh);
	int (*link)(struct lf_layer *l, lf_ino ino, lf_ino dir, const char *name,
		    struct lf_attr *out);
	int (*remove)(struct lf_layer *l, lf_ino dir, const char *name, int how);
	/* renameat2(2) flags; a moved node keeps its number. */
	int (*rename)(struct lf_layer *l, lf_ino dir, const char *name,
		      lf_ino newdir, const char *newname, unsigned flags);
	/* With fh (an open handle of the node), through it. */
	int (*setattr)(struct lf_layer *l, lf_ino ino, const uint64_t *fh,
		       const struct lf_attr *a, unsigned valid, struct lf_attr *out);
	int (*setxattr)(struct lf_layer *l, lf_ino ino, const char *name,
			const void *value, size_t size, int flags);
	int (*removexattr)(struct lf_layer *l, lf_ino ino, const char *name);
	/* Open for writing (O_WRONLY or O_RDWR, O_TRUNC...). */
	int (*open_rw)(struct lf_layer *l, lf_ino ino, int flags, uint64_t *fh);
	ssize_t (*pwrite)(struct lf_layer *l, uint64_t fh, const void *buf,
			  size_t len, uint64_t off);
	int (*fsync)(struct lf_layer *l, uint64_t fh, int datasync);
	int (*fallocate)(struct lf_layer *l, uint64_t fh, int mode, uint64_t off,
			 uint64_t len);
	int (*fgetattr)(struct lf_layer *l, uint64_t fh, struct lf_attr *out);
	/* A handle that keeps the node reachable after its name goes (for
	 * fgetattr); freed with release. */
	int (*hold)(struct lf_layer *l, lf_ino ino, uint64_t *fh);
	int (*statfs)(struct lf_layer *l, struct statvfs *out);

	/* Optional (NULL where numbers cost nothing to keep, as an NTFS
	 * layer's MFT numbers): a layer that remembers every name it has
	 * given a number to can forget those no one uses. The caller names
	 * with gc_mark every number it still holds, then gc_sweep forgets
	 * the rest (they go stale: ESTALE, never another file) and says how
	 * many it keeps. No other call may run on the layer from the first
	 * mark to the sweep. gc_count: how many numbers it keeps now. */
	void (*gc_mark)(struct lf_layer *l, lf_ino ino);
	size_t (*gc_sweep)(struct lf_layer *l);
	size_t (*gc_count)(struct lf_layer *l);
};

struct lf_layer {
	const struct lf_layer_ops *ops;
	const char *kind;        /* "ntfs" or "dir" */
	char *path;              /* what it was opened from */
	lf_ino root;
	char *label;             /* volume label, or NULL */
	struct lf_source *source;           /* ntfs: the disk */
	struct lf_volume_extent extent;     /* ntfs: where the volume is */
	lf_ino work;             /* writable: the hidden folder for temporaries */
};

struct lf_layer_opts {
	struct lf_source_opts source;
};

/* Open PATH as a layer: a directory becomes a `dir` layer, anything else
 * an `ntfs` layer on the block source PATH is. */
int lf_layer_open(const char *path, const struct lf_layer_opts *opts,
		  struct lf_layer **out, struct lf_err *err);
int lf_layer_open_ntfs(struct lf_source *src, struct lf_layer **out,
		       struct lf_err *err);
int lf_layer_open_dir(const char *path, struct lf_layer **out,
		      struct lf_err *err);
/* Open host folder PATH as the writable layer: its temporaries go in
 * WORKDIR (default: PATH/.wh..wh..work, which the union never shows),
 * which must be on the same file system and is emptied here. */
int lf_layer_open_upper(const char *path, const char *workdir,
			struct lf_layer **out, struct lf_err *err);
void lf_layer_close(struct lf_layer *l);

/* Walk a '/'-separated path from the root, case-insensitively as the
 * backend looks names up. Fills out and, if asked, the names as the layer
 * spells them. */
int lf_layer_resolve(struct lf_layer *l, const char *path, struct lf_attr *out);
/* The file at node ino, size bytes, read whole (*out malloc'd; files of
 * megabytes such as hives, not gigabytes): 0, -EFBIG over 2 GiB, or the
 * layer's error (-EIO if it holds fewer bytes than size). */
int lf_layer_read_all(struct lf_layer *l, lf_ino ino, uint64_t size, uint8_t **out);

/* mkdir -p: PATH and every missing folder above it, with mode; those it
 * makes get owner uid:gid ((uid_t)-1: as made). */
int lf_mkdirs(const char *path, mode_t mode, uid_t uid, gid_t gid, struct lf_err *err);

/* Delete tokens (OCI whiteouts): ".wh.NAME" hides NAME below;
 * ".wh..wh..opq" makes its folder opaque. */
#define LF_WHITEOUT_PREFIX ".wh."
#define LF_OPAQUE_NAME ".wh..wh..opq"
/* The writable layer's work folder: a name the union never shows (it is a
 * token, for a name no Windows volume holds). */
#define LF_WORK_NAME ".wh..wh..work"
/* The union marks each ".wh." name it makes in a writable folder layer
 * (fs/dir/dir_tokens.c says why and how); a layer whose root is noted
 * counts only marked ones. For fsck: is folder dirfd's layer noted, was
 * NAME in folder dfd made by the union, and mark an older layer's once
 * (how many, or -errno). */
int lf_dir_tokens_noted(int dirfd);
int lf_dir_made_by_union(int dfd, const char *name);
long lf_dir_tokens_convert(int dirfd);

#endif
