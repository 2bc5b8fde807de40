/* Merged hives shared between the views of one stack. A hive is known by
 * its path and by which copy of which layer file each layer gave: layer
 * files are read-only, so the same copies merge to the same hive. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/regcompose.h"
#include "layerfs/lockcheck.h"

struct cached {
	char *key;
	struct lf_hive *hive;    /* frozen; the cache's reference */
	struct cached *next;
};

struct lf_hive_cache {
	pthread_mutex_t lock;
	struct cached *list;
};

struct lf_hive_cache *lf_hive_cache_new(void)
{
	struct lf_hive_cache *c = calloc(1, sizeof *c);
	if (c)
		pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void cached_unref(struct cached *e)
{
	lf_hive_free(e->hive);
	free(e->key);
	free(e);
}

void lf_hive_cache_free(struct lf_hive_cache *c)
{
	if (!c)
		return;
	for (struct cached *e = c->list, *nx; e; e = nx) {
		nx = e->next;
		cached_unref(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Caller holds the lock. A hive with no holder but the cache can have
 * none later (references are taken under the lock). */
static int trim(struct lf_hive_cache *c)
{
	int n = 0;
	for (struct cached **pp = &c->list; *pp;) {
		struct cached *e = *pp;
		if (__atomic_load_n(&e->hive->extra_refs, __ATOMIC_ACQUIRE) == 0) {
			*pp = e->next;
			cached_unref(e);
			n++;
		} else {
			pp = &e->next;
		}
	}
	return n;
}

int lf_hive_cache_trim(struct lf_hive_cache *c)
{
	if (!c)
		return 0;
	lf_mutex_lock(&c->lock, LF_LK_HIVE_CACHE);
	int n = trim(c);
	lf_mutex_unlock(&c->lock);
	return n;
}

/* The entry of that key, or NULL. Caller holds the lock. */
static struct cached *cached_find(struct lf_hive_cache *c, const char *key)
{
	struct cached *e = c->list;
	while (e && strcmp(e->key, key))
		e = e->next;
	return e;
}

/* "PATH\nFILE INO SIZE MTIME\n..." of the copies, malloc'd. */
static char *key_of(const char *path, const struct lf_copy *cp, int n)
{
	size_t size = strlen(path) + 2;
	for (int i = 0; i < n; i++)
		size += strlen(cp[i].file) + 96;
	char *k = malloc(size), *p = k;
	if (!k)
		return NULL;
	p += sprintf(p, "%s\n", path);
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%s %llu %zu %lld.%09ld\n", cp[i].file, (unsigned long long)cp[i].ino,
			     cp[i].len, (long long)cp[i].mtime.tv_sec, cp[i].mtime.tv_nsec);
	return k;
}

static int compose(struct lf_union *u, const struct lf_merge *m, const char *path,
		   struct lf_hive **out, struct lf_err *err)
{
	struct lf_copy *copies;
	int n;
	int rc = lf_union_copies(u, path, &copies, &n);
	if (rc == -ENOENT)
		return rc;
	if (rc)
		return lf_err_set(err, -rc, "%s: cannot read it from the layers: %s", path,
				  strerror(-rc));
	rc = lf_reg_compose(copies, n, m, path, out, err);
	lf_union_copies_free(copies, n);
	if (!rc && lf_hive_freeze(*out)) {
		lf_hive_free(*out);
		rc = lf_err_set(err, ENOMEM, "%s: out of memory", path);
	}
	return rc;
}

int lf_hive_cache_compose(struct lf_hive_cache *c, struct lf_union *u, const struct lf_merge *m,
			  const char *path, struct lf_hive **out, struct lf_err *err)
{
	if (!c)
		return compose(u, m, path, out, err);
	struct lf_copy *stamps;
	int n;
	int rc = lf_union_copy_stamps(u, path, &stamps, &n);
	if (rc == -ENOENT)
		return rc;
	if (rc)
		return lf_err_set(err, -rc, "%s: cannot look it up in the layers: %s", path,
				  strerror(-rc));
	char *key = key_of(path, stamps, n);
	lf_union_copies_free(stamps, n);
	if (!key)
		return lf_err_set(err, ENOMEM, "out of memory");
	lf_mutex_lock(&c->lock, LF_LK_HIVE_CACHE);
	struct cached *e = cached_find(c, key);
	struct lf_hive *h = e ? lf_hive_ref(e->hive) : NULL;
	lf_mutex_unlock(&c->lock);
	if (h) {
		free(key);
		*out = h;
		return 0;
	}
	/* merged outside the lock: other stacks' logins go on meanwhile */
	rc = compose(u, m, path, &h, err);
	struct cached *ne = rc ? NULL : malloc(sizeof *ne);
	if (!rc && !ne) {
		lf_hive_free(h);
		rc = lf_err_set(err, ENOMEM, "out of memory");
	}
	if (rc) {
		free(key);
		return rc;
	}
	lf_mutex_lock(&c->lock, LF_LK_HIVE_CACHE);
	e = cached_find(c, key);
	if (e) {                 /* another login of the same stack was first */
		lf_hive_free(h);
		free(ne);
		free(key);
		h = lf_hive_ref(e->hive);
	} else {
		trim(c);
		*ne = (struct cached){ key, h, c->list };
		c->list = ne;
		h = lf_hive_ref(h);
	}
	lf_mutex_unlock(&c->lock);
	*out = h;
	return 0;
}
