/* What differs between two merged trees (each a stack of layers, a disk
 * or a folder): names on one side only, and files whose type, size or
 * content differ. Names match as Windows matches them (any case). Files
 * that are obviously the same (same size and modification time) are not
 * read; the others are compared by content. Files merged from every
 * layer's copy (hives) are left to the caller, which compares what they
 * hold. The first step of capture (issue 17). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/casefold.h"
#include "union_int.h"

#define CHUNK (1u << 20)
#define MAX_DEPTH 256

struct entry {
	char *name;
	struct lf_attr a;
};

struct listing {
	struct entry *v;
	size_t n, cap;
};

struct collected {
	struct listing *l;
	struct lf_union *u;
};

static int collect(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	(void)next;
	struct collected *c = ctx;
	struct listing *l = c->l;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct entry *v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			lf_union_forget(c->u, a->ino, 1);
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n].name = strdup(name))) {
		lf_union_forget(c->u, a->ino, 1);
		return 1;
	}
	l->v[l->n++].a = *a;
	return 0;
}

/* Each entry was looked up (readdirplus): its reference goes with it. */
static void listing_free(struct lf_union *u, struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		lf_union_forget(u, l->v[i].a.ino, 1);
	}
	free(l->v);
}

static int by_name(const void *x, const void *y)
{
	return lf_casecmp(((const struct entry *)x)->name, ((const struct entry *)y)->name);
}

static int list(struct lf_union *u, uint64_t ino, struct listing *l)
{
	memset(l, 0, sizeof *l);
	struct collected c = { l, u };
	int rc = lf_union_readdir(u, ino, 0, 1, collect, &c);
	if (!rc && l->n)
		qsort(l->v, l->n, sizeof *l->v, by_name);
	return rc;
}

/* Same bytes? 1 yes, 0 no, <0 an error. */
static int same_content(struct lf_union *a, uint64_t ia, struct lf_union *b, uint64_t ib,
			uint64_t size, char *ba, char *bb)
{
	struct lf_ufile *fa = NULL, *fb = NULL;
	int rc = lf_union_open_file(a, ia, O_RDONLY, &fa);
	if (!rc)
		rc = lf_union_open_file(b, ib, O_RDONLY, &fb);
	int same = 1;
	for (uint64_t off = 0; !rc && same && off < size;) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t na = lf_union_pread(a, fa, ba, want, off);
		ssize_t nb = lf_union_pread(b, fb, bb, want, off);
		if (na < 0 || nb < 0)
			rc = (int)(na < 0 ? na : nb);
		else if (na != nb || memcmp(ba, bb, (size_t)na))
			same = 0;
		else if (na == 0)
			break;
		else
			off += (uint64_t)na;
	}
	if (fa)
		lf_union_release(a, fa);
	if (fb)
		lf_union_release(b, fb);
	return rc ? rc : same;
}

struct differ {
	struct lf_union *a, *b;
	lf_diff_fn fn;
	void *ctx;
	char *ba, *bb;
	char path[8192];
	int stop;
};

static int report(struct differ *d, char what, const char *why, const struct lf_attr *at)
{
	if (!d->stop && d->fn(d->ctx, what, d->path, why, at))
		d->stop = 1;
	return d->stop;
}

static int walk(struct differ *d, uint64_t ia, uint64_t ib, int depth);

/* A name on one side, or both. */
static int one_name(struct differ *d, const struct entry *x, const struct entry *y, int depth)
{
	size_t len = strlen(d->path);
	const char *name = x ? x->name : y->name;
	if (len + strlen(name) + 2 > sizeof d->path)
		return -ENAMETOOLONG;
	snprintf(d->path + len, sizeof d->path - len, "%s%s", len ? "/" : "", name);
	int rc = 0;
	if (!y) {
		report(d, '-', S_ISDIR(x->a.mode) ? "folder" : "file", &x->a);
	} else if (!x) {
		report(d, '+', S_ISDIR(y->a.mode) ? "folder" : "file", &y->a);
	} else if ((x->a.mode & S_IFMT) != (y->a.mode & S_IFMT)) {
		report(d, '~', "type", &y->a);
	} else if (S_ISDIR(x->a.mode)) {
		rc = walk(d, x->a.ino, y->a.ino, depth + 1);
	} else if ((x->a.flags & LF_ATTR_MERGED) || (y->a.flags & LF_ATTR_MERGED)) {
		report(d, 'm', "merged file", &y->a);    /* the caller compares what it holds */
	} else if (S_ISLNK(x->a.mode)) {
		char ta[4096], tb[4096];
		ssize_t na = lf_union_readlink(d->a, x->a.ino, ta, sizeof ta);
		ssize_t nb = lf_union_readlink(d->b, y->a.ino, tb, sizeof tb);
		if (na < 0 || nb < 0 || strcmp(ta, tb))
			report(d, '~', "link target", &y->a);
	} else if (x->a.size != y->a.size) {
		report(d, '~', "size", &y->a);
	} else if (S_ISREG(x->a.mode) && (x->a.mtime.tv_sec != y->a.mtime.tv_sec ||
					  x->a.mtime.tv_nsec != y->a.mtime.tv_nsec)) {
		/* not obviously the same: by content */
		int same = same_content(d->a, x->a.ino, d->b, y->a.ino, x->a.size, d->ba, d->bb);
		if (same < 0)
			rc = same;
		else if (!same)
			report(d, '~', "content", &y->a);
	}
	d->path[len] = 0;
	return rc;
}

static int walk(struct differ *d, uint64_t ia, uint64_t ib, int depth)
{
	if (depth > MAX_DEPTH)
		return -ELOOP;
	struct listing la, lb;
	int rc = list(d->a, ia, &la);
	if (!rc)
		rc = list(d->b, ib, &lb);
	else
		memset(&lb, 0, sizeof lb);
	size_t i = 0, k = 0;
	while (!rc && !d->stop && (i < la.n || k < lb.n)) {
		int c = i == la.n ? 1 : k == lb.n ? -1 : lf_casecmp(la.v[i].name, lb.v[k].name);
		const struct entry *x = c <= 0 ? &la.v[i] : NULL, *y = c >= 0 ? &lb.v[k] : NULL;
		rc = one_name(d, x, y, depth);
		i += c <= 0;
		k += c >= 0;
	}
	listing_free(d->a, &la);
	listing_free(d->b, &lb);
	return rc;
}

int lf_union_diff(struct lf_union *a, struct lf_union *b, lf_diff_fn fn, void *ctx)
{
	struct differ d = { .a = a, .b = b, .fn = fn, .ctx = ctx, .ba = malloc(CHUNK),
			    .bb = malloc(CHUNK) };
	int rc = d.ba && d.bb ? walk(&d, LF_UNION_ROOT, LF_UNION_ROOT, 0) : -ENOMEM;
	free(d.ba);
	free(d.bb);
	return rc;
}
