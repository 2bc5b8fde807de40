/* A raw image file: the disk is the file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/source.h"
#include "source_int.h"

struct raw_source {
	struct lf_source base;
	struct lf_file *file;
};

static int raw_pread(struct lf_source *s, void *buf, size_t len, uint64_t off)
{
	struct lf_file *f = ((struct raw_source *)s)->file;
	int rc = lf_file_pread(f, buf, len, off);
	if (rc && f->why[0])
		memcpy(s->why, f->why, sizeof s->why);
	return rc;
}

static void raw_close(struct lf_source *s)
{
	lf_file_close(((struct raw_source *)s)->file);
	lf_source_fini(s);
	free(s);
}

static const struct lf_source_ops raw_ops = { raw_pread, raw_close };

int lf_source_open_raw_file(struct lf_file *file, struct lf_source **out,
			    struct lf_err *err)
{
	struct raw_source *r = calloc(1, sizeof *r);
	if (!r || lf_source_init(&r->base, &raw_ops, LF_SRC_RAW, file->name, file->size) < 0) {
		free(r);
		int rc = lf_err_set(err, ENOMEM, "%s: out of memory", file->name);
		lf_file_close(file);
		return rc;
	}
	r->file = file;
	r->base.file = file;
	*out = &r->base;
	return 0;
}

int lf_source_open_raw(const char *path, struct lf_source **out,
		       struct lf_err *err)
{
	struct lf_file *f;
	int rc = lf_file_open_local(path, &f, err);
	return rc ? rc : lf_source_open_raw_file(f, out, err);
}
