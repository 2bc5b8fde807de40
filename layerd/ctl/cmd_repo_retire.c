/* layerctl repo remove and restore: a revision leaves the control file
 * and its file goes to REPO/Retired/ under a name no other retired file
 * has, with a note beside it (NAME.json: its entry as it was), so that
 * 'repo restore' can bring it back as it was, checked against its
 * SHA-256; a new layer never takes the id of one that may come back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cmd_repo.h"
#include "layerfs/safe_path.h"
#include "layerfs/source.h"

/* --- remove: retire a layer or one revision (lf_repo_retire) --- */

int repo_remove(int argc, char **argv, int json)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' }, { "purge", no_argument, NULL, 'P' }, { 0 },
	};
	struct lf_repo_retire_req q = {0};
	int c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		if (c == 'f')
			q.force = 1;
		else if (c == 'P')
			q.purge = 1;
		else
			return cli_bad_option("repo");
	}
	if (argc - optind != 2)
		return cli_usage_error("repo", "remove takes REPO and ID[:REV]");
	char *spec = argv[optind + 1], *colon = strchr(spec, ':');
	if (colon)
		*colon = 0;
	if (repo_parse_uint(spec, &q.id) || (colon && (repo_parse_uint(colon + 1, &q.revision) || !q.revision)))
		return cli_usage_error("repo", "remove: ID or ID:REV, not '%s'", argv[optind + 1]);
	q.sessions = cli_layerd_status();     /* NULL: no layerd here to ask */
	struct lf_err err = {0};
	json_t *done = NULL;
	int failed = lf_repo_retire(argv[optind], &q, &done, &err);
	size_t i;
	json_t *f;
	json_array_foreach(done, i, f) {
		const char *now = json_string_value(json_object_get(f, "now"));
		if (!json)
			printf("%s %s%s%s\n", now ? "retired" : "deleted",
			       json_string_value(json_object_get(f, "file")), now ? " -> " : "",
			       now ? now : "");
	}
	if (failed)
		cli_error("%s", err.msg);
	if (json && (!failed || json_array_size(done)))
		cli_print_json(json_pack("{s:b, s:O}", "ok", !failed, "removed", done));
	json_decref(done);
	json_decref(q.sessions);
	return failed ? EXIT_FAIL : EXIT_OK;
}


/* --- restore: a retired revision back, as it was --- */

struct retired {
	char file[PATH_MAX];     /* Retired/... on the host */
	char note[PATH_MAX + 8]; /* its .json */
	json_t *entry;           /* its entry as it was */
	const char *was;         /* where it was, relative to REPO */
	json_t *doc;
};

struct restoring {
	uint32_t id, revision;   /* revision 0: every retired one */
	struct retired *v;
	size_t n;
	char root[PATH_MAX];
};

/* Each Retired/ *.json note's document, to fn; stops on non-zero. */
static int each_note(const char *root, int (*fn)(void *ctx, const char *note, json_t *doc),
		     void *ctx)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/Retired", root);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".json"))
			continue;
		char path[PATH_MAX * 2];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		if (doc && json_is_object(json_object_get(doc, "layer")))
			rc = fn(ctx, path, doc);
		json_decref(doc);
	}
	closedir(d);
	return rc;
}

struct highest {
	uint32_t id, max_id, max_rev;
};

static int max_id(void *ctx, const char *note, json_t *doc)
{
	(void)note;
	struct highest *h = ctx;
	json_t *l = json_object_get(doc, "layer");
	json_int_t id = json_integer_value(json_object_get(l, "id"));
	json_int_t rev = json_integer_value(json_object_get(l, "revision"));
	if (id > 0 && id <= INT32_MAX && (uint32_t)id > h->max_id)
		h->max_id = (uint32_t)id;
	if (id == (json_int_t)h->id && rev > 0 && rev <= INT32_MAX && (uint32_t)rev > h->max_rev)
		h->max_rev = (uint32_t)rev;
	return 0;
}

uint32_t repo_retired_max_id(const char *root, uint32_t id, uint32_t *max_revision)
{
	struct highest h = { id, 0, 0 };
	each_note(root, max_id, &h);
	if (max_revision)
		*max_revision = h.max_rev;
	return h.max_id;
}

static int wanted(void *ctx, const char *note, json_t *doc)
{
	struct restoring *s = ctx;
	json_t *l = json_object_get(doc, "layer");
	uint32_t id = (uint32_t)json_integer_value(json_object_get(l, "id"));
	uint32_t rev = (uint32_t)json_integer_value(json_object_get(l, "revision"));
	const char *was = json_string_value(json_object_get(doc, "was"));
	if (id != s->id || (s->revision && rev != s->revision) || !was)
		return 0;
	struct retired *v = realloc(s->v, (s->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	s->v = v;
	struct retired *r = &v[s->n++];
	snprintf(r->note, sizeof r->note, "%s", note);
	snprintf(r->file, sizeof r->file, "%.*s", (int)(strlen(note) - 5), note);
	r->doc = json_incref(doc);
	r->entry = l;
	r->was = was;
	return 0;
}

static int do_restore(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	struct restoring *s = ctx;
	for (size_t i = 0; i < s->n; i++) {
		json_t *e = s->v[i].entry;
		struct lf_repo_layer l = {
			.id = (uint32_t)json_integer_value(json_object_get(e, "id")),
			.revision = (uint32_t)json_integer_value(json_object_get(e, "revision")),
			.os_layer = (uint32_t)json_integer_value(json_object_get(e, "os_layer")),
			.priority = (long)json_integer_value(json_object_get(e, "priority")),
			.size = (uint64_t)json_integer_value(json_object_get(e, "size")),
		};
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *sha = json_string_value(json_object_get(e, "sha256"));
		const char *why = NULL;
		if (!name || !sha || strlen(sha) != 64 ||
		    lf_layer_type_parse(json_string_value(json_object_get(e, "type")), &l.type) ||
		    !lf_repo_rel_ok(s->v[i].was, &why))
			return lf_err_set(err, EINVAL, "%s: not a note 'repo remove' wrote%s%s",
					  s->v[i].note, why ? ": " : "", why ? why : "");
		if (lf_repo_find(r, l.id, l.revision))
			return lf_err_set(err, EEXIST, "layer %u revision %u is in the repository "
					  "already%s", l.id, l.revision, i ? " (two retired files say "
					  "they are it: restore one by hand)" : "");
		const struct lf_repo_layer *same = lf_repo_find(r, l.id, 0);
		if (same && (strcmp(same->name, name) || same->type != l.type))
			return lf_err_set(err, EEXIST, "layer %u is %s (%s) now: %s cannot come back "
					  "under its id", l.id, same->name,
					  lf_layer_type_name(same->type), name);
		char hex[65], dst[PATH_MAX];
		uint64_t size;
		if (lf_sha256_file(s->v[i].file, hex, &size, err))
			return -err->code;
		if (strcmp(hex, sha))
			return lf_err_set(err, EINVAL, "%s: SHA-256 %s, its note says %s: not the "
					  "file that was retired", s->v[i].file, hex, sha);
		int rc = lf_repo_path(r, s->v[i].was, dst, sizeof dst, err);
		if (rc)
			return rc;
		if (access(dst, F_OK) == 0)
			return lf_err_set(err, EEXIST, "%s: a file is there now", dst);
		struct lf_repo_layer *v = realloc(r->layers, (r->nlayers + 1) * sizeof *v);
		if (!v)
			return lf_err_set(err, ENOMEM, "out of memory");
		r->layers = v;
		l.name = strdup(name);
		l.file = strdup(s->v[i].was);
		memcpy(l.sha256, sha, 65);
		v[r->nlayers++] = l;
		if (!l.name || !l.file)
			return lf_err_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

int repo_restore(int argc, char **argv, int json)
{
	if (argc != 3)
		return cli_usage_error("repo", "restore takes REPO and ID[:REV]");
	struct restoring s = {0};
	char spec[64];
	snprintf(spec, sizeof spec, "%s", argv[2]);
	char *colon = strchr(spec, ':');
	if (colon)
		*colon = 0;
	if (repo_parse_uint(spec, &s.id) ||
	    (colon && (repo_parse_uint(colon + 1, &s.revision) || !s.revision)))
		return cli_usage_error("repo", "restore: ID or ID:REV, not '%s'", argv[2]);
	if (!realpath(argv[1], s.root)) {
		cli_error("%s: %s", argv[1], strerror(errno));
		return EXIT_FAIL;
	}
	int rc = each_note(s.root, wanted, &s);
	if (!rc && !s.n) {
		cli_error("%s: no retired revision of layer %u%s%.0u in Retired/ (a purged one is "
			  "gone)", argv[1], s.id, s.revision ? " revision " : "", s.revision);
		return EXIT_FAIL;
	}
	rc = rc ? EXIT_FAIL : repo_update(s.root, do_restore, &s);
	json_t *done = json_array();
	for (size_t i = 0; rc == EXIT_OK && i < s.n; i++) {
		char dst[PATH_MAX * 2];
		snprintf(dst, sizeof dst, "%s/%s", s.root, s.v[i].was);
		if (rename(s.v[i].file, dst) < 0) {
			cli_error("%s -> %s: %s (the control file names it: move it there by hand)",
				  s.v[i].file, dst, strerror(errno));
			rc = EXIT_FAIL;
			continue;
		}
		unlink(s.v[i].note);
		json_t *e = s.v[i].entry;
		json_array_append_new(done, json_pack("{s:O, s:O, s:s}", "id",
			json_object_get(e, "id"), "revision", json_object_get(e, "revision"),
			"file", s.v[i].was));
		if (!json)
			printf("restored %s: layer %lld revision %lld, %s\n",
			       json_string_value(json_object_get(e, "name")),
			       (long long)json_integer_value(json_object_get(e, "id")),
			       (long long)json_integer_value(json_object_get(e, "revision")), s.v[i].was);
	}
	if (json && rc == EXIT_OK)
		cli_print_json(json_pack("{s:b, s:O}", "ok", 1, "restored", done));
	json_decref(done);
	for (size_t i = 0; i < s.n; i++)
		json_decref(s.v[i].doc);
	free(s.v);
	return rc;
}
