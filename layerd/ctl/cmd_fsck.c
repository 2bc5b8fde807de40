/* layerctl fsck: check a layer repository (exit statuses as fsck(8)). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/fsck.h"
#include "layerfs/oci.h"

static void fsck_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl fsck [--json] [--repair] [--user USER [--groups G,...]\n"
		"                     [--machine M]] REPO\n"
		"       layerctl fsck [--json] [--quick] [--jobs N] [--registry-auth FILE]\n"
		"                     [--registry-ca FILE] --registry HOST[:PORT]/NAME[:TAG]\n"
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
		"With --registry, the repository a registry holds (layerctl push), as the\n"
		"registry serves it, never the host's cached copies: every tag (or the\n"
		"one given); each revision's manifest and config there and matching its\n"
		"digest; each chunk fetched and hashed (--quick: only asked for); each\n"
		"differencing revision's parent there; each control artifact's files\n"
		"whole and the revisions it names there. A chunk revisions share is\n"
		"fetched once, --jobs N (default 4) at a time. Nothing is written.\n"
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

/* Problems to O (a list, for --json), progress to its bar. */
static void out_start(struct out *o, struct lf_fsck_opts *fo, int json)
{
	*o = (struct out){ .list = json ? json_array() : NULL };
	fo->ctx = o;
	cli_bar_init(&o->bar, json);
	fo->progress = cli_bar_show;
	fo->progress_ctx = &o->bar;
}

/* --registry REF: the engine's status, the same report and summary. */
static int fsck_registry(const char *ref, int extra, struct lf_oci_config *cf, int quick, int json)
{
	if (extra)
		return cli_usage_error("fsck", "--registry REF takes no REPO"), 16;
	lf_oci_configure(cf);
	struct lf_fsck_opts fo = { .report = report };
	struct out o;
	out_start(&o, &fo, json);
	struct lf_err err = {0};
	int status = lf_registry_fsck(ref, &fo, quick, &err);
	cli_bar_end(&o.bar);
	if (status == LF_FSCK_FAILED)
		cli_error("%s", err.msg);
	if (json)
		cli_print_json(json_pack("{s:s, s:o, s:i, s:i, s:i}", "registry", ref, "problems",
					 o.list, "errors", o.errors, "warnings", o.warnings,
					 "status", status));
	else if (status != LF_FSCK_FAILED)
		printf("%s: %d error%s\n", ref, o.errors, o.errors == 1 ? "" : "s");
	return status;
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' }, { "groups", required_argument, NULL, 'g' },
		{ "machine", required_argument, NULL, 'm' }, { "repair", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ "registry", required_argument, NULL, 'R' }, { "quick", no_argument, NULL, 'Q' },
		{ "jobs", required_argument, NULL, 'J' },
		{ "registry-auth", required_argument, NULL, 'A' },
		{ "registry-ca", required_argument, NULL, 'T' }, { 0 },
	};
	struct lf_fsck_opts fo = { .report = report };
	struct lf_oci_config cf = { .verify = 1 };
	int json = 0, quick = 0, c;
	char *groups = NULL;
	const char *registry = NULL;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'u': fo.user = optarg; break;
		case 'g': groups = optarg; break;
		case 'm': fo.machine = optarg; break;
		case 'r': fo.repair = 1; break;
		case 'j': json = 1; break;
		case 'h': fsck_usage(stdout); return 0;
		case 'R': registry = optarg; break;
		case 'Q': quick = 1; break;
		case 'A': cf.auth_file = optarg; break;
		case 'T': cf.ca_file = optarg; break;
		case 'J': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 32)
				return cli_usage_error("fsck", "--jobs is 1 to 32"), 16;
			cf.jobs = (int)n;
			break;
		}
		default: return cli_bad_option("fsck"), 16;  /* fsck(8) */
		}
	}
	if (registry)
		return fsck_registry(registry, argc - optind, &cf, quick, json);
	if (quick || cf.jobs || cf.auth_file || cf.ca_file)
		return cli_usage_error("fsck", "--quick, --jobs, --registry-auth and --registry-ca "
				       "go with --registry"), 16;
	if (argc - optind != 1)
		return cli_usage_error("fsck", "give one REPO"), 16;
	if ((groups || fo.machine) && !fo.user)
		return cli_usage_error("fsck", "--groups and --machine go with --user"), 16;
	struct cli_who who = { .user = fo.user, .machine = fo.machine };
	cli_who_fill(&who, groups);
	fo.machine = who.machine;
	fo.groups = who.groups;
	fo.ngroups = who.ngroups;
	struct out o;
	out_start(&o, &fo, json);
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
