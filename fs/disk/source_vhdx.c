/* VHDX through libvhdi, which decodes it correctly (unlike its VHD v1
 * path). libvhdi never opens parents itself: we find each one and attach
 * it with libvhdi_file_set_parent_file, which checks its id. */
#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvhdi.h>

#include "layerfs/source.h"
#include "source_int.h"

struct vhdx_source {
	struct lf_source base;
	int nfiles;
	libvhdi_file_t *files[LF_MAX_CHAIN]; /* files[0] is the child */
};

static int vhdx_pread(struct lf_source *s, void *buf, size_t len, uint64_t off)
{
	struct vhdx_source *x = (struct vhdx_source *)s;
	uint8_t *p = buf;
	while (len) {
		libvhdi_error_t *e = NULL;
		ssize_t n = libvhdi_file_read_buffer_at_offset(x->files[0], p, len,
							       (off64_t)off, &e);
		if (e)
			libvhdi_error_free(&e);
		if (n <= 0) {
			/* libvhdi says only that it failed: the usual cause is a
			 * file cut short (a copy that did not finish) */
			struct stat st;
			if (stat(s->path, &st) == 0)
				snprintf(s->why, sizeof s->why, "its data for this part of the disk "
					 "cannot be read from the %lld-byte file (truncated, or its "
					 "block table damaged)", (long long)st.st_size);
			return -EIO;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static void vhdx_close(struct lf_source *s)
{
	struct vhdx_source *x = (struct vhdx_source *)s;
	/* The child before its parent, as libvhdi requires. */
	for (int i = 0; i < x->nfiles; i++) {
		libvhdi_file_close(x->files[i], NULL);
		libvhdi_file_free(&x->files[i], NULL);
	}
	lf_source_fini(s);
	free(x);
}

static const struct lf_source_ops vhdx_ops = { vhdx_pread, vhdx_close };

static int vhdi_fail(struct lf_err *err, libvhdi_error_t **e, const char *path,
		     const char *what)
{
	char detail[512] = "";
	if (e && *e) {
		libvhdi_error_sprint(*e, detail, sizeof detail);
		libvhdi_error_free(e);
		/* libvhdi's message spans lines; keep the report one line */
		for (char *c = detail; *c; c++)
			if (*c == '\n')
				*c = ' ';
	}
	return lf_err_set(err, EINVAL, "%s: %s%s%s", path, what,
			  detail[0] ? ": " : "", detail);
}

static int open_one(const char *path, libvhdi_file_t **out, struct lf_err *err)
{
	libvhdi_error_t *e = NULL;
	libvhdi_file_t *f = NULL;
	if (libvhdi_file_initialize(&f, &e) != 1)
		return vhdi_fail(err, &e, path, "cannot initialise libvhdi");
	if (libvhdi_file_open(f, path, LIBVHDI_OPEN_READ, &e) != 1) {
		libvhdi_file_free(&f, NULL);
		/* in this project's words; libvhdi's own with LAYERFS_DEBUG=1 */
		if (getenv("LAYERFS_DEBUG"))
			return vhdi_fail(err, &e, path, "not a readable VHDX");
		libvhdi_error_free(&e);
		struct stat st;
		off_t size = stat(path, &st) == 0 ? st.st_size : 0;
		if (size < (1 << 20))
			return lf_err_set(err, EINVAL, "%s: truncated: a VHDX begins with a 1 MiB header "
					  "area, the file holds %lld bytes", path, (long long)size);
		return lf_err_set(err, EINVAL, "%s: not a readable VHDX: its headers, region table or "
				  "metadata do not hold together (damaged, or cut short at %lld bytes)",
				  path, (long long)size);
	}
	*out = f;
	return 0;
}

static char *parent_name(libvhdi_file_t *f)
{
	size_t size = 0;
	if (libvhdi_file_get_utf8_parent_filename_size(f, &size, NULL) != 1 ||
	    size == 0 || size > 65536)
		return NULL;
	char *s = malloc(size);
	if (s && libvhdi_file_get_utf8_parent_filename(f, (uint8_t *)s, size, NULL) != 1) {
		free(s);
		return NULL;
	}
	return s;
}

int lf_source_open_vhdx(const char *path, const struct lf_source_opts *opts,
			struct lf_source **out, struct lf_err *err)
{
	struct vhdx_source *x = calloc(1, sizeof *x);
	if (!x || lf_source_init(&x->base, &vhdx_ops, LF_SRC_VHDX, path, 0)) {
		free(x);
		return lf_err_set(err, ENOMEM, "%s: out of memory", path);
	}
	int rc = open_one(path, &x->files[0], err);
	if (rc)
		goto fail;
	x->nfiles = 1;
	size64_t size = 0;
	libvhdi_file_get_media_size(x->files[0], &size, NULL);
	x->base.size = size;

	/* Walk up the chain; the open files are kept child first. */
	char *cur_path = strdup(path);
	for (;;) {
		libvhdi_file_t *f = x->files[x->nfiles - 1];
		uint32_t type = 0;
		libvhdi_file_get_disk_type(f, &type, NULL);
		if (type != LIBVHDI_DISK_TYPE_DIFFERENTIAL)
			break;
		if (x->nfiles >= LF_MAX_CHAIN) {
			rc = lf_err_set(err, ELOOP, "%s: parent chain deeper than %d disks (a loop?)",
					path, LF_MAX_CHAIN);
			break;
		}
		char *cand[8];
		int n = 0, depth = x->nfiles - 1;
		if (opts && depth < opts->nparents && opts->parents[depth])
			cand[n++] = strdup(opts->parents[depth]);
		char *named = parent_name(f);
		n += lf_parent_candidates(cur_path, named, cand + n, 8 - n);
		free(named);
		rc = -ENOENT;
		for (int i = 0; i < n; i++) {
			if (rc == -ENOENT && access(cand[i], F_OK) == 0) {
				libvhdi_file_t *p = NULL;
				libvhdi_error_t *e = NULL;
				if (open_one(cand[i], &p, err) == 0) {
					if (libvhdi_file_set_parent_file(f, p, &e) == 1) {
						x->files[x->nfiles++] = p;
						free(cur_path);
						cur_path = strdup(cand[i]);
						rc = 0;
					} else {
						rc = vhdi_fail(err, &e, cur_path, "parent does not match");
						libvhdi_file_close(p, NULL);
						libvhdi_file_free(&p, NULL);
					}
				}
			}
			free(cand[i]);
		}
		if (rc == -ENOENT)
			rc = lf_err_set(err, ENOENT, "%s: parent disk not found; name it with --parent",
					cur_path);
		if (rc)
			break;
	}
	free(cur_path);
	if (rc)
		goto fail;
	*out = &x->base;
	return 0;
fail:
	vhdx_close(&x->base);
	return rc;
}
