/* layerd: compose each user's desktop from the layer repository at login
 * and serve it until logoff. Runs in the foreground (systemd: Type=simple,
 * or socket activation with layerd.socket). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layerd_int.h"
#include "console.h"
#include "layerfs/heap.h"
#include "layerfs/oci.h"
#include "layerfs/background.h"

#define DEFAULT_RUN "/run/layerd"
#define DEFAULT_SOCKET "/run/layerd/layerd.sock"

static const char *repo_users(const char *repo, char *out, size_t size)
{
	snprintf(out, size, "%s/Users", repo);
	return out;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: layerd --repo REPO [--socket PATH] [--run DIR] [--machine NAME]\n"
		"              [--admin-group GROUP]\n"
		"       layerd --registry HOST[:PORT]/NAME[:TAG] [--repo DIR] [--cache DIR]\n"
		"              [--prefetch] [OPTIONS]\n"
		"\n"
		"Compose each user's Windows desktop from the layer repository REPO at\n"
		"login, and serve it until logoff. One process serves every session: a\n"
		"layer many users have is opened once.\n"
		"\n"
		"At login (layerctl login USER [--groups G,...]) layerd resolves the\n"
		"user's stack as 'layerctl repo resolve' shows it, makes the user's\n"
		"personalization layer REPO/Users/USER/IDHEX_OSNAME on first login, and\n"
		"mounts the drive at RUN/USER/C and the registry at RUN/USER/REG. Both\n"
		"belong to the user; RUN/USER is closed to everyone else. An app layer\n"
		"that cannot be had is left out and said so; a missing OS or platform\n"
		"layer fails the login. Logoff (layerctl logoff USER) unmounts and keeps\n"
		"the personalization layer.\n"
		"\n"
		"Options:\n"
		"  --repo REPO       the layer repository (docs/REPOSITORY.md); with\n"
		"                    --registry, the folder of the personalization layers\n"
		"                    alone (REPO/Users; default /var/lib/layerfs)\n"
		"  --registry REF    take the control files and layers from an OCI\n"
		"                    registry: REF's control artifact (tag 'control'\n"
		"                    unless given), pushed by 'layerctl push REPO all',\n"
		"                    read afresh at each login and refresh; layers are\n"
		"                    fetched a chunk at a time as sessions read them\n"
		"                    (docs/REGISTRY.md)\n"
		"  --cache DIR       the host's chunk cache (default /var/cache/layerfs)\n"
		"  --cache-size SIZE its bound (default 10G)\n"
		"  --prefetch        fetch the rest of each layer in the background once\n"
		"                    it is opened\n"
		"  --registry-auth FILE, --registry-ca FILE  credentials (auth.json) and\n"
		"                    the CA for the registry's TLS certificate\n"
		"  --socket PATH     where layerctl reaches layerd (default %s);\n"
		"                    with systemd socket activation, the socket given\n"
		"  --run DIR         where sessions are mounted (default %s)\n"
		"  --machine NAME    this host's name for machine assignments (default:\n"
		"                    the host name)\n"
		"  --http unix:PATH|ADDR:PORT  serve the web console (docs/CONSOLE.md).\n"
		"                    Root and the members of --http-admins (default\n"
		"                    layerfs-admins) read and act, those of\n"
		"                    --http-viewers (default layerfs-viewers) read. On a\n"
		"                    unix socket the caller's account decides; on TCP\n"
		"                    she signs in at /login (PAM service layerd; a\n"
		"                    sign-in ends --http-idle MINUTES unused, default\n"
		"                    15; or 90s, 2h) or a script sends the first line of\n"
		"                    --http-token FILE (root's, mode 600) as a bearer\n"
		"                    token. A TCP listener off loopback needs TLS:\n"
		"                    --http-cert FILE and --http-key FILE (PEM).\n"
		"                    /metrics (Prometheus) needs no sign-in: it goes to\n"
		"                    the addresses --metrics-allow lists (default\n"
		"                    127.0.0.0/8,::1); --metrics-names adds user names.\n"
		"                    Up to 4 --http. /health shows the last fsck, run\n"
		"                    at start and every --fsck-every HOURS (default 24;\n"
		"                    0: at start only), at the lowest priority. Each\n"
		"                    action is logged here and in REPO/History.txt.\n"
		"  --admin-group GROUP  members of GROUP (a Unix group, or one given at\n"
		"                    login) are administrators: their token holds\n"
		"                    BUILTIN\\Administrators (default: nobody)\n"
		"  -h, --help        this help\n"
		"  -V, --version     the version\n"
		"\n"
		"SIGTERM or SIGINT logs every user off and stops. Messages go to stderr\n"
		"(the journal under systemd).\n"
		"Exit status: 0 after a clean stop, 1 on failure, 2 on a usage error.\n",
		DEFAULT_SOCKET, DEFAULT_RUN);
}

static void log_line(const char *fmt, ...)
{
	/* one line in one write: requests are answered by several threads */
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	fprintf(stderr, "layerd: %.*s", n, line);
}

/* The listening socket: systemd's (*ours 0: systemd removes it), or a new
 * one at path (*ours 1: removed when the daemon stops). */
static int listen_on(const char *path, int *ours)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	*ours = 0;
	if (fds && pid && atoi(fds) == 1 && atoi(pid) == getpid())
		return 3;
	*ours = 1;
	struct lf_err err = {0};
	int fd = server_listen_unix(path, &err);
	if (fd < 0)
		log_line("%s", err.msg);
	return fd;
}

int main(int argc, char **argv)
{
	lf_heap_setup();
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, 'r' }, { "socket", required_argument, NULL, 's' },
		{ "run", required_argument, NULL, 'R' }, { "machine", required_argument, NULL, 'm' },
		{ "admin-group", required_argument, NULL, 'a' },
		{ "registry", required_argument, NULL, 'g' }, { "cache", required_argument, NULL, 'C' },
		{ "cache-size", required_argument, NULL, 'Z' }, { "prefetch", no_argument, NULL, 'F' },
		{ "registry-auth", required_argument, NULL, 'A' },
		{ "registry-ca", required_argument, NULL, 'T' },
		{ "http", required_argument, NULL, 'H' },
		{ "http-viewers", required_argument, NULL, 'W' },
		{ "http-admins", required_argument, NULL, 'D' },
		{ "metrics-allow", required_argument, NULL, 'M' },
		{ "metrics-names", no_argument, NULL, 'N' },
		{ "fsck-every", required_argument, NULL, 'K' },
		{ "http-token", required_argument, NULL, 'k' },
		{ "http-cert", required_argument, NULL, 'c' },
		{ "http-key", required_argument, NULL, 'y' },
		{ "http-idle", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' }, { 0 },
	};
	struct console_opts co = { .fsck_hours = 24 };
	const char *repo = NULL, *sock = DEFAULT_SOCKET, *run = DEFAULT_RUN, *machine = NULL;
	const char *registry = NULL;
	struct lf_oci_config oci = {0};
	char users[4200];
	const char *admin_group = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 's': sock = optarg; break;
		case 'R': run = optarg; break;
		case 'm': machine = optarg; break;
		case 'a': admin_group = optarg; break;
		case 'g': registry = optarg; break;
		case 'C': oci.cache_dir = optarg; break;
		case 'Z':
			if (lf_parse_size(optarg, &oci.cache_max) || oci.cache_max < (1 << 20)) {
				fprintf(stderr, "layerd: bad --cache-size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'F': oci.prefetch = 1; break;
		case 'A': oci.auth_file = optarg; break;
		case 'T': oci.ca_file = optarg; break;
		case 'H':
			if (co.nlisten == 4) {
				fprintf(stderr, "layerd: at most 4 --http listeners\n");
				return 2;
			}
			co.listen[co.nlisten++] = optarg;
			break;
		case 'W': co.viewers = optarg; break;
		case 'D': co.admins = optarg; break;
		case 'M': co.metrics_allow = optarg; break;
		case 'N': co.metrics_names = 1; break;
		case 'k': co.token_file = optarg; break;
		case 'c': co.cert = optarg; break;
		case 'y': co.key = optarg; break;
		case 'I': {
			/* minutes, or with a unit: 90s, 15m, 2h */
			char *end;
			long v = strtol(optarg, &end, 10);
			long unit = !*end || !strcmp(end, "m") ? 60 : !strcmp(end, "s") ? 1
				    : !strcmp(end, "h") ? 3600 : 0;
			if (!unit || end == optarg || v < 1 || v * unit > 24 * 3600) {
				fprintf(stderr, "layerd: --http-idle is minutes (or 90s, 2h), at "
					"most a day\n");
				return 2;
			}
			co.idle_seconds = (int)(v * unit);
			break;
		}
		case 'K': {
			char *end;
			long h = strtol(optarg, &end, 10);
			if (*end || h < 0 || h > 24 * 365) {
				fprintf(stderr, "layerd: --fsck-every is hours, 0 to 8760\n");
				return 2;
			}
			co.fsck_hours = (int)h;
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf("layerd %s\n", LF_VERSION); return 0;
		default: fprintf(stderr, "Try 'layerd --help'.\n"); return 2;
		}
	}
	if (registry && !repo)
		repo = "/var/lib/layerfs";
	if (!repo || optind != argc) {
		fprintf(stderr, "layerd: %s\nTry 'layerd --help'.\n",
			!repo ? "--repo REPO is needed" : "too many arguments");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "layerd: run as root (it mounts for users and makes their folders)\n");
		return 1;
	}
	char host[256];
	if (!machine) {
		gethostname(host, sizeof host);
		host[sizeof host - 1] = 0;
		machine = host;
	}
	struct lf_repo *r;
	struct lf_err err = {0};
	lf_oci_configure(&oci);
	lf_background_allow();       /* layerd forks only to exec fusermount3 */
	/* with a registry, REPO holds Users/ alone: made as repo init makes it */
	if (registry && (lf_mkdirs(repo, 0755, 0, 0, &err) ||
			 (mkdir(repo_users(repo, users, sizeof users), 0700) < 0 && errno != EEXIST))) {
		fprintf(stderr, "layerd: %s\n", err.msg[0] ? err.msg : strerror(errno));
		return 1;
	}
	struct daemon d = { .run = strdup(run), .machine = strdup(machine),
			    .registry = registry ? strdup(registry) : NULL,
			    .layers = layer_cache_new(), .hives = lf_hive_cache_new(),
			    .log = log_line, .admin_group = admin_group ? strdup(admin_group) : NULL };
	d.repo = realpath(repo, NULL);
	if (!d.repo || daemon_repo_open(&d, &r, &err)) {
		fprintf(stderr, "layerd: %s\n", d.repo ? err.msg : strerror(errno));
		return 1;
	}
	lf_repo_free(r);
	pthread_mutex_init(&d.lock, NULL);
	/* layers keep descriptors; many sessions, many files */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	umask(0);                /* the kernel applies callers' umasks already */
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", sock);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755);
	}
	recover_mounts(&d, NULL);
	int ours;
	int fd = listen_on(sock, &ours);
	struct console *console = NULL;
	if (fd >= 0 && co.nlisten && console_start(&d, &co, &console, &err)) {
		log_line("%s", err.msg);
		close(fd);
		fd = -1;
	}
	int status = fd < 0 ? 1 : server_run(&d, fd);
	console_stop(console);
	/* a new socket may well be fd 3 too: whose it is decides */
	if (fd >= 0 && ours)
		unlink(sock);
	if (fd >= 0)
		close(fd);
	layer_cache_free(d.layers);
	lf_hive_cache_free(d.hives);
	pthread_mutex_destroy(&d.lock);
	free(d.repo);
	free(d.registry);
	free(d.run);
	free(d.machine);
	free(d.admin_group);
	return status;
}
