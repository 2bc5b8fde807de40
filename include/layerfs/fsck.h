/* Checking a layer repository (layerctl fsck): control files, layer
 * files, disks, volumes, hives, delete tokens, assignments, priorities,
 * and personalization layers. No FUSE here. */
#ifndef LAYERFS_FSCK_H
#define LAYERFS_FSCK_H

#include <stdint.h>

#include "layerfs/err.h"

/* Exit statuses, as fsck(8) has them. */
enum { LF_FSCK_CLEAN = 0, LF_FSCK_FIXED = 1, LF_FSCK_ERRORS = 4, LF_FSCK_FAILED = 8 };

enum lf_fsck_class {
	LF_FSCK_CONTROL,         /* a control file does not parse or follow the schema */
	LF_FSCK_PATH,            /* a path that leaves the repository */
	LF_FSCK_MISSING,         /* a layer file is not there */
	LF_FSCK_SIZE,            /* its size is not the recorded one */
	LF_FSCK_SHA256,          /* its SHA-256 is not the recorded one */
	LF_FSCK_DISK,            /* the VHD/VHDX/volume does not open */
	LF_FSCK_HIVE,            /* a registry hive in a layer does not load */
	LF_FSCK_OS_TOKEN,        /* a delete token in an OS layer (nothing lies below it) */
	LF_FSCK_ASSIGN_UNKNOWN,  /* an assignment names a layer or revision not there */
	LF_FSCK_TWO_REVISIONS,   /* one principal is given two revisions of one layer */
	LF_FSCK_PRIORITY,        /* two layers share a priority: the order is by id */
	LF_FSCK_NO_OS_LAYER,     /* a layer built on an OS layer not in the repository */
	LF_FSCK_USER_STACK,      /* --user: the user cannot log in, or loses a layer */
	LF_FSCK_TOKEN_UNUSED,    /* reclaimable: a personalization token that hides nothing */
	LF_FSCK_SAME_AS_BELOW,   /* reclaimable: a personalization copy the layers have as it is */
	LF_FSCK_ORPHAN,          /* reclaimable: a file in Layers/ no control file names */
	LF_FSCK_TEMPORARY,       /* reclaimable: a temporary an interrupted write left */
	LF_FSCK_BUSY,            /* a note: not repaired (in use by a session, or a layer below does not open) */
	LF_FSCK_UNSAFE,          /* Users/, Users/USER or a personalization layer a user could bend:
				  * a symlink, not a folder, open to others, not root's, another file system */
	LF_FSCK_READABLE,        /* a warning: Layers/, a layer file or the host's chunk cache
				  * others may read (every layer holds SAM and SECURITY);
				  * --repair closes it */
	LF_FSCK_OPEN_OS,         /* a warning: an OS layer's Windows or Program Files any user
				  * may change (its descriptors, or a mode that gives them) */
	LF_FSCK_FOREIGN_TOKEN,   /* a warning: a ".wh." name in a personalization layer the
				  * union did not make, or tokens older than the union's mark */
	LF_FSCK_DATA_ELSEWHERE,  /* a warning: files whose data is not on the volume
				  * (deduplicated, offline, WIMBoot, EFS, cloud placeholders):
				  * reading them is EIO */
	LF_FSCK_PARENT,          /* --registry: a differencing revision whose parent is not there */
};

struct lf_fsck_problem {
	enum lf_fsck_class cls;
	int error;               /* 1: an error; 0: a warning or space to reclaim */
	int warning;             /* a problem that hurts no one now (the exit status
				  * stays 0): an old revision no one gets, a dirty
				  * hive whose logs the readers replay */
	int fixed;               /* --repair removed it */
	uint64_t bytes;          /* space it takes (reclaimable ones) */
	char path[1024];         /* relative to the repository, or "" */
	char what[1024];         /* one line */
};

struct lf_fsck_opts {
	const char *user;        /* check this user's personalization layers and stack */
	const char *const *groups;
	int ngroups;
	const char *machine;
	int repair;              /* remove what is safe to remove */
	void (*report)(void *ctx, const struct lf_fsck_problem *p);
	void *ctx;
	/* now and then: what is being checked, how far (may be NULL) */
	void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *progress_ctx;
};

const char *lf_fsck_class_name(enum lf_fsck_class c);
/* Check REPO; each problem goes to o->report. Returns the fsck(8) status;
 * LF_FSCK_FAILED with err set when the check itself could not run. */
int lf_repo_fsck(const char *root, const struct lf_fsck_opts *o, struct lf_err *err);
/* Check the repository REF (HOST/NAME: every tag; HOST/NAME:TAG or
 * @DIGEST: that revision, or that control artifact, and what it names)
 * as the registry serves it: manifests, configs, control files and
 * parents there and matching their digests; every chunk fetched and
 * hashed, or with QUICK only asked for. The program sets
 * lf_oci_config()->verify (no cached copy stands in). Returns as above. */
int lf_registry_fsck(const char *ref, const struct lf_fsck_opts *o, int quick,
		     struct lf_err *err);

#endif
