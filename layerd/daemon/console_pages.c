/* The console's read-only pages: the overview, the layers, the
 * assignments, the sessions and the repository's health, made from the
 * repository as layerd reads it at a login (daemon_repo_open) and from
 * the sessions it serves (session_status). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "layerd_int.h"
#include "console.h"
#include "layerfs/oci.h"

static int repo_or_error(const struct console_req *r, struct lf_repo **repo, struct sbuf *b)
{
	struct lf_err err = {0};
	if (daemon_repo_open(r->d, repo, &err) == 0)
		return 0;
	b->len = 0;
	sb_printf(b, "the repository cannot be read: ");
	sb_html(b, err.msg);
	return 503;
}

static int newest(const struct lf_repo *repo, uint32_t id)
{
	uint32_t rev = 0;
	for (size_t i = 0; i < repo->nlayers; i++)
		if (repo->layers[i].id == id && repo->layers[i].revision > rev)
			rev = repo->layers[i].revision;
	return (int)rev;
}

static const char *kind_name(enum lf_principal k)
{
	return k == LF_PRINCIPAL_USER ? "user" : k == LF_PRINCIPAL_GROUP ? "group" : "machine";
}

int page_overview(const struct console_req *r, struct sbuf *b)
{
	struct lf_repo *repo;
	int rc = repo_or_error(r, &repo, b);
	if (rc)
		return rc;
	json_t *st = session_status(r->d, NULL);
	size_t ids = 0;
	for (size_t i = 0; i < repo->nlayers; i++)
		ids += newest(repo, repo->layers[i].id) == (int)repo->layers[i].revision;
	sb_page_start(b, r, "layerd", "/");
	sb_printf(b, "<p>Repository <code>");
	sb_html(b, repo->registry ? repo->registry : repo->root);
	sb_printf(b, "</code>%s on <code>", repo->registry ? " (a registry's control artifact)" : "");
	sb_html(b, r->d->machine);
	sb_printf(b, "</code>.</p><table>"
		  "<tr><th>Layers</th><td class=\"n\" id=\"n-layers\">%zu</td>"
		  "<td>%zu revisions</td></tr>"
		  "<tr><th>Assignments</th><td class=\"n\" id=\"n-assignments\">%zu</td><td></td></tr>"
		  "<tr><th>Sessions</th><td class=\"n\" id=\"n-sessions\">%zu</td>"
		  "<td>%lld layers open</td></tr></table>\n",
		  ids, repo->nlayers, repo->nassign,
		  json_array_size(json_object_get(st, "sessions")),
		  (long long)json_integer_value(json_object_get(st, "open_layers")));
	sb_page_end(b);
	json_decref(st);
	lf_repo_free(repo);
	return 200;
}

/* Does session s (its "layers" list) use layer id:rev? */
static int session_uses(json_t *s, uint32_t id, uint32_t rev)
{
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(s, "layers"), i, l)
		if (json_integer_value(json_object_get(l, "id")) == id &&
		    json_integer_value(json_object_get(l, "revision")) == rev)
			return 1;
	return 0;
}

/* An admin's buttons for revision L: its layer's priority, retire it
 * (to Retired/) or delete it, each even if in use when ticked. */
static void layer_actions(const struct console_req *r, struct sbuf *b,
			  const struct lf_repo_layer *l)
{
	if (!r->who || r->who->role != ROLE_ADMIN)
		return;
	sb_printf(b, "<td>");
	sb_form(b, r, "priority", "act");
	sb_printf(b, "<input type=\"hidden\" name=\"id\" value=\"%u\"><input name=\"priority\" "
		  "type=\"number\" value=\"%ld\" aria-label=\"priority\"><button>Set</button>",
		  l->id, l->priority);
	sb_form_end(b);
	static const char *const what[][2] = { { "retire", "Retire" }, { "remove", "Delete" } };
	for (int k = 0; k < 2; k++) {
		sb_form(b, r, what[k][0], "act");
		sb_printf(b, "<input type=\"hidden\" name=\"id\" value=\"%u\"><input type=\"hidden\" "
			  "name=\"revision\" value=\"%u\"><button>%s</button>", l->id, l->revision,
			  what[k][1]);
		sb_form_end(b);
	}
	sb_printf(b, "</td>");
}

int page_layers(const struct console_req *r, struct sbuf *b)
{
	struct lf_repo *repo;
	int rc = repo_or_error(r, &repo, b);
	if (rc)
		return rc;
	json_t *st = session_status(r->d, NULL), *sessions = json_object_get(st, "sessions");
	sb_page_start(b, r, "Layers", "/layers");
	sb_printf(b, "<table id=\"layers\"><tr><th>ID</th><th>Revision</th><th>Name</th>"
		  "<th>Type</th><th>OS layer</th><th>Priority</th><th>Size</th><th>File</th>"
		  "<th>Who gets it</th><th>In use by</th>%s</tr>\n",
		  r->who && r->who->role == ROLE_ADMIN ? "<th>Actions</th>" : "");
	for (size_t i = 0; i < repo->nlayers; i++) {
		const struct lf_repo_layer *l = &repo->layers[i];
		int is_newest = newest(repo, l->id) == (int)l->revision;
		sb_printf(b, "<tr class=\"layer\" data-id=\"%u\" data-revision=\"%u\"><td>%u</td>"
			  "<td>%u%s</td><td>", l->id, l->revision, l->id, l->revision,
			  is_newest ? " (newest)" : "");
		sb_html(b, l->name);
		sb_printf(b, "</td><td>%s</td><td>%u</td><td class=\"n\">%ld</td><td class=\"n\">",
			  lf_layer_type_name(l->type), l->os_layer, l->priority);
		sb_size(b, l->size);
		sb_printf(b, "</td><td><code>");
		sb_html(b, l->file);
		sb_printf(b, "</code></td><td>");
		/* an assignment gives a pinned revision, or the newest */
		int any = 0;
		for (size_t a = 0; a < repo->nassign; a++)
			for (size_t k = 0; k < repo->assign[a].nlayers; k++) {
				const struct lf_repo_ref *ref = &repo->assign[a].layers[k];
				if (ref->id != l->id || (ref->revision ? ref->revision != l->revision
								       : !is_newest))
					continue;
				sb_printf(b, "%s%s ", any++ ? "<br>" : "", kind_name(repo->assign[a].kind));
				sb_html(b, repo->assign[a].name);
				if (ref->revision)
					sb_printf(b, " (pinned)");
			}
		sb_printf(b, "</td><td>");
		any = 0;
		size_t s;
		json_t *one;
		json_array_foreach(sessions, s, one)
			if (session_uses(one, l->id, l->revision)) {
				sb_printf(b, "%s", any++ ? ", " : "");
				sb_html(b, json_string_value(json_object_get(one, "user")));
			}
		sb_printf(b, "</td>");
		layer_actions(r, b, l);
		sb_printf(b, "</tr>\n");
	}
	sb_printf(b, "</table>\n");
	sb_page_end(b);
	json_decref(st);
	lf_repo_free(repo);
	return 200;
}

int page_assignments(const struct console_req *r, struct sbuf *b)
{
	struct lf_repo *repo;
	int rc = repo_or_error(r, &repo, b);
	if (rc)
		return rc;
	sb_page_start(b, r, "Assignments", "/assignments");
	sb_printf(b, "<table id=\"assignments\"><tr><th>To</th><th>Name</th><th>Layers</th>%s</tr>\n",
		  r->who && r->who->role == ROLE_ADMIN ? "<th>Take back</th>" : "");
	for (size_t a = 0; a < repo->nassign; a++) {
		const struct lf_repo_assignment *as = &repo->assign[a];
		sb_printf(b, "<tr class=\"assignment\"><td>%s</td><td>", kind_name(as->kind));
		sb_html(b, as->name);
		sb_printf(b, "</td><td>");
		for (size_t k = 0; k < as->nlayers; k++) {
			const struct lf_repo_layer *l = lf_repo_find(repo, as->layers[k].id,
								     as->layers[k].revision);
			sb_printf(b, "%s", k ? ", " : "");
			sb_html(b, l ? l->name : "?");
			sb_printf(b, " (%u%s", as->layers[k].id, as->layers[k].revision ? " rev " : "");
			if (as->layers[k].revision)
				sb_printf(b, "%u", as->layers[k].revision);
			sb_printf(b, ")");
		}
		sb_printf(b, "</td>");
		for (size_t k = 0; r->who && r->who->role == ROLE_ADMIN && k < as->nlayers; k++) {
			const struct lf_repo_layer *l = lf_repo_find(repo, as->layers[k].id, 0);
			sb_printf(b, "%s", k ? "" : "<td>");
			sb_form(b, r, "unassign", "act");
			sb_printf(b, "<input type=\"hidden\" name=\"kind\" value=\"%s\">"
				  "<input type=\"hidden\" name=\"name\" value=\"", kind_name(as->kind));
			sb_html(b, as->name);
			sb_printf(b, "\"><input type=\"hidden\" name=\"layers\" value=\"%u\">"
				  "<button title=\"take it back\">&#215; ", as->layers[k].id);
			sb_html(b, l ? l->name : "?");
			sb_printf(b, "</button>");
			sb_form_end(b);
		}
		sb_printf(b, "%s", r->who && r->who->role == ROLE_ADMIN && as->nlayers ? "</td>" : "");
		sb_printf(b, "</tr>\n");
	}
	sb_printf(b, "</table>\n");
	if (sb_form(b, r, "assign", "assign")) {
		sb_printf(b, "<h2>Assign</h2><p><select name=\"kind\" id=\"assign-kind\">"
			  "<option>group</option><option>user</option><option>machine</option>"
			  "</select> <input name=\"name\" id=\"assign-name\" required "
			  "placeholder=\"name (a machine: a pattern, WKS-*)\"> gets <input "
			  "name=\"layers\" id=\"assign-layers\" required placeholder=\"ID or ID:REV, "
			  "...\"> <button id=\"assign-submit\">Assign</button></p>");
		sb_form_end(b);
	}
	sb_page_end(b);
	lf_repo_free(repo);
	return 200;
}

int page_sessions(const struct console_req *r, struct sbuf *b)
{
	json_t *st = session_status(r->d, NULL);
	sb_page_start(b, r, "Sessions", "/sessions");
	sb_printf(b, "<table id=\"sessions\"><tr><th>User</th><th>Machine</th><th>Since</th>"
		  "<th>Layers, lowest first</th><th>Drive</th>%s</tr>\n",
		  r->who && r->who->role == ROLE_ADMIN ? "<th></th>" : "");
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(st, "sessions"), i, s) {
		time_t since = (time_t)json_integer_value(json_object_get(s, "since"));
		char when[64];
		struct tm tm;
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&since, &tm));
		const char *user = json_string_value(json_object_get(s, "user"));
		sb_printf(b, "<tr class=\"session\"><td><a href=\"/stack?user=");
		sb_url(b, user);
		size_t gi;
		json_t *g;
		json_array_foreach(json_object_get(s, "groups"), gi, g) {
			sb_printf(b, gi ? "," : "&amp;groups=");
			sb_url(b, json_string_value(g));
		}
		sb_printf(b, "\">");
		sb_html(b, user);
		sb_printf(b, "</a></td><td>");
		sb_html(b, json_string_value(json_object_get(s, "machine")));
		sb_printf(b, "</td><td>%s</td><td>", when);
		size_t k;
		json_t *l;
		json_array_foreach(json_object_get(s, "layers"), k, l) {
			sb_printf(b, "%s", k ? ", " : "");
			sb_html(b, json_string_value(json_object_get(l, "name")));
		}
		sb_printf(b, "</td><td><code>");
		sb_html(b, json_string_value(json_object_get(s, "drive")));
		sb_printf(b, "</code></td>");
		if (r->who && r->who->role == ROLE_ADMIN) {
			sb_printf(b, "<td>");
			sb_form(b, r, "logoff", "act");
			sb_printf(b, "<input type=\"hidden\" name=\"user\" value=\"");
			sb_html(b, user);
			sb_printf(b, "\"><button>Log off</button>");
			sb_form_end(b);
			sb_printf(b, "</td>");
		}
		sb_printf(b, "</tr>\n");
	}
	sb_printf(b, "</table>\n");
	if (sb_form(b, r, "refresh", "refresh")) {
		sb_printf(b, "<p><button id=\"refresh\">Refresh</button> every session's app layers "
			  "from the control files now (<label><input type=\"checkbox\" "
			  "name=\"at_logoff\" value=\"1\"> at each one's next login instead</label>)"
			  "</p>");
		sb_form_end(b);
	}
	sb_page_end(b);
	json_decref(st);
	return 200;
}

int page_health(const struct console_req *r, struct sbuf *b)
{
	struct lf_repo *repo = NULL;
	struct lf_err err = {0};
	int readable = daemon_repo_open(r->d, &repo, &err) == 0;
	sb_page_start(b, r, "Health", "/health");
	sb_printf(b, "<table id=\"health\"><tr><th>Control files</th><td class=\"%s\">",
		  readable ? "good" : "bad");
	sb_html(b, readable ? "read" : err.msg);
	sb_printf(b, "</td></tr>\n");
	size_t missing = 0;
	for (size_t i = 0; readable && !repo->registry && i < repo->nlayers; i++) {
		char path[8192];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", repo->root, repo->layers[i].file);
		if (stat(path, &st) < 0 || (uint64_t)st.st_size != repo->layers[i].size) {
			if (!missing++)
				sb_printf(b, "<tr><th>Layer files</th><td class=\"bad\">");
			sb_html(b, repo->layers[i].file);
			sb_printf(b, " is missing or not its recorded size<br>");
		}
	}
	if (readable && !repo->registry && !missing)
		sb_printf(b, "<tr><th>Layer files</th><td class=\"good\">%zu there, each of its "
			  "recorded size", repo->nlayers);
	if (readable && !repo->registry)
		sb_printf(b, "</td></tr>\n");
	if (repo && repo->registry) {
		struct lf_chunk_cache *c;
		uint64_t bytes = 0, blobs = 0;
		if (lf_chunk_cache_get(&c, &err) == 0)
			lf_chunk_cache_usage(c, &bytes, &blobs);
		sb_printf(b, "<tr><th>Chunk cache</th><td>%llu blobs, ", (unsigned long long)blobs);
		sb_size(b, bytes);
		sb_printf(b, "; fetched since start: ");
		sb_size(b, lf_registry_fetched());
		sb_printf(b, "</td></tr>\n");
	}
	sb_printf(b, "</table>\n");
	health_page(r->health, b);
	sb_page_end(b);
	lf_repo_free(repo);
	return 200;
}
