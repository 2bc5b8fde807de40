/* Internals of the registry view shared by its read side (reg_view.c)
 * and its write side (reg_view_write.c). */
#ifndef LF_REG_VIEW_INT_H
#define LF_REG_VIEW_INT_H

#include <pthread.h>
#include <sys/stat.h>

#include "layerfs/regview.h"

#define MAX_KEY_DEPTH 512

/* One hive of the view. "fixed": set when the view is made, never
 * changed; the rest under the view's lock (v->lock, REG_VIEW). */
struct vhive {
	char top[16];            /* fixed: "HKLM" */
	char *name;              /* fixed: "SOFTWARE" */
	struct lf_hive *lower;   /* fixed: the read-only layers, merged (frozen,
				  * shared through the hive cache; read only) */
	struct lf_rkey *view;    /* v->lock: what shows, lower with the fragment on it */
	struct lf_rkey *frag;    /* v->lock: the writable layer's fragment, or NULL */
	char *frag_file;         /* fixed */
	int is_system;           /* fixed: HKLM/SYSTEM, CurrentControlSet shows */
	const char *read_only;   /* fixed: shown read-only, why (lower->base_only), or NULL */
	int saving;              /* v->lock: a save of it is under way (save_lock
				  * held): view_refresh leaves it alone */
	struct frag_id {         /* v->lock: the fragment file as the view last read or wrote it */
		dev_t dev;
		ino_t ino;
		off_t size;
		struct timespec mtime;
		int there;
	} seen;
};

/* Locks of regfs (their place in the one map: fs/union/union_int.h):
 * regfs' FUSE glue takes an open value file's f->lock (REG_FILE) before
 * the view's, to write the buffer it holds. A change takes save_lock
 * (REG_SAVE) first and holds it to the end, its save included; the
 * view's lock (REG_VIEW) guards everything below (the hives, what shows,
 * the fragments, the access memo) and is held for the whole of each
 * lf_regview_* call, which never calls another, but for a change's
 * save: the fragment's bytes are made under it, then written, fsynced
 * and renamed with it let go (readers of any key go on; other changes
 * wait on save_lock), and on a failure the view is put back under it.
 * Under the view's lock only the hive cache's lock and leaves (regfs'
 * node table is taken by the glue alone, never under it). The view
 * never calls into a union while it holds its lock. */
struct lf_regview {          /* "fixed": set by lf_regview_new, never changed */
	pthread_mutex_t save_lock; /* REG_SAVE: one change at a time, to its save */
	pthread_mutex_t lock;    /* REG_VIEW */
	struct vhive *h;         /* fixed array; each hive's fields as it says */
	int n;                   /* fixed */
	const struct lf_merge *rules;               /* fixed */
	void (*log)(void *ctx, const char *line);   /* fixed */
	void *log_ctx;           /* fixed */
	int64_t started;         /* fixed: FILETIME, the synthetic folders' time */
	int frag_root;           /* fixed: fragments below it are reached through it, or -1 */
	char *frag_root_path;    /* fixed */
	uid_t uid;               /* fixed: who everything belongs to */
	int private_root;        /* fixed: one user's view, the root closed to others */
	gid_t gid;               /* fixed */
	struct regaccess *access; /* set before the view serves (lf_regview_set_access):
				   * Windows rights decide (a session), or NULL;
				   * its memo under lock */
	struct timespec checked;  /* lock: when the fragments were last looked at */
	struct vhive *pending;    /* save_lock: the hive the change under way
				   * saves when it ends, or NULL */
	uint8_t *pending_img;     /* save_lock: its fragment's bytes */
	size_t pending_size;      /* save_lock */
};

enum where_kind { W_ROOT, W_TOP, W_KEY, W_VALUE, W_LINK };

/* A path resolved. */
struct where {
	enum where_kind kind;
	const char *top;         /* W_TOP */
	struct vhive *h;
	struct lf_rkey *key;     /* the key, or the value's key */
	struct lf_rval *val;
	int link_set;            /* W_LINK: the ControlSet number */
	/* the key's path inside its hive (view spellings), root excluded */
	const char *names[MAX_KEY_DEPTH];
	int depth;
	char last[1024];         /* the last component, decoded */
	int value_mark, is_default;
};

/* A fragment changed on disk beside the view (a reset through the drive,
 * a fragment replaced): show it afresh. At most every 100 ms unless
 * force (a change is about to be made). Caller holds v->lock. */
void view_refresh(struct lf_regview *v, int force);

/* Resolve PATH; with want_parent, the key PATH's last component would
 * live in (the name decoded into w->last): 0 or -errno. */
int view_resolve(struct lf_regview *v, const char *path, int want_parent, struct where *w);
/* Which ControlSet CurrentControlSet names in a SYSTEM hive's root, or 0. */
int view_current_set(struct lf_rkey *root);
void view_log(struct lf_regview *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t view_now(void);
/* reg_access.c: the rights uid has on w's key (all when rights are not
 * checked); a new key's descriptor, inherited from parent's; freeing. */
uint32_t view_rights(struct lf_regview *v, uid_t uid, const struct where *w);
/* 0, or -EACCES unless uid holds want (LF_KEY_*, LF_DELETE) on w's key
 * (a value: its key); 0 when rights are not checked. */
int view_may(struct lf_regview *v, uid_t uid, const struct where *w, uint32_t want);
/* st's mode as shown: the session user's rights whoever asks. */
void view_show(struct lf_regview *v, const struct where *w, struct stat *st);
/* reg_view.c: w's attributes. */
int view_stat(struct lf_regview *v, const struct where *w, struct stat *st);
int view_new_key_sd(struct lf_regview *v, const struct where *parent, struct lf_rkey *k);
void view_access_free(struct lf_regview *v);

#endif
