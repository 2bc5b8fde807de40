/* layerd: the daemon that composes each user's desktop at login. One
 * process serves every session; a layer many users have is opened once. */
#ifndef LAYERD_INT_H
#define LAYERD_INT_H

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "layerfs/err.h"
#include "layerfs/layer.h"
#include "layerfs/regcompose.h"
#include "layerfs/repo.h"

/* --- layers shared between sessions (layerd_layers.c) --- */
struct layer_cache;
struct layer_cache *layer_cache_new(void);
void layer_cache_free(struct layer_cache *c);
/* lf_union_opts.open_layer / close_layer over the cache */
int layer_cache_open(void *ctx, const char *path, const struct lf_layer_opts *o,
		     struct lf_layer **out, struct lf_err *err);
void layer_cache_close(void *ctx, struct lf_layer *l);
/* How many layers are open, and how many references they have. */
void layer_cache_count(struct layer_cache *c, int *layers, int *refs);

/* --- sessions (layerd_session.c) --- */
struct daemon {
	char *repo;              /* the repository's folder (with --registry: Users/ alone) */
	char *registry;          /* --registry HOST/NAME[:TAG]: the control artifact, or NULL */
	char *run;               /* where mounts go: RUN/USER/C, RUN/USER/REG */
	char *machine;
	struct layer_cache *layers;
	struct lf_hive_cache *hives; /* merged hives shared by sessions of one stack */
	struct session *sessions;
	/* logins under way, by user: a login holds the lock only to check
	 * and to publish, so logins, logoffs and status go on meanwhile */
	struct arrival { const char *user; struct arrival *next; } *arriving;
	pthread_mutex_t lock;    /* DAEMON: sessions, arriving (the lock map:
				  * fs/union/union_int.h) */
	void (*log)(const char *fmt, ...);
	char *admin_group;       /* its members' tokens hold BUILTIN\Administrators */
};

/* The repository as it is now: the folder's control files, or the
 * registry's control artifact (its layers oci:// references). */
int daemon_repo_open(struct daemon *d, struct lf_repo **r, struct lf_err *err);

/* Who logs in, for her token. */
struct session_who {
	const char *user;
	uid_t uid;
	const char *const *groups;   /* her assignment groups */
	int ngroups;
	const char *admin_group;     /* NULL: none */
};
/* Her Windows token (layerd_token.c): SID from REPO/UserMapping or the
 * OS image's machine SID; groups of a standard interactive user, and
 * Administrators for the admin group's members. */
struct lf_union;
struct lf_token;
int session_token(struct lf_union *u, int repofd, const char *repo, uint32_t os_id,
		  const struct session_who *who, struct lf_token *t, struct lf_err *err);

struct login_req {
	const char *user;
	const char *const *groups;
	int ngroups;
	const char *machine;     /* NULL: the daemon's */
};

/* Log USER in: resolve its stack, open the layers, make its
 * personalization layer, mount RUN/USER/C and RUN/USER/REG (owned by the
 * user, closed to others). The reply says what was mounted and what was
 * left out; on failure nothing stays. */
int session_login(struct daemon *d, const struct login_req *r, json_t **reply, struct lf_err *err);
int session_logoff(struct daemon *d, const char *user, struct lf_err *err);
void session_logoff_all(struct daemon *d);
/* The merged view USER would get at a login (her stack, read only, no
 * personalization layer), for the console's pictures: its union, its
 * layers as a login reports them, what was left out. */
struct stack_view {
	struct lf_union *u;
	json_t *layers, *skipped;
};
int stack_view_open(struct daemon *d, const struct login_req *req, struct stack_view *v,
		    struct lf_err *err);
void stack_view_close(struct stack_view *v);
/* Sessions as JSON; only USER's unless user is NULL. */
json_t *session_status(struct daemon *d, const char *user);
/* Read the control files again and bring every session's app layers in
 * line (added and removed without a remount; what a running program holds
 * of a layer taken out stays readable until logoff). at_logoff: nothing
 * changes now; each session says what its next login brings (pending). */
int session_refresh(struct daemon *d, int at_logoff, json_t **reply, struct lf_err *err);

/* --- a session's host folders (layerd_upper.c) --- */
/* REPO/Users (root, 0700), Users/USER (root, 0700), Users/USER/ID (the
 * user's: C:\ shows as hers) with C:\Users\USER in it, made or checked
 * through fds from ROOT (rel: "Users/USER/ID"); a symlink or a non-folder
 * is refused; folders older versions gave the user are taken back. The
 * session lock is taken (*lockfd). The layer's fd, or -1 with err set. */
int upper_prepare(struct daemon *d, const char *root, const char *rel, const char *user,
		  uid_t uid, gid_t gid, int *lockfd, struct lf_err *err);
/* RUN/USER with the mount points C and REG, all root's (a user who owned
 * them could swap a mount point for a link between check and mount): 0,
 * or -1 with err set. */
int run_prepare(struct daemon *d, const char *run, const char *user, struct lf_err *err);

/* --- mounts an earlier layerd left (layerd_recover.c) --- */
/* Detach layerd's own FUSE mounts below RUN (below RUN/USER with user)
 * that no session of this daemon holds; how many. */
int recover_mounts(struct daemon *d, const char *user);

/* --- the socket (layerd_server.c) --- */
/* Serve requests on fd until a signal asks to stop. */
int server_run(struct daemon *d, int listen_fd);
/* A listening unix socket at PATH (a stale one from a crash replaced),
 * open to anyone: who connects decides what it may do (SO_PEERCRED).
 * The layerd socket's and the console's. The fd, or -1 with err set. */
int server_listen_unix(const char *path, struct lf_err *err);

/* A first login: C:\Users\Default copied to C:\Users\USER through the
 * session's union, owned by her (layerd_profile.c); *made says whether it
 * was. A profile with its NTUSER.DAT is left alone. */
struct lf_union;
int profile_make(struct lf_union *u, const char *user, uid_t uid, gid_t gid, int *made,
		 char *note, size_t nsize, struct lf_err *err);
/* layerd_profile_hive.c: a profile hive that cannot be used (a symlink,
 * not a file, not a hive) set aside as NAME.bad-DATE, said in note; and
 * her hives' keys given to her (her SID) where they are Default's copy,
 * a hive that is not (not hers) said. made: a profile made just now. */
struct lf_sid;
int profile_set_aside(struct lf_union *u, const char *user, char *note, size_t nsize);
int profile_hive_rights(struct lf_union *u, const char *user, const struct lf_sid *her,
			uid_t uid, gid_t gid, int made, char *note, size_t nsize);

#endif
