/* layerd's socket: one JSON request a connection, one JSON reply. Who
 * asks is known from the socket (SO_PEERCRED, read at accept): only root
 * logs users in, off, or refreshes; a user may ask for its own status. A
 * request that is not well formed gets an error reply; nothing a client
 * sends can stop the daemon or touch another user's session.
 *
 * Requests are read side by side (poll over every open connection) and
 * each is answered by a thread of its own, so a client that says nothing,
 * or many of them, delays nobody: a user has at most USER_CONNS open
 * connections and USER_WAIT to send the request; root has ROOT_WAIT. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/time.h>
#include <unistd.h>

#include "layerd_int.h"
#include "layerfs/lockcheck.h"
#include "layerfs/metrics.h"

#define MAX_REQUEST 65536
#define USER_CONNS 16            /* open connections a user may hold */
#define USER_WAIT 2000           /* ms a user's client has to send its request */
#define ROOT_WAIT 30000
#define MAX_CONNS 1024           /* open connections in all */
#define MAX_WORKERS 64           /* requests answered at once */

static json_t *error_reply(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *handle_request(struct daemon *d, json_t *req, uid_t peer)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	struct lf_err err = {0};
	if (!op)
		return error_reply("a request names its \"op\": login, logoff, refresh or status");
	if (!strcmp(op, "status")) {
		if (peer == 0)
			return session_status(d, json_string_value(json_object_get(req, "user")));
		struct lf_account me;
		return lf_account_get(NULL, peer, &me) ? error_reply("who are you?")
						       : session_status(d, me.name);
	}
	if (peer != 0)
		return error_reply("only root may log users in or off, or refresh");
	if (!strcmp(op, "refresh")) {
		json_t *reply = NULL;
		if (session_refresh(d, json_is_true(json_object_get(req, "at_logoff")), &reply, &err))
			return error_reply(err.msg);
		return reply;
	}
	const char *user = json_string_value(json_object_get(req, "user"));
	if (!user)
		return error_reply("\"user\" (a string) is missing");
	if (!strcmp(op, "logoff")) {
		if (session_logoff(d, user, &err))
			return error_reply(err.msg);
		return json_pack("{s:b, s:s}", "ok", 1, "user", user);
	}
	if (strcmp(op, "login"))
		return error_reply("unknown \"op\" (login, logoff, refresh, status)");
	json_t *g = json_object_get(req, "groups"), *m = json_object_get(req, "machine");
	if ((g && !json_is_array(g)) || (m && !json_is_string(m)))
		return error_reply("\"groups\" is a list of strings, \"machine\" a string");
	const char *groups[256];
	int ng = 0;
	size_t i;
	json_t *v;
	json_array_foreach(g, i, v) {
		if (!json_is_string(v) || ng == 256)
			return error_reply("\"groups\" is a list of at most 256 strings");
		groups[ng++] = json_string_value(v);
	}
	struct login_req lr = { user, groups, ng, m ? json_string_value(m) : NULL };
	json_t *reply = NULL;
	uint64_t t0 = lf_now_ns();
	int failed = session_login(d, &lr, &reply, &err);
	struct lf_metrics *mt = lf_metrics();
	mt->logins++;
	lf_histogram_observe(&mt->login, lf_now_ns() - t0);
	if (failed) {
		mt->login_failures++;
		d->log("login %s failed: %s", user, err.msg);
		return error_reply(err.msg);
	}
	return reply;
}

/* A connection being read. */
struct conn {
	int fd;
	uid_t uid;
	int64_t deadline;        /* ms, CLOCK_MONOTONIC */
	char *buf;
	size_t got;
};

struct job {
	struct daemon *d;
	int fd;
	uid_t uid;
	char *buf;
	size_t got;
};

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_done = PTHREAD_COND_INITIALIZER;
static int jobs;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_reply(struct daemon *d, int fd, json_t *reply)
{
	char *dump = json_dumps(reply, JSON_COMPACT);
	size_t len = dump ? strlen(dump) : 0;
	char *text = dump ? malloc(len + 2) : NULL;
	if (text) {
		memcpy(text, dump, len);
		text[len++] = '\n';
		size_t done = 0;
		/* blocking, with a bound: a client that does not read its
		 * reply holds only this thread, for a while */
		struct timeval tv = { 5, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		while (done < len) {
			/* MSG_NOSIGNAL: a client gone away must not kill the daemon */
			ssize_t n = send(fd, text + done, len - done, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			done += (size_t)n;
		}
		if (done < len)
			d->log("a client went away before its reply");
	}
	free(dump);
	free(text);
}

static json_t *answer(struct daemon *d, const char *buf, size_t got, uid_t uid)
{
	json_error_t je;
	json_t *req = json_loadb(buf, got, JSON_DISABLE_EOF_CHECK, &je);
	json_t *reply;
	if (!req || !json_is_object(req)) {
		char msg[300];
		snprintf(msg, sizeof msg, "the request is not a JSON object: %s",
			 req ? "another JSON value" : je.text);
		reply = error_reply(msg);
	} else {
		reply = handle_request(d, req, uid);
	}
	json_decref(req);
	return reply;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	json_t *reply = answer(j->d, j->buf, j->got, j->uid);
	send_reply(j->d, j->fd, reply);
	json_decref(reply);
	close(j->fd);
	free(j->buf);
	free(j);
	lf_mutex_lock(&jobs_lock, LF_LK_LEAF);
	if (--jobs == 0)
		pthread_cond_broadcast(&jobs_done);
	lf_mutex_unlock(&jobs_lock);
	return NULL;
}

/* The request of c is in: answered by a thread (c's fd and buffer go
 * with it), or at once with an error when too many are being answered. */
static void dispatch(struct daemon *d, struct conn *c)
{
	struct job *j = malloc(sizeof *j);
	lf_mutex_lock(&jobs_lock, LF_LK_LEAF);
	int room = jobs < MAX_WORKERS;
	if (room && j)
		jobs++;
	lf_mutex_unlock(&jobs_lock);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (room && j) {
		*j = (struct job){ d, c->fd, c->uid, c->buf, c->got };
		if (pthread_create(&t, &at, worker, j) == 0) {
			pthread_attr_destroy(&at);
			return;
		}
		lf_mutex_lock(&jobs_lock, LF_LK_LEAF);
		jobs--;
		lf_mutex_unlock(&jobs_lock);
	}
	pthread_attr_destroy(&at);
	free(j);
	json_t *reply = error_reply("busy: too many requests at once; try again");
	send_reply(d, c->fd, reply);
	json_decref(reply);
	close(c->fd);
	free(c->buf);
}

/* Read what c's client sent; 1 when the request is complete. */
static int read_some(struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->got, MAX_REQUEST - c->got);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : 1;
		if (n == 0)
			return 1;            /* the client closed its side */
		c->got += (size_t)n;
		if (memchr(c->buf + c->got - n, '\n', (size_t)n) || c->got == MAX_REQUEST)
			return 1;
	}
}

static void drop_conn(struct conn *v, int *n, int i)
{
	close(v[i].fd);
	free(v[i].buf);
	v[i] = v[--*n];
}

static void accept_one(struct daemon *d, int listen_fd, struct conn *v, int *n)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t cl = sizeof cred;
	int mine = 0;
	const char *why = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
		why = "cannot tell who is asking";
	for (int i = 0; !why && i < *n; i++)
		mine += v[i].uid == cred.uid;
	if (!why && cred.uid != 0 && mine >= USER_CONNS)
		why = "too many open connections of yours";
	if (!why && *n >= MAX_CONNS - 1 && cred.uid != 0)
		why = "too many open connections";
	char *buf = why ? NULL : malloc(MAX_REQUEST + 1);
	if (!why && (!buf || *n >= MAX_CONNS))
		why = "busy";
	if (why) {
		json_t *reply = error_reply(why);
		send_reply(d, fd, reply);
		json_decref(reply);
		close(fd);
		free(buf);
		return;
	}
	v[(*n)++] = (struct conn){ fd, cred.uid, now_ms() + (cred.uid ? USER_WAIT : ROOT_WAIT),
				   buf, 0 };
}

int server_run(struct daemon *d, int listen_fd)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	static struct conn conns[MAX_CONNS];
	static struct pollfd p[MAX_CONNS + 2];
	int n = 0;
	if (sfd < 0)
		return 1;
	d->log("serving; repository %s, machine %s", d->repo, d->machine);
	for (;;) {
		p[0] = (struct pollfd){ listen_fd, POLLIN, 0 };
		p[1] = (struct pollfd){ sfd, POLLIN, 0 };
		int64_t now = now_ms(), wait = -1;
		for (int i = 0; i < n; i++) {
			p[i + 2] = (struct pollfd){ conns[i].fd, POLLIN, 0 };
			int64_t left = conns[i].deadline - now;
			if (wait < 0 || left < wait)
				wait = left < 0 ? 0 : left;
		}
		if (poll(p, (nfds_t)n + 2, (int)wait) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si)
				d->log("signal %u: logging everyone off", si.ssi_signo);
			break;
		}
		now = now_ms();
		/* from the end: drop_conn moves the last one into place i */
		for (int i = n - 1; i >= 0; i--) {
			if (p[i + 2].revents && read_some(&conns[i])) {
				dispatch(d, &conns[i]);
				conns[i] = conns[--n];
			} else if (conns[i].deadline <= now) {
				drop_conn(conns, &n, i);  /* said nothing in time */
			}
		}
		if (p[0].revents & POLLIN)
			accept_one(d, listen_fd, conns, &n);
	}
	while (n > 0)
		drop_conn(conns, &n, n - 1);
	/* requests being answered finish first */
	lf_mutex_lock(&jobs_lock, LF_LK_LEAF);
	while (jobs > 0)
		pthread_cond_wait(&jobs_done, &jobs_lock);
	lf_mutex_unlock(&jobs_lock);
	close(sfd);
	session_logoff_all(d);
	return 0;
}

int server_listen_unix(const char *path, struct lf_err *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (!*path || strlen(path) >= sizeof a.sun_path)
		return lf_err_set(err, ENAMETOOLONG, "%s: not a socket path (empty, or too long)",
				  path), -1;
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);            /* a stale socket from a crash */
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0) {
		lf_err_set(err, errno, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	chmod(path, 0666);
	return fd;
}
