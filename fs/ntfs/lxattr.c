/* WSL's $LX* extended attributes (see lxattr.h). */
#include <string.h>
#include <sys/stat.h>

#include "layerfs/bytes.h"
#include "layerfs/layer.h"
#include "lxattr.h"

#define EA_HEAD 8   /* next offset (4), flags (1), name length (1), value length (2) */

uint32_t lx_tag_type(uint32_t tag)
{
	switch (tag) {
	case LX_TAG_AF_UNIX: return S_IFSOCK;
	case LX_TAG_FIFO: return S_IFIFO;
	case LX_TAG_CHR: return S_IFCHR;
	case LX_TAG_BLK: return S_IFBLK;
	default: return 0;
	}
}

/* One record; 0 if it does not fit. ntfs-3g wants every record's "next"
 * set, the last one's too, and records 4-aligned. */
static size_t put_record(uint8_t *at, size_t room, const char *name,
			 const uint32_t *v, unsigned nv)
{
	size_t nlen = strlen(name), vlen = 4u * nv;
	size_t len = (EA_HEAD + nlen + 1 + vlen + 3) & ~(size_t)3;
	if (len > room)
		return 0;
	memset(at, 0, len);
	put_le32(at, (uint32_t)len);
	at[5] = (uint8_t)nlen;
	at[6] = (uint8_t)vlen;
	memcpy(at + EA_HEAD, name, nlen + 1);
	for (unsigned i = 0; i < nv; i++)
		put_le32(at + EA_HEAD + nlen + 1 + 4 * i, v[i]);
	return len;
}

size_t lx_encode(const struct lx_meta *m, uint8_t *buf, size_t size)
{
	size_t at = 0, n;
	uint32_t dev[2] = { m->major, m->minor };
	struct { unsigned bit; const char *name; const uint32_t *v; unsigned nv; } recs[] = {
		{ LX_HAS_UID, "$LXUID", &m->uid, 1 },
		{ LX_HAS_GID, "$LXGID", &m->gid, 1 },
		{ LX_HAS_MODE, "$LXMOD", &m->mode, 1 },
		{ LX_HAS_DEV, "$LXDEV", dev, 2 },
	};
	for (size_t i = 0; i < sizeof recs / sizeof *recs; i++) {
		if (!(m->has & recs[i].bit))
			continue;
		n = put_record(buf + at, size - at, recs[i].name, recs[i].v, recs[i].nv);
		if (!n)
			return 0;
		at += n;
	}
	return at;
}

void lx_decode(const uint8_t *buf, size_t len, struct lx_meta *m)
{
	memset(m, 0, sizeof *m);
	size_t at = 0;
	while (len - at >= EA_HEAD) {
		const uint8_t *r = buf + at;
		uint32_t next = le32(r);
		size_t nlen = r[5], vlen = r[6] | (size_t)r[7] << 8;
		size_t end = next ? next : len - at;   /* Windows leaves the last one 0 */
		if (end > len - at || EA_HEAD + nlen + 1 + vlen > end)
			break;
		const char *name = (const char *)r + EA_HEAD;
		const uint8_t *v = r + EA_HEAD + nlen + 1;
		if (nlen == 6 && vlen == 4 && !memcmp(name, "$LXUID", 6)) {
			m->uid = le32(v); m->has |= LX_HAS_UID;
		} else if (nlen == 6 && vlen == 4 && !memcmp(name, "$LXGID", 6)) {
			m->gid = le32(v); m->has |= LX_HAS_GID;
		} else if (nlen == 6 && vlen == 4 && !memcmp(name, "$LXMOD", 6)) {
			m->mode = le32(v); m->has |= LX_HAS_MODE;
		} else if (nlen == 6 && vlen == 8 && !memcmp(name, "$LXDEV", 6)) {
			m->major = le32(v); m->minor = le32(v + 4); m->has |= LX_HAS_DEV;
		}
		if (!next)
			break;
		at += next;
	}
}

size_t lf_ea_strip_lx(const uint8_t *buf, size_t len, uint8_t *out)
{
	size_t at = 0, o = 0;
	while (len - at >= EA_HEAD) {
		const uint8_t *r = buf + at;
		uint32_t next = le32(r);
		size_t nlen = r[5], vlen = r[6] | (size_t)r[7] << 8;
		size_t end = next ? next : len - at;
		if (end > len - at || EA_HEAD + nlen + 1 + vlen > end)
			break;
		if (!(nlen >= 3 && !memcmp(r + EA_HEAD, "$LX", 3))) {
			/* each record whole, its "next" its own aligned length */
			size_t rl = (EA_HEAD + nlen + 1 + vlen + 3) & ~(size_t)3;
			if (rl > end)
				rl = end;
			memcpy(out + o, r, rl);
			put_le32(out + o, (uint32_t)rl);
			o += rl;
		}
		if (!next)
			break;
		at += next;
	}
	return o;
}
