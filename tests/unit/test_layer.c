/* The layer backends, on one tree: packed into NTFS (raw, dynamic VHD,
 * fixed VHD) and as a host directory. Each must answer alike: case-
 * insensitive lookups that keep the case readdir shows, contents, times,
 * links, streams; NTFS must hide metafiles and DOS names. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "helpers.h"
#include "layerfs/layer.h"
#include "layerfs/pack.h"
#include "../../fs/ntfs/ntfs_glue.h"   /* white-box: the NTFS glue */

#define BIG (5u * 1024 * 1024 + 123)
static uint8_t *big;
static const struct timespec when = { 981173106, 123456700 }; /* 2001-02-03 */

static void put(const char *rel, const void *data, size_t len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/tree/%s", th_tmpdir(), rel);
	char dir[1024];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = 0;
	th_run("mkdir -p '%s'", dir);
	th_write_file(path, data, len);
	struct timespec ts[2] = { when, when };
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void make_tree(void)
{
	big = malloc(BIG);
	th_fill_random(big, BIG, 42);
	put("Windows/System32/cmd.exe", "MZ cmd", 6);
	put("Windows/System32/drivers/etc/hosts", "127.0.0.1 localhost\n", 20);
	put("Windows/win.ini", "[fonts]\n", 8);
	put("Program Files/App/\xc3\xbcn\xc3\xaf.txt", "unicode", 7);
	put("Program Files/App/big.bin", big, BIG);
	put("empty.txt", "", 0);
	put("a.txt", "linked", 6);
	th_run("cd '%s/tree' && ln a.txt b.txt && ln -s /Windows/System32 sys && "
	       "ln -s ../win.ini Windows/System32/up", th_tmpdir());
	char p[1024];
	snprintf(p, sizeof p, "%s/tree/Windows/win.ini", th_tmpdir());
	ck_assert_int_eq(setxattr(p, "user.Zone.Identifier", "[ZoneTransfer]\nZoneId=3", 23, 0), 0);
}

static void pack(const char *out, enum lf_pack_format fmt)
{
	struct lf_pack_opts o = { .format = fmt };
	struct lf_err err = {0};
	char src[512];
	snprintf(src, sizeof src, "%s/tree", th_tmpdir());
	ck_assert_msg(lf_pack(src, out, &o, NULL, &err) == 0, "pack: %s", err.msg);
}

static struct lf_layer *open_layer(const char *path)
{
	struct lf_layer *l = NULL;
	struct lf_err err = {0};
	ck_assert_msg(lf_layer_open(path, NULL, &l, &err) == 0, "open %s: %s", path, err.msg);
	return l;
}

struct names { char v[32][300]; int n; };

static int collect(void *ctx, const char *name, lf_ino ino, uint32_t type)
{
	(void)ino; (void)type;
	struct names *n = ctx;
	ck_assert_int_lt(n->n, 32);
	snprintf(n->v[n->n++], 300, "%s", name);
	return 0;
}

static int has(const struct names *n, const char *name)
{
	for (int i = 0; i < n->n; i++)
		if (!strcmp(n->v[i], name))
			return 1;
	return 0;
}

static void read_all(struct lf_layer *l, const char *path, uint8_t *buf, size_t size)
{
	struct lf_attr a;
	ck_assert_int_eq(lf_layer_resolve(l, path, &a), 0);
	ck_assert_uint_eq(a.size, size);
	ck_assert_int_eq(l->ops->read(l, a.ino, buf, size + 10, 0), (ssize_t)size);
}

/* What every backend must answer alike. */
static void check_common(struct lf_layer *l)
{
	struct lf_attr a, b;
	ck_assert_int_eq(lf_layer_resolve(l, "WINDOWS/system32/CMD.EXE", &a), 0);
	ck_assert(S_ISREG(a.mode));
	ck_assert_uint_eq(a.size, 6);
	ck_assert_int_eq(a.mtime.tv_sec, when.tv_sec);
	ck_assert_int_eq(a.mtime.tv_nsec, when.tv_nsec);
	ck_assert_int_eq(lf_layer_resolve(l, "/program files/APP/\xc3\x9cN\xc3\x8f.TXT", &a), 0);
	ck_assert_uint_eq(a.size, 7);

	struct names n = {0};
	ck_assert_int_eq(l->ops->readdir(l, l->root, collect, &n), 0);
	ck_assert_int_eq(n.n, 6);
	ck_assert(has(&n, "Windows") && has(&n, "Program Files") && has(&n, "empty.txt"));
	ck_assert(has(&n, "a.txt") && has(&n, "b.txt") && has(&n, "sys"));

	char t[256];
	enum lf_link_kind k;
	ck_assert_int_eq(lf_layer_resolve(l, "sys", &a), 0);
	ck_assert(S_ISLNK(a.mode));
	ck_assert_int_eq(l->ops->readlink(l, a.ino, t, sizeof t, &k), 17);
	ck_assert_str_eq(t, "/Windows/System32");
	ck_assert_int_eq(k, LF_LINK_ROOTED);
	ck_assert_int_eq(lf_layer_resolve(l, "windows/system32/UP", &a), 0);
	ck_assert_int_eq(l->ops->readlink(l, a.ino, t, sizeof t, &k), 10);
	ck_assert_str_eq(t, "../win.ini");
	ck_assert_int_eq(k, LF_LINK_RELATIVE);
	/* A link is never walked through. */
	ck_assert_int_eq(lf_layer_resolve(l, "sys/cmd.exe", &a), -ENOTDIR);

	ck_assert_int_eq(lf_layer_resolve(l, "a.txt", &a), 0);
	ck_assert_int_eq(lf_layer_resolve(l, "B.TXT", &b), 0);
	ck_assert_uint_eq(a.nlink, 2);
	ck_assert_uint_eq(b.nlink, 2);
	ck_assert_int_eq(lf_layer_resolve(l, "empty.txt", &a), 0);
	ck_assert_uint_eq(a.size, 0);
	ck_assert_int_eq(l->ops->read(l, a.ino, t, sizeof t, 0), 0);

	uint8_t *buf = malloc(BIG + 10);
	read_all(l, "Program Files/App/big.bin", buf, BIG);
	ck_assert(memcmp(buf, big, BIG) == 0);
	ck_assert_int_eq(lf_layer_resolve(l, "Program Files/App/big.bin", &a), 0);
	ck_assert_int_eq(l->ops->read(l, a.ino, buf, 1000, BIG - 10), 10);
	ck_assert(memcmp(buf, big + BIG - 10, 10) == 0);
	ck_assert_int_eq(l->ops->read(l, a.ino, buf, 1000, BIG + 5), 0);
	free(buf);

	ck_assert_int_eq(lf_layer_resolve(l, "Windows/win.ini", &a), 0);
	char x[64] = "";
	ssize_t xl = l->ops->getxattr(l, a.ino, "user.Zone.Identifier", x, sizeof x);
	ck_assert_int_eq(xl, 23);
	ck_assert(memcmp(x, "[ZoneTransfer]\nZoneId=3", 23) == 0);
	char list[1024];
	ssize_t ll = l->ops->listxattr(l, a.ino, list, sizeof list);
	ck_assert_int_gt(ll, 0);
	int found = 0;
	for (ssize_t i = 0; i < ll; i += (ssize_t)strlen(list + i) + 1)
		found |= !strcmp(list + i, "user.Zone.Identifier");
	ck_assert(found);

	char longname[300];
	memset(longname, 'x', 299);
	longname[299] = 0;
	ck_assert_int_eq(l->ops->lookup(l, l->root, longname, &a), -ENAMETOOLONG);
	ck_assert_int_eq(lf_layer_resolve(l, "nothing/here", &a), -ENOENT);
	ck_assert_int_eq(lf_layer_resolve(l, "empty.txt/x", &a), -ENOTDIR);
}

static void check_ntfs_only(struct lf_layer *l)
{
	struct lf_attr a;
	ck_assert_str_eq(l->kind, "ntfs");
	/* Both names of a hard link are one MFT record. (The dir backend
	 * numbers names, not host inodes.) */
	struct lf_attr b;
	ck_assert_int_eq(lf_layer_resolve(l, "a.txt", &a), 0);
	ck_assert_int_eq(lf_layer_resolve(l, "b.txt", &b), 0);
	ck_assert_uint_eq(a.ino, b.ino);
	ck_assert_int_eq(lf_layer_resolve(l, "$MFT", &a), -ENOENT);
	ck_assert_int_eq(lf_layer_resolve(l, "$Extend", &a), -ENOENT);
	ck_assert_int_eq(lf_layer_resolve(l, "Windows/win.ini", &a), 0);
	ck_assert_int_gt(l->ops->getxattr(l, a.ino, "system.ntfs_acl", NULL, 0), 0);
	ck_assert_int_eq(l->ops->getxattr(l, a.ino, "system.ntfs_times", NULL, 0), 32);
	uint32_t attrib = 0;
	ck_assert_int_eq(l->ops->getxattr(l, a.ino, "system.ntfs_attrib", &attrib, 4), 4);
	ck_assert_int_eq(l->ops->getxattr(l, a.ino, "user.nope", NULL, 0), -ENODATA);
	ck_assert_int_eq(l->ops->getxattr(l, a.ino, "system.ntfs_dos_name", NULL, 0), -ENODATA);
}

START_TEST(backends_agree)
{
	make_tree();
	const char *outs[] = { th_path("l.raw"), th_path("l.vhd"), th_path("lf.vhd") };
	enum lf_pack_format fmts[] = { LF_PACK_RAW, LF_PACK_VHD_DYNAMIC, LF_PACK_VHD_FIXED };
	for (int i = 0; i < 3; i++) {
		pack(outs[i], fmts[i]);
		struct lf_layer *l = open_layer(outs[i]);
		check_common(l);
		check_ntfs_only(l);
		lf_layer_close(l);
	}
	struct lf_layer *d = open_layer(th_path("tree"));
	ck_assert_str_eq(d->kind, "dir");
	check_common(d);
	lf_layer_close(d);
	free(big);
}
END_TEST

/* Give "Program Files" the 8.3 alias Windows would, through libntfs-3g's
 * write path; the layer must still show one name. */
START_TEST(dos_names_stay_hidden)
{
	make_tree();
	pack(th_path("l.raw"), LF_PACK_RAW);
	ntfs_volume *vol = ntfs_mount(th_path("l.raw"), 0);
	ck_assert_ptr_nonnull(vol);
	ntfs_inode *ni = ntfs_pathname_to_inode(vol, NULL, "/Program Files");
	ntfs_inode *dir = ntfs_inode_open(vol, FILE_root);
	ck_assert(ni && dir);
	ck_assert_int_eq(ntfs_set_ntfs_dos_name(ni, dir, "PROGRA~1", 8, 0), 0);
	ck_assert_int_eq(ntfs_umount(vol, FALSE), 0);

	struct lf_layer *l = open_layer(th_path("l.raw"));
	struct lf_attr a;
	ck_assert_int_eq(lf_layer_resolve(l, "PROGRA~1", &a), -ENOENT);
	ck_assert_int_eq(lf_layer_resolve(l, "program files", &a), 0);
	ck_assert_uint_eq(a.nlink, 1);
	char dos[16] = "";
	ck_assert_int_eq(l->ops->getxattr(l, a.ino, "system.ntfs_dos_name", dos, sizeof dos), 8);
	ck_assert(memcmp(dos, "PROGRA~1", 8) == 0);
	struct names n = {0};
	ck_assert_int_eq(l->ops->readdir(l, l->root, collect, &n), 0);
	ck_assert_int_eq(n.n, 6);
	ck_assert(!has(&n, "PROGRA~1") && has(&n, "Program Files"));
	lf_layer_close(l);
	free(big);
}
END_TEST

START_TEST(corrupt_mft_is_refused)
{
	make_tree();
	pack(th_path("l.raw"), LF_PACK_RAW);
	uint8_t boot[512];
	th_read_at(th_path("l.raw"), 0, boot, sizeof boot);
	uint64_t cluster = (uint64_t)(boot[11] | boot[12] << 8) * boot[13];
	uint64_t mft = 0, mirr = 0;
	memcpy(&mft, boot + 0x30, 8);
	memcpy(&mirr, boot + 0x38, 8);
	uint8_t junk[16384];
	th_fill_random(junk, sizeof junk, 7);
	th_patch(th_path("l.raw"), mft * cluster, junk, sizeof junk);
	th_patch(th_path("l.raw"), mirr * cluster, junk, 4096);
	struct lf_layer *l = NULL;
	struct lf_err err = {0};
	ck_assert_int_lt(lf_layer_open(th_path("l.raw"), NULL, &l, &err), 0);
	ck_assert_msg(strstr(err.msg, th_path("l.raw")) && strstr(err.msg, "does not mount"),
		      "%s", err.msg);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
	free(big);
}
END_TEST

struct reader { struct lf_layer *l; int bad; unsigned seed; };

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	static const char *paths[] = { "Windows/System32/cmd.exe", "WINDOWS/WIN.INI",
				       "a.txt", "program files/app/big.bin" };
	static const size_t sizes[] = { 6, 8, 6, BIG };
	uint8_t *buf = malloc(70000);
	for (int i = 0; i < 1500 && !r->bad; i++) {
		unsigned k = (r->seed + (unsigned)i) % 4;
		struct lf_attr a;
		if (lf_layer_resolve(r->l, paths[k], &a) || a.size != sizes[k]) {
			r->bad = 1;
			break;
		}
		uint64_t off = k == 3 ? (uint64_t)(i * 7919) % (BIG - 70000) : 0;
		size_t len = k == 3 ? 70000 : sizes[k];
		ssize_t n = r->l->ops->read(r->l, a.ino, buf, len, off);
		if (n != (ssize_t)len || (k == 3 && memcmp(buf, big + off, len)))
			r->bad = 1;
	}
	free(buf);
	return NULL;
}

START_TEST(parallel_readers)
{
	make_tree();
	pack(th_path("l.vhd"), LF_PACK_VHD_DYNAMIC);
	struct lf_layer *layers[2] = { open_layer(th_path("l.vhd")), open_layer(th_path("tree")) };
	for (int li = 0; li < 2; li++) {
		pthread_t t[8];
		struct reader r[8];
		for (int i = 0; i < 8; i++) {
			r[i] = (struct reader){ layers[li], 0, (unsigned)i };
			pthread_create(&t[i], NULL, read_loop, &r[i]);
		}
		for (int i = 0; i < 8; i++) {
			pthread_join(t[i], NULL);
			ck_assert_msg(!r[i].bad, "reader %d of %s got a wrong answer", i, layers[li]->kind);
		}
		lf_layer_close(layers[li]);
	}
	free(big);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		backends_agree,
		dos_names_stay_hidden,
		corrupt_mft_is_refused,
		parallel_readers,
	};
	return th_run_suite("layer", tests, sizeof tests / sizeof tests[0]);
}
