/* layerctl repo SUBCOMMAND: the layer repository's control files. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/oci.h"
#include "cmd_repo.h"
#include "layerfs/regcompose.h"
#include "layerfs/repo.h"
#include "layerfs/source.h"

static void repo_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl repo init REPO [--group GROUP]\n"
		"       layerctl repo add REPO FILE --type os|platform|app --name NAME\n"
		"                [--id ID] [--revision REV] [--os-layer ID] [--priority N] [--move]\n"
		"                [--allow-same]\n"
		"       layerctl repo remove [--json] REPO ID[:REV] [--force] [--purge]\n"
		"       layerctl repo restore [--json] REPO ID[:REV]\n"
		"       layerctl repo assign REPO --user|--group|--machine NAME ID[:REV]...\n"
		"       layerctl repo unassign REPO --user|--group|--machine NAME ID...\n"
		"       layerctl repo priority REPO ID N\n"
		"       layerctl repo list [--json] REPO\n"
		"       layerctl repo list [--json] [--cache DIR] [--registry-auth FILE]\n"
		"                          [--registry-ca FILE] oci://HOST/NAME[:TAG]\n"
		"       layerctl repo resolve [--json] REPO --user USER [--groups G,...] [--machine M]\n"
		"\n"
		"The layer repository: layers in Layers/{OS,Platform,App}/, the control files\n"
		"GuestLayerFile.txt (the layers) and LayerAssignment.txt (who gets which),\n"
		"and personalization layers in Users/USER/. Every change takes the\n"
		"repository's lock and replaces the control files atomically, so readers on\n"
		"other hosts never see half a file (docs/REPOSITORY.md).\n"
		"\n"
		"  init      make an empty repository (folders and control files). Layers\n"
		"            hold every machine's SAM and SECURITY: Layers/ is 0750 and\n"
		"            root's (--group: of GROUP, e.g. the layer admins), each layer\n"
		"            file 0640 of its folder's group; Users/ is root's alone.\n"
		"  add       put layer FILE (a .vhd, .vhdx or raw NTFS image; it must open)\n"
		"            in the repository as Layers/TYPE/NAME.ID.REV.EXT, with its size\n"
		"            and SHA-256. FILE is copied (--move: renamed) unless it is in the\n"
		"            repository already. Without --id: NAME's id if it has one, else a\n"
		"            new one; without --revision: one past the newest. App and platform\n"
		"            layers name the OS layer they were built on (--os-layer; default:\n"
		"            the only OS layer there is). Without --priority: NAME's, or the\n"
		"            next above the highest of its type on its OS layer (creation\n"
		"            order). A file with the same bytes as a revision of that layer\n"
		"            is refused (--allow-same adds it anyway). The repository's copy\n"
		"            is 0640, of its folder's group.\n"
		"  remove    retire layer ID (every revision) or one revision ID:REV: it\n"
		"            leaves the control file and its file moves to REPO/Retired/\n"
		"            (--purge: deleted). Refused while an assignment needs it, a\n"
		"            layer is built on it, or a running session of this host's layerd\n"
		"            uses it, saying which (--force: anyway; a running session keeps\n"
		"            what it has open until logoff); always refused while another\n"
		"            revision's file is a differencing disk on its file. Its file\n"
		"            keeps its name in Retired/ (-2, -3... added if one has it),\n"
		"            with NAME.json beside it: its entry, for restore.\n"
		"  restore   bring back retired layer ID (each retired revision) or ID:REV\n"
		"            as it was: its file (checked against its SHA-256) back in its\n"
		"            place, its entry back in the control file. Assignments are\n"
		"            not restored. A new layer never takes a retired one's id.\n"
		"  assign    give layers to a user, a group or a machine pattern (shell\n"
		"            wildcards: 'WKS-*'); ID:REV pins a revision, plain ID means the\n"
		"            newest at login.\n"
		"  unassign  take layers back.\n"
		"  priority  set the priority of every revision of layer ID (higher wins).\n"
		"  list      the layers and the assignments, and where each layer lives:\n"
		"            'local' (a file of the folder), or 'registry' and how much of it\n"
		"            this host's chunk cache holds (oci://: a repository pushed to\n"
		"            a registry, as its control artifact says).\n"
		"  resolve   the exact stack USER gets on machine M (default: this host),\n"
		"            lowest first, with why each layer is there and why others are not.\n"
		"\n"
		"Exit status: 0 on success, 1 on failure, 2 on a usage error.\n");
}

int repo_fail(struct lf_err *err)
{
	cli_error("%s", err->msg);
	return EXIT_FAIL;
}

int repo_update(const char *root, lf_repo_change change, void *ctx)
{
	struct lf_err err = {0};
	return lf_repo_update(root, change, ctx, &err) ? repo_fail(&err) : EXIT_OK;
}

int repo_parse_uint(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > INT32_MAX || *s == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* --- add --- */

struct add {
	const char *file, *name;
	enum lf_layer_type type;
	uint32_t id, revision, os_layer;
	long priority;
	int priority_given, move, allow_same;
	char rel[PATH_MAX];      /* where it goes */
	char hash[65];
	uint64_t size;
};

static const char *type_folder(enum lf_layer_type t)
{
	return t == LF_LAYER_OS ? "OS" : t == LF_LAYER_PLATFORM ? "Platform" : "App";
}

/* Copy src to dst through a temporary beside dst. */
static int copy_file(const char *src, const char *dst, struct lf_err *err)
{
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dst, (long)getpid());
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int rc = in < 0 || out < 0 ? -errno : 0;
	char *buf = rc ? NULL : malloc(1 << 20);
	if (!rc && !buf)
		rc = -ENOMEM;
	ssize_t n;
	while (!rc && (n = read(in, buf, 1 << 20)) != 0) {
		if (n < 0 || write(out, buf, (size_t)n) != n)
			rc = -errno;
	}
	if (!rc)
		rc = lf_repo_close_layer(out, dst);
	if (!rc && fsync(out) < 0)
		rc = -errno;
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc && out >= 0)
		unlink(tmp);
	return rc ? lf_err_set(err, -rc, "%s -> %s: %s", src, dst, strerror(-rc)) : 0;
}

/* A file renamed into the repository (or there already): closed as a
 * copy would be (0640, its folder's group). */
static int close_moved(const char *dst, struct lf_err *err)
{
	int fd = open(dst, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc = fd < 0 ? -errno : lf_repo_close_layer(fd, dst);
	if (fd >= 0)
		close(fd);
	return rc ? lf_err_set(err, -rc, "%s: cannot close it to others: %s", dst, strerror(-rc))
		  : 0;
}

static int do_add(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	struct add *a = ctx;
	/* the id: given, or the name's, or a new one */
	for (size_t i = 0; i < r->nlayers && !a->id; i++)
		if (!strcmp(r->layers[i].name, a->name))
			a->id = r->layers[i].id;
	if (!a->id) {
		/* past every id the control file has, and every id a retired
		 * revision had: one may be restored */
		a->id = a->type == LF_LAYER_APP ? 100 : 1;
		for (size_t i = 0; i < r->nlayers; i++)
			if (r->layers[i].id >= a->id)
				a->id = r->layers[i].id + 1;
		uint32_t gone = repo_retired_max_id(r->root, 0, NULL);
		if (gone >= a->id && (a->type == LF_LAYER_APP || gone < 100))
			a->id = gone + 1;
	}
	const struct lf_repo_layer *same = lf_repo_find(r, a->id, 0);
	if (same && (strcmp(same->name, a->name) || same->type != a->type))
		return lf_err_set(err, EEXIST, "layer %u is %s (%s) already", a->id, same->name,
				  lf_layer_type_name(same->type));
	if (!a->revision) {
		uint32_t gone = 0;
		repo_retired_max_id(r->root, a->id, &gone);
		a->revision = same ? same->revision + 1 : 1;
		if (gone >= a->revision)
			a->revision = gone + 1;
	}
	if (lf_repo_find(r, a->id, a->revision))
		return lf_err_set(err, EEXIST, "layer %u revision %u is there already", a->id,
				  a->revision);
	if (a->type == LF_LAYER_OS) {
		a->os_layer = a->id;
	} else if (!a->os_layer) {
		for (size_t i = 0; i < r->nlayers; i++)
			if (r->layers[i].type == LF_LAYER_OS) {
				if (a->os_layer && a->os_layer != r->layers[i].id)
					return lf_err_set(err, EINVAL, "more than one OS layer: say which "
							  "with --os-layer");
				a->os_layer = r->layers[i].id;
			}
		if (!a->os_layer)
			return lf_err_set(err, EINVAL, "no OS layer in the repository: add one "
					  "first, or say --os-layer");
	}
	/* the default priority is creation order, as the products give it:
	 * next above the highest of that kind on that OS layer */
	if (!a->priority_given && same) {
		a->priority = same->priority;
	} else if (!a->priority_given) {
		int any = 0;
		for (size_t i = 0; i < r->nlayers; i++) {
			const struct lf_repo_layer *m = &r->layers[i];
			if (m->type == a->type && m->os_layer == a->os_layer &&
			    (!any || m->priority >= a->priority)) {
				a->priority = m->priority + 1;
				any = 1;
			}
		}
	}
	/* the same bytes again are no new revision */
	for (size_t i = 0; !a->allow_same && i < r->nlayers; i++)
		if (r->layers[i].id == a->id && !strcmp(r->layers[i].sha256, a->hash))
			return lf_err_set(err, EEXIST, "%s: the same bytes as layer %u revision %u "
					  "(%s): not a new revision (--allow-same adds it anyway)",
					  a->file, a->id, r->layers[i].revision, r->layers[i].file);
	/* where it goes: in place if it is in the repository already */
	char *real = realpath(a->file, NULL);
	if (!real)
		return lf_err_set(err, errno, "%s: %s", a->file, strerror(errno));
	size_t rl = strlen(r->root);
	if (!strncmp(real, r->root, rl) && real[rl] == '/') {
		snprintf(a->rel, sizeof a->rel, "%s", real + rl + 1);
	} else {
		const char *ext = strrchr(a->file, '.');
		if (!ext || strchr(ext, '/'))
			ext = ".img";
		snprintf(a->rel, sizeof a->rel, "Layers/%s/%s.%u.%u%s", type_folder(a->type), a->name,
			 a->id, a->revision, ext);
	}
	char dst[PATH_MAX];
	int rc = lf_repo_path(r, a->rel, dst, sizeof dst, err);
	if (!rc && strcmp(real, dst)) {
		if (access(dst, F_OK) == 0)
			rc = lf_err_set(err, EEXIST, "%s: there already", dst);
		else if (a->move && rename(a->file, dst) == 0)
			rc = close_moved(dst, err);
		else
			rc = copy_file(a->file, dst, err);
	} else if (!rc) {
		rc = close_moved(dst, err);      /* in place: the repository's now */
	}
	free(real);
	struct lf_repo_layer *v = rc ? NULL : realloc(r->layers, (r->nlayers + 1) * sizeof *v);
	if (!rc && !v)
		rc = lf_err_set(err, ENOMEM, "out of memory");
	if (rc)
		return rc;
	r->layers = v;
	struct lf_repo_layer *l = &v[r->nlayers++];
	*l = (struct lf_repo_layer){ a->id, a->revision, strdup(a->name), a->type, a->os_layer,
				     a->priority, strdup(a->rel), "", a->size };
	memcpy(l->sha256, a->hash, 65);
	return l->name && l->file ? 0 : lf_err_set(err, ENOMEM, "out of memory");
}

struct hive_warn {
	const char *file;
	struct lf_layer *l;
};

/* A hive of the layer that lost its last write and has no logs to
 * replay: it is added (sessions read its base image, read-only), said. */
static int warn_dirty(void *ctx, const char *path, const char *mount)
{
	struct hive_warn *w = ctx;
	struct lf_hive *h = NULL;
	struct lf_err err = {0};
	int rc = lf_hive_load_layer(w->l, path, &h, &err);
	if (rc && rc != -ENOENT)
		fprintf(stderr, "layerctl: warning: %s: %s\n", w->file, err.msg);
	else if (!rc && h->dirty && !h->log_entries)
		fprintf(stderr, "layerctl: warning: %s: %s (%s): a dirty hive without usable logs "
			"beside it: sessions read its base image, read-only ('layerctl reg compact' "
			"makes it whole)\n", w->file, path, mount);
	lf_hive_free(h);
	return 0;
}

static int repo_add(int argc, char **argv, int json)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' }, { "name", required_argument, NULL, 'n' },
		{ "id", required_argument, NULL, 'i' }, { "revision", required_argument, NULL, 'r' },
		{ "os-layer", required_argument, NULL, 'o' },
		{ "priority", required_argument, NULL, 'p' }, { "move", no_argument, NULL, 'm' },
		{ "allow-same", no_argument, NULL, 'S' }, { 0 },
	};
	struct add a = { .type = (enum lf_layer_type)-1 };
	int c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		char *end;
		switch (c) {
		case 't':
			if (lf_layer_type_parse(optarg, &a.type))
				a.type = (enum lf_layer_type)-1;
			if ((int)a.type < 0)
				return cli_usage_error("repo", "--type is os, platform or app");
			break;
		case 'n': a.name = optarg; break;
		case 'i': if (repo_parse_uint(optarg, &a.id)) return cli_usage_error("repo", "bad --id"); break;
		case 'r':
			if (repo_parse_uint(optarg, &a.revision))
				return cli_usage_error("repo", "bad --revision");
			break;
		case 'o':
			if (repo_parse_uint(optarg, &a.os_layer))
				return cli_usage_error("repo", "bad --os-layer");
			break;
		case 'p':
			a.priority = strtol(optarg, &end, 10);
			if (*end || !*optarg || a.priority < LF_PRIORITY_MIN || a.priority > LF_PRIORITY_MAX)
				return cli_usage_error("repo", "bad --priority");
			a.priority_given = 1;
			break;
		case 'm': a.move = 1; break;
		case 'S': a.allow_same = 1; break;
		default: return cli_bad_option("repo");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("repo", "add takes REPO and FILE");
	if ((int)a.type < 0 || !a.name)
		return cli_usage_error("repo", "add needs --type and --name");
	if (!*a.name || strpbrk(a.name, "/\\") || a.name[0] == '.')
		return cli_usage_error("repo", "--name may not hold '/' or '\\' or start with '.'");
	a.file = argv[optind + 1];
	struct stat st;
	if (stat(a.file, &st) == 0 && S_ISDIR(st.st_mode)) {
		cli_error("%s: a folder; a repository holds layer files (pack it: 'layerctl pack')",
			  a.file);
		return EXIT_FAIL;
	}
	/* a layer that does not open is no layer */
	struct lf_layer *l = cli_open_layer(a.file, NULL, 0);
	if (!l)
		return EXIT_FAIL;
	struct hive_warn hw = { a.file, l };
	lf_hive_places_in(l, warn_dirty, &hw);
	char open[200];
	if (a.type == LF_LAYER_OS && lf_os_layer_open_folders(l, open, sizeof open))
		fprintf(stderr, "layerctl: warning: %s: every user may change %s of this OS layer "
			"(their descriptors allow it; 'layerctl acl' sets Windows' before packing)\n",
			a.file, open);
	lf_layer_close(l);
	/* its hash from the file given: the copy is fsynced and renamed into
	 * place, and the hash says whether it is a new revision at all */
	struct lf_err herr = {0};
	struct cli_bar bar;
	cli_bar_init(&bar, json);
	int hrc = lf_sha256_file_progress(a.file, a.hash, &a.size, cli_bar_show, &bar, &herr);
	cli_bar_end(&bar);
	if (hrc) {
		cli_error("%s", herr.msg);
		return EXIT_FAIL;
	}
	int rc = repo_update(argv[optind], do_add, &a);
	if (rc == EXIT_OK && json)
		cli_print_json(json_pack("{s:i, s:i, s:s, s:s, s:s, s:I}", "id", (int)a.id,
					 "revision", (int)a.revision, "name", a.name, "file", a.rel,
					 "sha256", a.hash, "size", (json_int_t)a.size));
	else if (rc == EXIT_OK)
		printf("added %s: layer %u revision %u, %s (%llu bytes)\n", a.name, a.id, a.revision,
		       a.rel, (unsigned long long)a.size);
	return rc;
}

/* --- assign, unassign, priority --- */

static int repo_assign(int argc, char **argv, int take)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' }, { "group", required_argument, NULL, 'g' },
		{ "machine", required_argument, NULL, 'm' }, { 0 },
	};
	struct lf_repo_ref refs[256] = {{0}};
	struct lf_repo_assign_req a = { .take = take, .refs = refs };
	int c, kinds = 0;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		if (c == '?')
			return cli_bad_option("repo");
		a.kind = c == 'u' ? LF_PRINCIPAL_USER : c == 'g' ? LF_PRINCIPAL_GROUP
			 : LF_PRINCIPAL_MACHINE;
		a.name = optarg;
		kinds++;
	}
	if (kinds != 1 || !*a.name)
		return cli_usage_error("repo", "name one --user, --group or --machine");
	if (argc - optind < 2)
		return cli_usage_error("repo", "%s takes REPO and layer ids", take ? "unassign" : "assign");
	for (int i = optind + 1; i < argc; i++) {
		if (a.nrefs == 256)
			return cli_usage_error("repo", "too many layers at once");
		char *colon = strchr(argv[i], ':');
		struct lf_repo_ref *ref = &refs[a.nrefs++];
		if (colon)
			*colon = 0;
		if (repo_parse_uint(argv[i], &ref->id) || (colon && (take || repo_parse_uint(colon + 1, &ref->revision))))
			return cli_usage_error("repo", "'%s': want a layer ID%s", argv[i],
					       take ? "" : " or ID:REVISION");
	}
	struct lf_err err = {0};
	return lf_repo_update_assign(argv[optind], &a, &err) ? repo_fail(&err) : EXIT_OK;
}

static int repo_priority(int argc, char **argv)
{
	uint32_t id;
	char *end;
	if (argc != 4 || repo_parse_uint(argv[2], &id))
		return cli_usage_error("repo", "priority takes REPO, a layer ID and a number");
	long priority = strtol(argv[3], &end, 10);
	if (*end || !*argv[3] || priority < LF_PRIORITY_MIN || priority > LF_PRIORITY_MAX)
		return cli_usage_error("repo", "priority: a whole number from %d to %d",
				       LF_PRIORITY_MIN, LF_PRIORITY_MAX);
	struct lf_err err = {0};
	return lf_repo_update_priority(argv[1], id, priority, &err) ? repo_fail(&err) : EXIT_OK;
}

/* --- list, resolve --- */

/* Where layer L lives, for list: its file on this host, or a registry's
 * artifact and how much of it this host has cached. */
struct where {
	int registry;
	uint64_t cached, total;
	int known;               /* the cache could be asked */
};

static struct where where_of(const struct lf_repo_layer *l)
{
	struct where w = { .registry = lf_oci_is_uri(l->file) };
	struct lf_err e = {0};
	if (w.registry)
		w.known = lf_oci_layer_cached(l->file, &w.cached, &w.total, &e) == 0;
	return w;
}

static void where_text(const struct where *w, char *out, size_t size)
{
	if (!w->registry)
		snprintf(out, size, "local");
	else if (!w->known)
		snprintf(out, size, "registry ?");
	else
		snprintf(out, size, "registry %3d%%", w->total ? (int)(w->cached * 100 / w->total) : 100);
}

static int repo_list(int argc, char **argv, int json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "cache", required_argument, NULL, 'C' },
		{ "registry-auth", required_argument, NULL, 'A' },
		{ "registry-ca", required_argument, NULL, 'T' }, { 0 },
	};
	struct lf_oci_config cf = {0};
	int c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'C': cf.cache_dir = optarg; break;
		case 'A': cf.auth_file = optarg; break;
		case 'T': cf.ca_file = optarg; break;
		default: return cli_bad_option("repo");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("repo", "list takes REPO, or oci://HOST/NAME[:TAG]");
	const char *where = argv[optind];
	lf_oci_configure(&cf);
	struct lf_err err = {0};
	struct lf_repo *r;
	/* a registry's repository: its control artifact (Users/ is not
	 * looked at: "/" stands for the folder) */
	if (lf_oci_is_uri(where) ? lf_repo_open_registry(where, "/", &r, &err)
				 : lf_repo_open(where, &r, &err))
		return repo_fail(&err);
	struct where *ws = calloc(r->nlayers + 1, sizeof *ws);
	if (!ws) {
		lf_repo_free(r);
		return repo_fail(&(struct lf_err){ ENOMEM, "out of memory" });
	}
	for (size_t i = 0; i < r->nlayers; i++)
		ws[i] = where_of(&r->layers[i]);
	if (json) {
		json_t *ls = json_array(), *as = json_array();
		for (size_t i = 0; i < r->nlayers; i++) {
			json_t *o = lf_repo_layer_json(&r->layers[i]);
			json_object_set_new(o, "where", json_string(ws[i].registry ? "registry" : "local"));
			if (ws[i].registry && ws[i].known) {
				json_object_set_new(o, "cached_bytes", json_integer((json_int_t)ws[i].cached));
				json_object_set_new(o, "cached_percent", json_real(ws[i].total ?
					100.0 * (double)ws[i].cached / (double)ws[i].total : 100.0));
			}
			json_array_append_new(ls, o);
		}
		for (size_t i = 0; i < r->nassign; i++) {
			json_t *ids = json_array();
			for (size_t k = 0; k < r->assign[i].nlayers; k++) {
				json_t *o = json_pack("{s:i}", "id", (int)r->assign[i].layers[k].id);
				if (r->assign[i].layers[k].revision)
					json_object_set_new(o, "revision",
							    json_integer(r->assign[i].layers[k].revision));
				json_array_append_new(ids, o);
			}
			json_array_append_new(as, json_pack("{s:s, s:s, s:o}", "kind",
				lf_principal_name(r->assign[i].kind), "name", r->assign[i].name,
				"layers", ids));
		}
		cli_print_json(json_pack("{s:s, s:o, s:o}", "repository", r->root, "layers", ls,
					 "assignments", as));
	} else {
		printf("%-6s %-4s %-9s %-8s %-5s %12s  %-13s  %s\n", "ID", "REV", "TYPE", "PRIORITY",
		       "OS", "SIZE", "WHERE", "NAME / FILE");
		for (size_t i = 0; i < r->nlayers; i++) {
			const struct lf_repo_layer *l = &r->layers[i];
			char w[32];
			where_text(&ws[i], w, sizeof w);
			printf("%-6u %-4u %-9s %-8ld %-5u %12llu  %-13s  %s  %s\n", l->id, l->revision,
			       lf_layer_type_name(l->type), l->priority, l->os_layer,
			       (unsigned long long)l->size, w, l->name, l->file);
		}
		for (size_t i = 0; i < r->nassign; i++) {
			printf("%s %s:", lf_principal_name(r->assign[i].kind), r->assign[i].name);
			for (size_t k = 0; k < r->assign[i].nlayers; k++) {
				printf(" %u", r->assign[i].layers[k].id);
				if (r->assign[i].layers[k].revision)
					printf(":%u", r->assign[i].layers[k].revision);
			}
			printf("\n");
		}
	}
	free(ws);
	lf_repo_free(r);
	return EXIT_OK;
}

static int repo_resolve(int argc, char **argv, int json)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' }, { "groups", required_argument, NULL, 'g' },
		{ "machine", required_argument, NULL, 'm' }, { "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	struct cli_who who = {0};
	const char *groups_arg = NULL;
	int c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'u': who.user = optarg; break;
		case 'g': groups_arg = optarg; break;
		case 'm': who.machine = optarg; break;
		case 'j': json = 1; break;
		default: return cli_bad_option("repo");
		}
	}
	if (argc - optind != 1 || !who.user)
		return cli_usage_error("repo", "resolve takes REPO and --user");
	cli_who_fill(&who, groups_arg);
	const char *user = who.user, *machine = who.machine;
	struct lf_err err = {0};
	struct lf_repo *r = NULL;
	struct lf_resolution res;
	int rc = lf_repo_open(argv[optind], &r, &err);
	if (!rc)
		rc = lf_repo_resolve(r, user, who.groups, who.ngroups, machine, &res, &err);
	if (rc) {
		cli_who_free(&who);
		lf_repo_free(r);
		return repo_fail(&err);
	}
	if (json) {
		json_t *st = json_array(), *sk = json_array();
		for (size_t i = 0; i < res.n; i++) {
			json_t *o = lf_repo_layer_json(res.v[i].layer);
			json_object_set_new(o, "why", json_string(res.v[i].why));
			json_array_append_new(st, o);
		}
		for (size_t i = 0; i < res.nskipped; i++)
			json_array_append_new(sk, json_pack("{s:i, s:i, s:b, s:s}", "id",
				(int)res.skipped[i].id, "revision", (int)res.skipped[i].revision,
				"required", res.skipped[i].required, "why", res.skipped[i].why));
		json_t *gs = json_array();
		for (int i = 0; i < who.ngroups; i++)
			json_array_append_new(gs, json_string(who.groups[i]));
		cli_print_json(json_pack("{s:s, s:o, s:s, s:o, s:o, s:s}", "user", user, "groups", gs,
					 "machine", machine, "stack", st, "skipped", sk,
					 "personalization", res.upper));
	} else {
		printf("%s (groups:", user);
		for (int i = 0; i < who.ngroups; i++)
			printf("%s %s", i ? "," : "", who.groups[i]);
		printf("%s) on machine %s, lowest first:\n", who.ngroups ? "" : " none", machine);
		for (size_t i = 0; i < res.n; i++) {
			const struct lf_repo_layer *l = res.v[i].layer;
			printf("  %-9s %s (%u rev %u, priority %ld): %s\n", lf_layer_type_name(l->type),
			       l->name, l->id, l->revision, l->priority, res.v[i].why);
		}
		printf("  %-9s %s\n", "personal", res.upper);
		for (size_t i = 0; i < res.nskipped; i++)
			printf("not given: %s%s\n", res.skipped[i].why,
			       res.skipped[i].required ? " (required: a login fails)" : "");
	}
	int required_missing = 0;
	for (size_t i = 0; i < res.nskipped; i++)
		required_missing |= res.skipped[i].required;
	lf_resolution_free(&res);
	lf_repo_free(r);
	cli_who_free(&who);
	return required_missing ? EXIT_FAIL : EXIT_OK;
}

int cmd_repo(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("repo", "no subcommand (init, add, assign, unassign, priority, "
				       "remove, list, resolve)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		repo_usage(stdout);
		return EXIT_OK;
	}
	const char *sub = argv[1];
	int json = 0, n = 0;
	char **rest = argv + 1;
	/* --json and --help anywhere */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			repo_usage(stdout);
			return EXIT_OK;
		}
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			rest[n++] = argv[i];
	}
	/* init and list take no option but --json: anything else like one is
	 * refused, not taken for a folder's name */
	gid_t group = (gid_t)-1;
	const char *gname = NULL;
	for (int i = 1; !strcmp(sub, "init") && i + 1 < n; i++)
		if (!strcmp(rest[i], "--group")) {
			struct group *g = getgrnam(gname = rest[i + 1]);
			if (!g)
				return cli_usage_error("repo", "--group %s: no such group", gname);
			group = g->gr_gid;
			memmove(rest + i, rest + i + 2, (size_t)(n - i - 2) * sizeof *rest);
			n -= 2;
			break;
		}
	for (int i = 1; !strcmp(sub, "init") && i < n; i++)
		if (rest[i][0] == '-' && rest[i][1]) {
			static const char *const known[] = { "json", "group" };
			const char *near = cli_nearest(rest[i] + strspn(rest[i], "-"), known, 2);
			return near ? cli_usage_error("repo", "unknown option '%s' (did you mean "
						      "'--%s'?)", rest[i], near)
				    : cli_usage_error("repo", "unknown option '%s'", rest[i]);
		}
	if (!strcmp(sub, "init")) {
		if (n != 2)
			return cli_usage_error("repo", "init takes REPO");
		struct lf_err err = {0};
		if (lf_repo_init(rest[1], group, &err))
			return repo_fail(&err);
		printf("%s: an empty repository (its layers readable by root%s%s only)\n", rest[1],
		       gname ? " and group " : "", gname ? gname : "");
		return EXIT_OK;
	}
	if (!strcmp(sub, "add"))
		return repo_add(n, rest, json);
	if (!strcmp(sub, "assign") || !strcmp(sub, "unassign"))
		return repo_assign(n, rest, sub[0] == 'u');
	if (!strcmp(sub, "priority"))
		return repo_priority(n, rest);
	if (!strcmp(sub, "remove"))
		return repo_remove(n, rest, json);
	if (!strcmp(sub, "restore"))
		return repo_restore(n, rest, json);
	if (!strcmp(sub, "list"))
		return repo_list(n, rest, json);
	if (!strcmp(sub, "resolve"))
		return repo_resolve(n, rest, json);
	static const char *const subs[] = { "init", "add", "assign", "unassign", "priority",
					    "remove", "restore", "list", "resolve" };
	const char *near = cli_nearest(sub, subs, sizeof subs / sizeof *subs);
	return near ? cli_usage_error("repo", "unknown subcommand '%s' (did you mean '%s'?)", sub,
				      near)
		    : cli_usage_error("repo", "unknown subcommand '%s'", sub);
}
