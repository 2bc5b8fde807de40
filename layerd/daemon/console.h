/* layerd's web console (docs/CONSOLE.md): the repository and the sessions
 * as pages, its actions as POSTs, and /metrics for monitoring, served by
 * libmicrohttpd beside the control socket. Who asks decides what is
 * served: on a unix socket the peer's account (SO_PEERCRED); on TCP an
 * account signed in through PAM (a session cookie) or the bearer token of
 * --http-token. Root and the admin group act, the viewer group reads;
 * /metrics goes to the addresses allowed, without a sign-in. */
#ifndef LAYERD_CONSOLE_H
#define LAYERD_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layerfs/err.h"

struct daemon;
struct console_req;

struct console_opts {
	const char *listen[4];       /* "unix:PATH" or "ADDR:PORT" ("[::1]:PORT") */
	int nlisten;
	const char *viewers;         /* group that may read (default layerfs-viewers) */
	const char *admins;          /* group that may act (default layerfs-admins) */
	const char *metrics_allow;   /* "127.0.0.0/8,::1": who may scrape over TCP */
	int metrics_names;           /* user and layer names in /metrics */
	int fsck_hours;              /* /health's fsck: every this many hours (0: at start) */
	const char *token_file;      /* --http-token: a root-only file, its first line */
	const char *cert, *key;      /* --http-cert, --http-key: TLS on the TCP listeners */
	int idle_seconds;            /* a sign-in ends after this long unused (default 15 min) */
	const char *pam_service;     /* default "layerd" */
};

struct console;
int console_start(struct daemon *d, const struct console_opts *o, struct console **out,
		  struct lf_err *err);
void console_stop(struct console *c);

/* --- what the pages share (console_html.c) --- */
struct sbuf {
	char *s;
	size_t len, cap;
	int failed;                  /* out of memory: the page is a 500 */
};
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* TEXT with <, >, &, " and ' escaped. */
void sb_html(struct sbuf *b, const char *text);
/* TEXT as one line of layerd's log (each control character as '?') into
 * OUT, if OUT; 1 if it had none (what a user sends that goes to the log
 * is checked with it). */
int console_one_line(const char *text, char *out, size_t size);
/* N bytes as people read them: "512 B", "10.0 MiB". */
void sb_size(struct sbuf *b, uint64_t n);
/* S as a URL's query value: unreserved characters as they are, the
 * rest %XX (so nothing in it needs HTML escaping either). */
void sb_url(struct sbuf *b, const char *s);
/* The page's head and its navigation (who is signed in, a way out),
 * then its end. */
void sb_page_start(struct sbuf *b, const struct console_req *r, const char *title,
		   const char *here);
void sb_page_end(struct sbuf *b);

/* --- who asks (console_auth.c) --- */
enum console_role { ROLE_NOBODY, ROLE_VIEWER, ROLE_ADMIN };
struct console_caller {
	enum console_role role;
	char name[260];              /* her account, or "token" */
	char from[96];               /* "unix socket" or the client's address */
	const char *how;             /* "peer", "sign-in" or "token" */
	char csrf[160];              /* the token her forms carry ("": she needs none) */
	char sid[65];                /* her sign-in, or "" */
};
/* What account uid may do: root and the members of ADMINS act, those of
 * VIEWERS read. */
enum console_role console_role_of(const char *viewers, const char *admins, uid_t uid);
struct console_auth;
/* The secret the CSRF tokens are made with, the bearer token read from
 * o->token_file (a regular file of root's that nobody else may read, or
 * it is refused), no sign-ins yet. */
int auth_start(const struct console_opts *o, struct console_auth **out, struct lf_err *err);
void auth_stop(struct console_auth *a);
/* Fill who->csrf for a caller known by IDENTITY (uid or sign-in), and
 * check one sent back: 1 if it is this caller's and not expired. */
void auth_csrf_make(struct console_auth *a, const char *identity, struct console_caller *who);
int auth_csrf_ok(struct console_auth *a, const char *identity, const char *token);
/* PAM (service o->pam_service) says USER's PASSWORD is right and her
 * account usable; she is in the viewer or admin group: a new sign-in,
 * its id in sid. 0, or an HTTP status with why (401: the password, 403:
 * not in a group, 503: too many sign-ins). */
int auth_sign_in(struct console_auth *a, const char *user, const char *password,
		 char sid[65], char *why, size_t size);
/* The sign-in SID, if it is one and was used in the last idle minutes
 * (it is used now): its caller filled (role read afresh: a member taken
 * out of the group loses her rights at once). */
int auth_session(struct console_auth *a, const char *sid, struct console_caller *who);
void auth_sign_out(struct console_auth *a, const char *sid);
/* Is TOKEN the --http-token's? (0 without one) */
int auth_bearer_ok(struct console_auth *a, const char *token);

/* --- the pages (console_pages.c) and /metrics (console_metrics.c):
 * each fills b, or returns an HTTP status other than 200 with b the
 * message --- */
struct health;
struct console_req {
	struct daemon *d;
	struct health *health;       /* the last fsck (console_health.c) */
	struct memo_store *memos;    /* the stack picture's (console_memo.c) */
	const struct console_opts *o;
	const char *path;
	const char *(*arg)(void *ctx, const char *name);   /* a query argument, or NULL */
	void *ctx;
	const struct console_caller *who;
	const char *(*form)(void *ctx, const char *name); /* a POST's field, or NULL */
	void *form_ctx;
	char *location;              /* a 303's target: the action fills it */
	size_t location_size;
};
int page_overview(const struct console_req *r, struct sbuf *b);
int page_layers(const struct console_req *r, struct sbuf *b);
int page_assignments(const struct console_req *r, struct sbuf *b);
int page_sessions(const struct console_req *r, struct sbuf *b);
int page_health(const struct console_req *r, struct sbuf *b);
int page_stack(const struct console_req *r, struct sbuf *b);
int page_conflicts(const struct console_req *r, struct sbuf *b);
int page_diff(const struct console_req *r, struct sbuf *b);
/* The stack ?user=NAME&groups=G,...&machine=M would get at a login, open
 * read only (console_view_close): 0, or an HTTP status with b the message
 * (400: no user; 404: it does not resolve). */
struct console_view;
int console_view_open(const struct console_req *r, struct console_view **out, struct sbuf *b);
void console_view_close(struct console_view *cv);
const char *console_view_user(const struct console_view *cv);
struct lf_union;
struct lf_union *console_view_union(const struct console_view *cv);
struct json_t *console_view_skipped(const struct console_view *cv);
struct json_t *console_view_layers(const struct console_view *cv);
int page_metrics(const struct console_req *r, struct sbuf *b);

/* The stack picture's census memos by layer file (console_memo.c). */
struct memo_store;
struct lf_census_memo;
struct memo_store *memo_store_new(struct daemon *d);
void memo_store_free(struct memo_store *s);
/* For each of u's N layers its memo (NULL: none), by the SHA-256 the
 * view's LAYERS say its file has. */
void memo_store_pick(struct memo_store *s, struct lf_union *u, int n, struct json_t *layers,
		     struct lf_census_memo **out);
/* Save those that learnt something (a failure is logged). */
void memo_store_save(struct memo_store *s, struct lf_census_memo *const *v, int n);

/* --- actions (console_actions.c): a POST to /act/NAME, from an admin
 * whose CSRF token the caller checked: done, logged (layerd's log and the
 * repository's history file) and 303 to the page it came from; or an
 * HTTP status with b the page saying why --- */
int console_act(const struct console_req *r, struct sbuf *b);
/* A form for action NAME (its CSRF token in it) when the caller may act;
 * 0 (nothing written) when she may not. Close it with sb_form_end. */
int sb_form(struct sbuf *b, const struct console_req *r, const char *name, const char *cls);
void sb_form_end(struct sbuf *b);

/* The repository checked in the background, now and every HOURS (0: once);
 * what the last check found, as part of a page. */
struct health *health_start(struct daemon *d, unsigned hours);
void health_stop(struct health *h);
void health_page(struct health *h, struct sbuf *b);

#endif
