/* layerctl publish: a stack composed into one disk image (publish.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/publish.h"
#include "layerfs/wim.h"

static void publish_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl publish [OPTIONS] (--layer SPEC... | --repo REPO --user USER) OUT\n"
		"\n"
		"Compose the stack into one disk image Windows can boot: the merged tree\n"
		"(delete tokens and opaque folders applied, every registry hive merged\n"
		"by priority and written compactly, names spelled as the union spells\n"
		"them) in a new NTFS volume, read through the union engine, nothing\n"
		"staged. Each file keeps what NTFS keeps: its security descriptor (equal\n"
		"ones shared in $Secure), DOS attributes, creation, modification, access\n"
		"and change times, alternate data streams, reparse points (symlinks,\n"
		"junctions, any other tag as its raw data), hard links (one MFT record\n"
		"with all its names), 8.3 names; a sparse file keeps its holes, a\n"
		"compressed one is written compressed.\n"
		"\n"
		"When the OS layer is a whole disk (MBR, or GPT with EFI system, MSR and\n"
		"recovery partitions), OUT is that disk: the same partition table and\n"
		"disk ids, the other partitions byte for byte, the Windows volume\n"
		"replaced at the same offset with the same serial number and the OS\n"
		"layer's own boot code and $Boot loader, so the BCD and the boot path\n"
		"still hold. The Windows partition grows (and the disk with it) when the\n"
		"content needs it or --size asks, unless another partition follows it\n"
		"(a recovery partition after C:): that is refused, saying why. An OS\n"
		"layer without a partition table gives an MBR disk with the volume at\n"
		"1 MiB (raw: the bare volume).\n"
		"\n"
		"The personalization layer is left out unless --with-user. OUT is\n"
		"written beside it under temporary names, fsynced and renamed into place\n"
		"last: an interrupted publish leaves no OUT, and its work files are\n"
		"removed by the next publish to the same OUT.\n"
		"\n"
		CLI_STACK_HELP
		"\n"
		"Options:\n"
		"  -f, --format FMT   vhd (dynamic; the default for .vhd), vhd-fixed,\n"
		"                     vhdx (the default for .vhdx; written through\n"
		"                     'qemu-img convert', from qemu-utils), wim (the\n"
		"                     default for .wim: the volume's files as one WIM\n"
		"                     image, as DISM, WDS and MDT take them; no disk or\n"
		"                     boot code around them), raw (else)\n"
		"      --name NAME    wim: the image's name (default: Windows)\n"
		"      --description TEXT  wim: the image's description\n"
		"      --compress C   wim: lzx (default), xpress or none\n"
		"  -s, --size SIZE    the Windows volume's size (e.g. 64G); default: the\n"
		"                     partition's, or what the content needs if more\n"
		"  -L, --label NAME   volume label (default: the OS layer's)\n"
		"      --verify       compare the image with the stack at the end (as\n"
		"                     'layerctl compare'); a difference fails the publish\n"
		"  -q, --quiet        no progress bar (it shows only on a terminal)\n"
		"      --strict       refuse an entry Windows cannot hold (a name it forbids:\n"
		"                     \\ : * ? \" < > |, a trailing dot or space, CON...;\n"
		"                     a folder deeper than 256); by default each is left\n"
		"                     out and said on stderr\n"
		"      --json         print what was published as JSON\n"
		"  -h, --help         show this help\n"
		"\n"
		"Exit status: 0 published (and the same, with --verify), 1 failure,\n"
		"2 usage error.\n");
}

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && !strcasecmp(s + n - t, tail);
}

static int parse_format(const char *v, enum lf_publish_format *f)
{
	static const struct { const char *name; enum lf_publish_format f; } names[] = {
		{ "vhd", LF_PUBLISH_VHD_DYNAMIC }, { "vhd-dynamic", LF_PUBLISH_VHD_DYNAMIC },
		{ "vhd-fixed", LF_PUBLISH_VHD_FIXED }, { "vhdx", LF_PUBLISH_VHDX },
		{ "raw", LF_PUBLISH_RAW }, { "wim", LF_PUBLISH_WIM },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(v, names[i].name)) {
			*f = names[i].f;
			return 0;
		}
	return -1;
}

static json_t *stats_json(const char *out, const struct lf_publish_stats *st, double secs)
{
	char serial[20];
	snprintf(serial, sizeof serial, "%08X%08X", st->serial_hi, st->serial_lo);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:s, s:f}",
			 "image", out, "files", (json_int_t)st->files, "dirs", (json_int_t)st->dirs,
			 "symlinks", (json_int_t)st->symlinks, "hardlinks", (json_int_t)st->hardlinks,
			 "streams", (json_int_t)st->streams, "reparse_points", (json_int_t)st->reparse,
			 "dos_names", (json_int_t)st->dos_names, "hives", (json_int_t)st->hives,
			 "bytes", (json_int_t)st->bytes, "volume_size", (json_int_t)st->volume_size,
			 "disk_size", (json_int_t)st->disk_size, "layout", st->layout,
			 "partition_grown", st->grown, "serial", serial, "seconds", secs);
}

/* An entry Windows cannot hold, left out: one line each. */
static void left_out(void *ctx, const char *path, const char *why)
{
	(void)ctx;
	fprintf(stderr, "layerctl: warning: %s: left out: %s (--strict refuses)\n", path, why);
}

int cmd_publish(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_STACK_OPTIONS,
		{ "format", required_argument, NULL, 'f' }, { "size", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'L' }, { "verify", no_argument, NULL, 'V' },
		{ "quiet", no_argument, NULL, 'q' }, { "json", no_argument, NULL, 'j' },
		{ "strict", no_argument, NULL, 'S' },
		{ "name", required_argument, NULL, 'N' }, { "description", required_argument, NULL, 'D' },
		{ "compress", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct cli_stack_args sa = {0};
	struct lf_publish_opts o = { .skipped = left_out, .note = cli_note };
	int quiet = 0, json = 0, verify = 0, fmt_given = 0, c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "f:s:L:qh", opts)) != -1) {
		switch (c) {
		case 'f':
			if (parse_format(optarg, &o.format))
				return cli_usage_error("publish", "unknown format '%s' (vhd, vhd-fixed, vhdx, raw or wim)",
						       optarg);
			fmt_given = 1;
			break;
		case 's': {
			int64_t v = cli_parse_size(optarg);
			if (v <= 0)
				return cli_usage_error("publish", "bad size '%s'", optarg);
			o.size = (uint64_t)v;
			break;
		}
		case 'L': o.label = optarg; break;
		case 'V': verify = 1; break;
		case 'S': o.strict = 1; break;
		case 'N': o.wim_name = optarg; break;
		case 'D': o.wim_description = optarg; break;
		case 'C':
			if (!strcmp(optarg, "lzx"))
				o.wim_compress = LF_WIM_LZX;
			else if (!strcmp(optarg, "xpress"))
				o.wim_compress = LF_WIM_XPRESS;
			else if (!strcmp(optarg, "none"))
				o.wim_compress = LF_WIM_NONE;
			else
				return cli_usage_error("publish", "unknown compression '%s' (lzx, xpress "
						       "or none)", optarg);
			break;
		case 'q': quiet = 1; break;
		case 'j': json = 1; break;
		case 'h': publish_usage(stdout); return EXIT_OK;
		default:
			if (!cli_stack_option(&sa, c, optarg))
				return cli_bad_option("publish");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("publish", "needs OUT");
	const char *out = argv[optind], *why = cli_stack_check(&sa);
	if (why)
		return cli_usage_error("publish", "%s", why);
	if (!fmt_given)
		o.format = ends_with(out, ".vhdx") ? LF_PUBLISH_VHDX
			   : ends_with(out, ".vhd") ? LF_PUBLISH_VHD_DYNAMIC
			   : ends_with(out, ".wim") ? LF_PUBLISH_WIM : LF_PUBLISH_RAW;
	struct lf_err err = {0};
	char base[4096];
	struct lf_union *u;
	int rc = cli_stack_open(&sa, base, sizeof base, &u, &err);
	/* the OS layer's label, unless one is given */
	for (int i = 0; !rc && !o.label && i < lf_union_nlayers(u); i++) {
		struct lf_layer *l = lf_union_layer(u, i);
		if (l->path && !strcmp(l->path, base) && l->label && l->label[0])
			o.label = l->label;
	}
	o.base = base[0] ? base : NULL;
	o.base_parents = sa.parents;
	o.nbase_parents = sa.nparents;
	struct cli_bar b;
	cli_bar_init(&b, quiet);
	o.progress = cli_bar_show;
	o.progress_ctx = &b;
	struct lf_publish_stats ps;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!rc)
		rc = lf_publish(u, out, &o, &ps, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cli_bar_end(&b);
	cli_who_free(&sa.who);
	if (rc) {
		if (!cli_union_spoke() || err.msg[0])
			cli_error("%s", err.msg);
		lf_union_close(u);
		return EXIT_FAIL;
	}
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (json)
		cli_print_json(stats_json(out, &ps, secs));
	else if (!quiet)
		fprintf(stderr, "%s: %llu files, %llu folders, %llu hard links, %llu streams, %llu hives, "
			"%llu bytes; %s disk of %llu bytes%s (%.1f s)\n", out,
			(unsigned long long)ps.files, (unsigned long long)ps.dirs,
			(unsigned long long)ps.hardlinks, (unsigned long long)ps.streams,
			(unsigned long long)ps.hives, (unsigned long long)ps.bytes, ps.layout,
			(unsigned long long)ps.disk_size,
			ps.grown ? ", the Windows partition grown" : "", secs);
	int same = 0;
	if (verify) {
		fflush(stdout);
		same = cli_compare(out, u, sa.repo ? sa.repo : sa.layers[0], 0, 0);
		if (same)
			cli_error("%s: the image differs from the stack (above)", out);
	}
	lf_union_close(u);
	return same ? EXIT_FAIL : EXIT_OK;
}
