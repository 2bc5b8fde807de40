/* Composite hives: the copies of one hive in a stack of layers, merged
 * lowest first (the OS layer's full hive, then each layer's fragment),
 * as the union serves them and regfs shows them. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
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
	char stale[sizeof base->base_only] = "";
	for (int i = 0; i < n; i++) {
		char what[512];
		snprintf(what, sizeof what, "layer '%s': %s", copies[i].layer, name);
		struct lf_hive *h = NULL;
		struct lf_hive_logs logs = { { copies[i].log[0], copies[i].log[1] },
					     { copies[i].loglen[0], copies[i].loglen[1] } };
		int rc = lf_hive_load_image_logs(what, copies[i].data, copies[i].len, &logs, &h, err);
		/* its base image, as Windows' offline readers take it: what the
		 * unfinished write held is not known, so the caller shows it
		 * read-only and says so (never a made-up whole) */
		if (!rc && h->dirty && !h->log_entries && !stale[0])
			snprintf(stale, sizeof stale, "%.200s: a dirty hive without usable logs beside "
				 "it (.LOG1/.LOG2): read as its base image; let Windows or "
				 "'layerctl reg compact' finish it", what);
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
	memcpy(base->base_only, stale, sizeof stale);
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
	/* a merged file is a whole hive: one made over a copy whose last
	 * write is lost would pass for the real one */
	if (h->base_only[0]) {
		rc = lf_err_set(err, EINVAL, "%s", h->base_only);
		lf_hive_free(h);
		return rc;
	}
	uint8_t *img;
	rc = lf_hive_image(h, &img, len, err);
	lf_hive_free(h);
	if (!rc)
		*out = img;
	return rc;
}

/* One hive of the union, if a layer has it. */
static int add_one(struct lf_regview *v, struct lf_union *u, const struct lf_merge *m,
		   const char *path, const char *mount, const char *upper,
		   struct lf_hive_cache *cache, struct lf_err *err)
{
	struct lf_hive *h;
	int rc = lf_hive_cache_compose(cache, u, m, path, &h, err);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	char frag[4096];
	if (upper && snprintf(frag, sizeof frag, "%s/%s", upper, path) >= (int)sizeof frag) {
		lf_hive_free(h);
		return lf_err_set(err, ENAMETOOLONG, "%s: path too long", upper);
	}
	rc = lf_regview_add(v, mount, h, upper ? frag : NULL, err);
	return rc ? rc : 1;
}

struct users {
	char names[256][256];
	int n;
};

static void add_user(struct users *us, const char *name, uint32_t type)
{
	if ((!type || S_ISDIR(type)) && us->n < 256 && strlen(name) < 256)
		snprintf(us->names[us->n++], 256, "%s", name);
}

/* Place p's file path and mount, the '*' in them standing for USER (or
 * none: a place with no '*'). */
static void place_of(const struct lf_hive_place *p, const char *user, char *path, size_t psize,
		     char *mount, size_t msize)
{
	const char *star = user ? strchr(p->path, '*') : NULL;
	const char *ms = user ? strchr(p->mount, '*') : NULL;
	if (star && ms) {
		snprintf(path, psize, "%.*s%.255s%.200s", (int)(star - p->path), p->path, user,
			 star + 1);
		snprintf(mount, msize, "%.*s%.255s%.200s", (int)(ms - p->mount), p->mount, user,
			 ms + 1);
	} else {
		snprintf(path, psize, "%s", p->path);
		snprintf(mount, msize, "%s", p->mount);
	}
}

/* Each hive place, a '*' in it standing for each user folder's name;
 * fn returning non-zero stops (and is returned). */
static int each_place(const struct users *us, lf_hive_place_fn fn, void *ctx)
{
	for (int i = 0; i < lf_nhive_places; i++) {
		const struct lf_hive_place *p = &lf_hive_places[i];
		const char *star = strchr(p->path, '*');
		for (int k = 0; k < (star ? us->n : 1); k++) {
			char path[1024], mount[600];
			place_of(p, star ? us->names[k] : NULL, path, sizeof path, mount, sizeof mount);
			int rc = fn(ctx, path, mount);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int collect_dir(void *ctx, const char *name, lf_ino ino, uint32_t type)
{
	(void)ino;
	add_user(ctx, name, type);
	return 0;
}

int lf_hive_places_in(struct lf_layer *l, lf_hive_place_fn fn, void *ctx)
{
	struct users *us = calloc(1, sizeof *us);
	if (!us)
		return -ENOMEM;
	struct lf_attr a;
	if (lf_layer_resolve(l, "Users", &a) == 0 && S_ISDIR(a.mode))
		l->ops->readdir(l, a.ino, collect_dir, us);
	int rc = each_place(us, fn, ctx);
	free(us);
	return rc;
}

static int collect_user(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	(void)next;
	add_user(ctx, name, a->mode & S_IFMT);
	return 0;
}

struct adding {
	struct lf_regview *v;
	struct lf_union *u;
	const struct lf_merge *m;
	const char *upper;
	struct lf_hive_cache *cache;
	struct lf_err *err;
	int added;
};

static int add_place(void *ctx, const char *path, const char *mount)
{
	struct adding *a = ctx;
	int rc = add_one(a->v, a->u, a->m, path, mount, a->upper, a->cache, a->err);
	if (rc < 0)
		return rc;
	a->added += rc;
	return 0;
}

int lf_regview_add_union(struct lf_regview *v, struct lf_union *u, const struct lf_merge *m,
			 const char *upper, struct lf_hive_cache *cache, struct lf_err *err)
{
	struct users *us = calloc(1, sizeof *us);
	struct lf_attr a;
	if (!us)
		return lf_err_set(err, ENOMEM, "out of memory"), -1;
	if (lf_union_lookup(u, LF_UNION_ROOT, "Users", &a) == 0) {
		lf_union_readdir(u, a.ino, 0, 0, collect_user, us);
		lf_union_forget(u, a.ino, 1);
	}
	struct adding ad = { v, u, m, upper, cache, err, 0 };
	int rc = each_place(us, add_place, &ad);
	free(us);
	return rc ? -1 : ad.added;
}

int lf_regview_add_user(struct lf_regview *v, const char *user, const char *upper,
			struct lf_err *err)
{
	int added = 0;
	if (strlen(user) >= 256)
		return 0;
	for (int i = 0; i < lf_nhive_places; i++) {
		const struct lf_hive_place *p = &lf_hive_places[i];
		if (!strchr(p->path, '*'))
			continue;    /* not a user's */
		char path[1024], frag[4096], mount[600];
		place_of(p, user, path, sizeof path, mount, sizeof mount);
		snprintf(frag, sizeof frag, "%s/%s", upper, path);
		int rc = lf_regview_add_own(v, mount, frag, err);
		if (rc < 0)
			return -1;
		added += rc;
	}
	return added;
}

int lf_hive_load_layer(struct lf_layer *l, const char *path, struct lf_hive **out,
		       struct lf_err *err)
{
	struct lf_attr a;
	if (lf_layer_resolve(l, path, &a) || !S_ISREG(a.mode))
		return -ENOENT;
	uint8_t *img;
	int rc = lf_layer_read_all(l, a.ino, a.size, &img);
	if (rc)
		return lf_err_set(err, -rc, "%s: cannot read it: %s", path, strerror(-rc));
	/* its logs beside it, as a session reads it */
	struct lf_hive_logs logs = { { NULL, NULL }, { 0, 0 } };
	uint8_t *lb[2] = { NULL, NULL };
	for (int i = 0; i < 2; i++) {
		char lp[4200], low[4200];
		snprintf(lp, sizeof lp, "%s.LOG%d", path, i + 1);
		const char *slash = strrchr(lp, '/');
		size_t from = slash ? (size_t)(slash - lp) + 1 : 0, n = strlen(lp);
		memcpy(low, lp, n + 1);
		for (size_t k = from; k < n - 4; k++)
			low[k] = (char)tolower((unsigned char)low[k]);
		struct lf_attr la;
		if ((lf_layer_resolve(l, lp, &la) == 0 || lf_layer_resolve(l, low, &la) == 0) &&
		    S_ISREG(la.mode) && la.size <= (64u << 20) &&
		    lf_layer_read_all(l, la.ino, la.size, &lb[i]) == 0) {
			logs.data[i] = lb[i];
			logs.len[i] = la.size;
		}
	}
	rc = lf_hive_load_image_logs(path, img, a.size, &logs, out, err);
	free(img);
	free(lb[0]);
	free(lb[1]);
	return rc;
}

/* The file at path as union u serves it, read whole (at most max bytes):
 * 0, -ENOENT (err not set) or an error said in err. */
static int union_read_all(struct lf_union *u, const char *path, size_t max, uint8_t **out,
			  size_t *len, struct lf_err *err)
{
	struct lf_attr a;
	struct lf_walk w;
	int rc = lf_union_walk(u, path, &a, &w);
	if (rc)
		return rc == -ENOENT ? -ENOENT : lf_err_set(err, -rc, "%s: %s", path, strerror(-rc));
	struct lf_ufile *f = NULL;
	uint8_t *buf = NULL;
	uint64_t got = 0;
	/* a hive merged from several layers has its size once opened (the
	 * merge is made then): before, the attributes are the top copy's */
	rc = S_ISREG(a.mode) ? lf_union_open_file(u, a.ino, O_RDONLY, &f) : -ENOENT;
	if (!rc)
		rc = lf_union_getattr(u, a.ino, &a);
	if (!rc && !(buf = a.size <= max ? malloc(a.size ? a.size : 1) : NULL))
		rc = lf_err_set(err, a.size > max ? EFBIG : ENOMEM, "%s: %s", path,
				a.size > max ? "too big for a hive" : "out of memory");
	else if (rc && rc != -ENOENT)
		rc = lf_err_set(err, -rc, "%s: %s", path, strerror(-rc));
	if (!rc) {
		ssize_t n = 1;
		while (got < a.size && (n = lf_union_pread(u, f, buf + got, a.size - got, got)) > 0)
			got += (uint64_t)n;
		if (got != a.size)
			rc = lf_err_set(err, EIO, "%s: cannot read it whole", path);
	}
	if (f)
		lf_union_release(u, f);
	lf_union_walk_end(u, &w);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = a.size;
	return 0;
}

int lf_hive_load_union(struct lf_union *u, const char *path, size_t max, struct lf_hive **out,
		       struct lf_err *err)
{
	uint8_t *img;
	size_t len;
	int rc = union_read_all(u, path, max, &img, &len, err);
	if (rc)
		return rc;
	/* its logs beside it, as a session's registry reads it: a hive one
	 * layer alone holds is served as that file, dirty or not, while one
	 * merged from several had its logs replayed in the merge (and is
	 * clean); a capture or a diff comparing the two must read both ways
	 * alike, or the OS's own logged changes look like the app's */
	struct lf_hive_logs logs = { { NULL, NULL }, { 0, 0 } };
	uint8_t *lb[2] = { NULL, NULL };
	if (len >= 12 && memcmp(img + 4, img + 8, 4))
		for (int i = 0; i < 2; i++) {
			char lp[4200];
			struct lf_err ignored = {0};
			snprintf(lp, sizeof lp, "%s.LOG%d", path, i + 1);
			if (union_read_all(u, lp, 64u << 20, &lb[i], &logs.len[i], &ignored) == 0)
				logs.data[i] = lb[i];
		}
	rc = lf_hive_load_image_logs(path, img, len, &logs, out, err);
	free(img);
	free(lb[0]);
	free(lb[1]);
	return rc;
}

const char *lf_hive_place_of(const char *path, char *buf, size_t size)
{
	for (int i = 0; i < lf_nhive_places; i++) {
		const char *m = lf_hive_places[i].mount, *star = strchr(m, '*');
		if (fnmatch(lf_hive_places[i].path, path, FNM_CASEFOLD | FNM_PATHNAME))
			continue;
		if (!star) {
			snprintf(buf, size, "%s", m);
		} else {          /* the name the path's '*' (its second part) matched */
			const char *who = strchr(path, '/') ? strchr(path, '/') + 1 : path;
			const char *end = strchr(who, '/') ? strchr(who, '/') : who + strlen(who);
			snprintf(buf, size, "%.*s%.*s%s", (int)(star - m), m, (int)(end - who), who,
				 star + 1);
		}
		return buf;
	}
	return NULL;
}
