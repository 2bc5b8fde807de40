/* layerctl fsck: check a layer repository (exit statuses as fsck(8)). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/fsck.h"

static void fsck_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl fsck [--json] [--repair] [--user USER [--groups G,...]\n"
		"                     [--machine M]] REPO\n"
		"\n"
		"Check a layer repository:\n"
		"  - the control files parse and follow the schema (docs/REPOSITORY.md);\n"
		"  - every layer file is inside the repository, there, of the recorded size\n"
		"    and SHA-256; each VHD/VHDX is well formed and its NTFS volume opens;\n"
		"  - each registry hive in a layer loads; a dirty one (a write Windows did\n"
		"    not finish) is a warning: its logs are replayed, or without usable logs\n"
		"    sessions read its base image, read-only;\n"
		"  - Layers/ and each layer file are closed to other accounts (a layer holds\n"
		"    SAM and SECURITY): a warning, and --repair closes them;\n"
		"  - no delete tokens in an OS layer;\n"
		"  - files whose data is not on their layer's volume (deduplicated,\n"
		"    offline, WIMBoot, EFS-encrypted, cloud placeholders not fetched)\n"
		"    are listed per layer, a warning: a session reads them as EIO;\n"
		"  - assignments name layers and revisions that exist, one revision of a\n"
		"    layer per principal;\n"
		"  - no two platform or app layers of one OS layer share a priority;\n"
		"  - every platform and app layer's OS layer is in the repository;\n"
		"  - with --user: the user's stack resolves with nothing left out, and\n"
		"    only her stack's layers and her personalization layers are checked;\n"
		"  - space to reclaim: temporaries of interrupted writes, files in Layers/\n"
		"    no control file names, and in personalization layers (Users/) delete\n"
		"    tokens that hide nothing and copies the layers below hold as they are.\n"
		"\n"
		"Nothing is written without --repair. With it, only what is safe goes:\n"
		"temporaries, and the unused tokens and needless copies of personalization\n"
		"layers no session has in use; layers open to others are closed (their\n"
		"mode). Layers' bytes and control files are never changed.\n"
		"\n"
		"Options:\n"
		"  --user USER     check USER's stack and only USER's personalization layers\n"
		"  --groups G,...  USER's groups; --machine M the host (default: this one)\n"
		"  --repair        remove what is safe to remove, and say so\n"
		"  --json          one JSON object: the problems, the counts, the status\n"
		"\n"
		"A problem of an old revision no one gets (not the newest, pinned by no\n"
		"assignment) is a warning: it hurts no one until it is assigned.\n"
		"\n"
		"Exit status (fsck(8)): 0 clean (warnings and space to reclaim are no\n"
		"error), 1 problems\n"
		"were fixed and none are left, 4 errors are left, 8 the check could not run,\n"
		"16 a usage error.\n");
}

struct out {
	struct cli_bar bar;
	json_t *list;
	int errors, warnings, reclaim, fixed;
	unsigned long long bytes;
};

static void report(void *ctx, const struct lf_fsck_problem *p)
{
	struct out *o = ctx;
	o->errors += p->error && !p->fixed;
	o->warnings += p->warning;
	o->reclaim += !p->error && !p->warning && p->cls != LF_FSCK_BUSY;
	o->fixed += p->fixed;
	o->bytes += p->fixed ? 0 : p->bytes;
	if (o->list) {
		json_array_append_new(o->list, json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}",
			"class", lf_fsck_class_name(p->cls),
			"severity", p->error ? "error" : p->warning ? "warning" :
				    p->cls == LF_FSCK_BUSY ? "note" : "reclaimable",
			"path", p->path, "what", p->what, "fixed", p->fixed, "bytes", (json_int_t)p->bytes));
		return;
	}
	if (o->bar.on && o->bar.last >= 0)
		fputs("\r\033[K", stderr);    /* the line, not over the bar */
	o->bar.last_phase = NULL;
	printf("%-11s %s: %s%s%s\n", p->fixed ? "fixed" : p->error ? "error" :
	       p->warning ? "warning" : p->cls == LF_FSCK_BUSY ? "note" : "reclaimable",
	       lf_fsck_class_name(p->cls),
	       p->path, *p->path ? ": " : "", p->what);
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' }, { "groups", required_argument, NULL, 'g' },
		{ "machine", required_argument, NULL, 'm' }, { "repair", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct lf_fsck_opts fo = { .report = report };
	int json = 0, c;
	char *groups = NULL;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'u': fo.user = optarg; break;
		case 'g': groups = optarg; break;
		case 'm': fo.machine = optarg; break;
		case 'r': fo.repair = 1; break;
		case 'j': json = 1; break;
		case 'h': fsck_usage(stdout); return 0;
		default: return cli_bad_option("fsck"), 16;  /* fsck(8) */
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("fsck", "give one REPO"), 16;
	if ((groups || fo.machine) && !fo.user)
		return cli_usage_error("fsck", "--groups and --machine go with --user"), 16;
	struct cli_who who = { .user = fo.user, .machine = fo.machine };
	cli_who_fill(&who, groups);
	fo.machine = who.machine;
	fo.groups = who.groups;
	fo.ngroups = who.ngroups;
	struct out o = { .list = json ? json_array() : NULL };
	fo.ctx = &o;
	cli_bar_init(&o.bar, json);
	fo.progress = cli_bar_show;
	fo.progress_ctx = &o.bar;
	struct lf_err err = {0};
	int status = lf_repo_fsck(argv[optind], &fo, &err);
	cli_bar_end(&o.bar);
	if (status == LF_FSCK_FAILED)
		cli_error("%s", err.msg);
	if (json) {
		cli_print_json(json_pack("{s:s, s:o, s:i, s:i, s:i, s:i, s:I, s:i}", "repository",
			argv[optind], "problems", o.list, "errors", o.errors, "warnings", o.warnings,
			"reclaimable", o.reclaim,
			"fixed", o.fixed, "reclaimable_bytes", (json_int_t)o.bytes, "status", status));
	} else if (status != LF_FSCK_FAILED) {
		printf("%s: %d error%s, %d warning%s, %d to reclaim (%llu bytes), %d fixed\n",
		       argv[optind], o.errors, o.errors == 1 ? "" : "s", o.warnings,
		       o.warnings == 1 ? "" : "s", o.reclaim, o.bytes, o.fixed);
	}
	cli_who_free(&who);
	return status;
}
