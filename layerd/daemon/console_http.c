/* The console's HTTP side: listeners, who asks, which page. libmicrohttpd
 * serves; its own threads call handle(). A unix socket's peer is known
 * from SO_PEERCRED: root, or a member of the viewer or admin group, may
 * read every page. A TCP connection carries no identity: only /metrics
 * is served there, to the addresses --metrics-allow lists; a TCP
 * listener must be on loopback (one elsewhere would need TLS). */
#include <arpa/inet.h>
#include <errno.h>
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
};

struct console {
	struct daemon *d;
	struct health *health;
	struct console_opts o;
	struct listener l[4];
	int n;
	struct allow allow[MAX_ALLOW];
	int nallow;
};

enum role { NOBODY, VIEWER, ADMIN };

/* What the account uid may do: root and the admin group act, the viewer
 * group reads. */
static enum role role_of(const struct console *c, uid_t uid)
{
	if (uid == 0)
		return ADMIN;
	char buf[16384];
	struct passwd pw, *p = NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &p) || !p)
		return NOBODY;
	gid_t groups[256];
	int n = 256;
	if (getgrouplist(p->pw_name, p->pw_gid, groups, &n) < 0)
		n = 0;
	enum role r = NOBODY;
	const char *names[2] = { c->o.admins, c->o.viewers };
	for (int k = 0; k < 2; k++) {
		char gb[16384];
		struct group g, *gp = NULL;
		if (getgrnam_r(names[k], &g, gb, sizeof gb, &gp) || !gp)
			continue;
		for (int i = 0; i < n; i++)
			if (groups[i] == gp->gr_gid && r == NOBODY)
				r = k == 0 ? ADMIN : VIEWER;
	}
	return r;
}

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

static enum MHD_Result answer(struct MHD_Connection *conn, int status, struct sbuf *b,
			      const char *type)
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
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; style-src 'self' 'unsafe-inline'");
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ok;
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

static const char *query_arg(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	(void)version;
	(void)upload;
	(void)con_cls;
	struct listener *l = cls;
	struct console *c = l->c;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return *upload_size = 0, plain(conn, 405, "%s: only GET and HEAD are served", method);
	size_t k = 0;
	while (k < sizeof pages / sizeof *pages && strcmp(url, pages[k].path))
		k++;
	if (k == sizeof pages / sizeof *pages)
		return plain(conn, 404, "%s: no such page", url);
	int metrics = pages[k].page == page_metrics;
	if (l->unix_path) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct ucred cr;
		socklen_t len = sizeof cr;
		if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
			return plain(conn, 500, "who asks cannot be told");
		if (role_of(c, cr.uid) == NOBODY)
			return plain(conn, 403, "uid %u is neither root nor in group %s or %s",
				     (unsigned)cr.uid, c->o.viewers, c->o.admins);
	} else {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (!metrics)
			return plain(conn, 401, "over TCP only /metrics is served: read the pages "
				     "through layerd's unix socket (--http unix:PATH)");
		if (!ci || !allowed(c, ci->client_addr))
			return plain(conn, 403, "/metrics: this address is not in --metrics-allow");
	}
	struct console_req rq = { c->d, c->health, &c->o, url, query_arg, conn };
	struct sbuf b = {0};
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
static int listen_socket(const char *spec, char **unix_path, struct lf_err *err)
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
			return lf_err_set(err, EINVAL, "--http %s: bad address (a numeric "
					  "address: the listener must be on loopback)", spec);
		loop = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
		sl = sizeof *a4;
	}
	if (!loop)
		return lf_err_set(err, EINVAL, "--http %s: not a loopback address; a listener others "
				  "reach needs TLS, which the console does not serve yet", spec);
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
	/* the server's threads take no signal (they inherit this mask): a
	 * SIGTERM is layerd's main loop's, read from its signalfd, and would
	 * otherwise end the process in whichever thread it found */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; !rc && i < o->nlisten; i++) {
		struct listener *l = &c->l[c->n];
		l->c = c;
		l->fd = listen_socket(o->listen[i], &l->unix_path, err);
		if (l->fd < 0) {
			rc = -1;
			break;
		}
		c->n++;
		l->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
					  NULL, NULL, handle, l, MHD_OPTION_LISTEN_SOCKET, l->fd,
					  MHD_OPTION_THREAD_POOL_SIZE, 2u,
					  MHD_OPTION_CONNECTION_TIMEOUT, 30u,
					  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, c, MHD_OPTION_END);
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
	free(c);
}
