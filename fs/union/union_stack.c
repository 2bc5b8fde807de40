/* Layer specs from the command line, and the order they stack in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/union.h"

int lf_layer_type_parse(const char *s, enum lf_layer_type *out)
{
	if (!s)
		return -1;
	if (!strcmp(s, "os"))
		*out = LF_LAYER_OS;
	else if (!strcmp(s, "platform"))
		*out = LF_LAYER_PLATFORM;
	else if (!strcmp(s, "app"))
		*out = LF_LAYER_APP;
	else
		return -1;
	return 0;
}

const char *lf_layer_type_name(enum lf_layer_type t)
{
	return t == LF_LAYER_OS ? "os" : t == LF_LAYER_PLATFORM ? "platform"
		: t == LF_LAYER_UPPER ? "personalization" : "app";
}

/* "/srv/Layers/Office.101.3.vhd" -> "Office.101.3"; "apps/tools/" -> "tools". */
static char *default_name(const char *path)
{
	char *s = strdup(path);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = 0;
	char *base = strrchr(s, '/');
	base = base && base[1] ? base + 1 : s;
	char *dot = strrchr(base, '.');
	if (dot && dot != base && (!strcmp(dot, ".vhd") || !strcmp(dot, ".vhdx") ||
				   !strcmp(dot, ".img") || !strcmp(dot, ".raw")))
		*dot = 0;
	memmove(s, base, strlen(base) + 1);
	return s;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static struct lf_layer_spec *grow(struct lf_stack *s)
{
	struct lf_layer_spec *v = realloc(s->v, (size_t)(s->n + 1) * sizeof *v);
	if (!v)
		return NULL;
	s->v = v;
	struct lf_layer_spec *l = &v[s->n];
	memset(l, 0, sizeof *l);
	l->type = LF_LAYER_APP;
	l->order = s->n;
	return l;
}

int lf_stack_add(struct lf_stack *s, const char *spec, struct lf_err *err)
{
	char *copy = strdup(spec);
	struct lf_layer_spec *l = copy ? grow(s) : NULL;
	if (!l) {
		free(copy);
		return lf_err_set(err, ENOMEM, "out of memory");
	}
	int rc = 0;
	char *save = NULL;
	/* The path is everything before the first comma (strtok would skip
	 * an empty one). */
	char *path = copy, *opts = strchr(copy, ',');
	if (opts)
		*opts++ = 0;
	if (!*path)
		rc = lf_err_set(err, EINVAL, "layer spec '%s': no path", spec);
	for (char *opt = opts ? strtok_r(opts, ",", &save) : NULL; !rc && opt;
	     opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		if (!eq) {
			rc = lf_err_set(err, EINVAL, "layer spec '%s': '%s' is not KEY=VALUE", spec, opt);
			break;
		}
		*eq = 0;
		const char *v = eq + 1;
		if (!strcmp(opt, "name") && *v) {
			free(l->name);
			l->name = strdup(v);
		} else if (!strcmp(opt, "type")) {
			if (lf_layer_type_parse(v, &l->type))
				rc = lf_err_set(err, EINVAL, "layer spec '%s': type must be os, platform or app", spec);
		} else if (!strcmp(opt, "prio")) {
			if (parse_long(v, &l->prio))
				rc = lf_err_set(err, EINVAL, "layer spec '%s': prio must be a whole number", spec);
			l->prio_given = 1;
		} else {
			rc = lf_err_set(err, EINVAL, "layer spec '%s': unknown key '%s' (name, type, prio)", spec, opt);
		}
	}
	if (!rc) {
		l->path = strdup(path);
		if (!l->name) {
			l->name = default_name(path);
			/* stacks of .../ID/diff folders share a base name: a later
			 * one is NAME#K, K its place in the list (1: the first) */
			int taken = 0;
			for (int i = 0; l->name && i < s->n; i++)
				taken |= !strcmp(s->v[i].name, l->name);
			char *nn = NULL;
			if (taken && asprintf(&nn, "%s#%d", l->name, s->n + 1) < 0)
				nn = NULL;
			if (taken) {
				free(l->name);
				l->name = nn;
			}
		}
		if (!l->path || !l->name)
			rc = lf_err_set(err, ENOMEM, "out of memory");
	}
	free(copy);
	if (rc) {
		free(l->path);
		free(l->name);
		return rc;
	}
	s->n++;
	return 0;
}

/* The end of the lowerdir entry at p: the next ':', but inside an oci://
 * reference (its port, tag and digest have their own), which must end in
 * :TAG or @DIGEST there. */
static const char *entry_end(const char *p)
{
	if (strncmp(p, "oci://", 6))
		return p + strcspn(p, ":");
	const char *q = p + 6;
	q += strcspn(q, "/");
	q += strcspn(q, "@:");
	if (*q == '@' && !strncmp(q + 1, "sha256:", 7))
		q += 8;
	else if (*q == ':')
		q++;
	return q + strcspn(q, ":");
}

int lf_stack_add_lowerdir(struct lf_stack *s, const char *dirs, struct lf_err *err)
{
	/* overlayfs lists the highest first; we add in stacking order. */
	char *copy = strdup(dirs);
	if (!copy)
		return lf_err_set(err, ENOMEM, "out of memory");
	char *parts[256];
	int n = 0, rc = 0;
	for (char *p = copy; *p;) {
		char *end = (char *)entry_end(p);
		int last = !*end;
		*end = 0;
		if (*p && n == 256) {
			rc = lf_err_set(err, E2BIG, "lowerdir: more than 256 layers");
			break;
		}
		if (*p)
			parts[n++] = p;
		if (last)
			break;
		p = end + 1;
	}
	if (!rc && n == 0)
		rc = lf_err_set(err, EINVAL, "lowerdir= names no layer");
	for (int i = n - 1; i >= 0 && !rc; i--) {
		/* a ',' would start spec options: lowerdir paths are plain */
		if (strchr(parts[i], ','))
			rc = lf_err_set(err, EINVAL, "lowerdir: '%s' has a comma", parts[i]);
		else
			rc = lf_stack_add(s, parts[i], err);
	}
	free(copy);
	return rc;
}

int lf_stack_override(struct lf_stack *s, const char *arg, struct lf_err *err)
{
	const char *eq = strrchr(arg, '=');
	long prio;
	if (!eq || eq == arg || parse_long(eq + 1, &prio))
		return lf_err_set(err, EINVAL, "--priority '%s': want NAME=NUMBER", arg);
	size_t nl = (size_t)(eq - arg);
	for (int i = 0; i < s->n; i++) {
		if (strlen(s->v[i].name) == nl && !strncmp(s->v[i].name, arg, nl)) {
			s->v[i].prio = prio;
			s->v[i].prio_given = 1;
			return 0;
		}
	}
	return lf_err_set(err, ENOENT, "--priority '%s': no layer named '%.*s'", arg, (int)nl, arg);
}

static int higher_first(const void *pa, const void *pb)
{
	const struct lf_layer_spec *a = pa, *b = pb;
	int ra = a->type != LF_LAYER_OS, rb = b->type != LF_LAYER_OS;
	if (ra != rb)
		return rb - ra;
	if (a->prio != b->prio)
		return a->prio < b->prio ? 1 : -1;
	return b->order - a->order;
}

int lf_stack_sort(struct lf_stack *s, struct lf_err *err)
{
	int os = 0;
	for (int i = 0; i < s->n; i++) {
		os += s->v[i].type == LF_LAYER_OS;
		/* Without a priority, the order given decides (later = higher). */
		if (!s->v[i].prio_given)
			s->v[i].prio = s->v[i].order;
	}
	if (os > 1)
		return lf_err_set(err, EINVAL, "%d layers have type=os; a stack has one OS layer", os);
	for (int i = 0; i < s->n; i++)
		for (int j = i + 1; j < s->n; j++)
			if (!strcmp(s->v[i].name, s->v[j].name))
				return lf_err_set(err, EINVAL, "two layers are named '%s'; give one name=", s->v[i].name);
	if (s->n)
		qsort(s->v, (size_t)s->n, sizeof *s->v, higher_first);
	return 0;
}

int lf_stack_set_upper(struct lf_stack *s, const char *dir, const char *workdir,
		       struct lf_err *err)
{
	if (s->upper)
		return lf_err_set(err, EINVAL, "only one writable layer (--upper) may be given");
	if (!*dir)
		return lf_err_set(err, EINVAL, "--upper: empty path");
	s->upper = strdup(dir);
	s->workdir = workdir ? strdup(workdir) : NULL;
	if (!s->upper || (workdir && !s->workdir))
		return lf_err_set(err, ENOMEM, "out of memory");
	return 0;
}

void lf_stack_free(struct lf_stack *s)
{
	free(s->upper);
	free(s->workdir);
	s->upper = s->workdir = NULL;
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].name);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
