/* layerd's socket: one JSON request a connection, one JSON reply. Who
 * asks is known from the socket (SO_PEERCRED): only root logs users in,
 * off, or refreshes; a user may ask for its own status. A request that is
 * not well formed gets an error reply; nothing a client sends can stop
 * the daemon or touch another user's session. */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "layerd_int.h"

#define MAX_REQUEST 65536

static json_t *error_reply(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *handle(struct daemon *d, json_t *req, uid_t peer)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	struct lf_err err = {0};
	if (!op)
		return error_reply("a request names its \"op\": login, logoff, refresh or status");
	if (!strcmp(op, "status")) {
		if (peer == 0)
			return session_status(d, NULL);
		struct passwd *pw = getpwuid(peer);
		return pw ? session_status(d, pw->pw_name) : error_reply("who are you?");
	}
	if (peer != 0)
		return error_reply("only root may log users in or off, or refresh");
	if (!strcmp(op, "refresh")) {
		json_t *reply = NULL;
		if (session_refresh(d, &reply, &err))
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
	if (session_login(d, &lr, &reply, &err)) {
		d->log("login %s failed: %s", user, err.msg);
		return error_reply(err.msg);
	}
	return reply;
}

static void serve_one(struct daemon *d, int fd)
{
	/* a client that says nothing does not hold the daemon up for long */
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct ucred cred;
	socklen_t cl = sizeof cred;
	json_t *reply;
	char *buf = malloc(MAX_REQUEST + 1);
	size_t got = 0;
	if (!buf || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		reply = error_reply("cannot tell who is asking");
	} else {
		ssize_t n;
		while (got < MAX_REQUEST && (n = read(fd, buf + got, MAX_REQUEST - got)) > 0) {
			got += (size_t)n;
			if (memchr(buf + got - n, '\n', (size_t)n))
				break;
		}
		json_error_t je;
		json_t *req = json_loadb(buf, got, JSON_DISABLE_EOF_CHECK, &je);
		if (!req || !json_is_object(req)) {
			char msg[300];
			snprintf(msg, sizeof msg, "the request is not a JSON object: %s",
				 req ? "another JSON value" : je.text);
			reply = error_reply(msg);
		} else {
			reply = handle(d, req, cred.uid);
		}
		json_decref(req);
	}
	free(buf);
	char *dump = json_dumps(reply, JSON_COMPACT);
	char *text = dump ? malloc(strlen(dump) + 2) : NULL;
	free(text ? NULL : dump);
	if (text) {
		size_t len = (size_t)sprintf(text, "%s\n", dump), done = 0;
		free(dump);
		/* MSG_NOSIGNAL: a client gone away must not kill the daemon */
		while (done < len) {
			ssize_t n = send(fd, text + done, len - done, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			done += (size_t)n;
		}
		if (done < len)
			d->log("a client went away before its reply");
	}
	free(text);
	json_decref(reply);
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
	if (sfd < 0)
		return 1;
	d->log("serving; repository %s, machine %s", d->repo, d->machine);
	for (;;) {
		struct pollfd p[2] = { { listen_fd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
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
		if (p[0].revents & POLLIN) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				serve_one(d, fd);
				close(fd);
			}
		}
	}
	close(sfd);
	session_logoff_all(d);
	return 0;
}
