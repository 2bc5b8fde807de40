/* Self-relative security descriptors (MS-DTYP 2.4.6): checked reading,
 * ACEs one by one, and writing one from parts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/bytes.h"
#include "layerfs/grow.h"
#include "sd_int.h"

static int object_type(uint8_t t)
{
	return (t >= 5 && t <= 8) || (t >= 11 && t <= 16 && t != 13);
}

/* Types that end in a SID: allow, deny, audit, alarm, their callback
 * and object forms, mandatory label, resource attribute, scoped policy. */
static int sid_type(uint8_t t)
{
	return t <= 0x13;
}

static int parse_ace(const uint8_t *p, size_t size, struct ace *a)
{
	memset(a, 0, sizeof *a);
	a->type = p[0];
	a->flags = p[1];
	a->size = (uint16_t)size;
	if (size < 8)
		return sid_type(a->type) ? -EINVAL : 0;
	a->mask = le32(p + 4);
	if (!sid_type(a->type))
		return 0;
	size_t at = 8;
	if (object_type(a->type)) {
		if (size < 12)
			return -EINVAL;
		a->objflags = le32(p + 8);
		at = 12;
		if (a->objflags & 1) {
			a->guid = p + at;
			at += 16;
		}
		if (a->objflags & 2) {
			a->iguid = p + at;
			at += 16;
		}
		if (at > size)
			return -EINVAL;
	}
	if (lf_sid_read(p + at, size - at, &a->sid) < 0)
		return -EINVAL;
	a->has_sid = 1;
	return 0;
}

static int check_acl(const uint8_t *sd, size_t len, uint32_t off, const char **why)
{
	if (off < 20 || off > len || len - off < 8) {
		*why = "an ACL lies outside the descriptor";
		return -EINVAL;
	}
	const uint8_t *p = sd + off;
	uint16_t size = le16(p + 2), count = le16(p + 4);
	if ((p[0] != 2 && p[0] != 4) || size < 8 || size > len - off) {
		*why = p[0] != 2 && p[0] != 4 ? "an ACL has an unknown revision"
					      : "an ACL's size runs past the descriptor";
		return -EINVAL;
	}
	size_t at = 8;
	for (unsigned i = 0; i < count; i++) {
		struct ace a;
		uint16_t asz = at + 4 <= size ? le16(p + at + 2) : 0;
		if (asz < 4 || asz > size - at || parse_ace(p + at, asz, &a)) {
			*why = "an ACE is malformed or runs past its ACL";
			return -EINVAL;
		}
		at += asz;
	}
	return 0;
}

int sd_view(const uint8_t *sd, size_t len, struct sd_view *v, const char **why)
{
	static const char *dummy;
	if (!why)
		why = &dummy;
	memset(v, 0, sizeof *v);
	if (!sd || len < 20 || sd[0] != 1) {
		*why = len < 20 ? "shorter than a descriptor header" : "not revision 1";
		return -EINVAL;
	}
	v->sd = sd;
	v->len = len;
	v->control = le16(sd + 2);
	v->owner = le32(sd + 4);
	v->group = le32(sd + 8);
	v->sacl = le32(sd + 12);
	v->dacl = le32(sd + 16);
	if (!(v->control & LF_SE_SELF_RELATIVE)) {
		*why = "not self-relative";
		return -EINVAL;
	}
	struct lf_sid s;
	const uint32_t sids[2] = { v->owner, v->group };
	for (int i = 0; i < 2; i++)
		if (sids[i] && (sids[i] < 20 || sids[i] >= len ||
				lf_sid_read(sd + sids[i], len - sids[i], &s) < 0)) {
			*why = i ? "the group SID is malformed" : "the owner SID is malformed";
			return -EINVAL;
		}
	if (!(v->control & LF_SE_DACL_PRESENT))
		v->dacl = 0;
	if (!(v->control & LF_SE_SACL_PRESENT))
		v->sacl = 0;
	if ((v->dacl && check_acl(sd, len, v->dacl, why)) ||
	    (v->sacl && check_acl(sd, len, v->sacl, why)))
		return -EINVAL;
	return 0;
}

int acl_begin(const struct sd_view *v, uint32_t off, struct ace_it *it)
{
	memset(it, 0, sizeof *it);
	if (!off)
		return 0;
	const uint8_t *p = v->sd + off;
	it->p = p + 8;
	it->left = (size_t)le16(p + 2) - 8;
	it->n = le16(p + 4);
	return 1;
}

int ace_next(struct ace_it *it, struct ace *a)
{
	if (!it->n || it->left < 4)
		return 0;
	uint16_t size = le16(it->p + 2);
	if (size < 4 || size > it->left || parse_ace(it->p, size, a))
		return 0;
	it->p += size;
	it->left -= size;
	it->n--;
	return 1;
}

int lf_sd_check(const uint8_t *sd, size_t len, const char **why)
{
	struct sd_view v;
	return sd_view(sd, len, &v, why);
}

static int sd_sid(const uint8_t *sd, size_t len, int group, struct lf_sid *out)
{
	struct sd_view v;
	if (sd_view(sd, len, &v, NULL))
		return -EINVAL;
	uint32_t off = group ? v.group : v.owner;
	if (!off)
		return -ENOENT;
	return lf_sid_read(sd + off, len - off, out) < 0 ? -EINVAL : 0;
}

int lf_sd_owner(const uint8_t *sd, size_t len, struct lf_sid *out)
{
	return sd_sid(sd, len, 0, out);
}

int lf_sd_group(const uint8_t *sd, size_t len, struct lf_sid *out)
{
	return sd_sid(sd, len, 1, out);
}

int sd_build_add(struct sd_build *b, uint8_t type, uint8_t flags, uint32_t mask,
		 const struct lf_sid *sid)
{
	if (lf_grow(&b->aces, &b->cap, b->n, sizeof *b->aces, 8))
		return -ENOMEM;
	struct ace *a = &b->aces[b->n++];
	memset(a, 0, sizeof *a);
	a->type = type;
	a->flags = flags;
	a->mask = mask;
	a->has_sid = 1;
	a->sid = *sid;
	a->size = (uint16_t)(8 + lf_sid_size(sid));
	return 0;
}

void sd_build_free(struct sd_build *b)
{
	free(b->aces);
	b->aces = NULL;
	b->n = b->cap = 0;
}

size_t acl_size(const struct ace *v, size_t n)
{
	size_t size = 8;
	for (size_t i = 0; i < n; i++)
		size += v[i].size;
	return size;
}

void acl_write(const struct ace *v, size_t n, uint8_t *p)
{
	p[0] = 2;
	put_le16(p + 2, (uint16_t)acl_size(v, n));
	put_le16(p + 4, (uint16_t)n);
	size_t at = 8;
	for (size_t i = 0; i < n; i++) {
		const struct ace *a = &v[i];
		p[at] = a->type;
		p[at + 1] = a->flags;
		put_le16(p + at + 2, a->size);
		put_le32(p + at + 4, a->mask);
		lf_sid_write(&a->sid, p + at + 8);
		at += a->size;
	}
}

int sd_build_done(struct sd_build *b, uint8_t **out, size_t *outlen)
{
	int has_dacl = (b->control & LF_SE_DACL_PRESENT) && !b->dacl_null;
	size_t dacl = has_dacl ? acl_size(b->aces, b->n) : 0;
	size_t len = 20 + b->sacl_len + dacl +
		     (b->has_owner ? lf_sid_size(&b->owner) : 0) +
		     (b->has_group ? lf_sid_size(&b->group) : 0);
	if (dacl > 0xffff || b->n > 0xffff) {
		sd_build_free(b);
		return -E2BIG;
	}
	uint8_t *p = calloc(1, len);
	if (!p) {
		sd_build_free(b);
		return -ENOMEM;
	}
	p[0] = 1;
	uint16_t control = b->control | LF_SE_SELF_RELATIVE;   /* SACL_PRESENT alone: a NULL SACL */
	size_t at = 20;
	if (b->sacl) {
		control |= LF_SE_SACL_PRESENT;
		memcpy(p + at, b->sacl, b->sacl_len);
		put_le32(p + 12, (uint32_t)at);
		at += b->sacl_len;
	}
	if (has_dacl) {
		put_le32(p + 16, (uint32_t)at);
		acl_write(b->aces, b->n, p + at);
		at += dacl;
	}
	put_le16(p + 2, control);
	if (b->has_owner) {
		put_le32(p + 4, (uint32_t)at);
		lf_sid_write(&b->owner, p + at);
		at += lf_sid_size(&b->owner);
	}
	if (b->has_group) {
		put_le32(p + 8, (uint32_t)at);
		lf_sid_write(&b->group, p + at);
	}
	sd_build_free(b);
	*out = p;
	*outlen = len;
	return 0;
}

int lf_sd_from_mode(mode_t mode, const struct lf_sid *owner, uint8_t **out, size_t *outlen)
{
	int dir = S_ISDIR(mode);
	/* r, w, x as Windows rights: ntfs-3g's mapping of the same bits */
	uint32_t r = 0x120089, w = 0x000116 | (dir ? LF_FILE_DELETE_CHILD : 0), x = 0x1200a0;
	uint32_t own = 0, oth = 0;
	for (int i = 0; i < 2; i++) {
		unsigned bits = i ? mode & 7 : (mode >> 6) & 7;
		uint32_t m = (bits & 4 ? r : 0) | (bits & 2 ? w : 0) | (bits & 1 ? x : 0);
		*(i ? &oth : &own) = m;
	}
	own |= LF_DELETE | LF_READ_CONTROL | LF_WRITE_DAC | LF_WRITE_OWNER | LF_SYNCHRONIZE;
	uint8_t inh = dir ? LF_ACE_OBJECT_INHERIT | LF_ACE_CONTAINER_INHERIT : 0;
	if (!owner)
		owner = &lf_sid_admins;
	struct sd_build b = { .control = LF_SE_DACL_PRESENT, .has_owner = 1, .has_group = 1,
			      .owner = *owner, .group = *owner };
	int rc = sd_build_add(&b, LF_ACE_ALLOWED, inh, own, owner);
	if (!rc && !lf_sid_eq(owner, &lf_sid_admins))
		rc = sd_build_add(&b, LF_ACE_ALLOWED, inh, own, &lf_sid_admins);
	if (!rc)
		rc = sd_build_add(&b, LF_ACE_ALLOWED, inh, own, &lf_sid_system);
	if (!rc && oth)
		rc = sd_build_add(&b, LF_ACE_ALLOWED, inh, oth | LF_SYNCHRONIZE, &lf_sid_users);
	if (rc) {
		sd_build_free(&b);
		return rc;
	}
	return sd_build_done(&b, out, outlen);
}
