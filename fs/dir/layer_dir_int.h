/* Internals of the `dir` backend, shared by its read side (layer_dir.c)
 * and its write side (layer_dir_write.c). */
#ifndef LF_LAYER_DIR_INT_H
#define LF_LAYER_DIR_INT_H

#include <pthread.h>
#include <sys/stat.h>

#include "layerfs/arena.h"
#include "layerfs/layer.h"

#define DIR_ROOT 1

/* A node is a (parent, name) the layer has seen. Names of one host file
 * (hard links) are one node to the union: the first name seen is the
 * node, every other name an alias node pointing at it. When the node's own
 * name goes, it takes over an alias's name, so the file stays reachable by
 * any name it has left. (dir_nodes.c) */
struct dnode {
	lf_ino parent;           /* 0: gone (deleted or replaced), or the work folder */
	char *name;              /* in the layer's name blocks; NULL: a free number */
	uint64_t hino;           /* the host inode of a non-folder (read-only layers:
				  * on the root's device), so hard links are one node */
	lf_ino same_as;          /* an alias: the node it names; 0 for a node */
	lf_ino next_name;        /* the node's aliases, chained */
	int fd;                  /* folders: a cached O_PATH fd, or -1 */
	uint8_t hashed;          /* findable by (parent, name) */
	uint8_t mark, kept;      /* a sweep: the union uses it; it stays */
};

#define DCHUNK_SHIFT 12
#define DCHUNK (1u << DCHUNK_SHIFT)
struct dchunk {
	size_t used;             /* live nodes; an empty chunk is freed */
	struct dnode v[DCHUNK];
};

/* Names live in blocks, rebuilt by a sweep: a walk interns a name per
 * entry, and single strdups spread over the heap would keep it from
 * shrinking after the union lets its own memory go. */

struct dir_layer {
	struct lf_layer base;
	int root_fd;
	int writable;
	mode_t umask;             /* the process's, when the layer was opened */
	pthread_mutex_t lock;
	struct dchunk **chunks;   /* node ino is chunks[ino >> DCHUNK_SHIFT] */
	size_t nchunks;
	lf_ino next;              /* the next number given (never one again) */
	size_t nlive;
	lf_ino *slots;            /* open addressing: (parent, name) -> ino */
	size_t nslots;
	lf_ino *islots;           /* read-only layers: host inode -> ino */
	size_t nislots, nlinked;
	dev_t dev;                /* the root's device: host inodes are its */
	struct lf_arena names;    /* node names */
	size_t nfds, maxfds;      /* cached folder fds, and how many we may */
	struct lf_layer_ops rw_ops; /* writable: the read ops and the write ops */
	const char *acl_name;     /* the host xattr system.ntfs_acl is kept in */
	const char *attrib_name;  /* and system.ntfs_attrib (4 bytes) */
	const char *ea_name;      /* system.ntfs_ea (a copy-up of a file with EAs) */
	const char *objid_name;   /* system.ntfs_object_id */
	int tokens_marked;        /* only ".wh." names the union marked count (dir_tokens.c) */
};

#define DL(l) ((struct dir_layer *)(l))

/* The host xattr that name (as the layer shows it) is kept in; NULL for
 * the layer's own names, which are never shown or set as they are. */
const char *dirl_xattr_host(const struct dir_layer *d, const char *name);

/* The node table (dir_nodes.c): set up with the root, and freed. */
int dirl_nodes_init(struct dir_layer *d);
void dirl_nodes_free(struct dir_layer *d);
/* Node ino, or NULL if the table has no such number (stale). Caller
 * holds lock. */
struct dnode *dirl_node(const struct dir_layer *d, lf_ino ino);
/* The layer ops gc_mark, gc_sweep and gc_count. */
void dirl_gc_mark(struct lf_layer *l, lf_ino ino);
size_t dirl_gc_sweep(struct lf_layer *l);
size_t dirl_gc_count(struct lf_layer *l);

/* The node for (parent, name), made on first sight; 0 if out of memory.
 * hino (a non-folder on the root's device, else 0): another name of that
 * host inode gives its node. In the writable layer, only when the file
 * has several names (nlink > 1; 0: not known, never shared): the host
 * reuses the number of a file replaced beside the layer. Caller holds
 * lock. */
lf_ino dirl_intern(struct dir_layer *d, lf_ino parent, const char *name, uint64_t hino,
		   uint32_t nlink);
/* The name (parent, name) is gone from the host (unlinked, or renamed
 * over): its node is dropped, or, if the file has other names, the node
 * takes over one of them. Caller holds lock. */
void dirl_forget(struct dir_layer *d, lf_ino parent, const char *name);
/* The node (an alias's node for an alias) found by (parent, name), not
 * made; 0 if none. raw: the alias itself. Caller holds lock. */
lf_ino dirl_find(const struct dir_layer *d, lf_ino parent, const char *name, int raw);
/* Node ino's name is gone and so is the file, as far as the layer knows:
 * unfindable, its cached fd closed. Caller holds lock. */
void dirl_drop(struct dir_layer *d, lf_ino ino);
/* Make ino unfindable by its (parent, name). Caller holds lock. */
void dirl_unhash(struct dir_layer *d, lf_ino ino);
/* Give node ino a new (parent, name); a node found there must have been
 * unhashed first. Caller holds lock. */
int dirl_rehash(struct dir_layer *d, lf_ino ino, lf_ino parent, const char *name);
/* An O_PATH fd for folder ino; close it with dirl_put_fd. */
int dirl_dir_fd(struct dir_layer *d, lf_ino ino, int *owned);
/* The parent folder's fd and ino's name (copied into name). */
int dirl_parent_fd(struct dir_layer *d, lf_ino ino, char *name, size_t size, int *owned);
void dirl_put_fd(int fd, int owned);
/* Open a node (never through a symlink). */
int dirl_open_node(struct dir_layer *d, lf_ino ino, int flags);
/* A node's xattrs are read and changed by path through this O_PATH
 * handle (proc: "/proc/self/fd/N"): a socket, FIFO or device is never
 * opened for it (a socket's open is ENXIO, a device's may act). -ELOOP
 * for a symlink (it carries none here). Close the returned fd. */
int dirl_xattr_fd(struct dir_layer *d, lf_ino ino, char proc[32]);
/* Open a regular file with flags (O_RDONLY, O_WRONLY...). O_NONBLOCK: a
 * FIFO in a hostile layer must not hang the caller; it is refused (EINVAL),
 * as are devices and symlinks; a folder is EISDIR. */
int dirl_open_file(struct dir_layer *d, lf_ino ino, int flags);
void dirl_stat_to_attr(const struct stat *st, lf_ino ino, struct lf_attr *a);

/* The write side's ops, filled into the table of a writable layer. */
void dirl_write_ops(struct lf_layer_ops *ops);

/* dir_tokens.c: the union's own ".wh." names, marked. Does the layer's
 * root carry the note (only marked ones count)? Was name in folder dfd
 * made by the union? Mark it (through fd, or opened here when fd < 0).
 * Mark a layer made before the mark, once: how many, or -errno. */
int dirl_tokens_noted(int root_fd);
int dirl_made_by_union(int dfd, const char *name);
void dirl_mark(int dfd, const char *name, int fd);
long dirl_tokens_convert(int root_fd);

#endif
