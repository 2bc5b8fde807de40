/* Retiring a layer or one revision (layerctl repo remove, the console's
 * retire and remove): its entries leave the control file, and its files
 * go to REPO/Retired/ under names no other retired file has, each with a
 * note beside it (NAME.json: its entry as it was, for restore), or with
 * purge are deleted. Refused while it would break a differencing disk,
 * and unless forced while someone needs it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "layerfs/repo.h"
#include "layerfs/safe_path.h"
#include "layerfs/source.h"

struct removal {
	const struct lf_repo_retire_req *q;
	uint32_t id, revision;          /* revision 0: every revision */
	char **files;                   /* what leaves the control file */
	json_t **notes;                 /* each one's entry, as it was */
	size_t nfiles;
};

static int goes(const struct removal *m, const struct lf_repo_layer *l)
{
	return l->id == m->id && (!m->revision || l->revision == m->revision);
}

/* Is a file that goes the parent (or an ancestor) of a differencing disk
 * that stays? Its disk would no longer open. */
static const char *a_parent(struct lf_repo *r, const struct removal *m, char *why, size_t n)
{
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct lf_repo_layer *l = &r->layers[i];
		char path[PATH_MAX];
		struct lf_source *src = NULL;
		if (goes(m, l) || lf_repo_path(r, l->file, path, sizeof path, NULL) ||
		    lf_source_open(path, NULL, &src, NULL))
			continue;
		for (const struct lf_source *p = src->parent; p && !why[0]; p = p->parent)
			for (size_t k = 0; k < r->nlayers && !why[0]; k++) {
				char gone[PATH_MAX];
				struct stat a, b;
				if (goes(m, &r->layers[k]) &&
				    !lf_repo_path(r, r->layers[k].file, gone, sizeof gone, NULL) &&
				    stat(gone, &a) == 0 && stat(p->path, &b) == 0 &&
				    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
					snprintf(why, n, "revision %u of layer %u (%s) is a differencing "
						 "disk on its file", l->revision, l->id, l->name);
			}
		lf_source_close(src);
		if (why[0])
			return why;
	}
	return NULL;
}

/* Why the removal would hurt someone, or NULL. */
static const char *in_use(struct lf_repo *r, const struct removal *m, char *why, size_t n)
{
	size_t left = 0;
	for (size_t i = 0; i < r->nlayers; i++)
		left += r->layers[i].id == m->id && !goes(m, &r->layers[i]);
	for (size_t i = 0; m->revision == 0 && i < r->nlayers; i++)
		if (r->layers[i].type != LF_LAYER_OS && r->layers[i].os_layer == m->id &&
		    r->layers[i].id != m->id) {
			snprintf(why, n, "layer %u (%s) is built on it", r->layers[i].id,
				 r->layers[i].name);
			return why;
		}
	for (size_t i = 0; i < r->nassign; i++) {
		const struct lf_repo_assignment *a = &r->assign[i];
		for (size_t k = 0; k < a->nlayers; k++) {
			const struct lf_repo_ref *f = &a->layers[k];
			/* a pinned revision that goes, or the layer itself with
			 * no revision left for an unpinned assignment */
			if (f->id == m->id && ((f->revision && (!m->revision || f->revision == m->revision)) ||
					       (!f->revision && !left))) {
				snprintf(why, n, "assigned to %s '%s' (unassign it first)",
					 a->kind == LF_PRINCIPAL_USER ? "user" :
					 a->kind == LF_PRINCIPAL_GROUP ? "group" : "machine", a->name);
				return why;
			}
		}
	}
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(m->q->sessions, "sessions"), i, s) {
		size_t k;
		json_t *l;
		json_array_foreach(json_object_get(s, "layers"), k, l)
			if ((uint32_t)json_integer_value(json_object_get(l, "id")) == m->id &&
			    (!m->revision ||
			     (uint32_t)json_integer_value(json_object_get(l, "revision")) == m->revision)) {
				snprintf(why, n, "in use by %s's running session",
					 json_string_value(json_object_get(s, "user")));
				return why;
			}
	}
	return NULL;
}

static int do_remove(struct lf_repo *r, void *ctx, struct lf_err *err)
{
	struct removal *m = ctx;
	char why[300];
	size_t found = 0;
	for (size_t i = 0; i < r->nlayers; i++)
		found += goes(m, &r->layers[i]);
	if (!found)
		return m->revision ? lf_err_set(err, ENOENT, "layer %u has no revision %u", m->id,
						m->revision)
				   : lf_err_set(err, ENOENT, "no layer %u", m->id);
	why[0] = 0;
	if (a_parent(r, m, why, sizeof why))   /* never forced: that disk would not open */
		return lf_err_set(err, EBUSY, "layer %u%s%.0u: %s; remove that first", m->id,
				  m->revision ? " revision " : "", m->revision, why);
	if (!m->q->force && in_use(r, m, why, sizeof why))
		return lf_err_set(err, EBUSY, "layer %u%s%.0u: %s; --force removes it anyway", m->id,
				  m->revision ? " revision " : "", m->revision, why);
	if (!(m->files = calloc(found, sizeof *m->files)) ||
	    !(m->notes = calloc(found, sizeof *m->notes)))
		return lf_err_set(err, ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < r->nlayers; i++) {
		if (!goes(m, &r->layers[i])) {
			r->layers[k++] = r->layers[i];
			continue;
		}
		m->notes[m->nfiles] = lf_repo_layer_json(&r->layers[i]);
		m->files[m->nfiles++] = r->layers[i].file;
		free(r->layers[i].name);
	}
	r->nlayers = k;
	return 0;
}

/* Retired/BASE, or BASE with -2, -3, ... before its extension when a
 * retired file has that name (a layer retired, restored, retired again,
 * or an id reused by an older version): never over another. */
static void free_name(const char *retired, const char *base, char *dst, size_t size)
{
	const char *dot = strrchr(base, '.');
	int stem = dot ? (int)(dot - base) : (int)strlen(base);
	snprintf(dst, size, "%s/%s", retired, base);
	for (int n = 2; access(dst, F_OK) == 0 && n < 100000; n++)
		snprintf(dst, size, "%s/%.*s-%d%s", retired, stem, base, n, dot ? dot : "");
}

/* DST.json: the entry the file had, when it left, from where. */
static int write_note(const char *dst, json_t *entry, const char *was, struct lf_err *err)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_t *note = json_pack("{s:s, s:O, s:s, s:s}", "format", "layerfs-retired/1", "layer",
				 entry, "was", was, "retired", when);
	char *text = note ? json_dumps(note, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(note);
	char path[PATH_MAX * 2 + 8];
	snprintf(path, sizeof path, "%s.json", dst);
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX * 2];
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = !text ? -ENOMEM : dfd < 0 ? -errno
		 : lf_safe_replace(dfd, slash + 1, text, strlen(text), 0640);
	if (dfd >= 0)
		close(dfd);
	free(text);
	return rc ? lf_err_set(err, -rc, "%s: %s", path, strerror(-rc)) : 0;
}

/* After the control file no longer names them: to Retired/, or gone. */
static int retire_files(const char *root, struct removal *m, json_t *done, struct lf_err *err)
{
	struct lf_repo *r = NULL;
	if (lf_repo_open(root, &r, err))
		return -1;
	char retired[PATH_MAX];
	snprintf(retired, sizeof retired, "%s/Retired", r->root);
	int rc = 0;
	if (!m->q->purge && mkdir(retired, 0750) < 0 && errno != EEXIST)
		rc = lf_err_set(err, errno, "%s: %s", retired, strerror(errno));
	for (size_t i = 0; !rc && i < m->nfiles; i++) {
		char src[PATH_MAX], dst[PATH_MAX * 2];
		if (lf_repo_path(r, m->files[i], src, sizeof src, err)) {
			rc = -1;
			break;
		}
		const char *base = strrchr(m->files[i], '/') ? strrchr(m->files[i], '/') + 1 : m->files[i];
		if (!m->q->purge)
			free_name(retired, base, dst, sizeof dst);
		if ((m->q->purge ? unlink(src) : rename(src, dst)) < 0 && errno != ENOENT)
			rc = lf_err_set(err, errno, "%s: %s", src, strerror(errno));
		else if (!m->q->purge && write_note(dst, m->notes[i], m->files[i], err)) {
			char msg[sizeof err->msg];
			snprintf(msg, sizeof msg, "%s", err->msg);
			rc = lf_err_set(err, err->code, "%.900s (restore it by hand: 'repo add' "
					"with its name and id)", msg);
		}
		json_array_append_new(done, json_pack("{s:s, s:s?}", "file", m->files[i], "now",
						      m->q->purge ? NULL : dst));
	}
	lf_repo_free(r);
	return rc ? -1 : 0;
}

int lf_repo_retire(const char *root, const struct lf_repo_retire_req *q, json_t **done,
		   struct lf_err *err)
{
	struct removal m = { .q = q, .id = q->id, .revision = q->revision };
	*done = json_array();
	if (!*done)
		return lf_err_set(err, ENOMEM, "out of memory");
	int rc = lf_repo_update(root, do_remove, &m, err);
	if (!rc)
		rc = retire_files(root, &m, *done, err);
	for (size_t i = 0; i < m.nfiles; i++) {
		free(m.files[i]);
		json_decref(m.notes[i]);
	}
	free(m.files);
	free(m.notes);
	return rc;
}
