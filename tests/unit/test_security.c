/* Windows security: the access-check table (hand-built descriptors
 * against the rights several tokens get), inheritance for new objects,
 * SDDL both ways, and hostile descriptor bytes. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "layerfs/security.h"

#define USER "S-1-5-21-1-2-3-1001"

static uint8_t *sd_of(const char *sddl, size_t *len)
{
	uint8_t *sd = NULL;
	const char *why = NULL;
	int rc = lf_sd_from_sddl(sddl, &sd, len, &why);
	ck_assert_msg(rc == 0, "%s: %s", sddl, why ? why : "?");
	ck_assert_int_eq(lf_sd_check(sd, *len, &why), 0);
	return sd;
}

static char *sddl_of(const uint8_t *sd, size_t len)
{
	char *s = NULL;
	ck_assert_int_eq(lf_sd_to_sddl(sd, len, &s), 0);
	return s;
}

enum { T_USER, T_OTHER, T_ADMIN, T_SYSTEM, NTOK };

static void tokens(struct lf_token *t)
{
	struct lf_sid u, o;
	ck_assert_int_eq(lf_sid_from_text(USER, &u), 0);
	ck_assert_int_eq(lf_sid_from_text("S-1-5-21-1-2-3-1002", &o), 0);
	ck_assert_int_eq(lf_token_user(&t[T_USER], &u, 0), 0);
	ck_assert_int_eq(lf_token_user(&t[T_OTHER], &o, 0), 0);
	ck_assert_int_eq(lf_token_user(&t[T_ADMIN], &o, 1), 0);
	lf_token_system(&t[T_SYSTEM]);
}

/* Each row: a descriptor, the object type, and what each token gets. */
static const struct row {
	const char *what, *sddl;
	int key;
	uint32_t want[NTOK];
} table[] = {
	{ "plain allows", "O:BAG:SYD:(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)", 0,
	  { 0x120089, 0x120089, 0x1f01ff, 0x11f01ff } },
	{ "deny first, as stored", "D:(D;;FW;;;" USER ")(A;;FA;;;BU)", 0,
	  { 0x1f01ff & ~0x120116u, 0x1f01ff, 0x1f01ff, 0x11f01ff } },
	{ "allow first, as stored (not canonical: the deny comes too late)",
	  "D:(A;;FA;;;BU)(D;;FW;;;" USER ")", 0, { 0x1f01ff, 0x1f01ff, 0x1f01ff, 0x11f01ff } },
	{ "generic rights mapped", "D:(A;;GR;;;WD)(A;;GXGW;;;BA)", 0,
	  { 0x120089, 0x120089, 0x1201bf, 0x11f01ff } },
	{ "inherit-only ACEs do not apply", "D:(A;OICIIO;FA;;;BU)(A;;FR;;;BU)", 0,
	  { 0x120089, 0x120089, 0x120089, 0x11f01ff } },
	{ "NULL DACL: everything", "O:BAD:NO_ACCESS_CONTROL", 0,
	  { 0x1f01ff, 0x1f01ff, 0x1f01ff, 0x11f01ff } },
	{ "no DACL: everything", "O:BAG:BA", 0, { 0x1f01ff, 0x1f01ff, 0x1f01ff, 0x11f01ff } },
	{ "empty DACL: nothing, but the owner reads and sets it", "O:BAD:", 0,
	  { 0, 0, 0x60000, 0x11f01ff } },
	{ "CREATOR OWNER in an effective ACE matches nobody", "D:(A;;FA;;;CO)", 0,
	  { 0, 0, 0, 0x11f01ff } },
	{ "the owner's implicit READ_CONTROL and WRITE_DAC", "O:" USER "D:(A;;FR;;;BU)", 0,
	  { 0x160089, 0x120089, 0x120089, 0x11f01ff } },
	{ "OWNER RIGHTS replaces them", "O:" USER "D:(A;;FR;;;OW)", 0,
	  { 0x120089, 0, 0, 0x11f01ff } },
	{ "a deny of WRITE_DAC beats the owner's implicit one only if first",
	  "O:" USER "D:(D;;WD;;;" USER ")(A;;FR;;;BU)", 0, { 0x120089 | 0x20000, 0x120089,
	  0x120089, 0x11f01ff } },
	{ "C:\\ (Windows 10): Users read, Authenticated Users add folders only",
	  "O:SYG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)"
	  "(A;OICIIO;SDGXGWGR;;;AU)(A;;LC;;;AU)", 0,
	  { 0x1200ad, 0x1200ad, 0x1f01ff, 0x11f01ff } },
	{ "a key: KEY_READ for users", "D:(A;CI;KR;;;BU)(A;CI;KA;;;BA)(A;CI;KA;;;SY)", 1,
	  { 0x20019, 0x20019, 0xf003f, 0x10f003f } },
	{ "a key, generic", "D:(A;;GR;;;BU)(A;;GA;;;BA)", 1,
	  { 0x20019, 0x20019, 0xf003f, 0x10f003f } },
};

START_TEST(access_table)
{
	struct lf_token t[NTOK];
	tokens(t);
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		size_t len;
		uint8_t *sd = sd_of(table[i].sddl, &len);
		const struct lf_generic_map *m = table[i].key ? &lf_key_map : &lf_file_map;
		for (int k = 0; k < NTOK; k++) {
			uint32_t got = lf_sd_rights(sd, len, &t[k], m);
			ck_assert_msg(got == table[i].want[k], "%s, token %d: 0x%x, want 0x%x",
				      table[i].what, k, got, table[i].want[k]);
		}
		free(sd);
	}
	for (int k = 0; k < NTOK; k++)
		lf_token_free(&t[k]);
}
END_TEST

START_TEST(access_exact_rights)
{
	struct lf_token t[NTOK];
	tokens(t);
	size_t len;
	/* C:\ as Windows 10 ships it: a folder may be made, a file not */
	uint8_t *root = sd_of("O:SYG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)"
			      "(A;OICIIO;SDGXGWGR;;;AU)(A;;LC;;;AU)", &len);
	ck_assert_int_eq(lf_sd_access(root, len, &t[T_USER], &lf_file_map, LF_FILE_ADD_SUBDIRECTORY), 0);
	ck_assert_int_eq(lf_sd_access(root, len, &t[T_USER], &lf_file_map, LF_FILE_ADD_FILE), -EACCES);
	ck_assert_int_eq(lf_sd_access(root, len, &t[T_USER], &lf_file_map, LF_FILE_DELETE_CHILD), -EACCES);
	ck_assert_int_eq(lf_sd_access(root, len, &t[T_ADMIN], &lf_file_map, LF_FILE_ADD_FILE), 0);
	ck_assert_int_eq(lf_sd_access(root, len, &t[T_USER], &lf_file_map, LF_GENERIC_READ), 0);
	ck_assert_int_eq(lf_sd_access(root, len, &t[T_USER], &lf_file_map, LF_GENERIC_WRITE), -EACCES);
	free(root);
	/* append-only: FILE_APPEND_DATA apart from FILE_WRITE_DATA */
	uint8_t *log = sd_of("D:(A;;0x120089;;;BU)(A;;0x4;;;BU)", &len);
	ck_assert_int_eq(lf_sd_access(log, len, &t[T_USER], &lf_file_map, LF_FILE_APPEND_DATA), 0);
	ck_assert_int_eq(lf_sd_access(log, len, &t[T_USER], &lf_file_map, LF_FILE_WRITE_DATA), -EACCES);
	ck_assert_uint_eq(lf_rights_rwx(lf_sd_rights(log, len, &t[T_USER], &lf_file_map), 0), 4);
	ck_assert_uint_eq(lf_rights_rwx(lf_sd_rights(log, len, &t[T_USER], &lf_file_map), 1), 5);
	free(log);
	/* the decision the drive and REG make from rights they remembered */
	ck_assert_int_eq(lf_rights_allow(lf_file_map.read, LF_GENERIC_READ, &lf_file_map), 0);
	ck_assert_int_eq(lf_rights_allow(lf_file_map.read, LF_GENERIC_WRITE, &lf_file_map), -EACCES);
	ck_assert_int_eq(lf_rights_allow(lf_key_map.read, LF_KEY_QUERY_VALUE, &lf_key_map), 0);
	ck_assert_int_eq(lf_rights_allow(lf_key_map.read, LF_KEY_SET_VALUE, &lf_key_map), -EACCES);
	ck_assert_int_eq(lf_rights_allow(0, 0, &lf_file_map), 0);
	for (int k = 0; k < NTOK; k++)
		lf_token_free(&t[k]);
}
END_TEST

START_TEST(inheritance)
{
	struct lf_token t;
	struct lf_sid u;
	ck_assert_int_eq(lf_sid_from_text(USER, &u), 0);
	ck_assert_int_eq(lf_token_user(&t, &u, 0), 0);
	size_t len, n;
	/* a profile folder as Windows makes it, plus a CI-only and an
	 * OI+NP ACE to see them go where Windows sends them */
	uint8_t *parent = sd_of("O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
				"(A;OICI;FA;;;" USER ")(A;CI;LC;;;BU)(A;OINP;FR;;;WD)(A;OI;FR;;;IU)", &len);
	uint8_t *sd;
	ck_assert_int_eq(lf_sd_inherit(parent, len, &t, 0, &lf_file_map, &sd, &n), 0);
	char *s = sddl_of(sd, n);
	ck_assert_str_eq(s, "O:" USER "G:S-1-5-21-1-2-3-513D:AI(A;ID;FA;;;" USER ")(A;ID;FA;;;SY)"
			 "(A;ID;FA;;;BA)(A;ID;FA;;;" USER ")(A;ID;FR;;;WD)(A;ID;FR;;;IU)");
	free(s);
	free(sd);
	ck_assert_int_eq(lf_sd_inherit(parent, len, &t, 1, &lf_file_map, &sd, &n), 0);
	s = sddl_of(sd, n);
	ck_assert_str_eq(s, "O:" USER "G:S-1-5-21-1-2-3-513D:AI(A;ID;FA;;;" USER ")"
			 "(A;OICIIOID;GA;;;CO)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)"
			 "(A;OICIID;FA;;;" USER ")(A;CIID;LC;;;BU)(A;OIIOID;FR;;;IU)");
	free(s);
	free(sd);
	free(parent);
	/* nothing to inherit: the token's default DACL */
	parent = sd_of("O:SYD:(A;;FA;;;SY)", &len);
	ck_assert_int_eq(lf_sd_inherit(parent, len, &t, 0, &lf_file_map, &sd, &n), 0);
	s = sddl_of(sd, n);
	ck_assert_str_eq(s, "O:" USER "G:S-1-5-21-1-2-3-513D:(A;;FA;;;" USER ")(A;;FA;;;SY)");
	free(s);
	free(sd);
	free(parent);
	ck_assert_int_eq(lf_sd_inherit(NULL, 0, &t, 1, &lf_key_map, &sd, &n), 0);
	s = sddl_of(sd, n);
	ck_assert_str_eq(s, "O:" USER "G:S-1-5-21-1-2-3-513D:(A;;KA;;;" USER ")(A;;KA;;;SY)");
	free(s);
	free(sd);
	lf_token_free(&t);
}
END_TEST

START_TEST(from_mode)
{
	uint8_t *sd;
	size_t n;
	ck_assert_int_eq(lf_sd_from_mode(S_IFDIR | 0755, NULL, &sd, &n), 0);
	char *s = sddl_of(sd, n);
	ck_assert_str_eq(s, "O:BAG:BAD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)");
	free(s);
	free(sd);
	ck_assert_int_eq(lf_sd_from_mode(S_IFREG | 0640, NULL, &sd, &n), 0);
	s = sddl_of(sd, n);
	ck_assert_str_eq(s, "O:BAG:BAD:(A;;0x1f019f;;;BA)(A;;0x1f019f;;;SY)");
	free(s);
	free(sd);
	struct lf_sid u;
	ck_assert_int_eq(lf_sid_from_text(USER, &u), 0);
	ck_assert_int_eq(lf_sd_from_mode(S_IFREG | 0404, &u, &sd, &n), 0);
	s = sddl_of(sd, n);
	ck_assert_str_eq(s, "O:" USER "G:" USER "D:(A;;0x1f0089;;;" USER ")(A;;0x1f0089;;;BA)"
			 "(A;;0x1f0089;;;SY)(A;;FR;;;BU)");
	free(s);
	free(sd);
}
END_TEST

START_TEST(sddl_round_trip)
{
	static const char *const texts[] = {
		"O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICIIO;GXGR;;;BU)(A;;0x1200a9;;;BU)",
		"O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
		"G:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
		"D:PAI(A;;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)"
		"(A;;0x1200a9;;;BA)(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BU)(A;;0x1200a9;;;AC)",
		"O:BAD:NO_ACCESS_CONTROL",
		"O:BAG:SYD:(D;;WD;;;WD)(A;CI;KA;;;BA)(A;CIIO;GA;;;CO)S:(ML;;NW;;;ME)(AU;SAFA;FA;;;WD)",
		"D:",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		size_t n;
		uint8_t *sd = sd_of(texts[i], &n);
		char *s = sddl_of(sd, n);
		ck_assert_str_eq(s, texts[i]);
		free(s);
		free(sd);
	}
	static const char *const bad[] = {
		"O:XX", "D:(A;;FA;;)", "D:(Q;;FA;;;SY)", "D:(A;ZZ;FA;;;SY)", "D:(A;;QQ;;;SY)",
		"D:(OA;;FA;bf967aba-0de6-11d0-a285-00aa003049e2;;SY)", "X:SY", "D:(A;;FA;;;S-1-x)",
		"D:(XA;;FA;;;WD;(x))", "O:S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t *sd = NULL;
		size_t n;
		const char *why = NULL;
		ck_assert_msg(lf_sd_from_sddl(bad[i], &sd, &n, &why) == -EINVAL, "%s parsed", bad[i]);
		ck_assert_ptr_nonnull(why);
		ck_assert_ptr_null(sd);
	}
}
END_TEST

START_TEST(hostile_bytes)
{
	struct lf_token t;
	struct lf_sid u;
	ck_assert_int_eq(lf_sid_from_text(USER, &u), 0);
	ck_assert_int_eq(lf_token_user(&t, &u, 0), 0);
	size_t len;
	uint8_t *sd = sd_of("O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;;FR;;;BU)"
			    "S:(ML;;NW;;;ME)", &len);
	uint8_t buf[512];
	/* every truncation, and every byte set to each of a few values:
	 * nothing reads out of bounds (ASan in CI), a bad one grants nothing */
	for (size_t cut = 0; cut < len; cut++) {
		const char *why = NULL;
		ck_assert_int_eq(lf_sd_check(sd, cut, &why), -EINVAL);
		ck_assert_ptr_nonnull(why);
		ck_assert_uint_eq(lf_sd_rights(sd, cut, &t, &lf_file_map), 0);
	}
	static const uint8_t vals[] = { 0, 1, 0x7f, 0x80, 0xff };
	for (size_t at = 0; at < len; at++)
		for (size_t v = 0; v < sizeof vals; v++) {
			memcpy(buf, sd, len);
			buf[at] = vals[v];
			char *s = NULL;
			uint8_t *child = NULL;
			size_t cn;
			(void)lf_sd_rights(buf, len, &t, &lf_file_map);
			if (lf_sd_to_sddl(buf, len, &s) == 0)
				free(s);
			if (lf_sd_inherit(buf, len, &t, 1, &lf_file_map, &child, &cn) == 0) {
				ck_assert_int_eq(lf_sd_check(child, cn, NULL), 0);
				free(child);
			}
		}
	free(sd);
	lf_token_free(&t);
}
END_TEST

START_TEST(usermapping)
{
	static const char text[] = "# ntfs-3g UserMapping\n"
				   "1000::S-1-5-21-1-2-3-1001\r\n"
				   ":100:S-1-5-21-1-2-3-513\n"
				   "\n"
				   "::S-1-5-21-7-8-9-10000   # the pattern\n";
	struct lf_sid s;
	int line = 0;
	char buf[100];
	ck_assert_int_eq(lf_usermap_sid(text, strlen(text), 1000, &s, &line), 1);
	lf_sid_to_text(&s, buf, sizeof buf);
	ck_assert_str_eq(buf, "S-1-5-21-1-2-3-1001");
	ck_assert_int_eq(lf_usermap_sid(text, strlen(text), 1001, &s, &line), 1);
	lf_sid_to_text(&s, buf, sizeof buf);
	ck_assert_str_eq(buf, "S-1-5-21-7-8-9-12002");        /* 10000 + 2*1001 */
	ck_assert_int_eq(lf_usermap_sid(text, 45, 1001, &s, &line), 0);   /* no pattern yet */
	static const char *const bad[] = { "1000:S-1-5-21-1\n", "x::S-1-5-21-1\n", "\n\n1::S-2\n",
					   "1::\n", "99999999999::S-1-5-21-1\n" };
	static const int at[] = { 1, 1, 3, 1, 1 };
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(lf_usermap_sid(bad[i], strlen(bad[i]), 1, &s, &line), -EINVAL);
		ck_assert_int_eq(line, at[i]);
	}
}
END_TEST

int main(void)
{
	const TTest *const tests[] = { access_table, access_exact_rights, inheritance,
					      from_mode, sddl_round_trip, hostile_bytes, usermapping };
	return th_run_suite("security", tests, sizeof tests / sizeof tests[0]);
}
