/* SDDL (MS-DTYP 2.5.1): the text form icacls, PowerShell's Get-Acl and
 * Microsoft's documentation use for descriptors. Parsing covers what
 * file and key descriptors hold (A, D, AU, AL, ML ACEs; no object or
 * conditional ACEs); printing prints anything that parses as binary. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sd_int.h"

static const struct { const char *alias, *sid; } sid_alias[] = {
	{ "WD", "S-1-1-0" }, { "CO", "S-1-3-0" }, { "CG", "S-1-3-1" }, { "OW", "S-1-3-4" },
	{ "NU", "S-1-5-2" }, { "IU", "S-1-5-4" }, { "SU", "S-1-5-6" }, { "AN", "S-1-5-7" },
	{ "AU", "S-1-5-11" }, { "RC", "S-1-5-12" }, { "SY", "S-1-5-18" }, { "LS", "S-1-5-19" },
	{ "NS", "S-1-5-20" }, { "BA", "S-1-5-32-544" }, { "BU", "S-1-5-32-545" },
	{ "BG", "S-1-5-32-546" }, { "PU", "S-1-5-32-547" }, { "BO", "S-1-5-32-551" },
	{ "RD", "S-1-5-32-555" }, { "AC", "S-1-15-2-1" }, { "LW", "S-1-16-4096" },
	{ "ME", "S-1-16-8192" }, { "HI", "S-1-16-12288" }, { "SI", "S-1-16-16384" },
};

static const struct { const char *code; uint8_t type; } ace_types[] = {
	{ "A", 0 }, { "D", 1 }, { "AU", 2 }, { "AL", 3 }, { "OA", 5 }, { "OD", 6 }, { "OU", 7 },
	{ "OL", 8 }, { "XA", 9 }, { "XD", 10 }, { "ML", 0x11 },
};

static const struct { const char *code; uint8_t flag; } ace_flags[] = {
	{ "OI", 0x01 }, { "CI", 0x02 }, { "NP", 0x04 }, { "IO", 0x08 }, { "ID", 0x10 },
	{ "SA", 0x40 }, { "FA", 0x80 },
};

/* Whole masks first (printed as one code), then single rights in the
 * order Windows prints them. */
static const struct { const char *code; uint32_t mask; } rights[] = {
	{ "FA", 0x1f01ff }, { "FR", 0x120089 }, { "FW", 0x120116 }, { "FX", 0x1200a0 },
	{ "KA", 0xf003f }, { "KR", 0x20019 }, { "KW", 0x20006 }, { "KX", 0x20019 },
	{ "CC", 0x1 }, { "DC", 0x2 }, { "LC", 0x4 }, { "SW", 0x8 }, { "RP", 0x10 }, { "WP", 0x20 },
	{ "DT", 0x40 }, { "LO", 0x80 }, { "CR", 0x100 }, { "SD", 0x10000 }, { "RC", 0x20000 },
	{ "WD", 0x40000 }, { "WO", 0x80000 }, { "GA", 0x10000000 }, { "GX", 0x20000000 },
	{ "GW", 0x40000000 }, { "GR", 0x80000000 },
};
#define NWHOLE 8
static const struct { const char *code; uint32_t mask; } label_rights[] = {
	{ "NW", 0x1 }, { "NR", 0x2 }, { "NX", 0x4 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- text to descriptor ---- */

struct parse {
	const char *p;
	const char *why;
};

static int fail(struct parse *ps, const char *why)
{
	ps->why = why;
	return -EINVAL;
}

static int parse_sid(struct parse *ps, const char *end, struct lf_sid *out)
{
	char buf[256];
	size_t n = (size_t)(end - ps->p);
	if (n == 0 || n >= sizeof buf)
		return fail(ps, "a SID is empty or too long");
	memcpy(buf, ps->p, n);
	buf[n] = 0;
	ps->p = end;
	for (size_t i = 0; i < N(sid_alias); i++)
		if (!strcmp(buf, sid_alias[i].alias))
			return lf_sid_from_text(sid_alias[i].sid, out);
	return lf_sid_from_text(buf, out) ? fail(ps, "a SID is neither S-1-... nor a known alias") : 0;
}

static int parse_mask(struct parse *ps, const char *end, int label, uint32_t *out)
{
	const char *p = ps->p;
	*out = 0;
	if (p < end && isdigit((unsigned char)*p)) {
		char *e;
		errno = 0;
		unsigned long long v = strtoull(p, &e, 0);
		if (errno || e != end || v > UINT32_MAX)
			return fail(ps, "a rights number is malformed");
		*out = (uint32_t)v;
		return 0;
	}
	while (p < end) {
		int found = 0;
		for (size_t i = 0; !found && i < (label ? N(label_rights) : N(rights)); i++) {
			const char *c = label ? label_rights[i].code : rights[i].code;
			if (end - p >= 2 && !strncmp(p, c, 2)) {
				*out |= label ? label_rights[i].mask : rights[i].mask;
				found = 1;
			}
		}
		if (!found)
			return fail(ps, "unknown rights code");
		p += 2;
	}
	return 0;
}

/* One "(type;flags;rights;guid;iguid;sid)"; ps->p at '('. */
static int parse_ace(struct parse *ps, struct sd_build *b)
{
	const char *f[6];
	size_t flen[6];
	const char *p = ps->p + 1;
	for (int i = 0; i < 6; i++) {
		const char *e = p + strcspn(p, i < 5 ? ";)" : ";)");
		if (!*e || (i < 5 && *e != ';'))
			return fail(ps, "an ACE has too few fields");
		f[i] = p;
		flen[i] = (size_t)(e - p);
		p = e + 1;
		if (i == 5 && *e == ';')      /* resource attribute: not supported */
			return fail(ps, "conditional and attribute ACEs are not supported");
	}
	ps->p = p;
	int type = -1;
	for (size_t i = 0; i < N(ace_types); i++)
		if (strlen(ace_types[i].code) == flen[0] && !strncmp(f[0], ace_types[i].code, flen[0]))
			type = ace_types[i].type;
	if (type < 0)
		return fail(ps, "unknown ACE type");
	if ((type >= 5 && type <= 10) || flen[3] || flen[4])
		return fail(ps, "object and callback ACEs are not supported");
	uint8_t flags = 0;
	for (size_t at = 0; at < flen[1]; at += 2) {
		int found = 0;
		for (size_t i = 0; !found && i < N(ace_flags); i++)
			if (flen[1] - at >= 2 && !strncmp(f[1] + at, ace_flags[i].code, 2)) {
				flags |= ace_flags[i].flag;
				found = 1;
			}
		if (!found)
			return fail(ps, "unknown ACE flag");
	}
	uint32_t mask;
	struct lf_sid sid;
	struct parse sub = { f[2], NULL };
	if (parse_mask(&sub, f[2] + flen[2], type == 0x11, &mask))
		return fail(ps, sub.why);
	sub.p = f[5];
	if (parse_sid(&sub, f[5] + flen[5], &sid))
		return fail(ps, sub.why);
	return sd_build_add(b, (uint8_t)type, flags, mask, &sid) ? fail(ps, "out of memory") : 0;
}

/* "D:" or "S:" flags and ACEs, up to the next section. */
static int parse_acl(struct parse *ps, struct sd_build *b, uint16_t *control, int sacl)
{
	static const struct { const char *code; uint16_t d, s; } cflags[] = {
		{ "P", 0x1000, 0x2000 }, { "AI", 0x0400, 0x0800 }, { "AR", 0x0100, 0x0200 },
	};
	*control |= sacl ? LF_SE_SACL_PRESENT : LF_SE_DACL_PRESENT;
	while (*ps->p && *ps->p != '(' && ps->p[1] != ':') {
		if (!strncmp(ps->p, "NO_ACCESS_CONTROL", 17)) {
			b->dacl_null = 1;
			ps->p += 17;
			continue;
		}
		int found = 0;
		for (size_t i = 0; !found && i < N(cflags); i++) {
			size_t n = strlen(cflags[i].code);
			if (!strncmp(ps->p, cflags[i].code, n) && ps->p[n] != ':') {
				*control |= sacl ? cflags[i].s : cflags[i].d;
				ps->p += n;
				found = 1;
			}
		}
		if (!found)
			return fail(ps, "unknown ACL flag");
	}
	while (*ps->p == '(')
		if (parse_ace(ps, b))
			return -EINVAL;
	return 0;
}

int lf_sd_from_sddl(const char *sddl, uint8_t **out, size_t *outlen, const char **why)
{
	struct parse ps = { sddl, NULL };
	struct sd_build b = { 0 }, sacl = { 0 };
	uint16_t control = 0;
	int rc = 0;
	uint8_t *sacl_bytes = NULL;
	while (!rc && *ps.p) {
		while (isspace((unsigned char)*ps.p))
			ps.p++;
		if (!*ps.p)
			break;
		char sect = ps.p[0];
		if (ps.p[1] != ':') {
			rc = fail(&ps, "expected O:, G:, D: or S:");
			break;
		}
		ps.p += 2;
		if (sect == 'O' || sect == 'G') {
			const char *e = ps.p;
			while (*e && !(isupper((unsigned char)e[0]) && e[1] == ':'))
				e++;
			rc = parse_sid(&ps, e, sect == 'O' ? &b.owner : &b.group);
			*(sect == 'O' ? &b.has_owner : &b.has_group) = 1;
		} else if (sect == 'D') {
			rc = parse_acl(&ps, &b, &control, 0);
		} else if (sect == 'S') {
			rc = parse_acl(&ps, &sacl, &control, 1);
		} else {
			rc = fail(&ps, "expected O:, G:, D: or S:");
		}
	}
	if (!rc && (control & LF_SE_SACL_PRESENT) && !sacl.dacl_null) {
		size_t n = acl_size(sacl.aces, sacl.n);
		if (n > 0xffff || !(sacl_bytes = malloc(n))) {
			rc = fail(&ps, "the SACL is too big");
		} else {
			acl_write(sacl.aces, sacl.n, sacl_bytes);
			b.sacl = sacl_bytes;
			b.sacl_len = n;
		}
	}
	sd_build_free(&sacl);
	b.control = control;
	if (!rc)
		rc = sd_build_done(&b, out, outlen);
	else
		sd_build_free(&b);
	free(sacl_bytes);
	if (rc && why)
		*why = ps.why ? ps.why : "out of memory";
	return rc;
}

/* ---- descriptor to text ---- */

struct text {
	char *s;
	size_t n, cap;
	int oom;
};

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0 || t->oom)
			return;
		if (t->s && t->n + (size_t)k < t->cap) {
			t->n += (size_t)k;
			return;
		}
		size_t cap = (t->cap ? t->cap * 2 : 256) + (size_t)k;
		char *s = realloc(t->s, cap);
		if (!s) {
			t->oom = 1;
			return;
		}
		t->s = s;
		t->cap = cap;
	}
}

static void put_sid(struct text *t, const struct lf_sid *sid)
{
	char buf[200];
	lf_sid_to_text(sid, buf, sizeof buf);
	for (size_t i = 0; i < N(sid_alias); i++)
		if (!strcmp(buf, sid_alias[i].sid)) {
			text_printf(t, "%s", sid_alias[i].alias);
			return;
		}
	text_printf(t, "%s", buf);
}

static void put_mask(struct text *t, uint32_t mask, int label)
{
	if (label) {
		uint32_t known = 0;
		for (size_t i = 0; i < N(label_rights); i++)
			known |= label_rights[i].mask;
		if (mask && !(mask & ~known)) {
			for (size_t i = 0; i < N(label_rights); i++)
				if (mask & label_rights[i].mask)
					text_printf(t, "%s", label_rights[i].code);
			return;
		}
	} else {
		for (size_t i = 0; i < NWHOLE; i++)
			if (mask == rights[i].mask) {
				text_printf(t, "%s", rights[i].code);
				return;
			}
		uint32_t known = 0;
		for (size_t i = NWHOLE; i < N(rights); i++)
			known |= rights[i].mask;
		if (mask && !(mask & ~known)) {
			for (size_t i = NWHOLE; i < N(rights); i++)
				if (mask & rights[i].mask)
					text_printf(t, "%s", rights[i].code);
			return;
		}
	}
	text_printf(t, "0x%x", mask);
}

static void put_guid(struct text *t, const uint8_t *g)
{
	if (!g)
		return;
	text_printf(t, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12],
	    g[13], g[14], g[15]);
}

static void put_acl(struct text *t, const struct sd_view *v, uint32_t off, int sacl)
{
	uint16_t c = v->control;
	if (c & (sacl ? 0x2000 : 0x1000))
		text_printf(t, "P");
	if (c & (sacl ? 0x0200 : 0x0100))
		text_printf(t, "AR");
	if (c & (sacl ? 0x0800 : 0x0400))
		text_printf(t, "AI");
	if (!off) {
		text_printf(t, "NO_ACCESS_CONTROL");
		return;
	}
	struct ace_it it;
	struct ace a;
	acl_begin(v, off, &it);
	while (ace_next(&it, &a)) {
		const char *type = NULL;
		for (size_t i = 0; i < N(ace_types); i++)
			if (ace_types[i].type == a.type)
				type = ace_types[i].code;
		if (type)
			text_printf(t, "(%s;", type);
		else
			text_printf(t, "(0x%02x;", a.type);
		for (size_t i = 0; i < N(ace_flags); i++)
			if (a.flags & ace_flags[i].flag)
				text_printf(t, "%s", ace_flags[i].code);
		text_printf(t, ";");
		put_mask(t, a.mask, a.type == 0x11);
		text_printf(t, ";");
		put_guid(t, a.guid);
		text_printf(t, ";");
		put_guid(t, a.iguid);
		text_printf(t, ";");
		if (a.has_sid)
			put_sid(t, &a.sid);
		text_printf(t, ")");
	}
}

int lf_sd_to_sddl(const uint8_t *sd, size_t len, char **out)
{
	struct sd_view v;
	if (sd_view(sd, len, &v, NULL))
		return -EINVAL;
	struct text t = { 0 };
	struct lf_sid s;
	text_printf(&t, "%s", "");
	if (v.owner && lf_sid_read(sd + v.owner, len - v.owner, &s) > 0) {
		text_printf(&t, "O:");
		put_sid(&t, &s);
	}
	if (v.group && lf_sid_read(sd + v.group, len - v.group, &s) > 0) {
		text_printf(&t, "G:");
		put_sid(&t, &s);
	}
	if (v.control & LF_SE_DACL_PRESENT) {
		text_printf(&t, "D:");
		put_acl(&t, &v, v.dacl, 0);
	}
	if (v.control & LF_SE_SACL_PRESENT) {
		text_printf(&t, "S:");
		put_acl(&t, &v, v.sacl, 1);
	}
	if (t.oom) {
		free(t.s);
		return -ENOMEM;
	}
	*out = t.s;
	return 0;
}
