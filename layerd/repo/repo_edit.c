/* Changes to the control files, as layerctl repo and layerd's console
 * make them: the update under the repository's lock, assignments,
 * priorities, and the history file each change of the console is
 * written to (who, from where, what, the result). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/repo.h"
#include "layerfs/safe_path.h"

#define HISTORY_MAX (64u << 20)   /* a history file larger than this is not read */

int lf_repo_update(const char *root, lf_repo_change change, void *ctx, struct lf_err *err)
{
	struct lf_repo *r = NULL;
	int fd;
	if (lf_repo_lock(root, &fd, err))
		return -1;
	int rc = lf_repo_open(root, &r, err);
	if (!rc)
		rc = change(r, ctx, err);
	if (!rc)
		rc = lf_repo_save(r, err);
	lf_repo_unlock(fd);
	lf_repo_free(r);
	return rc ? -1 : 0;
}

json_t *lf_repo_layer_json(const struct lf_repo_layer *l)
{
	return json_pack("{s:i, s:i, s:s, s:s, s:i, s:i, s:s, s:s, s:I}", "id", (int)l->id,
			 "revision", (int)l->revision, "name", l->name,
			 "type", lf_layer_type_name(l->type), "os_layer", (int)l->os_layer,
			 "priority", (int)l->priority, "file", l->file, "sha256", l->sha256,
			 "size", (json_int_t)l->size);
}

static int assign(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	const struct lf_repo_assign_req *a = ctx;
	struct lf_repo_assignment *s = NULL;
	for (size_t i = 0; i < r->nassign && !s; i++)
		if (r->assign[i].kind == a->kind && !strcmp(r->assign[i].name, a->name))
			s = &r->assign[i];
	if (!s && a->take)
		return lf_err_set(err, ENOENT, "%s '%s' has no assignments",
				  lf_principal_name(a->kind), a->name);
	if (!s) {
		struct lf_repo_assignment *v = realloc(r->assign, (r->nassign + 1) * sizeof *v);
		if (!v)
			return lf_err_set(err, ENOMEM, "out of memory");
		r->assign = v;
		s = &v[r->nassign++];
		*s = (struct lf_repo_assignment){ a->kind, strdup(a->name), NULL, 0 };
		if (!s->name)
			return lf_err_set(err, ENOMEM, "out of memory");
	}
	for (size_t k = 0; k < a->nrefs; k++) {
		const struct lf_repo_ref *ref = &a->refs[k];
		size_t at = s->nlayers;
		for (size_t i = 0; i < s->nlayers; i++)
			if (s->layers[i].id == ref->id)
				at = i;
		if (a->take) {
			if (at == s->nlayers)
				return lf_err_set(err, ENOENT, "%s '%s' is not assigned layer %u",
						  lf_principal_name(a->kind), a->name, ref->id);
			memmove(s->layers + at, s->layers + at + 1,
				(s->nlayers - at - 1) * sizeof *s->layers);
			s->nlayers--;
			continue;
		}
		if (!lf_repo_find(r, ref->id, ref->revision))
			return lf_err_set(err, ENOENT, "layer %u%s is not in the repository", ref->id,
					  ref->revision ? " at that revision" : "");
		if (at == s->nlayers) {
			struct lf_repo_ref *v = realloc(s->layers, (s->nlayers + 1) * sizeof *v);
			if (!v)
				return lf_err_set(err, ENOMEM, "out of memory");
			s->layers = v;
			s->nlayers++;
		}
		s->layers[at] = *ref;
	}
	if (!s->nlayers) {          /* nothing left: the entry goes */
		free(s->name);
		free(s->layers);
		size_t i = (size_t)(s - r->assign);
		memmove(r->assign + i, r->assign + i + 1, (r->nassign - i - 1) * sizeof *s);
		r->nassign--;
	}
	return 0;
}

int lf_repo_update_assign(const char *root, const struct lf_repo_assign_req *a,
			  struct lf_err *err)
{
	return lf_repo_update(root, assign, (void *)a, err);
}

struct priority {
	uint32_t id;
	long priority;
};

static int set_priority(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	const struct priority *p = ctx;
	int found = 0;
	for (size_t i = 0; i < r->nlayers; i++)
		if (r->layers[i].id == p->id) {
			r->layers[i].priority = p->priority;
			found = 1;
		}
	return found ? 0 : lf_err_set(err, ENOENT, "layer %u is not in the repository", p->id);
}

int lf_repo_update_priority(const char *root, uint32_t id, long priority, struct lf_err *err)
{
	if (priority < LF_PRIORITY_MIN || priority > LF_PRIORITY_MAX)
		return lf_err_set(err, ERANGE, "a priority is a whole number from %d to %d",
				  LF_PRIORITY_MIN, LF_PRIORITY_MAX);
	struct priority p = { id, priority };
	return lf_repo_update(root, set_priority, &p, err);
}

/* TEXT on one line: a control character (a newline would start a line
 * of its own in the history) becomes '?'. */
static void one_line(char *dst, size_t size, const char *text)
{
	size_t n = 0;
	for (; text && *text && n + 1 < size; text++)
		dst[n++] = (unsigned char)*text < 0x20 || *text == 0x7f ? '?' : *text;
	dst[n] = 0;
}

int lf_repo_history(const char *root, const char *who, const char *from, const char *what,
		    const char *result, struct lf_err *err)
{
	char when[32], w[256], f[256], a[1024], res[1024];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	one_line(w, sizeof w, who);
	one_line(f, sizeof f, from);
	one_line(a, sizeof a, what);
	one_line(res, sizeof res, result);
	char line[2700];
	int n = snprintf(line, sizeof line, "%s\t%s\t%s\t%s\t%s\n", when, w, f, a, res);
	int fd, dfd = -1, rc;
	if (lf_repo_lock(root, &fd, err))
		return -1;
	uint8_t *old = NULL;
	size_t len = 0;
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = dfd < 0 ? -errno : lf_safe_read_all(dfd, LF_REPO_HISTORY_FILE, HISTORY_MAX, &old, &len);
	if (rc == -ENOENT)
		rc = 0, len = 0;
	char *text = rc ? NULL : malloc(len + (size_t)n);
	if (!rc && !text)
		rc = -ENOMEM;
	if (!rc) {
		if (len)
			memcpy(text, old, len);
		memcpy(text + len, line, (size_t)n);
		/* the whole file again, to a temporary, fsynced and renamed:
		 * a crash leaves the old history or the new, never half a line */
		rc = lf_safe_replace(dfd, LF_REPO_HISTORY_FILE, text, len + (size_t)n, 0640);
	}
	free(text);
	free(old);
	if (dfd >= 0)
		close(dfd);
	lf_repo_unlock(fd);
	return rc ? lf_err_set(err, -rc, "%s/%s: %s", root, LF_REPO_HISTORY_FILE, strerror(-rc)) : 0;
}
