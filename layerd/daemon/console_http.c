/* The console's HTTP side: listeners (TLS on TCP with --http-cert), who
 * asks, which page or action. libmicrohttpd serves; its own threads call
 * handle(), which reads a POST's form first. A unix socket's peer is
 * known from SO_PEERCRED. A TCP connection carries no identity: the
 * caller signs in at /login (PAM) and carries the session cookie, or a
 * script sends the --http-token as a bearer token; /metrics alone needs
 * neither, for the addresses --metrics-allow lists. A listener off
 * loopback needs TLS. A POST from a browser carries the form's CSRF token
 * and, when it says, an Origin that is this server's. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "layerd_int.h"
#include "console.h"

#define MAX_ALLOW 16
#define PEM_MAX (1u << 20)

struct allow {
	int family;
	unsigned char addr[16];
	int prefix;
};

struct listener {
	struct console *c;
	struct MHD_Daemon *mhd;
	int fd;
	char *unix_path;             /* removed at stop; NULL for TCP */
	int tls;
};

struct console {
	struct daemon *d;
	struct health *health;
	struct console_auth *auth;
	struct memo_store *memos;
	char *cert, *key;            /* PEM, for MHD */
	struct console_opts o;
	struct listener l[4];
	int n;
	struct allow allow[MAX_ALLOW];
	int nallow;
};

static int allowed(const struct console *c, const struct sockaddr *sa)
{
	const unsigned char *a;
	int family;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		family = AF_INET6;
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	} else {
		return 0;
	}
	for (int i = 0; i < c->nallow; i++) {
		const struct allow *w = &c->allow[i];
		if (w->family != family)
			continue;
		int bits = w->prefix, k = 0;
		for (; bits >= 8 && a[k] == w->addr[k]; bits -= 8)
			k++;
		if (bits <= 0 || (bits < 8 && !((a[k] ^ w->addr[k]) & (0xff << (8 - bits)))))
			return 1;
	}
	return 0;
}

static int parse_allow(struct console *c, const char *list, struct lf_err *err)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (c->nallow == MAX_ALLOW)
			return lf_err_set(err, EINVAL, "--metrics-allow: at most %d entries", MAX_ALLOW);
		struct allow *w = &c->allow[c->nallow];
		char *slash = strchr(t, '/');
		if (slash)
			*slash = 0;
		w->family = strchr(t, ':') ? AF_INET6 : AF_INET;
		int max = w->family == AF_INET ? 32 : 128;
		char *end = NULL;
		w->prefix = slash ? (int)strtol(slash + 1, &end, 10) : max;
		if (inet_pton(w->family, t, w->addr) != 1 || (slash && (*end || end == slash + 1)) ||
		    w->prefix < 0 || w->prefix > max)
			return lf_err_set(err, EINVAL, "--metrics-allow: '%s%s%s' is not an address "
					  "or ADDRESS/PREFIX", t, slash ? "/" : "", slash ? slash + 1 : "");
		c->nallow++;
	}
	return 0;
}

/* A POST's form, read as it comes. */
#define FORM_MAX 16384
#define FORM_FIELDS 16

struct request {
	struct MHD_PostProcessor *pp;
	struct { char name[32]; char *value; size_t len; } f[FORM_FIELDS];
	int nf;
	size_t bytes;
	int bad;                     /* too large, too many fields, a field twice */
};

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *filename, const char *type, const char *enc,
				  const char *data, uint64_t off, size_t size)
{
	(void)kind, (void)filename, (void)type, (void)enc;
	struct request *q = cls;
	int i = 0;
	while (i < q->nf && strcmp(q->f[i].name, key))
		i++;
	if ((i < q->nf && off == 0) || (i == q->nf && (q->nf == FORM_FIELDS || strlen(key) >= 32)) ||
	    (q->bytes += size) > FORM_MAX) {
		q->bad = 1;
		return MHD_NO;
	}
	if (i == q->nf)
		snprintf(q->f[q->nf++].name, sizeof q->f[0].name, "%s", key);
	char *v = realloc(q->f[i].value, q->f[i].len + size + 1);
	if (!v) {
		q->bad = 1;
		return MHD_NO;
	}
	memcpy(v + q->f[i].len, data, size);
	q->f[i].len += size;
	v[q->f[i].len] = 0;
	q->f[i].value = v;
	return MHD_YES;
}

static const char *form_arg(void *ctx, const char *name)
{
	struct request *q = ctx;
	for (int i = 0; i < q->nf; i++)
		if (!strcmp(q->f[i].name, name))
			/* a NUL inside is a field cut short: not this form's */
			return strlen(q->f[i].value) == q->f[i].len ? q->f[i].value : NULL;
	return NULL;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	(void)cls, (void)conn, (void)why;
	struct request *q = *con_cls;
	if (!q)
		return;
	if (q->pp)
		MHD_destroy_post_processor(q->pp);
	for (int i = 0; i < q->nf; i++) {
		if (q->f[i].value)
			explicit_bzero(q->f[i].value, q->f[i].len);   /* a password, maybe */
		free(q->f[i].value);
	}
	free(q);
	*con_cls = NULL;
}

/* Headers an answer may carry beyond the usual. */
struct extra {
	const char *location;        /* a 303's */
	const char *cookie;          /* Set-Cookie */
};

static enum MHD_Result answer_with(struct MHD_Connection *conn, int status, struct sbuf *b,
				   const char *type, const struct extra *x)
{
	if (b->failed || !b->s) {
		free(b->s);
		*b = (struct sbuf){0};
		sb_printf(b, "out of memory\n");
		status = 500;
		type = "text/plain; charset=utf-8";
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->s,
								 MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(b->s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "same-origin");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; style-src 'self' 'unsafe-inline'; "
				"form-action 'self'; frame-ancestors 'none'");
	if (x && x->location)
		MHD_add_response_header(r, "Location", x->location);
	if (x && x->cookie)
		MHD_add_response_header(r, "Set-Cookie", x->cookie);
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result answer(struct MHD_Connection *conn, int status, struct sbuf *b,
			      const char *type)
{
	return answer_with(conn, status, b, type, NULL);
}

static enum MHD_Result plain(struct MHD_Connection *conn, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum MHD_Result plain(struct MHD_Connection *conn, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct sbuf b = {0};
	sb_printf(&b, "%s\n", msg);
	return answer(conn, status, &b, "text/plain; charset=utf-8");
}

static enum MHD_Result see_other(struct MHD_Connection *conn, const char *to, const char *cookie)
{
	struct sbuf b = {0};
	sb_printf(&b, "see %s\n", to);
	struct extra x = { to, cookie };
	return answer_with(conn, 303, &b, "text/plain; charset=utf-8", &x);
}

static const char *query_arg(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static const struct {
	const char *path;
	int (*page)(const struct console_req *, struct sbuf *);
} pages[] = {
	{ "/", page_overview }, { "/layers", page_layers }, { "/assignments", page_assignments },
	{ "/sessions", page_sessions }, { "/health", page_health }, { "/stack", page_stack },
	{ "/conflicts", page_conflicts }, { "/diff", page_diff },
	{ "/metrics", page_metrics },
};

/* A browser's POST says where its page came from: another site's is
 * refused (with the CSRF token, which such a page cannot read, and the
 * SameSite cookie, a third wall). A script sends neither header. */
static int same_origin(struct MHD_Connection *conn)
{
	const char *site = header(conn, "Sec-Fetch-Site");
	if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
		return 0;
	const char *origin = header(conn, "Origin"), *host = header(conn, "Host");
	if (!origin)
		return 1;
	const char *p = strstr(origin, "://");
	return p && host && !strcasecmp(p + 3, host);
}

static void client_address(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, size, "?");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)size);
}

/* The sign-in page, and what it does with its form. */
static enum MHD_Result sign_in(struct listener *l, struct MHD_Connection *conn, int post,
			       struct request *q, const char *from)
{
	struct console *c = l->c;
	int status = 200;
	char why[512] = "";
	if (post) {
		const char *user = form_arg(q, "user"), *password = form_arg(q, "password");
		char sid[65];
		if (!same_origin(conn)) {
			status = 403;
			snprintf(why, sizeof why, "a sign-in from another site's page is refused");
		} else if (!user || !*user || !password || strlen(user) > 64 ||
			   strcspn(user, ":/") != strlen(user) || !console_one_line(user, NULL, 0)) {
			status = 400;
			snprintf(why, sizeof why, "a user name and a password, please");
		} else if ((status = auth_sign_in(c->auth, user, password, sid, why, sizeof why))) {
			c->d->log("console: sign-in of %s from %s refused: %s", user, from, why);
		} else {
			c->d->log("console: %s signed in from %s", user, from);
			char cookie[160];
			snprintf(cookie, sizeof cookie, "layerd_session=%s; Path=/; HttpOnly; "
				 "SameSite=Strict%s", sid, l->tls ? "; Secure" : "");
			return see_other(conn, "/", cookie);
		}
	}
	struct sbuf b = {0};
	struct console_caller nobody = { .how = "sign-in" };
	struct console_req rq = { .d = c->d, .o = &c->o, .path = "/login", .who = &nobody };
	sb_page_start(&b, &rq, "Sign in", "/login");
	if (why[0]) {
		sb_printf(&b, "<p class=\"bad\" id=\"why\">");
		sb_html(&b, why);
		sb_printf(&b, "</p>");
	}
	sb_printf(&b, "<form method=\"post\" action=\"/login\" id=\"signin\"><p><label>User "
		  "<input name=\"user\" autocomplete=\"username\" required></label></p><p><label>"
		  "Password <input name=\"password\" type=\"password\" "
		  "autocomplete=\"current-password\" required></label></p><p><button "
		  "type=\"submit\">Sign in</button></p></form>%s\n",
		  l->tls ? "" : "<p>This connection is not encrypted: use it on this machine only.</p>");
	sb_page_end(&b);
	return answer(conn, status, &b, "text/html; charset=utf-8");
}

/* Who asks on a unix socket: her account. 0, or an answer queued. */
static int peer_caller(struct console *c, struct MHD_Connection *conn, struct console_caller *who,
		       char *identity, size_t size, enum MHD_Result *res)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return *res = plain(conn, 500, "who asks cannot be told"), -1;
	who->role = console_role_of(c->o.viewers, c->o.admins, cr.uid);
	if (who->role == ROLE_NOBODY)
		return *res = plain(conn, 403, "uid %u is neither root nor in group %s or %s",
				    (unsigned)cr.uid, c->o.viewers, c->o.admins), -1;
	struct lf_account a;
	if (lf_account_get(NULL, cr.uid, &a))
		snprintf(who->name, sizeof who->name, "uid %u", (unsigned)cr.uid);
	else
		snprintf(who->name, sizeof who->name, "%s", a.name);
	snprintf(who->from, sizeof who->from, "unix socket");
	who->how = "peer";
	snprintf(identity, size, "uid:%u", (unsigned)cr.uid);
	return 0;
}

/* Who asks on TCP: a bearer token, or a sign-in's cookie. 0, or an answer
 * queued (a browser without a sign-in goes to /login). */
static int tcp_caller(struct console *c, struct MHD_Connection *conn, int post,
		      struct console_caller *who, char *identity, size_t size,
		      enum MHD_Result *res)
{
	const char *auth = header(conn, "Authorization");
	if (auth && !strncasecmp(auth, "Bearer ", 7)) {
		if (!auth_bearer_ok(c->auth, auth + 7))
			return *res = plain(conn, 401, "the bearer token is not --http-token's"), -1;
		who->role = ROLE_ADMIN;
		snprintf(who->name, sizeof who->name, "token");
		who->how = "token";
		return 0;
	}
	const char *sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "layerd_session");
	if (!auth_session(c->auth, sid, who)) {
		if (post)
			return *res = plain(conn, 401, "sign in first (/login), or send the "
					    "--http-token as a bearer token"), -1;
		return *res = see_other(conn, "/login", NULL), -1;
	}
	who->how = "sign-in";
	snprintf(identity, size, "sid:%s", who->sid);
	return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	(void)version;
	struct listener *l = cls;
	struct console *c = l->c;
	int post = !strcmp(method, "POST");
	struct request *q = *con_cls;
	if (!q) {                    /* the headers: make room for the form */
		if (!(q = calloc(1, sizeof *q)))
			return MHD_NO;
		*con_cls = q;
		if (post)
			q->pp = MHD_create_post_processor(conn, 4096, form_field, q);
		return MHD_YES;
	}
	if (*upload_size) {
		if ((q->bytes += q->pp ? 0 : *upload_size) > FORM_MAX ||
		    (q->pp && !q->bad && MHD_post_process(q->pp, upload, *upload_size) != MHD_YES))
			q->bad = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (!post && strcmp(method, "GET") && strcmp(method, "HEAD"))
		return plain(conn, 405, "%s: only GET, HEAD and POST are served", method);
	if (q->bad)
		return plain(conn, 413, "the form is too large, or not one of this console's");
	size_t k = 0;
	while (k < sizeof pages / sizeof *pages && strcmp(url, pages[k].path))
		k++;
	int act = !strncmp(url, "/act/", 5), logout = !strcmp(url, "/logout");
	int login = !strcmp(url, "/login");
	if (k == sizeof pages / sizeof *pages && !act && !logout && !login)
		return plain(conn, 404, "%s: no such page", url);
	if (post != (act || logout || (login && post)))
		return plain(conn, 405, post ? "%s: a page is read with GET" : "%s: an action is "
			     "a POST from its page's form", url);
	int metrics = !act && !logout && !login && pages[k].page == page_metrics;
	struct console_caller who = {0};
	char identity[96] = "";
	char from[64];
	client_address(conn, from, sizeof from);
	enum MHD_Result res;
	if (l->unix_path) {
		if (login)
			return see_other(conn, "/", NULL);   /* the socket says who she is */
		if (peer_caller(c, conn, &who, identity, sizeof identity, &res))
			return res;
	} else if (metrics) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (!ci || !allowed(c, ci->client_addr))
			return plain(conn, 403, "/metrics: this address is not in --metrics-allow");
	} else if (login) {
		return sign_in(l, conn, post, q, from);
	} else {
		if (tcp_caller(c, conn, post, &who, identity, sizeof identity, &res))
			return res;
		snprintf(who.from, sizeof who.from, "%s", from);
	}
	if (identity[0])
		auth_csrf_make(c->auth, identity, &who);
	if (act && who.role != ROLE_ADMIN)
		return plain(conn, 403, "%s may read these pages but not act: not root nor in "
			     "group %s", who.name, c->o.admins);
	if (post && identity[0] &&
	    (!same_origin(conn) || !auth_csrf_ok(c->auth, identity, form_arg(q, "csrf")))) {
		char shown[128];
		console_one_line(url, shown, sizeof shown);   /* another site chose it */
		c->d->log("console: a POST to %s by %s (%s) refused: CSRF token or origin", shown,
			  who.name, who.from);
		return plain(conn, 403, "%s: the form's CSRF token is missing or not this page's, "
			     "or it came from another site: load the page again", url);
	}
	if (logout) {
		if (who.sid[0])
			auth_sign_out(c->auth, who.sid);
		c->d->log("console: %s signed out", who.name);
		return see_other(conn, l->unix_path ? "/" : "/login",
				 "layerd_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
	}
	char location[512] = "/";
	struct console_req rq = { c->d, c->health, c->memos, &c->o, url, query_arg, conn, &who,
				  form_arg, q, location, sizeof location };
	struct sbuf b = {0};
	if (act) {
		int status = console_act(&rq, &b);
		if (status == 303) {
			free(b.s);
			return see_other(conn, location, NULL);
		}
		return answer(conn, status, &b, "text/html; charset=utf-8");
	}
	int status = pages[k].page(&rq, &b);
	return answer(conn, status, &b, metrics ? "text/plain; version=0.0.4; charset=utf-8"
				  : status == 200 ? "text/html; charset=utf-8"
				  : "text/plain; charset=utf-8");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct console *c = cls;
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	c->d->log("console: %s", msg);
}

/* The socket for "unix:PATH" or "ADDR:PORT" (a loopback address). */
static int listen_socket(const char *spec, int tls, char **unix_path, struct lf_err *err)
{
	*unix_path = NULL;
	if (!strncmp(spec, "unix:", 5)) {
		int fd = server_listen_unix(spec + 5, err);
		if (fd < 0)
			return lf_err_prefix(err, "--http "), -1;
		*unix_path = strdup(spec + 5);
		return fd;
	}
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof host)
		return lf_err_set(err, EINVAL, "--http %s: want unix:PATH or ADDRESS:PORT", spec);
	snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return lf_err_set(err, EINVAL, "--http %s: bad port", spec);
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int loop;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = 0;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return lf_err_set(err, EINVAL, "--http %s: bad address", spec);
		loop = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
		sl = sizeof *a6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return lf_err_set(err, EINVAL, "--http %s: bad address (want a numeric "
					  "one)", spec);
		loop = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
		sl = sizeof *a4;
	}
	if (!loop && !tls)
		return lf_err_set(err, EINVAL, "--http %s: not a loopback address; a listener others "
				  "reach needs TLS (--http-cert and --http-key)", spec);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		lf_err_set(err, errno, "--http %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A PEM file, whole, for MHD (which wants it in memory). */
static int read_pem(const char *path, const char *opt, char **out, struct lf_err *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return lf_err_set(err, errno, "%s %s: %s", opt, path, strerror(errno));
	char *s = malloc(PEM_MAX + 1);
	size_t len = s ? fread(s, 1, PEM_MAX + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!s)
		return lf_err_set(err, ENOMEM, "out of memory");
	if (bad || len > PEM_MAX || (s[len < PEM_MAX ? len : PEM_MAX] = 0, !strstr(s, "-----BEGIN "))) {
		free(s);
		return lf_err_set(err, EINVAL, "%s %s: %s", opt, path,
				  bad ? "cannot be read" : len > PEM_MAX ? "larger than 1 MiB"
				  : "not a PEM file");
	}
	*out = s;
	return 0;
}

int console_start(struct daemon *d, const struct console_opts *o, struct console **out,
		  struct lf_err *err)
{
	struct console *c = calloc(1, sizeof *c);
	if (!c)
		return lf_err_set(err, ENOMEM, "out of memory");
	c->d = d;
	c->o = *o;
	if (!c->o.viewers)
		c->o.viewers = "layerfs-viewers";
	if (!c->o.admins)
		c->o.admins = "layerfs-admins";
	int rc = parse_allow(c, o->metrics_allow ? o->metrics_allow : "127.0.0.0/8,::1", err);
	if (!rc && !o->cert != !o->key)
		rc = lf_err_set(err, EINVAL, "--http-cert and --http-key go together");
	if (!rc && o->cert && !MHD_is_feature_supported(MHD_FEATURE_TLS))
		rc = lf_err_set(err, ENOTSUP, "--http-cert: this libmicrohttpd has no TLS");
	if (!rc && o->cert && (read_pem(o->cert, "--http-cert", &c->cert, err) ||
			       read_pem(o->key, "--http-key", &c->key, err)))
		rc = -1;
	if (!rc)
		rc = auth_start(&c->o, &c->auth, err);
	if (!rc && !(c->memos = memo_store_new(d)))
		rc = lf_err_set(err, ENOMEM, "out of memory");
	/* the server's threads take no signal (they inherit this mask): a
	 * SIGTERM is layerd's main loop's, read from its signalfd, and would
	 * otherwise end the process in whichever thread it found */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; !rc && i < o->nlisten; i++) {
		struct listener *l = &c->l[c->n];
		l->c = c;
		l->tls = c->cert && strncmp(o->listen[i], "unix:", 5);
		l->fd = listen_socket(o->listen[i], l->tls, &l->unix_path, err);
		if (l->fd < 0) {
			rc = -1;
			break;
		}
		c->n++;
		/* a thread a connection: a page that reads a cold stack, or a
		 * sign-in PAM delays, holds up no one else */
		unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				 MHD_USE_ERROR_LOG | (l->tls ? MHD_USE_TLS : 0);
		l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, l,
					  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, c,
					  MHD_OPTION_LISTEN_SOCKET, l->fd,
					  MHD_OPTION_CONNECTION_LIMIT, 64u,
					  MHD_OPTION_CONNECTION_TIMEOUT, 30u,
					  MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
					  l->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, c->cert,
					  MHD_OPTION_HTTPS_MEM_KEY, c->key, MHD_OPTION_END);
		if (!l->mhd)
			rc = lf_err_set(err, EIO, "--http %s: the HTTP server did not start",
					o->listen[i]);
	}
	if (!rc)
		c->health = health_start(d, o->fsck_hours > 0 ? (unsigned)o->fsck_hours : 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		console_stop(c);
		return -1;
	}
	*out = c;
	return 0;
}

void console_stop(struct console *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++) {
		if (c->l[i].mhd)
			MHD_stop_daemon(c->l[i].mhd);   /* closes its listening socket */
		else
			close(c->l[i].fd);
		if (c->l[i].unix_path)
			unlink(c->l[i].unix_path);
		free(c->l[i].unix_path);
	}
	health_stop(c->health);
	auth_stop(c->auth);
	memo_store_free(c->memos);
	free(c->cert);
	if (c->key)
		explicit_bzero(c->key, strlen(c->key));
	free(c->key);
	free(c);
}
