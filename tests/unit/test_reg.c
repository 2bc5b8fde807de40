/* The registry engine: merge rules, and the compact writer read back by
 * hivex (through lf_hive_load). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "helpers.h"
#include "layerfs/hive.h"
#include "layerfs/layer.h"
#include "layerfs/regview.h"


/* KEY\\KEY... made as needed under root. */
static struct lf_rkey *mk(struct lf_rkey *root, const char *path)
{
	char copy[512];
	snprintf(copy, sizeof copy, "%s", path);
	struct lf_rkey *k = root;
	for (char *save, *c = strtok_r(copy, "\\", &save); c; c = strtok_r(NULL, "\\", &save)) {
		struct lf_rkey *n = lf_rkey_find(k, c);
		if (!n) {
			n = lf_rkey_new(c, 1000);
			ck_assert_ptr_nonnull(n);
			ck_assert_int_eq(lf_rkey_add(k, n), 0);
		}
		k = n;
	}
	return k;
}

/* A UTF-16LE string value from ASCII (sep '\n' becomes NUL: MULTI_SZ). */
static void setstr(struct lf_rkey *k, const char *name, uint32_t type, const char *s)
{
	uint8_t buf[512] = {0};
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		buf[2 * i] = (uint8_t)(s[i] == '\n' ? 0 : s[i]);
	size_t len = 2 * n + 2 + (type == REG_MULTI_SZ ? 2 : 0);
	ck_assert_int_eq(lf_rkey_set(k, name, type, buf, (uint32_t)len), 0);
}

/* The value as ASCII, NULs shown as '\n', the closing ones dropped. */
static const char *getstr(struct lf_rkey *k, const char *name)
{
	static char out[512];
	struct lf_rval *v = lf_rval_find(k, name);
	ck_assert_msg(v != NULL, "no value %s", name);
	size_t o = 0;
	for (uint32_t i = 0; i + 1 < v->len && o < sizeof out - 1; i += 2)
		out[o++] = v->data[i] ? (char)v->data[i] : '\n';
	while (o && out[o - 1] == '\n')
		o--;
	out[o] = 0;
	return out;
}

static uint32_t dword(struct lf_rkey *k, const char *name)
{
	struct lf_rval *v = lf_rval_find(k, name);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->len, 4);
	return (uint32_t)(v->data[0] | v->data[1] << 8 | v->data[2] << 16 | (uint32_t)v->data[3] << 24);
}

static void setdword(struct lf_rkey *k, const char *name, uint32_t x)
{
	uint8_t b[4] = { (uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24) };
	ck_assert_int_eq(lf_rkey_set(k, name, REG_DWORD, b, 4), 0);
}

START_TEST(merge_rules)
{
	struct lf_rkey *os = lf_rkey_new("ROOT", 1), *app = lf_rkey_new("ROOT", 2);
	const char *env = "ControlSet001\\Control\\Session Manager\\Environment";
	setdword(mk(os, "Software\\App"), "Ver", 1);
	setdword(mk(app, "SOFTWARE\\app"), "VER", 2);
	setstr(mk(os, "Software\\App"), "List", REG_MULTI_SZ, "a\nB");
	setstr(mk(app, "Software\\App"), "list", REG_MULTI_SZ, "b\nc");
	setstr(mk(os, env), "Path", REG_SZ, "C:\\Windows;C:\\Tools");
	setstr(mk(app, env), "PATH", REG_SZ, "c:\\tools;D:\\App");
	setstr(mk(os, "Software\\Other"), "Path", REG_SZ, "C:\\old");
	setstr(mk(app, "Software\\Other"), "Path", REG_SZ, "C:\\new");
	mk(os, "Software\\Old\\Deep");
	mk(app, "Software\\.wh.OLD");
	setdword(mk(os, "Software\\App"), "X", 5);
	setdword(mk(app, "Software\\App"), ".wh.x", 0);
	setdword(mk(os, "Software\\Opaque"), "Gone", 1);
	mk(os, "Software\\Opaque\\GoneKey");
	setdword(mk(app, "Software\\OPAQUE"), ".wh..wh..opq", 0);
	setdword(mk(app, "Software\\OPAQUE"), "Kept", 3);

	struct lf_rkey *r = lf_rkey_new("ROOT", 0);
	ck_assert_int_eq(lf_hive_merge(r, os, NULL), 0);
	ck_assert_int_eq(lf_hive_merge(r, app, NULL), 0);
	struct lf_rkey *sw = lf_rkey_find(r, "software");
	ck_assert_ptr_nonnull(sw);
	ck_assert_str_eq(sw->name, "SOFTWARE");      /* the higher layer's spelling */
	ck_assert_uint_eq(r->nsub, 2);                /* Software, ControlSet001: one each */
	struct lf_rkey *a = lf_rkey_find(sw, "APP");
	ck_assert_uint_eq(dword(a, "ver"), 2);        /* higher wins, one value */
	ck_assert_str_eq(getstr(a, "List"), "a\nB\nc"); /* union, lower first, no b */
	ck_assert_ptr_null(lf_rval_find(a, "X"));      /* value marker */
	ck_assert_ptr_null(lf_rval_find(a, ".wh.x"));
	ck_assert_str_eq(getstr(mk(r, env), "Path"), "C:\\Windows;C:\\Tools;D:\\App");
	ck_assert_str_eq(getstr(lf_rkey_find(sw, "Other"), "Path"), "C:\\new"); /* no rule */
	ck_assert_ptr_null(lf_rkey_find(sw, "Old"));  /* key marker */
	ck_assert_ptr_null(lf_rkey_find(sw, ".wh.OLD"));
	struct lf_rkey *op = lf_rkey_find(sw, "Opaque");
	ck_assert_ptr_null(lf_rval_find(op, "Gone"));
	ck_assert_ptr_null(lf_rkey_find(op, "GoneKey"));
	ck_assert_ptr_null(lf_rval_find(op, ".wh..wh..opq"));
	ck_assert_uint_eq(dword(op, "Kept"), 3);
	ck_assert(a->mtime == 2 || a->mtime == 1000);
	lf_rkey_free(os);
	lf_rkey_free(app);
	lf_rkey_free(r);
}
END_TEST

START_TEST(writer_round_trip)
{
	struct lf_hive h = { .root = lf_rkey_new("ROOT", 132000000000000000ll),
			     .mtime = 132000000000000000ll };
	struct lf_rkey *k = mk(h.root, "Software\\Caf\xc3\xa9\\\xd0\x9a\xd0\xbb\xd1\x8e\xd1\x87");
	setdword(k, "", 7);                           /* the default value */
	setstr(k, "Name \xc3\xa9", REG_SZ, "text");
	uint8_t *big = malloc(40000);
	for (int i = 0; i < 40000; i++)
		big[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(lf_rkey_set(k, "Big", REG_BINARY, big, 40000), 0);
	ck_assert_int_eq(lf_rkey_set(k, "Empty", REG_BINARY, "", 0), 0);
	for (int i = 0; i < 1100; i++) {              /* more than one lh list */
		char n[32];
		snprintf(n, sizeof n, "Sub%04d", i);
		mk(h.root, "Many")->mtime = 5;
		mk(mk(h.root, "Many"), n);
	}
	uint8_t sd[] = { 1, 0, 4, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9 };
	k->sd = malloc(sizeof sd);
	memcpy(k->sd, sd, sizeof sd);
	k->sdlen = sizeof sd;
	struct lf_err err = {0};
	ck_assert_msg(lf_hive_write(&h, th_path("out.hive"), &err) == 0, "%s", err.msg);

	struct lf_hive *back = NULL;
	ck_assert_msg(lf_hive_load(th_path("out.hive"), &back, &err) == 0, "%s", err.msg);
	struct lf_rkey *b = mk(back->root, "software\\CAF\xc3\x89\\\xd0\x9a\xd0\xbb\xd1\x8e\xd1\x87");
	ck_assert_str_eq(lf_rkey_find(back->root, "Software")->sub[0]->name, "Caf\xc3\xa9");
	ck_assert_uint_eq(dword(b, ""), 7);
	ck_assert_str_eq(getstr(b, "name \xc3\xa9"), "text");
	struct lf_rval *v = lf_rval_find(b, "Big");
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->len, 40000);
	ck_assert_int_eq(memcmp(v->data, big, 40000), 0);
	ck_assert_uint_eq(lf_rval_find(b, "Empty")->len, 0);
	ck_assert_uint_eq(lf_rkey_find(back->root, "Many")->nsub, 1100);
	ck_assert_ptr_nonnull(lf_rkey_find(lf_rkey_find(back->root, "many"), "SUB1099"));
	ck_assert_uint_eq(b->sdlen, sizeof sd);
	ck_assert_int_eq(memcmp(b->sd, sd, sizeof sd), 0);
	ck_assert(b->mtime == 1000);
	ck_assert_uint_eq(back->nkeys, 4 + 1 + 1100);
	free(big);
	lf_hive_free(back);
	lf_rkey_free(h.root);
}
END_TEST

/* Every name (any bytes but NUL) comes back from its file name, and no
 * file name holds '/' or is "." or "..". */
START_TEST(names_round_trip)
{
	uint8_t raw[64];
	for (int round = 0; round < 20000; round++) {
		th_fill_random(raw, sizeof raw, (uint64_t)round);
		size_t n = raw[0] % 12;
		char name[16];
		for (size_t i = 0; i < n; i++) {
			/* mostly the awkward bytes */
			static const char pick[] = "/%.@v\n\x01" "ab";
			name[i] = raw[i + 1] & 1 ? pick[raw[i + 1] % (sizeof pick - 1)] : (char)(raw[i + 1] | 1);
		}
		name[n] = 0;
		int is_value = round & 1, mark = round & 2 && n;
		char f[128], back[64];
		ck_assert_int_gt(lf_regname_encode(name, is_value, mark, f, sizeof f), 0);
		ck_assert_ptr_null(strchr(f, '/'));
		ck_assert(strcmp(f, ".") && strcmp(f, ".."));
		int m, def;
		ck_assert_int_eq(lf_regname_decode(f, back, sizeof back, &m, &def), 0);
		ck_assert_str_eq(back, name);
		ck_assert_int_eq(m, mark);
		ck_assert_int_eq(def, is_value && !n);
	}
	int m, def;
	char back[16];
	ck_assert_int_eq(lf_regname_decode("a%zz", back, sizeof back, &m, &def), -EINVAL);
	ck_assert_int_eq(lf_regname_decode("a%4", back, sizeof back, &m, &def), -EINVAL);
}
END_TEST

/* A NUL inside a key or value name (yarp's BogusKeyNamesHive has
 * "testnu\0l"): kept whole through write, load, regfs names and .reg
 * text; never cut to "testnu". Inside the engine it is the two bytes C0 80. */
START_TEST(nul_in_names)
{
	struct lf_hive h = { .root = lf_rkey_new("ROOT", 132000000000000000ll),
			     .mtime = 132000000000000000ll };
	struct lf_rkey *k = mk(h.root, "testnu\xc0\x80l");
	mk(h.root, "testnu");
	setdword(k, "va\xc0\x80lue", 5);
	mk(h.root, "wide\xc0\x80\xd0\x9a");                 /* UTF-16 with a NUL */
	struct lf_err err = {0};
	ck_assert_msg(lf_hive_write(&h, th_path("nul.hive"), &err) == 0, "%s", err.msg);
	/* on disk: a Latin-1 name with a real NUL in it */
	FILE *f = fopen(th_path("nul.hive"), "rb");
	static uint8_t img[1 << 16];
	size_t n = fread(img, 1, sizeof img, f);
	fclose(f);
	ck_assert_ptr_nonnull(memmem(img, n, "testnu\0l", 8));
	struct lf_hive *back = NULL;
	ck_assert_msg(lf_hive_load(th_path("nul.hive"), &back, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(back->root->nsub, 3);
	struct lf_rkey *b = lf_rkey_find(back->root, "testnu\xc0\x80l");
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(lf_rkey_find(back->root, "testnu"));
	ck_assert_ptr_nonnull(lf_rkey_find(back->root, "wide\xc0\x80\xd0\x9a"));
	ck_assert_uint_eq(dword(b, "va\xc0\x80lue"), 5);
	char fn[64], dec[64];
	int m, def;
	ck_assert_int_gt(lf_regname_encode(b->name, 0, 0, fn, sizeof fn), 0);
	ck_assert_str_eq(fn, "testnu%00l");
	ck_assert_int_eq(lf_regname_decode(fn, dec, sizeof dec, &m, &def), 0);
	ck_assert_str_eq(dec, "testnu\xc0\x80l");
	ck_assert_int_eq(lf_regname_decode("%00", dec, sizeof dec, &m, &def), 0);
	ck_assert_str_eq(dec, "");                               /* the empty name still */
	/* .reg text and back: the same names */
	char *text = NULL;
	size_t tlen;
	ck_assert_int_eq(lf_reg_export(back->root, "HKEY_LOCAL_MACHINE\\SOFTWARE", 1, &text, &tlen), 0);
	struct lf_rkey *again = lf_rkey_new("ROOT", 0);
	ck_assert_msg(lf_reg_import(again, "HKEY_LOCAL_MACHINE\\SOFTWARE", text, tlen, "nul.reg", &err) == 0,
		      "%s", err.msg);
	ck_assert_ptr_nonnull(lf_rkey_find(again, "testnu\xc0\x80l"));
	ck_assert_ptr_nonnull(lf_rkey_find(again, "wide\xc0\x80\xd0\x9a"));
	free(text);
	lf_rkey_free(again);
	lf_hive_free(back);
	lf_rkey_free(h.root);
}
END_TEST

/* A value's text parses back to the same bytes when it is the typed form. */
START_TEST(text_round_trip)
{
	static const struct { uint32_t type; const char *hex; const char *text; } cases[] = {
		{ REG_SZ, "610062000000", "ab\n" },
		{ REG_SZ, "0000", "\n" },
		{ REG_EXPAND_SZ, "2500500025000000", "%P%\n" },
		{ REG_DWORD, "2a000000", "42\n" },
		{ REG_DWORD_BIG_ENDIAN, "0000002a", "42\n" },
		{ REG_QWORD, "0000000001000000", "4294967296\n" },
		{ REG_MULTI_SZ, "61000000620000000000", "a\nb\n" },
		{ REG_MULTI_SZ, "0000", "" },
		{ REG_SZ, "0a000000", "\n\n" },
		{ REG_BINARY, "00ff", NULL },
		{ REG_SZ, "610062", NULL },       /* no terminator: raw */
		{ REG_DWORD, "2a00", NULL },       /* short: raw */
		{ REG_MULTI_SZ, "6100000000000000620000000000", NULL }, /* an empty string inside */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		uint8_t d[64];
		size_t n = strlen(cases[i].hex) / 2;
		for (size_t k = 0; k < n; k++)
			sscanf(cases[i].hex + 2 * k, "%2hhx", &d[k]);
		char *text;
		size_t tl;
		ck_assert_int_eq(lf_regval_text(cases[i].type, d, (uint32_t)n, &text, &tl), 0);
		if (cases[i].text) {
			ck_assert_msg(lf_regval_is_text(cases[i].type, d, (uint32_t)n) == 1, "case %zu", i);
			ck_assert_uint_eq(tl, strlen(cases[i].text));
			ck_assert(memcmp(text, cases[i].text, tl) == 0);
		} else {
			ck_assert_int_eq(lf_regval_is_text(cases[i].type, d, (uint32_t)n), 0);
			ck_assert_uint_eq(tl, n);
		}
		uint8_t *back;
		uint32_t bl;
		if (cases[i].text) {
			ck_assert_int_eq(lf_regval_parse(cases[i].type, text, tl, &back, &bl), 0);
			ck_assert_uint_eq(bl, n);
			ck_assert(memcmp(back, d, n) == 0);
			free(back);
		}
		free(text);
	}
	uint8_t *b;
	uint32_t bl;
	ck_assert_int_eq(lf_regval_parse(REG_DWORD, "x1\n", 3, &b, &bl), -EINVAL);
	ck_assert_int_eq(lf_regval_parse(REG_DWORD, "4294967296", 10, &b, &bl), -EINVAL);
	ck_assert_int_eq(lf_regval_parse(REG_SZ, "a\0b", 3, &b, &bl), -EINVAL);
	uint32_t t;
	ck_assert_int_eq(lf_regtype_parse("dword", 5, &t), 0);
	ck_assert_uint_eq(t, REG_DWORD);
	ck_assert_int_eq(lf_regtype_parse("0x20\n", 5, &t), 0);
	ck_assert_uint_eq(t, 0x20);
	ck_assert_int_eq(lf_regtype_parse("REG_NOPE", 8, &t), -EINVAL);
}
END_TEST

static int count_entry(void *ctx, const char *name, const struct stat *st)
{
	(void)name;
	(void)st;
	++*(int *)ctx;
	return 0;
}

/* The view's changes: what shows, and the fragment's markers. */
START_TEST(view_changes)
{
	struct lf_hive *low = calloc(1, sizeof *low);
	low->root = lf_rkey_new("ROOT", 1000);
	setstr(mk(low->root, "A\\B"), "v", REG_SZ, "lower");
	setdword(mk(low->root, "A"), "keep", 1);
	mk(low->root, "Gone");
	struct lf_regview *v;
	struct lf_err err = {0};
	ck_assert_int_eq(lf_regview_new(NULL, NULL, NULL, &v), 0);
	const char *frag = th_path("frag/SOFTWARE");
	ck_assert_int_eq(lf_regview_add(v, "HKLM/SOFTWARE", low, frag, &err), 0);
	ck_assert_int_eq(lf_regview_write(v, "/HKLM/SOFTWARE/A/keep", "7\n", 2), 0);
	ck_assert_int_eq(lf_regview_create(v, 0, "/HKLM/SOFTWARE/A/new", NULL), 0);
	ck_assert_int_eq(lf_regview_create(v, 0, "/HKLM/SOFTWARE/A/new", NULL), -EEXIST);
	ck_assert_int_eq(lf_regview_create(v, 0, "/HKLM/SOFTWARE/A/.wh.x", NULL), -EINVAL);
	ck_assert_int_eq(lf_regview_unlink(v, 0, "/HKLM/SOFTWARE/A/B/v"), 0);
	ck_assert_int_eq(lf_regview_rmdir(v, 0, "/HKLM/SOFTWARE/A"), -ENOTEMPTY);
	ck_assert_int_eq(lf_regview_rmdir(v, 0, "/HKLM/SOFTWARE/Gone"), 0);
	ck_assert_int_eq(lf_regview_mkdir(v, 0, "/HKLM/SOFTWARE/Gone", NULL), 0);
	ck_assert_int_eq(lf_regview_mkdir(v, 0, "/HKLM/SOFTWARE/A/b", NULL), -EEXIST);
	ck_assert_int_eq(lf_regview_rename(v, 0, "/HKLM/SOFTWARE/A/B", "/HKLM/SOFTWARE/C", 0), 0);
	ck_assert_int_eq(lf_regview_rename(v, 0, "/HKLM/SOFTWARE/C", "/HKLM/SOFTWARE/C/D", 0), -EINVAL);
	ck_assert_int_eq(lf_regview_setxattr(v, 0, "/HKLM/SOFTWARE/A/keep", LF_REG_TYPE_XATTR,
					     "REG_SZ", 6), 0);
	char *text;
	size_t tl;
	ck_assert_int_eq(lf_regview_read(v, "/HKLM/SOFTWARE/A/keep", &text, &tl), 0);
	ck_assert(tl == 2 && !memcmp(text, "7\n", 2));
	free(text);
	int n = 0;
	ck_assert_int_eq(lf_regview_list(v, "/HKLM/SOFTWARE", count_entry, &n), 0);
	ck_assert_int_eq(n, 3);  /* A, C, Gone */
	lf_regview_free(v);

	struct lf_hive *f;
	ck_assert_int_eq(lf_hive_load(frag, &f, &err), 0);
	ck_assert_ptr_nonnull(lf_rkey_find(mk(f->root, "A"), ".wh.B"));
	ck_assert_ptr_nonnull(lf_rval_find(mk(f->root, "Gone"), LF_OPAQUE_NAME));
	ck_assert_ptr_null(lf_rkey_find(f->root, ".wh.Gone"));
	ck_assert_ptr_nonnull(lf_rkey_find(f->root, "C"));
	ck_assert_str_eq(getstr(mk(f->root, "A"), "keep"), "7");
	lf_hive_free(f);
}
END_TEST

/* The lookup index stays true as keys are appended one by one (it grows
 * in place), removed and respelt. */
START_TEST(index_follows_changes)
{
	struct lf_rkey *k = lf_rkey_new("ROOT", 0);
	char n[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(n, sizeof n, "Key%d", i);
		ck_assert_int_eq(lf_rkey_add(k, lf_rkey_new(n, 0)), 0);
		snprintf(n, sizeof n, "KEY%d", i / 2);
		ck_assert_ptr_nonnull(lf_rkey_find(k, n));
	}
	for (int i = 0; i < 3000; i += 3) {
		snprintf(n, sizeof n, "key%d", i);
		lf_rkey_remove(k, n);
	}
	ck_assert_uint_eq(k->nsub, 2000);
	for (int i = 0; i < 3000; i++) {
		snprintf(n, sizeof n, "kEy%d", i);
		struct lf_rkey *f = lf_rkey_find(k, n);
		ck_assert_msg((f == NULL) == (i % 3 == 0), "%s", n);
		if (f)
			ck_assert_int_eq(strcasecmp(f->name, n), 0);
	}
	lf_rkey_free(k);
}
END_TEST

/* Two views on one frozen hive: each change copies only the keys on its
 * path, the other view and the hive itself still show the layers as they
 * are; big keys stay searchable, descriptors are stored once. */
START_TEST(views_share_a_frozen_hive)
{
	struct lf_hive *low = calloc(1, sizeof *low);
	low->root = lf_rkey_new("ROOT", 1000);
	char n[32];
	static const uint8_t sd[] = { 1, 0, 4, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	for (int i = 0; i < 40; i++) {
		snprintf(n, sizeof n, "Key%d", i);
		struct lf_rkey *k = mk(low->root, n);
		k->sd = malloc(sizeof sd);
		memcpy(k->sd, sd, sizeof sd);
		k->sdlen = sizeof sd;
		snprintf(n, sizeof n, "Val%d", i);
		setdword(mk(low->root, "Many"), n, (uint32_t)i);
	}
	setstr(mk(low->root, "Key7\\Deep\\Deeper"), "v", REG_SZ, "lower");
	ck_assert_int_eq(lf_hive_freeze(low), 0);
	ck_assert(low->root->frozen && mk(low->root, "Key7\\Deep")->frozen);
	ck_assert_ptr_eq(mk(low->root, "KEY3")->sd, mk(low->root, "key39")->sd);
	ck_assert_uint_eq(dword(mk(low->root, "many"), "VAL33"), 33);

	struct lf_regview *a, *b;
	struct lf_err err = {0};
	ck_assert_int_eq(lf_regview_new(NULL, NULL, NULL, &a), 0);
	ck_assert_int_eq(lf_regview_new(NULL, NULL, NULL, &b), 0);
	ck_assert_int_eq(lf_regview_add(a, "HKLM/SOFTWARE", lf_hive_ref(low), th_path("fa/SOFTWARE"),
					&err), 0);
	ck_assert_int_eq(lf_regview_add(b, "HKLM/SOFTWARE", low, th_path("fb/SOFTWARE"), &err), 0);
	ck_assert_int_eq(lf_regview_write(a, "/HKLM/SOFTWARE/Key7/Deep/Deeper/v", "mine\n", 5), 0);
	ck_assert_int_eq(lf_regview_unlink(a, 0, "/HKLM/SOFTWARE/Many/Val5"), 0);
	ck_assert_int_eq(lf_regview_rename(a, 0, "/HKLM/SOFTWARE/Key8", "/HKLM/SOFTWARE/Key7/Moved", 0), 0);
	ck_assert_int_eq(lf_regview_rmdir(a, 0, "/HKLM/SOFTWARE/Key9"), 0);
	char *text;
	size_t tl;
	ck_assert_int_eq(lf_regview_read(a, "/HKLM/SOFTWARE/Key7/Deep/Deeper/v", &text, &tl), 0);
	ck_assert(tl == 5 && !memcmp(text, "mine\n", 5));
	free(text);
	ck_assert_int_eq(lf_regview_read(b, "/HKLM/SOFTWARE/key7/deep/deeper/V", &text, &tl), 0);
	ck_assert(tl == 6 && !memcmp(text, "lower\n", 6));
	free(text);
	struct stat st;
	ck_assert_int_eq(lf_regview_stat(a, "/HKLM/SOFTWARE/Many/Val5", &st), -ENOENT);
	ck_assert_int_eq(lf_regview_stat(b, "/HKLM/SOFTWARE/Many/Val5", &st), 0);
	ck_assert_int_eq(lf_regview_stat(a, "/HKLM/SOFTWARE/Key7/Moved", &st), 0);
	ck_assert_int_eq(lf_regview_stat(a, "/HKLM/SOFTWARE/Key8", &st), -ENOENT);
	ck_assert_int_eq(lf_regview_stat(b, "/HKLM/SOFTWARE/Key8", &st), 0);
	ck_assert_int_eq(lf_regview_stat(b, "/HKLM/SOFTWARE/Key9", &st), 0);
	ck_assert_int_eq(lf_regview_stat(b, "/HKLM/SOFTWARE/Key7/Moved", &st), -ENOENT);
	lf_regview_free(a);
	/* b still reads the shared hive after a is gone */
	ck_assert_int_eq(lf_regview_stat(b, "/HKLM/SOFTWARE/Key39", &st), 0);
	lf_regview_free(b);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = { merge_rules, writer_round_trip, names_round_trip,
				       text_round_trip, view_changes, index_follows_changes,
				       views_share_a_frozen_hive, nul_in_names };
	return th_run_suite("reg", tests, sizeof tests / sizeof tests[0]);
}
