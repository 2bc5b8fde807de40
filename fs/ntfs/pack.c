/* lf_pack: scan the tree, size and format a volume with mkntfs, fill it
 * through libntfs-3g, then wrap it in a VHD (behind an MBR, as Windows
 * lays out a disk) or keep it raw. Everything is written beside OUT under
 * temporary names and renamed into place last. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/hash.h"
#include "layerfs/casefold.h"
#include "layerfs/pack.h"
#include "layerfs/win_names.h"
#include "layerfs/security.h"
#include "layerfs/vhd.h"
#include "ntfs_glue.h"
#include "layerfs/dosname.h"
#include "pack_int.h"
#include "reparse.h"


void pack_progress(struct packer *p, const char *phase)
{
	if (p->o->progress)
		p->o->progress(p->o->progress_ctx, phase, p->done, p->total);
}

/* Windows cannot hold these in a name (the Win32 namespace). */
const char *pack_bad_name(const char *name)
{
	return lf_name_forbidden(name);
}

/* Append "/name" to p->path for error reports; returns the old length. */
size_t pack_path_push(struct packer *p, const char *name)
{
	size_t len = strlen(p->path);
	snprintf(p->path + len, sizeof p->path - len, "/%s", name);
	return len;
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int casecmp_ptr(const void *a, const void *b)
{
	return lf_casecmp(*(char *const *)a, *(char *const *)b);
}

/* Windows holds one of "Program Files" and "PROGRAM FILES" in a folder,
 * never both. */
static int check_case_clash(struct packer *p, char **names, size_t n)
{
	if (n < 2)
		return 0;
	char **sorted = malloc(n * sizeof *sorted);
	if (!sorted)
		return lf_err_set(p->err, ENOMEM, "out of memory");
	memcpy(sorted, names, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, casecmp_ptr);
	int rc = 0;
	for (size_t i = 1; i < n && !rc; i++)
		if (lf_casecmp(sorted[i - 1], sorted[i]) == 0)
			rc = lf_err_set(p->err, EEXIST,
					"%s%s: \"%s\" and \"%s\" differ only in case; a Windows folder holds one of them",
					p->src, p->path[0] ? p->path : "/", sorted[i - 1], sorted[i]);
	free(sorted);
	return rc;
}

/* The 8.3 names Windows gives a folder's entries (names, sorted, with
 * their stats): one for each name that is not a legal 8.3 name itself,
 * but for a file of several names (NTFS keeps an 8.3 name for a file's
 * only name alone). NULL without memory. */
static char (*dos_names_of(char **names, const struct stat *sts, size_t n))[13]
{
	char (*given)[13] = calloc(n ? n : 1, sizeof *given);
	for (size_t i = 0; given && i < n; i++)
		if (S_ISREG(sts[i].st_mode) && sts[i].st_nlink > 1)
			memcpy(given[i], "-", 2);
	if (given && lf_dos_names_for((const char *const *)names, given, n)) {
		free(given);
		return NULL;
	}
	return given;
}

/* Each entry of folder dfd, in name order so that volumes are repeatable. */
int pack_each_entry(struct packer *p, int dfd, walk_fn fn, void *arg)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno));
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nn = realloc(names, cap * sizeof *nn);
			if (!nn) {
				rc = lf_err_set(p->err, ENOMEM, "out of memory");
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(e->d_name))) {
			rc = lf_err_set(p->err, ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	if (!rc && n)
		qsort(names, n, sizeof *names, strcmp_ptr);
	if (!rc)
		rc = check_case_clash(p, names, n);
	/* each entry's stat first: the 8.3 names need them all */
	struct stat *sts = !rc && n ? calloc(n, sizeof *sts) : NULL;
	if (!rc && n && !sts)
		rc = lf_err_set(p->err, ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		if (fstatat(dirfd(d), names[i], &sts[i], AT_SYMLINK_NOFOLLOW) < 0) {
			size_t keep = pack_path_push(p, names[i]);
			rc = lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno));
			p->path[keep] = 0;
		}
	}
	char (*dos)[13] = !rc && fn == pack_fill_entry ? dos_names_of(names, sts, n) : NULL;
	if (!rc && fn == pack_fill_entry && n && !dos)
		rc = lf_err_set(p->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!rc) {
			size_t keep = pack_path_push(p, names[i]);
			snprintf(p->dos_now, sizeof p->dos_now, "%s", dos ? dos[i] : "");
			rc = fn(p, dirfd(d), names[i], &sts[i], arg);
			p->path[keep] = 0;
		}
		free(names[i]);
	}
	free(sts);
	free(dos);
	free(names);
	closedir(d);
	return rc;
}

/* --- scan: count and size the tree, reject what a layer cannot hold --- */

struct scan { uint64_t entries, bytes; };

static int scan_entry(struct packer *p, int dfd, const char *name,
		      const struct stat *st, void *arg)
{
	struct scan *sc = arg;
	const char *why = pack_bad_name(name);
	if (why)
		return lf_err_set(p->err, EINVAL, "%s%s: the name has %s", p->src, p->path, why);
	/* a personalization layer's own working files are no layer content */
	if (!strcmp(name, LF_WORK_NAME) || !strcmp(name, ".wh..wh..session"))
		return lf_err_set(p->err, EINVAL, "%s: a personalization layer (%s%s is its "
				  "session's own): make an app layer of it with 'layerctl capture "
				  "--session %s --layer OS-LAYER...', which keeps only what the "
				  "session changed", p->src, p->src, p->path, p->src);
	if (strlen(name) > 255)
		return lf_err_set(p->err, ENAMETOOLONG, "%s%s: name longer than NTFS allows", p->src, p->path);
	sc->entries++;
	if (S_ISREG(st->st_mode)) {
		/* a sparse host file takes its blocks: its holes stay holes */
		uint64_t takes = (uint64_t)st->st_blocks * 512 + 65536 < (uint64_t)st->st_size
				 ? (uint64_t)st->st_blocks * 512 : (uint64_t)st->st_size;
		sc->bytes += (takes + CLUSTER - 1) / CLUSTER * CLUSTER;
		p->total += (uint64_t)st->st_size;
	} else if (S_ISDIR(st->st_mode)) {
		int fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno));
		int rc = pack_each_entry(p, fd, scan_entry, sc);
		close(fd);
		return rc;
	} else if (!S_ISLNK(st->st_mode) && p->o->no_lx) {
		return lf_err_set(p->err, EINVAL,
				  "%s%s: a device, FIFO or socket is kept only with its Linux metadata "
				  "(leave out --no-lx)", p->src, p->path);
	}
	return 0;
}

uint64_t lf_pack_size_for(uint64_t entries, uint64_t bytes_in_clusters)
{
	/* Each entry costs an MFT record (1 KiB) and its index entries; the
	 * MFT zone, $LogFile and metafiles want room too. */
	uint64_t need = bytes_in_clusters + entries * 4096;
	need += need / 8 + (16u << 20);
	if (need < (8u << 20))
		need = 8u << 20;
	return (need + (1u << 20) - 1) / (1u << 20) * (1u << 20);
}

/* --- fill: create every entry through libntfs-3g --- */

int pack_fail(struct packer *p, const char *what)
{
	int e = errno ? errno : EIO;
	if (e == ENOSPC)
		return lf_err_set(p->err, e, "%s%s: the %llu-byte volume is full; give a larger --size",
				  p->src, p->path, (unsigned long long)p->st->volume_size);
	const char *said = lf_ntfs_log_last();
	return lf_err_set(p->err, e, "%s%s: %s: %s%s%s%s", p->src, p->path, what, strerror(e),
			  said[0] ? " (libntfs-3g: " : "", said[0] ? said : "", said[0] ? ")" : "");
}

static u64 ntfs_time_of(struct timespec ts)
{
	return (u64)sle64_to_cpu(timespec2ntfs(ts));
}

int pack_set_times(ntfs_inode *ni, const struct stat *st)
{
	u64 t[3] = { ntfs_time_of(st->st_mtim), ntfs_time_of(st->st_mtim),
		     ntfs_time_of(st->st_atim) };
	return ntfs_inode_set_times(ni, (const char *)t, sizeof t, 0);
}

/* The entry's Windows descriptor: the source's own where it has one (an
 * ntfs-3g or layerfs mount shows it as system.ntfs_acl; a folder layer
 * keeps one where `layerctl acl` set it), else one made from its POSIX
 * mode (owner -> Administrators, other -> Users). *sd malloc'd. */
int pack_desc_of(struct packer *p, int dfd, const char *name, const struct stat *st,
		   uint8_t **sd, size_t *len)
{
	static const char *const names[] = { "system.ntfs_acl", "trusted.layerfs.ntfs_acl",
					     "user.layerfs.ntfs_acl" };
	*sd = NULL;
	int fd = -1, link = S_ISLNK(st->st_mode);
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
		fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	/* a link keeps one only by path (root's trusted.*, as capture sets it) */
	char at[64 + NAME_MAX];
	snprintf(at, sizeof at, "/proc/self/fd/%d/%s", dfd, name);
	struct lf_sid owner, group;
	for (size_t i = 0; (fd >= 0 || link) && !*sd && i < sizeof names / sizeof names[0]; i++) {
		const uint8_t *b = (const uint8_t *)p->buf;
		ssize_t n = link ? lgetxattr(at, names[i], p->buf, PACK_CHUNK)
				 : fgetxattr(fd, names[i], p->buf, PACK_CHUNK);
		/* libntfs-3g keeps only descriptors with an owner and a group */
		if (n > 0 && !lf_sd_check(b, (size_t)n, NULL) && !lf_sd_owner(b, (size_t)n, &owner) &&
		    !lf_sd_group(b, (size_t)n, &group) && (*sd = malloc((size_t)n))) {
			memcpy(*sd, b, (size_t)n);
			*len = (size_t)n;
		}
	}
	if (fd >= 0)
		close(fd);
	return *sd ? 0 : lf_sd_from_mode(st->st_mode, NULL, sd, len);
}

/* The security id of descriptor sd in the volume's $Secure, for
 * ntfs_create: NTFS shares equal descriptors, and giving the id at
 * creation is how Windows and ntfs-3g make files. A descriptor seen
 * first is registered by setting it on the root (whose own is set last);
 * changing a made file's descriptor afterwards upsets libntfs-3g's
 * update of the parent's index in big folders. 0 (none) on failure. */
le32 pack_sec_id(struct packer *p, const uint8_t *sd, size_t len)
{
	struct sdid **slot = &p->sdids[lf_fnv1a(sd, len) % SDID_SLOTS];
	for (struct sdid *e = *slot; e; e = e->next)
		if (e->len == len && !memcmp(e->sd, sd, len))
			return e->id;
	struct SECURITY_CONTEXT scx;
	memset(&scx, 0, sizeof scx);
	scx.vol = p->vol;
	struct sdid *e = malloc(sizeof *e + len);
	if (!e || ntfs_set_ntfs_acl(&scx, p->root, (const char *)sd, len, 0) ||
	    !p->root->security_id) {
		free(e);
		return 0;
	}
	e->id = p->root->security_id;
	e->len = len;
	memcpy(e->sd, sd, len);
	e->next = *slot;
	*slot = e;
	return e->id;
}

le32 pack_sec_id_of(struct packer *p, int dfd, const char *name, const struct stat *st)
{
	uint8_t *sd;
	size_t len;
	if (pack_desc_of(p, dfd, name, st, &sd, &len))
		return 0;
	le32 id = pack_sec_id(p, sd, len);
	free(sd);
	return id;
}

int pack_set_root_sd(struct packer *p, const struct stat *st)
{
	uint8_t *sd;
	size_t len;
	if (pack_desc_of(p, p->src_root, ".", st, &sd, &len))
		return -1;
	struct SECURITY_CONTEXT scx;
	memset(&scx, 0, sizeof scx);
	scx.vol = p->vol;
	int rc = ntfs_set_ntfs_acl(&scx, p->root, (const char *)sd, len, 0);
	free(sd);
	return rc;
}

static int copy_data(struct packer *p, int dfd, const char *name, ntfs_inode *ni)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno));
	int rc = pack_copy_data_fd(p, fd, ni);
	close(fd);
	return rc;
}

int pack_copy_data_fd(struct packer *p, int fd, ntfs_inode *ni)
{
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na)
		return pack_fail(p, "cannot open its data");
	char *buf = p->buf;
	int rc = 0;
	struct stat st;
	if (fstat(fd, &st) < 0)
		rc = lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno));
	/* a sparse host file: the attribute grown to its size first (a
	 * hole; libntfs-3g marks it sparse), then only its data written */
	int holes = !rc && (uint64_t)st.st_blocks * 512 + 65536 < (uint64_t)st.st_size;
	if (holes && ntfs_attr_truncate(na, (s64)st.st_size))
		rc = pack_fail(p, "cannot make it sparse");
	s64 off = 0, end = 0;
	while (!rc) {
		if (holes && off >= end) {
			off_t d = lseek(fd, off, SEEK_DATA);
			if (d < 0 && errno == ENXIO)
				break;
			end = d < 0 ? -1 : lseek(fd, d, SEEK_HOLE);
			if (d < 0 || end < 0) {
				rc = lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path,
						strerror(errno));
				break;
			}
			off = d;
		}
		size_t want = holes && end - off < PACK_CHUNK ? (size_t)(end - off) : PACK_CHUNK;
		ssize_t n = pread(fd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (ntfs_attr_pwrite(na, off, n, buf) != n) {
			rc = pack_fail(p, "write failed");
			break;
		}
		off += n;
		p->done += (uint64_t)n;
		pack_progress(p, "fill");
	}
	ntfs_attr_close(na);
	return rc;
}

/* Host user.NAME xattrs become NTFS alternate data streams NAME: the
 * same mapping by which a layer shows its streams. */
int pack_copy_streams(struct packer *p, int dfd, const char *name,
			ntfs_inode *ni, int is_dir)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			(is_dir ? O_DIRECTORY : 0));
	if (fd < 0)
		return lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno));
	char names[65536];
	ssize_t n = flistxattr(fd, names, sizeof names);
	int rc = 0;
	for (ssize_t i = 0; n > 0 && i < n && !rc; i += (ssize_t)strlen(names + i) + 1) {
		const char *x = names + i;
		/* user.NAME is a stream; user.layerfs.* are this project's
		 * own (a descriptor, attributes), never streams */
		if (strncmp(x, "user.", 5) != 0 || !x[5] || !strncmp(x, "user.layerfs.", 13))
			continue;
		ssize_t len = fgetxattr(fd, x, p->buf, PACK_CHUNK);
		rc = len < 0 ? lf_err_set(p->err, errno, "%s%s: cannot read xattr %s", p->src,
					  p->path, x)
			     : pack_add_stream(p, ni, x + 5, p->buf, (size_t)len);
	}
	close(fd);
	return rc;
}

int pack_add_stream(struct packer *p, ntfs_inode *ni, const char *name, const void *data,
		    size_t len)
{
	ntfschar *uname = NULL;
	int ulen = ntfs_mbstoucs(name, &uname), rc = 0;
	if (ulen <= 0 || ulen > 255)
		rc = lf_err_set(p->err, EINVAL, "%s%s: the stream name \"%s\" is not one NTFS can hold",
				p->src, p->path, name);
	else if (ntfs_attr_add(ni, AT_DATA, uname, (u8)ulen, (const u8 *)data, (s64)len))
		rc = pack_fail(p, "cannot add an alternate data stream");
	free(uname);
	return rc;
}

uint32_t pack_le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* A link's own reparse data, where capture kept it beside the link
 * (trusted.layerfs.ntfs_reparse: a junction stays a junction, a symlink
 * keeps its flags): its length, or -1 to encode one from the target. */
static ssize_t kept_reparse(int dfd, const char *name, uint8_t *buf, size_t size)
{
	char path[64 + NAME_MAX];
	snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dfd, name);
	ssize_t n = lgetxattr(path, "trusted.layerfs.ntfs_reparse", buf, size);
	return n >= 8 && lf_reparse_is_link(pack_le32(buf)) ? n : -1;
}

/* Is the symlink's target (inside the tree being packed) a folder?
 * Windows needs to know: a folder link is a directory entry. */
static int link_to_dir(struct packer *p, int dfd, const char *target)
{
	int base = target[0] == '/' ? p->src_root : dfd;
	const char *rel = target[0] == '/' ? target + 1 : target;
	if (!*rel)
		return 1;
	struct stat st;
	return fstatat(base, rel, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static size_t link_slot(const struct packer *p, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)ino * 0xC2B2AE3D27D4EB4Full);
	return (size_t)(h ^ (h >> 29)) & (p->capslots - 1);
}

/* links[k] into the first free slot from its hash */
static void link_slot_put(struct packer *p, size_t k)
{
	size_t i = link_slot(p, p->links[k].dev, p->links[k].ino);
	while (p->slots[i])
		i = (i + 1) & (p->capslots - 1);
	p->slots[i] = k + 1;
}

/* The file (dev, ino) packed before under another name: a WinSxS-sized
 * tree has tens of thousands, so they are hashed. */
struct hardlink *pack_find_link(struct packer *p, dev_t dev, ino_t ino)
{
	if (!p->capslots)
		return NULL;
	for (size_t i = link_slot(p, dev, ino);; i = (i + 1) & (p->capslots - 1)) {
		if (!p->slots[i])
			return NULL;
		struct hardlink *h = &p->links[p->slots[i] - 1];
		if (h->dev == dev && h->ino == ino)
			return h;
	}
}

int pack_remember_link(struct packer *p, dev_t dev, ino_t ino, u64 mft)
{
	if (p->nlinks == p->caplinks) {
		size_t cap = p->caplinks ? p->caplinks * 2 : 64;
		struct hardlink *v = realloc(p->links, cap * sizeof *v);
		size_t *slots = calloc(cap * 2, sizeof *slots);
		if (!v || !slots) {
			free(slots);
			if (v)
				p->links = v;
			return lf_err_set(p->err, ENOMEM, "out of memory");
		}
		p->links = v;
		p->caplinks = cap;
		free(p->slots);
		p->slots = slots;
		p->capslots = cap * 2;
		for (size_t k = 0; k < p->nlinks; k++)
			link_slot_put(p, k);
	}
	p->links[p->nlinks] = (struct hardlink){ dev, ino, mft };
	link_slot_put(p, p->nlinks++);
	return 0;
}

/* The entry gets its 8.3 name at the end (p->dos_now, set by
 * pack_each_entry), its times and its folder's put back after. */
static int want_dos(struct packer *p, int dfd, const char *dos, const struct stat *st,
		    ntfs_inode *ni, ntfs_inode *dir_ni)
{
	struct stat dst;
	if (!*dos || fstat(dfd, &dst))
		return 0;
	/* as pack_set_times sets them: created and changed at the change time */
	struct timespec t[4] = { st->st_mtim, st->st_mtim, st->st_atim, { 0, 0 } };
	struct timespec dt[4] = { dst.st_mtim, dst.st_mtim, dst.st_atim, { 0, 0 } };
	return pack_dos_want(p, ni->mft_no, dir_ni->mft_no, dos, t, dt);
}

int pack_fill_entry(struct packer *p, int dfd, const char *name,
		      const struct stat *st, void *arg)
{
	ntfs_inode *dir_ni = arg;
	char dos[sizeof p->dos_now];
	memcpy(dos, p->dos_now, sizeof dos);     /* children change it */
	ntfschar *uname = NULL;
	int ulen = ntfs_mbstoucs(name, &uname);
	if (ulen <= 0)
		return lf_err_set(p->err, EILSEQ, "%s%s: the name is not valid UTF-8",
				  p->src, p->path);
	int rc = 0;
	ntfs_inode *ni = NULL;
	struct hardlink *h = S_ISREG(st->st_mode) && st->st_nlink > 1 ?
			     pack_find_link(p, st->st_dev, st->st_ino) : NULL;
	if (h) {
		/* Another name for a file already packed: its times are set. */
		ntfs_inode *target = ntfs_inode_open(p->vol, h->mft);
		if (!target || ntfs_link(target, dir_ni, uname, (u8)ulen))
			rc = pack_fail(p, "cannot add a hard link");
		/* in dir_ni: the new name's index entry is synced through the open
		 * folder, not a second handle of it (EBUSY) */
		if (target && ntfs_inode_close_in_dir(target, dir_ni) && !rc)
			rc = pack_fail(p, "cannot close");
		p->st->hardlinks++;
	} else if (S_ISREG(st->st_mode)) {
		ni = ntfs_create(dir_ni, pack_sec_id_of(p, dfd, name, st), uname, (u8)ulen, S_IFREG);
		if (!ni)
			rc = pack_fail(p, "cannot create");
		else if (p->defer && st->st_size > PACK_RESIDENT)
			rc = pack_later_add(p, ni->mft_no, st);
		else
			rc = copy_data(p, dfd, name, ni);
		if (!rc)
			rc = pack_copy_streams(p, dfd, name, ni, 0);
		if (!rc && st->st_nlink > 1)
			rc = pack_remember_link(p, st->st_dev, st->st_ino, ni->mft_no);
		p->st->files++;
		p->st->bytes += (uint64_t)st->st_size;
	} else if (S_ISDIR(st->st_mode)) {
		ni = ntfs_create(dir_ni, pack_sec_id_of(p, dfd, name, st), uname, (u8)ulen, S_IFDIR);
		if (!ni) {
			rc = pack_fail(p, "cannot create");
		} else {
			int fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				rc = lf_err_set(p->err, errno, "%s%s: %s", p->src, p->path, strerror(errno));
			else
				rc = pack_each_entry(p, fd, pack_fill_entry, ni);
			if (!rc)
				rc = pack_copy_streams(p, dfd, name, ni, 1);
			if (fd >= 0)
				close(fd);
		}
		p->st->dirs++;
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
		uint8_t rp[LF_REPARSE_MAX];
		ssize_t rlen = kept_reparse(dfd, name, rp, sizeof rp);
		int junction = rlen >= 4 && pack_le32(rp) == LF_REPARSE_TAG_JUNCTION;
		if (n > 0 && rlen < 0) {
			target[n] = 0;
			rlen = lf_reparse_encode_symlink(target, rp, sizeof rp);
		}
		if (rlen < 0) {
			rc = lf_err_set(p->err, n < 0 ? errno : (int)-rlen,
					"%s%s: cannot store the symlink's target", p->src, p->path);
		} else {
			ni = ntfs_create(dir_ni, pack_sec_id_of(p, dfd, name, st), uname, (u8)ulen,
					 junction || (n > 0 && link_to_dir(p, dfd, target)) ? S_IFDIR : S_IFREG);
			if (!ni || ntfs_set_ntfs_reparse_data(ni, (const char *)rp, (size_t)rlen, 0))
				rc = pack_fail(p, "cannot create the symlink");
		}
		p->st->symlinks++;
	} else {
		/* a FIFO, socket or device: a file with WSL's reparse tag */
		ni = ntfs_create(dir_ni, pack_sec_id_of(p, dfd, name, st), uname, (u8)ulen, S_IFREG);
		if (ni) /* as WSL marks them; libntfs-3g wants it for these tags */
			ni->flags |= FILE_ATTRIBUTE_RECALL_ON_OPEN;
		if (!ni || ntfs_reparse_set_wsl_not_symlink(ni, st->st_mode & S_IFMT))
			rc = pack_fail(p, "cannot create the special file");
		p->st->special++;
	}
	if (!rc && ni)
		rc = pack_copy_meta(p, dfd, name, st, ni, 0);
	if (!rc && ni)
		rc = want_dos(p, dfd, dos, st, ni, dir_ni);
	/* Times last: writing content and children changes them. */
	if (!rc && ni && pack_set_times(ni, st))
		rc = pack_fail(p, "cannot set times");
	if (ni && ntfs_inode_close_in_dir(ni, dir_ni) && !rc)
		rc = pack_fail(p, "cannot close");
	free(uname);
	return rc;
}

/* --- mkntfs and the disk around the volume --- */

int pack_mkntfs(struct packer *p, const char *vol_path, uint64_t size,
		uint64_t hidden_sectors)
{
	char sectors[32], hidden[32];
	snprintf(sectors, sizeof sectors, "%llu", (unsigned long long)(size / 512));
	snprintf(hidden, sizeof hidden, "%llu", (unsigned long long)hidden_sectors);
	const char *label = p->o->label ? p->o->label : "layer";
	/* mkntfs talks on stderr even when it succeeds; keep what it says
	 * for the error report. */
	FILE *said = tmpfile();
	pid_t pid = fork();
	if (pid < 0) {
		if (said)
			fclose(said);
		return lf_err_set(p->err, errno, "cannot run mkntfs: %s", strerror(errno));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		dup2(said ? fileno(said) : null, STDERR_FILENO);
		setenv("PATH", "/usr/sbin:/sbin:/usr/bin:/bin", 1);
		execlp("mkntfs", "mkntfs", "-F", "-Q", "-q", "-s", "512", "-c", "4096",
		       "-p", hidden, "-H", "255", "-S", "63", "-L", label,
		       vol_path, sectors, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char last[256] = "", line[256];
	if (said) {
		rewind(said);
		while (fgets(line, sizeof line, said))
			if (line[0] != '\n' && !strstr(line, "forced anyway") &&
			    !strstr(line, "not a block device"))
				memcpy(last, line, sizeof last);
		fclose(said);
		last[strcspn(last, "\n")] = 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return lf_err_set(p->err, ENOENT, "mkntfs not found (install ntfs-3g)");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return lf_err_set(p->err, EIO, "%s: mkntfs failed (status %d)%s%s", vol_path,
				  WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				  last[0] ? ": " : "", last);
	return 0;
}

struct disk_image {
	int vol_fd;
	uint64_t vol_size;
	uint8_t mbr[512];
};

static void make_mbr(struct disk_image *d)
{
	memset(d->mbr, 0, sizeof d->mbr);
	uint32_t sig;
	if (getrandom(&sig, sizeof sig, 0) != sizeof sig)
		sig = (uint32_t)getpid();
	memcpy(d->mbr + 440, &sig, 4);
	uint8_t *e = d->mbr + 446;
	/* CHS fields at their "use LBA" maximum, as for large disks. */
	e[1] = 0xFE; e[2] = 0xFF; e[3] = 0xFF;
	e[4] = 0x07;
	e[5] = 0xFE; e[6] = 0xFF; e[7] = 0xFF;
	uint32_t start = PART_START / 512, count = (uint32_t)(d->vol_size / 512);
	for (int i = 0; i < 4; i++) {
		e[8 + i] = (uint8_t)(start >> (8 * i));
		e[12 + i] = (uint8_t)(count >> (8 * i));
	}
	d->mbr[510] = 0x55;
	d->mbr[511] = 0xAA;
}

/* The disk's bytes: the MBR, then the volume at 1 MiB, then zeros. */
static int disk_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct disk_image *d = ctx;
	uint8_t *b = buf;
	while (len) {
		size_t n;
		if (off < PART_START) {
			n = PART_START - off < len ? (size_t)(PART_START - off) : len;
			memset(b, 0, n);
			if (off < 512)
				memcpy(b, d->mbr + off, (512 - off) < n ? (512 - off) : n);
		} else if (off - PART_START < d->vol_size) {
			uint64_t vo = off - PART_START;
			n = d->vol_size - vo < len ? (size_t)(d->vol_size - vo) : len;
			ssize_t r = pread(d->vol_fd, b, n, (off_t)vo);
			if (r < 0)
				return -errno;
			if ((size_t)r < n)
				memset(b + r, 0, n - (size_t)r);
		} else {
			n = len;
			memset(b, 0, n);
		}
		b += n;
		off += n;
		len -= n;
	}
	return 0;
}

static void write_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct packer *p = ctx;
	p->done = done;
	p->total = total;
	pack_progress(p, "write");
}

/* Every name, then the files' data (pack_later.c says why), then the 8.3
 * names: the last two with nothing open, the root neither. */
static int fill_all(struct packer *p, int dfd, ntfs_inode **dirp)
{
	p->defer = 1;
	int rc = pack_each_entry(p, dfd, pack_fill_entry, *dirp);
	if (!rc && (p->ndos || p->nlater)) {
		ntfs_inode_close(*dirp);
		rc = pack_later_write(p);
		size_t given = 0;
		if (!rc && p->ndos)
			rc = pack_dos_give(p, &given);
		p->st->dos_names += given;
		if (!(*dirp = ntfs_inode_open(p->vol, FILE_root)) && !rc)
			rc = pack_fail(p, "cannot open the root again");
	}
	return rc;
}

int pack_fill_volume(struct packer *p, const char *vol_path,
		     int (*fill)(struct packer *p, int dfd, ntfs_inode **dirp))
{
	int rc;
	p->root = ntfs_inode_open(p->vol, FILE_root);
	if (!p->root) {
		rc = pack_fail(p, "cannot open the root");
	} else {
		rc = fill(p, p->src_root, &p->root);   /* may open the root anew */
		struct stat st;
		if (!rc && fstat(p->src_root, &st) == 0 && pack_set_root_sd(p, &st))
			rc = pack_fail(p, "cannot store the root's security descriptor");
		if (!rc && fstat(p->src_root, &st) == 0 && pack_set_times(p->root, &st))
			rc = pack_fail(p, "cannot set the root's times");
		if (p->root)
			ntfs_inode_close(p->root);
		p->root = NULL;
	}
	if (ntfs_umount(p->vol, FALSE) && !rc)
		rc = lf_err_set(p->err, errno, "%s: cannot finish the volume: %s", vol_path,
				strerror(errno));
	p->vol = NULL;
	return rc;
}

void pack_free(struct packer *p)
{
	free(p->links);
	free(p->slots);
	free(p->buf);
	free(p->objids);
	free(p->dos);
	pack_later_free(p);
	for (int i = 0; i < SDID_SLOTS; i++)
		for (struct sdid *e = p->sdids[i], *nx; e; e = nx) {
			nx = e->next;
			free(e);
		}
	if (p->src_root >= 0)
		close(p->src_root);
}

int pack_qemu_vhdx(struct packer *p, const char *raw, const char *vhdx)
{
	pid_t pid = fork();
	if (pid < 0)
		return lf_err_set(p->err, errno, "cannot run qemu-img: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		setenv("PATH", "/usr/bin:/bin:/usr/sbin:/sbin", 1);
		execlp("qemu-img", "qemu-img", "convert", "-q", "-f", "raw", "-O", "vhdx", "-o",
		       "subformat=dynamic", raw, vhdx, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return lf_err_set(p->err, ENOENT, "qemu-img not found: VHDX is written through "
				  "qemu-img convert (install qemu-utils), or choose --format vhd");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return lf_err_set(p->err, EIO, "%s: qemu-img convert to VHDX failed", vhdx);
	int fd = open(vhdx, O_RDONLY | O_CLOEXEC);
	int rc = fd < 0 || fsync(fd) < 0 ? lf_err_set(p->err, errno, "%s: %s", vhdx, strerror(errno)) : 0;
	if (fd >= 0)
		close(fd);
	return rc;
}

int pack_write_raw_disk(struct packer *p, const char *path,
			int (*rd)(void *ctx, void *buf, size_t len, uint64_t off), void *ctx,
			uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return lf_err_set(p->err, errno, "%s: %s", path, strerror(errno));
	int rc = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
	for (uint64_t off = 0; !rc && off < size; off += PACK_CHUNK) {
		size_t n = size - off < PACK_CHUNK ? (size_t)(size - off) : PACK_CHUNK;
		rc = rd(ctx, p->buf, n, off);
		/* zeros stay holes: a disk is mostly empty */
		int zero = !rc && p->buf[0] == 0 && !memcmp(p->buf, p->buf + 1, n - 1);
		if (!rc && !zero && pwrite(fd, p->buf, n, (off_t)off) != (ssize_t)n)
			rc = -errno;
		write_progress(p, off + n, size);
	}
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc ? lf_err_set(p->err, -rc, "%s: %s", path, strerror(-rc)) : 0;
}

/* The disk (MBR, the volume at 1 MiB) as a raw file at path, then a
 * VHDX through qemu-img at vhdx. */
static int write_vhdx(struct packer *p, struct disk_image *d, const char *path, const char *vhdx)
{
	int rc = pack_write_raw_disk(p, path, disk_read, d, PART_START + d->vol_size);
	if (!rc)
		rc = pack_qemu_vhdx(p, path, vhdx);
	unlink(path);
	return rc;
}

int pack_work_new(struct packer *p, const char *out, uint64_t vol_size, struct pack_work *wk)
{
	struct lf_err *err = p->err;
	wk->size = vol_size;
	wk->fd = -1;
	p->st->volume_size = vol_size;
	if (vol_size < (2u << 20))
		return lf_err_set(err, EINVAL, "--size %llu is too small for an NTFS volume "
				  "(at least 2 MiB)", (unsigned long long)vol_size);
	size_t len = strlen(out) + 20;
	if (!(wk->path = malloc(len)))
		return lf_err_set(err, ENOMEM, "out of memory");
	snprintf(wk->path, len, "%s.vol.XXXXXX", out);
	if ((wk->fd = mkstemp(wk->path)) < 0) {
		int e = errno;
		free(wk->path);
		wk->path = NULL;
		return lf_err_set(err, e, "%s: cannot create a work file beside it: %s", out, strerror(e));
	}
	/* mkstemp made it 0600: a layer is 0644, raw as VHD */
	if (fchmod(wk->fd, 0644) < 0 || ftruncate(wk->fd, (off_t)vol_size) < 0)
		return lf_err_set(err, errno, "%s: %s", wk->path, strerror(errno));
	return pack_mkntfs(p, wk->path, vol_size,
			   p->o->format == LF_PACK_RAW ? 0 : PART_START / 512);
}

int pack_work_finish(struct packer *p, const char *out, struct pack_work *wk)
{
	if (p->o->format == LF_PACK_RAW) {
		p->st->disk_size = wk->size;
		if (fsync(wk->fd) < 0 || rename(wk->path, out) < 0)
			return lf_err_set(p->err, errno, "%s: %s", out, strerror(errno));
		free(wk->path);
		wk->path = NULL;
		return 0;
	}
	struct disk_image d = { .vol_fd = wk->fd, .vol_size = wk->size };
	make_mbr(&d);
	if (p->o->format == LF_PACK_VHDX) {
		char raw[PATH_MAX], tmp[PATH_MAX];
		snprintf(raw, sizeof raw, "%s.disk", wk->path);
		snprintf(tmp, sizeof tmp, "%s.vhdx", wk->path);
		char *own = p->buf ? NULL : (p->buf = malloc(PACK_CHUNK));
		int rc = p->buf ? write_vhdx(p, &d, raw, tmp) : lf_err_set(p->err, ENOMEM, "out of memory");
		if (own) {
			free(own);
			p->buf = NULL;
		}
		struct stat st;
		if (!rc && rename(tmp, out) < 0)
			rc = lf_err_set(p->err, errno, "%s: %s", out, strerror(errno));
		if (rc)
			unlink(tmp);
		else
			p->st->disk_size = stat(out, &st) == 0 ? (uint64_t)st.st_size : 0;
		return rc;
	}
	struct lf_vhd_write_opts vo = {
		.type = p->o->format == LF_PACK_VHD_FIXED ? LF_VHD_FIXED : LF_VHD_DYNAMIC,
		.size = PART_START + wk->size,
		.progress = write_progress, .progress_ctx = p,
	};
	p->st->disk_size = lf_vhd_round_size(vo.size);
	return lf_vhd_write(out, &vo, disk_read, &d, p->err);
}

void pack_work_drop(struct pack_work *wk)
{
	if (wk->fd >= 0)
		close(wk->fd);
	wk->fd = -1;
	if (wk->path) {
		unlink(wk->path);
		free(wk->path);
		wk->path = NULL;
	}
}

int lf_pack(const char *src_dir, const char *out, const struct lf_pack_opts *o,
	    struct lf_pack_stats *stats, struct lf_err *err)
{
	struct lf_pack_stats local;
	struct packer p = { .o = o, .st = stats ? stats : &local, .err = err, .src = src_dir };
	memset(p.st, 0, sizeof *p.st);
	p.src_root = open(src_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p.src_root < 0)
		return lf_err_set(err, errno, "%s: %s", src_dir, strerror(errno));

	struct scan sc = {0};
	int rc = pack_each_entry(&p, p.src_root, scan_entry, &sc);
	if (!rc && !(p.buf = malloc(PACK_CHUNK)))
		rc = lf_err_set(err, ENOMEM, "out of memory");
	uint64_t vol_size = o->size ? o->size / 512 * 512 : lf_pack_size_for(sc.entries, sc.bytes);
	struct pack_work wk = { .fd = -1 };
	if (!rc)
		rc = pack_work_new(&p, out, vol_size, &wk);
	if (!rc) {
		lf_ntfs_log_capture();
		lf_ntfs_log_clear();
		p.vol = ntfs_mount(wk.path, 0);
		if (!p.vol)
			rc = lf_err_set(err, errno, "%s: cannot mount the new volume: %s", wk.path,
					lf_ntfs_log_last()[0] ? lf_ntfs_log_last() : strerror(errno));
	}
	if (!rc)
		rc = pack_fill_volume(&p, wk.path, fill_all);
	if (!rc)
		rc = pack_work_finish(&p, out, &wk);
	pack_work_drop(&wk);
	pack_free(&p);
	return rc;
}
