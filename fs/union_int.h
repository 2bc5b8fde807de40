/* Internals of the union engine, shared by union.c and union_dir.c. */
#ifndef LF_UNION_INT_H
#define LF_UNION_INT_H

#include <pthread.h>
#include <stdint.h>

#include "layerfs/union.h"

/* A layer's node: which layer (index, highest first) and its number there. */
struct lref {
	uint16_t layer;
	lf_ino ino;
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

/* One name in a merged folder. */
struct uentry {
	char *name;              /* as the highest layer providing it spells it */
	uint32_t type;           /* S_IFMT of that layer's entry */
	int closed;              /* lower layers can add nothing more */
	uint16_t nrefs;
	struct lref *refs;       /* highest first; several only for folders */
};

/* The merged index of one folder, built once. */
struct udir {
	struct uentry *v;
	size_t n, cap;
	struct nameset index;    /* names of v, same positions */
	int nused;               /* layer folders read: an opaque one stops it */
	int data_asked;          /* its files' data was read ahead */
};

/* Build the index of the folder made of these layer folders (highest
 * first): names of all of them, delete tokens and opaque markers applied. */
int udir_build(struct lf_union *u, const struct lref *refs, int nrefs,
	       struct udir **out);
const struct uentry *udir_find(const struct udir *d, const char *name);
void udir_free(struct udir *d);

/* The layers (indexes, highest first) a node is made of. */
int union_node_layers(struct lf_union *u, uint64_t ino, int *layers, int max);

/* The union's own parts udir_build needs. */
struct lf_layer *union_layer(struct lf_union *u, int i);
void union_log(struct lf_union *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
