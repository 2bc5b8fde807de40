/* .reg files (regedit 5.00): export a key tree, and import one as edits
 * (keys and values set, "[-KEY]" and "NAME"=- deleting). Input may be
 * UTF-16LE with a BOM, as regedit writes, or UTF-8; output is UTF-8 or
 * UTF-16LE with a BOM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hive_int.h"
#include "layerfs/layer.h"


struct out {
	char *b;
	size_t n, cap;
	int err;
	unsigned flags;          /* LF_REG_* */
	char bad[300];           /* the name regedit's form cannot hold */
};

static void emit(struct out *o, const char *s, size_t n);
static void emits(struct out *o, const char *s);

/* The line that says a file uses this project's escapes (--escape): a
 * comment to regedit, which cannot read such names anyway. */
#define ESCAPE_NOTE "; layerctl: names escaped (%00 NUL, %0D CR, %0A LF, %25 %)"

/* Can the .reg form hold this name? A line break never (it ends the
 * line); a NUL (kept as C0 80) in UTF-16, where it is a code unit as
 * regedit writes one, not in UTF-8, where no valid byte says it. */
static int unwritable(const char *s, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' ||
		    (!(flags & LF_REG_UTF16) && (unsigned char)s[i] == 0xC0 && i + 1 < n &&
		     (unsigned char)s[i + 1] == 0x80))
			return 1;
	return 0;
}

/* A name as a message shows it: NUL, CR, LF as %00, %0D, %0A. */
static void shown(char *dst, size_t size, const char *src)
{
	size_t o = 0;
	for (; *src && o + 4 < size; src++) {
		unsigned char c = (unsigned char)*src;
		if (c == 0xC0 && (unsigned char)src[1] == 0x80) {
			memcpy(dst + o, "%00", 3), o += 3;
			src++;
		} else if (c == '\r' || c == '\n') {
			memcpy(dst + o, c == '\r' ? "%0D" : "%0A", 3), o += 3;
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = 0;
}

/* name as written: escaped with --escape, refused (said in o->bad) if
 * regedit's form cannot hold it. */
static void name_out(struct out *o, const char *s, size_t n, const char *where)
{
	if (!(o->flags & LF_REG_ESCAPE)) {
		if (unwritable(s, n, o->flags) && !o->err) {
			o->err = -EILSEQ;
			shown(o->bad, sizeof o->bad, where);
		}
		emit(o, s, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0xC0 && i + 1 < n && (unsigned char)s[i + 1] == 0x80) {
			emits(o, "%00");
			i++;
		} else if (c == '\r') {
			emits(o, "%0D");
		} else if (c == '\n') {
			emits(o, "%0A");
		} else if (c == '%') {
			emits(o, "%25");
		} else {
			emit(o, s + i, 1);
		}
	}
}

static void emit(struct out *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 65536;
		while (cap < o->n + n + 1)
			cap *= 2;
		char *b = realloc(o->b, cap);
		if (!b) {
			o->err = -ENOMEM;
			return;
		}
		o->b = b;
		o->cap = cap;
	}
	memcpy(o->b + o->n, s, n);
	o->n += n;
	o->b[o->n] = 0;
}

static void emits(struct out *o, const char *s)
{
	emit(o, s, strlen(s));
}

/* "text" with \ and " escaped, as regedit writes names and strings. */
static void quoted(struct out *o, const char *s, size_t n)
{
	emit(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '"')
			emit(o, "\\", 1);
		emit(o, s + i, 1);
	}
	emit(o, "\"", 1);
}

/* Name s as written (into *piece, a buffer of its own: it is quoted or
 * joined to a path after), a refusal passed on to o. */
static void name_piece(struct out *o, struct out *piece, const char *s, const char *where)
{
	*piece = (struct out){ .flags = o->flags };
	name_out(piece, s, strlen(s), where);
	if (piece->err && !o->err) {
		o->err = piece->err;
		memcpy(o->bad, piece->bad, sizeof o->bad);
	}
}

/* A value's name, quoted: escaped or refused as name_out says. */
static void quoted_name(struct out *o, const char *s, const char *key, size_t klen)
{
	struct out tmp;
	char where[300];
	/* key: the path so far, klen bytes, no NUL after it */
	snprintf(where, sizeof where, "[%.*s] \"%.60s\"", (int)(klen < 200 ? klen : 200), key, s);
	name_piece(o, &tmp, s, where);
	quoted(o, tmp.b ? tmp.b : "", tmp.n);
	free(tmp.b);
}

/* A REG_SZ that regedit can write as "text": UTF-16LE ending in one NUL
 * and holding no other, and no line breaks. As UTF-8 in *text. */
static int plain_string(const struct lf_rval *v, char **text, size_t *tn)
{
	if (v->len < 2 || v->len % 2 || v->data[v->len - 1] || v->data[v->len - 2])
		return 0;
	size_t units = v->len / 2 - 1;
	for (size_t i = 0; i < units; i++) {
		uint16_t c = (uint16_t)(v->data[2 * i] | v->data[2 * i + 1] << 8);
		if (c == 0 || c == '\n' || c == '\r' || (c >= 0xD800 && c < 0xE000))
			return 0;
	}
	char *s = malloc(units * 3 + 1);
	if (!s)
		return 0;
	*tn = reg_u16_to_u8(v->data, units, s);
	*text = s;
	return 1;
}

/* hex:...  or hex(N):..., wrapped as regedit wraps (at 80 columns). */
static void hexdump(struct out *o, const struct lf_rval *v, size_t col)
{
	char tag[24];
	if (v->type == REG_BINARY)
		snprintf(tag, sizeof tag, "hex:");
	else
		snprintf(tag, sizeof tag, "hex(%x):", v->type);
	emits(o, tag);
	col += strlen(tag);
	for (uint32_t i = 0; i < v->len; i++) {
		char b[8];
		snprintf(b, sizeof b, "%02x%s", v->data[i], i + 1 < v->len ? "," : "");
		if (col + strlen(b) > 78 && i + 1 < v->len) {
			emits(o, "\\\r\n  ");
			col = 2;
		}
		emits(o, b);
		col += strlen(b);
	}
}

static void export_key(struct out *o, const struct lf_rkey *k, char *path, size_t plen, int depth)
{
	if (depth > 512 || o->err)
		return;
	emits(o, "\r\n[");
	emit(o, path, plen);
	emits(o, "]\r\n");
	for (size_t i = 0; i < k->nval; i++) {
		const struct lf_rval *v = &k->val[i];
		size_t col;
		if (!*v->name) {
			emits(o, "@=");
			col = 2;
		} else {
			size_t before = o->n;
			quoted_name(o, v->name, path, plen);
			emits(o, "=");
			col = o->n - before;
		}
		char *text;
		size_t tn;
		if (v->type == REG_DWORD && v->len == 4) {
			char d[24];
			snprintf(d, sizeof d, "dword:%08x",
				 (unsigned)(v->data[0] | v->data[1] << 8 | v->data[2] << 16 |
					    (uint32_t)v->data[3] << 24));
			emits(o, d);
		} else if (v->type == REG_SZ && plain_string(v, &text, &tn)) {
			quoted(o, text, tn);
			free(text);
		} else {
			hexdump(o, v, col);
		}
		emits(o, "\r\n");
	}
	for (size_t i = 0; i < k->nsub; i++) {
		const char *name = k->sub[i]->name;
		struct out seg;
		char where[300];
		snprintf(where, sizeof where, "[%.*s\\%.60s]", (int)(plen < 200 ? plen : 200), path, name);
		name_piece(o, &seg, name, where);
		char *p = malloc(plen + seg.n + 2);
		if (!p) {
			free(seg.b);
			o->err = -ENOMEM;
			return;
		}
		memcpy(p, path, plen);
		p[plen] = '\\';
		memcpy(p + plen + 1, seg.b ? seg.b : "", seg.n);
		free(seg.b);
		export_key(o, k->sub[i], p, plen + 1 + seg.n, depth + 1);
		free(p);
	}
}

int lf_reg_export(const struct lf_rkey *root, const char *prefix, int utf16, char **text,
		  size_t *len)
{
	return lf_reg_export_ex(root, prefix, utf16 ? LF_REG_UTF16 : 0, text, len, NULL);
}

int lf_reg_export_ex(const struct lf_rkey *root, const char *prefix, unsigned flags, char **text,
		     size_t *len, struct lf_err *err)
{
	int utf16 = (flags & LF_REG_UTF16) != 0;
	struct out o = { .flags = flags };
	emits(&o, "Windows Registry Editor Version 5.00\r\n");
	if (flags & LF_REG_ESCAPE)
		emits(&o, ESCAPE_NOTE "\r\n");
	char *p = strdup(prefix);
	if (!p)
		return -ENOMEM;
	export_key(&o, root, p, strlen(p), 0);
	free(p);
	emits(&o, "\r\n");
	if (o.err) {
		free(o.b);
		if (o.err == -EILSEQ)
			return lf_err_set(err, EILSEQ, "%s: a name the .reg form cannot hold "
					  "(a line break in it, or a NUL in UTF-8; shown here as "
					  "%%0D %%0A %%00); --escape writes this project's escape, "
					  "which regedit cannot read", o.bad);
		return o.err;
	}
	if (!utf16) {
		*text = o.b;
		*len = o.n;
		return 0;
	}
	uint8_t *w = malloc(2 + o.n * 4);
	if (!w) {
		free(o.b);
		return -ENOMEM;
	}
	w[0] = 0xFF;
	w[1] = 0xFE;
	size_t n = 2 + reg_u8_to_u16(o.b, w + 2);
	free(o.b);
	*text = (char *)w;
	*len = n;
	return 0;
}

/* --- import --- */

struct in {
	char *text;              /* UTF-8, NUL-terminated, lines joined */
	const char *what;
	struct lf_err *err;
	int line;
	int markers;             /* deletions become ".wh." markers (a fragment) */
	int escaped;             /* names use this project's escapes (ESCAPE_NOTE) */
};

/* In a fragment, a deletion is a marker the merge applies to the layers
 * below: sub-key or value ".wh.NAME". */
static int mark_deleted_key(struct lf_rkey *parent, const char *name)
{
	char marker[1100];
	snprintf(marker, sizeof marker, "%s%s", LF_WHITEOUT_PREFIX, name);
	lf_rkey_remove(parent, name);
	if (lf_rkey_find(parent, marker))
		return 0;
	struct lf_rkey *m = lf_rkey_new(marker, 0);
	if (!m || lf_rkey_add(parent, m)) {
		lf_rkey_free(m);
		return -ENOMEM;
	}
	return 0;
}

static int mark_deleted_value(struct lf_rkey *k, const char *name)
{
	char marker[16400];
	snprintf(marker, sizeof marker, "%s%s", LF_WHITEOUT_PREFIX, name);
	lf_rval_remove(k, name);
	return lf_rkey_set(k, marker, REG_NONE, NULL, 0) ? -ENOMEM : 0;
}

static int fail(struct in *in, const char *why)
{
	return lf_err_set(in->err, EINVAL, "%s: line %d: %s", in->what, in->line, why);
}

/* "..." with \\ and \" escapes, from *p (at the opening quote). */
/* A name read from a file that says it is escaped: %00 %0D %0A %25 back
 * to NUL (C0 80), CR, LF and %, in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%' && (!strncmp(s, "%00", 3) || !strncmp(s, "%0D", 3) ||
				  !strncmp(s, "%0A", 3) || !strncmp(s, "%25", 3))) {
			char c = s[2];
			if (c == '0') {
				*o++ = (char)0xC0;
				*o++ = (char)0x80;
			} else {
				*o++ = c == 'D' ? '\r' : c == 'A' ? '\n' : '%';
			}
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

static int parse_quoted(struct in *in, const char **p, char *out, size_t size)
{
	const char *s = *p + 1;
	size_t o = 0;
	for (; *s && *s != '"'; s++) {
		if (*s == '\\' && (s[1] == '\\' || s[1] == '"'))
			s++;
		if (o + 1 >= size)
			return fail(in, "a string too long");
		out[o++] = *s;
	}
	if (*s != '"')
		return fail(in, "a string without its closing quote");
	out[o] = 0;
	*p = s + 1;
	return 0;
}

static int parse_hex(struct in *in, const char *s, uint8_t **data, uint32_t *len)
{
	size_t cap = strlen(s) / 2 + 1, n = 0;
	uint8_t *b = malloc(cap);
	if (!b)
		return lf_err_set(in->err, ENOMEM, "out of memory");
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s)
			break;
		char *end;
		unsigned long v = strtoul(s, &end, 16);
		if (end == s || end - s > 2 || v > 0xFF || (*end && *end != ',' && *end != ' ')) {
			free(b);
			return fail(in, "hex data must be bytes like 0a,ff");
		}
		b[n++] = (uint8_t)v;
		s = end;
	}
	*data = b;
	*len = (uint32_t)n;
	return 0;
}

static int set_value(struct in *in, struct lf_rkey *k, const char *name, const char *spec)
{
	if (!strcmp(spec, "-")) {
		if (in->markers)
			return mark_deleted_value(k, name) ? lf_err_set(in->err, ENOMEM, "out of memory") : 0;
		lf_rval_remove(k, name);
		return 0;
	}
	uint8_t *data = NULL;
	uint32_t len = 0, type;
	int rc = 0;
	if (*spec == '"') {
		size_t n = strlen(spec);
		char *s = malloc(n + 1);
		data = s ? malloc(n * 4 + 2) : NULL;
		const char *p = spec;
		if (!data)
			rc = lf_err_set(in->err, ENOMEM, "out of memory");
		else if (!(rc = parse_quoted(in, &p, s, n + 1)) && *p)
			rc = fail(in, "text after a string value");
		if (!rc) {
			len = (uint32_t)reg_u8_to_u16(s, data);
			data[len++] = 0;
			data[len++] = 0;
		}
		free(s);
		type = REG_SZ;
	} else if (!strncmp(spec, "dword:", 6)) {
		char *end;
		unsigned long v = strtoul(spec + 6, &end, 16);
		if (*end || end == spec + 6 || strlen(spec + 6) > 8)
			return fail(in, "dword: takes up to 8 hex digits");
		data = malloc(4);
		if (!data)
			return lf_err_set(in->err, ENOMEM, "out of memory");
		for (int i = 0; i < 4; i++)
			data[i] = (uint8_t)(v >> (8 * i));
		len = 4;
		type = REG_DWORD;
	} else if (!strncmp(spec, "hex:", 4)) {
		type = REG_BINARY;
		rc = parse_hex(in, spec + 4, &data, &len);
	} else if (!strncmp(spec, "hex(", 4)) {
		char *end;
		unsigned long t = strtoul(spec + 4, &end, 16);
		if (end == spec + 4 || strncmp(end, "):", 2) || t > 0xFFFFFFFFul)
			return fail(in, "hex(N): needs a hex type number");
		type = (uint32_t)t;
		rc = parse_hex(in, end + 2, &data, &len);
	} else {
		return fail(in, "a value is \"text\", dword:, hex:, hex(N): or -");
	}
	if (!rc && lf_rkey_set(k, name, type, data, len))
		rc = lf_err_set(in->err, ENOMEM, "out of memory");
	free(data);
	return rc;
}

/* The key at PATH (from the root, '\'-separated), made if create. */
static struct lf_rkey *key_at_path(struct lf_rkey *root, char *path, int create, int *nomem)
{
	struct lf_rkey *k = root;
	for (char *save, *c = strtok_r(path, "\\", &save); c && k; c = strtok_r(NULL, "\\", &save)) {
		struct lf_rkey *n = lf_rkey_find(k, c);
		if (!n && create) {
			n = lf_rkey_new(c, 0);
			if (!n || lf_rkey_add(k, n)) {
				lf_rkey_free(n);
				*nomem = 1;
				return NULL;
			}
		}
		k = n;
	}
	return k;
}

/* Decode to UTF-8 (dropping a BOM) and join "\"-continued lines. */
static char *decode(const char *text, size_t len)
{
	const uint8_t *t = (const uint8_t *)text;
	char *u;
	size_t n;
	if (len >= 2 && t[0] == 0xFF && t[1] == 0xFE) {
		u = malloc((len / 2) * 4 + 1);
		if (!u)
			return NULL;
		n = reg_u16_to_u8_nul(t + 2, (len - 2) / 2, u);   /* a NUL in a key name */
	} else {
		if (len >= 3 && t[0] == 0xEF && t[1] == 0xBB && t[2] == 0xBF)
			t += 3, len -= 3;
		u = malloc(len + 1);
		if (!u)
			return NULL;
		memcpy(u, t, len);
		n = len;
	}
	u[n] = 0;
	return u;
}

static char *next_line(char **p)
{
	char *s = *p;
	if (!*s)
		return NULL;
	char *e = strchr(s, '\n');
	if (e) {
		*e = 0;
		*p = e + 1;
	} else {
		*p = s + strlen(s);
	}
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

static int import(struct lf_rkey *root, const char *prefix, const char *text, size_t len,
		  const char *what, int markers, struct lf_err *err)
{
	struct in in = { .what = what, .err = err, .markers = markers };
	char *all = decode(text, len);
	if (!all)
		return lf_err_set(err, ENOMEM, "out of memory");
	char *p = all, *line, *joined = NULL;
	size_t plen = strlen(prefix);
	struct lf_rkey *key = NULL;
	int rc = 0, header = 0;
	while (!rc && (line = next_line(&p))) {
		in.line++;
		/* a value's hex may go on over several lines, each ending in \ */
		while (!rc && *line && line[strlen(line) - 1] == '\\' && strchr(line, '=')) {
			size_t n = strlen(line);
			char *more = next_line(&p);
			if (!more)
				break;
			in.line++;
			while (*more == ' ' || *more == '\t')
				more++;
			char *j = malloc(n + strlen(more) + 1);
			if (!j) {
				rc = lf_err_set(err, ENOMEM, "out of memory");
				break;
			}
			memcpy(j, line, n - 1);
			strcpy(j + n - 1, more);
			free(joined);
			line = joined = j;
		}
		if (rc)
			break;
		if (!strcmp(line, ESCAPE_NOTE))
			in.escaped = 1;
		if (!*line || *line == ';')
			continue;
		if (!header) {
			if (strcmp(line, "Windows Registry Editor Version 5.00") && strcmp(line, "REGEDIT4"))
				rc = fail(&in, "not a .reg file (no \"Windows Registry Editor Version 5.00\")");
			header = 1;
			continue;
		}
		if (*line == '[') {
			size_t n = strlen(line);
			if (line[n - 1] != ']') {
				rc = fail(&in, "a key line must end in ]");
				break;
			}
			line[n - 1] = 0;
			if (in.escaped)
				unescape(line);
			int del = line[1] == '-';
			char *path = line + 1 + del;
			if (strncasecmp(path, prefix, plen) || (path[plen] && path[plen] != '\\')) {
				/* the hive's root key is what --prefix names: say the
				 * one this key would want (its first two parts) */
				char want[128];
				size_t k = strcspn(path, "\\");
				/* HKCU is a hive's root itself; HKLM\X and HKU\X are */
				if (strncasecmp(path, "HKEY_CURRENT_USER", k) || k != 17)
					k += path[k] ? 1 + strcspn(path + k + 1, "\\") : 0;
				snprintf(want, sizeof want, "%.*s", (int)(k < 120 ? k : 120), path);
				rc = lf_err_set(in.err, EINVAL, "%s: line %d: [%.200s] is outside the hive "
						"being imported into (its root is '%s'%s): give "
						"--prefix '%s' for a hive whose root is that key",
						in.what, in.line, path, plen ? prefix : "",
						plen ? "" : ", none given", want);
				break;
			}
			path += plen;
			while (*path == '\\')
				path++;
			int nomem = 0;
			if (del) {
				char *last = strrchr(path, '\\');
				struct lf_rkey *parent = root;
				if (last) {
					*last = 0;
					/* a fragment's marker needs its parent key */
					parent = key_at_path(root, path, in.markers, &nomem);
					path = last + 1;
				}
				if (!*path)
					rc = fail(&in, "the hive's root cannot be deleted");
				else if (parent && in.markers)
					nomem = mark_deleted_key(parent, path) != 0;
				else if (parent)
					lf_rkey_remove(parent, path);
				key = NULL;
			} else {
				key = key_at_path(root, path, 1, &nomem);
			}
			if (nomem)
				rc = lf_err_set(err, ENOMEM, "out of memory");
			continue;
		}
		if (!key) {
			rc = fail(&in, "a value outside any key (or under a deleted one)");
			break;
		}
		char name[16384];
		const char *s = line;
		if (*s == '@') {
			name[0] = 0;
			s++;
		} else if (*s == '"') {
			rc = parse_quoted(&in, &s, name, sizeof name);
			if (!rc && in.escaped)
				unescape(name);
		} else {
			rc = fail(&in, "a value line starts with \"NAME\" or @");
		}
		if (!rc && *s != '=')
			rc = fail(&in, "'=' expected after the value's name");
		if (!rc)
			rc = set_value(&in, key, name, s + 1);
	}
	free(joined);
	free(all);
	if (!rc && !header)
		rc = lf_err_set(err, EINVAL, "%s: empty: not a .reg file", what);
	return rc;
}

int lf_reg_import(struct lf_rkey *root, const char *prefix, const char *text, size_t len,
		  const char *what, struct lf_err *err)
{
	return import(root, prefix, text, len, what, 0, err);
}

int lf_reg_import_fragment(struct lf_rkey *root, const char *prefix, const char *text, size_t len,
			   const char *what, struct lf_err *err)
{
	return import(root, prefix, text, len, what, 1, err);
}
