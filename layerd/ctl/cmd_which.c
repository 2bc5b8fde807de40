/* layerctl which --layer SPEC... PATH */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/union.h"

static void which_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl which [--json] (--layer SPEC... | --repo REPO --user USER\n"
		"                      [--groups G,...] [--machine M] [--with-user])\n"
		"                      [--priority NAME=N]... PATH...\n"
		"\n"
		"Say which layer of a stack provides each PATH in the merged view (for a\n"
		"folder: every layer merged into it), and which layers have PATH but do\n"
		"not show it, and why: a higher layer's priority, a delete token, or an\n"
		"opaque folder above it; and whose spelling of the name shows (the\n"
		"lowest layer of those showing it: Windows keeps the spelling of\n"
		"whoever made a folder first). SPEC is as for layerfs:\n"
		"PATH[,name=NAME][,type=os|platform|app][,prio=N].\n"
		"\n"
		CLI_STACK_HELP
		"  --priority NAME=N     layer NAME at priority N (a what-if)\n"
		"  --json                an object (several PATHs: an array of them)\n"
		"\n"
		"Exit status: 0 if every PATH is in the merged view, 1 if one is not (it\n"
		"may still be in some layers: they are listed) or the stack does not\n"
		"open, 2 on a usage error.\n");
}

static json_t *layer_json(struct lf_union *u, int i)
{
	const struct lf_layer_spec *s = lf_union_spec(u, i);
	return json_pack("{s:s, s:s, s:s, s:i}", "name", s->name, "path", s->path,
			 "type", lf_layer_type_name(s->type), "prio", (int)s->prio);
}

/* One PATH: what provides it, what it shadows. 1 when shown, 0 when
 * not, -errno. */
static int which_one(struct lf_union *u, const char *path, json_t *all)
{
	struct lf_which w;
	int rc = lf_union_which(u, path, &w);
	if (rc < 0) {
		cli_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	if (all) {
		json_t *j = json_pack("{s:s, s:b}", "path", path, "found", w.found);
		if (w.found) {
			json_object_set_new(j, "type", json_string(cli_type_name(w.type)));
			json_object_set_new(j, "merged", json_boolean(w.merged));
			json_object_set_new(j, "provider", layer_json(u, w.provider));
			json_t *m = json_array();
			for (int i = 0; i < w.ncontrib; i++)
				json_array_append_new(m, layer_json(u, w.contrib[i]));
			json_object_set_new(j, "layers", m);
			if (w.spelling >= 0) {
				json_t *sp = layer_json(u, w.spelling);
				json_object_set_new(sp, "name_shown", json_string(w.spelt));
				json_object_set_new(j, "spelling", sp);
			}
		}
		json_t *sh = json_array();
		for (int i = 0; i < w.nshadowed; i++) {
			json_t *o = layer_json(u, w.shadowed[i].layer);
			json_object_set_new(o, "why", json_string(w.shadowed[i].why));
			if (w.shadowed[i].by >= 0)
				json_object_set_new(o, "by", json_string(lf_union_spec(u, w.shadowed[i].by)->name));
			json_array_append_new(sh, o);
		}
		json_object_set_new(j, "shadowed", sh);
		json_array_append_new(all, j);
		return w.found;
	}
	if (w.found) {
		printf("%s: %s %s %s", path, cli_type_name(w.type),
		       w.merged && w.ncontrib > 1 ? "merged from" : "from",
		       lf_union_spec(u, w.provider)->name);
		for (int i = 1; i < w.ncontrib; i++)
			printf("%s%s", w.merged ? ", " : i == 1 ? ", merged with " : ", ",
			       lf_union_spec(u, w.contrib[i])->name);
		if (w.merged && w.ncontrib > 1)
			printf(" (a registry hive: every layer's copy, by priority)");
		putchar('\n');
		if (w.spelling >= 0)
			printf("  spelt '%s', as %s spells it\n", w.spelt,
			       lf_union_spec(u, w.spelling)->name);
	} else {
		printf("%s: not in the merged view\n", path);
	}
	for (int i = 0; i < w.nshadowed; i++) {
		printf("  shadowed: %s (%s", lf_union_spec(u, w.shadowed[i].layer)->name,
		       w.shadowed[i].why);
		if (w.shadowed[i].by >= 0)
			printf(" in %s", lf_union_spec(u, w.shadowed[i].by)->name);
		printf(")\n");
	}
	return w.found;
}

int cmd_which(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_STACK_OPTIONS,
		{ "priority", required_argument, NULL, 'O' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_stack_args sa = {0};
	int json = 0, c;
	while ((c = cli_getopt(argc, argv, "l:h", opts)) != -1) {
		if (cli_stack_option(&sa, c, optarg))
			continue;
		switch (c) {
		case 'O':
			if (sa.noverrides == 64)
				return cli_usage_error("which", "too many --priority");
			sa.overrides[sa.noverrides++] = optarg;
			break;
		case 'j': json = 1; break;
		case 'h': which_usage(stdout); return EXIT_OK;
		default: return cli_bad_option("which");
		}
	}
	const char *why = cli_stack_check(&sa);
	if (why || argc - optind < 1) {
		cli_who_free(&sa.who);
		return cli_usage_error("which", "%s", why ? why : "which PATH?");
	}
	struct lf_union *u = NULL;
	struct lf_err err = {0};
	char base[4096];
	if (cli_stack_open(&sa, base, sizeof base, &u, &err)) {
		cli_error("%s", err.msg);
		cli_who_free(&sa.who);
		return EXIT_FAIL;
	}
	json_t *all = json ? json_array() : NULL;
	int missing = 0;
	for (int i = optind; i < argc; i++)
		missing |= which_one(u, argv[i], all) <= 0;
	if (all && argc - optind == 1) {    /* one PATH: its object, as before */
		cli_print_json(json_incref(json_array_get(all, 0)));
		json_decref(all);
	} else if (all) {
		cli_print_json(all);
	}
	lf_union_close(u);
	cli_who_free(&sa.who);
	return missing ? EXIT_FAIL : EXIT_OK;
}
