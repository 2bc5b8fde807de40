/* layerd's web console (docs/CONSOLE.md): the repository and the sessions
 * as pages, and /metrics for monitoring, served by libmicrohttpd beside
 * the control socket. Who asks decides what is served: on a unix socket
 * the peer's account (SO_PEERCRED) must be root or in the viewer (or
 * admin) group; on TCP only /metrics, and only to the addresses allowed. */
#ifndef LAYERD_CONSOLE_H
#define LAYERD_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "layerfs/err.h"

struct daemon;

struct console_opts {
	const char *listen[4];       /* "unix:PATH" or "ADDR:PORT" ("[::1]:PORT") */
	int nlisten;
	const char *viewers;         /* group that may read (default layerfs-viewers) */
	const char *admins;          /* group that may act (default layerfs-admins) */
	const char *metrics_allow;   /* "127.0.0.0/8,::1": who may scrape over TCP */
	int metrics_names;           /* user and layer names in /metrics */
	int fsck_hours;              /* /health's fsck: every this many hours (0: at start) */
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
/* N bytes as people read them: "512 B", "10.0 MiB". */
void sb_size(struct sbuf *b, uint64_t n);
/* S as a URL's query value: unreserved characters as they are, the
 * rest %XX (so nothing in it needs HTML escaping either). */
void sb_url(struct sbuf *b, const char *s);
/* The page's head and its navigation, then its end. */
void sb_page_start(struct sbuf *b, const char *title, const char *here);
void sb_page_end(struct sbuf *b);

/* --- the pages (console_pages.c) and /metrics (console_metrics.c):
 * each fills b, or returns an HTTP status other than 200 with b the
 * message --- */
struct health;
struct console_req {
	struct daemon *d;
	struct health *health;       /* the last fsck (console_health.c) */
	const struct console_opts *o;
	const char *path;
	const char *(*arg)(void *ctx, const char *name);   /* a query argument, or NULL */
	void *ctx;
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
struct lf_union *console_view_union(const struct console_view *cv);
struct json_t *console_view_skipped(const struct console_view *cv);
int page_metrics(const struct console_req *r, struct sbuf *b);

/* The repository checked in the background, now and every HOURS (0: once);
 * what the last check found, as part of a page. */
struct health *health_start(struct daemon *d, unsigned hours);
void health_stop(struct health *h);
void health_page(struct health *h, struct sbuf *b);

#endif
