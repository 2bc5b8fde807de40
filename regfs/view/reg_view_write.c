/* The registry view's write side. Each change is made twice: in the tree
 * that shows, and in the writable layer's fragment of the hive, which is
 * then written out whole (fragments are small: what a user changed). The
 * fragment says what the change says to the layers below: a set value or
 * a new key as itself, a deletion as a marker (.wh.NAME) where a lower
 * layer has NAME, a key made again after a deletion as opaque. */
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/casefold.h"
#include "layerfs/layer.h"
#include "layerfs/safe_path.h"
#include "layerfs/security.h"
#include "reg_view_int.h"
#include "layerfs/lockcheck.h"
#include "layerfs/metrics.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static struct lf_rkey *rkey_copy(const struct lf_rkey *k, int depth)
{
	struct lf_rkey *c = depth > MAX_KEY_DEPTH ? NULL : lf_rkey_new(k->name, k->mtime);
	int ok = c != NULL;
	if (ok && k->sdlen && (c->sd = malloc(k->sdlen))) {
		memcpy(c->sd, k->sd, k->sdlen);
		c->sdlen = k->sdlen;
	}
	if (ok && k->clslen && (c->cls = malloc(k->clslen))) {
		memcpy(c->cls, k->cls, k->clslen);
		c->clslen = k->clslen;
	}
	ok = ok && (!k->sdlen || c->sd) && (!k->clslen || c->cls);
	for (size_t i = 0; ok && i < k->nval; i++)
		ok = !lf_rkey_set(c, k->val[i].name, k->val[i].type, k->val[i].data, k->val[i].len);
	for (size_t i = 0; ok && i < k->nsub; i++) {
		struct lf_rkey *s = rkey_copy(k->sub[i], depth + 1);
		ok = s && !lf_rkey_add(c, s);
		if (!ok)
			lf_rkey_free(s);
	}
	if (!ok) {
		lf_rkey_free(c);
		return NULL;
	}
	return c;
}

/* FILE's part below the fragment root, or NULL when it is not below it. */
static const char *frag_rel(const struct lf_regview *v, const char *file)
{
	size_t n = v->frag_root_path ? strlen(v->frag_root_path) : 0;
	if (v->frag_root < 0 || strncmp(file, v->frag_root_path, n) || file[n] != '/')
		return NULL;
	while (file[n] == '/')
		n++;
	return file + n;
}

static struct frag_id frag_now(struct lf_regview *v, const struct vhive *h)
{
	struct frag_id id = { 0 };
	struct stat st;
	const char *rel = frag_rel(v, h->frag_file);
	int fd = rel ? lf_safe_open(v->frag_root, rel, O_PATH | O_CLOEXEC, 0) : -1;
	int r = rel ? (fd < 0 ? -1 : fstat(fd, &st)) : stat(h->frag_file, &st);
	if (fd >= 0)
		close(fd);
	if (r == 0)
		id = (struct frag_id){ st.st_dev, st.st_ino, st.st_size, st.st_mtim, 1 };
	return id;
}

static int same_id(const struct frag_id *a, const struct frag_id *b)
{
	return a->there == b->there && (!a->there ||
		(a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		 a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec));
}

/* The fragment FILE: 0, -ENOENT (none yet: err not set) or an error. */
static int load_frag(struct lf_regview *v, const char *file, struct lf_hive **out,
		     struct lf_err *err)
{
	const char *rel = frag_rel(v, file);
	if (!rel && access(file, F_OK) < 0)
		return -ENOENT;
	if (!rel)
		return lf_hive_load(file, out, err);
	uint8_t *img;
	size_t len;
	int rc = lf_safe_read_all(v->frag_root, rel, 0x7FFFFFFF, &img, &len);
	if (rc == -ENOENT)
		return rc;
	if (rc)
		return lf_err_set(err, -rc, "%s: %s", file,
				  rc == -ELOOP ? "a symlink where a registry fragment should be: refused"
				  : rc == -EINVAL ? "not a regular file: refused" : strerror(-rc));
	rc = lf_hive_load_image(file, img, len, out, err);
	free(img);
	return rc;
}

/* Is a hive shown at MOUNT ("ROOT/NAME") already? */
static int shown(const struct lf_regview *v, const char *mount)
{
	const char *slash = strchr(mount, '/');
	for (int i = 0; slash && i < v->n; i++)
		if (!strncasecmp(v->h[i].top, mount, (size_t)(slash - mount)) &&
		    !v->h[i].top[slash - mount] && !strcasecmp(v->h[i].name, slash + 1))
			return 1;
	return 0;
}

int lf_regview_add_own(struct lf_regview *v, const char *mount, const char *frag_file,
		       struct lf_err *err)
{
	if (shown(v, mount))
		return 0;        /* a layer has it: added with it */
	struct lf_hive *f = NULL;
	int rc = load_frag(v, frag_file, &f, err);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	lf_hive_free(f);
	/* nothing below it: the fragment is the whole hive */
	struct lf_hive *empty = calloc(1, sizeof *empty);
	if (empty)
		empty->root = lf_rkey_new("ROOT", view_now());
	if (!empty || !empty->root) {
		free(empty);
		return lf_err_set(err, ENOMEM, "out of memory");
	}
	rc = lf_regview_add(v, mount, empty, frag_file, err);
	return rc ? rc : 1;
}

int lf_regview_add(struct lf_regview *v, const char *mount, struct lf_hive *lower,
		   const char *frag_file, struct lf_err *err)
{
	const char *slash = strchr(mount, '/');
	int rc = 0;
	if (!slash || slash == mount || (size_t)(slash - mount) >= sizeof v->h->top ||
	    !slash[1] || strchr(slash + 1, '/'))
		rc = lf_err_set(err, EINVAL, "'%s': a hive shows at ROOT/NAME (HKLM/SOFTWARE)", mount);
	if (!rc && shown(v, mount))
		rc = lf_err_set(err, EEXIST, "'%s': given twice", mount);
	struct vhive *nh = rc ? NULL : realloc(v->h, (size_t)(v->n + 1) * sizeof *nh);
	if (!rc && !nh)
		rc = lf_err_set(err, ENOMEM, "out of memory");
	if (rc) {
		lf_hive_free(lower);
		return rc;
	}
	v->h = nh;
	struct vhive *h = &v->h[v->n];
	memset(h, 0, sizeof *h);
	memcpy(h->top, mount, (size_t)(slash - mount));
	h->name = strdup(slash + 1);
	h->lower = lower;
	/* frozen, the merged layers are shared by every view of the stack */
	rc = lf_hive_freeze(lower) ? lf_err_set(err, ENOMEM, "out of memory") : 0;
	h->view = lower->root;
	h->is_system = !strcasecmp(mount, "HKLM/SYSTEM");
	/* a layer's copy lost its last write: shown as its base image, and
	 * never written (a fragment over an unknown hive would be saved as
	 * if it were whole) */
	if (lower->base_only[0]) {
		h->read_only = lower->base_only;
		view_log(v, "%s: read-only: %s", mount, lower->base_only);
		frag_file = NULL;
	}
	if (frag_file) {
		h->frag_file = strdup(frag_file);
		/* its identity before it is read: replaced in between (a save
		 * of the view this one will replace, at a refresh), the next
		 * look finds it changed and reads it again. Taken after, an
		 * old read would pass for the new file, and the next save would
		 * write over the change it missed. */
		h->seen = frag_now(v, h);
		struct lf_hive *f = NULL;
		if (rc) {
		} else if ((rc = load_frag(v, frag_file, &f, err)) == 0) {
			h->frag = f->root;
			f->root = NULL;
			lf_hive_free(f);
		} else if (rc == -ENOENT) {
			rc = 0;
			h->frag = lf_rkey_new(lower->root->name, view_now());
		}
		if (!rc && h->frag) {
			h->view = lf_rkey_thaw(lower->root);
			rc = h->view ? lf_hive_merge(h->view, h->frag, v->rules) : -ENOMEM;
			if (rc)
				lf_err_set(err, -rc, "%s: cannot put it on the hive: %s", frag_file,
					   strerror(-rc));
		}
		if (!rc && (!h->frag || !h->frag_file))
			rc = lf_err_set(err, ENOMEM, "out of memory");
	}
	if (!rc && !h->name)
		rc = lf_err_set(err, ENOMEM, "out of memory");
	v->n++;  /* counted even on error, so that free cleans it up */
	if (rc && h->view != h->lower->root) {
		lf_rkey_free(h->view);
		h->view = h->lower->root;
	}
	return rc;
}

/* The key at names[0..depth) under root; with tmpl (a parallel view of
 * the same path), missing keys are made, spelt and timed as there. */
static struct lf_rkey *key_at_names(struct lf_rkey *root, const char *const *names, int depth,
			    int create)
{
	struct lf_rkey *k = root;
	for (int i = 0; k && i < depth; i++) {
		struct lf_rkey *s = lf_rkey_find(k, names[i]);
		if (!s && create) {
			s = lf_rkey_new(names[i], view_now());
			if (s && lf_rkey_add(k, s)) {
				lf_rkey_free(s);
				s = NULL;
			}
		}
		k = s;
	}
	return k;
}

static int is_token(const char *name)
{
	return !strncmp(name, LF_WHITEOUT_PREFIX, strlen(LF_WHITEOUT_PREFIX));
}

static int token(char *buf, size_t size, const char *name)
{
	return snprintf(buf, size, "%s%s", LF_WHITEOUT_PREFIX, name) < (int)size ? 0 : -ENAMETOOLONG;
}

/* The view of h built again from the lower layers and the fragment as it
 * is on disk (copies only of the keys the fragment touches). */
static int reload(struct lf_regview *v, struct vhive *h)
{
	struct lf_err err;
	struct lf_hive *f = NULL;
	int rc = load_frag(v, h->frag_file, &f, &err);
	struct lf_rkey *frag = rc == -ENOENT ? lf_rkey_new(h->lower->root->name, view_now())
			       : rc ? NULL : f->root;
	if (f)
		f->root = NULL;
	lf_hive_free(f);
	struct lf_rkey *view = frag ? lf_rkey_thaw(h->lower->root) : NULL;
	if (!view || lf_hive_merge(view, frag, v->rules)) {
		lf_rkey_free(view);
		lf_rkey_free(frag);
		return -ENOMEM;
	}
	if (h->view != h->lower->root)
		lf_rkey_free(h->view);
	lf_rkey_free(h->frag);
	h->view = view;
	h->frag = frag;
	return 0;
}

void view_refresh(struct lf_regview *v, int force)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	int64_t ms = (int64_t)(now.tv_sec - v->checked.tv_sec) * 1000 +
		     (now.tv_nsec - v->checked.tv_nsec) / 1000000;
	if (!force && ms >= 0 && ms < 100)
		return;
	v->checked = now;
	for (int i = 0; i < v->n; i++) {
		struct vhive *h = &v->h[i];
		if (!h->frag_file || !h->frag || h->saving)
			continue;
		struct frag_id id = frag_now(v, h);
		if (same_id(&id, &h->seen))
			continue;
		if (reload(v, h) == 0) {
			h->seen = id;
			view_log(v, "%s/%s: its fragment changed beside the view (%s): shown as it "
				 "is now", h->top, h->name, id.there ? "replaced" : "reset");
		}
	}
}

/* Write a fragment's bytes to h's file: a temporary, fsynced, renamed.
 * Runs with the view's lock let go (save_lock held): it reads only what
 * is fixed (the file's name, the fragments' root). */
static int write_frag(struct lf_regview *v, const struct vhive *h, const uint8_t *img,
		      size_t size, struct lf_err *err)
{
	char dir[4096];
	const char *rel = frag_rel(v, h->frag_file);
	snprintf(dir, sizeof dir, "%s", rel ? rel : h->frag_file);
	char *slash = strrchr(dir, '/');
	const char *name = slash ? slash + 1 : dir;
	if (slash)
		*slash = 0;
	int dfd, wfd = -1;
	if (rel) {
		/* its folder may not be there yet (a first change): made
		 * beneath the root, never through a symlink */
		dfd = slash ? lf_safe_mkdirs(v->frag_root, dir, 0755, (uid_t)-1, (gid_t)-1)
			    : fcntl(v->frag_root, F_DUPFD_CLOEXEC, 0);
		if (dfd == -1)
			dfd = -errno;
		/* the temporary in the union's work folder when there is one:
		 * a listing of the hive's folder through the drive never shows
		 * it (Explorer in her profile while REG saves NTUSER.DAT) */
		if (dfd >= 0)
			wfd = lf_safe_open(v->frag_root, LF_WORK_NAME, O_PATH | O_DIRECTORY, 0);
	} else {
		if (slash && slash != dir)
			lf_mkdirs(dir, 0755, (uid_t)-1, (gid_t)-1, NULL);
		const char *base;
		dfd = lf_open_parent(h->frag_file, &base);
		name = base;
	}
	if (dfd < 0)
		return lf_err_set(err, -dfd, "%s: %s", h->frag_file, strerror(-dfd));
	int rc = lf_safe_replace_via(wfd >= 0 ? wfd : dfd, dfd, name, img, size, 0600);
	if (wfd >= 0)
		close(wfd);
	close(dfd);
	if (rc)
		lf_metrics()->hive_save_failures++;
	else
		lf_metrics()->hive_saves++;
	return rc ? lf_err_set(err, -rc, "%s: %s", h->frag_file, strerror(-rc)) : 0;
}

/* A failed save: told to the caller (its own errno: ENOSPC, EDQUOT) and
 * to the log, and the view is put back as the saved fragment says:
 * nothing shows that is not saved. Caller holds the view's lock. */
static int not_saved(struct lf_regview *v, struct vhive *h, const struct lf_err *err)
{
	int e = err->code ? err->code : EIO;
	view_log(v, "%s/%s: the change is not saved: %s", h->top, h->name, err->msg);
	/* the fragment on disk is as it was before this change */
	if (reload(v, h))
		view_log(v, "%s/%s: the unsaved change still shows (out of memory to undo "
			 "it)", h->top, h->name);
	return -e;
}

/* The change under way is to be saved: its fragment's bytes are made
 * now (the view's lock held), and written when the change ends
 * (change_end), with the lock let go. */
static int save_later(struct lf_regview *v, struct vhive *h)
{
	struct lf_hive f = { .root = h->frag, .mtime = view_now() };
	struct lf_err err = {0};
	uint8_t *img = NULL;
	size_t size = 0;
	if (lf_hive_image(&f, &img, &size, &err))
		return not_saved(v, h, &err);
	if (v->pending && v->pending != h) {
		/* a change never spans hives (a rename across is EXDEV); if one
		 * did, the first hive's bytes are written here, lock held */
		if (write_frag(v, v->pending, v->pending_img, v->pending_size, &err))
			not_saved(v, v->pending, &err);
		else
			v->pending->seen = frag_now(v, v->pending);
	}
	free(v->pending_img);
	v->pending = h;
	v->pending_img = img;
	v->pending_size = size;
	return 0;
}

static void touch(struct lf_rkey *view, struct lf_rkey *frag)
{
	int64_t now = view_now();
	view->mtime = now;
	if (frag)
		frag->mtime = now;
}

/* Set value NAME of the key w resolves to. */
static int set_value(struct lf_regview *v, struct where *w, const char *name, uint32_t type,
		     const uint8_t *data, uint32_t len)
{
	struct lf_rkey *fk = key_at_names(w->h->frag, w->names, w->depth, 1);
	char tok[1100];
	if (!fk || token(tok, sizeof tok, name))
		return fk ? -ENAMETOOLONG : -ENOMEM;
	int rc = lf_rkey_set(w->key, name, type, data, len);
	if (!rc) {
		lf_rval_remove(fk, tok);
		rc = lf_rkey_set(fk, name, type, data, len);
	}
	touch(w->key, fk);
	return rc ? rc : save_later(v, w->h);
}

/* Delete value NAME of the key w resolves to (no save). */
static int drop_value(struct where *w, const char *name)
{
	char tok[1100];
	if (token(tok, sizeof tok, name))
		return -ENAMETOOLONG;
	lf_rval_remove(w->key, name);
	struct lf_rkey *fk = key_at_names(w->h->frag, w->names, w->depth, 0);
	if (fk)
		lf_rval_remove(fk, name);
	struct lf_rkey *lk = key_at_names(w->h->lower->root, w->names, w->depth, 0);
	if (lk && lf_rval_find(lk, name)) {
		fk = key_at_names(w->h->frag, w->names, w->depth, 1);
		if (!fk || lf_rkey_set(fk, tok, REG_NONE, "", 0))
			return -ENOMEM;
	}
	touch(w->key, fk);
	return 0;
}

/* Take key NAME (view spelling) out of the key w resolves to: from the
 * view (freed unless keep), and from the fragment, with a marker where a
 * lower layer has it (no save). */
static int drop_key(struct where *w, const char *name, int keep)
{
	char tok[1100], nm[1024];
	snprintf(nm, sizeof nm, "%s", name);
	if (token(tok, sizeof tok, nm))
		return -ENAMETOOLONG;
	struct lf_rkey *k = w->key;
	for (size_t i = 0; i < k->nsub; i++)
		if (!lf_casecmp(k->sub[i]->name, nm)) {
			if (!keep)
				lf_rkey_free(k->sub[i]);
			memmove(k->sub + i, k->sub + i + 1, (k->nsub - i - 1) * sizeof *k->sub);
			k->nsub--;
			lf_rkey_changed(k);
			break;
		}
	struct lf_rkey *fk = key_at_names(w->h->frag, w->names, w->depth, 0);
	if (fk)
		lf_rkey_remove(fk, nm);
	struct lf_rkey *lk = key_at_names(w->h->lower->root, w->names, w->depth, 0);
	if (lk && lf_rkey_find(lk, nm)) {
		fk = key_at_names(w->h->frag, w->names, w->depth, 1);
		struct lf_rkey *t = fk && !lf_rkey_find(fk, tok) ? lf_rkey_new(tok, view_now()) : NULL;
		if (!fk || (t && lf_rkey_add(fk, t))) {
			lf_rkey_free(t);
			return -ENOMEM;
		}
	}
	touch(w->key, fk);
	return 0;
}

/* Put key k (already in the view under w's key) into the fragment as a
 * whole: a copy, opaque, so nothing of a lower key of that name mixes in. */
static int put_key(struct where *w, const struct lf_rkey *k, int opaque)
{
	char tok[1100];
	struct lf_rkey *fk = key_at_names(w->h->frag, w->names, w->depth, 1);
	if (!fk || token(tok, sizeof tok, k->name))
		return -ENOMEM;
	lf_rkey_remove(fk, tok);
	lf_rkey_remove(fk, k->name);
	struct lf_rkey *c = rkey_copy(k, w->depth + 1);
	if (!c || (opaque && lf_rkey_set(c, LF_OPAQUE_NAME, REG_NONE, "", 0)) || lf_rkey_add(fk, c)) {
		lf_rkey_free(c);
		return -ENOMEM;
	}
	touch(w->key, fk);
	return 0;
}

static int check_name(const struct where *w, int is_key)
{
	if (is_token(w->last))
		return -EINVAL;           /* those are markers */
	if (is_key && (w->value_mark || w->is_default || strchr(w->last, '\\') || !w->last[0]))
		return -EINVAL;
	if (is_key && strlen(w->last) > 255 * 3)
		return -ENAMETOOLONG;
	return 0;
}

/* Make the keys on w's path the view's own (copies of shared, frozen
 * ones), so that the change touches this view alone. */
static int own_path(struct where *w)
{
	struct lf_rkey *k = w->h->view;
	for (int i = 0; i < w->depth; i++) {
		long pos = lf_rkey_pos(k, w->names[i]);
		k = pos < 0 ? NULL : lf_rkey_own(k, (uint32_t)pos);
		if (!k)
			return -ENOMEM;
		w->names[i] = k->name;
	}
	w->key = k;
	if (w->kind == W_VALUE && !(w->val = lf_rval_find(k, w->last)))
		return -ENOENT;
	return 0;
}

/* Resolve PATH (or its parent) for a change uid asks for, which needs
 * want on the key resolved (0: checked by the caller): -EACCES without
 * it, -EROFS where nothing can be written. */
static int change_begin(struct lf_regview *v, uid_t uid, uint32_t want, const char *path,
			int parent, struct where *w)
{
	lf_mutex_lock(&v->save_lock, LF_LK_REG_SAVE);
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	view_refresh(v, 1);      /* never write over a fragment reset meanwhile */
	int rc = view_resolve(v, path, parent, w);
	if (!rc && want)
		rc = view_may(v, uid, w, want);
	if (!rc && (w->kind == W_ROOT || w->kind == W_TOP))
		rc = parent ? -EPERM : -EBUSY;
	if (!rc && !w->h->frag)
		rc = -EROFS;
	if (!rc)
		rc = own_path(w);
	if (rc) {
		lf_mutex_unlock(&v->lock);
		lf_mutex_unlock(&v->save_lock);
	}
	return rc;
}

static int change_end(struct lf_regview *v, int rc);

/* What a create or mkdir replies: PATH's attributes as she is shown
 * them (st NULL: none asked). */
static int reply_stat(struct lf_regview *v, const char *path, struct stat *st)
{
	struct where w;
	int rc = st ? view_resolve(v, path, 0, &w) : 0;
	if (st && !rc)
		rc = view_stat(v, &w, st);
	if (st && !rc)
		view_show(v, &w, st);
	return rc;
}

/* change_begin for PATH, which must be a value: -EISDIR for a key. */
static int change_value_begin(struct lf_regview *v, uid_t uid, uint32_t want, const char *path,
			      struct where *w)
{
	int rc = change_begin(v, uid, want, path, 0, w);
	if (!rc && w->kind != W_VALUE)
		rc = change_end(v, w->kind == W_KEY ? -EISDIR : -EPERM);
	return rc;
}

/* The end of a change: its save, if it made one, is written with the
 * view's lock let go (save_lock still held: the next change waits, and
 * so does a new layer set), then the view learns how it went. */
static int change_end(struct lf_regview *v, int rc)
{
	struct vhive *h = v->pending;
	if (h) {
		uint8_t *img = v->pending_img;
		size_t size = v->pending_size;
		v->pending = NULL;
		v->pending_img = NULL;
		h->saving = 1;
		lf_mutex_unlock(&v->lock);
		struct lf_err err = {0};
		int wrc = write_frag(v, h, img, size, &err);
		free(img);
		lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
		h->saving = 0;
		if (wrc)
			rc = not_saved(v, h, &err);
		else
			h->seen = frag_now(v, h);
	}
	lf_mutex_unlock(&v->lock);
	lf_mutex_unlock(&v->save_lock);
	return rc;
}

int lf_regview_create(struct lf_regview *v, uid_t uid, const char *path, struct stat *st)
{
	struct where w;
	int rc = change_begin(v, uid, LF_KEY_SET_VALUE, path, 1, &w);
	if (rc)
		return rc;
	if (check_name(&w, 0))
		return change_end(v, -EINVAL);
	if (lf_rval_find(w.key, w.last) || (!w.value_mark && !w.is_default &&
					     lf_rkey_find(w.key, w.last)))
		return change_end(v, -EEXIST);
	static const uint8_t empty[2];
	rc = set_value(v, &w, w.last, REG_SZ, empty, 2);
	return change_end(v, rc ? rc : reply_stat(v, path, st));
}

/* Set the value PATH names from its own text or bytes. */
static int change_value(struct lf_regview *v, uid_t uid, uint32_t want, const char *path,
			int how, const void *p, size_t n)
{
	struct where w;
	int rc = change_value_begin(v, uid, want, path, &w);
	if (rc)
		return rc;
	uint32_t type = w.val->type;
	uint8_t *data = NULL;
	uint32_t len = 0;
	if (how == 0) {                       /* the file's text */
		rc = lf_regval_parse(type, p, n, &data, &len);
	} else if (how == 1) {                /* user.reg.type: the text, read anew */
		char *text;
		size_t tl;
		rc = lf_regtype_parse(p, n, &type);
		if (!rc)
			rc = lf_regval_text(w.val->type, w.val->data, w.val->len, &text, &tl);
		if (!rc) {
			rc = lf_regval_parse(type, text, tl, &data, &len);
			free(text);
		}
	} else if (how == 3) {                /* its text cut (or zero-filled) to n bytes */
		char *text = NULL;
		size_t tl = 0;
		rc = lf_regval_text(type, w.val->data, w.val->len, &text, &tl);
		char *cut = rc ? NULL : calloc(1, n ? n : 1);
		if (!rc && !cut)
			rc = -ENOMEM;
		if (cut) {
			memcpy(cut, text, tl < n ? tl : n);
			rc = lf_regval_parse(type, cut, n, &data, &len);
		}
		free(text);
		free(cut);
	} else {                              /* user.reg.raw */
		data = malloc(n ? n : 1);
		rc = data ? 0 : -ENOMEM;
		if (data)
			memcpy(data, p, n);
		len = (uint32_t)n;
	}
	char *name = rc ? NULL : strdup(w.val->name);
	if (!rc && !name)
		rc = -ENOMEM;
	if (!rc)
		rc = set_value(v, &w, name, type, data, len);
	free(name);
	free(data);
	return change_end(v, rc);
}

int lf_regview_write(struct lf_regview *v, const char *path, const char *text, size_t len)
{
	return change_value(v, 0, 0, path, 0, text, len);
}

int lf_regview_truncate(struct lf_regview *v, uid_t uid, const char *path, size_t size)
{
	return change_value(v, uid, LF_KEY_SET_VALUE, path, 3, NULL, size);
}

int lf_regview_setxattr(struct lf_regview *v, uid_t uid, const char *path, const char *name,
			const void *value, size_t size)
{
	if (!strcmp(name, LF_REG_TYPE_XATTR))
		return change_value(v, uid, LF_KEY_SET_VALUE, path, 1, value, size);
	if (!strcmp(name, LF_REG_RAW_XATTR))
		return change_value(v, uid, LF_KEY_SET_VALUE, path, 2, value, size);
	return -ENOTSUP;
}

int lf_regview_unlink(struct lf_regview *v, uid_t uid, const char *path)
{
	struct where w;
	int rc = change_value_begin(v, uid, LF_KEY_SET_VALUE, path, &w);
	if (rc)
		return rc;
	char *name = strdup(w.val->name);
	rc = name ? drop_value(&w, name) : -ENOMEM;
	free(name);
	return change_end(v, rc ? rc : save_later(v, w.h));
}

int lf_regview_mkdir(struct lf_regview *v, uid_t uid, const char *path, struct stat *st)
{
	struct where w;
	int rc = change_begin(v, uid, LF_KEY_CREATE_SUB_KEY, path, 1, &w);
	if (rc)
		return rc;
	rc = check_name(&w, 1);
	if (!rc && lf_rkey_find(w.key, w.last))
		rc = -EEXIST;
	struct lf_rkey *k = rc ? NULL : lf_rkey_new(w.last, view_now());
	if (!rc && k && view_new_key_sd(v, &w, k)) {
		lf_rkey_free(k);
		k = NULL;
	}
	if (!rc && (!k || lf_rkey_add(w.key, k))) {
		lf_rkey_free(k);
		rc = -ENOMEM;
	}
	if (!rc) {
		/* made again after a deletion: nothing of the old one below */
		char tok[1100];
		struct lf_rkey *fk = key_at_names(w.h->frag, w.names, w.depth, 0);
		int again = !token(tok, sizeof tok, w.last) && fk && lf_rkey_find(fk, tok);
		rc = put_key(&w, k, again);
	}
	if (!rc)
		rc = save_later(v, w.h);
	return change_end(v, rc ? rc : reply_stat(v, path, st));
}

/* w (a key) one level up: its parent's where, and its own name. */
static void where_up(struct where *w)
{
	w->depth--;
	w->key = key_at_names(w->h->view, w->names, w->depth, 0);
	w->kind = W_KEY;
}

int lf_regview_rmdir(struct lf_regview *v, uid_t uid, const char *path)
{
	struct where w;
	int rc = change_begin(v, uid, LF_DELETE, path, 0, &w);
	if (rc)
		return rc;
	if (w.kind != W_KEY)
		return change_end(v, -ENOTDIR);
	if (w.depth == 0)
		return change_end(v, -EBUSY);            /* a hive's root */
	if (w.key->nsub || w.key->nval)
		return change_end(v, -ENOTEMPTY);
	char name[1024];
	snprintf(name, sizeof name, "%s", w.names[w.depth - 1]);
	where_up(&w);
	rc = drop_key(&w, name, 0);
	return change_end(v, rc ? rc : save_later(v, w.h));
}

/* Is key k at or above the key w resolves to? */
static int contains(const struct where *w, const struct lf_rkey *k)
{
	for (int i = 0; i <= w->depth; i++)
		if (key_at_names(w->h->view, w->names, i, 0) == k)
			return 1;
	return 0;
}

static int rename_value(struct lf_regview *v, struct where *from, struct where *to,
			unsigned flags)
{
	const char *tn = to->is_default ? "" : to->last;
	if (!to->value_mark && !to->is_default && lf_rkey_find(to->key, tn))
		return -EISDIR;
	struct lf_rval *there = lf_rval_find(to->key, tn);
	if (there == from->val && !strcmp(from->val->name, tn))
		return 0;                         /* onto itself */
	if (there && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	uint32_t type = from->val->type, len = from->val->len;
	uint8_t *data = malloc(len ? len : 1);
	char *name = strdup(from->val->name);
	int rc = data && name ? 0 : -ENOMEM;
	if (!rc) {
		memcpy(data, from->val->data, len);
		rc = drop_value(from, name);
	}
	if (!rc)
		rc = set_value(v, to, tn, type, data, len);
	free(data);
	free(name);
	return rc;
}

static int rename_key(struct lf_regview *v, struct where *from, struct where *to,
		      unsigned flags)
{
	struct lf_rkey *k = from->key;
	if (from->depth == 0)
		return -EBUSY;
	if (to->value_mark || to->is_default || check_name(to, 1))
		return -EINVAL;
	if (lf_rval_find(to->key, to->last) && !lf_rkey_find(to->key, to->last))
		return -ENOTDIR;
	if (contains(to, k))
		return -EINVAL;                   /* into itself */
	struct lf_rkey *there = lf_rkey_find(to->key, to->last);
	if (there == k) {                         /* a new spelling */
		char *n = strdup(to->last);
		struct lf_rkey *fk = n ? key_at_names(from->h->frag, from->names, from->depth, 1) : NULL;
		char *fn = fk ? strdup(to->last) : NULL;
		if (!fn) {
			free(n);
			return -ENOMEM;
		}
		free(k->name);
		k->name = n;
		free(fk->name);
		fk->name = fn;
		where_up(from);
		lf_rkey_changed(from->key);
		struct lf_rkey *fp = key_at_names(from->h->frag, from->names, from->depth, 0);
		if (fp)
			lf_rkey_changed(fp);
		touch(from->key, fp);
		return save_later(v, from->h);
	}
	if (there && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (there && (there->nsub || there->nval))
		return -ENOTEMPTY;
	char name[1024];
	snprintf(name, sizeof name, "%s", from->names[from->depth - 1]);
	where_up(from);
	int rc = there ? drop_key(to, there->name, 0) : 0;
	if (!rc)
		rc = drop_key(from, name, 1);     /* k stays ours */
	char *nn = rc ? NULL : strdup(to->last);
	if (!rc && !nn)
		rc = -ENOMEM;
	if (!rc) {
		free(k->name);
		k->name = nn;
		rc = lf_rkey_add(to->key, k);
		if (rc)
			lf_rkey_free(k);
	}
	if (!rc)
		rc = put_key(to, k, 1);
	return rc ? rc : save_later(v, to->h);
}

int lf_regview_rename(struct lf_regview *v, uid_t uid, const char *from, const char *to,
		       unsigned flags)
{
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL;
	struct where f, t;
	int rc = change_begin(v, uid, 0, from, 0, &f);
	if (rc)
		return rc;
	/* a key: DELETE on it, a new subkey where it goes; a value: set
	 * values on both keys */
	int key = f.kind == W_KEY;
	rc = view_may(v, uid, &f, key ? LF_DELETE : LF_KEY_SET_VALUE);
	if (!rc)
		rc = view_resolve(v, to, 1, &t);
	if (!rc)
		rc = view_may(v, uid, &t, key ? LF_KEY_CREATE_SUB_KEY : LF_KEY_SET_VALUE);
	if (!rc && t.h != f.h)
		rc = -EXDEV;
	if (!rc)
		rc = own_path(&t);
	if (!rc && f.kind == W_VALUE)
		rc = check_name(&t, 0) ? -EINVAL : rename_value(v, &f, &t, flags);
	else if (!rc && f.kind == W_KEY)
		rc = rename_key(v, &f, &t, flags);
	else if (!rc)
		rc = -EPERM;
	return change_end(v, rc);
}
