/* The repository on disk: making one, reading it, changing it under a
 * lock with atomic replaces, and paths that may not leave it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "layerfs/oci.h"
#include "layerfs/safe_path.h"
#include "repo_int.h"

void lf_repo_free(struct lf_repo *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nlayers; i++) {
		free(r->layers[i].name);
		free(r->layers[i].file);
	}
	for (size_t i = 0; i < r->nassign; i++) {
		free(r->assign[i].name);
		free(r->assign[i].layers);
	}
	free(r->layers);
	free(r->assign);
	free(r->root);
	free(r->registry);
	free(r);
}

int lf_repo_open(const char *root, struct lf_repo **out, struct lf_err *err)
{
	struct lf_repo *r = calloc(1, sizeof *r);
	if (!r)
		return lf_err_set(err, ENOMEM, "out of memory");
	r->root = realpath(root, NULL);
	int rc = r->root ? 0 : lf_err_set(err, errno, "%s: %s", root, strerror(errno));
	if (!rc)
		rc = repo_read(r->root, r, err);
	if (rc) {
		lf_repo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Write JSON to ROOT/NAME through a temporary: the rename is the only
 * moment the file changes, whoever reads it from wherever. */
char *repo_json_text(json_t *j, size_t *len)
{
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	size_t n = text ? strlen(text) : 0;
	char *line = text ? realloc(text, n + 2) : NULL;
	if (!line) {
		free(text);
		return NULL;
	}
	line[n++] = '\n';
	line[n] = 0;
	*len = n;
	return line;
}

static int replace_file(const char *root, const char *name, json_t *j, struct lf_err *err)
{
	size_t len;
	char *line = repo_json_text(j, &len);
	if (!line)
		return lf_err_set(err, ENOMEM, "%s: out of memory", name);
	/* a new temporary (never through a link), fsynced, renamed, the
	 * folder fsynced: the rename must survive a crash too */
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = dfd < 0 ? -errno : lf_safe_replace(dfd, name, line, len, 0644);
	if (dfd >= 0)
		close(dfd);
	free(line);
	if (rc)
		return lf_err_set(err, -rc, "%s/%s: cannot write it: %s", root, name, strerror(-rc));
	return 0;
}

int lf_repo_save(const struct lf_repo *r, struct lf_err *err)
{
	json_t *l = repo_layers_json(r), *a = repo_assign_json(r);
	int rc = replace_file(r->root, LF_REPO_LAYERS_FILE, l, err);
	if (!rc)
		rc = replace_file(r->root, LF_REPO_ASSIGN_FILE, a, err);
	json_decref(l);
	json_decref(a);
	return rc;
}

int lf_repo_lock(const char *root, int *fd, struct lf_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, LF_REPO_LOCK_FILE);
	*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (*fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		return lf_err_set(err, errno, "%s: changing the repository needs write access to it "
				  "(%s; run as root, or as its owner)", root, strerror(errno));
	if (*fd < 0)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	/* flock on NFS and SMB is a lock the server keeps (Linux maps it to
	 * a byte-range lock there), so writers on other hosts wait too */
	while (flock(*fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(*fd);
		return lf_err_set(err, e, "%s: cannot lock: %s", path, strerror(e));
	}
	return 0;
}

void lf_repo_unlock(int fd)
{
	if (fd >= 0)
		close(fd);   /* drops the lock */
}

int lf_repo_close_layer(int fd, const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	struct stat ds;
	if (fchmod(fd, 0640) < 0)
		return -errno;
	/* its folder's group, as a setgid folder would give it */
	if (geteuid() == 0 && stat(dir, &ds) == 0 && fchown(fd, (uid_t)-1, ds.st_gid) < 0)
		return -errno;
	return 0;
}

int lf_repo_init(const char *root, gid_t group, struct lf_err *err)
{
	static const char *const dirs[] = { "", "/Layers", "/Layers/OS", "/Layers/Platform",
		"/Layers/App", "/Users" };
	char path[4096];
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(path, sizeof path, "%s%s", root, dirs[i]);
		/* Users/ holds personalization layers: root's alone (layerd
		 * serves them to their users through mounts); Layers/ holds
		 * every layer's SAM and SECURITY: root's and the group's */
		int layers = !strncmp(dirs[i], "/Layers", 7);
		mode_t mode = !*dirs[i] ? 0755 : layers ? 0750 : 0700;
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
		if (layers && group != (gid_t)-1 && chown(path, (uid_t)-1, group) < 0)
			return lf_err_set(err, errno, "%s: cannot give it group %u: %s", path,
					  (unsigned)group, strerror(errno));
	}
	snprintf(path, sizeof path, "%s/%s", root, LF_REPO_LAYERS_FILE);
	if (access(path, F_OK) == 0)
		return lf_err_set(err, EEXIST, "%s: a repository is there already", root);
	struct lf_repo r = { .root = realpath(root, NULL) };
	if (!r.root)
		return lf_err_set(err, errno, "%s: %s", root, strerror(errno));
	int fd, rc = lf_repo_lock(r.root, &fd, err);
	if (!rc) {
		rc = lf_repo_save(&r, err);
		lf_repo_unlock(fd);
	}
	free(r.root);
	return rc;
}

int lf_repo_rel_ok(const char *rel, const char **why)
{
	if (!*rel)
		return *why = "empty", 0;
	if (rel[0] == '/')
		return *why = "absolute: a path in a control file is relative to the repository", 0;
	if (strchr(rel, '\\'))
		return *why = "holds '\\': write folders with '/'", 0;
	for (const char *p = rel; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			return *why = "an empty or '.' component", 0;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return *why = "'..' would leave the repository", 0;
		p += n + (e ? 1 : 0);
		if (e && !*p)
			return *why = "ends in '/'", 0;
	}
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
		if (*p < 0x20)
			return *why = "a control character", 0;
	return 1;
}

int lf_repo_path(const struct lf_repo *r, const char *rel, char *out, size_t size,
		 struct lf_err *err)
{
	const char *why;
	if (r->registry && lf_oci_is_uri(rel)) {     /* a registry's layer */
		if ((size_t)snprintf(out, size, "%s", rel) >= size)
			return lf_err_set(err, ENAMETOOLONG, "%s: too long", rel);
		return 0;
	}
	if (!lf_repo_rel_ok(rel, &why))
		return lf_err_set(err, EINVAL, "%s: \"%s\": %s", r->root, rel, why);
	if ((size_t)snprintf(out, size, "%s/%s", r->root, rel) >= size)
		return lf_err_set(err, ENAMETOOLONG, "%s/%s: too long", r->root, rel);
	/* Follow symlinks as far as the path exists: what exists must stay
	 * inside. (A missing tail cannot lead anywhere yet.) */
	char probe[PATH_MAX];
	snprintf(probe, sizeof probe, "%s", out);
	char *real = NULL;
	while (!(real = realpath(probe, NULL))) {
		char *slash = strrchr(probe, '/');
		if (errno != ENOENT || !slash || slash == probe)
			return lf_err_set(err, errno, "%s: %s", out, strerror(errno));
		*slash = 0;
	}
	size_t rl = strlen(r->root);
	int inside = !strncmp(real, r->root, rl) && (real[rl] == '/' || real[rl] == 0);
	free(real);
	if (!inside)
		return lf_err_set(err, EXDEV, "%s: \"%s\" leads out of the repository (a symlink)",
				  r->root, rel);
	return 0;
}

const struct lf_repo_layer *lf_repo_find(const struct lf_repo *r, uint32_t id, uint32_t revision)
{
	const struct lf_repo_layer *best = NULL;
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct lf_repo_layer *l = &r->layers[i];
		if (l->id != id)
			continue;
		if (revision && l->revision == revision)
			return l;
		if (!revision && (!best || l->revision > best->revision))
			best = l;
	}
	return best;
}

int lf_sha256_file(const char *path, char hex[65], uint64_t *size, struct lf_err *err)
{
	return lf_sha256_file_progress(path, hex, size, NULL, NULL, err);
}

int lf_sha256_file_progress(const char *path, char hex[65], uint64_t *size,
			    void (*progress)(void *ctx, const char *phase, uint64_t done,
					     uint64_t total),
			    void *ctx, struct lf_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	struct stat st;
	uint64_t whole = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	struct sha256_ctx c;
	sha256_init(&c);
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = malloc(CHUNK);
	uint64_t total = 0;
	ssize_t n = buf ? 0 : -1;
	while (buf && (n = read(fd, buf, CHUNK)) > 0) {
		sha256_update(&c, (size_t)n, buf);
		total += (uint64_t)n;
		if (progress && whole)
			progress(ctx, "sha-256", total < whole ? total : whole, whole);
	}
	int e = n < 0 ? (buf ? errno : ENOMEM) : 0;
	close(fd);
	free(buf);
	if (e)
		return lf_err_set(err, e, "%s: cannot read it: %s", path, strerror(e));
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_digest(&c, sizeof d, d);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	*size = total;
	return 0;
}
