/* layerctl conflicts: what more than one app layer provides, who wins, and
 * what a priority override would change. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/conflicts.h"
#include "layerfs/repo.h"

static void conflicts_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl conflicts [--json] [--priority NAME=N]... REPO --user USER\n"
		"                          [--groups G,...] [--machine M]\n"
		"       layerctl conflicts [--json] [--priority NAME=N]... --layer SPEC...\n"
		"\n"
		"List every file path and registry value (HIVE\\KEY\\VALUE) that more than\n"
		"one platform or app layer of a stack provides or deletes: the stack USER\n"
		"gets from the repository on machine M (default: this host), or the layers\n"
		"given (SPEC as layerfs takes it). For each: the layers, highest priority\n"
		"first, and which one wins; registry values the merge joins (REG_MULTI_SZ,\n"
		"Path-like ;-lists) are marked 'merged'. 'also in OS' says the OS layer has\n"
		"it too (it loses to any of them).\n"
		"\n"
		"--priority NAME=N (NAME: a layer's name, or its id in a repository) shows\n"
		"what changes if that priority is applied: each conflict whose winner moves.\n"
		"\n"
		"Exit status: 0 no conflicts, 1 conflicts (or a failure), 2 a usage error.\n");
}

struct stack {
	struct lf_conflict_layer *v;
	uint32_t *ids;           /* repository ids, or 0 */
	int n;
	char **paths;            /* owned */
};

static void stack_free(struct stack *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->v);
	free(s->ids);
}

static int stack_alloc(struct stack *s, int n)
{
	s->v = calloc((size_t)n, sizeof *s->v);
	s->ids = calloc((size_t)n, sizeof *s->ids);
	s->paths = calloc((size_t)n, sizeof *s->paths);
	return s->v && s->ids && s->paths ? 0 : -ENOMEM;
}

/* The stack from the repository's rules. */
static int from_repo(struct stack *s, struct lf_repo *r, const struct cli_who *w,
		     struct lf_resolution *res, struct lf_err *err)
{
	int rc = lf_repo_resolve(r, w->user, w->groups, w->ngroups, w->machine, res, err);
	if (!rc && stack_alloc(s, (int)res->n))
		rc = lf_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < res->n; i++) {
		const struct lf_repo_layer *l = res->v[i].layer;
		char p[PATH_MAX];
		rc = lf_repo_path(r, l->file, p, sizeof p, err);
		s->paths[i] = rc ? NULL : strdup(p);
		s->v[i] = (struct lf_conflict_layer){ l->name, s->paths[i], l->type, l->priority };
		s->ids[i] = l->id;
		s->n = (int)i + 1;
	}
	return rc;
}

static int from_specs(struct stack *s, struct lf_stack *st, struct lf_err *err)
{
	if (lf_stack_sort(st, err))
		return -1;
	if (stack_alloc(s, st->n))
		return lf_err_set(err, ENOMEM, "out of memory");
	/* lowest first, as the repository gives it */
	for (int i = 0; i < st->n; i++) {
		const struct lf_layer_spec *sp = &st->v[st->n - 1 - i];
		s->v[i] = (struct lf_conflict_layer){ sp->name, sp->path, sp->type,
			sp->prio_given ? sp->prio : sp->order };
	}
	s->n = st->n;
	return 0;
}

static const char *provider_text(const struct stack *s, const struct lf_conflict *c, int i,
				 char *buf, size_t size)
{
	snprintf(buf, size, "%s%s (%ld)", s->v[c->v[i].layer].name, c->v[i].deletes ? " deletes it" : "",
		 s->v[c->v[i].layer].priority);
	return buf;
}

static json_t *conflict_json(const struct stack *s, const struct lf_conflict *c, int win,
			     int win_after)
{
	json_t *prov = json_array();
	for (int i = c->n - 1; i >= 0; i--)   /* highest first */
		json_array_append_new(prov, json_pack("{s:s, s:i, s:b}", "layer",
			s->v[c->v[i].layer].name, "priority", (int)s->v[c->v[i].layer].priority,
			"deletes", c->v[i].deletes));
	json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:b, s:b, s:b}", "kind",
		c->registry ? "registry" : "file", "path", c->path, "providers", prov,
		"winner", s->v[c->v[win].layer].name, "deleted", c->v[win].deletes,
		"merged", c->merged, "also_in_os", c->in_os);
	if (win_after >= 0)
		json_object_set_new(o, "winner_with_override",
				    json_string(s->v[c->v[win_after].layer].name));
	return o;
}

int cmd_conflicts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' }, { "groups", required_argument, NULL, 'g' },
		{ "machine", required_argument, NULL, 'm' }, { "layer", required_argument, NULL, 'l' },
		{ "priority", required_argument, NULL, 'P' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *user = NULL, *machine = NULL, *overrides[64];
	char *groups = NULL;
	int json = 0, nover = 0, c;
	struct lf_stack specs = {0};
	struct lf_err err = {0};
	optind = 1;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case 'g': groups = optarg; break;
		case 'm': machine = optarg; break;
		case 'l':
			if (lf_stack_add(&specs, optarg, &err)) {
				lf_stack_free(&specs);
				return cli_usage_error("conflicts", "%s", err.msg);
			}
			break;
		case 'P':
			if (nover == 64 || !strchr(optarg, '='))
				return cli_usage_error("conflicts", "--priority NAME=N");
			overrides[nover++] = optarg;
			break;
		case 'j': json = 1; break;
		case 'h': conflicts_usage(stdout); lf_stack_free(&specs); return EXIT_OK;
		default: lf_stack_free(&specs); return cli_bad_option("conflicts");
		}
	}
	int from_layers = specs.n > 0;
	if (from_layers == (argc - optind == 1) || (!from_layers && !user) || (from_layers && user)) {
		lf_stack_free(&specs);
		return cli_usage_error("conflicts", "give REPO and --user, or --layer SPECs");
	}
	struct cli_who who = { .user = user, .machine = machine };
	cli_who_fill(&who, groups);
	struct stack s = {0};
	struct lf_repo *r = NULL;
	struct lf_resolution res = {0};
	int rc = from_layers ? from_specs(&s, &specs, &err)
		 : lf_repo_open(argv[optind], &r, &err) ? -1
		 : from_repo(&s, r, &who, &res, &err);
	/* the override: NAME (or id) = N */
	long *after = rc ? NULL : calloc((size_t)s.n + 1, sizeof *after);
	for (int i = 0; after && i < s.n; i++)
		after[i] = s.v[i].priority;
	for (int k = 0; after && k < nover && !rc; k++) {
		const char *eq = strchr(overrides[k], '=');
		char *end;
		long p = strtol(eq + 1, &end, 10);
		int found = 0;
		for (int i = 0; i < s.n; i++) {
			char id[16];
			snprintf(id, sizeof id, "%u", s.ids[i]);
			size_t nl = (size_t)(eq - overrides[k]);
			if ((strlen(s.v[i].name) == nl && !strncmp(s.v[i].name, overrides[k], nl)) ||
			    (s.ids[i] && strlen(id) == nl && !strncmp(id, overrides[k], nl))) {
				after[i] = p;
				found = 1;
			}
		}
		if (*end || !eq[1] || !found)
			rc = lf_err_set(&err, EINVAL, "--priority %s: %s", overrides[k],
					found ? "N must be a whole number" : "no such layer in the stack");
	}
	struct lf_conflict *cs = NULL;
	size_t ncs = 0;
	if (!rc)
		rc = lf_conflicts_find(s.v, s.n, &cs, &ncs, &err);
	if (rc) {
		cli_error("%s", err.msg);
	} else {
		long *before = calloc((size_t)s.n + 1, sizeof *before);
		for (int i = 0; before && i < s.n; i++)
			before[i] = s.v[i].priority;
		json_t *list = json ? json_array() : NULL;
		int changed = 0;
		for (size_t i = 0; before && i < ncs; i++) {
			struct lf_conflict *x = &cs[i];
			int w = lf_conflict_winner(x, before), wa = nover ? lf_conflict_winner(x, after) : -1;
			changed += wa >= 0 && x->v[wa].layer != x->v[w].layer && !x->merged;
			if (list) {
				json_array_append_new(list, conflict_json(&s, x, w, wa));
				continue;
			}
			char b[300];
			printf("%-8s %s: %s", x->registry ? "registry" : "file", x->path,
			       x->merged ? "merged" : x->v[w].deletes ? "deleted by " : "");
			if (!x->merged)
				printf("%s", s.v[x->v[w].layer].name);
			printf(" [");
			for (int k = x->n - 1; k >= 0; k--)
				printf("%s%s", provider_text(&s, x, k, b, sizeof b), k ? ", " : "");
			printf("]%s\n", x->in_os ? " also in OS" : "");
			if (wa >= 0 && x->v[wa].layer != x->v[w].layer && !x->merged)
				printf("         with the override: %s %s\n", x->v[wa].deletes ?
				       "deleted by" : "won by", s.v[x->v[wa].layer].name);
		}
		if (list)
			cli_print_json(json_pack("{s:i, s:o, s:i}", "conflicts", (int)ncs, "list", list,
						 "winners_changed_by_override", changed));
		else
			printf("%zu conflicts%s", ncs, nover ? "" : "\n");
		if (!list && nover)
			printf("; the override changes %d winner%s\n", changed, changed == 1 ? "" : "s");
		free(before);
	}
	lf_conflicts_free(cs, ncs);
	free(after);
	stack_free(&s);
	lf_resolution_free(&res);
	lf_repo_free(r);
	lf_stack_free(&specs);
	cli_who_free(&who);
	return rc ? EXIT_FAIL : ncs ? 1 : EXIT_OK;
}
