/* Opening a layer by what PATH is, and walking paths in it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/layer.h"

int lf_layer_open(const char *path, const struct lf_layer_opts *opts,
		  struct lf_layer **out, struct lf_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return lf_layer_open_dir(path, out, err);
	struct lf_source *src = NULL;
	int rc = lf_source_open(path, opts ? &opts->source : NULL, &src, err);
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
