/* What an entry carries beside its data, streams, descriptor and times,
 * kept alike by pack (a host folder), a new revision and publish (a
 * stack): its Windows attributes, its extended attributes ($EA: the
 * source's own records, and WSL's $LX* made from its Linux owner and
 * mode) and its object ID. A host folder shows them under ntfs-3g's names
 * (an ntfs-3g or layerfs mount) or as a folder layer keeps them
 * (trusted.layerfs.ntfs_*, user.layerfs.ntfs_* without root). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/grow.h"
#include "layerfs/layer.h"
#include "lxattr.h"
#include "pack_int.h"

#include <ntfs-3g/object_id.h>    /* after ntfs_glue.h: it needs ntfs_inode */

#define EA_MAX 65536u           /* NTFS's own bound on a file's $EA */
_Static_assert(PACK_CHUNK >= EA_MAX, "the host's $EA is read into the packer's buffer");
#define OBJID_MAX 64u           /* an object ID and its three birth IDs */

/* The host file's NAME ("ntfs_ea") as the first of its spellings has it:
 * its length in buf, 0 for none, -errno. */
static ssize_t host_meta(int fd, const char *name, void *buf, size_t size)
{
	static const char *const prefix[] = { "system.", "trusted.layerfs.", "user.layerfs." };
	char full[64];
	for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++) {
		snprintf(full, sizeof full, "%s%s", prefix[i], name);
		ssize_t n = fgetxattr(fd, full, buf, size);
		if (n >= 0)
			return n;
		if (errno == ERANGE || errno == E2BIG)
			return -E2BIG;
		if (errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP)
			return -errno;
	}
	return 0;
}

void pack_set_attrib(ntfs_inode *ni, uint32_t a)
{
	/* only what a file may carry: libntfs-3g keeps the folder bit */
	a &= 0x1 | 0x2 | 0x4 | 0x20 | 0x100 | 0x2000 | 0x8000;   /* RO H S A TEMP NCI IntStream */
	le32 keep = ni->flags & ~const_cpu_to_le32(0x1 | 0x2 | 0x4 | 0x20 | 0x100 | 0x2000 | 0x8000);
	ni->flags = keep | cpu_to_le32(a);
	NInoSetDirty(ni);
	NInoFileNameSetDirty(ni);    /* the folder's index entry repeats them */
}

void pack_lx_of(const struct stat *st, struct lx_meta *m)
{
	*m = (struct lx_meta){ .has = LX_HAS_UID | LX_HAS_GID | LX_HAS_MODE,
			       .uid = st->st_uid, .gid = st->st_gid, .mode = st->st_mode };
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		m->has |= LX_HAS_DEV;
		m->major = major(st->st_rdev);
		m->minor = minor(st->st_rdev);
	}
}

/* One object ID a volume: 1 when oid was given before (remembered if not). */
static int objid_given(struct packer *p, const uint8_t *oid)
{
	for (size_t i = 0; i < p->nobjids; i++)
		if (!memcmp(p->objids[i], oid, 16))
			return 1;
	if (lf_grow(&p->objids, &p->capobjids, p->nobjids, sizeof *p->objids, 64))
		return -ENOMEM;
	memcpy(p->objids[p->nobjids++], oid, 16);
	return 0;
}

static void note(struct packer *p, const char *what)
{
	if (p->o->note)
		p->o->note(p->o->note_ctx, p->path[0] ? p->path : "/", what);
}

int pack_keep_ea_objid(struct packer *p, ntfs_inode *ni, const struct pack_meta *m)
{
	int rc = 0;
	/* its EAs but WSL's $LX*, which come from its owner and mode: one $EA */
	uint8_t *ea = malloc(m->ealen + 128);
	if (!ea)
		return lf_err_set(p->err, ENOMEM, "out of memory");
	size_t len = m->ealen ? lf_ea_strip_lx(m->ea, m->ealen, ea) : 0;
	if (m->lx)
		len += lx_encode(m->lx, ea + len, 128);
	if (len && ntfs_set_ntfs_ea(ni, (const char *)ea, len, 0))
		rc = pack_fail(p, "cannot set its extended attributes");
	else if (!len && m->replace && ntfs_remove_ntfs_ea(ni) && errno != ENODATA)
		rc = pack_fail(p, "cannot remove its extended attributes");
	free(ea);
	if (rc)
		return rc;
	if (m->replace && ntfs_remove_ntfs_object_id(ni) && errno != ENODATA)
		return pack_fail(p, "cannot remove its object ID");
	if (m->oidlen < 16)
		return 0;
	int given = objid_given(p, m->oid);
	if (given < 0)
		return lf_err_set(p->err, ENOMEM, "out of memory");
	if (given)
		note(p, "its object ID is not kept: a file made before it has the same "
			"(object IDs are unique on a volume)");
	else if (ntfs_set_ntfs_object_id(ni, (const char *)m->oid, m->oidlen, 0))
		return pack_fail(p, "cannot set its object ID");
	return 0;
}

int pack_copy_meta(struct packer *p, int dfd, const char *name, const struct stat *st,
		   ntfs_inode *ni, int replace)
{
	struct lx_meta lx;
	pack_lx_of(st, &lx);
	struct pack_meta m = { .lx = p->o->no_lx ? NULL : &lx, .replace = replace };
	uint8_t oid[OBJID_MAX];
	/* the host's $EA into the packer's buffer (its data and streams are
	 * copied already; pack_keep_ea_objid copies what it keeps) */
	uint8_t *ea = (uint8_t *)p->buf;
	int fd = -1, rc = 0;
	/* a FIFO, socket or device has no xattrs of its own to read here:
	 * opening one could block or reach a device */
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
		fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		uint8_t v[4];
		if (host_meta(fd, "ntfs_attrib", v, sizeof v) == 4)
			pack_set_attrib(ni, pack_le32(v));
		ssize_t n = host_meta(fd, "ntfs_ea", ea, EA_MAX);
		if (n >= 0) {
			m.ea = ea;
			m.ealen = (size_t)n;
			n = host_meta(fd, "ntfs_object_id", oid, sizeof oid);
		}
		if (n >= 16) {
			m.oid = oid;
			m.oidlen = (size_t)n;
		}
		if (n < 0)
			rc = lf_err_set(p->err, (int)-n, "%s%s: its extended attributes: %s",
					p->src, p->path, strerror((int)-n));
		close(fd);
	}
	return rc ? rc : pack_keep_ea_objid(p, ni, &m);
}
