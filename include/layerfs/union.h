/* The union: read-only layers stacked by priority into one merged,
 * case-insensitive, case-preserving tree with delete tokens. No FUSE in
 * here: fs/fuse/fuse_ll.c is the glue. Node numbers are the union's own, stable
 * for the life of the union: a node's number comes from the layer and node
 * that provide it, so hard links inside one NTFS layer share one. */
#ifndef LAYERFS_UNION_H
#define LAYERFS_UNION_H

#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "layerfs/err.h"
#include "layerfs/layer.h"

#define LF_UNION_ROOT 1

enum lf_layer_type { LF_LAYER_OS, LF_LAYER_PLATFORM, LF_LAYER_APP, LF_LAYER_UPPER };

/* One layer as named on a command line: PATH[,name=N][,type=T][,prio=P]. */
struct lf_layer_spec {
	char *path;
	char *name;              /* default: the file name without extension */
	enum lf_layer_type type; /* default: app */
	long prio;               /* default: order given (later = higher) */
	int prio_given;
	int order;               /* position on the command line */
};

struct lf_stack {
	struct lf_layer_spec *v; /* after lf_stack_sort: highest first */
	int n;
	const char *const *parents; /* --parent files for differencing disks */
	int nparents;
	char *upper;             /* the writable layer's folder, or NULL */
	char *workdir;           /* where its temporaries go, or NULL */
};

/* Parse "PATH[,name=NAME][,type=os|platform|app][,prio=N]" and append. */
int lf_stack_add(struct lf_stack *s, const char *spec, struct lf_err *err);
/* Apply "NAME=N" (a --priority override). */
int lf_stack_override(struct lf_stack *s, const char *arg, struct lf_err *err);
/* Add overlayfs' "lowerdir=A:B:C" (leftmost highest). */
int lf_stack_add_lowerdir(struct lf_stack *s, const char *dirs, struct lf_err *err);
/* Order: OS lowest, then platform and app layers by priority; the result
 * is highest first. Two OS layers are an error. */
int lf_stack_sort(struct lf_stack *s, struct lf_err *err);
/* Put the writable personalization layer (a host folder) above all. */
int lf_stack_set_upper(struct lf_stack *s, const char *dir, const char *workdir,
		       struct lf_err *err);
void lf_stack_free(struct lf_stack *s);
const char *lf_layer_type_name(enum lf_layer_type t);
/* "os", "platform" or "app" to its type: 0, or -1 for anything else. */
int lf_layer_type_parse(const char *s, enum lf_layer_type *out);

struct lf_union;

/* One layer's copy of a merged file, read whole. */
struct lf_copy {
	const void *data;        /* NULL from lf_union_copy_stamps */
	size_t len;
	const char *layer;       /* the layer's name, for messages */
	const char *file;        /* the layer's file */
	uint64_t ino;            /* which file of that layer */
	struct timespec mtime;
	/* NAME.LOG1 and NAME.LOG2 beside it in that layer (a hive's
	 * transaction logs), read whole, or NULL */
	const void *log[2];
	size_t loglen[2];
};

struct lf_union_opts {
	/* Report a layer error met while serving (EIO from a corrupt layer):
	 * one line. NULL: stderr. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	/* Build subfolder indexes ahead of use in background threads (for a
	 * mount; a one-off walk needs no threads). */
	int prefetch;
	/* Files built from every layer's copy instead of won by the highest
	 * (registry hives): '/'-separated paths from the root, '*' standing
	 * for any one name, case ignored; at most 32. When two or more
	 * layers have such a file, stack() merges their copies (lowest
	 * layer first) into *out (malloc'd), on first open or stat, again
	 * when a copy changes. Such a file cannot be opened for writing. */
	const char *const *stacked;
	int nstacked;
	int (*stack)(void *ctx, const char *name, const struct lf_copy *copies, int n,
		     void **out, size_t *len, struct lf_err *err);
	void *stack_ctx;
	/* Where read-only layers come from (NULL: opened here, closed with
	 * the union): a host serving many unions opens each layer once. */
	int (*open_layer)(void *ctx, const char *path, const struct lf_layer_opts *o,
			  struct lf_layer **out, struct lf_err *err);
	void (*close_layer)(void *ctx, struct lf_layer *l);
	void *layer_ctx;
	/* names Windows programs cannot use (lf_name_forbidden) are refused
	 * with EINVAL where they are made: sessions, --access windows, -o
	 * windows_names; a plain mount keeps Linux's names */
	int windows_names;
};

/* Open every layer of the (sorted) stack. A layer that fails to open
 * fails the whole union with a message naming it. */
int lf_union_open(const struct lf_stack *s, const struct lf_union_opts *o,
		  struct lf_union **out, struct lf_err *err);
void lf_union_close(struct lf_union *u);
/* Make the folder layers forget the names no node or index of the union
 * uses (done on its own when the kernel forgets a walk); how many layer
 * numbers are kept. Waits for calls in progress. */
size_t lf_union_sweep(struct lf_union *u);

int lf_union_nlayers(const struct lf_union *u);
struct lf_layer *lf_union_layer(const struct lf_union *u, int i);
const struct lf_layer_spec *lf_union_spec(const struct lf_union *u, int i);
/* Layers taken out of the set by lf_union_set_layers that stay open behind
 * it (what the kernel holds of them still reads them) until the union
 * closes: how many; lf_union_spec(u, lf_union_nlayers(u) + k) names each. */
int lf_union_ndetached(const struct lf_union *u);

/* Look NAME up in folder PARENT. On success the node's lookup count goes
 * up by one (the kernel's "nlookup"); -ENOENT is a cached answer. */
int lf_union_lookup(struct lf_union *u, uint64_t parent, const char *name,
		    struct lf_attr *out);
/* Look PATH ('/'-separated, from the root) up name by name: its
 * attributes. Every node on the way stays looked up (a node's folder must
 * live while the node is used) until lf_union_walk_end; on an error
 * nothing is held. */
struct lf_walk {
	uint64_t held[256];
	int n;
};
int lf_union_walk(struct lf_union *u, const char *path, struct lf_attr *out, struct lf_walk *w);
void lf_union_walk_end(struct lf_union *u, struct lf_walk *w);
/* Drop nlookup references; the node is freed at zero (never the root). */
void lf_union_forget(struct lf_union *u, uint64_t ino, uint64_t nlookup);
int lf_union_getattr(struct lf_union *u, uint64_t ino, struct lf_attr *out);

/* Entries of folder INO from position OFF on (0 = start). fn gets each
 * entry's name, attributes and the position after it; returning non-zero
 * stops, and that entry was not taken. With plus, each entry taken is
 * also looked up (its count goes up, as readdirplus needs) and it is the
 * caller's to forget. fn runs with the folder's lock held: it must not
 * call into the union (keep what it needs, act after the call returns;
 * the lock checker aborts otherwise). */
typedef int (*lf_union_dirent_fn)(void *ctx, const char *name,
				  const struct lf_attr *attr, uint64_t next);
int lf_union_readdir(struct lf_union *u, uint64_t ino, uint64_t off, int plus,
		     lf_union_dirent_fn fn, void *ctx);
/* A folder read whole: each entry with its attributes, sorted as Windows
 * sorts names; each entry was looked up, and lf_union_list_free forgets
 * them. */
struct lf_union_entry {
	char *name;
	struct lf_attr a;
};
struct lf_union_list {
	struct lf_union_entry *v;
	size_t n, cap;
};
int lf_union_list(struct lf_union *u, uint64_t ino, struct lf_union_list *l);
void lf_union_list_free(struct lf_union *u, struct lf_union_list *l);

/* An open file: reads and writes go straight to the layer's own handle.
 * Opening for writing (or with O_TRUNC) copies the file up first; without
 * a writable layer that is -EROFS. */
struct lf_ufile;
int lf_union_open_file(struct lf_union *u, uint64_t ino, int flags, struct lf_ufile **out);
/* Where f's data is at or after off, and where the hole after it
 * begins (SEEK_DATA/SEEK_HOLE through its layer); all data where the
 * layer cannot tell. -ENXIO: only a hole from off on. Copies skip holes
 * so (a sparse file of terabytes is its few data blocks). */
int lf_union_data(struct lf_union *u, struct lf_ufile *f, uint64_t off, uint64_t *data,
		  uint64_t *hole);
/* The next data at or after *off of a file of size bytes: 1 with *off
 * moved to it and *end where it ends, 0 when only holes are left, or
 * -errno. */
int lf_union_next_data(struct lf_union *u, struct lf_ufile *f, uint64_t *off, uint64_t size,
		       uint64_t *end);
ssize_t lf_union_pread(struct lf_union *u, struct lf_ufile *f, void *buf,
		       size_t len, uint64_t off);
void lf_union_release(struct lf_union *u, struct lf_ufile *f);
/* May its data change under the page cache (a merged file, or a hive
 * regfs rewrites beside the mount)? */
int lf_union_file_merged(const struct lf_ufile *f);
/* Every layer's copy of the file at PATH that would be merged, lowest
 * layer first, read whole (free with lf_union_copies_free). 0, or
 * -ENOENT if no layer has it. */
int lf_union_copies(struct lf_union *u, const char *path, struct lf_copy **copies, int *n);
void lf_union_copies_free(struct lf_copy *copies, int n);
/* The same without the data: which layer files hold a copy, and which
 * copy, so that a cache can tell the same stack's hive at no cost. */
int lf_union_copy_stamps(struct lf_union *u, const char *path, struct lf_copy **copies, int *n);
/* Symlink target made to point inside the merged view: a target rooted at
 * the layer ("C:\x") becomes relative to the link's folder. */
ssize_t lf_union_readlink(struct lf_union *u, uint64_t ino, char *buf, size_t size);
ssize_t lf_union_listxattr(struct lf_union *u, uint64_t ino, char *buf, size_t size);
/* Extended attribute name of ino, whole (*v malloc'd, NUL after it): its
 * length, or -errno (-ENODATA: none). */
ssize_t lf_union_xattr_alloc(struct lf_union *u, uint64_t ino, const char *name, char **v);
ssize_t lf_union_getxattr(struct lf_union *u, uint64_t ino, const char *name,
			  void *buf, size_t size);
/* Read len bytes of alternate data stream NAME of ino's top copy at off
 * (a Compact OS file's, for publish): the count, 0 at its end, -ENODATA
 * without it or on a layer that cannot say. */
ssize_t lf_union_stream_pread(struct lf_union *u, uint64_t ino, const char *name, void *buf,
			      size_t len, uint64_t off);

/* Changes, all into the writable layer; -EROFS without one. Errors are
 * those a local file system gives for the same call. New nodes are owned
 * by cred (NULL: the daemon) and come back looked up once, as lookup's. */
struct lf_cred {
	uint32_t uid, gid;
};
int lf_union_writable(const struct lf_union *u);
int lf_union_create(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		    int flags, const struct lf_cred *c, struct lf_attr *out,
		    struct lf_ufile **file);
int lf_union_mkdir(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		   const struct lf_cred *c, struct lf_attr *out);
/* A FIFO, socket or device node (type in mode); devices only for uid 0,
 * as mknod(2) wants CAP_MKNOD. */
int lf_union_mknod(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		   uint64_t rdev, const struct lf_cred *c, struct lf_attr *out);
int lf_union_symlink(struct lf_union *u, uint64_t parent, const char *name,
		     const char *target, const struct lf_cred *c, struct lf_attr *out);
int lf_union_link(struct lf_union *u, uint64_t ino, uint64_t newparent, const char *newname,
		  struct lf_attr *out);
int lf_union_unlink(struct lf_union *u, uint64_t parent, const char *name);
int lf_union_rmdir(struct lf_union *u, uint64_t parent, const char *name);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE. A folder with parts in a
 * read-only layer is not renamed: -EXDEV (mv then copies). */
int lf_union_rename(struct lf_union *u, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname, unsigned flags);
/* valid: LF_SET_*; f: the open file it came through, or NULL. */
int lf_union_setattr(struct lf_union *u, uint64_t ino, struct lf_ufile *f,
		     const struct lf_attr *a, unsigned valid, struct lf_attr *out);
int lf_union_setxattr(struct lf_union *u, uint64_t ino, const char *name, const void *value,
		      size_t size, int flags);
int lf_union_removexattr(struct lf_union *u, uint64_t ino, const char *name);
ssize_t lf_union_pwrite(struct lf_union *u, struct lf_ufile *f, const void *buf, size_t len,
			uint64_t off);
int lf_union_fsync(struct lf_union *u, struct lf_ufile *f, int datasync);
int lf_union_fallocate(struct lf_union *u, struct lf_ufile *f, int mode, uint64_t off,
		       uint64_t len);
int lf_union_statfs(struct lf_union *u, struct statvfs *out);

/* What Windows sees of node ino: its descriptor (*sd malloc'd), its own
 * or, where it has none (a folder layer's file), the one made from its
 * mode, as pack and a session make it; and its FILE_ATTRIBUTE_* bits
 * (at: its attributes, as getattr gave them). */
int lf_union_win_sd(struct lf_union *u, uint64_t ino, uint8_t **sd, size_t *len);
uint32_t lf_union_win_attrib(struct lf_union *u, const struct lf_attr *at);

/* What differs between trees a and b: fn gets each difference, with the
 * '/'-path (b's spelling where b has the name), what: '+' only in b, '-'
 * only in a, '~' both but changed, 'd' a folder in both whose own
 * metadata changed (what is in it is compared on its own), 'm' a merged
 * file (a hive: the caller compares what it holds), and b's attributes
 * ('-': a's). why lists what changed, comma-separated, from "type",
 * "spelling", "size", "content", "link target", "descriptor",
 * "attributes", "streams", "reparse data" and, with LF_DIFF_TIMES,
 * "times". A folder whose type or spelling changed is reported once, not
 * walked (it is replaced whole). Names match in any case; same size and
 * modification time count as the same bytes, else they are compared.
 * fn returning non-zero stops. */
#define LF_DIFF_TIMES 1u
/* Everything NTFS keeps, as compare wants it: contents always read, the
 * creation, modification and change times of every entry (a side without
 * a creation time counts its modification time), link counts ("links"),
 * 8.3 names ("8.3 name"); a symlink's reparse data only where both sides
 * have some (a folder layer's link has a target alone). */
#define LF_DIFF_EXACT 2u
/* an entry only b has whose name Windows forbids, or deeper than publish
 * goes, is no difference (an image publish made left it out, said) */
#define LF_DIFF_WINDOWS 4u
#define LF_DIFF_WINDOWS_DEPTH 256
/* with LF_DIFF_EXACT: change times are not compared (a WIM image keeps
 * creation, write and access times only: a volume applied from one has
 * the time it was applied) */
#define LF_DIFF_NO_CTIME 8u
struct lf_diff_opts {
	unsigned flags;          /* LF_DIFF_* */
	/* entries compared so far, now and then; may be NULL */
	void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *progress_ctx;
	/* filled when not NULL: what was compared (names on both sides) */
	struct lf_diff_stats {
		uint64_t files, folders, other;
	} *stats;
};
typedef int (*lf_diff_fn)(void *ctx, char what, const char *path, const char *why,
			  const struct lf_attr *a);
int lf_union_diff(struct lf_union *a, struct lf_union *b, const struct lf_diff_opts *o,
		  lf_diff_fn fn, void *ctx);

/* Windows rights (a session): from now on each entry's security
 * descriptor decides what a caller may do: uid gets token t's rights (t
 * is copied), uid 0 SYSTEM's, anyone else none. New entries get the
 * descriptor Windows would give them (owner: the caller; ACEs inherited
 * from the folder), kept with them in the writable layer. */
struct lf_token;
int lf_union_set_access(struct lf_union *u, uint32_t uid, uint32_t gid, const struct lf_token *t);
/* A plain mount (no session): an entry of a read-only layer with a
 * descriptor of its own and no Linux metadata ($LX*) shows owner root, owner bits what SYSTEM and
 * Administrators may do, group and other bits what BUILTIN\Users may, so
 * the kernel's default_permissions give a local user a standard user's
 * rights; other entries (the writable layer's among them) keep their
 * POSIX owner and mode. */
int lf_union_set_plain_access(struct lf_union *u);
/* Whether requests are checked against descriptors (a session). */
int lf_union_checks_access(const struct lf_union *u);
/* The descriptor an entry c makes in folder parent gets (*sd malloc'd;
 * NULL when rights are not checked). */
int lf_union_new_sd(struct lf_union *u, const struct lf_cred *c, uint64_t parent, int folder,
		    uint8_t **sd, size_t *len);

/* Reset: remove the personalization layer's copy of PATH and its delete
 * token (any case), so the read-only layers' version shows again. fn is
 * told each name removed (of UPPER's spelling) and its type. */
typedef void (*lf_reset_fn)(void *ctx, const char *name, uint32_t type);
/* Offline, on the upper folder. Returns how many names were removed (0:
 * nothing to reset), or an error in err. */
int lf_upper_reset(const char *upper, const char *path, lf_reset_fn fn, void *ctx,
		   struct lf_err *err);
/* A mount's root answers getxattr(LF_UPPER_XATTR) with its writable
 * layer's folder, and takes setxattr(LF_RESET_XATTR, PATH) as a reset. */
#define LF_UPPER_XATTR "trusted.layerfs.upper"
#define LF_RESET_XATTR "trusted.layerfs.reset"
/* getxattr(LF_SETTLE_XATTR) returns once the kernel has been told what
 * the resets before it changed. */
#define LF_SETTLE_XATTR "trusted.layerfs.settle"
/* Through a running union: what the kernel must forget afterwards. */
struct lf_reset_inval {
	uint64_t parent;         /* the folder: its entry NAME and its listing */
	char name[1024];
	uint64_t ino;            /* the node that was shown, or 0 */
};
/* 0, -ENOENT if nothing was there to reset, or another error. */
int lf_union_reset(struct lf_union *u, const char *path, struct lf_reset_inval *inval);

/* A new set of read-only layers for a running union (the stack s,
 * sorted; its writable layer, if any, is not looked at: the union keeps
 * its own). Layers in both sets stay open and their nodes keep their
 * numbers; new ones are opened; those taken out are closed with the union
 * (open files still read them). Every node the kernel holds is made what
 * its path is now; a node whose path is gone is stale. fn is told what
 * the kernel must forget: a node's data, attributes and listing (name
 * NULL), or a name in folder ino. Calls wait while it runs. */
typedef void (*lf_inval_fn)(void *ctx, uint64_t ino, const char *name);
int lf_union_set_layers(struct lf_union *u, const struct lf_stack *s, lf_inval_fn fn, void *ctx,
			struct lf_err *err);

/* The kind ("ntfs", "dir", ...) of the layer node ino shows from (its
 * top layer), or NULL for a node the union does not hold. */
const char *lf_union_top_kind(struct lf_union *u, uint64_t ino);

/* Who provides PATH and who it shadows (for `layerctl which`). */
struct lf_which {
	int found;               /* PATH exists in the merged view */
	uint32_t type;
	int provider;            /* layer index (highest first), or -1 */
	int merged;              /* a file built from every layer's copy (a hive) */
	int ncontrib;            /* folders, merged files: the layers merged into it */
	int contrib[64];
	int spelling;            /* the layer whose spelling of the name shows, or -1 */
	char spelt[256];         /* that spelling */
	int nshadowed;           /* layers that have PATH but do not show it */
	struct { int layer; const char *why; int by; } shadowed[64];
};
int lf_union_which(struct lf_union *u, const char *path, struct lf_which *w);

/* What each layer gives the merged view below FOLDER (the console's stack
 * picture). Row 0 is FOLDER's own files; then a row a folder in it, for
 * its whole subtree. By layer (the union's index, highest first): the
 * files that show from it and their bytes; its files a higher layer's
 * copy hides (shadowed); its names a delete token or an opaque folder
 * above takes away (deleted; a folder counts once). Layers below an
 * opaque folder are not read. */
struct lf_census_row {
	char *name;              /* as the merged view spells it; "" for row 0 */
	int dir;
	uint64_t *files, *bytes, *shadowed, *deleted;   /* [nlayers] each */
};
struct lf_census {
	int nlayers;
	struct lf_census_row *rows;
	size_t nrows;
};
/* MEMOS (NULL, or one per layer, NULL where none): what earlier censuses
 * learnt of each NTFS layer (below), used and added to. */
struct lf_census_memo;
int lf_union_census(struct lf_union *u, const char *folder, struct lf_census_memo *const *memos,
		    struct lf_census *out);
void lf_census_free(struct lf_census *c);

/* A census memo (union_census_memo.c): for one read-only NTFS layer file,
 * the counts of each subtree only that layer gives, by its folder's MFT
 * number, so a census of any stack with that layer reads such a subtree
 * once. Kept in a file named by the layer's SHA-256 (KEY, at most 64
 * characters), read strictly. Safe to share between threads. */
struct lf_census_counts {
	uint64_t files, bytes, shadowed, deleted;
};
struct lf_census_memo *lf_census_memo_new(void);
void lf_census_memo_free(struct lf_census_memo *m);
int lf_census_memo_get(struct lf_census_memo *m, uint64_t ino, struct lf_census_counts *out);
void lf_census_memo_put(struct lf_census_memo *m, uint64_t ino, const struct lf_census_counts *c);
/* Has it learnt anything since it was loaded or saved? */
int lf_census_memo_dirty(struct lf_census_memo *m);
/* NAME beneath DIRFD into m, or m to it (a temporary, fsynced, renamed):
 * 0, or a negative errno with err naming the file and what is wrong. */
int lf_census_memo_load(struct lf_census_memo *m, int dirfd, const char *name, const char *key,
			struct lf_err *err);
int lf_census_memo_save(struct lf_census_memo *m, int dirfd, const char *name, const char *key,
			struct lf_err *err);
/* The file's bytes into m (*why: what is wrong, m then holds part), and
 * m as those bytes (*out malloc'd; *count entries). */
int lf_census_memo_decode(struct lf_census_memo *m, const uint8_t *data, size_t len,
			  const char *key, const char **why);
int lf_census_memo_encode(struct lf_census_memo *m, const char *key, uint8_t **out, size_t *len,
			  size_t *count);

#endif
