/* Windows rights in a session: each entry's security descriptor (its
 * top layer's system.ntfs_acl, or one made from its POSIX mode where it
 * has none) decides what the session's user may do, checked per request
 * for the exact right it needs; root is SYSTEM, anyone else gets
 * nothing. What the user may do is also what `ls -l` shows her. The
 * rights a descriptor gives the user are kept by descriptor (a Windows
 * volume has a few thousand distinct ones), compared byte for byte. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/bytes.h"
#include "layerfs/hash.h"
#include "layerfs/security.h"
#include "union_int.h"
#include "layerfs/lockcheck.h"

#define ACL_XATTR "system.ntfs_acl"
#define NCACHE 1024

struct rights_memo {
	uint8_t *sd;
	size_t len;
	uint32_t rights;
};

struct access {
	int plain;               /* a mount without a session: modes only */
	uint32_t uid, gid;
	struct lf_token token, system;
	struct lf_token admin, user;   /* plain: who owner and other bits speak for */
	pthread_mutex_t lock;
	struct rights_memo memo[NCACHE];
};

int lf_union_set_access(struct lf_union *u, uint32_t uid, uint32_t gid, const struct lf_token *t)
{
	struct access *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->uid = uid;
	a->gid = gid;
	if (lf_token_copy(&a->token, t)) {
		free(a);
		return -ENOMEM;
	}
	lf_token_system(&a->system);
	pthread_mutex_init(&a->lock, NULL);
	u->access = a;
	return 0;
}

int lf_union_set_plain_access(struct lf_union *u)
{
	struct access *a = calloc(1, sizeof *a);
	/* any local account: only its groups matter */
	struct lf_sid someone = lf_sid_users;
	someone.sub[1] = 1000;
	if (!a)
		return -ENOMEM;
	if (lf_token_user(&a->admin, &someone, 1) || lf_token_user(&a->user, &someone, 0)) {
		lf_token_free(&a->admin);
		free(a);
		return -ENOMEM;
	}
	a->plain = 1;
	lf_token_system(&a->system);
	pthread_mutex_init(&a->lock, NULL);
	u->access = a;
	return 0;
}

void union_access_free(struct lf_union *u)
{
	struct access *a = u->access;
	if (!a)
		return;
	lf_token_free(&a->admin);
	lf_token_free(&a->user);
	for (int i = 0; i < NCACHE; i++)
		free(a->memo[i].sd);
	lf_token_free(&a->token);
	pthread_mutex_destroy(&a->lock);
	free(a);
	u->access = NULL;
}

int lf_union_checks_access(const struct lf_union *u)
{
	return u->access && !u->access->plain;
}

/* The token a request's caller holds: NULL for nobody. */
static const struct lf_token *caller_token_of(const struct access *a, const struct lf_cred *c)
{
	if (!c || c->uid == 0)
		return &a->system;
	return c->uid == a->uid ? &a->token : NULL;
}

/* A request through the mount (union_req.c) asks for the same
 * descriptors more than once: a create checks the folder's and then
 * inherits from it, a rename checks both folders twice, and its reply
 * shows the entry. While a request runs on this thread the descriptors
 * read are kept (a copy handed out each time) until it leaves or changes
 * the tree. Thread-local: a request runs on one thread, start to end. */
struct sd_seen {
	uint64_t ino;
	uint8_t *sd;
	size_t len;
};
static _Thread_local struct {
	int on;
	int n;
	struct sd_seen v[4];
} req_seen;

void union_sds_begin(void)
{
	req_seen.on = 1;
	req_seen.n = 0;
}

void union_sds_forget(void)
{
	for (int i = 0; i < req_seen.n; i++)
		free(req_seen.v[i].sd);
	req_seen.n = 0;
}

void union_sds_end(void)
{
	union_sds_forget();
	req_seen.on = 0;
}

static int sd_copy(const uint8_t *from, size_t len, uint8_t **sd, size_t *out)
{
	*sd = malloc(len ? len : 1);
	if (!*sd)
		return -ENOMEM;
	memcpy(*sd, from, len);
	*out = len;
	return 0;
}

static void sd_keep(uint64_t ino, const uint8_t *sd, size_t len)
{
	if (!req_seen.on || req_seen.n == (int)(sizeof req_seen.v / sizeof req_seen.v[0]))
		return;
	struct sd_seen *e = &req_seen.v[req_seen.n];
	if (sd_copy(sd, len, &e->sd, &e->len) == 0) {
		e->ino = ino;
		req_seen.n++;
	}
}

/* Node ino's descriptor as read from its layers (*sd malloc'd): its own,
 * or one made from the mode of an entry that has none, owned by the
 * session user when the host file is hers (her files in the writable
 * layer). */
static int read_sd(struct lf_union *u, uint64_t ino, uint8_t **sd, size_t *len)
{
	char *own;
	ssize_t n = union_xattr_alloc(u, ino, ACL_XATTR, &own);
	if (n > 0) {
		*sd = (uint8_t *)own;
		*len = (size_t)n;
		return 0;
	}
	free(own);
	if (n < 0 && n != -ENODATA && n != -ENOTSUP)
		return (int)n;
	struct lf_attr at;
	int rc = union_plain_attr(u, ino, &at);
	if (rc)
		return rc;
	const struct access *a = u->access;
	return lf_sd_from_mode(at.mode, a && at.uid == a->uid && a->uid ? &a->token.user : NULL,
			       sd, len);
}

int union_win_sd(struct lf_union *u, uint64_t ino, uint8_t **sd, size_t *len)
{
	for (int i = 0; i < req_seen.n; i++)
		if (req_seen.v[i].ino == ino)
			return sd_copy(req_seen.v[i].sd, req_seen.v[i].len, sd, len);
	int rc = read_sd(u, ino, sd, len);
	if (!rc)
		sd_keep(ino, *sd, *len);
	return rc;
}

int lf_union_win_sd(struct lf_union *u, uint64_t ino, uint8_t **sd, size_t *len)
{
	union_enter(u);
	return union_leave(u, union_win_sd(u, ino, sd, len));
}

uint32_t lf_union_win_attrib(struct lf_union *u, const struct lf_attr *at)
{
	uint8_t v[4];
	if (lf_union_getxattr(u, at->ino, "system.ntfs_attrib", v, sizeof v) == sizeof v)
		return le32(v);
	/* a file with none is NORMAL, as Windows (and ntfs-3g) say it */
	return at->wattr || S_ISDIR(at->mode) ? at->wattr : 0x80;
}

static size_t memo_slot(const uint8_t *sd, size_t len)
{
	return (size_t)(lf_fnv1a(sd, len) % NCACHE);
}

/* What a descriptor means for this union: the session user's rights,
 * or, in a plain mount, the mode bits it shows. */
static uint32_t meaning(struct access *a, const uint8_t *sd, size_t len)
{
	if (!a->plain)
		return lf_sd_rights(sd, len, &a->token, &lf_file_map);
	uint32_t own = lf_sd_rights(sd, len, &a->admin, &lf_file_map);
	uint32_t oth = lf_sd_rights(sd, len, &a->user, &lf_file_map);
	return lf_rights_rwx(own, 0) << 3 | lf_rights_rwx(oth, 0);   /* files' bits */
}

/* meaning(), remembered by descriptor. */
static uint32_t remembered(struct access *a, const uint8_t *sd, size_t len)
{
	size_t k = memo_slot(sd, len);
	lf_mutex_lock(&a->lock, LF_LK_LEAF);
	struct rights_memo *m = &a->memo[k];
	if (m->sd && m->len == len && !memcmp(m->sd, sd, len)) {
		uint32_t r = m->rights;
		lf_mutex_unlock(&a->lock);
		return r;
	}
	lf_mutex_unlock(&a->lock);
	uint32_t r = meaning(a, sd, len);
	uint8_t *copy = malloc(len ? len : 1);
	if (copy) {
		memcpy(copy, sd, len);
		lf_mutex_lock(&a->lock, LF_LK_LEAF);
		free(m->sd);
		*m = (struct rights_memo){ copy, len, r };
		lf_mutex_unlock(&a->lock);
	}
	return r;
}

/* The rights t has by descriptor sd (the session user's remembered). */
static uint32_t rights_by(struct access *a, const struct lf_token *t, const uint8_t *sd, size_t len)
{
	return t == &a->token ? remembered(a, sd, len) : lf_sd_rights(sd, len, t, &lf_file_map);
}

static int node_rights(struct lf_union *u, const struct lf_token *t, uint64_t ino, uint32_t *out)
{
	if (t->system) {
		*out = lf_file_map.all | LF_ACCESS_SYSTEM_SECURITY;
		return 0;
	}
	uint8_t *sd;
	size_t len;
	int rc = union_win_sd(u, ino, &sd, &len);
	if (rc)
		return rc;
	*out = rights_by(u->access, t, sd, len);
	free(sd);
	return 0;
}

/* In a session, the token c acts with (*t; -EACCES for nobody); *t NULL
 * where rights are not checked. */
static int caller(struct lf_union *u, const struct lf_cred *c, const struct lf_token **t)
{
	struct access *a = u->access;
	*t = NULL;
	if (!a || a->plain)
		return 0;
	*t = caller_token_of(a, c);
	return *t ? 0 : -EACCES;
}

int union_may(struct lf_union *u, const struct lf_cred *c, uint64_t ino, uint32_t want)
{
	const struct lf_token *t;
	int rc = caller(u, c, &t);
	if (rc || !t)
		return rc;
	uint32_t got;
	rc = node_rights(u, t, ino, &got);
	if (rc)
		return rc;
	return lf_rights_allow(got, want, &lf_file_map);
}

int union_may_delete(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		     const char *name)
{
	if (!lf_union_checks_access(u))
		return 0;
	/* FILE_DELETE_CHILD on the folder lets any entry in it go */
	if (union_may(u, c, parent, LF_FILE_DELETE_CHILD) == 0)
		return 0;
	struct lf_attr at;
	int rc = union_lookup(u, parent, name, &at);
	if (rc)
		return rc == -ENOENT ? 0 : rc;    /* the call itself says ENOENT */
	rc = union_may(u, c, at.ino, LF_DELETE);
	union_forget(u, at.ino, 1);
	return rc;
}

/* A plain mount: an entry of a read-only layer with a descriptor of its
 * own and no Linux metadata shows owner root, owner bits what Administrators
 * (and SYSTEM) may do, group and other bits what a standard user may. */
/* Is node ino the writable layer's (a host file, with its POSIX owner
 * and mode, changed through the mount)? */
static int from_upper(struct lf_union *u, uint64_t ino)
{
	if (!u->upper)
		return 0;
	struct unode *n = node_get(u, ino);
	int r = n && node_top(u, n).layer == 0;
	if (n)
		node_put(u, n, 0);
	return r;
}

static void show_plain(struct lf_union *u, struct lf_attr *at)
{
	struct access *a = u->access;
	if ((at->flags & LF_ATTR_LX) || from_upper(u, at->ino))
		return;
	uint8_t buf[4096];
	ssize_t n = union_getxattr(u, at->ino, ACL_XATTR, buf, sizeof buf);
	if (n <= 0 || lf_sd_check(buf, (size_t)n, NULL))
		return;                  /* none (or one we cannot read): POSIX as it is */
	uint32_t bits = remembered(a, buf, (size_t)n);
	unsigned own = bits >> 3 & 7, oth = bits & 7;
	if (S_ISDIR(at->mode)) {     /* folders: always x (bypass traverse) */
		own |= 1;
		oth |= 1;
	}
	at->mode = (at->mode & S_IFMT) | own << 6 | oth << 3 | oth;
	at->uid = at->gid = 0;
}

void union_show(struct lf_union *u, const struct lf_cred *c, struct lf_attr *at)
{
	struct access *a = u->access;
	if (!a)
		return;
	if (a->plain) {
		show_plain(u, at);
		return;
	}
	/* her rights, whoever looks: the kernel keeps one set of attributes
	 * per file for every caller, and root (SYSTEM) is checked here, not
	 * by the mode */
	(void)c;
	uint32_t got = 0;
	uint8_t *sd = NULL;
	size_t len = 0;
	int hers = 0;
	if (union_win_sd(u, at->ino, &sd, &len) == 0) {
		got = rights_by(a, &a->token, sd, len);
		struct lf_sid owner;
		hers = lf_sd_owner(sd, len, &owner) == 0 && lf_sid_eq(&owner, &a->token.user);
		free(sd);
	}
	unsigned rwx = lf_rights_rwx(got, S_ISDIR(at->mode));
	at->mode = (at->mode & S_IFMT) | rwx << 6 | rwx << 3 | rwx;
	at->uid = hers ? a->uid : 0;
	at->gid = hers ? a->gid : 0;
}

int union_new_sd(struct lf_union *u, const struct lf_cred *c, uint64_t parent, int folder,
		 uint8_t **sd, size_t *len)
{
	*sd = NULL;
	*len = 0;
	const struct lf_token *t;
	int rc = caller(u, c, &t);
	if (rc || !t)
		return rc;
	uint8_t *psd = NULL;
	size_t plen = 0;
	rc = union_win_sd(u, parent, &psd, &plen);
	if (rc)
		return rc;
	rc = lf_sd_inherit(psd, plen, t, folder, &lf_file_map, sd, len);
	free(psd);
	return rc;
}

int lf_union_new_sd(struct lf_union *u, const struct lf_cred *c, uint64_t parent, int folder,
		    uint8_t **sd, size_t *len)
{
	union_enter(u);
	return union_leave(u, union_new_sd(u, c, parent, folder, sd, len));
}

/* ---- the right each request needs ---- */

int union_may_open(struct lf_union *u, const struct lf_cred *c, uint64_t ino, int flags)
{
	if (!lf_union_checks_access(u))
		return 0;
	uint32_t want = 0;
	int acc = flags & O_ACCMODE;
	if (acc == O_RDONLY || acc == O_RDWR)
		want |= LF_FILE_READ_DATA;
	if (acc == O_WRONLY || acc == O_RDWR)
		/* appending needs FILE_APPEND_DATA only, as on Windows */
		want |= (flags & O_APPEND) && !(flags & O_TRUNC) ? LF_FILE_APPEND_DATA
								  : LF_FILE_WRITE_DATA;
	if (flags & O_TRUNC)
		want |= LF_FILE_WRITE_DATA;
	return union_may(u, c, ino, want);
}

int union_may_make(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		   uint32_t type)
{
	return union_may(u, c, parent, S_ISDIR(type) ? LF_FILE_ADD_SUBDIRECTORY
						    : LF_FILE_ADD_FILE);
}

int union_may_link(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		   uint64_t newparent)
{
	/* Windows' hard-link mitigation (since Windows 10 1709; Project
	 * Zero's "Between a Rock and a Hard Link"): the file linked must be
	 * one she may change the attributes of, or a second name of SAM in
	 * her profile is hers to read */
	int rc = union_may(u, c, ino, LF_FILE_WRITE_ATTRIBUTES);
	return rc ? rc : union_may_make(u, c, newparent, S_IFREG);
}

int union_may_rename(struct lf_union *u, const struct lf_cred *c, uint64_t parent,
		     const char *name, uint64_t newparent, const char *newname)
{
	if (!lf_union_checks_access(u))
		return 0;
	struct lf_attr at;
	int rc = union_lookup(u, parent, name, &at);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	union_forget(u, at.ino, 1);
	rc = union_may_delete(u, c, parent, name);
	if (!rc)
		rc = union_may_make(u, c, newparent, at.mode & S_IFMT);
	if (!rc)             /* what it replaces goes */
		rc = union_may_delete(u, c, newparent, newname);
	return rc;
}

int union_may_setattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		      unsigned valid)
{
	if (!lf_union_checks_access(u))
		return 0;
	/* a mode is what her rights show, not a setting: Windows has none */
	if (valid & LF_SET_MODE) {
		const struct lf_token *t = caller_token_of(u->access, c);
		return t && t->system ? 0 : -EPERM;
	}
	uint32_t want = 0;
	if (valid & (LF_SET_UID | LF_SET_GID))
		want |= LF_WRITE_OWNER;
	if (valid & LF_SET_SIZE)
		want |= LF_FILE_WRITE_DATA;
	if (valid & (LF_SET_ATIME | LF_SET_MTIME | LF_SET_ATIME_NOW | LF_SET_MTIME_NOW))
		want |= LF_FILE_WRITE_ATTRIBUTES;
	return union_may(u, c, ino, want);
}

int union_may_xattr(struct lf_union *u, const struct lf_cred *c, uint64_t ino,
		    const char *name, int set)
{
	if (!lf_union_checks_access(u))
		return 0;
	if (!strcmp(name, ACL_XATTR))
		return union_may(u, c, ino, set ? LF_WRITE_DAC : LF_READ_CONTROL);
	if (!strncmp(name, "system.ntfs_", 12))
		return union_may(u, c, ino, set ? LF_FILE_WRITE_ATTRIBUTES
						: LF_FILE_READ_ATTRIBUTES);
	/* user.NAME is the stream FILE:NAME: opening it asks what opening
	 * the file's data asks (FILE_READ_DATA / FILE_WRITE_DATA) */
	if (!strncmp(name, "user.", 5))
		return union_may(u, c, ino, set ? LF_FILE_WRITE_DATA : LF_FILE_READ_DATA);
	/* others (security.*, trusted.*: the union answers them itself,
	 * refusing or empty) ask only to be set */
	return set ? union_may(u, c, ino, LF_FILE_WRITE_EA) : 0;
}

int union_may_list_xattrs(struct lf_union *u, const struct lf_cred *c, uint64_t ino)
{
	/* the names of a file's streams and EAs: what FileStreamInformation
	 * and FileFullEaInformation ask */
	if (!lf_union_checks_access(u))
		return 0;
	return union_may(u, c, ino, LF_FILE_READ_ATTRIBUTES | LF_FILE_READ_EA);
}

int union_may_access(struct lf_union *u, const struct lf_cred *c, uint64_t ino, int mask)
{
	if (!lf_union_checks_access(u))
		return 0;
	struct lf_attr at;
	int rc = union_getattr(u, ino, &at);
	if (rc)
		return rc;
	int dir = S_ISDIR(at.mode);
	uint32_t want = 0;
	if (mask & R_OK)
		want |= LF_FILE_READ_DATA;
	if (mask & W_OK)
		want |= LF_FILE_WRITE_DATA;
	if ((mask & X_OK) && !dir)
		want |= LF_FILE_EXECUTE;
	return union_may(u, c, ino, want);
}
