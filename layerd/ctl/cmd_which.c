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
		"Usage: layerctl which [--json] --layer SPEC [--layer SPEC]...\n"
		"                      [--priority NAME=N]... PATH\n"
		"\n"
		"Say which layer of a stack provides PATH in the merged view (for a\n"
		"folder: every layer merged into it), and which layers have PATH but do\n"
		"not show it, and why: a higher layer's priority, a delete token, or an\n"
		"opaque folder above it; and whose spelling of the name shows (the\n"
		"lowest layer of those showing it: Windows keeps the spelling of\n"
		"whoever made a folder first). SPEC is as for layerfs:\n"
		"PATH[,name=NAME][,type=os|platform|app][,prio=N].\n"
		"\n"
		"Exit status: 0 if PATH is in the merged view, 1 if it is not (it may\n"
		"still be in some layers: they are listed), 2 on a usage error.\n");
}

static json_t *layer_json(struct lf_union *u, int i)
{
	const struct lf_layer_spec *s = lf_union_spec(u, i);
	return json_pack("{s:s, s:s, s:s, s:i}", "name", s->name, "path", s->path,
			 "type", lf_layer_type_name(s->type), "prio", (int)s->prio);
}

int cmd_which(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layer", required_argument, NULL, 'l' },
		{ "priority", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lf_stack stack = {0};
	struct lf_err err = {0};
	const char *overrides[64];
	int noverrides = 0, json = 0, c;
	while ((c = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (lf_stack_add(&stack, optarg, &err)) {
				lf_stack_free(&stack);
				return cli_usage_error("which", "%s", err.msg);
			}
			break;
		case 'P':
			if (noverrides < 64)
				overrides[noverrides++] = optarg;
			break;
		case 'j': json = 1; break;
		case 'h': which_usage(stdout); lf_stack_free(&stack); return EXIT_OK;
		default: lf_stack_free(&stack); return cli_usage_error("which", "bad option");
		}
	}
	if (argc - optind != 1 || stack.n == 0) {
		lf_stack_free(&stack);
		return cli_usage_error("which", "needs --layer SPEC... and one PATH");
	}
	for (int i = 0; i < noverrides; i++)
		if (lf_stack_override(&stack, overrides[i], &err)) {
			lf_stack_free(&stack);
			return cli_usage_error("which", "%s", err.msg);
		}
	if (lf_stack_sort(&stack, &err)) {
		lf_stack_free(&stack);
		return cli_usage_error("which", "%s", err.msg);
	}
	struct lf_union *u = NULL;
	struct lf_union_opts uo = cli_hive_opts();
	if (lf_union_open(&stack, &uo, &u, &err)) {
		cli_error("%s", err.msg);
		lf_stack_free(&stack);
		return EXIT_FAIL;
	}
	const char *path = argv[optind];
	struct lf_which w;
	int rc = lf_union_which(u, path, &w);
	if (rc < 0) {
		cli_error("%s: %s", path, strerror(-rc));
	} else if (json) {
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
		cli_print_json(j);
	} else {
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
	}
	lf_union_close(u);
	lf_stack_free(&stack);
	return rc < 0 || !w.found ? EXIT_FAIL : EXIT_OK;
}
