/* Which layers a user gets on a machine, and why (the rules of the
 * product this models): what is assigned to the user, to any group of the
 * user, and to machine patterns matching the host. A direct assignment's
 * revision wins; among groups and machines the newest revision wins; a
 * user never gets two revisions of one layer. */
#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "repo_int.h"

/* One assignment of a layer id that applies, and the revision it gives. */
struct offer {
	uint32_t id, revision;   /* revision: pinned, or the newest there is (0: none) */
	int pinned;
	const struct lf_repo_assignment *from;
};

static int applies(const struct lf_repo_assignment *s, const char *user,
		   const char *const *groups, int ngroups, const char *machine)
{
	switch (s->kind) {
	case LF_PRINCIPAL_USER:
		/* Windows account names ignore case */
		return !strcasecmp(s->name, user);
	case LF_PRINCIPAL_GROUP:
		for (int i = 0; i < ngroups; i++)
			if (!strcasecmp(s->name, groups[i]))
				return 1;
		return 0;
	case LF_PRINCIPAL_MACHINE:
		return machine && fnmatch(s->name, machine, FNM_CASEFOLD) == 0;
	}
	return 0;
}

static int push_skip(struct lf_resolution *res, uint32_t id, uint32_t rev, int required,
		     const char *why)
{
	struct lf_skipped *v = realloc(res->skipped, (res->nskipped + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	res->skipped = v;
	struct lf_skipped *s = &v[res->nskipped++];
	s->id = id;
	s->revision = rev;
	s->required = required;
	snprintf(s->why, sizeof s->why, "%s", why);
	return 0;
}

/* Order of the stack, as the union orders it: the OS layer lowest, then
 * platform and app layers by priority (a platform layer is given a high
 * one to lie above the apps, as the product does); ties by id, so the
 * order is always the same. */
static int stack_order(const void *a, const void *b)
{
	const struct lf_repo_layer *x = ((const struct lf_resolved *)a)->layer;
	const struct lf_repo_layer *y = ((const struct lf_resolved *)b)->layer;
	int ox = x->type != LF_LAYER_OS, oy = y->type != LF_LAYER_OS;
	if (ox != oy)
		return ox - oy;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The winning offer for each id: a user's own, else the newest. */
static void choose(struct offer *o, size_t n, const char *user, char *why, size_t wsize,
		   struct offer *out)
{
	struct offer *best = NULL;
	/* (an entry naming a layer twice is fsck's to report: the newest) */
	for (size_t i = 0; i < n; i++)
		if (o[i].from->kind == LF_PRINCIPAL_USER && (!best || o[i].revision > best->revision))
			best = &o[i];
	if (best) {
		snprintf(why, wsize, "assigned to user %s%s", user,
			 best->pinned ? " (revision pinned)" : "");
	} else {
		for (size_t i = 0; i < n; i++)
			if (!best || o[i].revision > best->revision)
				best = &o[i];
		int len = snprintf(why, wsize, "assigned to %s %s%s",
				   lf_principal_name(best->from->kind), best->from->name,
				   best->pinned ? " (revision pinned)" : "");
		if (n > 1 && len > 0 && (size_t)len < wsize)
			snprintf(why + len, wsize - (size_t)len, "; the newest of %zu assignments", n);
	}
	*out = *best;
}

int lf_repo_resolve(const struct lf_repo *r, const char *user, const char *const *groups,
		    int ngroups, const char *machine, struct lf_resolution *res, struct lf_err *err)
{
	memset(res, 0, sizeof *res);
	const char *why0;
	if (!lf_repo_rel_ok(user, &why0) || strchr(user, '/'))
		return lf_err_set(err, EINVAL, "user name \"%s\": not a name a folder can have", user);
	struct offer *o = NULL;
	size_t n = 0;
	for (size_t i = 0; i < r->nassign; i++) {
		const struct lf_repo_assignment *s = &r->assign[i];
		if (!applies(s, user, groups, ngroups, machine))
			continue;
		struct offer *v = realloc(o, (n + s->nlayers) * sizeof *v);
		if (!v) {
			free(o);
			return lf_err_set(err, ENOMEM, "out of memory");
		}
		o = v;
		for (size_t k = 0; k < s->nlayers; k++) {
			const struct lf_repo_layer *l = lf_repo_find(r, s->layers[k].id, 0);
			o[n++] = (struct offer){ s->layers[k].id,
				s->layers[k].revision ? s->layers[k].revision : l ? l->revision : 0,
				s->layers[k].revision != 0, s };
		}
	}
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!o[i].from)
			continue;                    /* taken with an earlier id */
		struct offer same[256];
		size_t ns = 0;
		for (size_t k = i; k < n && ns < 256; k++)
			if (o[k].from && o[k].id == o[i].id) {
				same[ns++] = o[k];
				if (k != i)
					o[k].from = NULL;
			}
		struct offer win;
		char why[256];
		choose(same, ns, user, why, sizeof why, &win);
		const struct lf_repo_layer *any = lf_repo_find(r, win.id, 0);
		const struct lf_repo_layer *l = win.revision ? lf_repo_find(r, win.id, win.revision) : NULL;
		int required = any && any->type != LF_LAYER_APP;
		char msg[512];
		if (!any) {
			snprintf(msg, sizeof msg, "layer %u is not in %s (%s)", win.id,
				 LF_REPO_LAYERS_FILE, why);
			rc = push_skip(res, win.id, win.revision, required, msg);
		} else if (!l) {
			snprintf(msg, sizeof msg, "layer %u (%s) has no revision %u (%s)", win.id,
				 any->name, win.revision, why);
			rc = push_skip(res, win.id, win.revision, required, msg);
		} else {
			struct lf_resolved *v = realloc(res->v, (res->n + 1) * sizeof *v);
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			res->v = v;
			v[res->n].layer = l;
			snprintf(v[res->n].why, sizeof v[res->n].why, "%s", why);
			res->n++;
		}
	}
	free(o);
	/* the OS layer everything stands on */
	for (size_t i = 0; i < res->n && !rc; i++) {
		if (res->v[i].layer->type != LF_LAYER_OS)
			continue;
		if (res->os) {
			rc = lf_err_set(err, EINVAL, "%s gets two OS layers: %s (%u) and %s (%u)", user,
					res->os->name, res->os->id, res->v[i].layer->name,
					res->v[i].layer->id);
			break;
		}
		res->os = res->v[i].layer;
	}
	if (!rc && !res->os)
		rc = lf_err_set(err, ENOENT, "%s gets no OS layer on %s (assign one to the user, a "
				"group or a machine pattern)", user, machine ? machine : "this machine");
	/* layers built on another OS layer cannot stand on this one */
	for (size_t i = 0; i < res->n && !rc;) {
		const struct lf_repo_layer *l = res->v[i].layer;
		if (l->type == LF_LAYER_OS || l->os_layer == res->os->id) {
			i++;
			continue;
		}
		char msg[512];
		snprintf(msg, sizeof msg, "%s (%u) is built on OS layer %u, not on %s (%u)", l->name,
			 l->id, l->os_layer, res->os->name, res->os->id);
		rc = push_skip(res, l->id, l->revision, l->type != LF_LAYER_APP, msg);
		memmove(res->v + i, res->v + i + 1, (res->n - i - 1) * sizeof *res->v);
		res->n--;
	}
	if (rc == -ENOMEM)
		lf_err_set(err, ENOMEM, "out of memory");
	if (rc) {
		lf_resolution_free(res);
		return rc;
	}
	qsort(res->v, res->n, sizeof *res->v, stack_order);
	snprintf(res->upper, sizeof res->upper, "Users/%s/%08x_%s", user, res->os->id, res->os->name);
	return 0;
}

void lf_resolution_free(struct lf_resolution *res)
{
	free(res->v);
	free(res->skipped);
	memset(res, 0, sizeof *res);
}

/* NSS's buffer: as sysconf says, more while it says ERANGE. */
static char *nss_buf(char *buf, size_t *size)
{
	if (!buf) {
		long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
		*size = hint > 0 && hint < (1 << 20) ? (size_t)hint : 16384;
	} else {
		*size *= 2;
	}
	char *b = *size <= (64u << 20) ? realloc(buf, *size) : NULL;
	if (!b)
		free(buf);
	return b;
}

int lf_account_get(const char *name, uid_t uid, struct lf_account *out)
{
	size_t size;
	char *buf = nss_buf(NULL, &size);
	struct passwd pw, *got = NULL;
	int rc = buf ? ERANGE : ENOMEM;
	while (rc == ERANGE) {
		rc = name ? getpwnam_r(name, &pw, buf, size, &got) : getpwuid_r(uid, &pw, buf, size, &got);
		if (rc == ERANGE && !(buf = nss_buf(buf, &size)))
			rc = ENOMEM;
	}
	if (!rc && !got)
		rc = ENOENT;
	if (!rc && strlen(pw.pw_name) >= sizeof out->name)
		rc = ENAMETOOLONG;
	if (!rc) {
		out->uid = pw.pw_uid;
		out->gid = pw.pw_gid;
		strcpy(out->name, pw.pw_name);
	}
	free(buf);
	return -rc;
}

/* gid's name (malloc'd) through buf (grown as NSS asks): 0, -errno. */
static int group_name(gid_t gid, char **buf, size_t *size, char **name)
{
	struct group gr, *got = NULL;
	int rc;
	while ((rc = getgrgid_r(gid, &gr, *buf, *size, &got)) == ERANGE)
		if (!(*buf = nss_buf(*buf, size)))
			return -ENOMEM;
	*name = NULL;
	if (rc || !got)
		return 0;      /* a gid without a name: no group to assign by */
	return (*name = strdup(got->gr_name)) ? 0 : -ENOMEM;
}

int lf_account_groups(const struct lf_account *a, char **names, int max)
{
	int k = 64, n = 0, rc = 0;
	gid_t *gids = NULL;
	for (;;) {
		gid_t *g = realloc(gids, (size_t)k * sizeof *g);
		if (!g) {
			free(gids);
			return -ENOMEM;
		}
		gids = g;
		int want = k;
		if (getgrouplist(a->name, a->gid, gids, &want) >= 0) {
			k = want;
			break;
		}
		if (k >= 65536) {      /* NGROUPS_MAX: more is NSS gone wrong */
			free(gids);
			return -E2BIG;
		}
		k = want > k ? want : k * 2;
	}
	size_t size;
	char *buf = nss_buf(NULL, &size);
	if (!buf)
		rc = -ENOMEM;
	for (int i = 0; !rc && i < k && n < max; i++)
		if (!(rc = group_name(gids[i], &buf, &size, &names[n])) && names[n])
			n++;
	free(buf);
	free(gids);
	if (rc) {
		while (n > 0)
			free(names[--n]);
		return rc;
	}
	return n;
}

int lf_unix_groups(const char *user, char **names, int max)
{
	struct lf_account a;
	if (lf_account_get(user, 0, &a))
		return 0;
	int n = lf_account_groups(&a, names, max);
	return n < 0 ? 0 : n;
}
