/* The mount's requests: what the FUSE glue calls, one function a request.
 * Each enters the union once (the layer set read-locked once, as the
 * lock map in fs/union/union_int.h says), checks the caller's Windows
 * rights inside the call they guard (a session; nothing else checks),
 * reads each descriptor it needs once, and gives back attributes as
 * the caller is shown them (owner and mode from her rights). The engine's
 * own callers (layerd, layerctl, publish) use the lf_union_* calls of
 * layerfs/union.h, which check nothing. */
#ifndef LAYERFS_UNION_REQ_H
#define LAYERFS_UNION_REQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layerfs/union.h"

int lf_req_lookup(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		  const char *name, struct lf_attr *out);
int lf_req_getattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		   struct lf_attr *out);
/* access(2): 0, or -EACCES when c lacks what mask asks. */
int lf_req_access(struct lf_union *u, const struct lf_cred *c, uint64_t ino, int mask);
int lf_req_open(struct lf_union *u, const struct lf_cred *c, uint64_t ino, int flags,
		struct lf_ufile **out);
/* May c list folder ino (-ENOTDIR if it is not one). */
int lf_req_opendir(struct lf_union *u, const struct lf_cred *c, uint64_t ino);
/* A listing: keep is lf_union_readdir's fn (run under the folder's
 * lock); then, with the lock let go, with plus, each attribute kept
 * (kept(ctx, 0), kept(ctx, 1), ... until NULL) is shown as c sees it. */
typedef struct lf_attr *(*lf_req_kept_fn)(void *ctx, size_t i);
int lf_req_readdir(struct lf_union *u, const struct lf_cred *c, uint64_t ino, uint64_t off,
		   int plus, lf_union_dirent_fn keep, lf_req_kept_fn kept, void *ctx);
ssize_t lf_req_getxattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
			const char *name, void *buf, size_t size);
ssize_t lf_req_listxattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino, char *buf,
			 size_t size);

/* The tree's changes (a writable union). mknod of a regular file makes
 * an empty one, as create and close would. */
int lf_req_create(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		  const char *name, uint32_t mode, int flags, struct lf_attr *out,
		  struct lf_ufile **file);
int lf_req_mknod(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		 const char *name, uint32_t mode, uint64_t rdev, struct lf_attr *out);
int lf_req_mkdir(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		 const char *name, uint32_t mode, struct lf_attr *out);
int lf_req_symlink(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		   const char *name, const char *target, struct lf_attr *out);
int lf_req_link(struct lf_union *u, const struct lf_cred *c, uint64_t ino, uint64_t newparent,
		const char *newname, struct lf_attr *out);
int lf_req_unlink(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		  const char *name);
int lf_req_rmdir(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		 const char *name);
int lf_req_rename(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		  const char *name, uint64_t newparent, const char *newname, unsigned flags);
/* f: the file it was asked through, if any (a size set through a file
 * opened for writing was checked at its open). */
int lf_req_setattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		   struct lf_ufile *f, const struct lf_attr *a, unsigned valid,
		   struct lf_attr *out);
int lf_req_setxattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		    const char *name, const void *value, size_t size, int flags);
int lf_req_removexattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		       const char *name);

#endif
