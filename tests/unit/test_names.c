/* Windows names on Linux: case folding as NTFS compares names, and
 * symlink/junction reparse data to and from POSIX targets, hostile data
 * included. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "layerfs/casefold.h"
#include "layerfs/dosname.h"
#include "../../fs/ntfs/reparse.h"     /* white-box: reparse data */

START_TEST(case_folding)
{
	ck_assert_int_eq(lf_casecmp("Program Files", "PROGRAM FILES"), 0);
	ck_assert_int_eq(lf_casecmp("\xc3\xbc" "ber", "\xc3\x9c" "BER"), 0);      /* über */
	ck_assert_int_eq(lf_casecmp("\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb",
				    "\xd0\xa4\xd0\x90\xd0\x99\xd0\x9b"), 0); /* файл */
	ck_assert_int_ne(lf_casecmp("a", "b"), 0);
	ck_assert_int_ne(lf_casecmp("abc", "ab"), 0);
	ck_assert_int_lt(lf_casecmp("ab", "abc"), 0);
	ck_assert_uint_eq(lf_casehash("Windows"), lf_casehash("wInDoWs"));
	ck_assert_uint_ne(lf_casehash("Windows"), lf_casehash("Windows2"));
	char out[64];
	ck_assert_int_eq(lf_casefold("System32", out, sizeof out), 8);
	ck_assert_str_eq(out, "SYSTEM32");
	ck_assert_int_eq(lf_casefold("toolong", out, 4), -1);
	/* bytes that are not UTF-8 still compare and fold as themselves */
	ck_assert_int_eq(lf_casecmp("a\xff", "A\xff"), 0);
	ck_assert_int_ne(lf_casecmp("a\xff", "a\xfe"), 0);
	/* outside the BMP: no case, compared exactly */
	ck_assert_int_eq(lf_casecmp("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"), 0);
}
END_TEST

/* 8.3 names as Windows makes them, each rule once, and a folder's names
 * kept apart (a long name that is an 8.3 name takes its own). */
START_TEST(dos_names)
{
	ck_assert(lf_dos_legal("README.TXT") && lf_dos_legal("readme.txt") && lf_dos_legal("A"));
	ck_assert(!lf_dos_legal("Program Files") && !lf_dos_legal("a.b.c") &&
		  !lf_dos_legal("toolongnm.txt") && !lf_dos_legal("x.html") && !lf_dos_legal(".git") &&
		  !lf_dos_legal("a+b.txt") && !lf_dos_legal("caf\xc3\xa9.txt"));
	char c[13];
	lf_dos_make("Program Files", 1, c);
	ck_assert_str_eq(c, "PROGRA~1");
	lf_dos_make("Microsoft Office.docx", 2, c);
	ck_assert_str_eq(c, "MICROS~2.DOC");
	lf_dos_make(".gitignore", 1, c);
	ck_assert_str_eq(c, "GITIGN~1");
	lf_dos_make("a+b c.d.txt", 1, c);
	ck_assert_str_eq(c, "A_BCD~1.TXT");
	lf_dos_make("Program Files", 5, c);     /* after four: a hash */
	ck_assert_int_eq(strlen(c), 8);
	ck_assert(!strncmp(c, "PR", 2) && !strcmp(c + 6, "~1"));
	ck_assert(lf_dos_made_for("Program Files", c) && !lf_dos_made_for("Program Files", "OTHER~1"));
	const char *names[] = { "Program Files", "Program Files (x86)", "PROGRA~1", "ntuser.dat",
				"ProgramData" };
	char given[5][13] = { "", "", "", "", "" };
	ck_assert_int_eq(lf_dos_names_for(names, given, 5), 0);
	ck_assert_str_eq(given[0], "PROGRA~2");   /* ~1 is a long name of the folder */
	ck_assert_str_eq(given[1], "PROGRA~3");
	ck_assert_str_eq(given[2], "");
	ck_assert_str_eq(given[3], "");
	ck_assert_str_eq(given[4], "PROGRA~4");
}
END_TEST

START_TEST(symlinks_round_trip)
{
	static const char *targets[] = { "/Windows/System32", "../win.ini", "a/b c/d\xc3\xa9", "/" };
	static const enum lf_link_kind kinds[] = { LF_LINK_ROOTED, LF_LINK_RELATIVE, LF_LINK_RELATIVE,
						   LF_LINK_ROOTED };
	for (int i = 0; i < 4; i++) {
		uint8_t buf[LF_REPARSE_MAX];
		ssize_t n = lf_reparse_encode_symlink(targets[i], buf, sizeof buf);
		ck_assert_int_gt(n, 20);
		char out[256];
		enum lf_link_kind k;
		ck_assert_int_eq(lf_reparse_decode(buf, (size_t)n, out, sizeof out, &k),
				 (ssize_t)strlen(targets[i]));
		ck_assert_str_eq(out, targets[i]);
		ck_assert_int_eq(k, kinds[i]);
	}
}
END_TEST

/* A junction as Windows writes it: tag, length, substitute and print
 * names, no flags word. */
static size_t junction(uint8_t *b, const char *subst, const char *print)
{
	size_t sl = strlen(subst) * 2, pl = strlen(print) * 2;
	memset(b, 0, 16 + sl + pl + 4);
	b[0] = 0x03; b[3] = 0xA0;
	size_t dlen = 8 + sl + 2 + pl + 2;
	b[4] = (uint8_t)dlen; b[5] = (uint8_t)(dlen >> 8);
	b[10] = (uint8_t)sl;
	b[12] = (uint8_t)(sl + 2);
	b[14] = (uint8_t)pl;
	for (size_t i = 0; subst[i]; i++)
		b[16 + 2 * i] = (uint8_t)subst[i];
	for (size_t i = 0; print[i]; i++)
		b[16 + sl + 2 + 2 * i] = (uint8_t)print[i];
	return 8 + dlen;
}

START_TEST(junctions)
{
	uint8_t b[512];
	char out[256];
	enum lf_link_kind k;
	size_t n = junction(b, "\\??\\C:\\Users", "C:\\Users");
	ck_assert_int_eq(lf_reparse_decode(b, n, out, sizeof out, &k), 6);
	ck_assert_str_eq(out, "/Users");
	ck_assert_int_eq(k, LF_LINK_ROOTED);
	n = junction(b, "\\??\\D:\\Data", "D:\\Data");
	ck_assert_int_gt(lf_reparse_decode(b, n, out, sizeof out, &k), 0);
	ck_assert_int_eq(k, LF_LINK_FOREIGN);
	n = junction(b, "\\??\\Volume{0b1c-22}\\x", "");
	ck_assert_int_gt(lf_reparse_decode(b, n, out, sizeof out, &k), 0);
	ck_assert_int_eq(k, LF_LINK_FOREIGN);
	/* hostile: names past the buffer, short data, another tag */
	n = junction(b, "\\??\\C:\\Users", "C:\\Users");
	b[10] = 0xF0;
	ck_assert_int_eq(lf_reparse_decode(b, n, out, sizeof out, &k), -EINVAL);
	ck_assert_int_eq(lf_reparse_decode(b, 10, out, sizeof out, &k), -EINVAL);
	n = junction(b, "\\??\\C:\\Users", "C:\\Users");
	b[4] = 0xFF; b[5] = 0xFF;
	ck_assert_int_eq(lf_reparse_decode(b, n, out, sizeof out, &k), -EINVAL);
	n = junction(b, "\\??\\C:\\Users", "C:\\Users");
	b[0] = 0x17; b[3] = 0x80; /* WOF compression: not a link */
	ck_assert_int_eq(lf_reparse_decode(b, n, out, sizeof out, &k), -EINVAL);
	/* a target too long for the caller's buffer is cut, not overrun */
	n = junction(b, "\\??\\C:\\Users", "C:\\Users");
	ck_assert_int_eq(lf_reparse_decode(b, n, out, 4, &k), 6);
	ck_assert_str_eq(out, "/Us");
}
END_TEST

int main(void)
{
	const TTest *const tests[] = { case_folding, dos_names, symlinks_round_trip, junctions };
	return th_run_suite("names", tests, sizeof tests / sizeof tests[0]);
}
