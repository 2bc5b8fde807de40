/* Composite hives: the copies of one hive in a stack of layers, merged
 * lowest first (the OS layer's full hive, then each layer's fragment),
 * as the union serves them and regfs shows them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/regcompose.h"

const struct lf_hive_place lf_hive_places[] = {
	{ "Windows/System32/config/SYSTEM", "HKLM/SYSTEM" },
	{ "Windows/System32/config/SOFTWARE", "HKLM/SOFTWARE" },
	{ "Windows/System32/config/SAM", "HKLM/SAM" },
	{ "Windows/System32/config/SECURITY", "HKLM/SECURITY" },
	{ "Windows/System32/config/DEFAULT", "HKU/.DEFAULT" },
	{ "Users/*/NTUSER.DAT", "HKU/*" },
	{ "Users/*/AppData/Local/Microsoft/Windows/UsrClass.dat", "HKU/*_Classes" },
};
const int lf_nhive_places = sizeof lf_hive_places / sizeof *lf_hive_places;

const char *const *lf_hive_patterns(int *n)
{
	static const char *p[sizeof lf_hive_places / sizeof *lf_hive_places];
	for (int i = 0; i < lf_nhive_places; i++)
		p[i] = lf_hive_places[i].path;
	*n = lf_nhive_places;
	return p;
}

int lf_reg_compose(const struct lf_copy *copies, int n, const struct lf_merge *m,
		   const char *name, struct lf_hive **out, struct lf_err *err)
{
	struct lf_hive *base = NULL;
	for (int i = 0; i < n; i++) {
		char what[512];
		snprintf(what, sizeof what, "layer '%s': %s", copies[i].layer, name);
		struct lf_hive *h = NULL;
		int rc = lf_hive_load_image(what, copies[i].data, copies[i].len, &h, err);
		if (!rc && h->dirty)
			rc = lf_err_set(err, EINVAL, "%s: a dirty hive (its logs are not replayed "
					"inside a layer: let Windows or 'layerctl reg compact' finish it)",
					what);
		if (!rc && base) {
			rc = lf_hive_merge(base->root, h->root, m);
			if (rc)
				lf_err_set(err, -rc, "%s: cannot merge it: %s", what, strerror(-rc));
			if (h->mtime > base->mtime)
				base->mtime = h->mtime;
		} else if (!rc) {
			base = h;
			h = NULL;
		}
		if (h)
			lf_hive_free(h);
		if (rc) {
			lf_hive_free(base);
			return rc;
		}
	}
	if (!base)
		return lf_err_set(err, ENOENT, "%s: no layer has it", name);
	*out = base;
	return 0;
}

int lf_reg_stack(void *ctx, const char *name, const struct lf_copy *copies, int n, void **out,
		 size_t *len, struct lf_err *err)
{
	struct lf_hive *h;
	int rc = lf_reg_compose(copies, n, ctx, name, &h, err);
	if (rc)
		return rc;
	uint8_t *img;
	rc = lf_hive_image(h, &img, len, err);
	lf_hive_free(h);
	if (!rc)
		*out = img;
	return rc;
}

/* One hive of the union, if a layer has it. */
static int add_one(struct lf_regview *v, struct lf_union *u, const struct lf_merge *m,
		   const char *path, const char *mount, const char *upper, struct lf_err *err)
{
	struct lf_copy *copies;
	int n;
	int rc = lf_union_copies(u, path, &copies, &n);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return lf_err_set(err, -rc, "%s: cannot read it from the layers: %s", path,
				  strerror(-rc));
	struct lf_hive *h;
	rc = lf_reg_compose(copies, n, m, path, &h, err);
	lf_union_copies_free(copies, n);
	if (rc)
		return rc;
	char frag[4096];
	if (upper && snprintf(frag, sizeof frag, "%s/%s", upper, path) >= (int)sizeof frag)
		return lf_err_set(err, ENAMETOOLONG, "%s: path too long", upper);
	rc = lf_regview_add(v, mount, h, upper ? frag : NULL, err);
	return rc ? rc : 1;
}

struct users {
	char names[256][256];
	int n;
};

static int collect_user(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	(void)next;
	struct users *us = ctx;
	if (S_ISDIR(a->mode) && us->n < 256 && strlen(name) < 256)
		snprintf(us->names[us->n++], 256, "%s", name);
	return 0;
}

int lf_regview_add_union(struct lf_regview *v, struct lf_union *u, const struct lf_merge *m,
			 const char *upper, struct lf_err *err)
{
	int added = 0;
	struct users *us = calloc(1, sizeof *us);
	struct lf_attr a;
	if (!us)
		return lf_err_set(err, ENOMEM, "out of memory"), -1;
	if (lf_union_lookup(u, LF_UNION_ROOT, "Users", &a) == 0) {
		lf_union_readdir(u, a.ino, 0, 0, collect_user, us);
		lf_union_forget(u, a.ino, 1);
	}
	for (int i = 0; i < lf_nhive_places; i++) {
		const struct lf_hive_place *p = &lf_hive_places[i];
		const char *star = strchr(p->path, '*');
		for (int k = 0; k < (star ? us->n : 1); k++) {
			char path[1024], mount[512];
			if (star) {
				snprintf(path, sizeof path, "%.*s%s%s", (int)(star - p->path), p->path,
					 us->names[k], star + 1);
				const char *ms = strchr(p->mount, '*');
				snprintf(mount, sizeof mount, "%.*s%s%s", (int)(ms - p->mount), p->mount,
					 us->names[k], ms + 1);
			} else {
				snprintf(path, sizeof path, "%s", p->path);
				snprintf(mount, sizeof mount, "%s", p->mount);
			}
			int rc = add_one(v, u, m, path, mount, upper, err);
			if (rc < 0) {
				free(us);
				return -1;
			}
			added += rc;
		}
	}
	free(us);
	return added;
}
