/* layerctl login|logoff|refresh|status: ask layerd over its socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#define DEFAULT_SOCKET "/run/layerd/layerd.sock"

static void session_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl login [--json] USER [--groups G,...] [--machine NAME]\n"
		"       layerctl logoff [--json] USER\n"
		"       layerctl refresh [--json] [--at-logoff]\n"
		"       layerctl status [--json] [USER]\n"
		"\n"
		"Talk to layerd (the socket: --socket PATH, or $LAYERD_SOCKET, or\n"
		"%s).\n"
		"\n"
		"  login    compose USER's desktop from the repository and mount it at\n"
		"           RUN/USER/C (the drive) and RUN/USER/REG (the registry);\n"
		"           the reply names the layers and any app layer left out.\n"
		"           Her assignment groups are her Unix groups (as the host's\n"
		"           NSS knows them) and those --groups adds. A first login\n"
		"           copies C:\\Users\\Default to her profile.\n"
		"  logoff   unmount USER's desktop; the personalization layer stays.\n"
		"  refresh  read the control files again and add or remove app layers\n"
		"           in running sessions, in place. What a running program holds\n"
		"           of a layer taken out (an open file, a folder it is in) stays\n"
		"           readable until it lets go or the user logs off (status:\n"
		"           detached). --at-logoff: change nothing now; each session\n"
		"           gets the new layers at its next login (status: pending).\n"
		"  status   the sessions (as root: all, or USER's; as a user: the user's\n"
		"           own), with what a refresh left pending, the layers kept\n"
		"           detached, hives shown read-only and what her login did to her\n"
		"           profile's hives (a broken one set aside).\n"
		"\n"
		"Only root may log users in or off, or refresh.\n"
		"Exit status: 0 on success, 1 on failure (layerd's reason on stderr), 2 on a\n"
		"usage error.\n", DEFAULT_SOCKET);
}

/* Send req, wait for the reply (quiet: no message when layerd is not
 * there). */
static json_t *ask_quiet(const char *path, json_t *req, int quiet)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof a.sun_path) {
		cli_error("%s: too long for a socket path", path);
		return NULL;
	}
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		if (!quiet)
			cli_error("%s: %s (is layerd running?)", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char *text = json_dumps(req, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0;
	int ok = text && send(fd, text, len, MSG_NOSIGNAL) == (ssize_t)len &&
		 send(fd, "\n", 1, MSG_NOSIGNAL) == 1;
	free(text);
	json_error_t je;
	json_t *reply = ok ? json_loadfd(fd, JSON_DISABLE_EOF_CHECK, &je) : NULL;
	close(fd);
	if (!reply)
		cli_error("%s: no reply from layerd", path);
	return reply;
}

static json_t *ask(const char *path, json_t *req)
{
	return ask_quiet(path, req, 0);
}

json_t *cli_layerd_status(void)
{
	const char *sock = getenv("LAYERD_SOCKET") ? getenv("LAYERD_SOCKET") : DEFAULT_SOCKET;
	json_t *req = json_pack("{s:s}", "op", "status");
	json_t *reply = req ? ask_quiet(sock, req, 1) : NULL;
	json_decref(req);
	return reply;
}

/* "PREFIX a, b" for a non-empty list of strings. */
static void print_names(const char *prefix, json_t *list)
{
	if (!json_array_size(list))
		return;
	size_t i;
	json_t *v;
	printf("%s", prefix);
	json_array_foreach(list, i, v)
		printf("%s%s", i ? ", " : "", json_string_value(v));
	printf("\n");
}

int cmd_session(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "groups", required_argument, NULL, 'g' }, { "machine", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
		{ "at-logoff", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *op = argv[0], *groups = NULL, *machine = NULL;
	int at_logoff = 0;
	const char *sock = getenv("LAYERD_SOCKET") ? getenv("LAYERD_SOCKET") : DEFAULT_SOCKET;
	int json = 0, c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'g': groups = optarg; break;
		case 'm': machine = optarg; break;
		case 's': sock = optarg; break;
		case 'j': json = 1; break;
		case 'a': at_logoff = 1; break;
		case 'h': session_usage(stdout); return EXIT_OK;
		default: return cli_bad_option(op);
		}
	}
	int want_user = !strcmp(op, "login") || !strcmp(op, "logoff");
	int may_user = !strcmp(op, "status");     /* status USER: hers alone */
	if (argc - optind != want_user && !(may_user && argc - optind == 1))
		return cli_usage_error(op, want_user ? "name one USER" : may_user ?
				       "takes at most one USER" : "takes no arguments");
	want_user |= may_user && argc - optind == 1;
	if ((groups || machine) && strcmp(op, "login"))
		return cli_usage_error(op, "--groups and --machine go with login");
	if (at_logoff && strcmp(op, "refresh"))
		return cli_usage_error(op, "--at-logoff goes with refresh");
	json_t *req = json_pack("{s:s}", "op", op);
	if (at_logoff)
		json_object_set_new(req, "at_logoff", json_true());
	if (want_user)
		json_object_set_new(req, "user", json_string(argv[optind]));
	if (groups) {
		struct cli_who who = {0};
		cli_who_groups(&who, groups);
		json_t *g = json_array();
		for (int i = 0; i < who.ngroups; i++)
			json_array_append_new(g, json_string(who.groups[i]));
		cli_who_free(&who);
		json_object_set_new(req, "groups", g);
	}
	if (machine)
		json_object_set_new(req, "machine", json_string(machine));
	json_t *reply = ask(sock, req);
	json_decref(req);
	if (!reply)
		return EXIT_FAIL;
	int ok = json_is_true(json_object_get(reply, "ok"));
	if (!ok)
		cli_error("%s", json_string_value(json_object_get(reply, "error")) ? json_string_value(json_object_get(reply, "error")) : "layerd said no");
	else if (json)
		cli_print_json(json_incref(reply));
	else if (!strcmp(op, "login")) {
		printf("%s: drive at %s", json_string_value(json_object_get(reply, "user")),
		       json_string_value(json_object_get(reply, "drive")));
		const char *reg = json_string_value(json_object_get(reply, "registry"));
		printf("%s%s\n", reg ? ", registry at " : "", reg ? reg : "");
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(reply, "layers"), i, v)
			printf("  %-8s %s (%lld rev %lld)\n", json_string_value(json_object_get(v, "type")),
			       json_string_value(json_object_get(v, "name")),
			       json_integer_value(json_object_get(v, "id")),
			       json_integer_value(json_object_get(v, "revision")));
		json_array_foreach(json_object_get(reply, "left_out"), i, v)
			printf("  left out: %s\n", json_string_value(json_object_get(v, "why")));
	} else if (!strcmp(op, "status")) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(reply, "sessions"), i, v) {
			size_t nl = json_array_size(json_object_get(v, "layers"));
			printf("%s (as machine %s): drive at %s, %zu layer%s\n",
			       json_string_value(json_object_get(v, "user")),
			       json_string_value(json_object_get(v, "machine")),
			       json_string_value(json_object_get(v, "drive")), nl, nl == 1 ? "" : "s");
			size_t k;
			json_t *ro;
			if (json_string_value(json_object_get(v, "profile")))
				printf("  profile: %s\n", json_string_value(json_object_get(v, "profile")));
			json_array_foreach(json_object_get(v, "read_only_hives"), k, ro)
				printf("  read-only: %s: %s\n",
				       json_string_value(json_object_get(ro, "hive")),
				       json_string_value(json_object_get(ro, "why")));
			print_names("  at the next login, added: ",
				    json_object_get(json_object_get(v, "pending"), "added"));
			print_names("  at the next login, removed: ",
				    json_object_get(json_object_get(v, "pending"), "removed"));
			print_names("  kept open until logoff (taken out, still in use): ",
				    json_object_get(v, "detached"));
		}
		size_t ns = json_array_size(json_object_get(reply, "sessions"));
		long long no = json_integer_value(json_object_get(reply, "open_layers"));
		printf("%zu session%s, %lld layer file%s open\n", ns, ns == 1 ? "" : "s", no,
		       no == 1 ? "" : "s");
	} else if (!strcmp(op, "logoff")) {
		printf("%s: logged off\n", json_string_value(json_object_get(reply, "user")));
	} else {             /* refresh */
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(reply, "sessions"), i, v) {
			const char *e = json_string_value(json_object_get(v, "error"));
			printf("%s: ", json_string_value(json_object_get(v, "user")));
			if (e)
				printf("unchanged: %s\n", e);
			else if (json_object_get(v, "pending"))
				printf("%zu layers added, %zu removed at the next login\n",
				       json_array_size(json_object_get(json_object_get(v, "pending"), "added")),
				       json_array_size(json_object_get(json_object_get(v, "pending"), "removed")));
			else if (!json_is_true(json_object_get(v, "changed")))
				printf("unchanged\n");
			else
				printf("%zu layers added, %zu removed\n",
				       json_array_size(json_object_get(v, "added")),
				       json_array_size(json_object_get(v, "removed")));
		}
	}
	json_decref(reply);
	return ok ? EXIT_OK : EXIT_FAIL;
}
