/* Personalization layers in a check: each Users/USER/IDHEX_OSNAME folder
 * is read against the layers below it: a copy the revisions she gets
 * (her pins, her Unix groups', this machine's) hold as it is, and a
 * delete token no revision of any layer on her OS layer has a file for,
 * take space for nothing; a repair removes them, unless a session has the
 * folder in use. Users/ and Users/USER are root's and closed; a layer that
 * is a symlink, or not a folder, or on another file system is an error.
 * Everything goes through folder fds, nothing through a symlink: users
 * had their layers' folders before, and root must not follow them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsck_int.h"
#include "layerfs/layer.h"
#include "layerfs/safe_path.h"
#include "layerfs/union.h"

struct pwalk {
	struct fsck *c;
	struct lf_union *u;      /* what she gets: copies equal to it are needless */
	struct lf_union *any;    /* every revision on her OS layer: what a token may hide */
	const char *how;         /* what u was made of, for the messages */
	int dfd;                 /* the folder being walked */
	int noted;               /* its root says only the union's marked tokens count */
	char host[PATH_MAX];     /* the folder on the host (for messages) */
	char rel[PATH_MAX];      /* the same, relative to the repository */
	char path[PATH_MAX];     /* inside the layer ("" at its root) */
	int repair;
	int depth;
};

/* Does host file FD hold what the layers below have at PATH? */
static int same_bytes(struct lf_union *u, uint64_t ino, int fd, uint64_t size)
{
	struct lf_ufile *f;
	if (lf_union_open_file(u, ino, O_RDONLY, &f))
		return 0;
	enum { CHUNK = 1 << 16 };
	char *a = malloc(CHUNK), *b = malloc(CHUNK);
	int same = a && b;
	for (uint64_t off = 0; same && off < size; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		same = lf_union_pread(u, f, a, n, off) == (ssize_t)n &&
		       pread(fd, b, n, (off_t)off) == (ssize_t)n && !memcmp(a, b, n);
	}
	free(a);
	free(b);
	lf_union_release(u, f);
	return same;
}

static void walk_personal(struct pwalk *w, int opaque);

static void entry(struct pwalk *w, const char *name, int opaque)
{
	size_t hl = strlen(w->host), rl = strlen(w->rel), pl = strlen(w->path);
	snprintf(w->host + hl, sizeof w->host - hl, "/%s", name);
	snprintf(w->rel + rl, sizeof w->rel - rl, "/%s", name);
	struct stat st;
	size_t tl = strlen(LF_WHITEOUT_PREFIX);
	if (fstatat(w->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto out;
	if (!strncmp(name, LF_WHITEOUT_PREFIX, tl)) {
		/* a token or opaque marker the union did not make (its user
		 * named a file so, before that was refused): none, not shown */
		int marker = !strcmp(name, LF_OPAQUE_NAME);
		if (w->noted && (marker || strncmp(name + tl, LF_WHITEOUT_PREFIX, tl)) &&
		    !lf_dir_made_by_union(w->dfd, name)) {
			fsck_report(w->c, LF_FSCK_FOREIGN_TOKEN, FSCK_WARNING, 0, 0, w->rel + 1,
				    "named as the union's %s, but not made by it (its user named a "
				    "file so): no %s, not shown", marker ? "opaque marker" : "delete token",
				    marker ? "marker" : "token");
			goto out;
		}
		/* opaque markers, the work folder, the session lock: the union's */
		if (!strncmp(name + tl, LF_WHITEOUT_PREFIX, tl))
			goto out;
		char below[PATH_MAX];
		snprintf(below, sizeof below, "%s%s%s", w->path, pl ? "/" : "", name + tl);
		struct lf_attr a;
		struct lf_walk held;
		int rc = lf_union_walk(w->any, below, &a, &held);
		lf_union_walk_end(w->any, &held);
		if (rc == -ENOENT) {
			int fixed = w->repair && !S_ISDIR(st.st_mode) && unlinkat(w->dfd, name, 0) == 0;
			fsck_report(w->c, LF_FSCK_TOKEN_UNUSED, 0, fixed, 0, w->rel + 1,
				    "a delete token for %s, which no revision of any layer on her "
				    "OS layer has%s", below, fixed ? ": removed" : "");
		}
		goto out;
	}
	snprintf(w->path + pl, sizeof w->path - pl, "%s%s", pl ? "/" : "", name);
	if (S_ISDIR(st.st_mode)) {
		int fd = lf_safe_open(w->dfd, name, O_RDONLY | O_DIRECTORY, 0);
		if (fd >= 0) {
			int up = w->dfd;
			w->dfd = fd;
			walk_personal(w, opaque);
			w->dfd = up;
			close(fd);
		}
	} else if (S_ISREG(st.st_mode) && !opaque) {
		/* a copy the layers hold byte for byte, with its mode and owner */
		struct lf_attr a;
		struct lf_walk held;
		int found = lf_union_walk(w->u, w->path, &a, &held) == 0;
		int fd = found && S_ISREG(a.mode) && a.size == (uint64_t)st.st_size &&
			 (a.mode & 07777) == (st.st_mode & 07777) && a.uid == st.st_uid &&
			 a.gid == st.st_gid
			 ? lf_safe_open(w->dfd, name, O_RDONLY | O_NONBLOCK, 0) : -1;
		struct stat fst;
		/* the very file looked at, not one put in its place meanwhile */
		if (fd >= 0 && (fstat(fd, &fst) < 0 || fst.st_ino != st.st_ino ||
				fst.st_dev != st.st_dev)) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0 && same_bytes(w->u, a.ino, fd, a.size)) {
			int fixed = w->repair && unlinkat(w->dfd, name, 0) == 0;
			fsck_report(w->c, LF_FSCK_SAME_AS_BELOW, 0, fixed, (uint64_t)st.st_size,
				    w->rel + 1, "%s hold this file as it is (%lld bytes)%s", w->how,
				    (long long)st.st_size, fixed ? ": removed" : "");
		}
		if (fd >= 0)
			close(fd);
		lf_union_walk_end(w->u, &held);
	}
	w->path[pl] = 0;
out:
	w->host[hl] = 0;
	w->rel[rl] = 0;
}

static void walk_personal(struct pwalk *w, int opaque)
{
	if (w->depth > 256)
		return;
	int fd = fcntl(w->dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* an opaque folder shows nothing below: its copies are needed */
	opaque |= faccessat(w->dfd, LF_OPAQUE_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char **v = realloc(names, (n + 1) * sizeof *v);
		if (!v || !(v[n] = strdup(e->d_name)))
			break;
		names = v;
		n++;
	}
	closedir(d);
	w->depth++;
	for (size_t i = 0; i < n; i++) {
		entry(w, names[i], opaque);
		free(names[i]);
	}
	w->depth--;
	free(names);
}

/* A layer of the repository into stack s (as NAME.rREV, so that two
 * revisions of one layer may stand side by side); a layer whose file
 * did not open is named in missing instead. */
static int stack_layer(struct fsck *c, struct lf_stack *s, size_t i, char *missing, size_t msize,
		       struct lf_err *err)
{
	const struct lf_repo_layer *l = &c->r->layers[i];
	if (!c->opens || !c->opens[i]) {
		size_t n = strlen(missing);
		if (n + 1 < msize)
			snprintf(missing + n, msize - n, "%s%s (%u rev %u)", n ? ", " : "", l->name,
				 l->id, l->revision);
		return 0;
	}
	char path[PATH_MAX], spec[PATH_MAX + 400];
	int rc = lf_repo_path(c->r, l->file, path, sizeof path, err);
	snprintf(spec, sizeof spec, "%s,name=%.200s.r%u,type=%s,prio=%ld", path, l->name,
		 l->revision, lf_layer_type_name(l->type), l->priority);
	return rc ? rc : lf_stack_add(s, spec, err);
}

static int open_stack(struct lf_stack *s, struct lf_union **out, struct lf_err *err)
{
	int rc = lf_stack_sort(s, err);
	if (!rc)
		rc = lf_union_open(s, NULL, out, err);
	lf_stack_free(s);
	return rc;
}

/* The layers a personalization layer of USER on OS layer os is judged
 * against: mine, the revisions she gets (her pins, her groups, this
 * machine: a copy equal to those is needless), and any, every revision
 * of every layer built on os (a delete token hides nothing only if none
 * of them has the file: she may be given another one at her next
 * login). how: against what mine was made, for the messages; missing:
 * the layers that did not open. */
static int open_below(struct fsck *c, const struct lf_repo_layer *os, const char *user,
		      struct lf_union **mine, struct lf_union **any, char *how, size_t hsize,
		      char *missing, size_t msize)
{
	struct lf_stack s = {0};
	struct lf_err err = {0};
	struct lf_resolution res = {0};
	char *owned[256];
	const char *groups[256 + 64];
	int ng = 0, no = 0, rc = 0;
	missing[0] = 0;
	*mine = *any = NULL;
	for (int i = 0; i < c->o->ngroups && ng < 64; i++)
		groups[ng++] = c->o->groups[i];
	if (!c->o->user || strcmp(c->o->user, user))
		no = lf_unix_groups(user, owned, 256);   /* --user's came with her groups */
	for (int i = 0; i < no; i++)
		groups[ng++] = owned[i];
	char host[256] = "";
	const char *machine = c->o->machine;
	if (!machine && gethostname(host, sizeof host) == 0)
		machine = host;
	int resolved = lf_repo_resolve(c->r, user, groups, ng, machine ? machine : "", &res,
				       &err) == 0 && res.os == os;
	for (size_t i = 0; resolved && !rc && i < res.n; i++)
		rc = stack_layer(c, &s, (size_t)(res.v[i].layer - c->r->layers), missing, msize,
				 &err);
	if (resolved)
		snprintf(how, hsize, "the %zu layers %s gets on %s", res.n, user, machine);
	else
		snprintf(how, hsize, "the newest revision of every layer on %s (%s gets no stack "
			 "on it here%s%.200s)", os->name, user, err.msg[0] ? ": " : "", err.msg);
	for (size_t i = 0; !resolved && !rc && i < c->r->nlayers; i++)
		if (lf_repo_find(c->r, c->r->layers[i].id, 0) == &c->r->layers[i] &&
		    c->r->layers[i].os_layer == os->id)
			rc = stack_layer(c, &s, i, missing, msize, &err);
	if (!rc)
		rc = open_stack(&s, mine, &err);
	memset(&s, 0, sizeof s);
	char ignored[8] = "";
	for (size_t i = 0; !rc && i < c->r->nlayers; i++)
		if (c->r->layers[i].os_layer == os->id || &c->r->layers[i] == os)
			rc = stack_layer(c, &s, i, ignored, 0, &err);
	if (!rc)
		rc = open_stack(&s, any, &err);
	else
		lf_stack_free(&s);
	if (rc) {
		lf_union_close(*mine);
		*mine = NULL;
		fsck_report(c, LF_FSCK_BUSY, 0, 0, 0, os->file, "the layers below %s's layer do not "
			    "open together: %s", user, err.msg);
	}
	lf_resolution_free(&res);
	for (int i = 0; i < no; i++)
		free(owned[i]);
	return rc;
}

/* Folder fd (REL in messages) is root's and closed to others; --repair
 * makes it so. */
static void check_closed(struct fsck *c, int fd, const char *rel)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || (st.st_uid == 0 && st.st_gid == 0 && !(st.st_mode & 077)))
		return;
	int fixed = c->o->repair && fchown(fd, 0, 0) == 0 && fchmod(fd, st.st_mode & 07700) == 0;
	fsck_report(c, LF_FSCK_UNSAFE, 1, fixed, 0, rel, "%04o %u:%u: users must not reach "
		    "personalization layers on the host (root's, 0700 wanted)%s",
		    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
		    fixed ? ": fixed" : "");
}

/* Open NAME in dirfd as a folder for the check, or report why it is not. */
static int open_folder(struct fsck *c, int dirfd, const char *name, const char *rel,
		       const char *what)
{
	int fd = lf_safe_open(dirfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ELOOP) {
		int fixed = c->o->repair && unlinkat(dirfd, name, 0) == 0;
		fsck_report(c, LF_FSCK_UNSAFE, 1, fixed, 0, rel, "a symlink where %s should be "
			    "(root would follow it)%s", what, fixed ? ": removed" : "");
	} else if (fd == -ENOTDIR) {
		fsck_report(c, LF_FSCK_UNSAFE, 1, 0, 0, rel, "not a folder, where %s should be",
			    what);
	}
	return fd;
}

static void check_one(struct fsck *c, int hfd, dev_t dev, const char *user, const char *name)
{
	char rel[PATH_MAX], host[PATH_MAX * 2];
	snprintf(rel, sizeof rel, "Users/%.2000s/%.1000s", user, name);
	snprintf(host, sizeof host, "%s/%s", c->r->root, rel);
	int lfd = open_folder(c, hfd, name, rel, "a personalization layer");
	if (lfd < 0)
		return;
	struct stat st;
	if (fstat(lfd, &st) == 0 && st.st_dev != dev) {
		fsck_report(c, LF_FSCK_UNSAFE, 1, 0, 0, rel, "on another file system than Users/ "
			    "(a mount there could be anyone's): not checked");
		close(lfd);
		return;
	}
	unsigned id;
	int used = 0;
	const struct lf_repo_layer *os = sscanf(name, "%8x_%n", &id, &used) == 1 && used == 9
		? lf_repo_find(c->r, id, 0) : NULL;
	if (!os || os->type != LF_LAYER_OS || strcmp(name + 9, os->name)) {
		fsck_report(c, LF_FSCK_ORPHAN, 0, 0, 0, rel, "a personalization layer for no OS layer "
			    "of the repository (IDHEX_OSNAME of one is wanted)");
		close(lfd);
		return;
	}
	struct lf_union *u, *any;
	char how[600], missing[1024];
	if (open_below(c, os, user, &u, &any, how, sizeof how, missing, sizeof missing)) {
		close(lfd);
		return;                  /* said */
	}
	int incomplete = missing[0] != 0;
	struct pwalk w = { .c = c, .u = u, .any = any, .dfd = lfd, .repair = c->o->repair,
			   .how = how, .noted = lf_dir_tokens_noted(lfd) };
	/* a session using it holds its lock: then nothing is removed */
	int fd = w.repair ? lf_safe_open(lfd, LF_SESSION_LOCK, O_RDONLY, 0) : -1;
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fsck_report(c, LF_FSCK_BUSY, 0, 0, 0, rel, "in use by a session: not repaired");
		w.repair = 0;
	}
	if (incomplete && w.repair) {
		fsck_report(c, LF_FSCK_BUSY, 0, 0, 0, rel, "not repaired: a layer that may lie "
			    "below does not open: %s", missing);
		w.repair = 0;
	}
	/* tokens made before the union marked its own: marked now (a
	 * repair), or said */
	if (!w.noted && w.repair) {
		long n = lf_dir_tokens_convert(lfd);
		w.noted = n >= 0;
		fsck_report(c, LF_FSCK_FOREIGN_TOKEN, n < 0 ? FSCK_ERROR : FSCK_WARNING, n >= 0, 0,
			    rel, n >= 0 ? "its %ld delete tokens and markers, made before the union "
			    "marked its own, marked as the union's" : "its delete tokens cannot be "
			    "marked as the union's", n);
	} else if (!w.noted) {
		fsck_report(c, LF_FSCK_FOREIGN_TOKEN, FSCK_WARNING, 0, 0, rel, "its delete tokens "
			    "were made before the union marked its own: its next login or 'fsck "
			    "--repair' marks them");
	}
	if ((size_t)snprintf(w.host, sizeof w.host, "%s", host) < sizeof w.host &&
	    (size_t)snprintf(w.rel, sizeof w.rel, "/%s", rel) < sizeof w.rel)
		walk_personal(&w, 0);
	if (fd >= 0)
		close(fd);
	close(lfd);
	lf_union_close(u);
	lf_union_close(any);
}

/* Each entry of folder fd but dot names, as fn(c, fd, name). */
static void each_in(int fd, void (*fn)(struct fsck *, int, const char *, void *), struct fsck *c,
		    void *ctx)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			fn(c, fd, e->d_name, ctx);
	closedir(d);
}

struct user_ctx {
	const char *user;
	dev_t dev;
};

static void one_layer(struct fsck *c, int hfd, const char *name, void *ctx)
{
	struct user_ctx *uc = ctx;
	check_one(c, hfd, uc->dev, uc->user, name);
}

static void one_user(struct fsck *c, int ufd, const char *user, void *ctx)
{
	dev_t dev = *(dev_t *)ctx;
	if (c->o->user && strcmp(user, c->o->user))
		return;
	char rel[PATH_MAX];
	snprintf(rel, sizeof rel, "Users/%.1000s", user);
	int hfd = open_folder(c, ufd, user, rel, "a user's folder");
	if (hfd < 0)
		return;
	check_closed(c, hfd, rel);
	if (c->o->progress)
		c->o->progress(c->o->progress_ctx, "personalization layers", (uint64_t)++c->users, 0);
	struct user_ctx uc = { user, dev };
	each_in(hfd, one_layer, c, &uc);
	close(hfd);
}

void fsck_personal(struct fsck *c)
{
	int rfd = open(c->r->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (rfd < 0 || fstat(rfd, &st) < 0) {
		if (rfd >= 0)
			close(rfd);
		return;
	}
	int ufd = open_folder(c, rfd, "Users", "Users", "the users' folder");
	close(rfd);
	if (ufd < 0)
		return;
	check_closed(c, ufd, "Users");
	/* Users/ may be a file system of its own (a bigger disk mounted
	 * there); a layer must be on that one */
	if (fstat(ufd, &st) == 0)
		each_in(ufd, one_user, c, &st.st_dev);
	close(ufd);
}
