/* Access checks (MS-DTYP 2.5.3.2, AccessCheck, for a DACL without
 * conditional or object ACEs, as files and keys have) and inheritance
 * for new objects (2.5.3.4, ComputeACL). libntfs-3g's ntfs_inherit_acl
 * is not used: it ignores NO_PROPAGATE_INHERIT and makes an ACE that is
 * object-inherit only effective on subfolders, where Windows makes it
 * inherit-only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sd_int.h"

const struct lf_generic_map lf_file_map = { 0x120089, 0x120116, 0x1200a0, 0x1f01ff };
const struct lf_generic_map lf_key_map = { 0x20019, 0x20006, 0x20019, 0xf003f };

#define GENERIC_BITS (LF_GENERIC_READ | LF_GENERIC_WRITE | LF_GENERIC_EXECUTE | LF_GENERIC_ALL)

uint32_t map_generic(uint32_t mask, const struct lf_generic_map *m)
{
	uint32_t out = mask & ~GENERIC_BITS;
	if (mask & LF_GENERIC_READ)
		out |= m->read;
	if (mask & LF_GENERIC_WRITE)
		out |= m->write;
	if (mask & LF_GENERIC_EXECUTE)
		out |= m->execute;
	if (mask & LF_GENERIC_ALL)
		out |= m->all;
	return out;
}

static uint32_t all_rights(const struct lf_generic_map *map)
{
	return map->all | LF_ACCESS_SYSTEM_SECURITY;
}

uint32_t lf_sd_rights(const uint8_t *sd, size_t len, const struct lf_token *t,
		      const struct lf_generic_map *map)
{
	if (t->system)
		return all_rights(map);
	struct sd_view v;
	if (sd_view(sd, len, &v, NULL))
		return 0;
	if (!v.dacl)                      /* no DACL, or a NULL one: no protection */
		return map->all;
	struct lf_sid owner;
	int is_owner = v.owner && lf_sid_read(sd + v.owner, len - v.owner, &owner) > 0 &&
		       lf_token_has(t, &owner);
	uint32_t granted = 0, denied = 0;
	struct ace_it it;
	struct ace a;
	int owner_rights = 0;
	acl_begin(&v, v.dacl, &it);
	while (ace_next(&it, &a)) {
		if ((a.type != LF_ACE_ALLOWED && a.type != LF_ACE_DENIED) || !a.has_sid)
			continue;
		int ors = lf_sid_eq(&a.sid, &lf_sid_owner_rights);
		owner_rights |= ors;
		if (a.flags & LF_ACE_INHERIT_ONLY)
			continue;
		if (!(ors ? is_owner : lf_token_has(t, &a.sid)))
			continue;
		uint32_t m = map_generic(a.mask, map);
		if (a.type == LF_ACE_ALLOWED)
			granted |= m & ~denied;
		else
			denied |= m & ~granted;
	}
	/* the owner may always read and change the DACL, unless an OWNER
	 * RIGHTS ACE (even one for others' use) says what the owner gets */
	if (is_owner && !owner_rights)
		granted |= (LF_READ_CONTROL | LF_WRITE_DAC) & ~denied;
	return granted;
}

int lf_rights_allow(uint32_t got, uint32_t want, const struct lf_generic_map *map)
{
	want = map_generic(want & ~LF_MAXIMUM_ALLOWED, map);
	return (got & want) == want ? 0 : -EACCES;
}

int lf_sd_access(const uint8_t *sd, size_t len, const struct lf_token *t,
		 const struct lf_generic_map *map, uint32_t want)
{
	return lf_rights_allow(lf_sd_rights(sd, len, t, map), want, map);
}

unsigned lf_rights_rwx(uint32_t rights, int folder)
{
	unsigned m = 0;
	if (rights & LF_FILE_READ_DATA)
		m |= 4;
	if (rights & LF_FILE_WRITE_DATA)
		m |= 2;
	if (folder || (rights & LF_FILE_EXECUTE))
		m |= 1;
	return m;
}

/* An inherited ACE's SID: CREATOR OWNER/GROUP become who made it. */
static const struct lf_sid *creator(const struct ace *a, const struct lf_token *t)
{
	if (lf_sid_eq(&a->sid, &lf_sid_creator_owner))
		return &t->user;
	if (lf_sid_eq(&a->sid, &lf_sid_creator_group))
		return &t->group;
	return &a->sid;
}

static int inherit_ace(struct sd_build *b, const struct ace *a, const struct lf_token *t,
		       int container, const struct lf_generic_map *map)
{
	uint8_t oi = a->flags & LF_ACE_OBJECT_INHERIT, ci = a->flags & LF_ACE_CONTAINER_INHERIT;
	uint8_t np = a->flags & LF_ACE_NO_PROPAGATE;
	uint8_t keep = a->flags & (uint8_t)~(LF_ACE_OBJECT_INHERIT | LF_ACE_CONTAINER_INHERIT |
					     LF_ACE_NO_PROPAGATE | LF_ACE_INHERIT_ONLY);
	keep |= LF_ACE_INHERITED;
	const struct lf_sid *sid = creator(a, t);
	uint32_t mask = map_generic(a->mask, map);
	if (!container)
		return oi ? sd_build_add(b, a->type, keep, mask, sid) : 0;
	if (!ci) {              /* object-inherit only: passed on to files below */
		if (!oi || np)
			return 0;
		return sd_build_add(b, a->type, keep | oi | LF_ACE_INHERIT_ONLY, a->mask, &a->sid);
	}
	if (np)
		return sd_build_add(b, a->type, keep, mask, sid);
	if (sid == &a->sid && mask == a->mask)   /* one ACE: effective and passed on */
		return sd_build_add(b, a->type, keep | oi | ci, mask, sid);
	int rc = sd_build_add(b, a->type, keep, mask, sid);
	return rc ? rc : sd_build_add(b, a->type, keep | oi | ci | LF_ACE_INHERIT_ONLY, a->mask,
				      &a->sid);
}

int lf_sd_inherit(const uint8_t *parent, size_t plen, const struct lf_token *t,
		  int container, const struct lf_generic_map *map,
		  uint8_t **out, size_t *outlen)
{
	struct sd_build b = { .control = LF_SE_DACL_PRESENT, .has_owner = 1, .has_group = 1,
			      .owner = t->user, .group = t->group };
	struct sd_view v;
	int rc = 0;
	if (parent && !sd_view(parent, plen, &v, NULL) && v.dacl) {
		struct ace_it it;
		struct ace a;
		acl_begin(&v, v.dacl, &it);
		while (!rc && ace_next(&it, &a))
			if (a.has_sid && (a.type == LF_ACE_ALLOWED || a.type == LF_ACE_DENIED) &&
			    (a.flags & (LF_ACE_OBJECT_INHERIT | LF_ACE_CONTAINER_INHERIT)))
				rc = inherit_ace(&b, &a, t, container, map);
	}
	if (!rc && b.n)
		b.control |= LF_SE_DACL_AUTO_INHERITED;
	/* nothing inherited: the token's default DACL */
	if (!rc && !b.n && !(rc = sd_build_add(&b, LF_ACE_ALLOWED, 0, map->all, &t->user)))
		rc = sd_build_add(&b, LF_ACE_ALLOWED, 0, map->all, &lf_sid_system);
	if (rc) {
		sd_build_free(&b);
		return rc;
	}
	return sd_build_done(&b, out, outlen);
}
