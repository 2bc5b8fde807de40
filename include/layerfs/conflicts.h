/* Conflicts between app layers (layerctl conflicts): every file path and
 * registry value that more than one app (or platform) layer provides or
 * deletes, who wins by priority, and who would win with other priorities.
 * No FUSE here. */
#ifndef LAYERFS_CONFLICTS_H
#define LAYERFS_CONFLICTS_H

#include <stddef.h>

#include "layerfs/err.h"
#include "layerfs/union.h"

struct lf_conflict_layer {
	const char *name;
	const char *path;        /* the layer file (or folder) */
	enum lf_layer_type type; /* OS layers are read only as what lies below */
	long priority;
};

struct lf_provider {
	int layer;               /* index into the layers given */
	int deletes;             /* a delete token (file) or marker (registry) */
};

struct lf_conflict {
	int registry;            /* 0: a file path; 1: HIVE\KEY\VALUE */
	char *path;              /* as the highest provider spells it */
	int merged;              /* a registry value the merge joins (MULTI_SZ, ;-lists) */
	int in_os;               /* the OS layer has it too */
	struct lf_provider *v;
	int n;
};

/* Read every layer (files, and the hives at their Windows paths) and
 * list what two or more non-OS layers provide. */
int lf_conflicts_find(const struct lf_conflict_layer *layers, int n, struct lf_conflict **out,
		      size_t *nout, struct lf_err *err);
void lf_conflicts_free(struct lf_conflict *c, size_t n);
/* Who wins with these priorities (one a layer): the provider's index in
 * c->v (the higher priority; a tie goes to the later layer given). */
int lf_conflict_winner(const struct lf_conflict *c, const long *priority);

#endif
