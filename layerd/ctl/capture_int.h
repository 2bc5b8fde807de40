/* layerctl capture's parts (cmd_capture.c: files, the run; capture_reg.c:
 * registry fragments): the state of one capture. */
#ifndef LAYERCTL_CAPTURE_INT_H
#define LAYERCTL_CAPTURE_INT_H

#include <limits.h>
#include <stdint.h>

#include <jansson.h>

#include "layerfs/hive.h"
#include "layerfs/union.h"

/* Rules of what is left out (App Volumes' exclude_path/exclude_registry):
 * a path at or below one, case ignored, '*' one part; hits counted. */
struct rules {
	const char **v;
	size_t n;
	long *hits;
};

/* A file of B with several names (hard links, WinSxS's way), staged
 * once: its other names become links to that copy, as pack keeps them. */
#define LINK_SLOTS 4096
struct linked {
	uint64_t ino;            /* B's node number: one for all its names */
	struct linked *next;
	char path[];             /* the first name staged */
};

struct capture {
	struct lf_union *a, *b;
	int stage;               /* the staging folder's fd */
	char stage_path[PATH_MAX];
	struct rules files, keys;
	long nfiles, ntokens, nkeys, nvalues, nmarkers;
	uint64_t bytes;
	int failed;
	const char *hive;        /* the hive whose diff runs: its place */
	struct lf_rkey *frag, *broot;
	json_t *refusals;        /* finalize checks: what would make it a bad layer */
	struct linked *links[LINK_SLOTS];   /* B's files of several names staged */
	long nlinks;
	json_t *tops;            /* per top folder: files, bytes, tokens */
	json_t *dirty;           /* hives below read with their logs (or without) */
	int json, strict;
	long nskipped;           /* entries Windows cannot hold, left out */
};

/* Does rule r name path or a folder above it? Is path left out by one of
 * r's rules (its hit counted)? */
int capture_under(const char *rule, const char *path);
int capture_excluded(struct rules *r, const char *path);
/* A finalize check found something (refused unless --force). */
void capture_refuse(struct capture *c, const char *check, const char *what);
/* The staging folder's parent of path, made: an fd, and the last name. */
int capture_stage_dir(struct capture *c, const char *path, const char **name);
/* A hive B changed: its fragment into the staging folder at path (place:
 * where regfs shows it, "HKLM/SYSTEM"). */
int capture_hive_fragment(struct capture *c, const char *path, const char *place);

#endif
