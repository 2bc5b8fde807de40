/* A census memo: what censuses learnt of one read-only layer, kept for the
 * next. A folder only that layer gives (no other layer of the stack has
 * it) shows its whole subtree from that layer, whatever the stack: its
 * counts (files, bytes, and the layer's own names that do not show) are
 * the layer's alone, so they are remembered by the folder's number in the
 * layer (an NTFS layer's MFT number: the same at every open of the file).
 * The next census of any stack with that layer takes them from here
 * instead of reading the subtree again.
 *
 * On disk: "LFCENSUS", version (le32), count (le32), the key (64 bytes:
 * the layer file's SHA-256 in hex, NUL-padded), then count entries of
 * five le64 (ino, files, bytes, shadowed, deleted). Read strictly: a
 * file that does not add up is refused with one line.
 *
 * m->lock (a leaf) guards the table; a census takes it per lookup. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/bytes.h"
#include "layerfs/safe_path.h"
#include "layerfs/union.h"

#define MAGIC "LFCENSUS"
#define VERSION 1
#define HEAD 80                 /* magic 8, version 4, count 4, key 64 */
#define ENTRY 40
#define MAX_ENTRIES (16u << 20)

struct memo_slot {
	uint64_t ino;                /* the folder's number + 1; 0: a free slot */
	struct lf_census_counts c;
};

struct lf_census_memo {
	pthread_mutex_t lock;
	struct memo_slot *v;         /* open addressing, a power of two */
	size_t cap, n;
	size_t saved;                /* n when last loaded or saved */
};

struct lf_census_memo *lf_census_memo_new(void)
{
	struct lf_census_memo *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void lf_census_memo_free(struct lf_census_memo *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->v);
	free(m);
}

static size_t slot_of(const struct lf_census_memo *m, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(h >> 17) & (m->cap - 1);
	while (m->v[i].ino && m->v[i].ino != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct lf_census_memo *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct memo_slot *old = m->v, *v = calloc(cap, sizeof *v);
	if (!v)
		return -ENOMEM;
	size_t was = m->cap;
	m->v = v;
	m->cap = cap;
	for (size_t i = 0; i < was; i++)
		if (old[i].ino)
			m->v[slot_of(m, old[i].ino)] = old[i];
	free(old);
	return 0;
}

/* Under m->lock. */
static int put(struct lf_census_memo *m, uint64_t ino, const struct lf_census_counts *c)
{
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	size_t i = slot_of(m, ino + 1);
	if (!m->v[i].ino)
		m->n++;
	m->v[i] = (struct memo_slot){ ino + 1, *c };
	return 0;
}

int lf_census_memo_get(struct lf_census_memo *m, uint64_t ino, struct lf_census_counts *out)
{
	pthread_mutex_lock(&m->lock);
	int found = 0;
	if (m->cap) {
		size_t i = slot_of(m, ino + 1);
		if (m->v[i].ino) {
			*out = m->v[i].c;
			found = 1;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return found;
}

void lf_census_memo_put(struct lf_census_memo *m, uint64_t ino, const struct lf_census_counts *c)
{
	pthread_mutex_lock(&m->lock);
	put(m, ino, c);         /* out of memory: not remembered, counted again next time */
	pthread_mutex_unlock(&m->lock);
}

int lf_census_memo_dirty(struct lf_census_memo *m)
{
	pthread_mutex_lock(&m->lock);
	int dirty = m->n != m->saved;
	pthread_mutex_unlock(&m->lock);
	return dirty;
}

int lf_census_memo_decode(struct lf_census_memo *m, const uint8_t *data, size_t len,
			  const char *key, const char **why)
{
	*why = NULL;
	uint32_t count = len >= HEAD ? le32(data + 12) : 0;
	char k[65];
	if (len < HEAD || memcmp(data, MAGIC, 8))
		*why = "not a census memo";
	else if (le32(data + 8) != VERSION)
		*why = "a version this layerd does not read";
	else if (count > MAX_ENTRIES || len != HEAD + (size_t)count * ENTRY)
		*why = "its length is not its count's";
	else if (memcpy(k, data + 16, 64), k[64] = 0, strcmp(k, key))
		*why = "made for another layer file";
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; !*why && i < count; i++) {
		const uint8_t *p = data + HEAD + (size_t)i * ENTRY;
		struct lf_census_counts c = { le64(p + 8), le64(p + 16), le64(p + 24), le64(p + 32) };
		if (le64(p) == UINT64_MAX)
			*why = "a folder numbered -1";
		else if (put(m, le64(p), &c))
			*why = "out of memory";
	}
	if (!*why)
		m->saved = m->n;
	pthread_mutex_unlock(&m->lock);
	return *why ? -1 : 0;
}

int lf_census_memo_encode(struct lf_census_memo *m, const char *key, uint8_t **out, size_t *len,
			  size_t *count)
{
	pthread_mutex_lock(&m->lock);
	size_t n = m->n;
	*len = HEAD + n * ENTRY;
	uint8_t *data = calloc(1, *len);
	if (data) {
		memcpy(data, MAGIC, 8);
		put_le32(data + 8, VERSION);
		put_le32(data + 12, (uint32_t)n);
		memcpy(data + 16, key, strnlen(key, 64));
		uint8_t *p = data + HEAD;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->v[i].ino)
				continue;
			const struct lf_census_counts *c = &m->v[i].c;
			put_le64(p, m->v[i].ino - 1);
			put_le64(p + 8, c->files);
			put_le64(p + 16, c->bytes);
			put_le64(p + 24, c->shadowed);
			put_le64(p + 32, c->deleted);
			p += ENTRY;
		}
	}
	pthread_mutex_unlock(&m->lock);
	*out = data;
	*count = n;
	return data ? 0 : -ENOMEM;
}

int lf_census_memo_load(struct lf_census_memo *m, int dirfd, const char *name, const char *key,
			struct lf_err *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = lf_safe_read_all(dirfd, name, HEAD + (size_t)MAX_ENTRIES * ENTRY, &data, &len);
	if (rc)
		return lf_err_set(err, -rc, "%s: %s", name, strerror(-rc));
	const char *why;
	rc = lf_census_memo_decode(m, data, len, key, &why);
	free(data);
	return rc ? lf_err_set(err, EINVAL, "%s: %s", name, why) : 0;
}

int lf_census_memo_save(struct lf_census_memo *m, int dirfd, const char *name, const char *key,
			struct lf_err *err)
{
	uint8_t *data;
	size_t len, n;
	if (lf_census_memo_encode(m, key, &data, &len, &n))
		return lf_err_set(err, ENOMEM, "out of memory");
	int rc = lf_safe_replace(dirfd, name, data, len, 0600);
	free(data);
	if (rc)
		return lf_err_set(err, -rc, "%s: %s", name, strerror(-rc));
	pthread_mutex_lock(&m->lock);
	if (m->saved < n)
		m->saved = n;
	pthread_mutex_unlock(&m->lock);
	return 0;
}
