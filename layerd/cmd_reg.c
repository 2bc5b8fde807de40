/* layerctl reg SUBCOMMAND: registry hives. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/hive.h"

static void reg_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl reg compact [--json] IN OUT\n"
		"       layerctl reg merge [--json] OUT HIVE [HIVE]...\n"
		"\n"
		"Registry hives (regf files: SYSTEM, SOFTWARE, NTUSER.DAT...).\n"
		"\n"
		"  compact IN OUT   rewrite hive IN as OUT with the project's compact\n"
		"                   writer: every key, value, class name and security\n"
		"                   descriptor kept (descriptors shared), no free space,\n"
		"                   valid checksum. A dirty IN is read with the\n"
		"                   transaction logs beside it (IN.LOG1, IN.LOG2) applied,\n"
		"                   as Windows would; without them, as its base image,\n"
		"                   with a warning.\n"
		"  merge OUT HIVE.. merge layers' fragments of one hive, lowest priority\n"
		"                   first, into OUT: keys unioned (names ignore case, the\n"
		"                   higher spelling shows), a higher value replaces a\n"
		"                   lower one, REG_MULTI_SZ values and the Path, PATHEXT\n"
		"                   and PSModulePath lists of Session Manager\\Environment\n"
		"                   are unioned; subkey or value .wh.NAME deletes NAME\n"
		"                   below, value .wh..wh..opq empties its key below.\n"
		"\n"
		"Exit status: 0 on success, 1 on failure (one line naming the file),\n"
		"2 on a usage error.\n");
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* A dirty hive without its logs: the caller is told, once. */
static void warn_dirty(const char *file, const struct lf_hive *h)
{
	if (h->dirty && !h->log_entries)
		fprintf(stderr, "layerctl: warning: %s is dirty and no usable .LOG1/.LOG2 is beside it; "
			"read as its base image (the last changes Windows made are missing)\n", file);
}

static int reg_compact(int argc, char **argv, int json)
{
	if (argc != 2)
		return cli_usage_error("reg", "compact takes IN and OUT");
	struct lf_err err = {0};
	struct lf_hive *h = NULL;
	if (lf_hive_load(argv[0], &h, &err) || lf_hive_write(h, argv[1], &err)) {
		cli_error("%s", err.msg);
		lf_hive_free(h);
		return EXIT_FAIL;
	}
	warn_dirty(argv[0], h);
	long long in = file_size(argv[0]), out = file_size(argv[1]);
	if (json)
		cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:i}", "in", argv[0],
					 "out", argv[1], "keys", (json_int_t)h->nkeys,
					 "values", (json_int_t)h->nvalues, "in_bytes", (json_int_t)in,
					 "out_bytes", (json_int_t)out, "dirty", h->dirty,
					 "log_entries", h->log_entries));
	else
		printf("%s -> %s: %zu keys, %zu values, %lld -> %lld bytes%s\n", argv[0], argv[1],
		       h->nkeys, h->nvalues, in, out,
		       h->log_entries ? " (transaction logs applied)" : "");
	lf_hive_free(h);
	return EXIT_OK;
}

static int reg_merge(int argc, char **argv, int json)
{
	if (argc < 2)
		return cli_usage_error("reg", "merge takes OUT and at least one HIVE");
	struct lf_err err = {0};
	struct lf_hive out = {0};
	int rc = EXIT_OK;
	for (int i = 1; i < argc && rc == EXIT_OK; i++) {
		struct lf_hive *h = NULL;
		if (lf_hive_load(argv[i], &h, &err)) {
			cli_error("%s", err.msg);
			rc = EXIT_FAIL;
			break;
		}
		warn_dirty(argv[i], h);
		if (!out.root) {
			out.root = lf_rkey_new(h->root->name, h->root->mtime);
			if (!out.root) {
				cli_error("out of memory");
				rc = EXIT_FAIL;
			}
		}
		if (out.mtime < h->mtime)
			out.mtime = h->mtime;
		int m = rc ? 0 : lf_hive_merge(out.root, h->root, NULL);
		if (m) {
			cli_error("%s: cannot merge: %s", argv[i], strerror(-m));
			rc = EXIT_FAIL;
		}
		lf_hive_free(h);
	}
	if (rc == EXIT_OK && lf_hive_write(&out, argv[0], &err)) {
		cli_error("%s", err.msg);
		rc = EXIT_FAIL;
	}
	if (rc == EXIT_OK && json)
		cli_print_json(json_pack("{s:s, s:i, s:I}", "out", argv[0], "layers", argc - 1,
					 "out_bytes", (json_int_t)file_size(argv[0])));
	else if (rc == EXIT_OK)
		printf("%s: %d hives merged, %lld bytes\n", argv[0], argc - 1, file_size(argv[0]));
	lf_rkey_free(out.root);
	return rc;
}

int cmd_reg(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int json = 0, c;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': reg_usage(stdout); return EXIT_OK;
		default: return cli_usage_error("reg", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("reg", "no subcommand (compact, merge)");
	const char *sub = argv[optind++];
	/* options may also follow the subcommand */
	int rest = optind;
	for (int i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			argv[rest++] = argv[i];
	}
	if (!strcmp(sub, "compact"))
		return reg_compact(rest - optind, argv + optind, json);
	if (!strcmp(sub, "merge"))
		return reg_merge(rest - optind, argv + optind, json);
	return cli_usage_error("reg", "unknown subcommand '%s' (compact, merge)", sub);
}
