/* The control files as JSON: read strictly (an unknown field, a wrong
 * type, a duplicate is an error naming the file and the field, since a
 * typo in an assignment must not silently give a user nothing) and
 * written back in one fixed form. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "repo_int.h"

#define LAYERS_FORMAT "layerfs-guest-layers/1"
#define ASSIGN_FORMAT "layerfs-layer-assignments/1"

/* Where in a file a problem is: "layers[3].sha256". */
struct at {
	const char *file;
	char path[128];
	struct lf_err *err;
};

static int bad(struct at *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct at *a, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return lf_err_set(a->err, EINVAL, "%s: %s%s%s", a->file, a->path, *a->path ? ": " : "", msg);
}

/* Only the fields named may be there. */
static int only(struct at *a, json_t *o, const char *const *names)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		int known = 0;
		for (const char *const *n = names; *n && !known; n++)
			known = !strcmp(*n, key);
		if (!known)
			return bad(a, "unknown field '%s'", key);
	}
	return 0;
}

static int get_uint(struct at *a, json_t *o, const char *key, int required, uint32_t min,
		    uint32_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!v && !required)
		return 0;
	if (!v)
		return bad(a, "'%s' is missing", key);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > INT32_MAX)
		return bad(a, "'%s' must be a whole number from %u to %d", key, min, INT32_MAX);
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int get_str(struct at *a, json_t *o, const char *key, char **out)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return bad(a, "'%s' is missing", key);
	if (!json_is_string(v) || !json_string_length(v))
		return bad(a, "'%s' must be a string, not empty", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(a, "'%s' holds a NUL", key);
	*out = strdup(json_string_value(v));
	return *out ? 0 : lf_err_set(a->err, ENOMEM, "out of memory");
}

/* The whole file as JSON, or an error naming the line. */
static json_t *read_json(const char *root, const char *name, const struct repo_text *text,
			 struct lf_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, name);
	if (!text && access(path, F_OK) < 0) {
		lf_err_set(err, errno, "%s: %s (is %s a repository? 'layerctl repo init')", name,
			   strerror(errno), root);
		return NULL;
	}
	json_error_t je;
	json_t *j = text ? json_loadb(text->s, text->len, JSON_REJECT_DUPLICATES, &je)
			 : json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		lf_err_set(err, EINVAL, "%s: line %d, column %d: %s", name, je.line, je.column,
			   je.text);
	else if (!json_is_object(j)) {
		lf_err_set(err, EINVAL, "%s: must hold a JSON object", name);
		json_decref(j);
		j = NULL;
	}
	return j;
}

static int check_format(struct at *a, json_t *j, const char *want)
{
	json_t *f = json_object_get(j, "format");
	if (!json_is_string(f))
		return bad(a, "'format' is missing (want \"%s\")", want);
	if (strcmp(json_string_value(f), want))
		return bad(a, "format \"%s\" is not known (want \"%s\")", json_string_value(f), want);
	return 0;
}

static int parse_type(struct at *a, json_t *o, enum lf_layer_type *t)
{
	json_t *v = json_object_get(o, "type");
	if (lf_layer_type_parse(json_is_string(v) ? json_string_value(v) : "", t))
		return bad(a, "'type' must be \"os\", \"platform\" or \"app\"");
	return 0;
}

static int parse_layer(struct at *a, json_t *o, struct lf_repo_layer *l)
{
	static const char *const fields[] = { "id", "revision", "name", "type", "os_layer",
		"priority", "file", "sha256", "size", NULL };
	if (!json_is_object(o))
		return bad(a, "must be an object");
	int rc = only(a, o, fields);
	if (!rc)
		rc = get_uint(a, o, "id", 1, 1, &l->id);
	if (!rc)
		rc = get_uint(a, o, "revision", 1, 1, &l->revision);
	if (!rc)
		rc = get_str(a, o, "name", &l->name);
	if (!rc && strpbrk(l->name, "/\\"))
		rc = bad(a, "'name' may not hold '/' or '\\'");
	if (!rc)
		rc = parse_type(a, o, &l->type);
	if (!rc)
		rc = get_uint(a, o, "os_layer", l->type != LF_LAYER_OS, 1, &l->os_layer);
	if (!rc && l->type == LF_LAYER_OS && !l->os_layer)
		l->os_layer = l->id;
	if (!rc && l->type == LF_LAYER_OS && l->os_layer != l->id)
		rc = bad(a, "an OS layer's 'os_layer' is its own id");
	json_t *p = json_object_get(o, "priority");
	if (!rc && (!json_is_integer(p) || json_integer_value(p) < -1000000 ||
		    json_integer_value(p) > 1000000))
		rc = bad(a, "'priority' must be a whole number from -1000000 to 1000000");
	if (!rc)
		l->priority = (long)json_integer_value(p);
	const char *why;
	if (!rc)
		rc = get_str(a, o, "file", &l->file);
	if (!rc && !lf_repo_rel_ok(l->file, &why))
		rc = bad(a, "'file' \"%s\": %s", l->file, why);
	char *sha = NULL;
	if (!rc)
		rc = get_str(a, o, "sha256", &sha);
	if (!rc && (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64))
		rc = bad(a, "'sha256' must be 64 lower-case hex digits");
	if (!rc)
		memcpy(l->sha256, sha, 65);
	free(sha);
	json_t *sz = json_object_get(o, "size");
	if (!rc && (!json_is_integer(sz) || json_integer_value(sz) < 0))
		rc = bad(a, "'size' must be a whole number of bytes");
	if (!rc)
		l->size = (uint64_t)json_integer_value(sz);
	return rc;
}

static int parse_layers(const char *root, const struct repo_text *text, struct lf_repo *r,
			struct lf_err *err)
{
	json_t *j = read_json(root, LF_REPO_LAYERS_FILE, text, err);
	if (!j)
		return -err->code;
	struct at a = { .file = LF_REPO_LAYERS_FILE, .err = err };
	static const char *const top[] = { "format", "layers", NULL };
	int rc = check_format(&a, j, LAYERS_FORMAT);
	if (!rc)
		rc = only(&a, j, top);
	json_t *arr = json_object_get(j, "layers");
	if (!rc && !json_is_array(arr))
		rc = bad(&a, "'layers' must be a list");
	size_t n = rc ? 0 : json_array_size(arr);
	if (n && !(r->layers = calloc(n, sizeof *r->layers)))
		rc = lf_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		snprintf(a.path, sizeof a.path, "layers[%zu]", i);
		rc = parse_layer(&a, json_array_get(arr, i), &r->layers[i]);
		r->nlayers = i + 1;
		for (size_t k = 0; k < i && !rc; k++) {
			const struct lf_repo_layer *x = &r->layers[k], *y = &r->layers[i];
			if (x->id == y->id && x->revision == y->revision)
				rc = bad(&a, "layer %u revision %u is also layers[%zu]", y->id,
					 y->revision, k);
			else if (x->id == y->id && (strcmp(x->name, y->name) || x->type != y->type))
				rc = bad(&a, "layer %u is named or typed otherwise in layers[%zu]",
					 y->id, k);
		}
	}
	json_decref(j);
	return rc;
}

static int parse_assignment(struct at *a, json_t *o, struct lf_repo_assignment *s)
{
	static const char *const fields[] = { "kind", "name", "layers", NULL };
	static const char *const ref_fields[] = { "id", "revision", NULL };
	if (!json_is_object(o))
		return bad(a, "must be an object");
	int rc = only(a, o, fields);
	json_t *k = json_object_get(o, "kind");
	const char *ks = json_is_string(k) ? json_string_value(k) : "";
	if (!rc && !strcmp(ks, "user"))
		s->kind = LF_PRINCIPAL_USER;
	else if (!rc && !strcmp(ks, "group"))
		s->kind = LF_PRINCIPAL_GROUP;
	else if (!rc && !strcmp(ks, "machine"))
		s->kind = LF_PRINCIPAL_MACHINE;
	else if (!rc)
		rc = bad(a, "'kind' must be \"user\", \"group\" or \"machine\"");
	if (!rc)
		rc = get_str(a, o, "name", &s->name);
	json_t *ls = json_object_get(o, "layers");
	if (!rc && !json_is_array(ls))
		rc = bad(a, "'layers' must be a list");
	size_t n = rc ? 0 : json_array_size(ls);
	if (n && !(s->layers = calloc(n, sizeof *s->layers)))
		rc = lf_err_set(a->err, ENOMEM, "out of memory");
	size_t plen = strlen(a->path);
	for (size_t i = 0; i < n && !rc; i++) {
		snprintf(a->path + plen, sizeof a->path - plen, ".layers[%zu]", i);
		json_t *ref = json_array_get(ls, i);
		if (!json_is_object(ref))
			rc = bad(a, "must be an object {\"id\": N} or {\"id\": N, \"revision\": R}");
		if (!rc)
			rc = only(a, ref, ref_fields);
		if (!rc)
			rc = get_uint(a, ref, "id", 1, 1, &s->layers[i].id);
		if (!rc)
			rc = get_uint(a, ref, "revision", 0, 1, &s->layers[i].revision);
		s->nlayers = i + 1;
	}
	a->path[plen] = 0;
	return rc;
}

static int parse_assignments(const char *root, const struct repo_text *text, struct lf_repo *r,
			     struct lf_err *err)
{
	json_t *j = read_json(root, LF_REPO_ASSIGN_FILE, text, err);
	if (!j)
		return -err->code;
	struct at a = { .file = LF_REPO_ASSIGN_FILE, .err = err };
	static const char *const top[] = { "format", "assignments", NULL };
	int rc = check_format(&a, j, ASSIGN_FORMAT);
	if (!rc)
		rc = only(&a, j, top);
	json_t *arr = json_object_get(j, "assignments");
	if (!rc && !json_is_array(arr))
		rc = bad(&a, "'assignments' must be a list");
	size_t n = rc ? 0 : json_array_size(arr);
	if (n && !(r->assign = calloc(n, sizeof *r->assign)))
		rc = lf_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		snprintf(a.path, sizeof a.path, "assignments[%zu]", i);
		rc = parse_assignment(&a, json_array_get(arr, i), &r->assign[i]);
		r->nassign = i + 1;
		for (size_t k = 0; k < i && !rc; k++)
			if (r->assign[k].kind == r->assign[i].kind &&
			    !strcmp(r->assign[k].name, r->assign[i].name))
				rc = bad(&a, "%s '%s' is also assignments[%zu] (one entry a principal)",
					 lf_principal_name(r->assign[i].kind), r->assign[i].name, k);
	}
	json_decref(j);
	return rc;
}

int repo_read(const char *root, struct lf_repo *r, struct lf_err *err)
{
	int rc = parse_layers(root, NULL, r, err);
	return rc ? rc : parse_assignments(root, NULL, r, err);
}

int repo_read_texts(const struct repo_text *layers, const struct repo_text *assign,
		    struct lf_repo *r, struct lf_err *err)
{
	int rc = parse_layers("", layers, r, err);
	return rc ? rc : parse_assignments("", assign, r, err);
}

/* --- writing --- */

static const char *type_word(enum lf_layer_type t)
{
	return t == LF_LAYER_OS ? "os" : t == LF_LAYER_PLATFORM ? "platform" : "app";
}

json_t *repo_layers_json(const struct lf_repo *r)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct lf_repo_layer *l = &r->layers[i];
		json_array_append_new(arr, json_pack("{s:i, s:i, s:s, s:s, s:i, s:i, s:s, s:s, s:I}",
			"id", (int)l->id, "revision", (int)l->revision, "name", l->name,
			"type", type_word(l->type), "os_layer", (int)l->os_layer,
			"priority", (int)l->priority, "file", l->file, "sha256", l->sha256,
			"size", (json_int_t)l->size));
	}
	return json_pack("{s:s, s:o}", "format", LAYERS_FORMAT, "layers", arr);
}

json_t *repo_assign_json(const struct lf_repo *r)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < r->nassign; i++) {
		const struct lf_repo_assignment *s = &r->assign[i];
		json_t *ls = json_array();
		for (size_t k = 0; k < s->nlayers; k++) {
			json_t *ref = json_pack("{s:i}", "id", (int)s->layers[k].id);
			if (s->layers[k].revision)
				json_object_set_new(ref, "revision", json_integer(s->layers[k].revision));
			json_array_append_new(ls, ref);
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "kind",
			lf_principal_name(s->kind), "name", s->name, "layers", ls));
	}
	return json_pack("{s:s, s:o}", "format", ASSIGN_FORMAT, "assignments", arr);
}

const char *lf_principal_name(enum lf_principal k)
{
	return k == LF_PRINCIPAL_USER ? "user" : k == LF_PRINCIPAL_GROUP ? "group" : "machine";
}
