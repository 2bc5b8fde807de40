/* Node numbers for the registry's file tree, as the kernel knows them:
 * one node a name it looked up, kept while it holds a lookup on it. A
 * registry view is addressed by path, so a node keeps its name and its
 * parent, and a path is built from them. No FUSE here. */
#ifndef LF_REG_NODES_H
#define LF_REG_NODES_H

#include <stdint.h>

#define RNODE_ROOT 1

struct rnodes;

struct rnodes *rnodes_new(void);
void rnodes_free(struct rnodes *t);
/* The node of NAME in folder PARENT (any case: the same node), with one
 * more lookup on it: its number, or 0 (out of memory, parent unknown). */
uint64_t rnodes_lookup(struct rnodes *t, uint64_t parent, const char *name);
/* The kernel let go of n lookups. */
void rnodes_forget(struct rnodes *t, uint64_t ino, uint64_t n);
/* The path of node ino ("/" for the root), or with name of a child of it
 * (name NULL: the node itself); *path malloc'd. 0, -ENOENT (no such
 * node), -ENOMEM, -ENAMETOOLONG. */
int rnodes_path(struct rnodes *t, uint64_t ino, const char *name, char **path);
/* NAME in PARENT is gone (its node stays for whoever holds it). */
void rnodes_unlink(struct rnodes *t, uint64_t parent, const char *name);
/* NAME in PARENT is now TO in NEWPARENT (and what was TO is gone). */
void rnodes_rename(struct rnodes *t, uint64_t parent, const char *name, uint64_t newparent,
		   const char *to);

#endif
