/* Internals of the descriptor code: a checked view of a self-relative
 * descriptor, ACEs one by one, and a descriptor built from parts. */
#ifndef LF_SD_INT_H
#define LF_SD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "layerfs/security.h"

struct sd_view {
	const uint8_t *sd;
	size_t len;
	uint16_t control;
	uint32_t owner, group, sacl, dacl;   /* offsets; 0: none */
};
/* 0, or -EINVAL with *why: the header, both SIDs and every ACE are in
 * bounds (a descriptor from disk is hostile). */
int sd_view(const uint8_t *sd, size_t len, struct sd_view *v, const char **why);

/* One ACE. Object ACEs (types 5-8, 11-16) carry GUIDs before the SID. */
struct ace {
	uint8_t type, flags;
	uint16_t size;
	uint32_t mask;
	int has_sid;
	struct lf_sid sid;
	uint32_t objflags;
	const uint8_t *guid, *iguid;        /* NULL if absent */
};
struct ace_it {
	const uint8_t *p;
	size_t left;
	unsigned n;
};
/* The ACL at offset off of a checked view (0 = none: returns 0). */
int acl_begin(const struct sd_view *v, uint32_t off, struct ace_it *it);
/* The next ACE: 1, or 0 at the end (and on anything malformed). */
int ace_next(struct ace_it *it, struct ace *a);

/* A descriptor being made: owner, group, control, DACL ACEs (SID ones
 * only), the SACL kept as raw bytes. */
struct sd_build {
	uint16_t control;
	int has_owner, has_group, dacl_null;   /* dacl_null: present, no ACL (for a SACL too) */
	struct lf_sid owner, group;
	struct ace *aces;
	size_t n, cap;
	const uint8_t *sacl;     /* borrowed: a whole ACL, or NULL */
	size_t sacl_len;
};
int sd_build_add(struct sd_build *b, uint8_t type, uint8_t flags, uint32_t mask,
		 const struct lf_sid *sid);
/* Serialize (self-relative, SACL, DACL, owner, group as Windows lays
 * them out); frees the ACE list. */
int sd_build_done(struct sd_build *b, uint8_t **out, size_t *outlen);
void sd_build_free(struct sd_build *b);
/* An ACL of SID ACEs: its size, and written at p. */
size_t acl_size(const struct ace *v, size_t n);
void acl_write(const struct ace *v, size_t n, uint8_t *p);

uint32_t map_generic(uint32_t mask, const struct lf_generic_map *m);

#endif
