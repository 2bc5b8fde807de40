/* layerctl reset [--mount MNT] [--json] UPPER PATH... */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/repo.h"
#include "layerfs/safe_path.h"
#include "layerfs/union.h"

static void reset_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl reset [--mount MOUNTPOINT] [--json] UPPER PATH...\n"
		"       layerctl reset --all [--json] UPPER\n"
		"\n"
		"Give a user back the layers' version of PATH: remove the personalization\n"
		"layer's copy of PATH (a changed file, or a folder with everything in it)\n"
		"and its delete token, in any letter case. UPPER is the personalization\n"
		"layer's folder; PATH is from the drive's root (\"Windows/win.ini\").\n"
		"\n"
		"If a layerfs mount is running on UPPER (found in /proc/self/mountinfo,\n"
		"or named with --mount), the reset is made through it, so its caches and\n"
		"the kernel's drop the old version at once; otherwise UPPER is changed\n"
		"directly. Changing UPPER directly under a running mount that was not\n"
		"found (another mount namespace) is not safe: name it with --mount.\n"
		"\n"
		"--all: the whole personalization layer, as a new user's (Citrix's \"reset\n"
		"user layer\"): UPPER is kept beside it as UPPER.reset-YYYYMMDDTHHMMSS and\n"
		"an empty one (same owner and mode) takes its place; her next login starts\n"
		"from the layers and Default's profile. Refused while a session uses it.\n"
		"REG shows a change made beside a running session within a second.\n"
		"\n"
		"Exit status: 0 if every PATH was reset, 1 if one had nothing to reset\n"
		"or failed, 2 on a usage error.\n");
}

/* "\040" and friends in /proc/self/mountinfo. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* The layerfs mount whose writable layer is UPPER, or NULL. */
static char *find_mount(const char *upper)
{
	char *want = realpath(upper, NULL);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192], *found = NULL;
	while (want && f && !found && fgets(line, sizeof line, f)) {
		char *dash = strstr(line, " - ");
		if (!dash || strncmp(dash + 3, "fuse.layerfs ", 13))
			continue;
		char *save, *field = strtok_r(line, " ", &save);
		for (int i = 0; field && i < 4; i++)
			field = strtok_r(NULL, " ", &save);
		if (!field)
			continue;
		unescape(field);
		char have[PATH_MAX];
		ssize_t n = getxattr(field, LF_UPPER_XATTR, have, sizeof have - 1);
		if (n > 0) {
			have[n] = 0;
			if (!strcmp(have, want))
				found = strdup(field);
		}
	}
	if (f)
		fclose(f);
	free(want);
	return found;
}

struct report {
	json_t *removed;
	int json;
	const char *path;
};

static void removed_one(void *ctx, const char *name, uint32_t type)
{
	struct report *r = ctx;
	if (r->json)
		json_array_append_new(r->removed, json_pack("{s:s, s:s}", "name", name,
							    "type", cli_type_name(type)));
	else
		printf("%s: removed %s '%s'\n", r->path,
		       !strncmp(name, LF_WHITEOUT_PREFIX, strlen(LF_WHITEOUT_PREFIX))
		       ? "delete token" : cli_type_name(type), name);
}

/* The whole personalization layer UPPER set aside, an empty one in its
 * place: through its parent's fd, never a link followed. */
static int reset_all(const char *upper, int json)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", upper);
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = 0;
	char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (slash == path)
		snprintf(parent, sizeof parent, "/");
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = pfd < 0 ? -1 : lf_safe_open(pfd, name, O_RDONLY | O_DIRECTORY, 0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		cli_error("%s: %s", upper, fd == -ELOOP ? "a symlink: refused" :
			  strerror(fd < -1 ? -fd : errno));
		if (pfd >= 0)
			close(pfd);
		return EXIT_FAIL;
	}
	/* a running session holds its lock, and its mount shows UPPER */
	int lock = lf_safe_open(fd, LF_SESSION_LOCK, O_RDONLY, 0);
	char *mount = find_mount(upper);
	int busy = mount || (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0);
	if (busy) {
		cli_error("%s: in use by a running session%s%s: log her off first", upper,
			  mount ? " mounted at " : "", mount ? mount : "");
		free(mount);
		if (lock >= 0)
			close(lock);
		close(fd);
		close(pfd);
		return EXIT_FAIL;
	}
	char when[32], aside[NAME_MAX + 1];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y%m%dT%H%M%S", gmtime_r(&now, &tm));
	snprintf(aside, sizeof aside, "%.200s.reset-%s", name, when);
	int rc = renameat(pfd, name, pfd, aside) < 0 ? -errno : 0;
	if (!rc && mkdirat(pfd, name, st.st_mode & 07777) < 0)
		rc = -errno;
	int nfd = rc ? -1 : lf_safe_open(pfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (!rc && (nfd < 0 || fchown(nfd, st.st_uid, st.st_gid) < 0 ||
		    fchmod(nfd, st.st_mode & 07777) < 0))
		rc = nfd < 0 ? nfd : -errno;
	if (lock >= 0)
		close(lock);           /* held until the layer was set aside */
	if (nfd >= 0)
		close(nfd);
	close(fd);
	close(pfd);
	if (rc) {
		cli_error("%s: %s", upper, strerror(-rc));
		return EXIT_FAIL;
	}
	if (json)
		cli_print_json(json_pack("{s:s, s:s}", "reset", upper, "kept_as", aside));
	else
		printf("%s: reset to an empty personalization layer; what it held is kept as %s/%s\n",
		       upper, parent, aside);
	return EXIT_OK;
}

int cmd_reset(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mnt = NULL;
	int json = 0, all = 0, c;
	while ((c = cli_getopt(argc, argv, "m:h", opts)) != -1) {
		switch (c) {
		case 'm': mnt = optarg; break;
		case 'j': json = 1; break;
		case 'a': all = 1; break;
		case 'h': reset_usage(stdout); return EXIT_OK;
		default: return cli_bad_option("reset");
		}
	}
	if (all) {
		if (argc - optind != 1 || mnt)
			return cli_usage_error("reset", "--all takes UPPER alone");
		return reset_all(argv[optind], json);
	}
	if (argc - optind < 2)
		return cli_usage_error("reset", "give UPPER and at least one PATH");
	const char *upper = argv[optind];
	struct stat st;
	if (stat(upper, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cli_error("%s: not a folder", upper);
		return EXIT_FAIL;
	}
	char *found = mnt ? strdup(mnt) : find_mount(upper);
	int status = EXIT_OK;
	json_t *out = json ? json_array() : NULL;
	for (int i = optind + 1; i < argc; i++) {
		const char *path = argv[i];
		struct report r = { json ? json_array() : NULL, json, path };
		int rc;
		const char *how = found ? "mount" : "offline";
		if (found) {
			rc = setxattr(found, LF_RESET_XATTR, path, strlen(path), 0) < 0 ? -errno : 0;
			/* the kernel is told from another thread: wait for it, so
			 * what was reset shows as soon as this returns */
			if (!rc)
				(void)getxattr(found, LF_SETTLE_XATTR, NULL, 0);
			if (rc && rc != -ENOENT)
				cli_error("%s: reset through the mount at %s: %s", path, found,
					  strerror(-rc));
			else if (!rc && !json)
				printf("%s: reset through the mount at %s\n", path, found);
			rc = rc == -ENOENT ? 0 : rc ? rc : 1;
		} else {
			struct lf_err err = {0};
			rc = lf_upper_reset(upper, path, removed_one, &r, &err);
			if (rc < 0)
				cli_error("%s", err.msg);
		}
		if (rc == 0 && !json)
			printf("%s: nothing to reset (no copy or delete token in %s)\n", path, upper);
		if (rc <= 0)
			status = EXIT_FAIL;
		if (json)
			json_array_append_new(out, json_pack("{s:s, s:s, s:b, s:o}", "path", path,
							     "via", how, "reset", rc > 0,
							     "removed", r.removed));
	}
	if (json)
		cli_print_json(out);
	free(found);
	return status;
}
