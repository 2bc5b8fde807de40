/* A first login makes the user's profile as Windows does: C:\Users\Default
 * of the composed view is copied to C:\Users\USER (NTUSER.DAT, UsrClass.dat
 * and the folders), owned by her. The copy goes through the union, into
 * the personalization layer, so it is hers like anything she writes; the
 * hives then show as HKU\USER. A profile that has its NTUSER.DAT is left
 * alone, and nothing already in it is replaced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerd_int.h"
#include "layerfs/security.h"
#include "layerfs/union.h"

#define COPY_CHUNK (1u << 20)
#define MAX_DEPTH 64

struct names {
	char **v;
	size_t n, cap;
};

static int collect(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	(void)a;
	(void)next;
	struct names *ns = ctx;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		char **v = realloc(ns->v, cap * sizeof *v);
		if (!v)
			return 1;
		ns->v = v;
		ns->cap = cap;
	}
	if (!(ns->v[ns->n] = strdup(name)))
		return 1;
	ns->n++;
	return 0;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static int copy_file(struct lf_union *u, uint64_t src, uint64_t to, const char *name,
		     const struct lf_attr *a, const struct lf_cred *c, char *buf)
{
	struct lf_ufile *in = NULL, *out = NULL;
	struct lf_attr na;
	int rc = lf_union_open_file(u, src, O_RDONLY, &in);
	if (!rc)
		rc = lf_union_create(u, to, name, S_IFREG | (a->mode & 0777), O_WRONLY | O_EXCL,
				     c, &na, &out);
	if (!rc)
		lf_union_forget(u, na.ino, 1);
	for (uint64_t off = 0; !rc;) {
		ssize_t n = lf_union_pread(u, in, buf, COPY_CHUNK, off);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		ssize_t w = lf_union_pwrite(u, out, buf, (size_t)n, off);
		if (w != n)
			rc = w < 0 ? (int)w : -EIO;
		off += (uint64_t)n;
	}
	if (!rc)
		rc = lf_union_fsync(u, out, 0);
	if (in)
		lf_union_release(u, in);
	if (out)
		lf_union_release(u, out);
	return rc;
}

/* Copy what folder `from` holds into folder `to`, leaving what is there. */
static int copy_tree(struct lf_union *u, uint64_t from, uint64_t to, const struct lf_cred *c,
		     char *buf, int depth)
{
	if (depth > MAX_DEPTH)
		return -ELOOP;
	struct names ns = {0};
	int rc = lf_union_readdir(u, from, 0, 0, collect, &ns);
	for (size_t i = 0; !rc && i < ns.n; i++) {
		struct lf_attr a, there;
		if (lf_union_lookup(u, from, ns.v[i], &a))
			continue;          /* gone meanwhile */
		int exists = lf_union_lookup(u, to, ns.v[i], &there) == 0;
		if (S_ISDIR(a.mode)) {
			if (!exists)
				exists = (rc = lf_union_mkdir(u, to, ns.v[i], a.mode & 0777, c,
							      &there)) == 0;
			if (!rc && S_ISDIR(there.mode))
				rc = copy_tree(u, a.ino, there.ino, c, buf, depth + 1);
			if (exists)
				lf_union_forget(u, there.ino, 1);
		} else {
			if (exists)
				lf_union_forget(u, there.ino, 1);
			else if (S_ISREG(a.mode))
				rc = copy_file(u, a.ino, to, ns.v[i], &a, c, buf);
			else if (S_ISLNK(a.mode)) {
				char target[4096];
				ssize_t n = lf_union_readlink(u, a.ino, target, sizeof target - 1);
				if (n >= 0) {
					target[n] = 0;
					rc = lf_union_symlink(u, to, ns.v[i], target, c, &there);
					if (!rc)
						lf_union_forget(u, there.ino, 1);
				}
			}
		}
		lf_union_forget(u, a.ino, 1);
	}
	names_free(&ns);
	return rc;
}

/* Her profile folder's descriptor as Windows makes it: protected, SYSTEM,
 * Administrators and she have full control, inherited below; set once
 * (through the union, as SYSTEM) when it has none of its own. */
static int profile_sd(struct lf_union *u, uint64_t ino, uid_t uid, gid_t gid)
{
	if (!lf_union_checks_access(u) || lf_union_getxattr(u, ino, "system.ntfs_acl", NULL, 0) > 0)
		return 0;
	uint8_t *sd = NULL;
	size_t len;
	struct lf_cred c = { uid, gid };
	/* what a file she made there would get names her: take its owner */
	int rc = lf_union_new_sd(u, &c, ino, 1, &sd, &len);
	struct lf_sid her;
	if (!rc && (rc = lf_sd_owner(sd, len, &her)) == 0) {
		free(sd);
		sd = NULL;
		char who[200], text[700];
		lf_sid_to_text(&her, who, sizeof who);
		snprintf(text, sizeof text, "O:%sG:%sD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;%s)",
			 who, who, who);
		const char *why;
		rc = lf_sd_from_sddl(text, &sd, &len, &why);
		if (!rc)
			rc = lf_union_setxattr(u, ino, "system.ntfs_acl", sd, len, 0);
	}
	free(sd);
	return rc;
}

/* Her SID: what a file she made in her folder would be owned by. */
static int her_sid(struct lf_union *u, const char *user, uid_t uid, gid_t gid, struct lf_sid *out)
{
	char path[600];
	snprintf(path, sizeof path, "Users/%s", user);
	struct lf_attr a;
	struct lf_walk w;
	int rc = lf_union_walk(u, path, &a, &w);
	if (rc)
		return rc;
	uint8_t *sd = NULL;
	size_t len;
	struct lf_cred c = { uid, gid };
	rc = lf_union_new_sd(u, &c, a.ino, 1, &sd, &len);
	if (!rc)
		rc = lf_sd_owner(sd, len, out);
	free(sd);
	lf_union_walk_end(u, &w);
	return rc;
}

static int hive_rights(struct lf_union *u, const char *user, uid_t uid, gid_t gid, int made,
		       char *note, size_t nsize, struct lf_err *err)
{
	struct lf_sid her;
	if (!lf_union_checks_access(u) || her_sid(u, user, uid, gid, &her))
		return 0;          /* a plain session: no rights to give */
	int rc = profile_hive_rights(u, user, &her, uid, gid, made, note, nsize);
	return rc ? lf_err_set(err, -rc, "C:\\Users\\%s: cannot give her hives her rights: %s",
			       user, strerror(-rc)) : 0;
}

int profile_make(struct lf_union *u, const char *user, uid_t uid, gid_t gid, int *made,
		 char *note, size_t nsize, struct lf_err *err)
{
	char path[600];
	struct lf_attr a, def, hers;
	struct lf_walk w, wd;
	*made = 0;
	note[0] = 0;
	/* a hive she broke (a symlink, no hive) goes aside, as Windows
	 * keeps a .bak: her login goes on with a new one */
	int rc = profile_set_aside(u, user, note, nsize);
	if (rc)
		return lf_err_set(err, -rc, "C:\\Users\\%s: cannot set a broken profile hive aside: %s",
				  user, strerror(-rc));
	snprintf(path, sizeof path, "Users/%s/NTUSER.DAT", user);
	if (lf_union_walk(u, path, &a, &w) == 0) {
		lf_union_walk_end(u, &w);
		return hive_rights(u, user, uid, gid, 0, note, nsize, err);  /* her profile is there */
	}
	if (lf_union_walk(u, "Users/Default", &def, &wd))
		return 0;                  /* no Default to copy: as before */
	snprintf(path, sizeof path, "Users/%s", user);
	rc = lf_union_walk(u, path, &hers, &w);
	int walked = rc == 0;
	char *buf = rc ? NULL : malloc(COPY_CHUNK);
	if (!rc && !buf)
		rc = -ENOMEM;
	struct lf_cred c = { uid, gid };
	if (!rc && S_ISDIR(hers.mode))
		rc = profile_sd(u, hers.ino, uid, gid);
	if (!rc && S_ISDIR(def.mode) && S_ISDIR(hers.mode))
		rc = copy_tree(u, def.ino, hers.ino, &c, buf, 0);
	if (!rc)
		*made = 1;
	free(buf);
	if (walked)
		lf_union_walk_end(u, &w);
	lf_union_walk_end(u, &wd);
	if (rc)
		return lf_err_set(err, -rc, "C:\\Users\\%s: cannot copy the Default profile: %s",
				  user, strerror(-rc));
	return hive_rights(u, user, uid, gid, 1, note, nsize, err);
}
