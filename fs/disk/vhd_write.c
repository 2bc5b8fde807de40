/* VHD v1 writer: fixed, dynamic and differencing disks, so that packing
 * needs no qemu-img. Written to a temporary file and renamed into place
 * only when whole. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/vhd.h"
#include "source_int.h"
#include "vhd_format.h"

#define DEFAULT_BLOCK (2u << 20)

/* CHS geometry as the VHD specification computes it (appendix). */
static void vhd_geometry(uint64_t sectors, uint32_t *cyl, uint32_t *heads,
			 uint32_t *spt)
{
	uint64_t cth;
	if (sectors > 65535ull * 16 * 255)
		sectors = 65535ull * 16 * 255;
	if (sectors >= 65535ull * 16 * 63) {
		*spt = 255;
		*heads = 16;
		cth = sectors / *spt;
	} else {
		*spt = 17;
		cth = sectors / *spt;
		*heads = (uint32_t)((cth + 1023) / 1024);
		if (*heads < 4)
			*heads = 4;
		if (cth >= *heads * 1024ull || *heads > 16) {
			*spt = 31;
			*heads = 16;
			cth = sectors / *spt;
		}
		if (cth >= *heads * 1024ull) {
			*spt = 63;
			*heads = 16;
			cth = sectors / *spt;
		}
	}
	*cyl = (uint32_t)(cth / *heads);
}

/* Virtual PC reads the size from the geometry, Hyper-V from the footer:
 * a size that is whole cylinders means the same disk to both. */
uint64_t lf_vhd_round_size(uint64_t size)
{
	uint64_t sectors = (size + VHD_SECTOR - 1) / VHD_SECTOR;
	for (int i = 0; i < 8; i++) {
		uint32_t c, h, s;
		vhd_geometry(sectors, &c, &h, &s);
		uint64_t chs = (uint64_t)c * h * s;
		if (chs >= sectors || sectors >= 65535ull * 16 * 255)
			return sectors * VHD_SECTOR;
		sectors = (uint64_t)(c + 1) * h * s;
	}
	return sectors * VHD_SECTOR;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* The caller's contents, zeros past their end (the disk may be larger:
 * rounded to whole cylinders, or the size of a differencing parent). */
static int read_content(lf_vhd_read_fn read, void *ctx, uint64_t content,
			uint8_t *buf, size_t len, uint64_t off)
{
	size_t have = off >= content ? 0 : content - off < len ? (size_t)(content - off) : len;
	memset(buf + have, 0, len - have);
	return have ? read(ctx, buf, have, off) : 0;
}

static void make_footer(uint8_t *f, enum lf_vhd_type type, uint64_t size,
			uint64_t data_offset, const uint8_t *uuid)
{
	memset(f, 0, VHD_FOOTER_SIZE);
	memcpy(f + VF_COOKIE, VHD_COOKIE, 8);
	put_be32(f + VF_FEATURES, 2);
	put_be32(f + VF_VERSION, 0x00010000);
	put_be64(f + VF_DATA_OFFSET, data_offset);
	put_be32(f + VF_TIMESTAMP, (uint32_t)(time(NULL) - VHD_EPOCH));
	memcpy(f + VF_CREATOR_APP, "lyfs", 4);
	put_be32(f + VF_CREATOR_VER, 0x00010000);
	memcpy(f + VF_CREATOR_OS, "Wi2k", 4);
	put_be64(f + VF_ORIG_SIZE, size);
	put_be64(f + VF_CUR_SIZE, size);
	uint32_t c, h, s;
	vhd_geometry(size / VHD_SECTOR, &c, &h, &s);
	put_be32(f + VF_GEOMETRY, c << 16 | h << 8 | s);
	put_be32(f + VF_DISK_TYPE, type);
	memcpy(f + VF_UUID, uuid, 16);
	put_be32(f + VF_CHECKSUM, vhd_checksum(f, VHD_FOOTER_SIZE, VF_CHECKSUM));
}

static void new_uuid(uint8_t *u)
{
	if (getrandom(u, 16, 0) != 16) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		srand((unsigned)(ts.tv_nsec ^ getpid()));
		for (int i = 0; i < 16; i++)
			u[i] = (uint8_t)rand();
	}
	u[6] = (u[6] & 0x0F) | 0x40; /* version 4 */
	u[8] = (u[8] & 0x3F) | 0x80;
}

/* The path of `to` relative to the folder `from_dir`, both absolute and
 * canonical: "./p.vhd", "../base/p.vhd". */
static char *relative_path(const char *from_dir, const char *to)
{
	/* Length of the common prefix made of whole components. */
	size_t common = 0;
	for (size_t i = 0;; i++) {
		int end_from = from_dir[i] == 0 || from_dir[i] == '/';
		int end_to = to[i] == 0 || to[i] == '/';
		if (end_from && end_to)
			common = i;
		if (!from_dir[i] || !to[i] || from_dir[i] != to[i])
			break;
	}
	int ups = 0;
	for (const char *p = from_dir + common; *p; p++)
		if (*p == '/' && p[1])
			ups++;
	const char *rest = to + common;
	while (*rest == '/')
		rest++;
	char *r = malloc(2 + (size_t)ups * 3 + strlen(rest) + 1);
	if (!r)
		return NULL;
	strcpy(r, "./");
	for (int k = 0; k < ups; k++)
		strcat(r, "../");
	strcat(r, rest);
	return r;
}

/* Write a locator entry and its UTF-16LE data (Windows separators). */
static uint64_t put_locator(int fd, uint8_t *h, int slot, uint32_t code,
			    const char *path, uint64_t at, int *rc)
{
	char *win = strdup(path);
	if (!win) {
		*rc = -ENOMEM;
		return at;
	}
	for (char *p = win; *p; p++)
		if (*p == '/')
			*p = '\\';
	ssize_t n = lf_utf8_to_utf16(win, NULL, 0, 0);
	uint32_t space = (uint32_t)((n + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR);
	uint8_t *buf = calloc(1, space ? space : VHD_SECTOR);
	if (n <= 0 || !buf) {
		free(win);
		free(buf);
		*rc = n < 0 ? -EINVAL : -ENOMEM;
		return at;
	}
	lf_utf8_to_utf16(win, buf, space, 0);
	free(win);
	*rc = write_full(fd, buf, space, at);
	free(buf);
	uint8_t *l = h + VD_LOCATORS + slot * VD_LOCATOR_SIZE;
	put_be32(l + VL_CODE, code);
	put_be32(l + VL_SPACE, space);
	put_be32(l + VL_LENGTH, (uint32_t)n);
	put_be64(l + VL_OFFSET, at);
	return at + space;
}

struct diff_parent {
	struct lf_source *src;
	uint8_t uuid[16];
	uint32_t timestamp;
	char *real;
};

static int open_diff_parent(const char *path, struct diff_parent *p,
			    struct lf_err *err)
{
	int rc = lf_source_open(path, NULL, &p->src, err);
	if (rc)
		return rc;
	if (p->src->kind != LF_SRC_VHD_FIXED && p->src->kind != LF_SRC_VHD_DYNAMIC &&
	    p->src->kind != LF_SRC_VHD_DIFF)
		return lf_err_set(err, EINVAL, "%s: a differencing VHD's parent must be a VHD", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t f[VHD_FOOTER_SIZE];
	struct stat st;
	if (fd < 0 || fstat(fd, &st) ||
	    lf_fd_pread_full(fd, f, sizeof f, (uint64_t)st.st_size - VHD_FOOTER_SIZE)) {
		if (fd >= 0)
			close(fd);
		return lf_err_set(err, EIO, "%s: cannot read the footer", path);
	}
	close(fd);
	memcpy(p->uuid, f + VF_UUID, 16);
	p->timestamp = be32(f + VF_TIMESTAMP);
	p->real = realpath(path, NULL);
	return p->real ? 0 : lf_err_set(err, errno, "%s: %s", path, strerror(errno));
}

static void close_diff_parent(struct diff_parent *p)
{
	lf_source_close(p->src);
	free(p->real);
	p->src = NULL;
	p->real = NULL;
}

/* Which sectors of a block to store: all of a non-zero block for a dynamic
 * disk, those that differ from the parent for a differencing one. Returns
 * how many are stored. */
static uint32_t block_sectors(const uint8_t *data, const uint8_t *parent,
			      uint32_t nsec, uint8_t *bitmap)
{
	uint32_t stored = 0;
	for (uint32_t s = 0; s < nsec; s++) {
		const uint8_t *d = data + (size_t)s * VHD_SECTOR;
		int keep;
		if (parent) {
			keep = memcmp(d, parent + (size_t)s * VHD_SECTOR, VHD_SECTOR) != 0;
		} else {
			keep = 0;
			for (uint32_t i = 0; i < VHD_SECTOR && !keep; i++)
				keep = d[i] != 0;
		}
		if (keep) {
			bitmap[s / 8] |= (uint8_t)(0x80 >> (s % 8));
			stored++;
		}
	}
	if (stored && !parent)
		memset(bitmap, 0xFF, nsec / 8);
	return stored;
}

static int write_sparse(int fd, const struct lf_vhd_write_opts *o,
			uint64_t size, struct diff_parent *parent,
			lf_vhd_read_fn read, void *ctx,
			const uint8_t *uuid, struct lf_err *err, const char *out)
{
	uint32_t bs = o->block_size ? o->block_size : DEFAULT_BLOCK;
	uint32_t bms = vhd_bitmap_size(bs);
	uint32_t nsec = bs / VHD_SECTOR;
	uint64_t content = o->size;
	uint64_t nblocks = (size + bs - 1) / bs;
	uint64_t bat_bytes = (nblocks * 4 + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
	uint8_t h[VHD_DYNHDR_SIZE] = {0}, f[VHD_FOOTER_SIZE];
	uint32_t *bat = malloc(bat_bytes);
	uint8_t *data = malloc(bs), *pdata = NULL, *bitmap = malloc(bms);
	int rc = 0;
	if (!bat || !data || !bitmap) {
		rc = lf_err_set(err, ENOMEM, "%s: out of memory", out);
		goto done;
	}
	memset(bat, 0xFF, bat_bytes);
	uint64_t at = VHD_FOOTER_SIZE + VHD_DYNHDR_SIZE + bat_bytes;
	if (parent) {
		if (!(pdata = malloc(bs))) {
			rc = lf_err_set(err, ENOMEM, "%s: out of memory", out);
			goto done;
		}
		char *outdup = strdup(out), *dir = NULL, *rel = NULL;
		char *slash = outdup ? strrchr(outdup, '/') : NULL;
		if (slash)
			*slash = 0;
		dir = outdup ? realpath(slash ? (outdup[0] ? outdup : "/") : ".", NULL) : NULL;
		rel = dir ? relative_path(dir, parent->real) : NULL;
		if (rel)
			at = put_locator(fd, h, 0, VHD_PLAT_W2RU, rel, at, &rc);
		if (!rc)
			at = put_locator(fd, h, rel ? 1 : 0, VHD_PLAT_W2KU, parent->real, at, &rc);
		free(outdup);
		free(dir);
		free(rel);
		if (rc) {
			rc = lf_err_set(err, -rc, "%s: cannot write the parent locators", out);
			goto done;
		}
		memcpy(h + VD_PARENT_UUID, parent->uuid, 16);
		put_be32(h + VD_PARENT_TIME, parent->timestamp);
		const char *base = strrchr(parent->real, '/');
		lf_utf8_to_utf16(base ? base + 1 : parent->real, h + VD_PARENT_NAME, 512, 1);
	}
	for (uint64_t b = 0; b < nblocks; b++) {
		uint64_t off = b * bs;
		size_t len = size - off < bs ? (size_t)(size - off) : bs;
		memset(data + len, 0, bs - len);
		if ((rc = read_content(read, ctx, content, data, len, off))) {
			rc = lf_err_set(err, -rc, "%s: reading the contents at %llu failed: %s",
					out, (unsigned long long)off, strerror(-rc));
			goto done;
		}
		if (pdata) {
			memset(pdata + len, 0, bs - len);
			if ((rc = lf_source_pread(parent->src, pdata, len, off, err)))
				goto done;
		}
		memset(bitmap, 0, bms);
		if (block_sectors(data, pdata, nsec, bitmap)) {
			if ((rc = write_full(fd, bitmap, bms, at)) ||
			    (rc = write_full(fd, data, bs, at + bms))) {
				rc = lf_err_set(err, -rc, "%s: write failed: %s", out, strerror(-rc));
				goto done;
			}
			uint8_t be[4];
			put_be32(be, (uint32_t)(at / VHD_SECTOR));
			memcpy(&bat[b], be, 4);
			at += bms + bs;
		}
		if (o->progress)
			o->progress(o->progress_ctx, off + len, size);
	}
	memcpy(h + VD_COOKIE, VHD_DYN_COOKIE, 8);
	put_be64(h + VD_DATA_OFFSET, UINT64_MAX);
	put_be64(h + VD_TABLE_OFFSET, VHD_FOOTER_SIZE + VHD_DYNHDR_SIZE);
	put_be32(h + VD_VERSION, 0x00010000);
	put_be32(h + VD_MAX_ENTRIES, (uint32_t)nblocks);
	put_be32(h + VD_BLOCK_SIZE, bs);
	put_be32(h + VD_CHECKSUM, vhd_checksum(h, VHD_DYNHDR_SIZE, VD_CHECKSUM));
	make_footer(f, o->type, size, VHD_FOOTER_SIZE, uuid);
	if ((rc = write_full(fd, bat, bat_bytes, VHD_FOOTER_SIZE + VHD_DYNHDR_SIZE)) ||
	    (rc = write_full(fd, h, VHD_DYNHDR_SIZE, VHD_FOOTER_SIZE)) ||
	    (rc = write_full(fd, f, VHD_FOOTER_SIZE, 0)) ||
	    (rc = write_full(fd, f, VHD_FOOTER_SIZE, at)))
		rc = lf_err_set(err, -rc, "%s: write failed: %s", out, strerror(-rc));
done:
	free(bat);
	free(data);
	free(pdata);
	free(bitmap);
	return rc;
}

static int write_fixed(int fd, const struct lf_vhd_write_opts *o, uint64_t size,
		       lf_vhd_read_fn read, void *ctx, const uint8_t *uuid,
		       struct lf_err *err, const char *out)
{
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = malloc(CHUNK);
	if (!buf)
		return lf_err_set(err, ENOMEM, "%s: out of memory", out);
	int rc = 0;
	for (uint64_t off = 0; off < size && !rc; off += CHUNK) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		if ((rc = read_content(read, ctx, o->size, buf, len, off))) {
			rc = lf_err_set(err, -rc, "%s: reading the contents at %llu failed: %s",
					out, (unsigned long long)off, strerror(-rc));
			break;
		}
		int zero = 1;
		for (size_t i = 0; i < len && zero; i++)
			zero = buf[i] == 0;
		/* Holes stay holes: the file is sized by the footer write. */
		if (!zero && (rc = write_full(fd, buf, len, off)))
			rc = lf_err_set(err, -rc, "%s: write failed: %s", out, strerror(-rc));
		if (o->progress)
			o->progress(o->progress_ctx, off + len, size);
	}
	free(buf);
	if (rc)
		return rc;
	uint8_t f[VHD_FOOTER_SIZE];
	make_footer(f, LF_VHD_FIXED, size, UINT64_MAX, uuid);
	if ((rc = write_full(fd, f, sizeof f, size)))
		return lf_err_set(err, -rc, "%s: write failed: %s", out, strerror(-rc));
	return 0;
}

int lf_vhd_write(const char *out, const struct lf_vhd_write_opts *o,
		 lf_vhd_read_fn read, void *ctx, struct lf_err *err)
{
	if (o->block_size && (o->block_size < 4096 || (o->block_size & (o->block_size - 1))))
		return lf_err_set(err, EINVAL, "%s: block size %u is not a power of two >= 4096",
				  out, o->block_size);
	if (o->type == LF_VHD_DIFF && !o->parent_path)
		return lf_err_set(err, EINVAL, "%s: a differencing disk needs a parent", out);
	/* A child is as large as its parent; other disks are rounded to whole
	 * cylinders. */
	struct diff_parent parent = {0};
	uint64_t size = lf_vhd_round_size(o->size);
	if (o->type == LF_VHD_DIFF) {
		int rc = open_diff_parent(o->parent_path, &parent, err);
		if (!rc && o->size > parent.src->size)
			rc = lf_err_set(err, EINVAL, "%s: %llu bytes do not fit the %llu-byte parent %s",
					out, (unsigned long long)o->size,
					(unsigned long long)parent.src->size, o->parent_path);
		if (rc) {
			close_diff_parent(&parent);
			return rc;
		}
		size = parent.src->size;
	}
	if (size == 0 || size > 2040ull << 30) {
		close_diff_parent(&parent);
		return lf_err_set(err, EINVAL, "%s: disk size %llu is out of range (VHD holds up to 2040 GiB)",
				  out, (unsigned long long)size);
	}
	size_t len = strlen(out);
	char *tmp = malloc(len + 16);
	if (!tmp) {
		close_diff_parent(&parent);
		return lf_err_set(err, ENOMEM, "%s: out of memory", out);
	}
	snprintf(tmp, len + 16, "%s.tmp.XXXXXX", out);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int rc = lf_err_set(err, errno, "%s: cannot create: %s", out, strerror(errno));
		free(tmp);
		close_diff_parent(&parent);
		return rc;
	}
	fchmod(fd, 0644);
	uint8_t uuid[16];
	new_uuid(uuid);
	int rc = o->type == LF_VHD_FIXED
		? write_fixed(fd, o, size, read, ctx, uuid, err, out)
		: write_sparse(fd, o, size, o->type == LF_VHD_DIFF ? &parent : NULL,
			       read, ctx, uuid, err, out);
	close_diff_parent(&parent);
	if (!rc && fsync(fd) < 0)
		rc = lf_err_set(err, errno, "%s: fsync failed: %s", out, strerror(errno));
	if (close(fd) < 0 && !rc)
		rc = lf_err_set(err, errno, "%s: close failed: %s", out, strerror(errno));
	if (!rc && rename(tmp, out) < 0)
		rc = lf_err_set(err, errno, "%s: cannot rename into place: %s", out, strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}
