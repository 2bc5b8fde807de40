/* layerctl fsck's engine: what can be wrong with a repository, found and
 * named; with repair, what is safe to remove is removed (temporaries,
 * tokens that hide nothing, copies the layers already have), and layers
 * open to others are closed; nothing else. Layer files' bytes and control
 * files are never changed. */
#include <fcntl.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsck_int.h"
#include "layerfs/hive.h"
#include "layerfs/layer.h"
#include "layerfs/oci.h"
#include "layerfs/regcompose.h"
#include "layerfs/wof.h"

const char *lf_fsck_class_name(enum lf_fsck_class c)
{
	static const char *const names[] = {
		"control-file", "path-outside", "missing-file", "wrong-size", "wrong-sha256",
		"bad-disk", "bad-hive", "token-in-os-layer", "unknown-layer", "two-revisions",
		"same-priority", "no-os-layer", "user-stack", "token-hides-nothing",
		"same-as-below", "orphan-file", "temporary", "not-repaired", "unsafe-folder",
		"readable-layer", "writable-os-folder", "foreign-token", "data-elsewhere",
		"no-parent",
	};
	return (size_t)c < sizeof names / sizeof *names ? names[c] : "?";
}

void fsck_report(struct fsck *c, enum lf_fsck_class cls, int severity, int fixed, uint64_t bytes,
		 const char *path, const char *fmt, ...)
{
	int error = severity == FSCK_ERROR;
	struct lf_fsck_problem p = { .cls = cls, .error = error, .fixed = fixed, .bytes = bytes,
				     .warning = severity == FSCK_WARNING };
	snprintf(p.path, sizeof p.path, "%s", path ? path : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p.what, sizeof p.what, fmt, ap);
	va_end(ap);
	if (error && !fixed)
		c->errors++;
	if (fixed)
		c->fixed++;
	if (c->o->report)
		c->o->report(c->o->ctx, &p);
}

/* --- a layer's file, disk, volume, hives and tokens --- */

struct hive_check {
	struct fsck *c;
	const struct lf_repo_layer *rl;
	struct lf_layer *l;
	int sev;
};

/* A revision someone gets (pinned, or the newest, which an unpinned
 * assignment gives) has errors; an old one no one gets, warnings. */
static int severity_of(const struct lf_repo *r, const struct lf_repo_layer *rl)
{
	if (lf_repo_find(r, rl->id, 0) == rl)
		return FSCK_ERROR;
	for (size_t i = 0; i < r->nassign; i++)
		for (size_t k = 0; k < r->assign[i].nlayers; k++)
			if (r->assign[i].layers[k].id == rl->id &&
			    r->assign[i].layers[k].revision == rl->revision)
				return FSCK_ERROR;
	return FSCK_WARNING;
}

static int check_hive(void *ctx, const char *path, const char *mount)
{
	(void)mount;
	struct hive_check *hc = ctx;
	struct lf_hive *h = NULL;
	struct lf_err err = {0};
	int rc = lf_hive_load_layer(hc->l, path, &h, &err);
	if (rc && rc != -ENOENT)
		fsck_report(hc->c, LF_FSCK_HIVE, hc->sev, 0, 0, hc->rl->file, "layer %u (%s): %s",
			    hc->rl->id, hc->rl->name, err.msg);
	else if (!rc && h->dirty && h->log_entries)
		fsck_report(hc->c, LF_FSCK_HIVE, FSCK_WARNING, 0, 0, hc->rl->file, "layer %u (%s): "
			    "%s: a dirty hive; its logs beside it (%d entries) are replayed when it "
			    "is read ('layerctl reg compact' with its logs makes it whole)",
			    hc->rl->id, hc->rl->name, path, h->log_entries);
	else if (!rc && h->dirty)
		fsck_report(hc->c, LF_FSCK_HIVE, FSCK_WARNING, 0, 0, hc->rl->file, "layer %u (%s): %s: "
			    "a dirty hive without usable logs beside it (a write Windows did not "
			    "finish): sessions read its base image, read-only ('layerctl reg compact' "
			    "makes it whole)", hc->rl->id, hc->rl->name, path);
	lf_hive_free(h);
	return 0;
}

/* Every layer's tree: delete tokens in an OS layer hide nothing (nothing
 * lies below it) and mean a capture went wrong; files whose data is not
 * on the volume read as EIO in every session (each is named, up to a
 * bound, then counted). */
struct walk {
	struct fsck *c;
	const struct lf_repo_layer *rl;
	struct lf_layer *l;
	char path[4096];
	int depth;
	unsigned elsewhere[LF_STORE_NKINDS];
};

#define ELSEWHERE_NAMED 20

static int walk_entry(void *ctx, const char *name, lf_ino ino, uint32_t type);

static void walk_dir(struct walk *w, lf_ino dir)
{
	if (w->depth > 256)
		return;
	w->depth++;
	w->l->ops->readdir(w->l, dir, walk_entry, w);
	w->depth--;
}

static int walk_entry(void *ctx, const char *name, lf_ino ino, uint32_t type)
{
	struct walk *w = ctx;
	size_t len = strlen(w->path);
	if (len + strlen(name) + 2 >= sizeof w->path)
		return 0;
	snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "/" : "", name);
	if (w->rl->type == LF_LAYER_OS && !strncmp(name, LF_WHITEOUT_PREFIX, strlen(LF_WHITEOUT_PREFIX)))
		fsck_report(w->c, LF_FSCK_OS_TOKEN, 1, 0, 0, w->rl->file,
			    "layer %u (%s) is an OS layer and holds the delete token %s",
			    w->rl->id, w->rl->name, w->path);
	struct lf_attr a;
	if ((!type || S_ISREG(type)) && w->l->ops->getattr(w->l, ino, &a) == 0) {
		type = a.mode & S_IFMT;
		if (lf_store_missing(a.store) && w->elsewhere[a.store]++ < ELSEWHERE_NAMED)
			fsck_report(w->c, LF_FSCK_DATA_ELSEWHERE, FSCK_WARNING, 0, 0, w->rl->file,
				    "layer %u (%s): %s: not readable: %s (%s)", w->rl->id,
				    w->rl->name, w->path, lf_store_why(a.store),
				    lf_store_name(a.store));
	}
	if (S_ISDIR(type))
		walk_dir(w, ino);
	w->path[len] = 0;
	return 0;
}

/* Layers/ and each layer file: root's and a group's, never everyone's
 * (a layer holds the machine's SAM and SECURITY). With repair, what is
 * open to others is closed, through an fd (never a link followed). */
/* PATH (what was lstat'ed as st) to MODE, through an fd (never a link
 * followed): 1 when done. */
static int close_to_others(const char *path, const struct stat *st, mode_t mode)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat now;
	int done = fd >= 0 && fstat(fd, &now) == 0 && now.st_ino == st->st_ino &&
		   fchmod(fd, mode) == 0;
	if (fd >= 0)
		close(fd);
	return done;
}

static void check_closed(struct fsck *c, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s%s%s", c->r->root, *rel ? "/" : "", rel);
	struct stat st;
	if (lstat(p, &st) < 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) ||
	    !(st.st_mode & 0007))
		return;
	int fixed = c->o->repair && close_to_others(p, &st, st.st_mode & 07770);
	fsck_report(c, LF_FSCK_READABLE, FSCK_WARNING, fixed, 0, rel, "%s %04o: every local "
		    "account may read %s (a layer holds SAM and SECURITY)%s",
		    S_ISDIR(st.st_mode) ? "folder" : "layer file", (unsigned)(st.st_mode & 07777),
		    S_ISDIR(st.st_mode) ? "the layers in it" : "it",
		    fixed ? ": closed to others" : "; 'layerctl fsck --repair' closes it");
}

/* The host's chunk cache of registry layers (docs/REGISTRY.md): root's
 * and 0700; one others may read hands them every cached layer's SAM and
 * SECURITY. With repair, closed through an fd. */
static void check_cache(struct fsck *c)
{
	const char *dir = lf_oci_cache_dir();
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || !(st.st_mode & 077))
		return;
	int fixed = c->o->repair && close_to_others(dir, &st, 0700);
	fsck_report(c, LF_FSCK_READABLE, FSCK_WARNING, fixed, 0, dir, "chunk cache %04o: other "
		    "accounts may reach the chunks of registry layers it holds (a layer holds SAM "
		    "and SECURITY)%s", (unsigned)(st.st_mode & 07777),
		    fixed ? ": closed to others" : "; 'layerctl fsck --repair' closes it");
}

static void check_layer(struct fsck *c, size_t at)
{
	const struct lf_repo_layer *rl = &c->r->layers[at];
	int sev = severity_of(c->r, rl);
	char path[PATH_MAX];
	struct lf_err err = {0};
	if (lf_repo_path(c->r, rl->file, path, sizeof path, &err)) {
		fsck_report(c, LF_FSCK_PATH, sev, 0, 0, rl->file, "layer %u revision %u: %s", rl->id,
			    rl->revision, err.msg);
		return;
	}
	struct stat st;
	if (stat(path, &st) < 0) {
		fsck_report(c, LF_FSCK_MISSING, sev, 0, 0, rl->file, "layer %u revision %u (%s): %s",
			    rl->id, rl->revision, rl->name, strerror(errno));
		return;
	}
	if ((uint64_t)st.st_size != rl->size) {
		fsck_report(c, LF_FSCK_SIZE, sev, 0, 0, rl->file, "layer %u revision %u (%s): %lld "
			    "bytes, the control file says %llu", rl->id, rl->revision, rl->name,
			    (long long)st.st_size, (unsigned long long)rl->size);
	} else {
		char hex[65];
		uint64_t size;
		if (lf_sha256_file(path, hex, &size, &err))
			fsck_report(c, LF_FSCK_MISSING, sev, 0, 0, rl->file, "%s", err.msg);
		else if (strcmp(hex, rl->sha256))
			fsck_report(c, LF_FSCK_SHA256, sev, 0, 0, rl->file, "layer %u revision %u (%s): "
				    "SHA-256 %s, the control file says %s", rl->id, rl->revision,
				    rl->name, hex, rl->sha256);
	}
	struct lf_layer *l;
	if (lf_layer_open(path, NULL, &l, &err)) {
		fsck_report(c, LF_FSCK_DISK, sev, 0, 0, rl->file, "layer %u revision %u (%s): %s",
			    rl->id, rl->revision, rl->name, err.msg);
		return;
	}
	if (c->opens)
		c->opens[at] = 1;
	check_closed(c, rl->file);
	struct hive_check hc = { c, rl, l, sev };
	lf_hive_places_in(l, check_hive, &hc);
	struct walk w = { .c = c, .rl = rl, .l = l };
	walk_dir(&w, l->root);
	for (unsigned k = 0; k < LF_STORE_NKINDS; k++)
		if (w.elsewhere[k] > ELSEWHERE_NAMED)
			fsck_report(c, LF_FSCK_DATA_ELSEWHERE, FSCK_WARNING, 0, 0, rl->file,
				    "layer %u (%s): %u more files not readable: %s (%s)", rl->id,
				    rl->name, w.elsewhere[k] - ELSEWHERE_NAMED, lf_store_why(k),
				    lf_store_name(k));
	if (rl->type == LF_LAYER_OS) {
		char open[200];
		if (lf_os_layer_open_folders(l, open, sizeof open))
			fsck_report(c, LF_FSCK_OPEN_OS, FSCK_WARNING, 0, 0, rl->file, "layer %u (%s): "
				    "every user may change %s (their descriptors allow it): one "
				    "user's session can plant files there for everyone's ('layerctl acl' "
				    "before packing, as Windows has them)", rl->id, rl->name, open);
	}
	lf_layer_close(l);
}

/* --- assignments and priorities --- */

static void check_assignments(struct fsck *c)
{
	const struct lf_repo *r = c->r;
	for (size_t i = 0; i < r->nassign; i++) {
		const struct lf_repo_assignment *s = &r->assign[i];
		for (size_t k = 0; k < s->nlayers; k++) {
			const struct lf_repo_ref *ref = &s->layers[k];
			if (!lf_repo_find(r, ref->id, ref->revision))
				fsck_report(c, LF_FSCK_ASSIGN_UNKNOWN, 1, 0, 0, LF_REPO_ASSIGN_FILE,
					    "%s '%s' is assigned layer %u%s, which is not in %s",
					    lf_principal_name(s->kind), s->name, ref->id,
					    ref->revision ? " at its pinned revision" : "",
					    LF_REPO_LAYERS_FILE);
			for (size_t q = 0; q < k; q++)
				if (s->layers[q].id == ref->id)
					fsck_report(c, LF_FSCK_TWO_REVISIONS, 1, 0, 0, LF_REPO_ASSIGN_FILE,
						    "%s '%s' is assigned layer %u twice (revisions %u and "
						    "%u; 0: the newest): it gets only one",
						    lf_principal_name(s->kind), s->name, ref->id,
						    s->layers[q].revision, ref->revision);
		}
	}
}

static int has_os_layer(const struct lf_repo *r, uint32_t id)
{
	const struct lf_repo_layer *l = lf_repo_find(r, id, 0);
	return l && l->type == LF_LAYER_OS;
}

static void check_layers_table(struct fsck *c)
{
	const struct lf_repo *r = c->r;
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct lf_repo_layer *l = &r->layers[i];
		if (l->type != LF_LAYER_OS && !has_os_layer(r, l->os_layer))
			fsck_report(c, LF_FSCK_NO_OS_LAYER, 1, 0, 0, l->file, "layer %u revision %u "
				    "(%s) is built on OS layer %u, which is not in the repository",
				    l->id, l->revision, l->name, l->os_layer);
		if (l->type == LF_LAYER_OS || lf_repo_find(r, l->id, 0) != l)
			continue;
		/* newest revisions of two layers of one OS, one kind, one priority */
		for (size_t k = 0; k < i; k++) {
			const struct lf_repo_layer *m = &r->layers[k];
			if (m->id != l->id && m->type == l->type && m->os_layer == l->os_layer &&
			    m->priority == l->priority && lf_repo_find(r, m->id, 0) == m)
				fsck_report(c, LF_FSCK_PRIORITY, 1, 0, 0, LF_REPO_LAYERS_FILE,
					    "layers %u (%s) and %u (%s) both have priority %ld: which "
					    "wins is left to their ids ('layerctl repo priority')",
					    m->id, m->name, l->id, l->name, l->priority);
		}
	}
}

/* --user: her stack resolves with nothing left out; c->mine marks its
 * layers, the only ones then checked. */
static void check_user(struct fsck *c)
{
	struct lf_resolution res;
	struct lf_err err = {0};
	c->mine = calloc(c->r->nlayers ? c->r->nlayers : 1, 1);
	if (lf_repo_resolve(c->r, c->o->user, c->o->groups, c->o->ngroups, c->o->machine, &res,
			    &err)) {
		fsck_report(c, LF_FSCK_USER_STACK, 1, 0, 0, LF_REPO_ASSIGN_FILE, "%s", err.msg);
		return;
	}
	for (size_t i = 0; i < res.nskipped; i++)
		fsck_report(c, LF_FSCK_USER_STACK, 1, 0, 0, LF_REPO_ASSIGN_FILE, "user %s: %s",
			    c->o->user, res.skipped[i].why);
	for (size_t i = 0; c->mine && i < res.n; i++)
		c->mine[res.v[i].layer - c->r->layers] = 1;
	lf_resolution_free(&res);
}

/* --- files no control file names, and temporaries --- */

static int named(const struct lf_repo *r, const char *rel)
{
	for (size_t i = 0; i < r->nlayers; i++)
		if (!strcmp(r->layers[i].file, rel))
			return 1;
	return 0;
}

static void check_folder(struct fsck *c, const char *rel)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s%s%s", c->r->root, *rel ? "/" : "", rel);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char p[PATH_MAX + 512], r[PATH_MAX + 512];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		struct stat st;
		if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		int tmp = fnmatch("*.tmp.[0-9]*", e->d_name, 0) == 0;
		if (tmp) {
			int fixed = c->o->repair && unlink(p) == 0;
			fsck_report(c, LF_FSCK_TEMPORARY, 0, fixed, (uint64_t)st.st_size, r,
				    "a temporary an interrupted write left%s", fixed ? ": removed" : "");
		} else if (*rel && !named(c->r, r)) {
			fsck_report(c, LF_FSCK_ORPHAN, 0, 0, (uint64_t)st.st_size, r,
				    "no control file names it (%lld bytes; remove it by hand if no "
				    "one needs it)", (long long)st.st_size);
		}
	}
	closedir(d);
}

int lf_repo_fsck(const char *root, const struct lf_fsck_opts *o, struct lf_err *err)
{
	struct stat st;
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		return lf_err_set(err, errno ? errno : ENOTDIR, "%s: %s", root,
				  errno ? strerror(errno) : "not a folder"), LF_FSCK_FAILED;
	struct fsck c = { .o = o };
	int lock = -1;
	/* a repair changes files other writers may be making: hold their lock */
	if (o->repair && lf_repo_lock(root, &lock, err))
		return LF_FSCK_FAILED;
	struct lf_err perr = {0};
	if (lf_repo_open(root, &c.r, &perr)) {
		if (perr.code == ENOENT || perr.code == EACCES) {
			*err = perr;
			lf_repo_unlock(lock);
			return LF_FSCK_FAILED;
		}
		fsck_report(&c, LF_FSCK_CONTROL, 1, 0, 0, "", "%s", perr.msg);
		lf_repo_unlock(lock);
		return LF_FSCK_ERRORS;
	}
	c.opens = calloc(c.r->nlayers ? c.r->nlayers : 1, 1);
	/* --user: her stack alone (its layers, her personalization layers);
	 * else the whole repository */
	if (o->user)
		check_user(&c);
	for (size_t i = 0; i < c.r->nlayers; i++) {
		if (o->progress)
			o->progress(o->progress_ctx, "layers", i, c.r->nlayers);
		if (!o->user || (c.mine && c.mine[i]))
			check_layer(&c, i);
	}
	if (o->progress)
		o->progress(o->progress_ctx, "personalization layers", 0, 0);
	if (!o->user) {
		check_layers_table(&c);
		check_assignments(&c);
		check_folder(&c, "");
		static const char *const folders[] = { "Layers/OS", "Layers/Platform", "Layers/App" };
		for (size_t i = 0; i < sizeof folders / sizeof *folders; i++)
			check_folder(&c, folders[i]);
		static const char *const closed[] = { "Layers", "Layers/OS", "Layers/Platform",
						      "Layers/App", "Retired" };
		for (size_t i = 0; i < sizeof closed / sizeof *closed; i++)
			check_closed(&c, closed[i]);
		check_cache(&c);
	}
	fsck_personal(&c);
	lf_repo_unlock(lock);
	lf_repo_free(c.r);
	free(c.opens);
	free(c.mine);
	return c.errors ? LF_FSCK_ERRORS : c.fixed ? LF_FSCK_FIXED : LF_FSCK_CLEAN;
}
