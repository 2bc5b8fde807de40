/* Windows rights in a session's registry: each key's security
 * descriptor (its sk cell; a key without one takes its nearest
 * ancestor's) decides, for the session's token, with the key rights:
 * KEY_ENUMERATE_SUB_KEYS to list, KEY_QUERY_VALUE to read a value,
 * KEY_SET_VALUE to write or delete one, KEY_CREATE_SUB_KEY to make a key,
 * DELETE to remove one. Her own hive (HKU\USER, HKCU) is judged the same
 * way: layerd gives its keys to her when it makes her profile, as
 * Windows' userenv does, so a hive planted there (SAM linked as her
 * NTUSER.DAT) gives her what its keys give her: nothing. A hive without
 * any descriptor gets Windows' default for
 * HKLM\SOFTWARE: Users read, Administrators and SYSTEM all. Root is
 * SYSTEM; anyone else gets nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layerfs/hive.h"
#include "layerfs/security.h"
#include "reg_view_int.h"
#include "layerfs/lockcheck.h"

#define DEFAULT_SDDL "O:BAG:SYD:(A;CI;KR;;;BU)(A;CI;KA;;;BA)(A;CI;KA;;;SY)(A;CIIO;KA;;;CO)"

struct regaccess {
	int plain;               /* a root mount without a session */
	struct lf_token admin;   /* plain: whose rights the owner bits show */
	uid_t uid;
	gid_t gid;
	char *user;              /* her name: HKU\USER is hers */
	struct lf_token token, system;
	uint8_t *dflt;           /* DEFAULT_SDDL */
	size_t dflt_len;
};

int lf_regview_set_access(struct lf_regview *v, const char *user, uid_t uid, gid_t gid,
			  const struct lf_token *t)
{
	struct regaccess *a = calloc(1, sizeof *a);
	const char *why;
	if (!a || !(a->user = strdup(user)) ||
	    lf_sd_from_sddl(DEFAULT_SDDL, &a->dflt, &a->dflt_len, &why)) {
		if (a)
			free(a->user);
		free(a);
		return -ENOMEM;
	}
	if (lf_token_copy(&a->token, t)) {
		free(a->dflt);
		free(a->user);
		free(a);
		return -ENOMEM;
	}
	lf_token_system(&a->system);
	a->uid = uid;
	a->gid = gid;
	v->access = a;
	return 0;
}

int lf_regview_set_plain_access(struct lf_regview *v)
{
	struct regaccess *a = calloc(1, sizeof *a);
	struct lf_sid someone = lf_sid_users;
	someone.sub[1] = 1000;             /* any local account: its groups matter */
	const char *why;
	if (!a || !(a->user = strdup("")) ||
	    lf_sd_from_sddl(DEFAULT_SDDL, &a->dflt, &a->dflt_len, &why) ||
	    lf_token_user(&a->token, &someone, 0) || lf_token_user(&a->admin, &someone, 1)) {
		if (a) {
			lf_token_free(&a->token);
			free(a->dflt);
			free(a->user);
		}
		free(a);
		return -ENOMEM;
	}
	a->plain = 1;
	a->uid = (uid_t)-1;
	lf_token_system(&a->system);
	v->access = a;
	return 0;
}

void view_access_free(struct lf_regview *v)
{
	struct regaccess *a = v->access;
	if (!a)
		return;
	lf_token_free(&a->admin);
	lf_token_free(&a->token);
	free(a->dflt);
	free(a->user);
	free(a);
	v->access = NULL;
}

/* A plain mount: root is SYSTEM, anyone else a standard user. */
static const struct lf_token *token_of_uid(const struct regaccess *a, uid_t uid)
{
	return uid == 0 ? &a->system : uid == a->uid || a->plain ? &a->token : NULL;
}

/* The descriptor that rules w's key: its own or its nearest ancestor's. */
static void key_sd(const struct regaccess *a, const struct where *w, const uint8_t **sd,
		   size_t *len)
{
	*sd = a->dflt;
	*len = a->dflt_len;
	struct lf_rkey *k = w->h ? w->h->view : NULL;
	for (int i = 0; k; i++) {
		if (k->sd && k->sdlen) {
			*sd = k->sd;
			*len = k->sdlen;
		}
		if (i >= w->depth)
			break;
		k = lf_rkey_find(k, w->names[i]);
	}
}

static uint32_t rights_of(struct regaccess *a, const struct lf_token *t, const struct where *w);

uint32_t view_rights(struct lf_regview *v, uid_t uid, const struct where *w)
{
	struct regaccess *a = v->access;
	if (!a)
		return lf_key_map.all;
	const struct lf_token *t = token_of_uid(a, uid);
	return t ? rights_of(a, t, w) : 0;
}

static uint32_t rights_of(struct regaccess *a, const struct lf_token *t, const struct where *w)
{
	if (t->system)
		return lf_key_map.all;
	if (w->kind == W_ROOT || w->kind == W_TOP || w->kind == W_LINK)
		return lf_key_map.read;           /* the folders above the hives */
	const uint8_t *sd;
	size_t len;
	key_sd(a, w, &sd, &len);
	return lf_sd_rights(sd, len, t, &lf_key_map);
}

int view_may(struct lf_regview *v, uid_t uid, const struct where *w, uint32_t want)
{
	if (!v->access)
		return 0;
	return lf_rights_allow(view_rights(v, uid, w), want, &lf_key_map);
}

static unsigned key_rwx(uint32_t got, int key)
{
	if (key)
		return (got & LF_KEY_ENUMERATE_SUB_KEYS ? 4 : 0) | (got & LF_KEY_CREATE_SUB_KEY ? 2 : 0) | 1;
	return (got & LF_KEY_QUERY_VALUE ? 4 : 0) | (got & LF_KEY_SET_VALUE ? 2 : 0);
}

void view_show(struct lf_regview *v, const struct where *w, struct stat *st)
{
	/* her rights, whoever looks: the kernel keeps one set of attributes
	 * per node for every caller; root is checked here, not by the mode.
	 * A plain mount: owner bits Administrators', the others a user's. */
	struct regaccess *a = v->access;
	if (!a || S_ISLNK(st->st_mode))
		return;
	uint32_t got = rights_of(a, &a->token, w);
	uint32_t own = !a->plain ? got : rights_of(a, &a->admin, w);
	unsigned m = key_rwx(got, S_ISDIR(st->st_mode)), o = key_rwx(own, S_ISDIR(st->st_mode));
	st->st_mode = (st->st_mode & S_IFMT) | o << 6 | m << 3 | m;
	if (a->plain)
		st->st_uid = st->st_gid = 0;
}

int view_new_key_sd(struct lf_regview *v, const struct where *parent, struct lf_rkey *k)
{
	struct regaccess *a = v->access;
	if (!a)
		return 0;
	const uint8_t *psd;
	size_t plen;
	key_sd(a, parent, &psd, &plen);
	uint8_t *sd;
	size_t len;
	int rc = lf_sd_inherit(psd, plen, &a->token, 1, &lf_key_map, &sd, &len);
	if (rc)
		return rc;
	free(k->sd);
	k->sd = sd;
	k->sdlen = (uint32_t)len;
	return 0;
}
