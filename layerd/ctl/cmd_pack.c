/* layerctl pack SRC_DIR OUT | layerctl pack --wim FILE[:IMAGE] OUT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/pack.h"
#include "layerfs/wim.h"

static void pack_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl pack [OPTIONS] SRC_DIR OUT\n"
		"       layerctl pack [OPTIONS] --wim FILE[:INDEX|:NAME] OUT\n"
		"\n"
		"Make a layer from the host directory SRC_DIR: an NTFS volume, made by\n"
		"mkntfs and filled through libntfs-3g, written to OUT. Names, sizes,\n"
		"contents, times, empty files, hard links and symlinks are kept; delete\n"
		"tokens (.wh.NAME, .wh..wh..opq) are packed as the plain entries they are.\n"
		"Each entry's Linux owner, group and mode are kept the way WSL keeps them\n"
		"(the extended attributes $LXUID, $LXGID, $LXMOD, and $LXDEV for devices),\n"
		"and FIFOs, sockets and device nodes become files with WSL's reparse tags;\n"
		"a mount shows them as they were ('layerctl stat' shows what a layer holds).\n"
		"Symlinks become Windows symlinks: an absolute target is taken from the\n"
		"layer's root (C:\\), a relative one stays relative.\n"
		"\n"
		"With --wim, the layer is an image of a WIM file (Microsoft's install.wim,\n"
		"an .esd, or the first .swm of a split set, its other parts beside it),\n"
		"applied onto the new volume by wimlib as Windows setup applies it:\n"
		"security descriptors, 8.3 names, streams, reparse points (Compact OS\n"
		"files stay compressed), hard links and times as the image holds them;\n"
		"a file of several images needs its INDEX (1, 2...) or NAME. The volume\n"
		"is sized from the image unless --size says.\n"
		"\n"
		"OUT is written under a temporary name and appears only when complete.\n"
		"\n"
		"Options:\n"
		"  -f, --format FMT   vhd-dynamic (default), vhd-fixed, vhdx or raw. VHDs hold\n"
		"                     an MBR disk with the volume at 1 MiB, as Windows makes\n"
		"                     them (a VHDX is written through 'qemu-img convert',\n"
		"                     from qemu-utils, as publish writes one); raw is the\n"
		"                     bare volume.\n"
		"  -s, --size SIZE    volume size (e.g. 512M, 20G); default: computed from\n"
		"                     the tree with room for the file system's own needs\n"
		"  -L, --label NAME   volume label (default: layer)\n"
		"      --no-lx        leave out the Linux owner and mode: a pure Windows\n"
		"                     layer (mounts show root, 0644 files, 0755 folders);\n"
		"                     FIFOs, sockets and devices are then refused\n"
		"  -q, --quiet        no progress bar (it shows only when stderr is a\n"
		"                     terminal)\n"
		"      --json         print what was packed as JSON\n"
		"  -h, --help         show this help\n"
		"\n"
		"Names Windows cannot hold (\\ : * ? \" < > |, control characters, a\n"
		"trailing dot or space), devices, FIFOs and sockets are errors: nothing\n"
		"is written.\n");
}

int cmd_pack(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'L' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-lx", no_argument, NULL, 'X' },
		{ "wim", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lf_pack_opts o = { .format = LF_PACK_VHD_DYNAMIC, .note = cli_note };
	int quiet = 0, json = 0, c;
	const char *wim = NULL;
	while ((c = cli_getopt(argc, argv, "f:s:L:qh", opts)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "vhd-dynamic") || !strcmp(optarg, "vhd"))
				o.format = LF_PACK_VHD_DYNAMIC;
			else if (!strcmp(optarg, "vhd-fixed"))
				o.format = LF_PACK_VHD_FIXED;
			else if (!strcmp(optarg, "raw"))
				o.format = LF_PACK_RAW;
			else if (!strcmp(optarg, "vhdx"))
				o.format = LF_PACK_VHDX;
			else
				return cli_usage_error("pack", "unknown format '%s' (vhd-dynamic, vhd-fixed, vhdx "
						       "or raw)", optarg);
			break;
		case 's': {
			int64_t v = cli_parse_size(optarg);
			if (v <= 0)
				return cli_usage_error("pack", "bad size '%s'", optarg);
			o.size = (uint64_t)v;
			break;
		}
		case 'L': o.label = optarg; break;
		case 'q': quiet = 1; break;
		case 'j': json = 1; break;
		case 'X': o.no_lx = 1; break;
		case 'W': wim = optarg; break;
		case 'h': pack_usage(stdout); return EXIT_OK;
		default: return cli_bad_option("pack");
		}
	}
	if (argc - optind != (wim ? 1 : 2))
		return cli_usage_error("pack", wim ? "--wim needs OUT only" : "needs SRC_DIR and OUT");
	const char *src = wim ? wim : argv[optind], *out = argv[optind + (wim ? 0 : 1)];
	struct cli_bar b;
	cli_bar_init(&b, quiet);
	o.progress = cli_bar_show;
	o.progress_ctx = &b;
	struct lf_pack_stats st;
	struct lf_err err = {0};
	int rc = wim ? lf_pack_wim(wim, out, &o, &st, &err) : lf_pack(src, out, &o, &st, &err);
	cli_bar_end(&b);
	if (rc) {
		cli_error("%s", err.msg);
		return EXIT_FAIL;
	}
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "source", src, "layer", out,
				      "files", (json_int_t)st.files, "dirs", (json_int_t)st.dirs,
				      "symlinks", (json_int_t)st.symlinks,
				      "hardlinks", (json_int_t)st.hardlinks,
				      "special", (json_int_t)st.special,
				      "bytes", (json_int_t)st.bytes,
				      "volume_size", (json_int_t)st.volume_size,
				      "disk_size", (json_int_t)st.disk_size);
		cli_print_json(j);
	} else if (!quiet) {
		fprintf(stderr, "%s: %llu files, %llu folders, %llu symlinks, %llu bytes in a %llu-byte volume\n",
			out, (unsigned long long)st.files, (unsigned long long)st.dirs,
			(unsigned long long)st.symlinks, (unsigned long long)st.bytes,
			(unsigned long long)st.volume_size);
	}
	return EXIT_OK;
}
