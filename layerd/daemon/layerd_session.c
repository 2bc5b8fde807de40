/* A user's session: the stack the repository gives the user on this
 * machine, mounted at RUN/USER/C (the drive) and RUN/USER/REG (the
 * registry), both the user's and closed to every other user. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/fuse_ll.h"
#include "layerfs/fuse_reg.h"
#include "layerd_int.h"
#include "layerfs/oci.h"
#include "layerfs/regcompose.h"
#include "layerfs/safe_path.h"
#include "layerfs/security.h"
#include "layerfs/union.h"
#include "layerfs/lockcheck.h"

/* where a Windows installation keeps HKLM's hives */
#define LF_HKLM_FOLDER "Windows/System32/config"

struct session {
	char *user;
	uid_t uid;
	gid_t gid;
	char *machine;
	char **groups;
	int ngroups;
	uint32_t os_id;
	char dir[PATH_MAX], c[PATH_MAX + 8], reg[PATH_MAX + 8], upper[PATH_MAX];
	int lockfd;
	int upfd;                /* the personalization layer's folder */
	struct lf_union *u;
	struct lf_regview *v;
	struct lf_fuse_mount *cm;
	struct lf_regfs_mount *rm;
	/* what status shows: swapped under d->lock (a refresh makes them
	 * under op, then swaps them in), read under d->lock */
	json_t *layers, *skipped;
	json_t *pending;         /* refresh --at-logoff: what her next login brings */
	json_t *detached;        /* layers a refresh took out, still open behind the drive */
	/* SESSION lock: one refresh or the logoff of this session at a time,
	 * without d->lock held (a refresh of twenty sessions took seconds
	 * with every login and status waiting on d->lock) */
	pthread_mutex_t op;
	int refs;                /* under d->lock: the list's, and each refresh's
				  * (a logoff frees it when only the list's is left) */
	int gone;                /* under d->lock: logged off, out of the list */
	time_t since;
	char sid[200];           /* her Windows SID */
	char profile_note[2000]; /* what her login did to her profile's hives, or "" */
	int admin;
	struct lf_token token;   /* hers, for the registry view */
	struct session *next;
};

static struct session *session_find(struct daemon *d, const char *user)
{
	struct session *s = d->sessions;
	while (s && strcmp(s->user, user))
		s = s->next;
	return s;
}

static void session_free(struct daemon *d, struct session *s)
{
	lf_regfs_stop(s->rm);
	lf_fuse_stop(s->cm);
	lf_union_close(s->u);
	lf_regview_free(s->v);
	lf_hive_cache_trim(d->hives);  /* the hives of a stack no one uses now */
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->upfd >= 0)
		close(s->upfd);
	if (s->dir[0]) {
		rmdir(s->c);
		rmdir(s->reg);
		rmdir(s->dir);
	}
	json_decref(s->layers);
	json_decref(s->skipped);
	json_decref(s->pending);
	json_decref(s->detached);
	pthread_mutex_destroy(&s->op);
	for (int i = 0; i < s->ngroups; i++)
		free(s->groups[i]);
	free(s->groups);
	lf_token_free(&s->token);
	free(s->user);
	free(s->machine);
	free(s);
}

static struct lf_union_opts union_opts(struct daemon *d)
{
	struct lf_union_opts o = { .stack = lf_reg_stack, .open_layer = layer_cache_open,
				   .close_layer = layer_cache_close, .layer_ctx = d->layers,
				   .windows_names = 1 };
	o.stacked = lf_hive_patterns(&o.nstacked);
	return o;
}

/* The stack: every resolved layer that opens; an app layer that does not
 * is left out and said, anything else fails the login. */
/* Layers opened to see that they open, held until the unions that use
 * them have taken their own references (else each would be opened twice). */
struct held {
	struct lf_layer **v;
	size_t n;
};

static void held_release(struct daemon *d, struct held *h)
{
	for (size_t i = 0; i < h->n; i++)
		layer_cache_close(d->layers, h->v[i]);
	free(h->v);
	memset(h, 0, sizeof *h);
}

/* The stack res resolves to, its layers open (held); *layers as a login
 * reports them, with each one's host file and SHA-256 when with_files
 * (the console's, not a user's status). */
static int build_stack(struct daemon *d, const char *user, const struct lf_repo *r,
		       const struct lf_resolution *res, struct lf_stack *st, json_t **layers,
		       json_t **skipped, struct held *h, int with_files, struct lf_err *err)
{
	*layers = json_array();
	*skipped = json_array();
	for (size_t i = 0; i < res->nskipped; i++)
		json_array_append_new(*skipped, json_pack("{s:i, s:s}", "id", (int)res->skipped[i].id,
							  "why", res->skipped[i].why));
	for (size_t i = 0; i < res->n; i++) {
		const struct lf_repo_layer *l = res->v[i].layer;
		char path[PATH_MAX], spec[PATH_MAX + 300];
		struct lf_err le = {0};
		struct lf_layer *probe = NULL;
		int rc = lf_repo_path(r, l->file, path, sizeof path, &le);
		if (!rc)
			rc = layer_cache_open(d->layers, path, NULL, &probe, &le);
		struct lf_layer **v = probe ? realloc(h->v, (h->n + 1) * sizeof *v) : NULL;
		if (v) {
			h->v = v;
			h->v[h->n++] = probe;
		} else {
			layer_cache_close(d->layers, probe);
		}
		if (rc && l->type == LF_LAYER_APP) {
			d->log("%s: app layer %s (%u) left out: %s", user, l->name, l->id, le.msg);
			json_array_append_new(*skipped, json_pack("{s:i, s:s}", "id", (int)l->id,
								  "why", le.msg));
			continue;
		}
		if (rc)
			return lf_err_set(err, le.code, "%s layer %s (%u): %s", lf_layer_type_name(l->type),
					  l->name, l->id, le.msg);
		snprintf(spec, sizeof spec, "%s,name=%s,type=%s,prio=%ld", path, l->name,
			 lf_layer_type_name(l->type), l->priority);
		rc = lf_stack_add(st, spec, err);
		if (rc)
			return rc;
		json_t *lj = json_pack("{s:i, s:i, s:s, s:s, s:i}", "id", (int)l->id,
			"revision", (int)l->revision, "name", l->name, "type",
			lf_layer_type_name(l->type), "priority", (int)l->priority);
		if (with_files) {
			json_object_set_new(lj, "file", json_string(path));
			json_object_set_new(lj, "sha256", json_string(l->sha256));
		}
		/* open from before, its file gone meanwhile: kept, and said */
		if (!lf_oci_is_uri(path) && access(path, F_OK) < 0 && errno == ENOENT) {
			d->log("%s: %s layer %s (%u): its file %s is missing; the open layer stays "
			       "until logoff", user, lf_layer_type_name(l->type), l->name, l->id, path);
			json_object_set_new(lj, "file_missing", json_true());
		}
		json_array_append_new(*layers, lj);
	}
	return lf_stack_sort(st, err);
}

/* The registry of the same layers, with the personalization layer's
 * fragments; NULL and no error when no layer has a hive. */
static int build_registry(struct daemon *d, struct session *s, struct lf_stack *st,
			  struct lf_regview **out, struct lf_err *err)
{
	struct lf_union *ro;
	struct lf_union_opts o = union_opts(d);
	char *upper = st->upper;
	st->upper = NULL;        /* the view takes the fragments itself */
	int rc = lf_union_open(st, &o, &ro, err);
	st->upper = upper;
	if (rc)
		return rc;
	struct lf_regview *v = NULL;
	rc = lf_regview_new(NULL, NULL, NULL, &v) ? lf_err_set(err, ENOMEM, "out of memory") : 0;
	/* fragments only through the layer's folder fd: never through a link */
	int fr = rc ? 0 : lf_regview_set_frag_root(v, s->upfd, s->upper);
	if (fr)
		rc = lf_err_set(err, -fr, "%s: %s", s->upper, strerror(-fr));
	int n = rc ? 0 : lf_regview_add_union(v, ro, NULL, s->upper, d->hives, err);
	lf_union_close(ro);
	if (!rc && n < 0)
		rc = -err->code;
	/* her own hives, made from Default at her first login */
	int own = rc ? 0 : lf_regview_add_user(v, s->user, s->upper, err);
	if (!rc && own < 0)
		rc = -err->code;
	else
		n += own;
	if (rc || n == 0) {
		lf_regview_free(v);
		v = NULL;
	}
	if (v)
		lf_regview_set_owner(v, s->uid, s->gid);
	char mount[600], why[600];
	for (int i = 0; v && lf_regview_read_only(v, i, mount, sizeof mount, why, sizeof why); i++)
		d->log("%s: %s is read-only: %s", s->user, mount, why);
	/* her keys' descriptors decide, as on C: */
	if (v && lf_regview_set_access(v, s->user, s->uid, s->gid, &s->token)) {
		lf_regview_free(v);
		v = NULL;
		rc = lf_err_set(err, ENOMEM, "out of memory");
	}
	*out = v;
	return rc;
}

static int session_rights(struct daemon *d, struct session *s, const char *repo,
			  struct lf_err *err)
{
	int repofd = open(repo, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (repofd < 0)
		return lf_err_set(err, errno, "%s: %s", repo, strerror(errno));
	struct session_who who = { s->user, s->uid, (const char *const *)s->groups, s->ngroups,
				   d->admin_group };
	struct lf_token *t = &s->token;
	int rc = session_token(s->u, repofd, repo, s->os_id, &who, t, err);
	close(repofd);
	if (rc)
		return rc;
	lf_sid_to_text(&t->user, s->sid, sizeof s->sid);
	s->admin = lf_token_has(t, &lf_sid_admins);
	rc = lf_union_set_access(s->u, s->uid, s->gid, t);
	return rc ? lf_err_set(err, -rc, "out of memory") : 0;
}

static int mount_all(struct daemon *d, struct session *s, struct lf_err *err)
{
	char opts[512];
	/* no default_permissions: the union checks each request against the
	 * descriptors, for the exact right Windows would ask */
	snprintf(opts, sizeof opts, "allow_other,fsname=layerd:%s,subtype=layerfs", s->user);
	struct lf_fuse_opts fo = { .mountpoint = s->c, .timeout = 60, .fuse_opts = opts };
	if (lf_fuse_start(s->u, &fo, 4, &s->cm))
		return lf_err_set(err, EIO, "%s: cannot mount the drive", s->c);
	if (!s->v)
		return 0;
	snprintf(opts, sizeof opts, "allow_other,fsname=layerd-reg:%s,subtype=regfs", s->user);
	struct lf_regfs_opts ro = { .mountpoint = s->reg, .fuse_opts = opts };
	if (lf_regfs_start(s->v, &ro, 2, &s->rm))
		return lf_err_set(err, EIO, "%s: cannot mount the registry", s->reg);
	(void)d;
	return 0;
}

static int add_group(char ***groups, int *ngroups, const char *name)
{
	for (int i = 0; i < *ngroups; i++)
		if (!strcmp((*groups)[i], name))
			return 0;
	char **g = realloc(*groups, (size_t)(*ngroups + 1) * sizeof *g);
	if (!g)
		return -ENOMEM;
	*groups = g;
	if (!(g[*ngroups] = strdup(name)))
		return -ENOMEM;
	(*ngroups)++;
	return 0;
}

/* Her assignment groups, into *groups (each malloc'd): her Unix groups,
 * as the host knows them (a directory service through NSS; none without
 * an account, ACCT NULL), and those the caller names too. */
static int login_groups(const char *user, const struct lf_account *acct,
			const struct login_req *req, char ***groups, int *ngroups,
			struct lf_err *err)
{
	enum { MAX_GROUPS = 4096 };
	char **names = acct ? malloc(MAX_GROUPS * sizeof *names) : NULL;
	int n = !acct ? 0 : names ? lf_account_groups(acct, names, MAX_GROUPS) : -ENOMEM;
	int rc = n < 0 ? n : 0;
	for (int i = 0; i < n; i++) {
		if (!rc)
			rc = add_group(groups, ngroups, names[i]);
		free(names[i]);
	}
	free(names);
	for (int i = 0; !rc && i < req->ngroups; i++)
		rc = add_group(groups, ngroups, req->groups[i]);
	return rc ? lf_err_set(err, -rc, "%s: her groups: %s", user, strerror(-rc)) : 0;
}

/* HKLM's fragments go to Windows/System32/config of her layer. The folder
 * is made before the drive's union opens, so that the union knows it: one
 * regfs made beside it would not be in the union's folders (the drive's
 * hive would not show what REG wrote), and a later change through the
 * drive there would find it in the way of its copy-up. */
static int fragment_folder(struct session *s, struct lf_err *err)
{
	int fd = lf_safe_mkdirs(s->upfd, LF_HKLM_FOLDER, 0755, (uid_t)-1, (gid_t)-1);
	if (fd < 0)
		return lf_err_set(err, -fd, "%s/%s: %s", s->upper, LF_HKLM_FOLDER, strerror(-fd));
	close(fd);
	return 0;
}

int session_login(struct daemon *d, const struct login_req *req, json_t **reply, struct lf_err *err)
{
	const char *why;
	if (!lf_repo_rel_ok(req->user, &why) || strchr(req->user, '/'))
		return lf_err_set(err, EINVAL, "user name '%s': %s", req->user,
				  strchr(req->user, '/') ? "holds '/'" : why);
	struct lf_account acct;
	int found = lf_account_get(req->user, 0, &acct);
	if (found == -ENOENT)
		return lf_err_set(err, ENOENT, "%s: no such account on this host", req->user);
	if (found)
		return lf_err_set(err, -found, "%s: the account database: %s", req->user,
				  strerror(-found));
	lf_mutex_lock(&d->lock, LF_LK_DAEMON);
	struct arrival *a = d->arriving;
	while (a && strcmp(a->user, req->user))
		a = a->next;
	if (session_find(d, req->user) || a) {
		lf_mutex_unlock(&d->lock);
		return lf_err_set(err, EBUSY, "%s is logged in already", req->user);
	}
	struct arrival me = { req->user, d->arriving };
	d->arriving = &me;
	lf_mutex_unlock(&d->lock);
	struct session *s = calloc(1, sizeof *s);
	struct lf_repo *r = NULL;
	struct lf_resolution res = {0};
	struct lf_stack st = {0};
	struct held held = {0};
	int rc = s ? 0 : lf_err_set(err, ENOMEM, "out of memory");
	if (!rc) {
		pthread_mutex_init(&s->op, NULL);
		s->refs = 1;
		s->lockfd = s->upfd = -1;
		s->user = strdup(req->user);
		s->uid = acct.uid;
		s->gid = acct.gid;
		s->machine = strdup(req->machine ? req->machine : d->machine);
		s->since = time(NULL);
		rc = daemon_repo_open(d, &r, err);
	}
	if (!rc)
		rc = login_groups(s->user, &acct, req, &s->groups, &s->ngroups, err);
	if (!rc)
		rc = lf_repo_resolve(r, s->user, (const char *const *)s->groups, s->ngroups,
				     s->machine, &res, err);
	for (size_t i = 0; !rc && i < res.nskipped; i++)
		if (res.skipped[i].required)
			rc = lf_err_set(err, ENOENT, "%s", res.skipped[i].why);
	if (!rc)
		rc = build_stack(d, s->user, r, &res, &st, &s->layers, &s->skipped, &held, 0, err);
	if (!rc)
		s->os_id = res.os->id;
	/* the personalization layer, made on first login, with the lock */
	if (!rc && (size_t)snprintf(s->upper, sizeof s->upper, "%s/%s", r->root, res.upper) >= sizeof s->upper)
		rc = lf_err_set(err, ENAMETOOLONG, "%s: too long", res.upper);
	if (!rc && (s->upfd = upper_prepare(d, r->root, res.upper, s->user, s->uid, s->gid,
					     &s->lockfd, err)) < 0)
		rc = -err->code;
	if (!rc)
		rc = fragment_folder(s, err);
	if (!rc)
		rc = lf_stack_set_upper(&st, s->upper, NULL, err);
	struct lf_union_opts uo = union_opts(d);
	if (!rc)
		rc = lf_union_open(&st, &uo, &s->u, err);
	/* from here on her descriptors decide what she may do on C: */
	if (!rc)
		rc = session_rights(d, s, r->root, err);
	int made = 0;
	if (!rc && profile_make(s->u, s->user, s->uid, s->gid, &made, s->profile_note,
				sizeof s->profile_note, err)) {
		/* she still logs in (Windows would give a temporary profile) */
		d->log("login %s: %s", s->user, err->msg);
		made = 0;
	}
	if (made)
		d->log("login %s: profile made from C:\\Users\\Default", s->user);
	if (s->profile_note[0])
		d->log("login %s: %s", s->user, s->profile_note);
	if (!rc)
		rc = build_registry(d, s, &st, &s->v, err);
	if (!rc)
		recover_mounts(d, s->user);   /* a dead mount of a killed layerd */
	if (!rc && run_prepare(d, d->run, s->user, err))
		rc = -err->code;
	if (!rc) {
		snprintf(s->dir, sizeof s->dir, "%s/%s", d->run, s->user);
		snprintf(s->c, sizeof s->c, "%s/C", s->dir);
		snprintf(s->reg, sizeof s->reg, "%s/REG", s->dir);
	}
	if (!rc)
		rc = mount_all(d, s, err);
	lf_mutex_lock(&d->lock, LF_LK_DAEMON);
	struct arrival **pa = &d->arriving;
	while (*pa != &me)
		pa = &(*pa)->next;
	*pa = me.next;
	if (!rc) {
		s->detached = json_array();
		s->next = d->sessions;
		d->sessions = s;
		*reply = json_pack("{s:b, s:s, s:s, s:s?, s:s, s:O, s:O}", "ok", 1, "user", s->user,
				   "drive", s->c, "registry", s->v ? s->reg : NULL, "personalization",
				   s->upper, "layers", s->layers, "left_out", s->skipped);
		d->log("login %s on %s: %zu layers, %zu left out, mounted at %s", s->user, s->machine,
		       json_array_size(s->layers), json_array_size(s->skipped), s->c);
	}
	lf_mutex_unlock(&d->lock);
	if (rc && s)
		session_free(d, s);
	held_release(d, &held);
	lf_stack_free(&st);
	lf_resolution_free(&res);
	lf_repo_free(r);
	return rc;
}

int session_logoff(struct daemon *d, const char *user, struct lf_err *err)
{
	lf_mutex_lock(&d->lock, LF_LK_DAEMON);
	struct session **p = &d->sessions;
	while (*p && strcmp((*p)->user, user))
		p = &(*p)->next;
	struct session *s = *p;
	if (s) {
		*p = s->next;
		s->gone = 1;
	}
	lf_mutex_unlock(&d->lock);
	if (!s)
		return lf_err_set(err, ENOENT, "%s is not logged in", user);
	/* every refresh holding her session lets go first; then it is
	 * freed here, before the answer: unmounted, her layer's lock let go
	 * (a login right after must find it free; the 20-user day logged
	 * her on again while a refresh still held the old session) */
	for (;;) {
		lf_mutex_lock(&s->op, LF_LK_SESSION);
		lf_mutex_lock(&d->lock, LF_LK_DAEMON);
		int alone = s->refs == 1;
		lf_mutex_unlock(&d->lock);
		lf_mutex_unlock(&s->op);
		if (alone)
			break;
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	}
	d->log("logoff %s: the personalization layer stays in %s", s->user, s->upper);
	session_free(d, s);
	return 0;
}

void session_logoff_all(struct daemon *d)
{
	while (d->sessions) {
		struct lf_err err;
		char user[256];
		snprintf(user, sizeof user, "%s", d->sessions->user);
		session_logoff(d, user, &err);
	}
}

/* The layers a refresh took out that stay open behind her drive (an open
 * file, a shell's folder of theirs), until logoff: their names. */
static json_t *detached_of(struct session *s)
{
	json_t *out = json_array();
	int n = lf_union_nlayers(s->u), k = lf_union_ndetached(s->u);
	for (int i = 0; i < k; i++)
		json_array_append_new(out, json_string(lf_union_spec(s->u, n + i)->name));
	return out;
}

/* Her hives shown read-only (a layer's copy lost its last write), and
 * why: s->v lives while s is in the list (d->lock held). */
static json_t *read_only_of(struct session *s)
{
	json_t *out = json_array();
	char mount[600], why[600];
	for (int i = 0; s->v && lf_regview_read_only(s->v, i, mount, sizeof mount, why, sizeof why);
	     i++)
		json_array_append_new(out, json_pack("{s:s, s:s}", "hive", mount, "why", why));
	return out;
}

json_t *session_status(struct daemon *d, const char *user)
{
	json_t *list = json_array();
	lf_mutex_lock(&d->lock, LF_LK_DAEMON);
	for (struct session *s = d->sessions; s; s = s->next) {
		if (user && strcmp(user, s->user))
			continue;
		json_t *one = json_pack("{s:s, s:i, s:s, s:b, s:s, s:I, s:s, s:s?, s:s, s:O, s:O}",
			"user", s->user, "uid", (int)s->uid, "sid", s->sid, "admin", s->admin,
			"machine", s->machine,
			"since", (json_int_t)s->since, "drive", s->c, "registry", s->v ? s->reg : NULL,
			"personalization", s->upper, "layers", s->layers, "left_out", s->skipped);
		if (s->pending)
			json_object_set(one, "pending", s->pending);
		json_object_set_new(one, "read_only_hives", read_only_of(s));
		if (s->profile_note[0])
			json_object_set_new(one, "profile", json_string(s->profile_note));
		json_object_set(one, "detached", s->detached);
		json_t *g = json_array();
		for (int k = 0; k < s->ngroups; k++)
			json_array_append_new(g, json_string(s->groups[k]));
		json_object_set_new(one, "groups", g);
		json_array_append_new(list, one);
	}
	lf_mutex_unlock(&d->lock);
	int nl, nr;
	layer_cache_count(d->layers, &nl, &nr);
	return json_pack("{s:b, s:o, s:i, s:i}", "ok", 1, "sessions", list, "open_layers", nl,
			 "layer_references", nr);
}

/* "id:rev" of each layer of a session's list, to compare two lists. */
static int same_layers(json_t *a, json_t *b)
{
	if (json_array_size(a) != json_array_size(b))
		return 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *x = json_array_get(a, i), *y = json_array_get(b, i);
		if (json_integer_value(json_object_get(x, "id")) != json_integer_value(json_object_get(y, "id")) ||
		    json_integer_value(json_object_get(x, "revision")) !=
		    json_integer_value(json_object_get(y, "revision")))
			return 0;
	}
	return 1;
}

/* Layers in a but not in b, as "NAME (ID rev R)". */
static json_t *missing_from(json_t *a, json_t *b)
{
	json_t *out = json_array();
	size_t i, k;
	json_t *x, *y;
	json_array_foreach(a, i, x) {
		int found = 0;
		json_array_foreach(b, k, y)
			found |= json_equal(x, y);
		if (!found)
			json_array_append_new(out, json_sprintf("%s (%lld rev %lld)",
				json_string_value(json_object_get(x, "name")),
				json_integer_value(json_object_get(x, "id")),
				json_integer_value(json_object_get(x, "revision"))));
	}
	return out;
}

/* What status shows of s, swapped in under d->lock (references taken):
 * new layers and left-out lists (NULL: as they are), what waits for the
 * next login, and, after a new layer set, the layers kept detached. */
static void shown(struct daemon *d, struct session *s, json_t *layers, json_t *skipped,
		  json_t *pending, int relayered)
{
	json_t *detached = relayered ? detached_of(s) : NULL;
	lf_mutex_lock(&d->lock, LF_LK_DAEMON);
	if (layers) {
		json_decref(s->layers);
		s->layers = layers;
	}
	if (skipped) {
		json_decref(s->skipped);
		s->skipped = skipped;
	}
	json_decref(s->pending);
	s->pending = pending;
	if (detached) {
		json_decref(s->detached);
		s->detached = detached;
	}
	lf_mutex_unlock(&d->lock);
}

/* One session brought in line with the repository r (its op lock held). */
static json_t *refresh_one(struct daemon *d, struct session *s, const struct lf_repo *r,
			   int at_logoff)
{
	struct lf_resolution res = {0};
	struct lf_stack st = {0};
	struct held held = {0};
	struct lf_err err = {0};
	json_t *layers = NULL, *skipped = NULL, *out = NULL;
	struct lf_regview *v = NULL;
	int rc = lf_repo_resolve(r, s->user, (const char *const *)s->groups, s->ngroups, s->machine,
				 &res, &err);
	if (!rc && res.os->id != s->os_id)
		rc = lf_err_set(&err, EXDEV, "the OS layer is now %s (%u): it comes at the next login",
				res.os->name, res.os->id);
	for (size_t i = 0; !rc && i < res.nskipped; i++)
		if (res.skipped[i].required)
			rc = lf_err_set(&err, ENOENT, "%s: the session keeps its layers", res.skipped[i].why);
	if (!rc)
		rc = build_stack(d, s->user, r, &res, &st, &layers, &skipped, &held, 0, &err);
	if (!rc && same_layers(layers, s->layers)) {
		shown(d, s, NULL, NULL, NULL, 0);   /* nothing waits for her next login */
		out = json_pack("{s:s, s:b}", "user", s->user, "changed", 0);
		json_t *gone = json_array();
		size_t i;
		json_t *l;
		json_array_foreach(layers, i, l)
			if (json_is_true(json_object_get(l, "file_missing")))
				json_array_append(gone, json_object_get(l, "name"));
		if (json_array_size(gone))
			json_object_set_new(out, "missing_files", gone);
		else
			json_decref(gone);
	} else if (!rc && at_logoff) {
		/* the white paper's rule, asked for: her session keeps its
		 * layers; the next login brings the new ones */
		json_t *pending = json_pack("{s:o, s:o}", "added", missing_from(layers, s->layers),
					    "removed", missing_from(s->layers, layers));
		out = json_pack("{s:s, s:b, s:O}", "user", s->user, "changed", 0, "pending", pending);
		d->log("refresh %s: %zu added, %zu removed at the next login", s->user,
		       json_array_size(json_object_get(pending, "added")),
		       json_array_size(json_object_get(pending, "removed")));
		shown(d, s, NULL, NULL, pending, 0);
	} else if (!rc) {
		/* the drive first: its new layers show at once, in place; what
		 * the kernel holds of a layer taken out reads it on (detached)
		 * until forgotten */
		rc = fragment_folder(s, &err);
		if (!rc)
			rc = lf_stack_set_upper(&st, s->upper, NULL, &err);
		if (!rc)
			rc = lf_union_set_layers(s->u, &st, lf_fuse_inval, s->cm, &err);
		if (!rc)
			rc = build_registry(d, s, &st, &v, &err);
		if (!rc && s->v && v) {
			lf_regview_take(s->v, v);
		} else if (!rc && v) {
			lf_regview_free(v);  /* a registry where there was none: at the next login */
		}
		if (!rc) {
			out = json_pack("{s:s, s:b, s:o, s:o}", "user", s->user, "changed", 1,
					"added", missing_from(layers, s->layers),
					"removed", missing_from(s->layers, layers));
			shown(d, s, json_incref(layers), json_incref(skipped), NULL, 1);
			d->log("refresh %s: %zu layers now", s->user, json_array_size(layers));
		}
	}
	if (rc) {
		d->log("refresh %s: %s", s->user, err.msg);
		out = json_pack("{s:s, s:b, s:s}", "user", s->user, "changed", 0, "error", err.msg);
	}
	json_decref(layers);
	json_decref(skipped);
	held_release(d, &held);
	lf_stack_free(&st);
	lf_resolution_free(&res);
	return out;
}

int stack_view_open(struct daemon *d, const struct login_req *req, struct stack_view *v,
		    struct lf_err *err)
{
	memset(v, 0, sizeof *v);
	struct lf_account acct;
	char **names = NULL;
	int n = 0;
	struct lf_repo *r = NULL;
	struct lf_resolution res = {0};
	struct lf_stack st = {0};
	struct held h = {0};
	int rc = login_groups(req->user, lf_account_get(req->user, 0, &acct) == 0 ? &acct : NULL,
			      req, &names, &n, err);
	if (!rc)
		rc = daemon_repo_open(d, &r, err);
	if (!rc)
		rc = lf_repo_resolve(r, req->user, (const char *const *)names, n,
				     req->machine ? req->machine : d->machine, &res, err);
	if (!rc)
		rc = build_stack(d, req->user, r, &res, &st, &v->layers, &v->skipped, &h, 1, err);
	struct lf_union_opts uo = union_opts(d);
	if (!rc)
		rc = lf_union_open(&st, &uo, &v->u, err);
	held_release(d, &h);
	lf_stack_free(&st);
	lf_resolution_free(&res);
	lf_repo_free(r);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc)
		stack_view_close(v);
	return rc;
}

void stack_view_close(struct stack_view *v)
{
	if (v->u)
		lf_union_close(v->u);
	json_decref(v->layers);
	json_decref(v->skipped);
	memset(v, 0, sizeof *v);
}

int daemon_repo_open(struct daemon *d, struct lf_repo **r, struct lf_err *err)
{
	return d->registry ? lf_repo_open_registry(d->registry, d->repo, r, err)
			   : lf_repo_open(d->repo, r, err);
}

int session_refresh(struct daemon *d, int at_logoff, json_t **reply, struct lf_err *err)
{
	struct lf_repo *r;
	if (daemon_repo_open(d, &r, err))
		return -err->code;
	json_t *list = json_array();
	/* the sessions as they are now, each held; then one at a time under
	 * its own lock, d->lock free for logins, logoffs and status */
	lf_mutex_lock(&d->lock, LF_LK_DAEMON);
	size_t n = 0;
	for (struct session *s = d->sessions; s; s = s->next)
		n++;
	struct session **v = calloc(n ? n : 1, sizeof *v);
	n = 0;
	for (struct session *s = d->sessions; v && s; s = s->next) {
		s->refs++;
		v[n++] = s;
	}
	lf_mutex_unlock(&d->lock);
	if (!v) {
		lf_repo_free(r);
		json_decref(list);
		return lf_err_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct session *s = v[i];
		lf_mutex_lock(&s->op, LF_LK_SESSION);
		lf_mutex_lock(&d->lock, LF_LK_DAEMON);
		int gone = s->gone;
		lf_mutex_unlock(&d->lock);
		if (!gone)
			json_array_append_new(list, refresh_one(d, s, r, at_logoff));
		/* never the last reference: a logoff frees the session, once
		 * no refresh holds it */
		lf_mutex_lock(&d->lock, LF_LK_DAEMON);
		s->refs--;
		lf_mutex_unlock(&d->lock);
		lf_mutex_unlock(&s->op);
	}
	free(v);
	lf_repo_free(r);
	*reply = json_pack("{s:b, s:o}", "ok", 1, "sessions", list);
	return 0;
}
