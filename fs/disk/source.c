/* Opening a block source by what the file is, and helpers shared by the
 * formats. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/source.h"
#include "source_int.h"
#include "vhd_format.h"

int lf_fd_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int lf_read_by_unit(void *ctx, void *vbuf, size_t len, uint64_t off, uint64_t unit,
		    int (*one)(void *ctx, uint8_t *buf, size_t n, uint64_t off, uint64_t index,
			       uint64_t in))
{
	uint8_t *buf = vbuf;
	while (len) {
		uint64_t in = off % unit;
		size_t n = unit - in < len ? (size_t)(unit - in) : len;
		int rc = one(ctx, buf, n, off, off / unit, in);
		if (rc)
			return rc;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

int lf_fd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int lf_source_init(struct lf_source *s, const struct lf_source_ops *ops,
		   enum lf_source_kind kind, const char *path, uint64_t size)
{
	s->ops = ops;
	s->kind = kind;
	s->size = size;
	s->parent = NULL;
	s->path = strdup(path);
	return s->path ? 0 : -ENOMEM;
}

void lf_source_fini(struct lf_source *s)
{
	free(s->path);
	s->path = NULL;
}

void lf_source_close(struct lf_source *s)
{
	if (!s)
		return;
	struct lf_source *parent = s->parent;
	s->ops->close(s);
	lf_source_close(parent);
}

int lf_source_pread(struct lf_source *s, void *buf, size_t len, uint64_t off,
		    struct lf_err *err)
{
	if (off > s->size || len > s->size - off)
		return lf_err_set(err, EIO,
				  "%s: read of %zu bytes at offset %llu is past the end of the %llu-byte disk",
				  s->path, len, (unsigned long long)off,
				  (unsigned long long)s->size);
	s->why[0] = 0;
	int r = s->ops->pread(s, buf, len, off);
	if (r < 0)
		return lf_err_set(err, -r, "%s: read at offset %llu failed: %s",
				  s->path, (unsigned long long)off,
				  s->why[0] ? s->why : strerror(-r));
	return 0;
}

const char *lf_source_kind_name(enum lf_source_kind k)
{
	switch (k) {
	case LF_SRC_RAW: return "raw";
	case LF_SRC_VHD_FIXED: return "vhd-fixed";
	case LF_SRC_VHD_DYNAMIC: return "vhd-dynamic";
	case LF_SRC_VHD_DIFF: return "vhd-differencing";
	case LF_SRC_VHDX: return "vhdx";
	}
	return "unknown";
}

int lf_source_depth(const struct lf_source *s)
{
	int d = 0;
	for (; s; s = s->parent)
		d++;
	return d;
}

/* What the file is: VHDX has its signature at offset 0; a VHD has
 * "conectix" in its last 512 bytes (or, truncated, only in its first). */
enum image_kind { IMAGE_RAW, IMAGE_VHD, IMAGE_VHD_OR_BARE, IMAGE_VHDX };

static int sniff(struct lf_file *f, enum image_kind *kind, struct lf_err *err)
{
	uint8_t head[11] = {0}, tail[8] = {0};
	int rc = 0, have_head = 0, have_tail = 0;
	if (f->size >= 11 && !(rc = lf_file_pread(f, head, 11, 0)))
		have_head = 1;
	if (!rc && f->size >= VHD_FOOTER_SIZE &&
	    !(rc = lf_file_pread(f, tail, 8, f->size - VHD_FOOTER_SIZE)))
		have_tail = 1;
	if (rc)
		return lf_err_set(err, -rc, "%s: %s", f->name, f->why[0] ? f->why : strerror(-rc));
	*kind = IMAGE_RAW;
	if (have_head && memcmp(head, "vhdxfile", 8) == 0)
		*kind = IMAGE_VHDX;
	else if ((have_tail && memcmp(tail, VHD_COOKIE, 8) == 0) ||
		 (have_head && memcmp(head, VHD_COOKIE, 8) == 0))
		/* an NTFS partition cut out of a fixed VHD keeps the disk's
		 * footer after it */
		*kind = have_head && memcmp(head + 3, "NTFS    ", 8) == 0 ? IMAGE_VHD_OR_BARE
									  : IMAGE_VHD;
	return 0;
}

/* A VHD, or when its footer does not make a VHD of the file, the bare
 * volume before it (as ntfs-3g and The Sleuth Kit read it). */
static int open_vhd_or_bare(struct lf_file *f, const struct lf_source_opts *opts,
			    struct lf_source **out, struct lf_err *err)
{
	char *name = strdup(f->name);
	if (!name) {
		lf_file_close(f);
		return lf_err_set(err, ENOMEM, "out of memory");
	}
	/* the VHD opener takes the file; the bare volume is opened anew */
	int rc = lf_source_open_vhd_file(f, opts, 0, out, err);
	if (rc) {
		fprintf(stderr, "layerfs: note: %s: an NTFS volume with a VHD footer after it (%s): "
			"read as the bare volume\n", name, err && err->msg[0] ? err->msg : "not a VHD");
		if (err) {
			err->msg[0] = 0;
			err->code = 0;
		}
		rc = lf_source_open_raw(name, out, err);
	}
	free(name);
	return rc;
}

int lf_source_open_file(struct lf_file *f, const struct lf_source_opts *opts,
			struct lf_source **out, struct lf_err *err)
{
	enum image_kind kind;
	int rc = sniff(f, &kind, err);
	if (rc) {
		lf_file_close(f);
		return rc;
	}
	switch (kind) {
	case IMAGE_VHDX:
		return lf_source_open_vhdx_file(f, opts, 0, out, err);
	case IMAGE_VHD:
		return lf_source_open_vhd_file(f, opts, 0, out, err);
	case IMAGE_VHD_OR_BARE:
		if (f->ino)
			return open_vhd_or_bare(f, opts, out, err);
		return lf_source_open_vhd_file(f, opts, 0, out, err);
	case IMAGE_RAW:
		break;
	}
	return lf_source_open_raw_file(f, out, err);
}

int lf_source_open(const char *path, const struct lf_source_opts *opts,
		   struct lf_source **out, struct lf_err *err)
{
	struct lf_file *f;
	int rc = lf_file_open_local(path, &f, err);
	if (rc)
		return rc;
	enum image_kind kind;
	if ((rc = sniff(f, &kind, err))) {
		lf_file_close(f);
		return rc;
	}
	if (kind == IMAGE_VHDX) {
		/* libvhdi reads a host file by its path */
		lf_file_close(f);
		return lf_source_open_vhdx(path, opts, out, err);
	}
	return lf_source_open_file(f, opts, out, err);
}

static char *join_dir(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int lf_parent_candidates(const char *child_path, const char *named,
			 char **out, int max)
{
	int n = 0;
	if (!named || !*named || max < 3)
		return 0;
	char *host = strdup(named);
	char *dir = dir_of(child_path);
	if (!host || !dir) {
		free(host);
		free(dir);
		return 0;
	}
	for (char *p = host; *p; p++)
		if (*p == '\\')
			*p = '/';
	/* A Windows drive path ("C:/x") or device path ("//?/C:/x") means
	 * nothing on this host: only its file name is of use. */
	int windows_abs = (host[0] && host[1] == ':') ||
			  strncmp(host, "//?/", 4) == 0 ||
			  strncmp(host, "/?\?/", 4) == 0;
	const char *rel = host;
	while (strncmp(rel, "./", 2) == 0)
		rel += 2;
	if (!windows_abs) {
		if (rel[0] == '/')
			out[n++] = strdup(rel);
		else
			out[n++] = join_dir(dir, rel);
	}
	const char *base = strrchr(host, '/');
	base = base ? base + 1 : host;
	if (*base) {
		char *same = join_dir(dir, base);
		if (same && n > 0 && out[n - 1] && strcmp(same, out[n - 1]) == 0)
			free(same);
		else
			out[n++] = same;
	}
	free(host);
	free(dir);
	int k = 0;
	for (int i = 0; i < n; i++)
		if (out[i])
			out[k++] = out[i];
	return k;
}
