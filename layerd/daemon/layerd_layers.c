/* Layers shared between sessions: the first union that wants a layer file
 * opens it, later ones take a reference, the last one out closes it. A
 * layer's calls are thread-safe, so every session reads the same one.
 * A file that did not open is remembered by what it is (device, inode,
 * size, time) with its error: it is not probed again at every login until
 * it changes (probing a broken volume costs, and libntfs-3g leaks on some
 * failures). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerd_int.h"
#include "layerfs/lockcheck.h"
#include "layerfs/oci.h"

struct shared {
	char *path;              /* resolved */
	struct lf_layer *layer;
	int refs;
	struct shared *next;
};

struct failed {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct lf_err err;
	struct failed *next;
};

struct layer_cache {
	pthread_mutex_t lock;
	struct shared *list;
	struct failed *failed;
};

static struct failed *failed_find(struct layer_cache *c, const struct stat *st)
{
	struct failed *f = c->failed;
	while (f && (f->dev != st->st_dev || f->ino != st->st_ino || f->size != st->st_size ||
		     f->mtime.tv_sec != st->st_mtim.tv_sec || f->mtime.tv_nsec != st->st_mtim.tv_nsec))
		f = f->next;
	return f;
}

struct layer_cache *layer_cache_new(void)
{
	struct layer_cache *c = calloc(1, sizeof *c);
	if (c)
		pthread_mutex_init(&c->lock, NULL);
	return c;
}

void layer_cache_free(struct layer_cache *c)
{
	if (!c)
		return;
	for (struct shared *s = c->list, *nx; s; s = nx) {
		nx = s->next;
		lf_layer_close(s->layer);
		free(s->path);
		free(s);
	}
	for (struct failed *f = c->failed, *nx; f; f = nx) {
		nx = f->next;
		free(f);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int layer_cache_open(void *ctx, const char *path, const struct lf_layer_opts *o,
		     struct lf_layer **out, struct lf_err *err)
{
	struct layer_cache *c = ctx;
	/* a registry's layer: its reference by digest names it */
	char *real = lf_oci_is_uri(path) ? strdup(path) : realpath(path, NULL);
	if (!real && errno == ENOENT) {
		/* the file is gone (a share's hiccup, a retired revision):
		 * a layer open already stays in use until its last holder
		 * lets it go, as the products keep attached layers */
		lf_mutex_lock(&c->lock, LF_LK_LAYER_CACHE);
		struct shared *s = c->list;
		while (s && strcmp(s->path, path))
			s = s->next;
		if (s) {
			s->refs++;
			*out = s->layer;
		}
		lf_mutex_unlock(&c->lock);
		if (s)
			return 0;
		errno = ENOENT;
	}
	if (!real)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	/* opened under the lock: two logins wanting one layer open it once */
	lf_mutex_lock(&c->lock, LF_LK_LAYER_CACHE);
	struct shared *s = c->list;
	while (s && strcmp(s->path, real))
		s = s->next;
	int rc = 0;
	if (s) {
		s->refs++;
		free(real);
	} else {
		struct lf_layer *l;
		struct stat st;
		int known = !lf_oci_is_uri(real) && stat(real, &st) == 0;
		struct failed *f = known ? failed_find(c, &st) : NULL;
		if (f && err)
			*err = f->err;
		rc = f ? -f->err.code : lf_layer_open(real, o, &l, err);
		if (rc && known && !f && err && (f = malloc(sizeof *f))) {
			*f = (struct failed){ st.st_dev, st.st_ino, st.st_size, st.st_mtim, *err,
					      c->failed };
			c->failed = f;
		}
		s = rc ? NULL : calloc(1, sizeof *s);
		if (!rc && !s) {
			lf_layer_close(l);
			rc = lf_err_set(err, ENOMEM, "out of memory");
		}
		if (s) {
			*s = (struct shared){ real, l, 1, c->list };
			c->list = s;
		} else {
			free(real);
		}
	}
	if (s)
		*out = s->layer;
	lf_mutex_unlock(&c->lock);
	return rc;
}

void layer_cache_close(void *ctx, struct lf_layer *l)
{
	struct layer_cache *c = ctx;
	if (!l)
		return;
	lf_mutex_lock(&c->lock, LF_LK_LAYER_CACHE);
	for (struct shared **p = &c->list; *p; p = &(*p)->next) {
		struct shared *s = *p;
		if (s->layer != l)
			continue;
		if (--s->refs == 0) {
			*p = s->next;
			lf_layer_close(s->layer);
			free(s->path);
			free(s);
		}
		break;
	}
	lf_mutex_unlock(&c->lock);
}

void layer_cache_count(struct layer_cache *c, int *layers, int *refs)
{
	*layers = *refs = 0;
	lf_mutex_lock(&c->lock, LF_LK_LAYER_CACHE);
	for (struct shared *s = c->list; s; s = s->next) {
		++*layers;
		*refs += s->refs;
	}
	lf_mutex_unlock(&c->lock);
}
