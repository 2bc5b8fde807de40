/* The registry engine: merge rules, and the compact writer read back by
 * hivex (through lf_hive_load). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layerfs/hive.h"

#define REG_SZ 1
#define REG_BINARY 3
#define REG_DWORD 4
#define REG_MULTI_SZ 7

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

int main(void)
{
	const TTest *const tests[] = { merge_rules, writer_round_trip };
	return th_run_suite("reg", tests, sizeof tests / sizeof tests[0]);
}
