/* layerctl push REPO ID[:REV]|all REF, layerctl pull REF REPO: layer
 * revisions and a repository's control files to and from an OCI registry
 * (docs/REGISTRY.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cmd_repo.h"
#include "layerfs/oci.h"
#include "layerfs/repo.h"
#include "layerfs/safe_path.h"
#include "layerfs/source.h"

struct push {
	struct lf_repo *repo;
	struct lf_registry *reg;
	struct lf_oci_ref ref;
	uint64_t chunk_size;
	int quiet, json;
	char (*manifests)[LF_OCI_DIGEST_MAX];   /* per repo layer, "" until pushed */
	json_t *report;
	struct lf_oci_stats total;
};

static const char *type_word(enum lf_layer_type t)
{
	return t == LF_LAYER_OS ? "os" : t == LF_LAYER_PLATFORM ? "platform" : "app";
}

/* The repository layer whose file is a differencing disk's parent, or -1. */
static int parent_index(struct push *p, const char *path, struct lf_err *err)
{
	struct lf_source *s = NULL;
	if (lf_source_open(path, NULL, &s, err))
		return -2;
	int found = -1;
	char *want = s->parent ? realpath(s->parent->path, NULL) : NULL;
	for (size_t i = 0; want && i < p->repo->nlayers && found < 0; i++) {
		char lp[PATH_MAX];
		struct lf_err e = {0};
		char *real = lf_repo_path(p->repo, p->repo->layers[i].file, lp, sizeof lp, &e) ? NULL
			     : realpath(lp, NULL);
		if (real && !strcmp(real, want))
			found = (int)i;
		free(real);
	}
	if (want && found < 0) {
		lf_err_set(err, ENOENT, "%s: a differencing disk whose parent %s is no revision of "
			   "the repository: push a self-contained revision", path, want);
		found = -2;
	}
	free(want);
	lf_source_close(s);
	return found;
}

/* Push layer i (its parent first): its manifest digest in manifests[i]. */
static int push_layer(struct push *p, size_t i, int depth, struct lf_err *err)
{
	const struct lf_repo_layer *l = &p->repo->layers[i];
	if (p->manifests[i][0])
		return 0;
	if (depth > LF_MAX_CHAIN)
		return lf_err_set(err, ELOOP, "layer %u: parent chain too deep", l->id);
	char path[PATH_MAX];
	int rc = lf_repo_path(p->repo, l->file, path, sizeof path, err);
	int parent = rc ? -2 : parent_index(p, path, err);
	if (parent == -2)
		return -err->code;
	if (parent >= 0 && (rc = push_layer(p, (size_t)parent, depth + 1, err)))
		return rc;
	const char *base = strrchr(l->file, '/');
	struct lf_oci_layer meta = { .name = l->name, .id = l->id, .revision = l->revision,
				     .os_layer = l->os_layer, .priority = l->priority,
				     .file_name = (char *)(base ? base + 1 : l->file),
				     .file_size = l->size, .chunk_size = p->chunk_size };
	snprintf(meta.type, sizeof meta.type, "%s", type_word(l->type));
	memcpy(meta.file_sha256, l->sha256, 65);
	if (parent >= 0)
		memcpy(meta.parent, p->manifests[parent], LF_OCI_DIGEST_MAX);
	char tag[64];
	snprintf(tag, sizeof tag, "%u.%u", l->id, l->revision);
	/* a single layer pushed to a REF with a tag takes that tag */
	const char *use = p->ref.tag[0] && depth == 0 ? p->ref.tag : tag;
	struct cli_bar bar;
	cli_bar_init(&bar, p->quiet);
	struct lf_oci_stats st = {0};
	rc = lf_oci_push_layer(p->reg, p->ref.name, path, &meta, use, &st, cli_bar_show, &bar, err);
	cli_bar_end(&bar);
	if (rc)
		return rc;
	memcpy(p->manifests[i], meta.manifest_digest, LF_OCI_DIGEST_MAX);
	p->total.chunks_sent += st.chunks_sent;
	p->total.chunks_kept += st.chunks_kept;
	p->total.bytes_sent += st.bytes_sent;
	json_array_append_new(p->report, json_pack(
		"{s:i, s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "id", (int)l->id, "revision",
		(int)l->revision, "name", l->name, "tag", use, "manifest", meta.manifest_digest,
		"chunks", (json_int_t)(st.chunks_sent + st.chunks_kept),
		"chunks_sent", (json_int_t)st.chunks_sent, "chunks_there", (json_int_t)st.chunks_kept,
		"bytes_sent", (json_int_t)st.bytes_sent));
	if (!p->json)
		printf("pushed %s %u.%u as %s/%s:%s@%s: %llu of %llu chunks sent (%.1f MiB), "
		       "%llu there already\n", l->name, l->id, l->revision, p->ref.host,
		       p->ref.name, use, meta.manifest_digest,
		       (unsigned long long)st.chunks_sent,
		       (unsigned long long)(st.chunks_sent + st.chunks_kept),
		       (double)st.bytes_sent / 1048576.0, (unsigned long long)st.chunks_kept);
	return 0;
}

static void push_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl push [OPTIONS] REPO ID[:REV]|all HOST[:PORT]/NAME[:TAG]\n"
		"\n"
		"Push a layer revision of the repository REPO to an OCI registry, as an\n"
		"artifact: its config the layer's control record, its blobs the layer\n"
		"file in fixed-size chunks. Only chunks the registry lacks are sent, so a\n"
		"new revision sends what changed and a push cut short goes on where it\n"
		"stopped. A differencing revision's parent is pushed first and named by\n"
		"digest. The tag is TAG, else ID.REV; REV defaults to the newest.\n"
		"'all' pushes every revision, then the repository's control files as an\n"
		"artifact of their own, tagged 'control' (what 'layerd --registry'\n"
		"follows) and 'control-TIME' (each version kept).\n"
		"\n"
		"Plain HTTP is used only for a registry on this host that does not speak\n"
		"TLS. Credentials come from the file container tools keep (auth.json).\n"
		"\n"
		"Options:\n"
		"      --chunk-size SIZE  chunk size (default 256K, doubled until the file is\n"
		"                         at most 16384 chunks; docs/REGISTRY.md says why)\n"
		"  -j, --jobs N           chunks sent at once (default 4)\n"
		"      --registry-auth FILE  credentials (default: $REGISTRY_AUTH_FILE, then\n"
		"                         where podman and docker keep theirs)\n"
		"      --registry-ca FILE the CA the registry's certificate is checked against\n"
		"  -q, --quiet            no progress bar\n"
		"      --json             say what was pushed as JSON\n"
		"  -h, --help             this help\n");
}

/* 0 when taken, else an exit status. */
static int oci_common_opt(int c, struct lf_oci_config *cf, uint64_t *chunk)
{
	switch (c) {
	case 'j': {
		char *end;
		long n = strtol(optarg, &end, 10);
		if (*end || n < 1 || n > 32)
			return cli_usage_error(prog, "--jobs is 1 to 32");
		cf->jobs = (int)n;
		return 0;
	}
	case 'c':
		if (!chunk || lf_parse_size(optarg, chunk) || *chunk < 4096 || *chunk > (64u << 20))
			return cli_usage_error(prog, "--chunk-size is 4K to 64M");
		return 0;
	case 'A': cf->auth_file = optarg; return 0;
	case 'T': cf->ca_file = optarg; return 0;
	}
	return EXIT_USAGE;
}

/* The options push and pull share: -1 to go on, else an exit status. */
static int oci_options(int argc, char **argv, const struct option *opts, const char *cmd,
		       void (*usage)(FILE *), int *quiet, int *json, struct lf_oci_config *cf,
		       uint64_t *chunk)
{
	int c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "j:qh", opts)) != -1) {
		if (c == 'q') {
			*quiet = 1;
		} else if (c == 'J') {
			*json = 1;
		} else if (c == 'h') {
			usage(stdout);
			return EXIT_OK;
		} else if (c == '?' || c == ':') {
			return cli_bad_option(cmd);
		} else {
			int rc = oci_common_opt(c, cf, chunk);
			if (rc)
				return rc;
		}
	}
	return -1;
}

int cmd_push(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chunk-size", required_argument, NULL, 'c' }, { "jobs", required_argument, NULL, 'j' },
		{ "registry-auth", required_argument, NULL, 'A' },
		{ "registry-ca", required_argument, NULL, 'T' }, { "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'J' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct push p = {0};
	struct lf_oci_config cf = {0};
	int rc = oci_options(argc, argv, opts, "push", push_usage, &p.quiet, &p.json, &cf,
			     &p.chunk_size);
	if (rc >= 0)
		return rc;
	if (argc - optind != 3)
		return cli_usage_error("push", "want REPO, ID[:REV] or all, and HOST/NAME[:TAG]");
	lf_oci_configure(&cf);
	const char *what = argv[optind + 1];
	int all = !strcmp(what, "all");
	uint32_t id = 0, rev = 0;
	if (!all) {
		char idbuf[32];
		snprintf(idbuf, sizeof idbuf, "%s", what);
		char *colon = strchr(idbuf, ':');
		if (colon)
			*colon = 0;
		if (repo_parse_uint(idbuf, &id) || (colon && repo_parse_uint(colon + 1, &rev)))
			return cli_usage_error("push", "'%s': want ID, ID:REV or all", what);
	}
	struct lf_err err = {0};
	rc = lf_oci_ref_parse(argv[optind + 2], &p.ref, &err);
	if (!rc && p.ref.digest[0])
		return cli_usage_error("push", "%s: push to a tag, not a digest", argv[optind + 2]);
	if (!rc && all && p.ref.tag[0])
		return cli_usage_error("push", "%s: 'all' tags each revision ID.REV and the "
				       "control files 'control': give HOST/NAME alone", argv[optind + 2]);
	if (!rc)
		rc = lf_repo_open(argv[optind], &p.repo, &err);
	if (!rc)
		rc = lf_registry_get(p.ref.host, &p.reg, &err);
	if (rc) {
		lf_repo_free(p.repo);
		return repo_fail(&err);
	}
	p.manifests = calloc(p.repo->nlayers + 1, sizeof *p.manifests);
	p.report = json_array();
	if (all) {
		for (size_t i = 0; !rc && i < p.repo->nlayers; i++)
			rc = push_layer(&p, i, 0, &err);
	} else {
		const struct lf_repo_layer *l = lf_repo_find(p.repo, id, rev);
		if (!l)
			rc = lf_err_set(&err, ENOENT, "%s: no layer %u%s%.0u", argv[optind], id,
					rev ? " revision " : "", rev);
		else
			rc = push_layer(&p, (size_t)(l - p.repo->layers), 0, &err);
	}
	char control[LF_OCI_DIGEST_MAX] = "", version[64] = "";
	if (!rc && all)
		rc = lf_repo_push_control(p.repo, p.ref.host, p.ref.name, p.manifests, control,
					  version, sizeof version, &err);
	if (!rc && all && !p.json)
		printf("pushed the control files as %s/%s:control (and :%s)@%s\n", p.ref.host,
		       p.ref.name, version, control);
	if (!rc && p.json) {
		json_t *j = json_pack("{s:s, s:s, s:O, s:I, s:I, s:I}", "registry", p.ref.host,
				      "repository", p.ref.name, "layers", p.report, "chunks_sent",
				      (json_int_t)p.total.chunks_sent, "chunks_there",
				      (json_int_t)p.total.chunks_kept, "bytes_sent",
				      (json_int_t)p.total.bytes_sent);
		if (all)
			json_object_set_new(j, "control", json_pack("{s:s, s:s}", "manifest", control,
								     "tag", version));
		cli_print_json(j);
	}
	json_decref(p.report);
	free(p.manifests);
	lf_repo_free(p.repo);
	return rc ? repo_fail(&err) : EXIT_OK;
}

/* --- pull --- */

struct pull {
	const char *root;
	struct lf_registry *reg;
	struct lf_oci_ref ref;
	int quiet, json;
	json_t *report;
};

static const char *folder_of(const char *type)
{
	return !strcmp(type, "os") ? "OS" : !strcmp(type, "platform") ? "Platform" : "App";
}

struct add_pulled {
	const struct lf_oci_layer *l;
	const char *rel;
};

/* The pulled revision into the control file (its file in place already). */
static int add_entry(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	struct add_pulled *a = ctx;
	const struct lf_oci_layer *l = a->l;
	const struct lf_repo_layer *same = lf_repo_find(r, l->id, l->revision);
	if (same)
		return strcmp(same->sha256, l->file_sha256)
			? lf_err_set(err, EEXIST, "layer %u revision %u is there already with other "
				     "bytes (%s)", l->id, l->revision, same->file)
			: 0;
	struct lf_repo_layer *v = realloc(r->layers, (r->nlayers + 1) * sizeof *v);
	if (!v)
		return lf_err_set(err, ENOMEM, "out of memory");
	r->layers = v;
	enum lf_layer_type t;
	lf_layer_type_parse(l->type, &t);
	struct lf_repo_layer *y = &v[r->nlayers++];
	*y = (struct lf_repo_layer){ l->id, l->revision, strdup(l->name), t, l->os_layer,
				     l->priority, strdup(a->rel), "", l->file_size };
	memcpy(y->sha256, l->file_sha256, 65);
	return y->name && y->file ? 0 : lf_err_set(err, ENOMEM, "out of memory");
}

/* Pull the revision REFERENCE (its parent first) into the repository. */
static int pull_layer(struct pull *p, const char *reference, int depth, struct lf_err *err)
{
	struct lf_oci_layer l;
	if (depth > LF_MAX_CHAIN)
		return lf_err_set(err, ELOOP, "%s: parent chain too deep", reference);
	int rc = lf_oci_layer_fetch(p->reg, p->ref.host, p->ref.name, reference, &l, err);
	if (rc)
		return rc;
	if (l.parent[0] && (rc = pull_layer(p, l.parent, depth + 1, err))) {
		lf_oci_layer_free(&l);
		return rc;
	}
	struct lf_repo *r = NULL;
	char rel[PATH_MAX], dst[PATH_MAX];
	snprintf(rel, sizeof rel, "Layers/%s/%s", folder_of(l.type), l.file_name);
	rc = lf_repo_open(p->root, &r, err);
	const struct lf_repo_layer *have = rc ? NULL : lf_repo_find(r, l.id, l.revision);
	int there = have && !strcmp(have->sha256, l.file_sha256);
	if (!rc && !there)
		rc = lf_repo_path(r, rel, dst, sizeof dst, err);
	if (!rc && !there && access(dst, F_OK) == 0)
		rc = lf_err_set(err, EEXIST, "%s: there already, and not as this revision", dst);
	struct lf_oci_stats st = {0};
	if (!rc && !there) {
		struct cli_bar bar;
		cli_bar_init(&bar, p->quiet);
		rc = lf_oci_pull_layer(p->reg, p->ref.name, &l, dst, &st, cli_bar_show, &bar, err);
		cli_bar_end(&bar);
		int fd = rc ? -1 : open(dst, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			lf_repo_close_layer(fd, dst);
			close(fd);
		}
	}
	lf_repo_free(r);
	struct add_pulled a = { &l, rel };
	if (!rc && !there && repo_update(p->root, add_entry, &a))
		rc = lf_err_set(err, EIO, "%s: the control file was not changed", p->root);
	if (!rc) {
		json_array_append_new(p->report, json_pack(
			"{s:i, s:i, s:s, s:s, s:s, s:I, s:I, s:b}", "id", (int)l.id, "revision",
			(int)l.revision, "name", l.name, "file", rel, "manifest", l.manifest_digest,
			"chunks_fetched", (json_int_t)st.chunks_sent, "bytes_fetched",
			(json_int_t)st.bytes_sent, "there_already", there));
		if (!p->json)
			printf("%s %s %u.%u (%s) %s\n", there ? "have" : "pulled", l.name, l.id,
			       l.revision, l.manifest_digest, there ? "already" : rel);
	}
	lf_oci_layer_free(&l);
	return rc;
}

static void pull_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl pull [OPTIONS] HOST[:PORT]/NAME[:TAG|@DIGEST] REPO\n"
		"\n"
		"Pull a layer revision pushed by 'layerctl push' into the repository REPO\n"
		"(made if missing): its chunks fetched several at once, each checked\n"
		"against its digest, written to Layers/TYPE/FILE.partial, fsynced and\n"
		"renamed, then added to the control file with its id, revision, name,\n"
		"type, OS layer and priority. A differencing revision's parent comes\n"
		"first. A pull cut short keeps the chunks it got. A control artifact\n"
		"(TAG 'control', or none given) pulls every revision it names and then\n"
		"its control files, replacing REPO's: a copy of the repository as of then.\n"
		"\n"
		"Options:\n"
		"  -j, --jobs N           chunks fetched at once (default 4)\n"
		"      --registry-auth FILE, --registry-ca FILE  as for push\n"
		"  -q, --quiet            no progress bar\n"
		"      --json             say what was pulled as JSON\n"
		"  -h, --help             this help\n");
}

/* A control file's text into REPO (a temporary, fsynced, renamed). */
static int put_text(const char *root, const char *name, const char *text, size_t len,
		    struct lf_err *err)
{
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = dfd < 0 ? -errno : lf_safe_replace(dfd, name, text, len, 0644);
	if (dfd >= 0)
		close(dfd);
	return rc ? lf_err_set(err, -rc, "%s/%s: %s", root, name, strerror(-rc)) : 0;
}

static int pull_control(struct pull *p, const char *tag, struct lf_err *err)
{
	struct lf_control_layer *map = NULL;
	size_t n = 0, llen = 0, alen = 0;
	char *lt = NULL, *at = NULL, digest[LF_OCI_DIGEST_MAX];
	int rc = lf_repo_fetch_control(p->ref.host, p->ref.name, tag, &map, &n, &lt, &llen, &at,
				       &alen, digest, err);
	for (size_t i = 0; !rc && i < n; i++)
		rc = pull_layer(p, map[i].manifest, 0, err);
	int fd = -1;
	if (!rc)
		rc = lf_repo_lock(p->root, &fd, err);
	if (!rc)
		rc = put_text(p->root, LF_REPO_LAYERS_FILE, lt, llen, err);
	if (!rc)
		rc = put_text(p->root, LF_REPO_ASSIGN_FILE, at, alen, err);
	if (fd >= 0)
		lf_repo_unlock(fd);
	/* what was written must read as a repository */
	struct lf_repo *r = NULL;
	if (!rc && !(rc = lf_repo_open(p->root, &r, err)) && !p->json)
		printf("pulled the control files %s (%zu revisions)\n", digest, r->nlayers);
	lf_repo_free(r);
	free(map);
	free(lt);
	free(at);
	return rc;
}

int cmd_pull(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "registry-auth", required_argument, NULL, 'A' },
		{ "registry-ca", required_argument, NULL, 'T' }, { "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'J' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct pull p = {0};
	struct lf_oci_config cf = {0};
	int rc = oci_options(argc, argv, opts, "pull", pull_usage, &p.quiet, &p.json, &cf, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 2)
		return cli_usage_error("pull", "want HOST/NAME[:TAG|@DIGEST] and REPO");
	lf_oci_configure(&cf);
	struct lf_err err = {0};
	p.root = argv[optind + 1];
	rc = lf_oci_ref_parse(argv[optind], &p.ref, &err);
	if (!rc && access(p.root, F_OK) < 0)
		rc = lf_repo_init(p.root, (gid_t)-1, &err);
	if (!rc)
		rc = lf_registry_get(p.ref.host, &p.reg, &err);
	if (rc)
		return repo_fail(&err);
	p.report = json_array();
	const char *reference = p.ref.digest[0] ? p.ref.digest : p.ref.tag[0] ? p.ref.tag : "control";
	/* a control artifact, or a layer */
	char *m = NULL, d[LF_OCI_DIGEST_MAX], cd[LF_OCI_DIGEST_MAX];
	size_t ml = 0;
	uint64_t cs = 0;
	rc = lf_registry_get_manifest(p.reg, p.ref.name, reference, &m, &ml, d, &err);
	char *type = rc ? NULL : lf_oci_manifest_config_type(m, ml, cd, &cs);
	free(m);
	if (!rc && type && !strcmp(type, LF_OCI_CONTROL_CONFIG))
		rc = pull_control(&p, d, &err);
	else if (!rc)
		rc = pull_layer(&p, d, 0, &err);
	free(type);
	if (!rc && p.json)
		cli_print_json(json_pack("{s:s, s:s, s:O, s:I}", "registry", p.ref.host,
					 "repository", p.ref.name, "layers", p.report,
					 "bytes_fetched", (json_int_t)lf_registry_fetched()));
	json_decref(p.report);
	return rc ? repo_fail(&err) : EXIT_OK;
}
