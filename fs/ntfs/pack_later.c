/* Files' data written after every name is made. Made in one pass, a
 * volume interleaves each folder's index blocks with its files' data, so
 * a look at every folder (a login's first find, Explorer) touches the
 * whole volume. Made names first, the MFT and every folder index lie
 * together at the start of the data zone, and a host that reads a layer a
 * chunk at a time from a registry (docs/REGISTRY.md) fetches them in few
 * chunks, the data only as files are read. A file is reopened by its
 * record, its host file by its path beneath the source (no symlink
 * followed, and it must be the file the walk saw). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/grow.h"
#include "layerfs/safe_path.h"
#include "pack_int.h"

struct pack_later {
	u64 mft;
	char *rel;               /* beneath the source, as p->path without its '/' */
	struct stat st;          /* what the walk saw: the file, its times */
};

int pack_later_add(struct packer *p, u64 mft, const struct stat *st)
{
	if (lf_grow(&p->later, &p->caplater, p->nlater, sizeof *p->later, 1024))
		return lf_err_set(p->err, ENOMEM, "out of memory");
	char *rel = strdup(p->path[0] == '/' ? p->path + 1 : p->path);
	if (!rel)
		return lf_err_set(p->err, ENOMEM, "out of memory");
	p->later[p->nlater++] = (struct pack_later){ mft, rel, *st };
	return 0;
}

static int write_one(struct packer *p, const struct pack_later *l)
{
	snprintf(p->path, sizeof p->path, "/%s", l->rel);
	int fd = lf_safe_open(p->src_root, l->rel, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return lf_err_set(p->err, -fd, "%s%s: %s", p->src, p->path, strerror(-fd));
	struct stat now;
	int rc = 0;
	if (fstat(fd, &now) < 0 || now.st_dev != l->st.st_dev || now.st_ino != l->st.st_ino)
		rc = lf_err_set(p->err, EAGAIN, "%s%s: replaced while it was packed", p->src,
				p->path);
	ntfs_inode *ni = rc ? NULL : ntfs_inode_open(p->vol, l->mft);
	if (!rc && !ni)
		rc = pack_fail(p, "cannot open it again");
	if (!rc)
		rc = pack_copy_data_fd(p, fd, ni);
	/* times last: its data changed them */
	if (!rc && pack_set_times(ni, &l->st))
		rc = pack_fail(p, "cannot set times");
	if (ni && ntfs_inode_close(ni) && !rc)
		rc = pack_fail(p, "cannot close");
	close(fd);
	return rc;
}

int pack_later_write(struct packer *p)
{
	int rc = 0;
	for (size_t i = 0; i < p->nlater && !rc; i++)
		rc = write_one(p, &p->later[i]);
	p->path[0] = 0;
	pack_later_free(p);
	return rc;
}

void pack_later_free(struct packer *p)
{
	for (size_t i = 0; i < p->nlater; i++)
		free(p->later[i].rel);
	free(p->later);
	p->later = NULL;
	p->nlater = p->caplater = 0;
}
