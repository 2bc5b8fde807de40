/* Where hives live in a Windows volume, and composite hives: one hive's
 * copies in a stack of layers merged into one (the union serves them in
 * the mount; regfs shows them as a tree). */
#ifndef LAYERFS_REGCOMPOSE_H
#define LAYERFS_REGCOMPOSE_H

#include "layerfs/hive.h"
#include "layerfs/regview.h"
#include "layerfs/union.h"

/* A hive's path in the volume ('*': any one name) and where regfs shows
 * it ('*' there: the name the path's '*' matched). */
struct lf_hive_place {
	const char *path;
	const char *mount;
};
extern const struct lf_hive_place lf_hive_places[];
extern const int lf_nhive_places;
/* The place a path is shown at ("HKU/alice" for Users/alice/NTUSER.DAT),
 * in buf; NULL if the path is no hive place. */
const char *lf_hive_place_of(const char *path, char *buf, size_t size);
/* The paths alone, as lf_union_opts.stacked wants them. */
const char *const *lf_hive_patterns(int *n);

/* Each hive place in layer l: the paths with '*' put for each folder of
 * its Users/ (the user profiles it has), and where each shows. fn
 * returning non-zero stops, and is returned. */
typedef int (*lf_hive_place_fn)(void *ctx, const char *path, const char *mount);
int lf_hive_places_in(struct lf_layer *l, lf_hive_place_fn fn, void *ctx);
/* The hive at PATH in layer l, read whole and loaded: -ENOENT (err not
 * set) when no file is there. */
/* The hive at PATH as union u serves it (merged from every layer's copy),
 * at most max bytes: 0, -ENOENT (not there: err not set) or an error. */
int lf_hive_load_union(struct lf_union *u, const char *path, size_t max, struct lf_hive **out,
		       struct lf_err *err);
int lf_hive_load_layer(struct lf_layer *l, const char *path, struct lf_hive **out,
		       struct lf_err *err);

/* Merge the copies (lowest first; NAME for messages) into one hive. A
 * copy dirty without usable logs is taken as its base image and said in
 * the hive's base_only (lf_reg_stack refuses such a merge; the registry
 * view shows it read-only). */
int lf_reg_compose(const struct lf_copy *copies, int n, const struct lf_merge *m,
		   const char *name, struct lf_hive **out, struct lf_err *err);
/* lf_union_opts.stack: the same, written as a compact hive image; ctx
 * is the struct lf_merge (NULL: the built-in rules). */
int lf_reg_stack(void *ctx, const char *name, const struct lf_copy *copies, int n, void **out,
		 size_t *len, struct lf_err *err);
/* Merged hives kept for the stacks that use them, so that a host serving
 * many sessions of one stack reads, merges and holds each hive once.
 * Thread-safe; one set of merge rules per cache. */
struct lf_hive_cache;
struct lf_hive_cache *lf_hive_cache_new(void);
void lf_hive_cache_free(struct lf_hive_cache *c);
/* The hive at PATH of the union, its copies merged and frozen: the one
 * made before for the same copies of the same layer files, or made now
 * and kept (c NULL: made, not kept). A reference for the caller; -ENOENT
 * (err not set) when no layer has it. */
int lf_hive_cache_compose(struct lf_hive_cache *c, struct lf_union *u, const struct lf_merge *m,
			  const char *path, struct lf_hive **out, struct lf_err *err);
/* Hives no view holds any more are let go (the cache does so itself
 * when it adds one); how many. */
int lf_hive_cache_trim(struct lf_hive_cache *c);

/* The hives of USER's profile that only the writable layer UPPER has
 * (her NTUSER.DAT made at a first login): shown as HKU/USER and
 * HKU/USER_Classes. Returns how many, or -1 with err set. */
int lf_regview_add_user(struct lf_regview *v, const char *user, const char *upper,
			struct lf_err *err);

/* Show every hive the union's layers have, merged, in the view; with
 * upper, changes go to fragments at the same paths under it; cache:
 * where merged hives are shared (NULL: none). Returns how many hives
 * were added, or -1 with err set. */
int lf_regview_add_union(struct lf_regview *v, struct lf_union *u, const struct lf_merge *m,
			 const char *upper, struct lf_hive_cache *cache, struct lf_err *err);

#endif
