/* The registry view's read side: paths to keys and values, attributes,
 * listings, value text and xattrs. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/security.h"
#include "reg_view_int.h"
#include "layerfs/lockcheck.h"

#define FILETIME_UNIX 116444736000000000LL

int64_t view_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return FILETIME_UNIX + (int64_t)ts.tv_sec * 10000000 + ts.tv_nsec / 100;
}

void view_log(struct lf_regview *v, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (v->log)
		v->log(v->log_ctx, line);
	else
		fprintf(stderr, "regfs: %s\n", line);
}

int lf_regview_new(const struct lf_merge *rules, void (*log)(void *ctx, const char *line),
		   void *log_ctx, struct lf_regview **out)
{
	struct lf_regview *v = calloc(1, sizeof *v);
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->save_lock, NULL);
	pthread_mutex_init(&v->lock, NULL);
	v->rules = rules;
	v->log = log;
	v->log_ctx = log_ctx;
	v->started = view_now();
	v->uid = getuid();
	v->gid = getgid();
	v->frag_root = -1;
	*out = v;
	return 0;
}

int lf_regview_set_frag_root(struct lf_regview *v, int fd, const char *dir)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	char *p = d >= 0 ? strdup(dir) : NULL;
	if (!p) {
		int e = d < 0 ? errno : ENOMEM;
		if (d >= 0)
			close(d);
		return -e;
	}
	if (v->frag_root >= 0)
		close(v->frag_root);
	free(v->frag_root_path);
	v->frag_root = d;
	v->frag_root_path = p;
	return 0;
}

void lf_regview_set_owner(struct lf_regview *v, uid_t uid, gid_t gid)
{
	v->uid = uid;
	v->gid = gid;
	v->private_root = 1;
}

int lf_regview_read_only(struct lf_regview *v, int i, char *mount, size_t msize, char *why,
			 size_t wsize)
{
	int found = 0;
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	for (int k = 0; k < v->n && !found; k++)
		if (v->h[k].read_only && i-- == 0) {
			snprintf(mount, msize, "%s/%s", v->h[k].top, v->h[k].name);
			snprintf(why, wsize, "%s", v->h[k].read_only);
			found = 1;
		}
	lf_mutex_unlock(&v->lock);
	return found;
}

static void free_hives(struct vhive *h, int n)
{
	for (int i = 0; i < n; i++) {
		if (h[i].view != h[i].lower->root)
			lf_rkey_free(h[i].view);
		lf_hive_free(h[i].lower);
		lf_rkey_free(h[i].frag);
		free(h[i].frag_file);
		free(h[i].name);
	}
	free(h);
}

void lf_regview_take(struct lf_regview *v, struct lf_regview *from)
{
	/* not while a change's save is under way: it goes to its hive */
	lf_mutex_lock(&v->save_lock, LF_LK_REG_SAVE);
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct vhive *h = v->h;
	int n = v->n;
	v->h = from->h;
	v->n = from->n;
	from->h = h;
	from->n = n;
	/* a change saved between the new hives' reading and now is in a
	 * fragment newer than what they hold: shown now, not 100 ms later */
	view_refresh(v, 1);
	lf_mutex_unlock(&v->lock);
	lf_mutex_unlock(&v->save_lock);
	lf_regview_free(from);
}

void lf_regview_free(struct lf_regview *v)
{
	if (!v)
		return;
	free_hives(v->h, v->n);
	view_access_free(v);
	if (v->frag_root >= 0)
		close(v->frag_root);
	free(v->frag_root_path);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->save_lock);
	free(v);
}

int view_current_set(struct lf_rkey *root)
{
	struct lf_rkey *sel = lf_rkey_find(root, "Select");
	struct lf_rval *cur = sel ? lf_rval_find(sel, "Current") : NULL;
	if (!cur || cur->type != REG_DWORD || cur->len != 4)
		return 0;
	uint32_t n = (uint32_t)cur->data[0] | (uint32_t)cur->data[1] << 8 |
		     (uint32_t)cur->data[2] << 16 | (uint32_t)cur->data[3] << 24;
	if (n == 0 || n > 999)
		return 0;
	char name[32];
	snprintf(name, sizeof name, "ControlSet%03u", n);
	/* a stored CurrentControlSet key (a hive from a tool) shows as itself */
	return lf_rkey_find(root, name) && !lf_rkey_find(root, "CurrentControlSet") ? (int)n : 0;
}

/* The next component of *p (slashes skipped), copied to buf. */
static int next_component(const char **p, char *buf, size_t size)
{
	const char *s = *p;
	while (*s == '/')
		s++;
	const char *e = strchr(s, '/');
	size_t n = e ? (size_t)(e - s) : strlen(s);
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(buf, s, n);
	buf[n] = 0;
	*p = s + n;
	return (int)n;
}

static int is_last(const char *p)
{
	while (*p == '/')
		p++;
	return !*p;
}

int view_resolve(struct lf_regview *v, const char *path, int want_parent, struct where *w)
{
	view_refresh(v, 0);
	memset(w, 0, offsetof(struct where, names));
	w->depth = 0;
	w->last[0] = 0;
	w->value_mark = w->is_default = 0;
	w->kind = W_ROOT;
	char comp[1024];
	const char *p = path;
	int n;
	while ((n = next_component(&p, comp, sizeof comp)) != 0) {
		if (n < 0)
			return n;
		int last = is_last(p);
		if (last && want_parent) {
			if (w->kind != W_KEY)
				return w->kind == W_VALUE ? -ENOTDIR : -EPERM;
			return lf_regname_decode(comp, w->last, sizeof w->last, &w->value_mark,
						 &w->is_default);
		}
		switch (w->kind) {
		case W_ROOT:
			for (int i = 0; i < v->n && w->kind == W_ROOT; i++)
				if (!strcasecmp(v->h[i].top, comp)) {
					w->kind = W_TOP;
					w->top = v->h[i].top;
				}
			if (w->kind == W_ROOT)
				return -ENOENT;
			break;
		case W_TOP:
			for (int i = 0; i < v->n && w->kind == W_TOP; i++)
				if (!strcasecmp(v->h[i].top, w->top) && !strcasecmp(v->h[i].name, comp)) {
					w->kind = W_KEY;
					w->h = &v->h[i];
					w->key = v->h[i].view;
				}
			if (w->kind == W_TOP)
				return -ENOENT;
			break;
		case W_KEY: {
			int rc = lf_regname_decode(comp, w->last, sizeof w->last, &w->value_mark,
						   &w->is_default);
			if (rc)
				return -ENOENT;   /* a broken escape names nothing */
			struct lf_rkey *k = w->value_mark || w->is_default ? NULL
					    : lf_rkey_find(w->key, w->last);
			if (k) {
				if (w->depth == MAX_KEY_DEPTH)
					return -ELOOP;
				w->names[w->depth++] = k->name;
				w->key = k;
				break;
			}
			struct lf_rval *val = lf_rval_find(w->key, w->last);
			if (val) {
				w->kind = W_VALUE;
				w->val = val;
				break;
			}
			int set = w->depth == 0 && w->h->is_system && !w->value_mark &&
				  !strcasecmp(w->last, "CurrentControlSet")
				  ? view_current_set(w->key) : 0;
			if (!set)
				return -ENOENT;
			w->kind = W_LINK;
			w->link_set = set;
			break;
		}
		case W_VALUE:
		case W_LINK:
			return -ENOTDIR;
		}
	}
	return want_parent ? -EINVAL : 0;  /* the root has no parent */
}

static void ft_to_ts(int64_t ft, struct timespec *ts)
{
	int64_t t = ft - FILETIME_UNIX;
	ts->tv_sec = t / 10000000;
	ts->tv_nsec = (long)(t % 10000000) * 100;
	if (ts->tv_nsec < 0) {
		ts->tv_sec--;
		ts->tv_nsec += 1000000000;
	}
}

static int writable(const struct lf_regview *v, const struct vhive *h)
{
	if (h)
		return h->frag != NULL;
	for (int i = 0; i < v->n; i++)
		if (v->h[i].frag)
			return 1;
	return 0;
}

int view_stat(struct lf_regview *v, const struct where *w, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_uid = v->uid;
	st->st_gid = v->gid;
	st->st_blksize = 4096;
	int64_t ft = v->started;
	int rw = writable(v, w->h);
	switch (w->kind) {
	case W_ROOT:
		st->st_mode = S_IFDIR | (v->private_root ? 0500 : 0555) | (rw ? 0200 : 0);
		st->st_nlink = 2;
		break;
	case W_TOP:
		st->st_mode = S_IFDIR | 0555 | (rw ? 0200 : 0);
		st->st_nlink = 2;
		break;
	case W_KEY:
		st->st_mode = S_IFDIR | 0555 | (rw ? 0200 : 0);
		st->st_nlink = 2;
		ft = w->key->mtime;
		break;
	case W_VALUE: {
		char *text;
		size_t len;
		int rc = lf_regval_text(w->val->type, w->val->data, w->val->len, &text, &len);
		if (rc)
			return rc;
		free(text);
		st->st_mode = S_IFREG | 0444 | (rw ? 0200 : 0);
		st->st_nlink = 1;
		st->st_size = (off_t)len;
		ft = w->key->mtime;
		break;
	}
	case W_LINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = (off_t)strlen("ControlSet001");
		ft = w->key->mtime;
		break;
	}
	st->st_blocks = (st->st_size + 511) / 512;
	ft_to_ts(ft, &st->st_mtim);
	st->st_atim = st->st_ctim = st->st_mtim;
	return 0;
}

int lf_regview_stat(struct lf_regview *v, const char *path, struct stat *st)
{
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct where w;
	int rc = view_resolve(v, path, 0, &w);
	if (!rc)
		rc = view_stat(v, &w, st);
	lf_mutex_unlock(&v->lock);
	return rc;
}

/* w's entries to fn; with shown, each with the mode she is shown. */
static int list_key(struct lf_regview *v, struct where *w, int shown, lf_regview_fn fn,
		    void *ctx)
{
	struct lf_rkey *k = w->key;
	char name[1100];
	struct stat st;
	struct where c = *w;
	c.kind = W_KEY;
	if (w->depth < MAX_KEY_DEPTH)
		c.depth = w->depth + 1;      /* a subkey's rights: its own path */
	for (size_t i = 0; i < k->nsub; i++) {
		if (lf_regname_encode(k->sub[i]->name, 0, 0, name, sizeof name) < 0) {
			view_log(v, "%s/%s: a key name too long to show", w->top ? w->top : "",
				 k->sub[i]->name);
			continue;
		}
		c.key = k->sub[i];
		if (w->depth < MAX_KEY_DEPTH)
			c.names[w->depth] = k->sub[i]->name;
		if (view_stat(v, &c, &st))
			continue;
		if (shown)
			view_show(v, &c, &st);
		if (fn(ctx, name, &st))
			return 0;
	}
	c = *w;
	c.kind = W_VALUE;
	for (size_t i = 0; i < k->nval; i++) {
		const char *vn = k->val[i].name;
		int mark = *vn && lf_rkey_find(k, vn) != NULL;
		if (lf_regname_encode(vn, 1, mark, name, sizeof name) < 0) {
			view_log(v, "key '%s': value '%.40s...': a name too long to show", k->name, vn);
			continue;
		}
		c.val = &k->val[i];
		if (view_stat(v, &c, &st))
			continue;
		if (shown)
			view_show(v, &c, &st);
		if (fn(ctx, name, &st))
			return 0;
	}
	int set = w->depth == 0 && w->h->is_system ? view_current_set(k) : 0;
	if (set) {
		c.kind = W_LINK;
		if (!view_stat(v, &c, &st))
			fn(ctx, "CurrentControlSet", &st);
	}
	return 0;
}

/* The listing of PATH; with uid_asks, uid must hold
 * KEY_ENUMERATE_SUB_KEYS and the entries come as she is shown them. */
static int list_path(struct lf_regview *v, const char *path, int uid_asks, uid_t uid,
		     lf_regview_fn fn, void *ctx)
{
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct where w;
	int rc = view_resolve(v, path, 0, &w);
	if (!rc && uid_asks)
		rc = view_may(v, uid, &w, LF_KEY_ENUMERATE_SUB_KEYS);
	struct stat st;
	if (!rc && (w.kind == W_VALUE || w.kind == W_LINK))
		rc = -ENOTDIR;
	else if (!rc && w.kind == W_KEY)
		rc = list_key(v, &w, uid_asks, fn, ctx);
	else if (!rc) {
		/* the root lists the tops, a top its hives; each name once */
		view_stat(v, &w, &st);
		for (int i = 0; i < v->n; i++) {
			int seen = 0;
			for (int j = 0; j < i && w.kind == W_ROOT; j++)
				seen |= !strcmp(v->h[j].top, v->h[i].top);
			if (w.kind == W_TOP && strcmp(v->h[i].top, w.top))
				continue;
			if (!seen && fn(ctx, w.kind == W_ROOT ? v->h[i].top : v->h[i].name, &st))
				break;
		}
	}
	lf_mutex_unlock(&v->lock);
	return rc;
}

int lf_regview_list(struct lf_regview *v, const char *path, lf_regview_fn fn, void *ctx)
{
	return list_path(v, path, 0, 0, fn, ctx);
}

int lf_regview_list_as(struct lf_regview *v, uid_t uid, const char *path, lf_regview_fn fn,
		       void *ctx)
{
	return list_path(v, path, 1, uid, fn, ctx);
}

int lf_regview_stat_as(struct lf_regview *v, uid_t uid, const char *path, struct stat *st)
{
	(void)uid;               /* her rights are shown whoever asks */
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct where w;
	int rc = view_resolve(v, path, 0, &w);
	if (!rc)
		rc = view_stat(v, &w, st);
	if (!rc)
		view_show(v, &w, st);
	lf_mutex_unlock(&v->lock);
	return rc;
}

int lf_regview_open_as(struct lf_regview *v, uid_t uid, const char *path, int flags,
		       char **text, size_t *len)
{
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct where w;
	int rc = view_resolve(v, path, 0, &w);
	int acc = flags & O_ACCMODE;
	/* what view_stat says of w, without making the value's text twice */
	if (!rc && w.kind != W_VALUE && w.kind != W_LINK)
		rc = -EISDIR;
	if (!rc && w.kind == W_VALUE && acc != O_RDONLY && !writable(v, w.h))
		rc = -EROFS;
	if (!rc)
		rc = view_may(v, uid, &w, (acc != O_WRONLY ? LF_KEY_QUERY_VALUE : 0) |
				      (acc != O_RDONLY || (flags & O_TRUNC) ? LF_KEY_SET_VALUE : 0));
	if (!rc && w.kind != W_VALUE)
		rc = -EINVAL;            /* a link: read through readlink */
	if (!rc && text)
		rc = lf_regval_text(w.val->type, w.val->data, w.val->len, text, len);
	lf_mutex_unlock(&v->lock);
	return rc;
}

int lf_regview_read(struct lf_regview *v, const char *path, char **text, size_t *len)
{
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct where w;
	int rc = view_resolve(v, path, 0, &w);
	if (!rc && w.kind != W_VALUE)
		rc = w.kind == W_LINK ? -EINVAL : -EISDIR;
	if (!rc)
		rc = lf_regval_text(w.val->type, w.val->data, w.val->len, text, len);
	lf_mutex_unlock(&v->lock);
	return rc;
}

int lf_regview_readlink(struct lf_regview *v, const char *path, char *buf, size_t size)
{
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct where w;
	int rc = view_resolve(v, path, 0, &w);
	if (!rc && w.kind != W_LINK)
		rc = -EINVAL;
	if (!rc)
		snprintf(buf, size, "ControlSet%03d", w.link_set);
	lf_mutex_unlock(&v->lock);
	return rc;
}

/* Copy out an xattr's value as getxattr(2) does: size 0 asks the length. */
static ssize_t give_xattr(const void *p, size_t n, void *buf, size_t size)
{
	if (size == 0)
		return (ssize_t)n;
	if (size < n)
		return -ERANGE;
	memcpy(buf, p, n);
	return (ssize_t)n;
}

ssize_t lf_regview_listxattr(struct lf_regview *v, const char *path, char *buf, size_t size)
{
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct where w;
	ssize_t rc = view_resolve(v, path, 0, &w);
	static const char names[] = LF_REG_TYPE_XATTR "\0" LF_REG_RAW_XATTR;
	if (!rc)
		rc = w.kind == W_VALUE ? give_xattr(names, sizeof names, buf, size) : 0;
	lf_mutex_unlock(&v->lock);
	return rc;
}

ssize_t lf_regview_getxattr(struct lf_regview *v, const char *path, const char *name,
			    void *buf, size_t size)
{
	lf_mutex_lock(&v->lock, LF_LK_REG_VIEW);
	struct where w;
	ssize_t rc = view_resolve(v, path, 0, &w);
	if (!rc && w.kind != W_VALUE)
		rc = -ENODATA;
	else if (!rc && !strcmp(name, LF_REG_TYPE_XATTR)) {
		char t[40];
		int n = lf_regtype_name(w.val->type, t, sizeof t);
		rc = give_xattr(t, (size_t)n, buf, size);
	} else if (!rc && !strcmp(name, LF_REG_RAW_XATTR)) {
		/* an xattr holds 64 KiB at most (Linux's limit); the file has it */
		rc = w.val->len > 65536 ? -E2BIG : give_xattr(w.val->data, w.val->len, buf, size);
		if (rc == -E2BIG)
			view_log(v, "%s: user.reg.raw: the value's %u bytes are more than an xattr "
				 "holds (64 KiB): read the value's file instead", path, w.val->len);
	} else if (!rc) {
		rc = -ENODATA;
	}
	lf_mutex_unlock(&v->lock);
	return rc;
}
