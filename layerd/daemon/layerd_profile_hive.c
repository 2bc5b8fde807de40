/* Her profile's hives (NTUSER.DAT, UsrClass.dat) as Windows keeps them:
 * every key's descriptor names her (userenv applies one descriptor to the
 * whole tree when it makes a profile: she, SYSTEM and Administrators in
 * full, RESTRICTED reads), so REG judges HKU\USER by its keys like every
 * other hive, and a hive that is not hers (SAM linked or copied there)
 * gives her nothing. A hive that cannot be used at all (a symlink, not a
 * file, not a hive) is set aside with the date, as Windows keeps a .bak,
 * and made anew from Default: her login goes on. All through the union. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "layerd_int.h"
#include "layerfs/hive.h"
#include "layerfs/regcompose.h"
#include "layerfs/security.h"
#include "layerfs/union.h"

static const char *const hive_rel[] = { "NTUSER.DAT",
					"AppData/Local/Microsoft/Windows/UsrClass.dat" };

/* One more sentence of the note (paths in Windows' spelling). */
static void say(char *note, size_t n, const char *line)
{
	size_t k = strlen(note);
	snprintf(note + k, n - k, "%s%s", k ? "; " : "", line);
	for (char *p = note + k; *p; p++)
		if (*p == '/')
			*p = '\\';
}

/* The folder of path walked (ended by the caller) and its last name. */
static int parent_of(struct lf_union *u, const char *path, struct lf_walk *w, uint64_t *ino,
		     const char **base)
{
	char dir[700];
	const char *slash = strrchr(path, '/');
	*base = slash + 1;
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	struct lf_attr a;
	int rc = lf_union_walk(u, dir, &a, w);
	*ino = a.ino;
	return rc;
}

int profile_set_aside(struct lf_union *u, const char *user, char *note, size_t nsize)
{
	for (size_t i = 0; i < sizeof hive_rel / sizeof *hive_rel; i++) {
		char path[700];
		snprintf(path, sizeof path, "Users/%s/%s", user, hive_rel[i]);
		struct lf_attr a;
		struct lf_walk w;
		if (lf_union_walk(u, path, &a, &w))
			continue;
		const char *why = NULL;
		struct lf_err e = {0};
		struct lf_hive *h = NULL;
		mode_t type = a.mode & S_IFMT;
		lf_union_walk_end(u, &w);
		if (S_ISLNK(type))
			why = "a symlink";
		else if (!S_ISREG(type))
			why = "not a file";
		else if (lf_hive_load_union(u, path, 1u << 30, &h, &e))
			why = e.msg[0] ? "not a hive it can read" : "unreadable";
		lf_hive_free(h);
		if (!why)
			continue;
		uint64_t dir;
		const char *base;
		char aside[300], when[32], line[1200];
		time_t now = time(NULL);
		struct tm tm;
		strftime(when, sizeof when, "%Y%m%dT%H%M%S", gmtime_r(&now, &tm));
		struct lf_walk pw;
		int rc = parent_of(u, path, &pw, &dir, &base);
		snprintf(aside, sizeof aside, "%.200s.bad-%s", base, when);
		if (!rc) {
			rc = lf_union_rename(u, dir, base, dir, aside, RENAME_NOREPLACE);
			lf_union_walk_end(u, &pw);
		}
		if (rc)
			return rc;
		snprintf(line, sizeof line, "C:\\%s was %s: set aside as %s, a new one made "
			 "from Default", path, why, aside);
		say(note, nsize, line);
	}
	return 0;
}

/* Every key of k set to descriptor sd. */
static int set_tree_sd(struct lf_rkey *k, const uint8_t *sd, size_t len)
{
	uint8_t *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, sd, len);
	free(k->sd);
	k->sd = copy;
	k->sdlen = (uint32_t)len;
	for (uint32_t i = 0; i < k->nsub; i++)
		if (set_tree_sd(k->sub[i], sd, len))
			return -ENOMEM;
	return 0;
}

/* The hive at path written anew through the union: a temporary beside
 * it, synced, renamed over it (hers: made as c). */
static int write_hive(struct lf_union *u, const char *path, struct lf_hive *h,
		      const struct lf_cred *c)
{
	uint8_t *img;
	size_t len;
	struct lf_err e = {0};
	if (lf_hive_image(h, &img, &len, &e))
		return -EIO;
	uint64_t dir;
	const char *base;
	struct lf_walk pw;
	int rc = parent_of(u, path, &pw, &dir, &base);
	int walked = rc == 0;
	char tmp[300];
	snprintf(tmp, sizeof tmp, ".%.200s.layerd-tmp", base);
	struct lf_attr a;
	struct lf_ufile *f = NULL;
	if (!rc) {
		lf_union_unlink(u, dir, tmp);        /* one a crash left */
		rc = lf_union_create(u, dir, tmp, S_IFREG | 0600, O_WRONLY | O_EXCL, c, &a, &f);
	}
	if (!rc) {
		lf_union_forget(u, a.ino, 1);
		ssize_t n = lf_union_pwrite(u, f, img, len, 0);
		rc = n == (ssize_t)len ? lf_union_fsync(u, f, 0) : n < 0 ? (int)n : -EIO;
		lf_union_release(u, f);
	}
	if (!rc)
		rc = lf_union_rename(u, dir, tmp, dir, base, 0);
	else if (walked)
		lf_union_unlink(u, dir, tmp);
	if (walked)
		lf_union_walk_end(u, &pw);
	free(img);
	return rc;
}

int profile_hive_rights(struct lf_union *u, const char *user, const struct lf_sid *her,
			uid_t uid, gid_t gid, int made, char *note, size_t nsize)
{
	char who[200], text[800];
	lf_sid_to_text(her, who, sizeof who);
	snprintf(text, sizeof text, "O:%sG:%sD:P(A;CI;KA;;;%s)(A;CI;KA;;;SY)(A;CI;KA;;;BA)"
		 "(A;CI;KR;;;RC)", who, who, who);
	uint8_t *sd = NULL;
	size_t sdlen = 0;
	const char *why;
	struct lf_token t;
	if (lf_sd_from_sddl(text, &sd, &sdlen, &why) || lf_token_user(&t, her, 0)) {
		free(sd);
		return -ENOMEM;
	}
	struct lf_cred c = { uid, gid };
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof hive_rel / sizeof *hive_rel; i++) {
		char path[700], def[700];
		snprintf(path, sizeof path, "Users/%s/%s", user, hive_rel[i]);
		snprintf(def, sizeof def, "Users/Default/%s", hive_rel[i]);
		struct lf_hive *h = NULL, *d = NULL;
		struct lf_err e = {0};
		if (lf_hive_load_union(u, path, 1u << 30, &h, &e))
			continue;                      /* none, or set aside before */
		uint32_t got = h->root->sd ? lf_sd_rights(h->root->sd, h->root->sdlen, &t,
							   &lf_key_map) : 0;
		if ((got & lf_key_map.all) == lf_key_map.all) {
			lf_hive_free(h);
			continue;                      /* hers already */
		}
		/* Default's, as copied (a profile made before her keys were
		 * given her): hers now. Any other is not hers to have. */
		int from_default = lf_hive_load_union(u, def, 1u << 30, &d, &e) == 0 &&
				   ((!d->root->sd && !h->root->sd) ||
				    (d->root->sd && h->root->sd && d->root->sdlen == h->root->sdlen &&
				     !memcmp(d->root->sd, h->root->sd, h->root->sdlen)));
		lf_hive_free(d);
		if (from_default) {
			rc = set_tree_sd(h->root, sd, sdlen);
			if (!rc)
				rc = write_hive(u, path, h, &c);
			char line[1200];
			snprintf(line, sizeof line, "C:\\%s: its keys given to %s, as Windows "
				 "gives a profile's", path, user);
			if (!rc && !made)
				say(note, nsize, line);
		} else {
			char line[1200];
			snprintf(line, sizeof line, "C:\\%s: its keys do not give %s rights (no "
				 "profile made from Default): REG shows it as they say", path, user);
			say(note, nsize, line);
		}
		lf_hive_free(h);
	}
	lf_token_free(&t);
	free(sd);
	return rc;
}
