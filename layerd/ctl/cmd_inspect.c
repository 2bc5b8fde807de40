/* layerctl ls / stat / cat: look inside any layer. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/grow.h"
#include "layerfs/security.h"
#include "layerfs/wof.h"

#define MAX_PARENTS 32

struct inspect_args {
	const char *parents[MAX_PARENTS];
	int nparents;
	int json, recursive;
	int first;                /* index of the first positional argument */
};

static const char *layer_help =
	"A LAYER is a .vhd, .vhdx, raw NTFS image (bare or partitioned) or a host\n"
	"directory. Paths inside it are '/'-separated from its root and matched\n"
	"without regard to case, as Windows does.\n"
	"\n"
	"  -p, --parent FILE  the parent of a differencing disk (repeat for a\n"
	"                     chain, child's parent first); by default parents are\n"
	"                     found through the disk's parent locators\n";

/* Parse the options the inspect commands share; returns -1 to go on, or
 * an exit status. */
static int parse(const char *cmd, int argc, char **argv, struct inspect_args *a,
		 int allow_recursive, void (*usage)(FILE *))
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "long", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	memset(a, 0, sizeof *a);
	int c;
	while ((c = cli_getopt(argc, argv, allow_recursive ? "p:Rlh" : "p:h", opts)) != -1) {
		switch (c) {
		case 'p':
			if (a->nparents == MAX_PARENTS)
				return cli_usage_error(cmd, "at most %d parents", MAX_PARENTS);
			a->parents[a->nparents++] = optarg;
			break;
		case 'j': a->json = 1; break;
		case 'l':        /* ls -l: the long form is the only one */
			if (!allow_recursive)
				return cli_usage_error(cmd, "no -l here");
			break;
		case 'R':
			if (!allow_recursive)
				return cli_usage_error(cmd, "no -R here");
			a->recursive = 1;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: return cli_bad_option(cmd);
		}
	}
	a->first = optind;
	return -1;
}

static void mode_string(uint32_t mode, char *out)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: out[0] = 'd'; break;
	case S_IFLNK: out[0] = 'l'; break;
	case S_IFIFO: out[0] = 'p'; break;
	case S_IFSOCK: out[0] = 's'; break;
	case S_IFCHR: out[0] = 'c'; break;
	case S_IFBLK: out[0] = 'b'; break;
	default: out[0] = '-';
	}
	const char *rwx = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	out[10] = 0;
}

static json_t *attributes_json(uint32_t w)
{
	static const struct { uint32_t bit; const char *name; } names[] = {
		{ LF_WATTR_READONLY, "readonly" }, { LF_WATTR_HIDDEN, "hidden" },
		{ LF_WATTR_SYSTEM, "system" }, { LF_WATTR_DIRECTORY, "directory" },
		{ LF_WATTR_ARCHIVE, "archive" }, { LF_WATTR_SPARSE, "sparse" },
		{ LF_WATTR_REPARSE, "reparse_point" }, { LF_WATTR_COMPRESSED, "compressed" },
		{ LF_WATTR_ENCRYPTED, "encrypted" },
	};
	json_t *arr = json_array();
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (w & names[i].bit)
			json_array_append_new(arr, json_string(names[i].name));
	return arr;
}

static const char *link_kind_name(enum lf_link_kind k)
{
	return k == LF_LINK_RELATIVE ? "relative" : k == LF_LINK_ROOTED ? "rooted" : "foreign";
}

/* One entry as JSON (what ls --json lists and stat --json shows). */
static json_t *entry_json(struct lf_layer *l, const char *path, const char *name,
			  const struct lf_attr *a)
{
	char m[48], at[48], ct[48], bt[48];
	cli_format_time(a->mtime, m, sizeof m);
	cli_format_time(a->atime, at, sizeof at);
	cli_format_time(a->ctime, ct, sizeof ct);
	cli_format_time(a->btime, bt, sizeof bt);
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:o, s:i, s:i}",
			      "path", path, "name", name, "type", cli_type_name(a->mode),
			      "ino", (json_int_t)a->ino, "mode", (int)(a->mode & 07777),
			      "nlink", (json_int_t)a->nlink, "size", (json_int_t)a->size,
			      "alloc", (json_int_t)a->alloc, "mtime", m, "atime", at,
			      "ctime", ct, "btime", bt, "attributes", attributes_json(a->wattr),
			      "uid", (int)a->uid, "gid", (int)a->gid);
	/* where owner and mode come from: WSL's $LX* EAs, the host file (a
	 * folder layer), or the defaults of an NTFS layer without them */
	json_object_set_new(j, "owner_from", json_string(a->flags & LF_ATTR_LX ? "lx" :
		!strcmp(l->kind, "dir") ? "host" : "default"));
	/* where its data is, when not plainly in the file: Compact OS (read
	 * as its data), or kept off the volume (reading it is EIO) */
	if (lf_store_is_wof(a->store) || a->store == LF_STORE_ALIAS)
		json_object_set_new(j, "compression", json_string(lf_store_name(a->store)));
	else if (lf_store_missing(a->store))
		json_object_set_new(j, "data", json_sprintf("not readable: %s (%s)",
							    lf_store_why(a->store),
							    lf_store_name(a->store)));
	if (S_ISCHR(a->mode) || S_ISBLK(a->mode)) {
		char dev[32];
		snprintf(dev, sizeof dev, "%u:%u", major((dev_t)a->rdev), minor((dev_t)a->rdev));
		json_object_set_new(j, "rdev", json_string(dev));
	}
	if (S_ISLNK(a->mode)) {
		char target[4096];
		enum lf_link_kind k = LF_LINK_RELATIVE;
		if (l->ops->readlink(l, a->ino, target, sizeof target, &k) >= 0) {
			json_object_set_new(j, "target", json_string(target));
			json_object_set_new(j, "link", json_string(link_kind_name(k)));
		}
	}
	return j;
}

struct listing {
	struct ent { char *name; lf_ino ino; } *v;
	size_t n, cap;
};

static int collect(void *ctx, const char *name, lf_ino ino, uint32_t type)
{
	(void)type;
	struct listing *ls = ctx;
	if (lf_grow(&ls->v, &ls->cap, ls->n, sizeof *ls->v, 64))
		return 1;
	ls->v[ls->n].name = strdup(name);
	ls->v[ls->n].ino = ino;
	ls->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static void print_line(struct lf_layer *l, const char *shown, const struct lf_attr *a)
{
	char mode[11], when[48];
	mode_string(a->mode, mode);
	cli_format_time(a->mtime, when, sizeof when);
	when[19] = 0; /* seconds are enough for a listing */
	when[10] = ' ';
	printf("%s %3u %12llu %s %s", mode, a->nlink, (unsigned long long)a->size, when, shown);
	if (S_ISLNK(a->mode)) {
		char target[4096];
		if (l->ops->readlink(l, a->ino, target, sizeof target, NULL) >= 0)
			printf(" -> %s", target);
	}
	putchar('\n');
}

static char *join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	if (a) {
		memcpy(p, dir, a);
		p[a++] = '/';
	}
	memcpy(p + a, name, b + 1);
	return p;
}

/* List folder ino (shown as `path`); recurse when asked. Returns 0, or 1
 * if some entry could not be read (reported, the rest still listed). */
static int list_dir(struct lf_layer *l, lf_ino ino, const char *path,
		    const struct inspect_args *a, json_t *out)
{
	struct listing ls = {0};
	int rc = l->ops->readdir(l, ino, collect, &ls);
	int bad = 0;
	if (rc) {
		cli_error("%s: %s: cannot read the folder: %s", l->path, path[0] ? path : "/", strerror(-rc));
		bad = 1;
	}
	if (ls.n)
		qsort(ls.v, ls.n, sizeof *ls.v, by_name);
	for (size_t i = 0; i < ls.n; i++) {
		struct lf_attr at;
		char *full = join(path, ls.v[i].name);
		int r = full ? l->ops->getattr(l, ls.v[i].ino, &at) : -ENOMEM;
		if (r) {
			cli_error("%s: %s: %s", l->path, full ? full : ls.v[i].name, strerror(-r));
			bad = 1;
		} else if (out) {
			json_array_append_new(out, entry_json(l, full, ls.v[i].name, &at));
		} else {
			print_line(l, a->recursive ? full : ls.v[i].name, &at);
		}
		if (!r && a->recursive && S_ISDIR(at.mode))
			bad |= list_dir(l, at.ino, full, a, out);
		free(full);
		free(ls.v[i].name);
	}
	free(ls.v);
	return bad;
}

static void ls_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl ls [-lR] [--json] [--parent FILE]... LAYER [PATH]\n"
		"\n"
		"List the folder PATH (default: the root) of LAYER, sorted by name: mode,\n"
		"links, size, modification time (UTC) and name; symlinks show their\n"
		"target (the long form, as ls -l; -l is taken and changes nothing). With\n"
		"-R, every folder below too, each entry by its full path.\n"
		"With --json, an array of objects (path, name, type, size, times with\n"
		"nanoseconds, Windows attributes, symlink target...).\n"
		"\n%s", layer_help);
}

static const char *strip_slashes(const char *p)
{
	while (*p == '/')
		p++;
	return p;
}

int cmd_ls(int argc, char **argv)
{
	struct inspect_args a;
	int r = parse("ls", argc, argv, &a, 1, ls_usage);
	if (r >= 0)
		return r;
	int n = argc - a.first;
	if (n < 1 || n > 2)
		return cli_usage_error("ls", "needs LAYER and at most one PATH");
	struct lf_layer *l = cli_open_layer(argv[a.first], a.parents, a.nparents);
	if (!l)
		return EXIT_FAIL;
	const char *path = n == 2 ? strip_slashes(argv[a.first + 1]) : "";
	struct lf_attr at;
	int status = EXIT_OK;
	if (cli_resolve(l, path, &at)) {
		status = EXIT_FAIL;
	} else {
		json_t *out = a.json ? json_array() : NULL;
		char *base = strdup(path);
		size_t bl = base ? strlen(base) : 0;
		while (bl && base[bl - 1] == '/')
			base[--bl] = 0;
		if (!S_ISDIR(at.mode)) {
			const char *name = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
			if (out)
				json_array_append_new(out, entry_json(l, base, name, &at));
			else
				print_line(l, base, &at);
		} else if (list_dir(l, at.ino, base ? base : "", &a, out)) {
			status = EXIT_FAIL;
		}
		if (out)
			cli_print_json(out);
		free(base);
	}
	lf_layer_close(l);
	return status;
}

static void stat_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl stat [--json] [--parent FILE]... LAYER PATH\n"
		"\n"
		"Show one entry of LAYER in full: type, size, allocation, links, all four\n"
		"times, Windows attributes, symlink target, and its extended attributes:\n"
		"on NTFS layers the ones ntfs-3g shows (system.ntfs_attrib,\n"
		"system.ntfs_times, system.ntfs_acl = the security descriptor,\n"
		"system.ntfs_dos_name, system.ntfs_reparse_data) and each alternate data\n"
		"stream as user.NAME. The descriptor is shown as SDDL too (as icacls and\n"
		"Get-Acl's Sddl show it); a folder layer has one where `layerctl acl` set it.\n"
		"A Compact OS file shows as Windows shows it, its data and size, with\n"
		"'compression' naming its form (wof-xpress4k, wof-lzx, wof-xpress8k,\n"
		"wof-xpress16k); a file whose data is not on the volume (dedup, hsm,\n"
		"wimboot, efs, cloud) has 'data' saying why it cannot be read.\n"
		"\n%s", layer_help);
}

static json_t *xattrs_json(struct lf_layer *l, lf_ino ino)
{
	json_t *obj = json_object();
	ssize_t n = l->ops->listxattr(l, ino, NULL, 0);
	if (n <= 0)
		return obj;
	char *names = malloc((size_t)n);
	if (!names)
		return obj;
	n = l->ops->listxattr(l, ino, names, (size_t)n);
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		ssize_t len = l->ops->getxattr(l, ino, name, NULL, 0);
		json_t *v = json_object();
		json_object_set_new(v, "size", json_integer(len < 0 ? 0 : len));
		if (!strcmp(name, "system.ntfs_dos_name") && len > 0) {
			char *s = calloc(1, (size_t)len + 1);
			if (s && l->ops->getxattr(l, ino, name, s, (size_t)len) == len)
				json_object_set_new(v, "value", json_string(s));
			free(s);
		} else if (!strcmp(name, "system.ntfs_acl") && len > 0) {
			uint8_t *sd = malloc((size_t)len);
			char *sddl = NULL;
			ssize_t got = sd ? l->ops->getxattr(l, ino, name, sd, (size_t)len) : -1;
			if (got > 0 && lf_sd_to_sddl(sd, (size_t)got, &sddl) == 0)
				json_object_set_new(v, "sddl", json_string(sddl));
			else
				json_object_set_new(v, "error", json_string("not a valid descriptor"));
			free(sddl);
			free(sd);
		} else if (!strcmp(name, "system.ntfs_attrib") && len == 4) {
			uint8_t b[4];
			if (l->ops->getxattr(l, ino, name, b, 4) == 4)
				json_object_set_new(v, "value", json_integer(b[0] | b[1] << 8 | b[2] << 16 | (json_int_t)b[3] << 24));
		}
		json_object_set_new(obj, name, v);
	}
	free(names);
	return obj;
}

int cmd_stat(int argc, char **argv)
{
	struct inspect_args a;
	int r = parse("stat", argc, argv, &a, 0, stat_usage);
	if (r >= 0)
		return r;
	if (argc - a.first != 2)
		return cli_usage_error("stat", "needs LAYER and PATH");
	struct lf_layer *l = cli_open_layer(argv[a.first], a.parents, a.nparents);
	if (!l)
		return EXIT_FAIL;
	const char *path = strip_slashes(argv[a.first + 1]);
	struct lf_attr at;
	int status = EXIT_OK;
	if (cli_resolve(l, path, &at)) {
		status = EXIT_FAIL;
	} else {
		const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		json_t *j = entry_json(l, path, name, &at);
		json_object_set_new(j, "xattrs", xattrs_json(l, at.ino));
		json_object_set_new(j, "layer", json_pack("{s:s, s:s}", "path", l->path, "kind", l->kind));
		if (l->source) {
			json_t *lj = json_object_get(j, "layer");
			json_object_set_new(lj, "disk", json_string(lf_source_kind_name(l->source->kind)));
			json_object_set_new(lj, "chain", json_integer(lf_source_depth(l->source)));
			json_object_set_new(lj, "partitioning", json_string(l->extent.scheme));
			json_object_set_new(lj, "volume_offset", json_integer((json_int_t)l->extent.offset));
			if (l->label)
				json_object_set_new(lj, "label", json_string(l->label));
		}
		if (a.json) {
			cli_print_json(json_incref(j));
		} else {
			const char *key;
			json_t *v;
			json_object_foreach(j, key, v) {
				if (json_is_string(v)) {
					printf("%-11s %s\n", key, json_string_value(v));
				} else if (!strcmp(key, "mode")) {   /* as ls -l and chmod say it */
					char ms[11];
					mode_string(at.mode, ms);
					printf("%-11s %04llo (%s)\n", key,
					       (unsigned long long)json_integer_value(v), ms);
				} else if (json_is_integer(v)) {
					printf("%-11s %lld\n", key, (long long)json_integer_value(v));
				} else {
					char *s = json_dumps(v, JSON_COMPACT);
					printf("%-11s %s\n", key, s ? s : "");
					free(s);
				}
			}
		}
		json_decref(j);
	}
	lf_layer_close(l);
	return status;
}

static void cat_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl cat [--parent FILE]... LAYER PATH...\n"
		"\n"
		"Write the contents of each file PATH of LAYER to standard output, one\n"
		"after the other, as cat(1) does.\n"
		"\n%s", layer_help);
}

static int cat_one(struct lf_layer *l, const char *path, char *buf, size_t size)
{
	struct lf_attr at;
	if (cli_resolve(l, path, &at))
		return 1;
	if (S_ISDIR(at.mode)) {
		cli_error("%s: %s: is a folder", l->path, path);
		return 1;
	}
	if (S_ISLNK(at.mode)) {
		cli_error("%s: %s: is a symlink (layerctl stat shows its target)", l->path, path);
		return 1;
	}
	if (!S_ISREG(at.mode)) {
		cli_error("%s: %s: is a %s, not a file", l->path, path, cli_type_name(at.mode));
		return 1;
	}
	uint64_t off = 0;
	for (;;) {
		ssize_t n = l->ops->read(l, at.ino, buf, size, off);
		if (n < 0) {
			cli_error("%s: %s: read failed at %llu: %s", l->path, path,
				  (unsigned long long)off, strerror((int)-n));
			return 1;
		}
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			cli_error("writing to standard output: %s", strerror(errno));
			return 1;
		}
		off += (uint64_t)n;
	}
	return 0;
}

int cmd_cat(int argc, char **argv)
{
	struct inspect_args a;
	int r = parse("cat", argc, argv, &a, 0, cat_usage);
	if (r >= 0)
		return r;
	if (argc - a.first < 2)
		return cli_usage_error("cat", "needs LAYER and at least one PATH");
	struct lf_layer *l = cli_open_layer(argv[a.first], a.parents, a.nparents);
	if (!l)
		return EXIT_FAIL;
	enum { BUF = 1 << 20 };
	char *buf = malloc(BUF);
	int bad = !buf;
	for (int i = a.first + 1; buf && i < argc; i++)
		bad |= cat_one(l, strip_slashes(argv[i]), buf, BUF);
	free(buf);
	if (fflush(stdout) != 0)
		bad = 1;
	lf_layer_close(l);
	return bad ? EXIT_FAIL : EXIT_OK;
}
