/* The stack picture's memory: a census memo (lf_census_memo) for each
 * layer file the console has counted, by its SHA-256, kept in memory and
 * in CACHE/census/SHA256.memo (CACHE: layerd's --cache, default
 * /var/cache/layerfs), so a subtree only one layer gives is read once per
 * layer file, not once per picture nor per start of layerd. A memo file
 * that does not read is logged in one line and made again.
 *
 * s->lock (a leaf) guards the list; a memo file is read under it, so two
 * pictures never read the same one twice. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "console.h"
#include "layerd_int.h"
#include "layerfs/oci.h"
#include "layerfs/safe_path.h"
#include "layerfs/union.h"

struct memo_entry {
	char key[65];
	struct lf_census_memo *m;
	struct memo_entry *next;
};

struct memo_store {
	struct daemon *d;
	int dirfd;                   /* CACHE/census, or -1: memory only */
	pthread_mutex_t lock;
	struct memo_entry *list;
};

struct memo_store *memo_store_new(struct daemon *d)
{
	struct memo_store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->d = d;
	pthread_mutex_init(&s->lock, NULL);
	const char *cache = lf_oci_cache_dir();
	/* the host's cache folder, root's (an admin's path, not a user's) */
	if (mkdir(cache, 0700) < 0 && errno != EEXIST)
		d->log("console: %s: %s", cache, strerror(errno));
	int fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->dirfd = fd < 0 ? -errno : lf_safe_mkdirs(fd, "census", 0700, 0, 0);
	if (s->dirfd < 0)
		d->log("console: %s/census: %s; the stack picture's counts are kept in memory only",
		       cache, strerror(-s->dirfd));
	if (fd >= 0)
		close(fd);
	return s;
}

void memo_store_free(struct memo_store *s)
{
	if (!s)
		return;
	for (struct memo_entry *e = s->list, *next; e; e = next) {
		next = e->next;
		lf_census_memo_free(e->m);
		free(e);
	}
	if (s->dirfd >= 0)
		close(s->dirfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int hex_key(const char *k)
{
	return k && strlen(k) == 64 && strspn(k, "0123456789abcdef") == 64;
}

/* A memo read from KEY's file, or a new one when there is none or it
 * does not read. */
static struct lf_census_memo *memo_read(struct memo_store *s, const char *key)
{
	struct lf_census_memo *m = lf_census_memo_new();
	char name[80];
	snprintf(name, sizeof name, "%s.memo", key);
	struct lf_err err = {0};
	if (m && s->dirfd >= 0 && lf_census_memo_load(m, s->dirfd, name, key, &err) &&
	    err.code != ENOENT) {
		s->d->log("console: census memo %s/census/%s; made again", lf_oci_cache_dir(),
			  err.msg);
		lf_census_memo_free(m);
		m = lf_census_memo_new();
	}
	return m;
}

/* The memo of layer KEY: in memory, or read, or new. */
static struct lf_census_memo *memo_of(struct memo_store *s, const char *key)
{
	pthread_mutex_lock(&s->lock);
	struct memo_entry *e = s->list;
	while (e && strcmp(e->key, key))
		e = e->next;
	if (!e && (e = calloc(1, sizeof *e))) {
		snprintf(e->key, sizeof e->key, "%s", key);
		if ((e->m = memo_read(s, key))) {
			e->next = s->list;
			s->list = e;
		} else {
			free(e);
			e = NULL;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return e ? e->m : NULL;
}

void memo_store_pick(struct memo_store *s, struct lf_union *u, int n, json_t *layers,
		     struct lf_census_memo **out)
{
	for (int i = 0; i < n; i++) {
		const struct lf_layer_spec *spec = lf_union_spec(u, i);
		out[i] = NULL;
		size_t k;
		json_t *l;
		json_array_foreach(layers, k, l) {
			const char *file = json_string_value(json_object_get(l, "file")),
				   *sha = json_string_value(json_object_get(l, "sha256"));
			if (s && spec && file && !strcmp(file, spec->path) && hex_key(sha))
				out[i] = memo_of(s, sha);
		}
	}
}

void memo_store_save(struct memo_store *s, struct lf_census_memo *const *v, int n)
{
	if (!s || s->dirfd < 0)
		return;
	for (int i = 0; i < n; i++) {
		if (!v[i] || !lf_census_memo_dirty(v[i]))
			continue;
		char key[65] = "";
		pthread_mutex_lock(&s->lock);
		for (struct memo_entry *e = s->list; e; e = e->next)
			if (e->m == v[i])
				memcpy(key, e->key, sizeof key);
		pthread_mutex_unlock(&s->lock);
		char name[80];
		snprintf(name, sizeof name, "%s.memo", key);
		struct lf_err err = {0};
		if (key[0] && lf_census_memo_save(v[i], s->dirfd, name, key, &err))
			s->d->log("console: census memo %s/census/%s", lf_oci_cache_dir(), err.msg);
	}
}
