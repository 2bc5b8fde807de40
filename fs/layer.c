/* Opening a layer by what PATH is, and walking paths in it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/layer.h"
#include "layerfs/oci.h"

int lf_layer_open(const char *path, const struct lf_layer_opts *opts,
		  struct lf_layer **out, struct lf_err *err)
{
	struct stat st;
	struct lf_source *src = NULL;
	int rc;
	if (lf_oci_is_uri(path)) {
		rc = lf_source_open_oci(path, &src, err);
	} else if (stat(path, &st) < 0) {
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		return lf_layer_open_dir(path, out, err);
	} else {
		rc = lf_source_open(path, opts ? &opts->source : NULL, &src, err);
	}
	if (rc)
		return rc;
	rc = lf_layer_open_ntfs(src, out, err);
	if (rc)
		lf_source_close(src);
	return rc;
}

void lf_layer_close(struct lf_layer *l)
{
	if (!l)
		return;
	struct lf_source *src = l->source;
	l->ops->close(l);
	lf_source_close(src);
}

int lf_layer_resolve(struct lf_layer *l, const char *path, struct lf_attr *out)
{
	int rc = l->ops->getattr(l, l->root, out);
	const char *p = path;
	char name[1024];
	while (!rc && *p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n >= sizeof name)
			return -ENAMETOOLONG;
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, ".."))
			return -EINVAL; /* no walking up: paths are from the root */
		if (!S_ISDIR(out->mode))
			return -ENOTDIR;
		rc = l->ops->lookup(l, out->ino, name, out);
	}
	return rc;
}

int lf_layer_read_all(struct lf_layer *l, lf_ino ino, uint64_t size, uint8_t **out)
{
	if (size > 0x7FFFFFFF)
		return -EFBIG;
	uint8_t *b = malloc(size ? size : 1);
	uint64_t fh;
	int rc = b ? l->ops->open(l, ino, &fh) : -ENOMEM;
	int opened = !rc;
	size_t got = 0;
	while (!rc && got < size) {
		ssize_t n = l->ops->pread(l, fh, b + got, size - got, got);
		if (n <= 0)
			rc = n < 0 ? (int)n : -EIO;  /* shorter than it said */
		else
			got += (size_t)n;
	}
	if (opened)
		l->ops->release(l, fh);
	if (rc) {
		free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int lf_mkdirs(const char *path, mode_t mode, uid_t uid, gid_t gid, struct lf_err *err)
{
	char p[4096];
	if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
		return lf_err_set(err, ENAMETOOLONG, "%s: too long", path);
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, mode) == 0) {
			if (uid != (uid_t)-1 && chown(p, uid, gid) < 0)
				return lf_err_set(err, errno, "%s: chown: %s", p, strerror(errno));
		} else if (errno != EEXIST) {
			return lf_err_set(err, errno, "%s: %s", p, strerror(errno));
		}
		*s = c;
		if (!c)
			return 0;
	}
}
