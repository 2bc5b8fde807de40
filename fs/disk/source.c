/* Opening a block source by what the file is, and helpers shared by the
 * formats. */
#include <errno.h>
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
	int r = s->ops->pread(s, buf, len, off);
	if (r < 0)
		return lf_err_set(err, -r, "%s: read at offset %llu failed: %s",
				  s->path, (unsigned long long)off,
				  strerror(-r));
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
int lf_source_open(const char *path, const struct lf_source_opts *opts,
		   struct lf_source **out, struct lf_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return lf_err_set(err, e, "%s: %s", path, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return lf_err_set(err, EISDIR, "%s: is a directory, not a disk image", path);
	}
	uint8_t head[8] = {0}, tail[8] = {0};
	int have_head = st.st_size >= 8 &&
			lf_fd_pread_full(fd, head, 8, 0) == 0;
	int have_tail = st.st_size >= VHD_FOOTER_SIZE &&
			lf_fd_pread_full(fd, tail, 8,
					 (uint64_t)st.st_size - VHD_FOOTER_SIZE) == 0;
	close(fd);

	if (have_head && memcmp(head, "vhdxfile", 8) == 0)
		return lf_source_open_vhdx(path, opts, out, err);
	if ((have_tail && memcmp(tail, VHD_COOKIE, 8) == 0) ||
	    (have_head && memcmp(head, VHD_COOKIE, 8) == 0))
		return lf_source_open_vhd(path, opts, 0, out, err);
	return lf_source_open_raw(path, out, err);
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

char *lf_utf16_to_utf8(const uint8_t *p, size_t bytes, int big_endian)
{
	size_t units = bytes / 2;
	char *s = malloc(units * 3 + 1);
	if (!s)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t c = big_endian ? (uint32_t)(p[2 * i] << 8 | p[2 * i + 1])
					: (uint32_t)(p[2 * i + 1] << 8 | p[2 * i]);
		if (c == 0)
			break;
		if (c >= 0xD800 && c < 0xDC00 && i + 1 < units) {
			uint32_t d = big_endian ? (uint32_t)(p[2 * i + 2] << 8 | p[2 * i + 3])
						: (uint32_t)(p[2 * i + 3] << 8 | p[2 * i + 2]);
			if (d < 0xDC00 || d >= 0xE000) {
				free(s);
				return NULL;
			}
			c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
			i++;
		} else if (c >= 0xD800 && c < 0xE000) {
			free(s);
			return NULL;
		}
		if (c < 0x80) {
			s[o++] = (char)c;
		} else if (c < 0x800) {
			s[o++] = (char)(0xC0 | c >> 6);
			s[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			s[o++] = (char)(0xE0 | c >> 12);
			s[o++] = (char)(0x80 | (c >> 6 & 0x3F));
			s[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			char *t = realloc(s, units * 3 + 2);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
			s[o++] = (char)(0xF0 | c >> 18);
			s[o++] = (char)(0x80 | (c >> 12 & 0x3F));
			s[o++] = (char)(0x80 | (c >> 6 & 0x3F));
			s[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	s[o] = 0;
	return s;
}

ssize_t lf_utf8_to_utf16(const char *s, uint8_t *out, size_t cap,
			 int big_endian)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t c;
		int extra;
		if (*p < 0x80) { c = *p; extra = 0; }
		else if ((*p & 0xE0) == 0xC0) { c = *p & 0x1F; extra = 1; }
		else if ((*p & 0xF0) == 0xE0) { c = *p & 0x0F; extra = 2; }
		else if ((*p & 0xF8) == 0xF0) { c = *p & 0x07; extra = 3; }
		else return -1;
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xC0) != 0x80)
				return -1;
			c = c << 6 | (*p & 0x3F);
		}
		uint16_t u[2];
		int nu = 1;
		if (c >= 0x10000) {
			c -= 0x10000;
			u[0] = (uint16_t)(0xD800 | c >> 10);
			u[1] = (uint16_t)(0xDC00 | (c & 0x3FF));
			nu = 2;
		} else {
			u[0] = (uint16_t)c;
		}
		for (int i = 0; i < nu; i++, o += 2) {
			if (out && o + 2 <= cap) {
				out[o + (big_endian ? 0 : 1)] = (uint8_t)(u[i] >> 8);
				out[o + (big_endian ? 1 : 0)] = (uint8_t)u[i];
			}
		}
	}
	return (ssize_t)o;
}
