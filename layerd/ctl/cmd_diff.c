/* layerctl diff [--json] A B: what differs between two trees, each a layer
 * stack, a disk or a folder: files, and for each registry hive the keys
 * and values. Exit status as diff(1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/wim.h"
#include "layerfs/hive.h"
#include "layerfs/regcompose.h"
#include "layerfs/union.h"

static void diff_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl diff [--json] [--times] A B\n"
		"\n"
		"What differs between A and B, each a layer stack, a disk or a folder: a\n"
		"LAYER (a .vhd, .vhdx, raw NTFS image or folder), or LAYER:LAYER:... as\n"
		"overlayfs's lowerdir= names a stack (leftmost highest). Files: '+' in B\n"
		"only, '-' in A only, '~' changed, saying what: type, spelling (a rename\n"
		"to another letter case; a folder respelled is one change), size,\n"
		"content, link target, descriptor, attributes, streams, reparse data,\n"
		"times (with --times). A folder's own descriptor, attributes or streams\n"
		"changed show as '~' on the folder, and what is in it is compared too.\n"
		"Names match in any case; files of the same size and modification time\n"
		"count as the same bytes, others are compared byte for byte. Each registry hive\n"
		"(Windows/System32/config/..., Users/*/NTUSER.DAT) is compared key by key\n"
		"and value by value, as its stack serves it (every layer's copy merged):\n"
		"'+ HKLM/SOFTWARE [key] \"value\"'. Useful on its own (\"what does this app\n"
		"layer change on this OS layer\": diff OS APP:OS) and the first step of a\n"
		"capture.\n"
		"\n"
		"  --json   one JSON object: files and registry, each difference\n"
		"  --times  a file's modification time differing is a change\n"
		"\n"
		"Exit status (as diff(1)): 0 the same, 1 different, 2 trouble.\n");
}

/* spec: a lowerdir= list, or (one) a single layer's file */
static struct lf_union *open_side(const char *spec, int one)
{
	struct lf_stack st = {0};
	struct lf_err err = {0};
	struct lf_union *u = NULL;
	struct lf_union_opts o = cli_hive_opts();
	if ((one ? lf_stack_add(&st, spec, &err) : lf_stack_add_lowerdir(&st, spec, &err)) ||
	    lf_stack_sort(&st, &err) || lf_union_open(&st, &o, &u, &err))
		cli_error("%s", err.msg);
	lf_stack_free(&st);
	return u;
}


/* A side's hive; NULL on a failure, said, or (*stub set, not said) for a
 * file named like a hive that is none (no "regf", too small: the stubs a
 * volume may hold), which is compared as bytes. */
static struct lf_hive *load_side(struct lf_union *u, const char *path, int *stub)
{
	struct lf_hive *h = NULL;
	struct lf_err err = {0};
	int rc = lf_hive_load_union(u, path, 1u << 30, &h, &err);
	if (rc == -EINVAL && strstr(err.msg, "not a registry hive")) {
		*stub = 1;
		return NULL;
	}
	if (rc && err.msg[0] && !cli_union_spoke())
		cli_error("%s", err.msg);
	/* compared read-only: packed into one arena, a third of the loose tree */
	if (h && lf_hive_freeze(h)) {
		cli_error("%s: out of memory", path);
		lf_hive_free(h);
		h = NULL;
	}
	return h;
}

struct run {
	struct lf_union *a, *b;
	json_t *files, *reg;
	long n;
	int trouble;
	const char *hive;        /* the hive being compared, for its lines */
	int stubs;               /* files named like hives that are none */
};

static void file_line(struct run *r, char what, const char *path, const char *why)
{
	r->n++;
	if (r->files)
		json_array_append_new(r->files, json_pack("{s:s%, s:s, s:s}", "change", &what,
							  (size_t)1, "path", path, "what", why));
	else
		printf("%c %s (%s)\n", what, path, why);
}

static void reg_difference(void *ctx, char what, const char *key, const char *value)
{
	struct run *r = ctx;
	r->n++;
	if (r->reg)
		json_array_append_new(r->reg, json_pack("{s:s, s:s%, s:s, s:s?}", "hive", r->hive,
							"change", &what, (size_t)1, "key", key,
							"value", value));
	else if (value)
		printf("%c %s [%s] \"%s\"\n", what, r->hive, key, value);
	else
		printf("%c %s [%s]\n", what, r->hive, key);
}

/* Path's bytes on both sides: 1 the same, 0 not, <0 an error. */
static int same_bytes(struct run *r, const char *path)
{
	struct lf_union *u[2] = { r->a, r->b };
	struct lf_walk w[2] = {0};
	struct lf_attr at[2];
	struct lf_ufile *f[2] = { NULL, NULL };
	int rc = 0, walked = 0;
	for (int i = 0; i < 2 && !rc; i++) {
		rc = lf_union_walk(u[i], path, &at[i], &w[i]);
		walked += !rc;
		if (!rc)
			rc = lf_union_open_file(u[i], at[i].ino, O_RDONLY, &f[i]);
	}
	int same = !rc && at[0].size == at[1].size;
	static char ba[1 << 16], bb[1 << 16];
	for (uint64_t off = 0; !rc && same && off < at[0].size;) {
		ssize_t na = lf_union_pread(u[0], f[0], ba, sizeof ba, off);
		ssize_t nb = lf_union_pread(u[1], f[1], bb, sizeof bb, off);
		if (na < 0 || nb < 0)
			rc = (int)(na < 0 ? na : nb);
		else if (na != nb || !na || memcmp(ba, bb, (size_t)na))
			same = 0;
		else
			off += (uint64_t)na;
	}
	for (int i = 0; i < 2; i++) {
		if (f[i])
			lf_union_release(u[i], f[i]);
		if (i < walked)
			lf_union_walk_end(u[i], &w[i]);
	}
	return rc ? rc : same;
}

/* A hive on one side or both: what it holds, compared. */
static void hive_diff(struct run *r, char what, const char *path, const char *mount)
{
	int stub = 0;
	struct lf_hive *ha = what == '+' ? NULL : load_side(r->a, path, &stub);
	struct lf_hive *hb = what == '-' ? NULL : load_side(r->b, path, &stub);
	if (stub) {
		/* a file named like a hive that is none: its bytes are what
		 * there is to compare */
		fprintf(stderr, "layerctl: note: %s is not a registry hive: compared as bytes\n", path);
		r->stubs++;
		int same = what == '~' ? same_bytes(r, path) : 0;
		if (same < 0)
			r->trouble = 1;
		else if (!same)
			file_line(r, what, path, what == '~' ? "content" : "file");
		lf_hive_free(ha);
		lf_hive_free(hb);
		return;
	}
	struct lf_rkey *empty = lf_rkey_new("ROOT", 0);
	if ((what != '+' && !ha) || (what != '-' && !hb) || !empty) {
		r->trouble = 1;
	} else {
		r->hive = mount;
		lf_reg_diff(ha ? ha->root : empty, hb ? hb->root : empty, reg_difference, r);
	}
	lf_rkey_free(empty);
	lf_hive_free(ha);
	lf_hive_free(hb);
}

static int file_difference(void *ctx, char what, const char *path, const char *why,
			   const struct lf_attr *a)
{
	(void)a;
	struct run *r = ctx;
	char place[512];
	const char *mount = S_ISREG(a->mode) ? lf_hive_place_of(path, place, sizeof place) : NULL;
	if (mount) {
		hive_diff(r, what == 'm' ? '~' : what, path, mount);
		return 0;
	}
	if (what == 'm' || what == 'd')
		what = '~';
	file_line(r, what, path, why);
	return 0;
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "times", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	int json = 0, times = 0, c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 'h') {
			diff_usage(stdout);
			return EXIT_OK;
		}
		if (c == 't')
			times = 1;
		else if (c == 'j')
			json = 1;
		else
			return cli_bad_option("diff");
	}
	if (argc - optind != 2)
		return cli_usage_error("diff", "needs A and B");
	struct run r = { .files = json ? json_array() : NULL, .reg = json ? json_array() : NULL };
	r.a = open_side(argv[optind], 0);
	r.b = r.a ? open_side(argv[optind + 1], 0) : NULL;
	struct cli_bar bar;
	cli_bar_init(&bar, json);
	struct lf_diff_opts o = { .flags = times ? LF_DIFF_TIMES : 0, .progress = cli_bar_show,
				  .progress_ctx = &bar };
	int rc = r.b ? lf_union_diff(r.a, r.b, &o, file_difference, &r) : -EINVAL;
	cli_bar_end(&bar);
	if (rc && r.b)
		cli_error("%s: %s", argv[optind], strerror(-rc));
	if (json && r.b && !rc)
		cli_print_json(json_pack("{s:s, s:s, s:I, s:o, s:o}", "a", argv[optind], "b",
					 argv[optind + 1], "differences", (json_int_t)r.n, "files",
					 r.files, "registry", r.reg));
	else {
		json_decref(r.files);
		json_decref(r.reg);
	}
	lf_union_close(r.a);
	lf_union_close(r.b);
	return rc || r.trouble ? 2 : r.n ? 1 : 0;
}

static void compare_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl compare [--json] IMAGE (--layer SPEC... | --repo REPO --user USER)\n"
		"\n"
		"Does the disk IMAGE (as publish writes it) hold exactly what the stack\n"
		"composes? Every entry of both is compared: name and its spelling, type,\n"
		"size, content (read whole, always), link target, security descriptor,\n"
		"Windows attributes, creation, modification and change times, streams,\n"
		"reparse data, hard links (one file's names in the stack are one file's\n"
		"names in the image), 8.3 name; each registry hive key by key and\n"
		"value by value against the stack's merged hive. (Last access times are\n"
		"not compared: reading a folder layer to compare them changes them.)\n"
		"Each difference is one line: '+' only in the stack (missing from the\n"
		"image), '-' only in the image, '~' in both and different, saying what.\n"
		"IMAGE may be a WIM (FILE.wim or FILE.wim:INDEX|NAME, as publish --format\n"
		"wim writes one): its image is applied onto a temporary volume (in\n"
		"TMPDIR, else /var/tmp) and compared, change times left out (a WIM keeps\n"
		"none).\n"
		"\n"
		CLI_STACK_HELP
		"\n"
		"  --json      one JSON object: files and registry, each difference\n"
		"  --no-ctime  leave change times out (a volume applied from a WIM has\n"
		"              the times of its apply)\n"
		"\n"
		"Exit status: 0 the same, 1 different, 2 trouble (or a usage error).\n");
}

/* Users/' folder names, kept by the readdir callback: no union call may
 * run inside one (the lock map, fs/union/union_int.h). */
struct names {
	char (*v)[256];
	int n, cap;
};

static int keep_folder(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	(void)next;
	struct names *ns = ctx;
	if (!S_ISDIR(a->mode) || strlen(name) >= 256)
		return 0;
	if (ns->n == ns->cap) {
		int cap = ns->cap ? ns->cap * 2 : 16;
		char (*v)[256] = realloc(ns->v, (size_t)cap * sizeof *v);
		if (!v)
			return 1;
		ns->v = v;
		ns->cap = cap;
	}
	snprintf(ns->v[ns->n++], 256, "%s", name);
	return 0;
}

static int is_file(struct lf_union *u, const char *path)
{
	struct lf_attr at;
	struct lf_walk w;
	if (lf_union_walk(u, path, &at, &w))
		return 0;
	lf_union_walk_end(u, &w);
	return S_ISREG(at.mode);
}

/* How many registry hives union u holds (each compared key by key). */
static int count_hives(struct lf_union *u)
{
	struct names users = {0};
	struct lf_attr ua;
	if (lf_union_lookup(u, LF_UNION_ROOT, "Users", &ua) == 0) {
		lf_union_readdir(u, ua.ino, 0, 0, keep_folder, &users);
		lf_union_forget(u, ua.ino, 1);
	}
	int n = 0;
	for (int i = 0; i < lf_nhive_places; i++) {
		const char *p = lf_hive_places[i].path, *star = strchr(p, '*');
		for (int k = 0; k < (star ? users.n : 1); k++) {
			char path[1024];
			if (star)
				snprintf(path, sizeof path, "%.*s%s%s", (int)(star - p), p, users.v[k],
					 star + 1);
			n += is_file(u, star ? path : p);
		}
	}
	free(users.v);
	return n;
}

/* A WIM image (FILE or FILE:IMAGE) applied onto a temporary raw volume
 * (*tmp, to unlink) to be compared as the image side; 0 when image is no
 * WIM. */
static int wim_side(const char *image, char *tmp, size_t size)
{
	char file[4096];
	snprintf(file, sizeof file, "%s", image);
	char *colon = strrchr(file, ':');
	if (!lf_is_wim(file) && colon && (*colon = 0, !lf_is_wim(file)))
		return 0;
	if (!lf_is_wim(file))
		return 0;
	const char *dir = getenv("TMPDIR");
	snprintf(tmp, size, "%s/layerctl-compare-XXXXXX", dir && *dir ? dir : "/var/tmp");
	int fd = mkstemp(tmp);
	if (fd < 0) {
		cli_error("%s: %s", tmp, strerror(errno));
		return -1;
	}
	close(fd);
	struct lf_pack_opts o = { .format = LF_PACK_RAW };
	struct lf_err err = {0};
	if (lf_pack_wim(image, tmp, &o, NULL, &err)) {
		cli_error("%s", err.msg);
		unlink(tmp);
		return -1;
	}
	return 1;
}

int cli_compare(const char *image, struct lf_union *stack, const char *stack_name, int json,
		int no_ctime)
{
	struct run r = { .files = json ? json_array() : NULL, .reg = json ? json_array() : NULL };
	char tmp[4096];
	int from_wim = wim_side(image, tmp, sizeof tmp);
	if (from_wim < 0)
		return 2;
	r.a = open_side(from_wim ? tmp : image, 1);
	r.b = stack;
	struct cli_bar bar;
	cli_bar_init(&bar, json);
	struct lf_diff_stats st = {0};
	/* a WIM keeps no change times: its image applied has its own */
	unsigned flags = LF_DIFF_EXACT | LF_DIFF_WINDOWS | (from_wim || no_ctime ? LF_DIFF_NO_CTIME : 0);
	struct lf_diff_opts o = { .flags = flags, .progress = cli_bar_show,
				  .progress_ctx = &bar, .stats = &st };
	int rc = r.a ? lf_union_diff(r.a, r.b, &o, file_difference, &r) : -EINVAL;
	cli_bar_end(&bar);
	if (rc && r.a)
		cli_error("%s: %s", image, strerror(-rc));
	int hives = r.a && !rc ? count_hives(r.b) - r.stubs : 0;
	if (json && r.a && !rc)
		cli_print_json(json_pack("{s:s, s:s, s:b, s:I, s:{s:I, s:I, s:I, s:i}, s:o, s:o}",
					 "image", image, "stack", stack_name, "same",
					 !r.n && !r.trouble, "differences", (json_int_t)r.n,
					 "compared", "files", (json_int_t)st.files, "folders",
					 (json_int_t)st.folders, "other", (json_int_t)st.other,
					 "hives", hives, "files", r.files, "registry", r.reg));
	else {
		json_decref(r.files);
		json_decref(r.reg);
	}
	/* an admin wants to see what "the same" covered, not silence */
	if (!json && r.a && !rc && !r.n && !r.trouble)
		printf("identical: %llu files, %llu folders, %llu links and others, %d registry "
		       "hives (key by key)%s\n", (unsigned long long)st.files,
		       (unsigned long long)st.folders, (unsigned long long)st.other, hives,
		       r.stubs ? "; files named like hives that are none, as bytes" : "");
	else if (!json && r.a && !rc)
		printf("%ld difference%s (of %llu files, %llu folders, %d hives compared)\n", r.n,
		       r.n == 1 ? "" : "s", (unsigned long long)st.files,
		       (unsigned long long)st.folders, hives);
	lf_union_close(r.a);
	if (from_wim)
		unlink(tmp);
	return rc || r.trouble ? 2 : r.n ? 1 : 0;
}

int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_STACK_OPTIONS, { "json", no_argument, NULL, 'j' },
		{ "no-ctime", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct cli_stack_args sa = {0};
	int json = 0, no_ctime = 0, c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 'h') {
			compare_usage(stdout);
			return EXIT_OK;
		}
		if (c == 'j')
			json = 1;
		else if (c == 'T')
			no_ctime = 1;
		else if (!cli_stack_option(&sa, c, optarg))
			return cli_bad_option("compare");
	}
	if (argc - optind != 1)
		return cli_usage_error("compare", "needs IMAGE");
	const char *why = cli_stack_check(&sa);
	if (why)
		return cli_usage_error("compare", "%s", why);
	struct lf_err err = {0};
	char base[4096];
	struct lf_union *u;
	int rc = cli_stack_open(&sa, base, sizeof base, &u, &err);
	cli_who_free(&sa.who);
	if (rc) {
		cli_error("%s", err.msg);
		return 2;
	}
	rc = cli_compare(argv[optind], u, sa.repo ? sa.repo : sa.layers[0], json, no_ctime);
	lf_union_close(u);
	return rc;
}
