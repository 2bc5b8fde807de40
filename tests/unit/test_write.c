/* The union's write side through the engine (no FUSE): what lands in the
 * upper folder, what the merged view then says, and reset. Run under
 * valgrind in CI, so the write paths are checked for leaks too. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "union_helpers.h"
#include "layerfs/union.h"

static void put(const char *rel, const char *data)
{
	const char *path = th_path(rel);
	char dir[1024];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = 0;
	th_run("mkdir -p '%s'", dir);
	th_write_file(path, data, strlen(data));
}

static int exists(const char *rel)
{
	struct stat st;
	return lstat(th_path(rel), &st) == 0;
}

static struct lf_union *open_rw(void)
{
	put("os/Windows/win.ini", "os");
	put("os/Windows/notepad.exe", "MZ");
	put("os/Docs/a.txt", "lower a");
	put("os/Old/x.txt", "x");
	th_run("mkdir -p '%s'", th_path("up"));
	struct lf_union *u = th_union_open(th_path("os"), th_path("up"), NULL);
	ck_assert(lf_union_writable(u));
	return u;
}

/* Look NAME up in parent; the caller forgets the node. */
static uint64_t look(struct lf_union *u, uint64_t parent, const char *name)
{
	struct lf_attr a;
	int rc = lf_union_lookup(u, parent, name, &a);
	ck_assert_msg(rc == 0, "lookup %s: %d", name, rc);
	return a.ino;
}

static void read_is(struct lf_union *u, uint64_t ino, const char *want)
{
	struct lf_ufile *f;
	ck_assert_int_eq(lf_union_open_file(u, ino, O_RDONLY, &f), 0);
	char buf[64] = "";
	ck_assert_int_eq(lf_union_pread(u, f, buf, sizeof buf - 1, 0), (ssize_t)strlen(want));
	ck_assert_str_eq(buf, want);
	lf_union_release(u, f);
}

START_TEST(copy_up_keeps_the_number)
{
	struct lf_union *u = open_rw();
	uint64_t docs = look(u, LF_UNION_ROOT, "docs");
	uint64_t a = look(u, docs, "A.TXT");
	struct lf_ufile *f;
	ck_assert_int_eq(lf_union_open_file(u, a, O_WRONLY, &f), 0);
	ck_assert_int_eq(lf_union_pwrite(u, f, "upper", 5, 0), 5);
	ck_assert_int_eq(lf_union_fsync(u, f, 0), 0);
	lf_union_release(u, f);
	ck_assert(exists("up/Docs/a.txt"));           /* the lower spelling */
	read_is(u, a, "upper a");                       /* 5 bytes over 7 */
	struct lf_attr at;
	ck_assert_int_eq(lf_union_getattr(u, a, &at), 0);
	ck_assert_uint_eq(at.ino, a);
	ck_assert_int_eq(lf_union_lookup(u, docs, "a.txt", &at), 0);
	ck_assert_uint_eq(at.ino, a);
	lf_union_forget(u, a, 2);
	lf_union_forget(u, docs, 1);
	lf_union_close(u);
}
END_TEST

START_TEST(tokens_and_opaque_folders)
{
	struct lf_union *u = open_rw();
	uint64_t win = look(u, LF_UNION_ROOT, "Windows");
	ck_assert_int_eq(lf_union_unlink(u, win, "NOTEPAD.EXE"), 0);
	ck_assert(exists("up/Windows/.wh.notepad.exe"));
	struct lf_attr a;
	ck_assert_int_eq(lf_union_lookup(u, win, "notepad.exe", &a), -ENOENT);
	ck_assert_int_eq(lf_union_unlink(u, win, "notepad.exe"), -ENOENT);
	uint64_t old = look(u, LF_UNION_ROOT, "old");
	ck_assert_int_eq(lf_union_rmdir(u, LF_UNION_ROOT, "Old"), -ENOTEMPTY);
	ck_assert_int_eq(lf_union_unlink(u, old, "x.txt"), 0);
	lf_union_forget(u, old, 1);
	ck_assert_int_eq(lf_union_rmdir(u, LF_UNION_ROOT, "Old"), 0);
	ck_assert(exists("up/.wh.Old"));
	ck_assert(!exists("up/Old"));
	ck_assert_int_eq(lf_union_mkdir(u, LF_UNION_ROOT, "OLD", 0755, NULL, &a), 0);
	ck_assert(exists("up/OLD/.wh..wh..opq"));
	ck_assert_int_eq(lf_union_lookup(u, a.ino, "x.txt", &a), -ENOENT);
	lf_union_forget(u, look(u, LF_UNION_ROOT, "old"), 2);
	char name[300];
	memset(name, 'n', 256);
	name[256] = 0;
	ck_assert_int_eq(lf_union_lookup(u, win, name, &a), -ENAMETOOLONG);
	ck_assert_int_eq(lf_union_mkdir(u, win, name, 0755, NULL, &a), -ENAMETOOLONG);
	/* the mount-time work folder is empty after all that */
	ck_assert_int_eq(rmdir(th_path("up/.wh..wh..work")), 0);
	lf_union_forget(u, win, 1);
	lf_union_close(u);
}
END_TEST

START_TEST(create_rename_link_reset)
{
	struct lf_union *u = open_rw();
	struct lf_attr a, b;
	struct lf_ufile *f;
	struct lf_cred me = { (uint32_t)getuid(), (uint32_t)getgid() };
	ck_assert_int_eq(lf_union_create(u, LF_UNION_ROOT, "new.txt", 0640, O_RDWR, &me, &a, &f), 0);
	ck_assert_int_eq(lf_union_pwrite(u, f, "n", 1, 0), 1);
	lf_union_release(u, f);
	ck_assert_uint_eq(a.mode & 07777, 0640);
	ck_assert_int_eq(lf_union_create(u, LF_UNION_ROOT, "NEW.TXT", 0640, O_RDWR, &me, &b, &f), -EEXIST);
	ck_assert_int_eq(lf_union_link(u, a.ino, LF_UNION_ROOT, "hard.txt", &b), 0);
	ck_assert_uint_eq(b.ino, a.ino);
	ck_assert_uint_eq(b.nlink, 2);
	ck_assert_int_eq(lf_union_rename(u, LF_UNION_ROOT, "hard.txt", LF_UNION_ROOT, "new.txt",
					 RENAME_NOREPLACE), -EEXIST);
	uint64_t win = look(u, LF_UNION_ROOT, "windows");
	ck_assert_int_eq(lf_union_rename(u, win, "win.ini", LF_UNION_ROOT, "moved.ini", 0), 0);
	ck_assert(exists("up/Windows/.wh.win.ini"));
	ck_assert(exists("up/moved.ini"));
	ck_assert_int_eq(lf_union_rename(u, LF_UNION_ROOT, "Windows", LF_UNION_ROOT, "W", 0), -EXDEV);
	struct lf_attr set = { .mode = 0600 };
	ck_assert_int_eq(lf_union_setattr(u, a.ino, NULL, &set, LF_SET_MODE, &b), 0);
	ck_assert_uint_eq(b.mode & 07777, 0600);
	ck_assert_int_eq(lf_union_setxattr(u, a.ino, "user.k", "v", 1, 0), 0);
	char v[8];
	ck_assert_int_eq(lf_union_getxattr(u, a.ino, "user.k", v, sizeof v), 1);
	/* reset through the union: the lower win.ini shows again */
	struct lf_reset_inval inv;
	ck_assert_int_eq(lf_union_reset(u, "windows/WIN.INI", &inv), 0);
	ck_assert_uint_eq(inv.parent, win);
	ck_assert(!exists("up/Windows/.wh.win.ini"));
	read_is(u, look(u, win, "win.ini"), "os");
	ck_assert_int_eq(lf_union_reset(u, "windows/nothing", &inv), -ENOENT);
	ck_assert_int_eq(lf_union_reset(u, "../etc", &inv), -EINVAL);
	lf_union_forget(u, look(u, win, "win.ini"), 2);
	lf_union_forget(u, win, 1);
	lf_union_forget(u, a.ino, 2);
	lf_union_close(u);
	/* offline: the copy of moved.ini goes */
	struct lf_err err = {0};
	ck_assert_int_eq(lf_upper_reset(th_path("up"), "MOVED.INI", NULL, NULL, &err), 1);
	ck_assert(!exists("up/moved.ini"));
	ck_assert_int_eq(lf_upper_reset(th_path("up"), "none/at/all", NULL, NULL, &err), 0);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = { copy_up_keeps_the_number, tokens_and_opaque_folders,
				       create_rename_link_reset };
	return th_run_suite("write", tests, sizeof tests / sizeof tests[0]);
}
