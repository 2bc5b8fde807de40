/* The layer repository: control files, paths inside it, and which layers
 * a user gets on a machine. No FUSE here. docs/REPOSITORY.md has the
 * format.
 *
 *   REPO/GuestLayerFile.txt    the layers (JSON)
 *   REPO/LayerAssignment.txt   who gets which layers (JSON)
 *   REPO/Layers/{OS,Platform,App}/NAME.ID.REVISION.vhd(x)
 *   REPO/Users/USER/IDHEX_OSNAME/   personalization layers
 */
#ifndef LAYERFS_REPO_H
#define LAYERFS_REPO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "layerfs/err.h"
#include "layerfs/union.h"

#define LF_REPO_LAYERS_FILE "GuestLayerFile.txt"
#define LF_REPO_ASSIGN_FILE "LayerAssignment.txt"
#define LF_REPO_LOCK_FILE ".layerfs-lock"
/* A personalization layer in use by a session holds an flock on this
 * file in its folder (a token name: the union never shows it). */
#define LF_SESSION_LOCK ".wh..wh..session"

struct lf_repo_layer {
	uint32_t id, revision;
	char *name;
	enum lf_layer_type type;   /* LF_LAYER_OS, _PLATFORM or _APP */
	uint32_t os_layer;         /* the OS layer it was built on (an OS layer: itself) */
	long priority;
	char *file;                /* relative to REPO */
	char sha256[65];           /* lower-case hex */
	uint64_t size;
};

enum lf_principal { LF_PRINCIPAL_USER, LF_PRINCIPAL_GROUP, LF_PRINCIPAL_MACHINE };

struct lf_repo_ref {
	uint32_t id;
	uint32_t revision;         /* pinned; 0: the newest there is */
};

struct lf_repo_assignment {
	enum lf_principal kind;
	char *name;                /* machine: a shell pattern */
	struct lf_repo_ref *layers;
	size_t nlayers;
};

struct lf_repo {
	char *root;                /* REPO, resolved (no symlinks) */
	struct lf_repo_layer *layers;
	size_t nlayers;
	struct lf_repo_assignment *assign;
	size_t nassign;
	/* from a registry's control artifact: each layer's file is an
	 * oci:// reference by digest, root holds the Users/ folder alone */
	char *registry;            /* HOST/NAME, or NULL */
};

/* Make an empty repository at ROOT (its folders and control files).
 * Layers/ and its folders are 0750, root's, of GROUP (-1: root's group):
 * a layer holds SAM and SECURITY, readable by root and that group only. */
int lf_repo_init(const char *root, gid_t group, struct lf_err *err);
/* Mode and group a layer file of the repository gets: 0640, of the
 * group of the folder it is in (fd: the file). 0 or -errno. */
int lf_repo_close_layer(int fd, const char *path);
/* Read REPO's control files; every problem is an error naming the file
 * and the field ("LayerAssignment.txt: assignments[2].layers[0].id: ..."). */
int lf_repo_open(const char *root, struct lf_repo **out, struct lf_err *err);
void lf_repo_free(struct lf_repo *r);

/* The repository as a registry's control artifact REF (HOST/NAME, tag
 * "control" unless given) says it is, its layers oci:// references; the
 * personalization layers under ROOT/Users. When the registry cannot be
 * reached, the cached control artifact (said in one line). */
int lf_repo_open_registry(const char *ref, const char *root, struct lf_repo **out,
			  struct lf_err *err);
/* Push the control files of R as the control artifact of HOST/NAME
 * (tagged "control" and "control-YYYYMMDDTHHMMSSZ"): MANIFESTS[i] is
 * layer i's revision pushed. Its digest into digest. */
int lf_repo_push_control(const struct lf_repo *r, const char *host, const char *name,
			 char (*const manifests)[72], char digest[72], char *version, size_t vsize,
			 struct lf_err *err);
/* A control artifact's layers: (id, revision, manifest digest), n of
 * them (malloc'd), and its two files' texts. */
struct lf_control_layer {
	uint32_t id, revision;
	char manifest[72];
};
int lf_repo_fetch_control(const char *host, const char *name, const char *tag,
			  struct lf_control_layer **layers, size_t *n, char **layers_text,
			  size_t *llen, char **assign_text, size_t *alen, char digest[72],
			  struct lf_err *err);

/* Changes: take the lock (on a shared file system too), read the files
 * afresh, change, save, unlock. Saving writes each control file to a
 * temporary, fsyncs it and renames it into place, so a reader on any host
 * sees the old file or the new one, never half of one. */
int lf_repo_lock(const char *root, int *fd, struct lf_err *err);
void lf_repo_unlock(int fd);
int lf_repo_save(const struct lf_repo *r, struct lf_err *err);

/* lf_repo_lock, a fresh lf_repo_open, change(), lf_repo_save, unlock:
 * 0, or -1 with err set (by change() when it refused). */
typedef int (*lf_repo_change)(struct lf_repo *r, void *ctx, struct lf_err *err);
int lf_repo_update(const char *root, lf_repo_change change, void *ctx, struct lf_err *err);

/* Give (or with take, take back) layers to a user, a group or a machine
 * pattern, under the lock (lf_repo_update); a ref's revision pins it (0:
 * the newest at login). An entry left with no layers goes. */
struct lf_repo_assign_req {
	enum lf_principal kind;
	const char *name;
	const struct lf_repo_ref *refs;
	size_t nrefs;
	int take;
};
int lf_repo_update_assign(const char *root, const struct lf_repo_assign_req *a,
			  struct lf_err *err);
#define LF_PRIORITY_MIN (-1000000)
#define LF_PRIORITY_MAX 1000000
/* Every revision of layer ID gets PRIORITY (higher wins), under the lock. */
int lf_repo_update_priority(const char *root, uint32_t id, long priority, struct lf_err *err);
/* A layer entry as repo list --json and a retired layer's note show it. */
json_t *lf_repo_layer_json(const struct lf_repo_layer *l);

/* Retire layer ID (every revision) or ID:REVISION: its entries leave
 * the control file, its files go to REPO/Retired/ (each with NAME.json,
 * its entry, for restore) or with purge are deleted. Refused (EBUSY, the
 * reason in err) while another revision's file is a differencing disk
 * on one that goes; without force also while an assignment needs it, a
 * layer is built on it, or one of SESSIONS (layerd's status reply, or
 * NULL) uses it. *done: [{file, now}] for each file moved or deleted,
 * also when a later one failed. */
struct lf_repo_retire_req {
	uint32_t id, revision;
	int force, purge;
	json_t *sessions;
};
int lf_repo_retire(const char *root, const struct lf_repo_retire_req *q, json_t **done,
		   struct lf_err *err);

/* One line appended to REPO/History.txt (WHEN WHO FROM WHAT RESULT, tab
 * separated, control characters as '?'), under the repository's lock,
 * the file rewritten to a temporary, fsynced and renamed. */
#define LF_REPO_HISTORY_FILE "History.txt"
int lf_repo_history(const char *root, const char *who, const char *from, const char *what,
		    const char *result, struct lf_err *err);

/* REPO/REL as a host path, if REL stays inside REPO: relative, no "..",
 * and no symlink on the way that leads out. The file itself need not be
 * there. */
int lf_repo_path(const struct lf_repo *r, const char *rel, char *out, size_t size,
		 struct lf_err *err);
/* Is REL a path a control file may hold (the textual rules alone)? */
int lf_repo_rel_ok(const char *rel, const char **why);

/* The layer (id, revision); revision 0: its newest. NULL if none. */
const struct lf_repo_layer *lf_repo_find(const struct lf_repo *r, uint32_t id, uint32_t revision);
const char *lf_principal_name(enum lf_principal k);

/* The stack a user gets on a machine, and why. */
struct lf_resolved {
	const struct lf_repo_layer *layer;
	char why[256];
};
struct lf_skipped {
	uint32_t id, revision;
	int required;              /* an OS or platform layer: the login cannot go on */
	char why[256];
};
struct lf_resolution {
	struct lf_resolved *v;     /* lowest first: the OS layer, then by priority */
	size_t n;
	struct lf_skipped *skipped;
	size_t nskipped;
	const struct lf_repo_layer *os;
	char upper[600];           /* Users/USER/IDHEX_OSNAME, relative to REPO */
};
/* A user gets what is assigned to the user, to any of its groups, and to
 * machine patterns matching MACHINE. A direct assignment's revision wins;
 * otherwise the newest revision any group or machine assignment gives;
 * never two revisions of one layer. Layers that cannot be had go to
 * skipped with the reason. An error only when there is no OS layer to
 * stand on. */
int lf_repo_resolve(const struct lf_repo *r, const char *user, const char *const *groups,
		    int ngroups, const char *machine, struct lf_resolution *out, struct lf_err *err);
void lf_resolution_free(struct lf_resolution *res);
/* An account of this host as NSS gives it, copied out. Looked up with the
 * reentrant calls only: layerd logs users in on several threads at once,
 * and getpwnam's one static buffer is every thread's (two logins at once
 * gave one user the other's uid, and every file of hers refused her). */
struct lf_account {
	uid_t uid;
	gid_t gid;
	char name[256];
};
/* By name, or by uid when name is NULL: 0, -ENOENT (no such account) or
 * -errno (NSS could not say). */
int lf_account_get(const char *name, uid_t uid, struct lf_account *out);
/* Her Unix groups' names (her primary group among them), at most max,
 * each malloc'd for the caller: how many, or -errno. */
int lf_account_groups(const struct lf_account *a, char **names, int max);
/* USER's Unix groups' names, as layerd's login takes them (at most max,
 * each malloc'd for the caller): how many; 0 for an account not here. */
int lf_unix_groups(const char *user, char **names, int max);

/* The system folders of an OS layer (Windows, Windows/System32, Program
 * Files) a standard user may change (add to, delete in, re-own) by their
 * descriptors (from the mode where they have none): how many, named in
 * out ("Windows, Program Files"). */
struct lf_layer;
int lf_os_layer_open_folders(struct lf_layer *l, char *out, size_t size);

/* SHA-256 of a file as lower-case hex, and its size. */
int lf_sha256_file(const char *path, char hex[65], uint64_t *size, struct lf_err *err);
/* The same, saying how far it is now and then (a layer of 40 GB). */
int lf_sha256_file_progress(const char *path, char hex[65], uint64_t *size,
			    void (*progress)(void *ctx, const char *phase, uint64_t done,
					     uint64_t total),
			    void *ctx, struct lf_err *err);

#endif
