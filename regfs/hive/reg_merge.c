/* Merging hives by priority: each layer's fragment of a hive is merged
 * onto the result of the layers below it. Keys are unioned (names ignore
 * case; the higher layer's spelling shows); a higher value replaces a
 * lower one, except REG_MULTI_SZ (union of the strings, lower ones first,
 * duplicates that differ only in case dropped) and the ';'-lists the rules
 * name (Path, PATHEXT, PSModulePath). Delete markers as for files: subkey
 * ".wh.NAME" and value ".wh.NAME" delete NAME below, a value
 * ".wh..wh..opq" makes its key opaque; markers never reach the result. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/casefold.h"
#include "hive_int.h"
#include "layerfs/layer.h"


static const struct lf_reg_rule builtin[] = {
	{ "ControlSet*\\Control\\Session Manager\\Environment", "Path" },
	{ "ControlSet*\\Control\\Session Manager\\Environment", "PATHEXT" },
	{ "ControlSet*\\Control\\Session Manager\\Environment", "PSModulePath" },
	{ "Environment", "Path" },   /* a user's own, in NTUSER.DAT */
};

const struct lf_reg_rule *lf_reg_builtin_rules(size_t *n)
{
	*n = sizeof builtin / sizeof builtin[0];
	return builtin;
}

/* UTF-16LE strings of a value, as UTF-8, and back. */
struct strs {
	char **v;
	size_t n;
};

static void strs_free(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int strs_add(struct strs *s, const char *p, size_t len)
{
	char **v = realloc(s->v, (s->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	s->v = v;
	if (!(v[s->n] = strndup(p, len)))
		return -ENOMEM;
	s->n++;
	return 0;
}

/* Split a value into strings: at NULs (MULTI_SZ), or at sep within its
 * first string (a ';'-list in a REG_SZ). Empty strings are dropped. */
static int split_value(const struct lf_rval *v, char sep, struct strs *out)
{
	size_t units = v->len / 2;
	char *u8 = malloc(units * 4 + 1);
	if (!u8)
		return -ENOMEM;
	size_t n = reg_u16_to_u8(v->data, units, u8);
	u8[n] = 0;
	if (sep)
		n = strlen(u8);  /* a REG_SZ ends at its NUL */
	int rc = 0;
	for (size_t i = 0, start = 0; i <= n && !rc; i++) {
		char c = i < n ? u8[i] : (char)(sep ? sep : 0);
		if (c != (sep ? sep : 0))
			continue;
		if (i > start)
			rc = strs_add(out, u8 + start, i - start);
		start = i + 1;
	}
	free(u8);
	return rc;
}

/* Join strings back: NUL-separated with a final extra NUL (MULTI_SZ), or
 * sep-separated with one NUL (a ';'-list). */
static int join_value(const struct strs *s, char sep, uint8_t **data, uint32_t *len)
{
	size_t total = 2;
	for (size_t i = 0; i < s->n; i++)
		total += strlen(s->v[i]) * 2 + 2;
	uint8_t *b = calloc(1, total + 2);
	if (!b)
		return -ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (sep && i) {
			b[o++] = (uint8_t)sep;
			b[o++] = 0;
		}
		o += reg_u8_to_u16(s->v[i], b + o);
		if (!sep)
			o += 2;  /* each string's NUL */
	}
	o += 2;              /* the closing NUL */
	*data = b;
	*len = (uint32_t)o;
	return 0;
}

/* Lower's strings, then higher's that are not there yet (ignoring case). */
static int union_strings(struct lf_rval *lower, const struct lf_rval *higher, char sep)
{
	struct strs a = {0}, b = {0};
	int rc = split_value(lower, sep, &a);
	if (!rc)
		rc = split_value(higher, sep, &b);
	size_t had = a.n;
	for (size_t i = 0; i < b.n && !rc; i++) {
		int dup = 0;
		for (size_t j = 0; j < a.n && !dup; j++)
			dup = lf_casecmp(a.v[j], b.v[i]) == 0;
		if (!dup)
			rc = strs_add(&a, b.v[i], strlen(b.v[i]));
	}
	uint8_t *data;
	uint32_t len;
	/* nothing new: the lower value stays as it was, byte for byte */
	if (!rc && a.n > had && !(rc = join_value(&a, sep, &data, &len))) {
		free(lower->data);
		lower->data = data;
		lower->len = len;
		lower->type = higher->type;
	}
	strs_free(&a);
	strs_free(&b);
	return rc;
}

static int is_list_value(const struct lf_merge *m, const char *path, const char *value)
{
	for (size_t i = 0; i < m->nrules; i++)
		if (!fnmatch(m->rules[i].key, path, FNM_CASEFOLD | FNM_NOESCAPE) &&
		    lf_casecmp(m->rules[i].value, value) == 0)
			return 1;
	return 0;
}

static int is_string(uint32_t t)
{
	return t == REG_SZ || t == REG_EXPAND_SZ;
}

int lf_reg_joins(const struct lf_merge *m, const char *keypath, const char *value, uint32_t type)
{
	struct lf_merge def;
	if (!m) {
		def.rules = lf_reg_builtin_rules(&def.nrules);
		m = &def;
	}
	return type == REG_MULTI_SZ || (is_string(type) && is_list_value(m, keypath, value));
}

void lf_rval_remove(struct lf_rkey *k, const char *name)
{
	struct lf_rval *v = lf_rval_find(k, name);
	if (!v)
		return;
	size_t i = (size_t)(v - k->val);
	free(v->name);
	free(v->data);
	memmove(k->val + i, k->val + i + 1, (k->nval - i - 1) * sizeof *k->val);
	k->nval--;
	lf_rkey_changed(k);
}

void lf_rkey_remove(struct lf_rkey *k, const char *name)
{
	struct lf_rkey *c = lf_rkey_find(k, name);
	if (!c)
		return;
	size_t i = 0;
	while (k->sub[i] != c)
		i++;
	lf_rkey_free(c);
	memmove(k->sub + i, k->sub + i + 1, (k->nsub - i - 1) * sizeof *k->sub);
	k->nsub--;
	lf_rkey_changed(k);
}

static void clear_key(struct lf_rkey *k)
{
	while (k->nsub)
		lf_rkey_free(k->sub[--k->nsub]);
	while (k->nval) {
		k->nval--;
		free(k->val[k->nval].name);
		free(k->val[k->nval].data);
	}
	lf_rkey_changed(k);
}

static int is_token(const char *name)
{
	return !strncmp(name, LF_WHITEOUT_PREFIX, strlen(LF_WHITEOUT_PREFIX));
}

static int merge_key(struct lf_rkey *base, const struct lf_rkey *top, const struct lf_merge *m,
		     char *path, size_t plen, int depth)
{
	if (depth > 512)
		return -ELOOP;
	size_t tl = strlen(LF_WHITEOUT_PREFIX);
	/* markers first: they apply to the layers below, not to this one */
	for (size_t i = 0; i < top->nval; i++)
		if (!strcmp(top->val[i].name, LF_OPAQUE_NAME))
			clear_key(base);
	for (size_t i = 0; i < top->nval; i++)
		if (is_token(top->val[i].name) && strcmp(top->val[i].name, LF_OPAQUE_NAME))
			lf_rval_remove(base, top->val[i].name + tl);
	for (size_t i = 0; i < top->nsub; i++)
		if (is_token(top->sub[i]->name))
			lf_rkey_remove(base, top->sub[i]->name + tl);
	if (top->mtime > base->mtime)
		base->mtime = top->mtime;
	if (top->sd) {
		uint8_t *sd = malloc(top->sdlen);
		if (!sd)
			return -ENOMEM;
		memcpy(sd, top->sd, top->sdlen);
		free(base->sd);
		base->sd = sd;
		base->sdlen = top->sdlen;
	}
	int rc = 0;
	for (size_t i = 0; i < top->nval && !rc; i++) {
		const struct lf_rval *v = &top->val[i];
		if (is_token(v->name))
			continue;
		struct lf_rval *have = lf_rval_find(base, v->name);
		if (have && have->type == REG_MULTI_SZ && v->type == REG_MULTI_SZ)
			rc = union_strings(have, v, 0);
		else if (have && is_string(have->type) && is_string(v->type) &&
			 is_list_value(m, path, v->name))
			rc = union_strings(have, v, ';');
		else
			rc = lf_rkey_set(base, v->name, v->type, v->data, v->len);
	}
	for (size_t i = 0; i < top->nsub && !rc; i++) {
		const struct lf_rkey *s = top->sub[i];
		if (is_token(s->name))
			continue;
		/* a frozen (shared) key is copied before it changes */
		long pos = lf_rkey_pos(base, s->name);
		struct lf_rkey *b = pos < 0 ? NULL : lf_rkey_own(base, (uint32_t)pos);
		if (pos >= 0 && !b)
			return -ENOMEM;
		if (!b) {
			b = lf_rkey_new(s->name, s->mtime);
			if (!b || lf_rkey_add(base, b)) {
				lf_rkey_free(b);
				return -ENOMEM;
			}
		} else if (strcmp(b->name, s->name)) {
			char *n = strdup(s->name);  /* the higher layer's spelling */
			if (!n)
				return -ENOMEM;
			free(b->name);
			b->name = n;
			lf_rkey_changed(base);
		}
		size_t add = strlen(s->name) + 1;
		if (plen + add + 1 >= 4096)
			return -ENAMETOOLONG;
		if (plen)
			path[plen] = '\\';
		memcpy(path + plen + (plen ? 1 : 0), s->name, add);
		rc = merge_key(b, s, m, path, plen + (plen ? 1 : 0) + add - 1, depth + 1);
		path[plen] = 0;
	}
	return rc;
}

int lf_hive_merge(struct lf_rkey *base, const struct lf_rkey *top, const struct lf_merge *m)
{
	char path[4096] = "";
	struct lf_merge def;
	if (!m) {
		def.rules = lf_reg_builtin_rules(&def.nrules);
		m = &def;
	}
	if (base->frozen)
		return -EROFS;       /* lf_rkey_thaw it first */
	return merge_key(base, top, m, path, 0, 0);
}

/* Rules file: "KEY-PATTERN = VALUE" a line; '#' or ';' starts a comment. */
int lf_reg_rules_load(const char *file, struct lf_merge *m, struct lf_err *err)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return lf_err_set(err, errno, "%s: %s", file, strerror(errno));
	size_t nb;
	const struct lf_reg_rule *b = lf_reg_builtin_rules(&nb);
	struct lf_reg_rule *v = malloc(nb * sizeof *v);
	size_t n = 0;
	int rc = v ? 0 : lf_err_set(err, ENOMEM, "out of memory");
	for (; !rc && n < nb; n++)
		if (!(v[n].key = strdup(b[n].key)) || !(v[n].value = strdup(b[n].value)))
			rc = lf_err_set(err, ENOMEM, "out of memory");
	char line[4096];
	for (int ln = 1; !rc && fgets(line, sizeof line, f); ln++) {
		char *s = line + strspn(line, " \t");
		s[strcspn(s, "\r\n")] = 0;
		if (!*s || *s == '#' || *s == ';')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = lf_err_set(err, EINVAL, "%s: line %d: 'KEY-PATTERN = VALUE' expected", file, ln);
			break;
		}
		char *k = s, *val = eq + 1, *e = eq;
		while (e > k && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = 0;
		val += strspn(val, " \t");
		for (e = val + strlen(val); e > val && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = 0;
		if (!*k || !*val) {
			rc = lf_err_set(err, EINVAL, "%s: line %d: an empty key pattern or value name", file, ln);
			break;
		}
		struct lf_reg_rule *nv = realloc(v, (n + 1) * sizeof *nv);
		if (!nv) {
			rc = lf_err_set(err, ENOMEM, "out of memory");
			break;
		}
		v = nv;
		v[n].key = strdup(k);
		v[n].value = strdup(val);
		n++;
		if (!v[n - 1].key || !v[n - 1].value)
			rc = lf_err_set(err, ENOMEM, "out of memory");
	}
	fclose(f);
	m->rules = v;
	m->nrules = n;
	if (rc) {
		lf_reg_rules_free(m);
		return rc;
	}
	return 0;
}

void lf_reg_rules_free(struct lf_merge *m)
{
	struct lf_reg_rule *v = (struct lf_reg_rule *)m->rules;
	for (size_t i = 0; v && i < m->nrules; i++) {
		free((char *)v[i].key);
		free((char *)v[i].value);
	}
	free(v);
	m->rules = NULL;
	m->nrules = 0;
}
