/* 8.3 names in a volume pack or publish writes, and the times they
 * disturb. Windows gives a file or folder whose name is not itself a
 * legal 8.3 name a short one (PROGRA~1) on a system volume; pack gives
 * them as Windows would, publish keeps a layer's. They are given last,
 * when nothing else is open: libntfs-3g closes the file and its folder
 * in giving one, and a folder closed while its own folder is open
 * elsewhere cannot update its entry there. Giving one changes both
 * records' times, which are then put back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/grow.h"
#include "pack_int.h"

int pack_put_times(ntfs_inode *ni, const struct timespec t[4])
{
	u64 v[3];
	for (int i = 0; i < 3; i++)
		v[i] = (u64)sle64_to_cpu(timespec2ntfs(t[i]));
	if (ntfs_inode_set_times(ni, (const char *)v, sizeof v, 0))
		return -1;
	if (!t[3].tv_sec && !t[3].tv_nsec)
		return 0;        /* the MFT change time stays as it set it: now */
	/* it marks the times as set (kept at close); the change time goes
	 * where it put "now": the standard information and each name */
	sle64 c = timespec2ntfs(t[3]);
	ni->last_mft_change_time = c;
	ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
	if (!ctx)
		return -1;
	int rc = ntfs_attr_lookup(AT_STANDARD_INFORMATION, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL,
				  0, ctx);
	if (!rc) {
		STANDARD_INFORMATION *si = (STANDARD_INFORMATION *)((u8 *)ctx->attr +
					    le16_to_cpu(ctx->attr->value_offset));
		si->last_mft_change_time = c;
		ntfs_inode_mark_dirty(ctx->ntfs_ino);
		ntfs_attr_reinit_search_ctx(ctx);
		while (!ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0, ctx))
			((FILE_NAME_ATTR *)((u8 *)ctx->attr +
					    le16_to_cpu(ctx->attr->value_offset)))->last_mft_change_time = c;
	}
	ntfs_attr_put_search_ctx(ctx);
	NInoFileNameSetDirty(ni);
	return rc;
}

int pack_dos_want(struct packer *p, u64 mft, u64 dir, const char *name,
		  const struct timespec t[4], const struct timespec dir_t[4])
{
	size_t n = strlen(name);
	if (!n || n > 12)
		return 0;
	if (lf_grow(&p->dos, &p->capdos, p->ndos, sizeof *p->dos, 256))
		return lf_err_set(p->err, ENOMEM, "out of memory");
	struct pack_dos *d = &p->dos[p->ndos++];
	d->mft = mft;
	d->dir = dir;
	memcpy(d->times, t, sizeof d->times);
	memcpy(d->dir_times, dir_t, sizeof d->dir_times);
	memcpy(d->name, name, n + 1);
	return 0;
}

/* Record mft's times again. */
static int reset_times(struct packer *p, u64 mft, const struct timespec t[4])
{
	ntfs_inode *ni = ntfs_inode_open(p->vol, mft);
	int rc = !ni || pack_put_times(ni, t) ? -1 : 0;
	if (ni && ntfs_inode_close(ni))
		rc = -1;
	return rc;
}

int pack_dos_give(struct packer *p, size_t *given)
{
	int rc = 0;
	for (size_t i = 0; i < p->ndos && !rc; i++) {
		const struct pack_dos *d = &p->dos[i];
		ntfs_inode *dir = ntfs_inode_open(p->vol, d->dir);
		ntfs_inode *ni = dir ? ntfs_inode_open(p->vol, d->mft) : NULL;
		if (!ni) {
			if (dir)
				ntfs_inode_close(dir);
			rc = pack_fail(p, "cannot open a file for its 8.3 name");
		} else if (ntfs_set_ntfs_dos_name(ni, dir, d->name, strlen(d->name), 0)) {
			rc = lf_err_set(p->err, errno, "cannot give MFT record %llu its 8.3 name %s: %s",
					(unsigned long long)d->mft, d->name, strerror(errno));
		} else if (reset_times(p, d->mft, d->times) || reset_times(p, d->dir, d->dir_times)) {
			rc = pack_fail(p, "cannot set times after an 8.3 name");
		}
		*given += !rc;
	}
	free(p->dos);
	p->dos = NULL;
	p->ndos = p->capdos = 0;
	return rc;
}
