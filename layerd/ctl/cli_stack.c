/* The stack publish and compare read: named layer by layer (--layer), or
 * what a user gets from a repository (--repo, --user, ...), her
 * personalization layer only when asked. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "layerfs/repo.h"

/* The personalization layer, read-only on top of the rest. */
#define USER_PRIO 2147483647L

/* The stack, sorted; base: the OS layer's file (else the lowest). */
static int stack_build(const struct cli_stack_args *a, struct lf_stack *st, char *base,
		       size_t basesz, struct lf_err *err)
{
	memset(st, 0, sizeof *st);
	st->parents = a->parents;
	st->nparents = a->nparents;
	base[0] = 0;
	int rc = 0;
	if (!a->repo) {
		for (int i = 0; !rc && i < a->nlayers; i++)
			rc = lf_stack_add(st, a->layers[i], err);
		for (int i = 0; !rc && i < a->noverrides; i++)
			rc = lf_stack_override(st, a->overrides[i], err);
		if (!rc)
			rc = lf_stack_sort(st, err);
		/* the OS layer, else the lowest */
		for (int i = 0; !rc && i < st->n && !base[0]; i++)
			if (st->v[i].type == LF_LAYER_OS)
				snprintf(base, basesz, "%s", st->v[i].path);
		if (!rc && !base[0] && st->n)
			snprintf(base, basesz, "%s", st->v[st->n - 1].path);
		return rc;
	}
	struct lf_repo *r = NULL;
	struct lf_resolution res = {0};
	rc = lf_repo_open(a->repo, &r, err);
	if (!rc)
		rc = lf_repo_resolve(r, a->who.user, a->who.groups, a->who.ngroups, a->who.machine,
				     &res, err);
	for (size_t i = 0; !rc && i < res.nskipped; i++)
		if (res.skipped[i].required)
			rc = lf_err_set(err, ENOENT, "%s", res.skipped[i].why);
	for (size_t i = 0; !rc && i < res.n; i++) {
		const struct lf_repo_layer *l = res.v[i].layer;
		char path[PATH_MAX], spec[PATH_MAX + 300];
		rc = lf_repo_path(r, l->file, path, sizeof path, err);
		snprintf(spec, sizeof spec, "%s,name=%s,type=%s,prio=%ld", path, l->name,
			 lf_layer_type_name(l->type), l->priority);
		if (!rc)
			rc = lf_stack_add(st, spec, err);
		if (!rc && l == res.os)
			snprintf(base, basesz, "%s", path);
	}
	if (!rc && a->with_user) {
		char path[PATH_MAX], spec[PATH_MAX + 100];
		rc = lf_repo_path(r, res.upper, path, sizeof path, err);
		struct stat sb;
		if (!rc && lstat(path, &sb) < 0)
			rc = lf_err_set(err, errno, "%s has no personalization layer in %s (%s: %s)",
					a->who.user, a->repo, res.upper, strerror(errno));
		snprintf(spec, sizeof spec, "%s,name=%s,type=app,prio=%ld", path, a->who.user,
			 USER_PRIO);
		if (!rc)
			rc = lf_stack_add(st, spec, err);
	}
	for (int i = 0; !rc && i < a->noverrides; i++)
		rc = lf_stack_override(st, a->overrides[i], err);
	if (!rc)
		rc = lf_stack_sort(st, err);
	lf_resolution_free(&res);
	lf_repo_free(r);
	return rc;
}

int cli_stack_open(const struct cli_stack_args *a, char *base, size_t basesz,
		   struct lf_union **u, struct lf_err *err)
{
	struct lf_stack st;
	struct lf_union_opts uo = cli_hive_opts();
	*u = NULL;
	int rc = stack_build(a, &st, base, basesz, err);
	if (!rc)
		rc = lf_union_open(&st, &uo, u, err);
	lf_stack_free(&st);
	return rc;
}

int cli_stack_option(struct cli_stack_args *a, int c, const char *arg)
{
	switch (c) {
	case 'l':
		if (a->nlayers < (int)(sizeof a->layers / sizeof a->layers[0]))
			a->layers[a->nlayers++] = arg;
		return 1;
	case 'R': a->repo = arg; return 1;
	case 'u': a->who.user = arg; return 1;
	case 'g': a->groups = arg; return 1;
	case 'm': a->who.machine = arg; return 1;
	case 'W': a->with_user = 1; return 1;
	case 'P':
		if (a->nparents < (int)(sizeof a->parents / sizeof a->parents[0]))
			a->parents[a->nparents++] = arg;
		return 1;
	}
	return 0;
}

const char *cli_stack_check(struct cli_stack_args *a)
{
	if (!a->repo && !a->nlayers)
		return "name the stack: --layer SPEC... or --repo REPO --user USER";
	if (a->repo && a->nlayers)
		return "--layer and --repo name the stack two ways; give one";
	if (a->repo && !a->who.user)
		return "--repo needs --user";
	if (!a->repo && (a->who.user || a->with_user))
		return "--user and --with-user go with --repo";
	cli_who_fill(&a->who, a->groups);
	return NULL;
}
