/* Internals of the union engine, shared by union.c and union_dir.c.
 *
 * THE LOCK MAP: every lock of the engine, regfs and layerd, what it
 * guards, and the order they nest in. A thread takes locks in the order
 * of this list (top first) and never waits for one above a lock it
 * holds, nor for one of the same rank (unless the list says so). The
 * ranks are enum lf_lock_class (include/layerfs/lockcheck.h); a build
 * with -Dlockcheck=true (CI's sanitizer build) aborts on a break of the
 * order with both places.
 *
 *  0 a layerd session's s->op (SESSION): one refresh (its new layer set
 *    and registry) or the logoff of that session at a time. Never taken
 *    with d->lock held: a refresh holds each session's in turn with the
 *    list free, taking d->lock under it only briefly to publish.
 *  1 layerd's d->lock (DAEMON): the session list, the logins under way,
 *    each session's reference count and what status shows of it; held
 *    briefly (a login takes it to check and to publish, its work runs
 *    without it).
 *  2 the heap's reclaimer list (RECLAIM, fs/common/heap.c): held while
 *    the trimmer runs each union's sweep, which only *tries* cfg.
 *  3 u->cfg (UNION_CFG), a rwlock: the layer set (layers, specs, slot,
 *    n) and what a new set rewrites (every node's refs). Each public
 *    lf_union_* call, and each lf_req_* call the mount's glue makes for
 *    a request (union_req.c: her rights checked inside), read-locks it
 *    once, at its entry, and never calls another public call inside
 *    (the union_* internals, declared below, are for that): a request
 *    enters the union once. Write-locked by lf_union_set_layers and the
 *    sweep. The fields each lock guards are said at each struct below.
 *  4 u->wlock (UNION_WRITE): one change of the tree at a time (copy-up,
 *    create, rename, unlink, reset, a new layer set).
 *  5 layerd's layer cache lock (LAYER_CACHE): which layer files are open
 *    and their references; a layer is opened and closed under it.
 *  6 a node's futex word n->lock (NODE): the node's folder index (dir)
 *    and changes of its refs. Held while the index is built (layer reads
 *    under it) and while a readdir hands entries over (whose callback
 *    must not call into the union: it keeps the entries and acts after).
 *    Never held while waiting for another node's lock, except:
 *  7 a child's lock under its parent's (NODE_CHILD: node_lock_child).
 *    A trylock of any node may be taken under anything (it cannot wait).
 *  8 the read-ahead lock p->lock (PREFETCH): its jobs and the indexes
 *    built ahead; a caller in node_dir may wait on its condition.
 *  9 u->alias_lock, u->stacked_lock (UNION_MAPS): the alias and hard-link
 *    records, the merged files built; a sweep marks their numbers in the
 *    layers (a layer's lock) under them, nothing else is taken.
 * 10 regfs' f->lock (REG_FILE): an open value file's buffer.
 * 10a regfs' v->save_lock (REG_SAVE): one change of the view at a time,
 *    held from its start to its fragment's rename, so a change's save
 *    runs with the view's lock let go (readers go on during the fsync).
 * 11 regfs' v->lock (REG_VIEW): the whole registry view (see
 *    regfs/view/reg_view_int.h).
 * 12 the hive cache's c->lock (HIVE_CACHE): merged hives shared by views.
 * 13 a Compact OS file's decoder w->lock (WOF, fs/ntfs/wof.c): its
 *    chunk table window, cached chunks and decompressor; its stream is
 *    read under it (the layer's lock, next).
 * 14 a layer's own lock (LAYER): a folder layer's node table, an NTFS
 *    volume (libntfs-3g is not thread safe). Taken under node locks;
 *    a layer never calls back into a union.
 * 14a the tables of the process's registry clients and its chunk cache
 *    (OCI, fs/oci/): registries_lock, cache_lock (the cache counted under
 *    it when first opened, which takes the cache's own leaf lock).
 * 15 leaves (LEAF): the 64 shard locks (the node table: lookup counts,
 *    busy marks, and refs together with the node's lock), u->keep_lock
 *    (the ring of kept indexes), the access memo's lock, regfs' node
 *    table, a VHD's block bitmap cache, an NTFS layer's table of open
 *    Compact OS decoders and of files it logged, layerfs' invalidation queue,
 *    layerd's job list; fs/oci/'s: a registry client's (its idle handles,
 *    token), the chunk cache's counts, a layer file's chunk table (a
 *    reader waits on its condition variable for a chunk another is
 *    fetching, the lock let go; the fetch runs with none held, under the
 *    layer's own); layerd's console: the last fsck's results (a
 *    thread of its own runs the check with none held), the sign-ins
 *    (auth->lock: PAM is asked with none held) and its list of census
 *    memos (a memo file is read under it, nothing taken); a census
 *    memo's table (m->lock, taken per lookup by a census inside its
 *    union's cfg, no node lock held). Nothing is
 *    waited for under a leaf; two leaves never nest.
 * 16 the heap trimmer's wake-up (HEAP_WAKE): the innermost; a free under
 *    any lock may signal the trimmer (lf_heap_freed).
 *
 * Where this map and the code disagree, the code changes. */
#ifndef LF_UNION_INT_H
#define LF_UNION_INT_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <stdint.h>

#include "layerfs/arena.h"
#include "layerfs/lockcheck.h"
#include "layerfs/union.h"

/* A layer's node: which layer (index, highest first) and its number there. */
/* A layer's node: 8 bytes, as every union node and every entry of a folder
 * index holds one (a layer's numbers fit INO_MASK: make_ino keeps no more). */
struct lref {
	uint64_t layer : 16;
	uint64_t ino : 48;
};

/* A set of names compared as Windows compares them. */
struct nameset {
	const char **names;      /* borrowed */
	uint64_t *hashes;
	uint32_t *slots;         /* index + 1; 0 = empty */
	size_t n, cap, nslots;
};
int nameset_add(struct nameset *s, const char *name);   /* index, or -ENOMEM */
int nameset_find(const struct nameset *s, const char *name); /* index or -1 */
void nameset_free(struct nameset *s);

/* One name in a merged folder. Every field is guarded by the folder
 * node's lock (n->lock, rank 6), as the index that holds it is: built
 * under it, changed under it (with wlock too, for a change through the
 * mount), read under it. */
struct uentry {
	char *name;              /* as the highest layer providing it spells it */
	uint64_t ino;            /* the union's node number */
	uint32_t type;           /* S_IFMT of that layer's entry */
	uint8_t closed;          /* lower layers can add nothing more */
	uint8_t gone;            /* deleted through the mount: skipped, slot kept */
	uint8_t own_name, own_refs; /* malloc'd (a change through the mount),
				  * not in the folder's blocks (the build) */
	uint8_t spelled;         /* the build: its spelling is settled */
	uint16_t nrefs;
	uint16_t spell_layer;    /* the layer whose spelling shows */
	struct lref *refs;       /* highest first; several only for folders */
};

/* The merged index of one folder, built once. What the build makes (names,
 * layer references) sits in a few blocks freed together: a walk builds
 * thousands of indexes and lets them go, and single allocations would leave
 * the heap too scattered to shrink. */
struct udir {                /* all of it: the folder node's lock */
	struct uentry *v;
	size_t n, cap;
	struct nameset index;    /* names of v, same positions */
	int nused;               /* layer folders read: an opaque one stops it */
	int data_asked;          /* its files' data was read ahead */
	struct lf_arena blocks;
};

/* Build the index of the folder made of these layer folders (highest
 * first): names of all of them, delete tokens and opaque markers applied. */
int udir_build(struct lf_union *u, const struct lref *refs, int nrefs,
	       struct udir **out);
/* The live entry of that name (any case), or NULL. */
struct uentry *udir_find(const struct udir *d, const char *name);
/* Put an entry (a copy of refs) under name: a gone entry of that name is
 * reused (so positions never move under a reader), else one is added. */
int udir_put(struct udir *d, const char *name, uint32_t type,
	     const struct lref *refs, int nrefs, uint64_t ino);
void udir_free(struct udir *d);
/* Give entry e of d these refs (copied). */
int udir_set_refs(struct uentry *e, const struct lref *refs, int nrefs);

#define NSHARDS 64
#define INO_LAYER_SHIFT 48
#define INO_MASK ((1ull << INO_LAYER_SHIFT) - 1)

/* A node the kernel or a call holds. The locks named are the lock map's
 * (top of this file): "shard" is the shard's lock of the node's number,
 * "lock" the node's own futex word, "cfg" the union's layer set lock
 * (write-held: no call runs), "wlock" the union's write lock. A field
 * said "fixed" is set before the node is put in its shard and never
 * changed. */
struct unode {
	uint64_t ino;            /* fixed */
	uint64_t nlookup;        /* shard: the kernel's references */
	uint64_t parent;         /* wlock and lock to change (a rename), either
				  * to read (node_where): the folder it is in */
	char *name;              /* as parent: its name there; inline_name, or
				  * malloc'd after a rename (the old one freed) */
	uint64_t hold_fh;        /* written once, under wlock, before held is set */
	struct lref *refs;       /* lock and shard to change, either to read;
				  * highest first; &ref1 when there is one
				  * (most nodes); cfg write-held rewrites all */
	struct lref ref1;        /* as refs */
	struct udir *dir;        /* lock: the folder's merged index, or NULL */
	struct unode *next;      /* shard: the bucket's chain */
	uint32_t busy;           /* shard: calls in progress using this node */
	uint32_t smask;          /* fixed: stacked-file patterns its path is on */
	uint16_t type;           /* fixed: S_IFMT bits */
	uint16_t depth;          /* as parent: folders between the root and it
				  * (at most 65535) */
	atomic_uint lock;        /* the node's lock (node_lock) */
	uint16_t nrefs;          /* as refs */
	_Atomic uint8_t unlinked; /* set and cleared under wlock, read with no
				  * lock (atomic): its name was deleted */
	uint8_t gone;            /* cfg write-held to set, shard to read in
				  * node_get: its layers were taken away */
	_Atomic uint8_t held;    /* set under wlock after hold_fh, read with no
				  * lock (atomic): hold_fh keeps an unlinked
				  * upper node readable */
	uint8_t negative;        /* lock: a lookup in this folder was told
				  * "no such name" (the kernel may keep it) */
	uint8_t detached;        /* cfg write-held to change: its path left
				  * with a layer; it reads the detached layer
				  * until the kernel forgets it */
	char inline_name[];      /* fixed: the name it was made with */
};

/* A node's lock is a futex word, not a pthread mutex: 4 bytes against 40
 * on every node the kernel holds (a Windows tree keeps 200,000 of them
 * per session). Never held across a wait for another node's lock except
 * parent before child. */
void node_lock_at(struct unode *n, enum lf_lock_class c, const char *where);
int node_trylock_at(struct unode *n, const char *where);     /* 0, or EBUSY */
void node_unlock_at(struct unode *n, const char *where);
#define node_lock(n) node_lock_at((n), LF_LK_NODE, LF_LK_HERE)
/* A child's lock while its parent's is held (the only nesting allowed). */
#define node_lock_child(n) node_lock_at((n), LF_LK_NODE_CHILD, LF_LK_HERE)
#define node_trylock(n) node_trylock_at((n), LF_LK_HERE)
#define node_unlock(n) node_unlock_at((n), LF_LK_HERE)
/* Give node n a new name (rename; wlock and n's lock held); it keeps the
 * old one if out of memory. */
int node_rename(struct unode *n, const char *name);
/* n's name (into name, size bytes: 766 hold any; NULL, 0 for none) and its folder's
 * number, as they are now: for a reader without wlock, whom a rename
 * could otherwise change them under. Takes n's lock: not under another
 * node's lock unless n is a file. */
uint64_t node_where(struct unode *n, char *name, size_t size);

struct shard {
	pthread_mutex_t lock;    /* a leaf (rank 15) */
	struct unode **buckets;  /* lock: the table, grown and shrunk under it */
	size_t nbuckets, count;  /* lock */
};

struct alias;
struct links;

/* "fixed": set by lf_union_open (or before the union serves a call:
 * lf_union_set_access) and never changed; "cfg": read under cfg held
 * either way, changed only with it write-held (a new layer set, the
 * sweep); other locks as named. */
struct lf_union {
	int n;                        /* cfg: layers of the set: [0, n) */
	int nall;                     /* cfg: with those detached behind it: [n, nall) */
	struct lf_layer **layers;     /* cfg: highest first; then the detached layers */
	uint16_t *slot;               /* cfg: each layer's slot, the top bits of its
				       * nodes' numbers */
	uint16_t next_slot;           /* cfg: for a layer added later (never reused) */
	struct lf_layer_spec *specs;  /* cfg */
	struct lf_union_opts opts;    /* fixed */
	struct shard shards[NSHARDS]; /* each its own lock */
	struct unode *root;           /* fixed (its fields as any node's) */
	struct prefetch *prefetch;    /* fixed: NULL unless asked for; its own lock */
	int upper;                    /* fixed: layers[0] is the writable layer */
	pthread_rwlock_t cfg;         /* calls read-lock it once; a new layer set
				       * write-locks it */
	pthread_mutex_t wlock;        /* one change of the tree at a time */
	pthread_mutex_t alias_lock;   /* rank 9: guards alias and links' records */
	struct alias *alias;          /* alias_lock: upper node -> the number it kept */
	struct links *_Atomic links;  /* alias_lock to change; lower hard links'
				       * counts (links_shadow) */
	uint64_t tmp_seq;             /* wlock: names of temporaries */
	struct spattern { char **c; int n; } spat[32]; /* fixed: opts.stacked, split */
	int nspat;                    /* fixed */
	pthread_mutex_t stacked_lock; /* rank 9: guards merged */
	struct merged *merged;        /* stacked_lock: built merged files, by number */
	struct access *access;        /* fixed: Windows rights decide (a session),
				       * or NULL; its memo has its own lock */
	size_t gc_kept, gc_held;      /* cfg (the sweep write-holds it): the last
				       * sweep's layer nodes kept, nodes held */
	pthread_mutex_t keep_lock;    /* a leaf: guards keep and keep_at */
	uint64_t *keep;               /* keep_lock: folders whose index was built
				       * last (a ring) */
	size_t keep_at;               /* keep_lock */
};

/* Nodes (union.c). node_get marks a node busy; node_put drops that
 * mark, or with forget > 0 that many lookups. */
struct unode *node_get(struct lf_union *u, uint64_t ino);
void union_access_free(struct lf_union *u);
void node_put(struct lf_union *u, struct unode *n, uint64_t forget);
/* The node for a merged entry of folder p, its lookup count raised by one. */
struct unode *node_intern(struct lf_union *u, const struct uentry *e, const struct unode *p);
/* The node's folder index, built if need be; on success n->lock is held
 * and the caller unlocks it. */
int node_dir(struct lf_union *u, struct unode *n, struct udir **out);
int node_attr(struct lf_union *u, struct unode *n, struct lf_attr *a);
/* With cfg held: a node's attributes without building a merged file (a
 * descriptor made from the mode needs no hive merged): the merged size
 * if known. */
int union_plain_attr(struct lf_union *u, uint64_t ino, struct lf_attr *a);
/* With cfg held: lf_union_xattr_alloc, lf_union_win_sd, lf_union_new_sd. */
ssize_t union_xattr_alloc(struct lf_union *u, uint64_t ino, const char *name, char **v);
int union_win_sd(struct lf_union *u, uint64_t ino, uint8_t **sd, size_t *len);
int union_new_sd(struct lf_union *u, const struct lf_cred *c, uint64_t parent, int folder,
		 uint8_t **sd, size_t *len);
/* lf_union_lookup, _forget, _getattr, _walk and _walk_end for callers
 * that hold cfg already (a call enters the union once). */
int union_lookup(struct lf_union *u, uint64_t parent, const char *name, struct lf_attr *out);
void union_forget(struct lf_union *u, uint64_t ino, uint64_t nlookup);
int union_getattr(struct lf_union *u, uint64_t ino, struct lf_attr *out);
int union_walk(struct lf_union *u, const char *path, struct lf_attr *out, struct lf_walk *w);
void union_walk_end(struct lf_union *u, struct lf_walk *w);
/* n's folder index was just built (n->lock held): the index of a folder
 * built long ago may be let go (union_dirkeep.c). */
void dirkeep_built(struct lf_union *u, struct unode *n);
/* For a new layer set (no call runs): a node by number, whatever its
 * state; every node (*out malloc'd; (size_t)-1 without memory). */
struct unode *union_node_find(struct lf_union *u, uint64_t ino);
size_t union_all_nodes(struct lf_union *u, struct unode ***out);
/* Sweeps of the layers' node tables (union_gc.c): the process's heap
 * trimmer asks for one when frees stop; registered with the union. */
void union_gc_start(struct lf_union *u);
void union_gc_stop(struct lf_union *u);
/* Layers taken out of the set stay open behind it, detached (layers[n]
 * to layers[nall - 1]): open files read them, and a node the kernel holds
 * whose path the new set has not (a shell's folder in a removed app)
 * still shows what it was. Each is closed at the next new set that no
 * node refers to it, or with the union. */
void merged_forget_all(struct lf_union *u);
/* Stop the read-ahead threads while the layer set changes, and go on. */
void union_prefetch_pause(struct lf_union *u);
void union_prefetch_resume(struct lf_union *u);
/* The top layer node of n (a snapshot: refs may change under writes). */
struct lref node_top(struct lf_union *u, struct unode *n);
/* Up to max of n's layer references, highest first: how many. */
int node_refs_copy(struct lf_union *u, struct unode *n, struct lref *out, int max);
/* Replace n's refs (a copy is made); caller holds n->lock. */
int node_set_refs(struct lf_union *u, struct unode *n, const struct lref *refs,
		  int nrefs);
/* An open file: reads and writes go straight to the layer's handle.
 * Fixed once opened (the kernel serializes nothing, and nothing here
 * changes); a merged file's bytes are shared and read only. */
struct lf_ufile {
	struct lf_layer *layer;  /* NULL for a merged file: */
	uint64_t fh;
	lf_ino ino;
	struct merged *merged;   /* its bytes */
	int beside;              /* a hive's path: changed beside the mount too */
};

/* Merged files (union_stacked.c). */
int stacked_init(struct lf_union *u);
void stacked_free(struct lf_union *u);
/* The pattern mask of a node named NAME at DEPTH in a folder of mask pmask. */
uint32_t stacked_mask(const struct lf_union *u, uint32_t pmask, uint32_t depth, const char *name);
/* Is node n a file that merges? */
int stacked_is(const struct lf_union *u, const struct unode *n);
/* n's merged bytes, built (or built again) if need be: a reference to drop
 * with merged_put. 0, -ENOENT when fewer than two layers have it (it is
 * an ordinary file), or an error (logged). */
int merged_get(struct lf_union *u, struct unode *n, struct merged **out);
/* The merged size and time (its newest copy's) already known for node
 * number ino, if any. */
int merged_known(struct lf_union *u, uint64_t ino, uint64_t *size, struct timespec *mtime);
void merged_put(struct lf_union *u, struct merged *m);
/* fn for the node number of every merged file built. */
void merged_each(struct lf_union *u, void (*fn)(struct lf_union *u, uint64_t ino));
ssize_t merged_read(const struct merged *m, void *buf, size_t len, uint64_t off);

/* The write side (union_write.c). */
int union_wants_write(int flags);
/* Open node n for writing, copying it up first. */
int union_open_rw(struct lf_union *u, struct unode *n, int flags, struct lf_ufile *f);

/* A node number from the layer node that provides it. */
uint64_t union_make_ino(const struct lf_union *u, struct lref r);
/* The union's number for a node a layer provides (copy-ups keep theirs). */
uint64_t union_entry_ino(struct lf_union *u, struct lref r);
int alias_add(struct lf_union *u, lf_ino upper, uint64_t ino);
/* fn for every node number the alias and link records hold. */
void alias_each(struct lf_union *u, void (*fn)(struct lf_union *u, uint64_t ino));
void alias_free(struct lf_union *u);
/* Link counts of a read-only layer's hard-linked file (layer_nlink names
 * there) as the mount changes them: one of its names there stops showing
 * (a token hides it, or a copy in the writable layer shadows it).
 * layer_nlink 0: as first recorded (nothing if never recorded). */
void links_shadow(struct lf_union *u, uint64_t ino, uint32_t layer_nlink);
/* Whether node ino has such a record, and how many of the layer's names
 * of it still show. */
int links_visible(struct lf_union *u, uint64_t ino, uint32_t *visible);
ssize_t union_link_target(struct lf_union *u, struct unode *n, char *buf, size_t size);

/* The layers (indexes, highest first) a node is made of. */
int union_node_layers(struct lf_union *u, uint64_t ino, int *layers, int max);

/* The union's own parts udir_build needs. */
struct lf_layer *union_layer(struct lf_union *u, int i);
void union_log(struct lf_union *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A call's one entry: cfg read-locked; leave unlocks it and gives rc
 * back (`return union_leave(u, union_x(u, ...))`). */
void union_enter(struct lf_union *u);
int union_leave(struct lf_union *u, int rc);
ssize_t union_leave_n(struct lf_union *u, ssize_t n);   /* for a length */

/* The engine's calls with cfg held (their lf_union_* wrappers take it;
 * union_req.c calls them inside a request's one entry). */
int union_open_file(struct lf_union *u, uint64_t ino, int flags, struct lf_ufile **out);
int union_readdir(struct lf_union *u, uint64_t ino, uint64_t off, int plus,
		  lf_union_dirent_fn fn, void *ctx);
ssize_t union_getxattr(struct lf_union *u, uint64_t ino, const char *name, void *buf,
		       size_t size);
ssize_t union_listxattr(struct lf_union *u, uint64_t ino, char *buf, size_t size);
int union_create(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		 int flags, const struct lf_cred *c, struct lf_attr *out, struct lf_ufile **file);
int union_mkdir(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		const struct lf_cred *c, struct lf_attr *out);
int union_mknod(struct lf_union *u, uint64_t parent, const char *name, uint32_t mode,
		uint64_t rdev, const struct lf_cred *c, struct lf_attr *out);
int union_symlink(struct lf_union *u, uint64_t parent, const char *name, const char *target,
		  const struct lf_cred *c, struct lf_attr *out);
int union_link(struct lf_union *u, uint64_t ino, uint64_t newparent, const char *newname,
	       struct lf_attr *out);
int union_unlink(struct lf_union *u, uint64_t parent, const char *name);
int union_rmdir(struct lf_union *u, uint64_t parent, const char *name);
int union_rename(struct lf_union *u, uint64_t parent, const char *name, uint64_t newparent,
		 const char *newname, unsigned flags);
int union_setattr(struct lf_union *u, uint64_t ino, struct lf_ufile *f,
		  const struct lf_attr *a, unsigned valid, struct lf_attr *out);
int union_setxattr(struct lf_union *u, uint64_t ino, const char *name, const void *value,
		   size_t size, int flags);
int union_removexattr(struct lf_union *u, uint64_t ino, const char *name);

/* The rights each request needs (union_access.c; cfg held). All 0 when
 * rights are not checked; else 0 or -EACCES (-EPERM for a mode).
 * union_may: every right in want (LF_FILE_*, LF_DELETE, ... of
 * layerfs/security.h) on node ino. delete: DELETE on NAME or
 * FILE_DELETE_CHILD on the folder. open by its flags (O_APPEND alone:
 * FILE_APPEND_DATA); make an entry of type (S_IF*) in parent:
 * FILE_ADD_SUBDIRECTORY for a folder, FILE_ADD_FILE for anything else;
 * link: FILE_WRITE_ATTRIBUTES on the file (Windows' hard-link rule) and
 * FILE_ADD_FILE on the folder; rename: delete the source, make it in the
 * new folder, delete what it replaces; setattr: owner -> WRITE_OWNER,
 * size -> FILE_WRITE_DATA, times -> FILE_WRITE_ATTRIBUTES, mode -> EPERM
 * but for SYSTEM (Windows has no mode: the descriptor is set through
 * system.ntfs_acl); xattrs: system.ntfs_acl READ_CONTROL / WRITE_DAC,
 * other system.ntfs_* the attribute rights, user.* (streams)
 * FILE_READ_DATA / FILE_WRITE_DATA as the stream's open, setting others
 * FILE_WRITE_EA; listing them FILE_READ_ATTRIBUTES and FILE_READ_EA;
 * access(2)'s mask. */
int union_may(struct lf_union *u, const struct lf_cred *c, uint64_t ino, uint32_t want);
int union_may_delete(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		     const char *name);
int union_may_open(struct lf_union *u, const struct lf_cred *c, uint64_t ino, int flags);
int union_may_make(struct lf_union *u, const struct lf_cred *c, uint64_t parent, uint32_t type);
int union_may_link(struct lf_union *u, const struct lf_cred *c, uint64_t ino, uint64_t newparent);
int union_may_rename(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		     const char *name, uint64_t newparent, const char *newname);
int union_may_setattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino, unsigned valid);
int union_may_xattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino, const char *name,
		    int set);
int union_may_list_xattrs(struct lf_union *u, const struct lf_cred *c, uint64_t ino);
int union_may_access(struct lf_union *u, const struct lf_cred *c, uint64_t ino, int mask);
/* Owner and mode as shown: rwx from the session user's rights, whoever
 * asks (the kernel keeps one set of attributes per file; root is checked
 * by the union, not by the mode), folders always x; owner her when the
 * descriptor's owner is her. c is unused in a session. */
void union_show(struct lf_union *u, const struct lf_cred *c, struct lf_attr *a);
/* A request's descriptors, read once (union_access.c): kept from begin
 * to end on this thread; forget drops them after the request changed
 * the tree. */
void union_sds_begin(void);
void union_sds_forget(void);
void union_sds_end(void);

/* A kernel union's own xattrs: trusted.overlay.* set through the mount
 * is kept as trusted.overlay.overlay.* in the layer (and shown back
 * unescaped), as kernel overlayfs escapes it since Linux 6.7, so a kernel
 * overlay later mounted over the folder never reads a user's value as
 * its own (a folder made opaque); the layer's unescaped ones (a kernel
 * union's, from before) are not shown. Returns the name to use in the
 * layer (buf, or name itself). */
#define OVL_PREFIX "trusted.overlay."
#define OVL_ESCAPED "trusted.overlay.overlay."
static inline const char *union_ovl_escape(const char *name, char *buf, size_t size)
{
	if (strncmp(name, OVL_PREFIX, sizeof OVL_PREFIX - 1))
		return name;
	snprintf(buf, size, "%s%s", OVL_ESCAPED, name + sizeof OVL_PREFIX - 1);
	return buf;
}
ssize_t union_ovl_unescape_list(char *buf, ssize_t n, size_t size);

#endif
