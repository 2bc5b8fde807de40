/* layerctl repo SUBCOMMAND: the layer repository's control files. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/repo.h"
#include "layerfs/source.h"

static void repo_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl repo init REPO\n"
		"       layerctl repo add REPO FILE --type os|platform|app --name NAME\n"
		"                [--id ID] [--revision REV] [--os-layer ID] [--priority N] [--move]\n"
		"                [--allow-same]\n"
		"       layerctl repo remove [--json] REPO ID[:REV] [--force] [--purge]\n"
		"       layerctl repo assign REPO --user|--group|--machine NAME ID[:REV]...\n"
		"       layerctl repo unassign REPO --user|--group|--machine NAME ID...\n"
		"       layerctl repo priority REPO ID N\n"
		"       layerctl repo list [--json] REPO\n"
		"       layerctl repo resolve [--json] REPO --user USER [--groups G,...] [--machine M]\n"
		"\n"
		"The layer repository: layers in Layers/{OS,Platform,App}/, the control files\n"
		"GuestLayerFile.txt (the layers) and LayerAssignment.txt (who gets which),\n"
		"and personalization layers in Users/USER/. Every change takes the\n"
		"repository's lock and replaces the control files atomically, so readers on\n"
		"other hosts never see half a file (docs/REPOSITORY.md).\n"
		"\n"
		"  init      make an empty repository (folders and control files).\n"
		"  add       put layer FILE (a .vhd, .vhdx or raw NTFS image; it must open)\n"
		"            in the repository as Layers/TYPE/NAME.ID.REV.EXT, with its size\n"
		"            and SHA-256. FILE is copied (--move: renamed) unless it is in the\n"
		"            repository already. Without --id: NAME's id if it has one, else a\n"
		"            new one; without --revision: one past the newest. App and platform\n"
		"            layers name the OS layer they were built on (--os-layer; default:\n"
		"            the only OS layer there is). Without --priority: NAME's, or the\n"
		"            next above the highest of its type on its OS layer (creation\n"
		"            order). A file with the same bytes as a revision of that layer\n"
		"            is refused (--allow-same adds it anyway).\n"
		"  remove    retire layer ID (every revision) or one revision ID:REV: it\n"
		"            leaves the control file and its file moves to REPO/Retired/\n"
		"            (--purge: deleted). Refused while an assignment needs it, a\n"
		"            layer is built on it, or a running session of this host's layerd\n"
		"            uses it, saying which (--force: anyway; a running session keeps\n"
		"            what it has open until logoff); always refused while another\n"
		"            revision's file is a differencing disk on its file.\n"
		"  assign    give layers to a user, a group or a machine pattern (shell\n"
		"            wildcards: 'WKS-*'); ID:REV pins a revision, plain ID means the\n"
		"            newest at login.\n"
		"  unassign  take layers back.\n"
		"  priority  set the priority of every revision of layer ID (higher wins).\n"
		"  list      the layers and the assignments.\n"
		"  resolve   the exact stack USER gets on machine M (default: this host),\n"
		"            lowest first, with why each layer is there and why others are not.\n"
		"\n"
		"Exit status: 0 on success, 1 on failure, 2 on a usage error.\n");
}

static int fail(struct lf_err *err)
{
	cli_error("%s", err->msg);
	return EXIT_FAIL;
}

/* Lock, read afresh, hand over to change(), save, unlock. */
static int update(const char *root, int (*change)(struct lf_repo *r, void *ctx, struct lf_err *err),
		  void *ctx)
{
	struct lf_err err = {0};
	struct lf_repo *r = NULL;
	int fd;
	if (lf_repo_lock(root, &fd, &err))
		return fail(&err);
	int rc = lf_repo_open(root, &r, &err);
	if (!rc)
		rc = change(r, ctx, &err);
	if (!rc)
		rc = lf_repo_save(r, &err);
	lf_repo_unlock(fd);
	lf_repo_free(r);
	return rc ? fail(&err) : EXIT_OK;
}

static int parse_uint(const char *s, uint32_t *out)
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

static int do_add(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	struct add *a = ctx;
	/* the id: given, or the name's, or a new one */
	for (size_t i = 0; i < r->nlayers && !a->id; i++)
		if (!strcmp(r->layers[i].name, a->name))
			a->id = r->layers[i].id;
	if (!a->id) {
		a->id = a->type == LF_LAYER_APP ? 100 : 1;
		for (size_t i = 0; i < r->nlayers; i++)
			if (r->layers[i].id >= a->id)
				a->id = r->layers[i].id + 1;
	}
	const struct lf_repo_layer *same = lf_repo_find(r, a->id, 0);
	if (same && (strcmp(same->name, a->name) || same->type != a->type))
		return lf_err_set(err, EEXIST, "layer %u is %s (%s) already", a->id, same->name,
				  lf_layer_type_name(same->type));
	if (!a->revision)
		a->revision = same ? same->revision + 1 : 1;
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
			rc = 0;
		else
			rc = copy_file(a->file, dst, err);
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
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 't':
			a.type = !strcmp(optarg, "os") ? LF_LAYER_OS
				 : !strcmp(optarg, "platform") ? LF_LAYER_PLATFORM
				 : !strcmp(optarg, "app") ? LF_LAYER_APP : (enum lf_layer_type)-1;
			if ((int)a.type < 0)
				return cli_usage_error("repo", "--type is os, platform or app");
			break;
		case 'n': a.name = optarg; break;
		case 'i': if (parse_uint(optarg, &a.id)) return cli_usage_error("repo", "bad --id"); break;
		case 'r':
			if (parse_uint(optarg, &a.revision))
				return cli_usage_error("repo", "bad --revision");
			break;
		case 'o':
			if (parse_uint(optarg, &a.os_layer))
				return cli_usage_error("repo", "bad --os-layer");
			break;
		case 'p':
			a.priority = strtol(optarg, &end, 10);
			if (*end || !*optarg || a.priority < -1000000 || a.priority > 1000000)
				return cli_usage_error("repo", "bad --priority");
			a.priority_given = 1;
			break;
		case 'm': a.move = 1; break;
		case 'S': a.allow_same = 1; break;
		default: return cli_usage_error("repo", "bad option");
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
	lf_layer_close(l);
	/* its hash from the file given: the copy is fsynced and renamed into
	 * place, and the hash says whether it is a new revision at all */
	struct lf_err herr = {0};
	if (lf_sha256_file(a.file, a.hash, &a.size, &herr)) {
		cli_error("%s", herr.msg);
		return EXIT_FAIL;
	}
	int rc = update(argv[optind], do_add, &a);
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

struct assign {
	enum lf_principal kind;
	const char *name;
	struct lf_repo_ref refs[256];
	int nrefs, take;         /* take: unassign */
	long priority;
};

static int do_assign(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	struct assign *a = ctx;
	struct lf_repo_assignment *s = NULL;
	for (size_t i = 0; i < r->nassign && !s; i++)
		if (r->assign[i].kind == a->kind && !strcmp(r->assign[i].name, a->name))
			s = &r->assign[i];
	if (!s && a->take)
		return lf_err_set(err, ENOENT, "%s '%s' has no assignments",
				  lf_principal_name(a->kind), a->name);
	if (!s) {
		struct lf_repo_assignment *v = realloc(r->assign, (r->nassign + 1) * sizeof *v);
		if (!v)
			return lf_err_set(err, ENOMEM, "out of memory");
		r->assign = v;
		s = &v[r->nassign++];
		*s = (struct lf_repo_assignment){ a->kind, strdup(a->name), NULL, 0 };
		if (!s->name)
			return lf_err_set(err, ENOMEM, "out of memory");
	}
	for (int k = 0; k < a->nrefs; k++) {
		const struct lf_repo_ref *ref = &a->refs[k];
		size_t at = s->nlayers;
		for (size_t i = 0; i < s->nlayers; i++)
			if (s->layers[i].id == ref->id)
				at = i;
		if (a->take) {
			if (at == s->nlayers)
				return lf_err_set(err, ENOENT, "%s '%s' is not assigned layer %u",
						  lf_principal_name(a->kind), a->name, ref->id);
			memmove(s->layers + at, s->layers + at + 1, (s->nlayers - at - 1) * sizeof *s->layers);
			s->nlayers--;
			continue;
		}
		if (!lf_repo_find(r, ref->id, ref->revision))
			return lf_err_set(err, ENOENT, "layer %u%s is not in the repository", ref->id,
					  ref->revision ? " at that revision" : "");
		if (at == s->nlayers) {
			struct lf_repo_ref *v = realloc(s->layers, (s->nlayers + 1) * sizeof *v);
			if (!v)
				return lf_err_set(err, ENOMEM, "out of memory");
			s->layers = v;
			s->nlayers++;
		}
		s->layers[at] = *ref;
	}
	if (!s->nlayers) {          /* nothing left: the entry goes */
		free(s->name);
		free(s->layers);
		size_t i = (size_t)(s - r->assign);
		memmove(r->assign + i, r->assign + i + 1, (r->nassign - i - 1) * sizeof *s);
		r->nassign--;
	}
	return 0;
}

static int repo_assign(int argc, char **argv, int take)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' }, { "group", required_argument, NULL, 'g' },
		{ "machine", required_argument, NULL, 'm' }, { 0 },
	};
	struct assign a = { .take = take };
	int c, kinds = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == '?')
			return cli_usage_error("repo", "bad option");
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
		struct lf_repo_ref *ref = &a.refs[a.nrefs++];
		if (colon)
			*colon = 0;
		if (parse_uint(argv[i], &ref->id) || (colon && (take || parse_uint(colon + 1, &ref->revision))))
			return cli_usage_error("repo", "'%s': want a layer ID%s", argv[i],
					       take ? "" : " or ID:REVISION");
	}
	return update(argv[optind], do_assign, &a);
}

struct prio {
	uint32_t id;
	long priority;
};

static int do_priority(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	struct prio *p = ctx;
	int found = 0;
	for (size_t i = 0; i < r->nlayers; i++)
		if (r->layers[i].id == p->id) {
			r->layers[i].priority = p->priority;
			found = 1;
		}
	return found ? 0 : lf_err_set(err, ENOENT, "layer %u is not in the repository", p->id);
}

static int repo_priority(int argc, char **argv)
{
	struct prio p;
	char *end;
	if (argc != 4 || parse_uint(argv[2], &p.id))
		return cli_usage_error("repo", "priority takes REPO, a layer ID and a number");
	p.priority = strtol(argv[3], &end, 10);
	if (*end || !*argv[3] || p.priority < -1000000 || p.priority > 1000000)
		return cli_usage_error("repo", "priority: a whole number from -1000000 to 1000000");
	return update(argv[1], do_priority, &p);
}

/* --- list, resolve --- */

static json_t *layer_json(const struct lf_repo_layer *l)
{
	return json_pack("{s:i, s:i, s:s, s:s, s:i, s:i, s:s, s:s, s:I}", "id", (int)l->id,
			 "revision", (int)l->revision, "name", l->name,
			 "type", lf_layer_type_name(l->type), "os_layer", (int)l->os_layer,
			 "priority", (int)l->priority, "file", l->file, "sha256", l->sha256,
			 "size", (json_int_t)l->size);
}

static int repo_list(int argc, char **argv, int json)
{
	if (argc != 2)
		return cli_usage_error("repo", "list takes REPO");
	struct lf_err err = {0};
	struct lf_repo *r;
	if (lf_repo_open(argv[1], &r, &err))
		return fail(&err);
	if (json) {
		json_t *ls = json_array(), *as = json_array();
		for (size_t i = 0; i < r->nlayers; i++)
			json_array_append_new(ls, layer_json(&r->layers[i]));
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
		printf("%-6s %-4s %-9s %-8s %-5s %12s  %s\n", "ID", "REV", "TYPE", "PRIORITY", "OS",
		       "SIZE", "NAME / FILE");
		for (size_t i = 0; i < r->nlayers; i++) {
			const struct lf_repo_layer *l = &r->layers[i];
			printf("%-6u %-4u %-9s %-8ld %-5u %12llu  %s  %s\n", l->id, l->revision,
			       lf_layer_type_name(l->type), l->priority, l->os_layer,
			       (unsigned long long)l->size, l->name, l->file);
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
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': who.user = optarg; break;
		case 'g': groups_arg = optarg; break;
		case 'm': who.machine = optarg; break;
		case 'j': json = 1; break;
		default: return cli_usage_error("repo", "bad option");
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
		return fail(&err);
	}
	if (json) {
		json_t *st = json_array(), *sk = json_array();
		for (size_t i = 0; i < res.n; i++) {
			json_t *o = layer_json(res.v[i].layer);
			json_object_set_new(o, "why", json_string(res.v[i].why));
			json_array_append_new(st, o);
		}
		for (size_t i = 0; i < res.nskipped; i++)
			json_array_append_new(sk, json_pack("{s:i, s:i, s:b, s:s}", "id",
				(int)res.skipped[i].id, "revision", (int)res.skipped[i].revision,
				"required", res.skipped[i].required, "why", res.skipped[i].why));
		cli_print_json(json_pack("{s:s, s:s, s:o, s:o, s:s}", "user", user, "machine", machine,
					 "stack", st, "skipped", sk, "personalization", res.upper));
	} else {
		printf("%s on %s, lowest first:\n", user, machine);
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

/* --- remove: retire a layer or one revision --- */

struct removal {
	uint32_t id, revision;          /* revision 0: every revision */
	int force, purge;
	json_t *sessions;               /* layerd's, or NULL */
	char **files;                   /* what leaves the control file */
	size_t nfiles;
};

static int goes(const struct removal *m, const struct lf_repo_layer *l)
{
	return l->id == m->id && (!m->revision || l->revision == m->revision);
}

/* Is a file that goes the parent (or an ancestor) of a differencing disk
 * that stays? Its disk would no longer open. */
static const char *a_parent(struct lf_repo *r, const struct removal *m, char *why, size_t n)
{
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct lf_repo_layer *l = &r->layers[i];
		char path[PATH_MAX];
		struct lf_source *src = NULL;
		if (goes(m, l) || lf_repo_path(r, l->file, path, sizeof path, NULL) ||
		    lf_source_open(path, NULL, &src, NULL))
			continue;
		for (const struct lf_source *p = src->parent; p && !why[0]; p = p->parent)
			for (size_t k = 0; k < r->nlayers && !why[0]; k++) {
				char gone[PATH_MAX];
				struct stat a, b;
				if (goes(m, &r->layers[k]) &&
				    !lf_repo_path(r, r->layers[k].file, gone, sizeof gone, NULL) &&
				    stat(gone, &a) == 0 && stat(p->path, &b) == 0 &&
				    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
					snprintf(why, n, "revision %u of layer %u (%s) is a differencing "
						 "disk on its file", l->revision, l->id, l->name);
			}
		lf_source_close(src);
		if (why[0])
			return why;
	}
	return NULL;
}

/* Why the removal would hurt someone, or NULL. */
static const char *in_use(struct lf_repo *r, const struct removal *m, char *why, size_t n)
{
	size_t left = 0;
	for (size_t i = 0; i < r->nlayers; i++)
		left += r->layers[i].id == m->id && !goes(m, &r->layers[i]);
	for (size_t i = 0; m->revision == 0 && i < r->nlayers; i++)
		if (r->layers[i].type != LF_LAYER_OS && r->layers[i].os_layer == m->id &&
		    r->layers[i].id != m->id) {
			snprintf(why, n, "layer %u (%s) is built on it", r->layers[i].id,
				 r->layers[i].name);
			return why;
		}
	for (size_t i = 0; i < r->nassign; i++) {
		const struct lf_repo_assignment *a = &r->assign[i];
		for (size_t k = 0; k < a->nlayers; k++) {
			const struct lf_repo_ref *f = &a->layers[k];
			/* a pinned revision that goes, or the layer itself with
			 * no revision left for an unpinned assignment */
			if (f->id == m->id && ((f->revision && (!m->revision || f->revision == m->revision)) ||
					       (!f->revision && !left))) {
				snprintf(why, n, "assigned to %s '%s' (unassign it first)",
					 a->kind == LF_PRINCIPAL_USER ? "user" :
					 a->kind == LF_PRINCIPAL_GROUP ? "group" : "machine", a->name);
				return why;
			}
		}
	}
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(m->sessions, "sessions"), i, s) {
		size_t k;
		json_t *l;
		json_array_foreach(json_object_get(s, "layers"), k, l)
			if ((uint32_t)json_integer_value(json_object_get(l, "id")) == m->id &&
			    (!m->revision ||
			     (uint32_t)json_integer_value(json_object_get(l, "revision")) == m->revision)) {
				snprintf(why, n, "in use by %s's running session",
					 json_string_value(json_object_get(s, "user")));
				return why;
			}
	}
	return NULL;
}

static int do_remove(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	struct removal *m = ctx;
	char why[300];
	size_t found = 0;
	for (size_t i = 0; i < r->nlayers; i++)
		found += goes(m, &r->layers[i]);
	if (!found)
		return m->revision ? lf_err_set(err, ENOENT, "layer %u has no revision %u", m->id,
						m->revision)
				   : lf_err_set(err, ENOENT, "no layer %u", m->id);
	why[0] = 0;
	if (a_parent(r, m, why, sizeof why))   /* never forced: that disk would not open */
		return lf_err_set(err, EBUSY, "layer %u%s%.0u: %s; remove that first", m->id,
				  m->revision ? " revision " : "", m->revision, why);
	if (!m->force && in_use(r, m, why, sizeof why))
		return lf_err_set(err, EBUSY, "layer %u%s%.0u: %s; --force removes it anyway", m->id,
				  m->revision ? " revision " : "", m->revision, why);
	if (!(m->files = calloc(found, sizeof *m->files)))
		return lf_err_set(err, ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < r->nlayers; i++) {
		if (!goes(m, &r->layers[i])) {
			r->layers[k++] = r->layers[i];
			continue;
		}
		m->files[m->nfiles++] = r->layers[i].file;
		free(r->layers[i].name);
	}
	r->nlayers = k;
	return 0;
}

/* After the control file no longer names them: to Retired/, or gone. */
static int retire_files(const char *root, struct removal *m, int json)
{
	struct lf_err err = {0};
	struct lf_repo *r = NULL;
	int status = EXIT_OK;
	if (lf_repo_open(root, &r, &err))
		return fail(&err);
	char retired[PATH_MAX];
	snprintf(retired, sizeof retired, "%s/Retired", r->root);
	if (!m->purge && mkdir(retired, 0755) < 0 && errno != EEXIST) {
		cli_error("%s: %s", retired, strerror(errno));
		status = EXIT_FAIL;
	}
	json_t *done = json_array();
	for (size_t i = 0; status == EXIT_OK && i < m->nfiles; i++) {
		char src[PATH_MAX], dst[PATH_MAX * 2];
		if (lf_repo_path(r, m->files[i], src, sizeof src, &err)) {
			cli_error("%s", err.msg);
			status = EXIT_FAIL;
			continue;
		}
		const char *base = strrchr(m->files[i], '/') ? strrchr(m->files[i], '/') + 1 : m->files[i];
		snprintf(dst, sizeof dst, "%s/%s", retired, base);
		int rc = m->purge ? unlink(src) : rename(src, dst);
		if (rc < 0 && errno != ENOENT) {
			cli_error("%s: %s", src, strerror(errno));
			status = EXIT_FAIL;
		}
		json_array_append_new(done, json_pack("{s:s, s:s?}", "file", m->files[i], "now",
						      m->purge ? NULL : dst));
		if (!json)
			printf("%s %s%s%s\n", m->purge ? "deleted" : "retired", m->files[i],
			       m->purge ? "" : " -> ", m->purge ? "" : dst);
	}
	if (json)
		cli_print_json(json_pack("{s:b, s:o}", "ok", status == EXIT_OK, "removed", done));
	else
		json_decref(done);
	lf_repo_free(r);
	return status;
}

static int repo_remove(int argc, char **argv, int json)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' }, { "purge", no_argument, NULL, 'P' }, { 0 },
	};
	struct removal m = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			m.force = 1;
		else if (c == 'P')
			m.purge = 1;
		else
			return cli_usage_error("repo", "bad option");
	}
	if (argc - optind != 2)
		return cli_usage_error("repo", "remove takes REPO and ID[:REV]");
	char *spec = argv[optind + 1], *colon = strchr(spec, ':');
	if (colon)
		*colon = 0;
	if (parse_uint(spec, &m.id) || (colon && (parse_uint(colon + 1, &m.revision) || !m.revision)))
		return cli_usage_error("repo", "remove: ID or ID:REV, not '%s'", argv[optind + 1]);
	m.sessions = cli_layerd_status();     /* NULL: no layerd here to ask */
	int rc = update(argv[optind], do_remove, &m);
	if (rc == EXIT_OK)
		rc = retire_files(argv[optind], &m, json);
	for (size_t i = 0; i < m.nfiles; i++)
		free(m.files[i]);
	free(m.files);
	json_decref(m.sessions);
	return rc;
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
	for (int i = 1; (!strcmp(sub, "init") || !strcmp(sub, "list")) && i < n; i++)
		if (rest[i][0] == '-' && rest[i][1])
			return cli_usage_error("repo", "%s: unknown option", rest[i]);
	if (!strcmp(sub, "init")) {
		if (n != 2)
			return cli_usage_error("repo", "init takes REPO");
		struct lf_err err = {0};
		if (lf_repo_init(rest[1], &err))
			return fail(&err);
		printf("%s: an empty repository\n", rest[1]);
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
	if (!strcmp(sub, "list"))
		return repo_list(n, rest, json);
	if (!strcmp(sub, "resolve"))
		return repo_resolve(n, rest, json);
	return cli_usage_error("repo", "unknown subcommand '%s'", sub);
}
