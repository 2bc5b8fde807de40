/* A session user's Windows token. Her SID comes from REPO/UserMapping in
 * ntfs-3g's format ("uid:gid:SID" lines; "::SID" is a default pattern
 * whose last sub-authority plus 2*uid makes hers), else from the OS
 * layer's machine SID (its SAM's SAM\Domains\Account value V ends with
 * it) and the RID ntfs-3g's implicit mapping gives a uid: 10000 + 2*uid;
 * a uid of 2^30 or more (whose RID would not fit, and would be another's)
 * is Samba's Unix User S-1-22-1-UID.
 * Stable across logins; a RID an account in the image's SAM already has
 * is refused (she would be that account). Without a SAM the machine part
 * comes from the OS layer's id, so it is stable too. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "layerd_int.h"
#include "layerfs/hive.h"
#include "layerfs/regcompose.h"
#include "layerfs/safe_path.h"
#include "layerfs/security.h"
#include "layerfs/union.h"

#define MAPPING "UserMapping"
#define RID_BASE 10000
#define SAM_PATH "Windows/System32/config/SAM"
#define SAM_MAX (256u << 20)

/* Her SID from REPO/UserMapping: 1 found, 0 not, <0 bad. */
static int from_mapping(int repofd, const char *repo, uid_t uid, struct lf_sid *out,
			struct lf_err *err)
{
	uint8_t *text;
	size_t len;
	int rc = lf_safe_read_all(repofd, MAPPING, 1u << 20, &text, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc) {
		lf_err_set(err, -rc, "%s/%s: %s", repo, MAPPING, strerror(-rc));
		return -1;
	}
	int line = 0;
	rc = lf_usermap_sid((const char *)text, len, uid, out, &line);
	free(text);
	if (rc < 0)
		lf_err_set(err, EINVAL, "%s/%s:%d: not uid:gid:SID (ntfs-3g's UserMapping format)",
			   repo, MAPPING, line);
	return rc < 0 ? -1 : rc;
}

/* The OS image's SAM, read through the union. */
static struct lf_hive *read_sam(struct lf_union *u)
{
	struct lf_hive *h = NULL;
	struct lf_err e = {0};
	return lf_hive_load_union(u, SAM_PATH, SAM_MAX, &h, &e) ? NULL : h;
}

static struct lf_rkey *key_at(struct lf_rkey *k, const char *const *path)
{
	for (; k && *path; path++)
		k = lf_rkey_find(k, *path);
	return k;
}

/* The machine SID: the last 24 bytes of SAM\Domains\Account's V. */
static int machine_sid(struct lf_hive *sam, struct lf_sid *out)
{
	static const char *const account[] = { "SAM", "Domains", "Account", NULL };
	struct lf_rkey *k = sam ? key_at(sam->root, account) : NULL;
	struct lf_rval *v = k ? lf_rval_find(k, "V") : NULL;
	if (!v || v->len < 24 || lf_sid_read(v->data + v->len - 24, 24, out) != 24 ||
	    out->nsub != 4 || out->sub[0] != 21)
		return -1;
	return 0;
}

int session_token(struct lf_union *u, int repofd, const char *repo, uint32_t os_id,
		  const struct session_who *who, struct lf_token *t, struct lf_err *err)
{
	struct lf_sid sid;
	int found = from_mapping(repofd, repo, who->uid, &sid, err);
	if (found < 0)
		return -err->code;
	struct lf_hive *sam = read_sam(u);
	if (!found && who->uid >= 0x40000000u) {
		/* 10000 + 2*uid no longer fits one RID: uids 2^30 apart (an AD
		 * or sssd range) would share a SID. Samba's Unix User SID,
		 * S-1-22-1-UID, holds every uid; below 2^30 the RID stays, so
		 * what layers' descriptors name keeps working */
		static const uint8_t unix_auth[6] = { 0, 0, 0, 0, 0, 22 };
		memset(&sid, 0, sizeof sid);
		memcpy(sid.auth, unix_auth, 6);
		sid.nsub = 2;
		sid.sub[0] = 1;
		sid.sub[1] = who->uid;
		found = 1;
	}
	if (!found) {
		if (machine_sid(sam, &sid)) {
			/* no SAM: a machine part of the OS layer's own, stable */
			static const uint8_t nt[6] = { 0, 0, 0, 0, 0, 5 };
			memset(&sid, 0, sizeof sid);
			memcpy(sid.auth, nt, 6);
			sid.nsub = 4;
			sid.sub[0] = 21;
			sid.sub[1] = 0x4c415945;          /* "LAYE" */
			sid.sub[2] = 0x52465300;          /* "RFS" */
			sid.sub[3] = os_id;
		}
		sid.sub[sid.nsub++] = RID_BASE + 2u * who->uid;
	}
	/* she must not be an account of the image (Administrator, a user) */
	char rid[16];
	snprintf(rid, sizeof rid, "%08X", sid.sub[sid.nsub - 1]);
	static const char *const users[] = { "SAM", "Domains", "Account", "Users", NULL };
	struct lf_rkey *k = sam ? key_at(sam->root, users) : NULL;
	struct lf_sid msid;
	int clash = k && lf_rkey_find(k, rid) && !machine_sid(sam, &msid) &&
		    msid.nsub == sid.nsub - 1 &&
		    !memcmp(msid.sub, sid.sub, sizeof msid.sub[0] * msid.nsub);
	if (sam)
		lf_hive_free(sam);
	char text[200];
	lf_sid_to_text(&sid, text, sizeof text);
	if (clash)
		return lf_err_set(err, EEXIST, "%s: her SID %s is an account of the OS image's SAM "
				  "(RID %u); map her to another in %s/%s", who->user, text,
				  sid.sub[sid.nsub - 1], repo, MAPPING);
	int admin = 0;
	for (int i = 0; who->admin_group && i < who->ngroups; i++)
		admin |= !strcmp(who->groups[i], who->admin_group);   /* Linux's names: case counts */
	if (lf_token_user(t, &sid, admin))
		return lf_err_set(err, ENOMEM, "out of memory");
	return 0;
}
