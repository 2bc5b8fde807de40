/* layerctl fsck --registry: a repository kept in an OCI registry checked
 * as the registry serves it. Every manifest and config is fetched from the
 * registry (never the host's cache) and its digest checked; every chunk of
 * every revision is fetched and hashed (or, quick, asked for); a
 * differencing revision's parent must be there; the control artifact's
 * revisions must be there. A chunk two revisions share is checked once. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layerfs/grow.h"
#include "layerfs/oci.h"
#include "fsck_int.h"

#define DEFAULT_JOBS 4

/* A revision seen: its manifest digest and what to call it. */
struct seen {
	char digest[LF_OCI_DIGEST_MAX];
	char label[600];
};

/* A chunk to check, once however many revisions hold it. */
struct chunk {
	char digest[LF_OCI_DIGEST_MAX];
	uint64_t size;
	size_t first;            /* the revision (in seen) named when it is bad */
	size_t index;            /* its place in that revision's file */
	size_t seq;              /* the order it was listed in */
	int rc;                  /* 0, -ENOENT, -EBADMSG, or another -errno */
	char msg[300];
};

struct rcheck {
	struct fsck *c;
	struct lf_registry *reg;
	const char *host, *name;
	int quick;
	struct seen *seen;
	size_t nseen, capseen;
	struct chunk *chunks;
	size_t nchunks, capchunks;
	_Atomic size_t next, done;
};

static const struct seen *seen_find(const struct rcheck *k, const char *digest)
{
	for (size_t i = 0; i < k->nseen; i++)
		if (!strcmp(k->seen[i].digest, digest))
			return &k->seen[i];
	return NULL;
}

static struct seen *seen_add(struct rcheck *k, const char *digest)
{
	if (lf_grow(&k->seen, &k->capseen, k->nseen, sizeof *k->seen, 32))
		return NULL;
	struct seen n = {0};
	snprintf(n.digest, sizeof n.digest, "%s", digest);
	k->seen[k->nseen] = n;
	return &k->seen[k->nseen++];
}

/* Every revision's chunks, as listed; chunks_once then keeps each digest
 * once, where it was first listed. */
static int chunk_add(struct rcheck *k, const char *digest, uint64_t size, size_t rev, size_t index)
{
	if (lf_grow(&k->chunks, &k->capchunks, k->nchunks, sizeof *k->chunks, 1024))
		return -ENOMEM;
	struct chunk *ch = &k->chunks[k->nchunks];
	*ch = (struct chunk){ .size = size, .first = rev, .index = index, .seq = k->nchunks };
	snprintf(ch->digest, sizeof ch->digest, "%s", digest);
	k->nchunks++;
	return 0;
}

static int by_seq(const void *a, const void *b)
{
	const struct chunk *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_digest_then_seq(const void *a, const void *b)
{
	int c = strcmp(((const struct chunk *)a)->digest, ((const struct chunk *)b)->digest);
	return c ? c : by_seq(a, b);
}

/* A chunk revisions share is fetched once: sorted by digest (a
 * repository's revisions hold tens of thousands), the first listing kept,
 * then back in the order listed (problems are said in it). */
static void chunks_once(struct rcheck *k)
{
	qsort(k->chunks, k->nchunks, sizeof *k->chunks, by_digest_then_seq);
	size_t n = 0;
	for (size_t i = 0; i < k->nchunks; i++)
		if (!n || strcmp(k->chunks[n - 1].digest, k->chunks[i].digest))
			k->chunks[n++] = k->chunks[i];
	k->nchunks = n;
	qsort(k->chunks, n, sizeof *k->chunks, by_seq);
}

/* How a revision came to be checked: the error for one not there. */
enum via { BY_TAG, BY_PARENT, BY_CONTROL, BY_OLD_CONTROL };

/* One revision by tag or manifest digest: its manifest and config from
 * the registry, its chunks listed, its parent followed. LABEL names what
 * led here in a problem. */
static void check_revision(struct rcheck *k, const char *reference, enum via via,
			   const char *label)
{
	if (!strncmp(reference, "sha256:", 7) && seen_find(k, reference))
		return;
	struct lf_oci_layer l;
	struct lf_err e = {0};
	int rc = lf_oci_layer_fetch(k->reg, k->host, k->name, reference, &l, &e);
	if (rc == -ENOENT && via == BY_PARENT) {
		fsck_report(k->c, LF_FSCK_PARENT, FSCK_ERROR, 0, 0, label,
			    "its parent revision %s is not in the registry", reference);
		return;
	}
	if (rc == -ENOENT && (via == BY_CONTROL || via == BY_OLD_CONTROL)) {
		/* hosts follow "control"; an old version is history */
		fsck_report(k->c, LF_FSCK_ASSIGN_UNKNOWN, via == BY_CONTROL ? FSCK_ERROR : FSCK_WARNING,
			    0, 0, label, "names revision %s, which is not in the registry%s", reference,
			    via == BY_CONTROL ? " (removed? push the control files again)"
			    : " (an old version: delete it if it is not wanted)");
		return;
	}
	if (rc) {
		fsck_report(k->c, rc == -ENOENT ? LF_FSCK_MISSING : rc == -EBADMSG ? LF_FSCK_SHA256
				  : LF_FSCK_CONTROL, FSCK_ERROR, 0, 0, label, "%s", e.msg);
		return;
	}
	struct seen *s = seen_find(k, l.manifest_digest) ? NULL : seen_add(k, l.manifest_digest);
	if (!s) {
		lf_oci_layer_free(&l);
		return;
	}
	snprintf(s->label, sizeof s->label, "%s/%s %s %u.%u", k->host, k->name, l.name, l.id,
		 l.revision);
	size_t rev = (size_t)(s - k->seen);
	for (size_t i = 0; i < l.nchunks; i++) {
		if (chunk_add(k, l.chunks[i], lf_oci_chunk_len(l.file_size, l.chunk_size, i), rev, i))
			break;
	}
	char mine[600], parent[LF_OCI_DIGEST_MAX];
	snprintf(mine, sizeof mine, "%s", s->label);   /* seen may move */
	snprintf(parent, sizeof parent, "%s", l.parent);
	lf_oci_layer_free(&l);
	if (parent[0])
		check_revision(k, parent, BY_PARENT, mine);
}

static void *check_chunks(void *arg)
{
	struct rcheck *k = arg;
	void *buf = NULL;
	size_t cap = 0;
	for (size_t i; (i = atomic_fetch_add(&k->next, 1)) < k->nchunks;) {
		struct chunk *ch = &k->chunks[i];
		struct lf_err e = {0};
		if (k->quick) {
			int has = lf_registry_has_blob(k->reg, k->name, ch->digest, &e);
			ch->rc = has < 0 ? has : has ? 0 : -ENOENT;
		} else {
			if (ch->size > cap) {
				free(buf);
				cap = ch->size;
				buf = malloc(cap ? cap : 1);
			}
			ch->rc = buf ? lf_registry_get_blob(k->reg, k->name, ch->digest, buf, ch->size, &e)
				     : -ENOMEM;
		}
		snprintf(ch->msg, sizeof ch->msg, "%.290s", e.msg);
		atomic_fetch_add(&k->done, 1);
	}
	free(buf);
	return NULL;
}

static void run_chunks(struct rcheck *k)
{
	int jobs = lf_oci_config()->jobs > 0 ? lf_oci_config()->jobs : DEFAULT_JOBS;
	pthread_t t[32];
	int started = 0;
	while (started < jobs && started < 32 &&
	       pthread_create(&t[started], NULL, check_chunks, k) == 0)
		started++;
	if (!started)
		check_chunks(k);
	const struct lf_fsck_opts *o = k->c->o;
	while (atomic_load(&k->done) < k->nchunks) {
		if (o->progress)
			o->progress(o->progress_ctx, k->quick ? "asking for chunks" : "fetching chunks",
				    atomic_load(&k->done), k->nchunks);
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	if (o->progress)
		o->progress(o->progress_ctx, k->quick ? "asking for chunks" : "fetching chunks",
			    k->nchunks, k->nchunks);
}

static void report_chunks(struct rcheck *k)
{
	for (size_t i = 0; i < k->nchunks; i++) {
		const struct chunk *ch = &k->chunks[i];
		if (!ch->rc)
			continue;
		const char *label = k->seen[ch->first].label;
		if (ch->rc == -ENOENT)
			fsck_report(k->c, LF_FSCK_MISSING, FSCK_ERROR, 0, 0, label,
				    "chunk %zu (%s) is not in the registry", ch->index, ch->digest);
		else if (ch->rc == -EBADMSG)
			fsck_report(k->c, LF_FSCK_SHA256, FSCK_ERROR, 0, 0, label,
				    "chunk %zu (%s): the registry's bytes do not hash to it",
				    ch->index, ch->digest);
		else
			fsck_report(k->c, LF_FSCK_MISSING, FSCK_ERROR, 0, 0, label, "chunk %zu: %s",
				    ch->index, ch->msg);
	}
}

/* A control artifact: its files there and whole, each revision it names
 * there (and checked like any other). */
static void check_control(struct rcheck *k, const char *tag)
{
	struct lf_control_layer *map = NULL;
	size_t n = 0, llen = 0, alen = 0;
	char *lt = NULL, *at = NULL, digest[LF_OCI_DIGEST_MAX];
	struct lf_err e = {0};
	char label[700];
	snprintf(label, sizeof label, "%s/%s:%s", k->host, k->name, tag);
	if (lf_repo_fetch_control(k->host, k->name, tag, &map, &n, &lt, &llen, &at, &alen, digest,
				  &e)) {
		fsck_report(k->c, LF_FSCK_CONTROL, FSCK_ERROR, 0, 0, label, "%s", e.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char via[800];
		snprintf(via, sizeof via, "%s (layer %u revision %u)", label, map[i].id,
			 map[i].revision);
		check_revision(k, map[i].manifest, strcmp(tag, "control") ? BY_OLD_CONTROL : BY_CONTROL,
			       via);
	}
	free(map);
	free(lt);
	free(at);
}

int lf_registry_fsck(const char *ref, const struct lf_fsck_opts *o, int quick, struct lf_err *err)
{
	struct lf_oci_ref r;
	struct lf_registry *reg;
	int rc = lf_oci_ref_parse(ref, &r, err);
	if (!rc)
		rc = lf_registry_get(r.host, &reg, err);
	if (rc)
		return LF_FSCK_FAILED;
	struct fsck c = { .o = o };
	struct rcheck k = { .c = &c, .reg = reg, .host = r.host, .name = r.name, .quick = quick };
	/* the registry itself answers (a cached copy would check nothing) */
	char **tags = NULL;
	int ntags = lf_registry_tags(reg, r.name, &tags, err);
	if (ntags < 0)
		return LF_FSCK_FAILED;
	const char *one = r.digest[0] ? r.digest : r.tag[0] ? r.tag : NULL;
	for (int i = 0; i < ntags || (one && i == 0); i++) {
		const char *t = one ? one : tags[i];
		if (o->progress)
			o->progress(o->progress_ctx, "manifests", (uint64_t)i, one ? 1 : (uint64_t)ntags);
		if (!strcmp(t, "control") || !strncmp(t, "control-", 8)) {
			check_control(&k, t);
			continue;
		}
		char label[700];
		snprintf(label, sizeof label, "%s/%s:%s", r.host, r.name, t);
		check_revision(&k, t, BY_TAG, label);
		if (one)
			break;
	}
	for (int i = 0; i < ntags; i++)
		free(tags[i]);
	free(tags);
	chunks_once(&k);
	run_chunks(&k);
	report_chunks(&k);
	free(k.seen);
	free(k.chunks);
	return c.errors ? LF_FSCK_ERRORS : LF_FSCK_CLEAN;
}
