/* The console's actions: what an admin's forms ask (POST /act/NAME), done
 * as layerctl does it (the repository's lock and atomic saves through
 * lf_repo_update and lf_repo_retire) or as layerd's socket does it
 * (session_logoff, session_refresh). Each is one line in layerd's log and
 * one in the repository's History.txt: who, from where, what, the result.
 * The caller (console_http.c) has checked she is an admin and her form's
 * CSRF token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "console.h"
#include "layerd_int.h"

struct action {
	const struct console_req *r;
	char what[512];              /* "assign group finance 1,100" */
	struct lf_err err;
};

/* A field that must be there, on one line. */
static const char *field(struct action *a, const char *name)
{
	const char *v = a->r->form(a->r->form_ctx, name);
	if (!v || !*v) {
		lf_err_set(&a->err, EINVAL, "the form has no %s", name);
		return NULL;
	}
	if (!console_one_line(v, NULL, 0)) {
		lf_err_set(&a->err, EINVAL, "%s: a control character", name);
		return NULL;
	}
	return v;
}

static int parse_uint(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > INT32_MAX || *s == '-' || *s == '+')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* "1, 100:2": layer ids, each maybe pinned to a revision. */
static int parse_refs(struct action *a, const char *text, int take, struct lf_repo_ref *refs,
		      size_t *n, size_t max)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", text);
	*n = 0;
	for (char *save, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		char *colon = strchr(t, ':');
		if (colon)
			*colon = 0;
		if (*n == max || parse_uint(t, &refs[*n].id) ||
		    (colon && (take || parse_uint(colon + 1, &refs[*n].revision))))
			return lf_err_set(&a->err, EINVAL, "layers: '%s%s%s' is not a layer ID%s", t,
					  colon ? ":" : "", colon ? colon + 1 : "",
					  take ? "" : " or ID:REVISION");
		if (!colon)
			refs[*n].revision = 0;
		(*n)++;
	}
	return *n ? 0 : lf_err_set(&a->err, EINVAL, "layers: none named");
}

static int kind_of(struct action *a, enum lf_principal *k)
{
	const char *v = field(a, "kind");
	if (!v)
		return -1;
	if (!strcmp(v, "user"))
		*k = LF_PRINCIPAL_USER;
	else if (!strcmp(v, "group"))
		*k = LF_PRINCIPAL_GROUP;
	else if (!strcmp(v, "machine"))
		*k = LF_PRINCIPAL_MACHINE;
	else
		return lf_err_set(&a->err, EINVAL, "kind: user, group or machine, not '%s'", v);
	return 0;
}

static int act_assign(struct action *a, int take)
{
	struct lf_repo_ref refs[64];
	struct lf_repo_assign_req q = { .take = take, .refs = refs };
	const char *name, *layers;
	if (kind_of(a, &q.kind) || !(name = field(a, "name")) || !(layers = field(a, "layers")) ||
	    parse_refs(a, layers, take, refs, &q.nrefs, 64))
		return 400;
	if (strlen(name) > 256)
		return lf_err_set(&a->err, EINVAL, "name: longer than 256 characters"), 400;
	q.name = name;
	snprintf(a->what, sizeof a->what, "%s %s %s %s", take ? "unassign" : "assign",
		 lf_principal_name(q.kind), name, layers);
	snprintf(a->r->location, a->r->location_size, "/assignments");
	return lf_repo_update_assign(a->r->d->repo, &q, &a->err) ? 409 : 303;
}

static int act_priority(struct action *a)
{
	uint32_t lid;
	const char *id = field(a, "id"), *v = id ? field(a, "priority") : NULL;
	char *end;
	if (!v)
		return 400;
	errno = 0;
	long priority = strtol(v, &end, 10);
	if (parse_uint(id, &lid) || errno || *end)
		return lf_err_set(&a->err, EINVAL, "priority: a layer ID and a whole number"), 400;
	snprintf(a->what, sizeof a->what, "priority %u %ld", lid, priority);
	snprintf(a->r->location, a->r->location_size, "/layers");
	return lf_repo_update_priority(a->r->d->repo, lid, priority, &a->err) ? 409 : 303;
}

static int act_retire(struct action *a, int purge)
{
	struct lf_repo_retire_req q = { .purge = purge };
	const char *id = field(a, "id"), *rev = a->r->form(a->r->form_ctx, "revision"),
		   *force = a->r->form(a->r->form_ctx, "force");
	if (!id)
		return 400;
	if (parse_uint(id, &q.id) || (rev && *rev && parse_uint(rev, &q.revision)))
		return lf_err_set(&a->err, EINVAL, "a layer ID and maybe a revision"), 400;
	q.force = force && !strcmp(force, "1");
	snprintf(a->what, sizeof a->what, "%s layer %u%s%.0u%s", purge ? "delete" : "retire",
		 q.id, q.revision ? " revision " : "", q.revision, q.force ? " (forced)" : "");
	snprintf(a->r->location, a->r->location_size, "/layers");
	q.sessions = session_status(a->r->d, NULL);
	json_t *done = NULL;
	int rc = lf_repo_retire(a->r->d->repo, &q, &done, &a->err);
	size_t i;
	json_t *f;
	json_array_foreach(done, i, f) {     /* what went where, for the log */
		const char *now = json_string_value(json_object_get(f, "now"));
		size_t n = strlen(a->what);
		snprintf(a->what + n, sizeof a->what - n, "%s%s%s%s", i ? ", " : ": ",
			 json_string_value(json_object_get(f, "file")), now ? " -> " : " deleted",
			 now ? now : "");
	}
	json_decref(done);
	json_decref(q.sessions);
	return rc ? (a->err.code == EBUSY || a->err.code == ENOENT ? 409 : 500) : 303;
}

static int act_logoff(struct action *a)
{
	const char *user = field(a, "user");
	if (!user)
		return 400;
	snprintf(a->what, sizeof a->what, "log off %s", user);
	snprintf(a->r->location, a->r->location_size, "/sessions");
	return session_logoff(a->r->d, user, &a->err) ? 409 : 303;
}

static int act_refresh(struct action *a)
{
	const char *at = a->r->form(a->r->form_ctx, "at_logoff");
	int at_logoff = at && !strcmp(at, "1");
	snprintf(a->what, sizeof a->what, "refresh%s", at_logoff ? " at logoff" : "");
	snprintf(a->r->location, a->r->location_size, "/sessions");
	json_t *reply = NULL;
	int rc = session_refresh(a->r->d, at_logoff, &reply, &a->err);
	json_decref(reply);
	return rc ? 409 : 303;
}

static const char *const repo_actions[] = { "assign", "unassign", "priority", "retire", "remove" };

int console_act(const struct console_req *r, struct sbuf *b)
{
	struct action a = { .r = r };
	const char *name = r->path + strlen("/act/");
	int status = 0, repo_action = 0;
	for (size_t i = 0; i < sizeof repo_actions / sizeof *repo_actions; i++)
		repo_action |= !strcmp(name, repo_actions[i]);
	snprintf(a.what, sizeof a.what, "%s", name);
	if (repo_action && r->d->registry) {
		lf_err_set(&a.err, EROFS, "the repository is the registry's control artifact %s: "
			   "change it where it is pushed from", r->d->registry);
		status = 409;
	}
	else if (!strcmp(name, "assign") || !strcmp(name, "unassign"))
		status = act_assign(&a, name[0] == 'u');
	else if (!strcmp(name, "priority"))
		status = act_priority(&a);
	else if (!strcmp(name, "retire") || !strcmp(name, "remove"))
		status = act_retire(&a, !strcmp(name, "remove"));
	else if (!strcmp(name, "logoff"))
		status = act_logoff(&a);
	else if (!strcmp(name, "refresh"))
		status = act_refresh(&a);
	else {
		sb_printf(b, "no such action");
		return 404;
	}
	const struct console_caller *who = r->who;
	char from[160];
	snprintf(from, sizeof from, "%s (%s)", who->from, who->how);
	const char *result = status == 303 ? "done" : a.err.msg;
	r->d->log("console: %s from %s: %s: %s", who->name, from, a.what, result);
	struct lf_err herr = {0};
	if (lf_repo_history(r->d->repo, who->name, from, a.what, result, &herr))
		r->d->log("console: the history file: %s", herr.msg);
	if (status == 303)
		return 303;
	sb_page_start(b, r, "Not done", "");
	sb_printf(b, "<p class=\"bad\" id=\"why\" data-status=\"%d\">", status);
	sb_html(b, a.what);
	sb_printf(b, ": ");
	sb_html(b, a.err.msg);
	sb_printf(b, "</p><p><a href=\"");
	sb_html(b, r->location);
	sb_printf(b, "\">Back</a></p>");
	sb_page_end(b);
	return status;
}
