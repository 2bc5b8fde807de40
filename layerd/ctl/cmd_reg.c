/* layerctl reg SUBCOMMAND: registry hives. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/hive.h"
#include "layerfs/regcompose.h"
#include "layerfs/union.h"

static void reg_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl reg compact [--json] IN OUT\n"
		"       layerctl reg merge [--json] [--rules FILE] OUT HIVE [HIVE]...\n"
		"       layerctl reg export [--prefix KEY] [--utf16] HIVE [OUT.reg]\n"
		"       layerctl reg import [--prefix KEY] HIVE FILE.reg [OUT]\n"
		"       layerctl reg diff [--json] HIVE-A HIVE-B\n"
		"       layerctl reg new [--prefix KEY] OUT [FILE.reg]\n"
		"       layerctl reg SUBCOMMAND --layer SPEC [--layer SPEC]... ARGS\n"
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
		"  --rules FILE     more ';'-list values to union: \"KEY-PATTERN = VALUE\"\n"
		"                   a line (KEY-PATTERN a shell pattern over the key's\n"
		"                   path from the hive's root; both ignore case).\n"
		"  export HIVE      the hive as a regedit 5.00 .reg file (UTF-8, or UTF-16LE\n"
		"                   with a BOM as regedit writes it) on OUT or stdout. A\n"
		"                   key or value name holding a line break (or a NUL, in\n"
		"                   UTF-8; UTF-16 holds one as regedit writes it) has no\n"
		"                   .reg form: refused, naming it, unless --escape writes\n"
		"                   this project's escape (%%00 %%0D %%0A, %%25 for %%, said in\n"
		"                   a comment line), which reg import reads back and\n"
		"                   regedit cannot.\n"
		"  import HIVE REG  apply a .reg file (UTF-16LE with BOM, or UTF-8): keys\n"
		"                   and values set, [-KEY] and \"NAME\"=- delete; the result\n"
		"                   goes to OUT, or replaces HIVE (atomically).\n"
		"  diff A B         keys and values only in A (-), only in B (+), or\n"
		"                   changed (~: type or data), names compared ignoring\n"
		"                   case. Exit status as diff(1): 0 the same, 1 different,\n"
		"                   2 trouble.\n"
		"  new OUT          make an empty hive (an app layer's fragment, say),\n"
		"                   with FILE.reg's keys and values when given; its\n"
		"                   [-KEY] and \"NAME\"=- lines become the delete markers\n"
		"                   (.wh.NAME) a merge applies to the layers below.\n"
		"  --layer SPEC     (repeatable) HIVE arguments are paths in the stack\n"
		"                   these layers make (Windows/System32/config/SOFTWARE,\n"
		"                   Users/alice/NTUSER.DAT), each the merge of every\n"
		"                   layer's copy by priority, as layerfs serves it;\n"
		"                   SPEC as layerfs takes it (PATH[,type=os][,prio=N]).\n"
		"  --prefix KEY     the hive's path in .reg files; default\n"
		"                   HKEY_LOCAL_MACHINE\\NAME (NAME: the file name, upper\n"
		"                   case), HKEY_CURRENT_USER for NTUSER.DAT.\n"
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
		fprintf(stderr, "layerctl: warning: %s is dirty and no usable .LOG1/.LOG2 is beside it "
			"(%s); read as its base image (the last changes Windows made are missing)\n",
			file, h->log_note);
}

/* With --layer, HIVE arguments are paths in the stack those layers make
 * (Windows/System32/config/SOFTWARE), each the merge of every layer's copy. */
static struct lf_union *stack_union;

/* HIVE loaded (a file, or a path in the stack), or NULL after saying why;
 * a dirty one is warned of. */
static struct lf_hive *hive_load_named(const char *hive)
{
	struct lf_err err = {0};
	struct lf_hive *h = NULL;
	if (stack_union) {
		struct lf_copy *copies;
		int n, rc = lf_union_copies(stack_union, hive, &copies, &n);
		if (rc) {
			cli_error("%s: %s in the layers given", hive,
				  rc == -ENOENT ? "no such file" : strerror(-rc));
			return NULL;
		}
		rc = lf_reg_compose(copies, n, NULL, hive, &h, &err);
		lf_union_copies_free(copies, n);
		if (rc) {
			cli_error("%s", err.msg);
			return NULL;
		}
		return h;
	}
	if (lf_hive_load(hive, &h, &err)) {
		cli_error("%s", err.msg);
		return NULL;
	}
	warn_dirty(hive, h);
	return h;
}

static int reg_compact(int argc, char **argv, int json)
{
	if (argc != 2)
		return cli_usage_error("reg", "compact takes IN and OUT");
	struct lf_err err = {0};
	struct lf_hive *h = hive_load_named(argv[0]);
	if (!h)
		return EXIT_FAIL;
	if (lf_hive_write(h, argv[1], &err)) {
		cli_error("%s", err.msg);
		lf_hive_free(h);
		return EXIT_FAIL;
	}
	long long in = stack_union ? -1 : file_size(argv[0]), out = file_size(argv[1]);
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

static int reg_merge(int argc, char **argv, int json, const char *rules)
{
	if (argc < 2)
		return cli_usage_error("reg", "merge takes OUT and at least one HIVE");
	struct lf_err err = {0};
	struct lf_hive out = {0};
	struct lf_merge m = {0};
	if (rules && lf_reg_rules_load(rules, &m, &err)) {
		cli_error("%s", err.msg);
		return EXIT_FAIL;
	}
	int rc = EXIT_OK;
	for (int i = 1; i < argc && rc == EXIT_OK; i++) {
		struct lf_hive *h = hive_load_named(argv[i]);
		if (!h) {
			rc = EXIT_FAIL;
			break;
		}
		if (!out.root) {
			out.root = lf_rkey_new(h->root->name, h->root->mtime);
			if (!out.root) {
				cli_error("out of memory");
				rc = EXIT_FAIL;
			}
		}
		if (out.mtime < h->mtime)
			out.mtime = h->mtime;
		if (!out.minor)
			out.minor = h->minor;   /* the lowest layer's format version */
		int mr = rc ? 0 : lf_hive_merge(out.root, h->root, rules ? &m : NULL);
		if (mr) {
			cli_error("%s: cannot merge: %s", argv[i], strerror(-mr));
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
	lf_reg_rules_free(&m);
	return rc;
}

static void default_prefix(const char *hive, char *out, size_t size)
{
	const char *base = strrchr(hive, '/') ? strrchr(hive, '/') + 1 : hive;
	if (!strncasecmp(base, "ntuser", 6)) {
		snprintf(out, size, "HKEY_CURRENT_USER");
		return;
	}
	snprintf(out, size, "HKEY_LOCAL_MACHINE\\%s", base);
	for (char *p = out; *p; p++)
		*p = (char)(*p == '.' ? 0 : toupper((unsigned char)*p));
}

static int reg_export(int argc, char **argv, const char *prefix, unsigned flags)
{
	if (argc < 1 || argc > 2)
		return cli_usage_error("reg", "export takes HIVE and maybe OUT");
	char def[512];
	if (!prefix) {
		default_prefix(argv[0], def, sizeof def);
		prefix = def;
	}
	struct lf_hive *h = hive_load_named(argv[0]);
	if (!h)
		return EXIT_FAIL;
	char *text;
	size_t len;
	struct lf_err err = {0};
	int rc = lf_reg_export_ex(h->root, prefix, flags, &text, &len, &err);
	lf_hive_free(h);
	if (rc) {
		cli_error("%s: %s", argv[0], err.msg[0] ? err.msg : strerror(-rc));
		return EXIT_FAIL;
	}
	FILE *f = argc == 2 ? fopen(argv[1], "wb") : stdout;
	int ok = f && fwrite(text, 1, len, f) == len;
	if (f && f != stdout && fclose(f))
		ok = 0;
	free(text);
	if (!ok) {
		cli_error("%s: %s", argc == 2 ? argv[1] : "stdout", strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Apply FILE.reg (when given) to h, whose path in .reg files is prefix
 * (NULL: named after OUT), and write h to OUT. */
static int import_and_write(struct lf_hive *h, const char *prefix, const char *regfile,
			    const char *out, int fragment)
{
	char def[512];
	if (!prefix) {
		default_prefix(out, def, sizeof def);
		prefix = def;
	}
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f = regfile ? fopen(regfile, "rb") : NULL;
	if (regfile && !f) {
		cli_error("%s: %s", regfile, strerror(errno));
		return EXIT_FAIL;
	}
	char buf[65536];
	while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) {
		if (len + n > cap) {
			cap = (len + n) * 2;
			char *t = realloc(text, cap);
			if (!t) {
				free(text);
				fclose(f);
				cli_error("out of memory");
				return EXIT_FAIL;
			}
			text = t;
		}
		memcpy(text + len, buf, n);
		len += n;
	}
	if (f)
		fclose(f);
	struct lf_err err = {0};
	/* a new hive is a layer's fragment: its deletions are markers */
	int rc = !regfile ? 0 : fragment ? lf_reg_import_fragment(h->root, prefix, text ? text : "",
								   len, regfile, &err)
			  : lf_reg_import(h->root, prefix, text ? text : "", len, regfile, &err);
	if (!rc)
		rc = lf_hive_write(h, out, &err);
	free(text);
	if (rc) {
		cli_error("%s", err.msg);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int reg_import(int argc, char **argv, const char *prefix)
{
	if (argc < 2 || argc > 3)
		return cli_usage_error("reg", "import takes HIVE, FILE.reg and maybe OUT");
	struct lf_hive *h = hive_load_named(argv[0]);
	if (!h)
		return EXIT_FAIL;
	char def[512];
	if (!prefix) {               /* named after the hive read, not OUT */
		default_prefix(argv[0], def, sizeof def);
		prefix = def;
	}
	int rc = import_and_write(h, prefix, argv[1], argc == 3 ? argv[2] : argv[0], 0);
	lf_hive_free(h);
	return rc;
}

static int reg_new(int argc, char **argv, const char *prefix)
{
	if (argc < 1 || argc > 2)
		return cli_usage_error("reg", "new takes OUT and maybe FILE.reg");
	if (file_size(argv[0]) >= 0) {
		cli_error("%s: already there (new makes a hive; import changes one)", argv[0]);
		return EXIT_FAIL;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct lf_hive h = { .mtime = 116444736000000000LL + (int64_t)ts.tv_sec * 10000000 };
	/* the name Windows gives the root of a hive it makes */
	h.root = lf_rkey_new("ROOT", h.mtime);
	if (!h.root) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	int rc = import_and_write(&h, prefix, argc == 2 ? argv[1] : NULL, argv[0], 1);
	lf_rkey_free(h.root);
	return rc;
}

struct differ {
	json_t *j;               /* --json: the list of differences */
	long n;
};

static void difference(void *ctx, char what, const char *path, const char *value)
{
	struct differ *d = ctx;
	d->n++;
	if (d->j)
		json_array_append_new(d->j, json_pack("{s:s%, s:s, s:s?}", "change", &what, (size_t)1,
						      "key", path, "value", value));
	else if (value)
		printf("%c [%s] \"%s\"\n", what, path, value);
	else
		printf("%c [%s]\n", what, path);
}

static int reg_diff(int argc, char **argv, int json)
{
	if (argc != 2)
		return cli_usage_error("reg", "diff takes two hives");
	struct lf_hive *a = hive_load_named(argv[0]), *b = a ? hive_load_named(argv[1]) : NULL;
	if (!b) {
		lf_hive_free(a);
		return 2;
	}
	struct differ d = { json ? json_array() : NULL, 0 };
	lf_reg_diff(a->root, b->root, difference, &d);
	if (json)
		cli_print_json(json_pack("{s:s, s:s, s:o}", "a", argv[0], "b", argv[1],
					 "differences", d.j));
	lf_hive_free(a);
	lf_hive_free(b);
	return d.n ? 1 : 0;
}

int cmd_reg(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int json = 0, c;
	while ((c = cli_getopt(argc, argv, "+h", opts)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': reg_usage(stdout); return EXIT_OK;
		default: return cli_usage_error("reg", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("reg", "no subcommand (compact, merge, export, import, diff, new)");
	const char *sub = argv[optind++];
	/* options may also follow the subcommand */
	int rest = optind, utf16 = 0, escape = 0, nlayers = 0;
	struct lf_stack stack = {0};
	const char *prefix = NULL, *rules = NULL;
	int positional = 0;
	for (int i = optind; i < argc; i++) {
		if (positional) {
			argv[rest++] = argv[i];
		} else if (!strcmp(argv[i], "--")) {
			positional = 1;   /* what follows is names, even "-x" */
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			lf_stack_free(&stack);
			reg_usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--utf16"))
			utf16 = 1;
		else if (!strcmp(argv[i], "--escape"))
			escape = 1;
		else if (!strcmp(argv[i], "--prefix") && i + 1 < argc)
			prefix = argv[++i];
		else if (!strncmp(argv[i], "--prefix=", 9))
			prefix = argv[i] + 9;
		else if (!strcmp(argv[i], "--rules") && i + 1 < argc)
			rules = argv[++i];
		else if ((!strcmp(argv[i], "--layer") && i + 1 < argc) || !strncmp(argv[i], "--layer=", 8)) {
			const char *spec = argv[i][7] == '=' ? argv[i] + 8 : argv[++i];
			struct lf_err err = {0};
			if (lf_stack_add(&stack, spec, &err)) {
				lf_stack_free(&stack);
				return cli_usage_error("reg", "%s", err.msg);
			}
			nlayers++;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			lf_stack_free(&stack);
			return cli_usage_error("reg", "%s: unknown option (a file named so: put -- "
					       "before it)", argv[i]);
		} else {
			argv[rest++] = argv[i];
		}
	}
	int rc;
	if (nlayers) {
		struct lf_err err = {0};
		if (lf_stack_sort(&stack, &err) ||
		    lf_union_open(&stack, NULL, &stack_union, &err)) {
			cli_error("%s", err.msg);
			lf_stack_free(&stack);
			return EXIT_FAIL;
		}
	}
	if (!strcmp(sub, "compact"))
		rc = reg_compact(rest - optind, argv + optind, json);
	else if (!strcmp(sub, "merge"))
		rc = reg_merge(rest - optind, argv + optind, json, rules);
	else if (!strcmp(sub, "export"))
		rc = reg_export(rest - optind, argv + optind, prefix,
				(utf16 ? LF_REG_UTF16 : 0) | (escape ? LF_REG_ESCAPE : 0));
	else if (!strcmp(sub, "import"))
		rc = reg_import(rest - optind, argv + optind, prefix);
	else if (!strcmp(sub, "diff"))
		rc = reg_diff(rest - optind, argv + optind, json);
	else if (!strcmp(sub, "new"))
		rc = reg_new(rest - optind, argv + optind, prefix);
	else
		rc = cli_usage_error("reg", "unknown subcommand '%s' (compact, merge, export, import, "
				     "diff, new)", sub);
	lf_union_close(stack_union);
	stack_union = NULL;
	lf_stack_free(&stack);
	return rc;
}
