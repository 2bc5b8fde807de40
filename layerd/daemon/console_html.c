/* What the console's pages share: a growing text buffer, HTML escaping,
 * and the frame every page has (its head, style and navigation). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "console.h"
#include "layerd_int.h"

static int reserve(struct sbuf *b, size_t more)
{
	if (b->failed)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->failed = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sb_html(struct sbuf *b, const char *text)
{
	for (const char *p = text ? text : ""; *p; p++) {
		switch (*p) {
		case '<': sb_printf(b, "&lt;"); break;
		case '>': sb_printf(b, "&gt;"); break;
		case '&': sb_printf(b, "&amp;"); break;
		case '"': sb_printf(b, "&quot;"); break;
		case '\'': sb_printf(b, "&#39;"); break;
		default:
			if (!reserve(b, 1))
				b->s[b->len++] = *p, b->s[b->len] = 0;
		}
	}
}

int console_one_line(const char *text, char *out, size_t size)
{
	int clean = 1;
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		int ctl = (unsigned char)*p < 0x20 || *p == 0x7f;
		clean &= !ctl;
		if (out && n + 1 < size)
			out[n++] = ctl ? '?' : *p;
	}
	if (out && size)
		out[n] = 0;
	return clean;
}

void sb_size(struct sbuf *b, uint64_t n)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	sb_printf(b, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

void sb_url(struct sbuf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p))
			sb_printf(b, "%c", *p);
		else
			sb_printf(b, "%%%02X", *p);
	}
}

struct console_view {
	struct login_req req;
	const char *gv[256];
	char gbuf[4096];
	struct stack_view v;
};

int console_view_open(const struct console_req *r, struct console_view **out, struct sbuf *b)
{
	const char *user = r->arg(r->ctx, "user"), *groups = r->arg(r->ctx, "groups");
	if (!user || !*user) {
		sb_printf(b, "%s wants ?user=NAME (and groups=G,..., machine=M)", r->path);
		return 400;
	}
	/* as a login takes it: it goes into layerd's log */
	const char *why;
	if (groups && !console_one_line(groups, NULL, 0)) {
		sb_printf(b, "groups: a control character");
		return 400;
	}
	if (!lf_repo_rel_ok(user, &why) || strchr(user, '/')) {
		sb_printf(b, "user name: %s", strchr(user, '/') ? "holds '/'" : why);
		return 400;
	}
	struct console_view *cv = calloc(1, sizeof *cv);
	if (!cv) {
		sb_printf(b, "out of memory");
		return 500;
	}
	int ng = 0;
	snprintf(cv->gbuf, sizeof cv->gbuf, "%s", groups ? groups : "");
	for (char *save, *t = strtok_r(cv->gbuf, ",", &save); t && ng < 256;
	     t = strtok_r(NULL, ",", &save))
		cv->gv[ng++] = t;
	cv->req = (struct login_req){ user, cv->gv, ng, r->arg(r->ctx, "machine") };
	struct lf_err err = {0};
	if (stack_view_open(r->d, &cv->req, &cv->v, &err)) {
		sb_html(b, err.msg);
		free(cv);
		return 404;
	}
	*out = cv;
	return 0;
}

void console_view_close(struct console_view *cv)
{
	stack_view_close(&cv->v);
	free(cv);
}

const char *console_view_user(const struct console_view *cv)
{
	return cv->req.user;
}

struct lf_union *console_view_union(const struct console_view *cv)
{
	return cv->v.u;
}

json_t *console_view_layers(const struct console_view *cv)
{
	return cv->v.layers;
}

json_t *console_view_skipped(const struct console_view *cv)
{
	return cv->v.skipped;
}

void sb_page_start(struct sbuf *b, const struct console_req *r, const char *title,
		   const char *here)
{
	static const char *const nav[][2] = {
		{ "/", "Overview" }, { "/layers", "Layers" }, { "/assignments", "Assignments" },
		{ "/sessions", "Sessions" }, { "/health", "Health" },
	};
	sb_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		  "<title>");
	sb_html(b, title);
	sb_printf(b, " - layerd</title><style>"
		  "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}"
		  "nav{background:#1f3a5f;padding:8px 16px}"
		  "nav a{color:#fff;margin-right:16px;text-decoration:none}"
		  "nav a.here{font-weight:bold;text-decoration:underline}"
		  "main{padding:16px}table{border-collapse:collapse}"
		  "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
		  "th{background:#eef2f7}td.n{text-align:right}.bad{color:#a00}.good{color:#070}"
		  "form.act{display:inline;margin:0 2px}form.act input{width:5em}"
		  "nav span{color:#cfd8e3;float:right}nav form{display:inline}"
		  "</style></head><body><nav>");
	for (size_t i = 0; i < sizeof nav / sizeof *nav; i++)
		sb_printf(b, "<a href=\"%s\"%s>%s</a>", nav[i][0],
			  !strcmp(here, nav[i][0]) ? " class=\"here\"" : "", nav[i][1]);
	const struct console_caller *who = r->who;
	if (who && who->name[0]) {
		sb_printf(b, "<span id=\"who\" data-role=\"%s\">", who->role == ROLE_ADMIN ? "admin"
			  : "viewer");
		sb_html(b, who->name);
		sb_printf(b, " (%s)", who->role == ROLE_ADMIN ? "may act" : "reads");
		if (who->sid[0]) {
			sb_printf(b, " <form method=\"post\" action=\"/logout\">"
				  "<input type=\"hidden\" name=\"csrf\" value=\"");
			sb_html(b, who->csrf);
			sb_printf(b, "\"><button id=\"sign-out\">Sign out</button></form>");
		}
		sb_printf(b, "</span>");
	}
	sb_printf(b, "</nav><main><h1>");
	sb_html(b, title);
	sb_printf(b, "</h1>\n");
}

int sb_form(struct sbuf *b, const struct console_req *r, const char *name, const char *cls)
{
	if (!r->who || r->who->role != ROLE_ADMIN)
		return 0;
	sb_printf(b, "<form method=\"post\" action=\"/act/%s\" class=\"%s\">"
		  "<input type=\"hidden\" name=\"csrf\" value=\"", name, cls);
	sb_html(b, r->who->csrf);
	sb_printf(b, "\">");
	return 1;
}

void sb_form_end(struct sbuf *b)
{
	sb_printf(b, "</form>");
}

void sb_page_end(struct sbuf *b)
{
	sb_printf(b, "</main></body></html>\n");
}
