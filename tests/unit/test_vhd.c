/* The VHD v1 reader and writer: byte-identical to the raw contents for
 * fixed, dynamic and differencing chains (one poisoned), parents found by
 * locator, by name and by hand, and every bad input refused with a
 * message naming the file. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "layerfs/layer.h"
#include "layerfs/source.h"
#include "layerfs/vhd.h"
#include "../../fs/disk/vhd_format.h"  /* white-box: the VHD layout */

#define MiB (1024u * 1024u)
#define DISK (20u * MiB + 7u * 512u) /* not a whole number of blocks */

/* Contents with zero blocks, random blocks and sparse sectors. */
static uint8_t *make_disk(uint64_t size, uint64_t seed)
{
	uint8_t *d = calloc(1, size);
	ck_assert_ptr_nonnull(d);
	for (uint64_t off = 0; off < size; off += MiB) {
		uint64_t n = size - off < MiB ? size - off : MiB;
		switch ((off / MiB + seed) % 4) {
		case 0: break; /* zeros */
		case 1: th_fill_random(d + off, n, seed + off); break;
		case 2:
			for (uint64_t s = 0; s + 512 <= n; s += 512 * 3)
				th_fill_random(d + off + s, 512, seed ^ (off + s));
			break;
		case 3: memset(d + off, (int)(0x11 * (seed % 15 + 1)), n); break;
		}
	}
	return d;
}

static void write_vhd(const char *path, enum lf_vhd_type type, const uint8_t *data,
		      uint64_t size, const char *parent, uint32_t block)
{
	struct th_mem m = { data, size };
	struct lf_vhd_write_opts o = { .type = type, .size = size, .parent_path = parent,
				       .block_size = block };
	struct lf_err err = {0};
	int rc = lf_vhd_write(path, &o, th_mem_read, &m, &err);
	ck_assert_msg(rc == 0, "write %s: %s", path, err.msg);
}

/* Whole-disk and random reads (odd sizes, across blocks) equal expect. */
static void check_reads(const char *path, const uint8_t *expect, uint64_t size,
			const struct lf_source_opts *opts)
{
	struct lf_source *s = NULL;
	struct lf_err err = {0};
	int rc = lf_source_open(path, opts, &s, &err);
	ck_assert_msg(rc == 0, "open %s: %s", path, err.msg);
	ck_assert_uint_ge(s->size, size);
	uint8_t *buf = malloc(3 * MiB);
	for (uint64_t off = 0; off < size; off += 3 * MiB - 1000) {
		size_t n = size - off < 3 * MiB - 1000 ? (size_t)(size - off) : 3 * MiB - 1000;
		ck_assert_int_eq(lf_source_pread(s, buf, n, off, &err), 0);
		ck_assert_msg(memcmp(buf, expect + off, n) == 0, "%s differs in [%llu, +%zu)",
			      path, (unsigned long long)off, n);
	}
	uint8_t seedbuf[8];
	th_fill_random(seedbuf, sizeof seedbuf, size);
	uint64_t x = 88172645463325252ull ^ seedbuf[0];
	for (int i = 0; i < 400; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		uint64_t off = x % size;
		size_t n = (size_t)((x >> 20) % (600 * 1024)) + 1;
		if (n > size - off)
			n = (size_t)(size - off);
		ck_assert_int_eq(lf_source_pread(s, buf, n, off, &err), 0);
		ck_assert_msg(memcmp(buf, expect + off, n) == 0, "%s differs at %llu+%zu",
			      path, (unsigned long long)off, n);
	}
	/* Past the end is an error naming the disk, not a crash. */
	ck_assert_int_lt(lf_source_pread(s, buf, 2, s->size - 1, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	free(buf);
	lf_source_close(s);
}

static void expect_error(const char *path, const struct lf_source_opts *opts,
			 const char *words)
{
	struct lf_source *s = NULL;
	struct lf_err err = {0};
	int rc = lf_source_open(path, opts, &s, &err);
	ck_assert_msg(rc < 0, "%s opened but should not", path);
	ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name %s: %s", path, err.msg);
	ck_assert_msg(strstr(err.msg, words) != NULL, "message lacks '%s': %s", words, err.msg);
	ck_assert_ptr_null(strchr(err.msg, '\n'));
}

START_TEST(fixed_reads_like_raw)
{
	uint8_t *d = make_disk(DISK, 1);
	write_vhd(th_path("f.vhd"), LF_VHD_FIXED, d, DISK, NULL, 0);
	uint64_t rounded = lf_vhd_round_size(DISK);
	ck_assert_uint_eq(th_file_size(th_path("f.vhd")), rounded + 512);
	uint8_t *e = calloc(1, rounded);
	memcpy(e, d, DISK);
	check_reads(th_path("f.vhd"), e, rounded, NULL);
	free(e);
	free(d);
}
END_TEST

START_TEST(dynamic_reads_like_raw)
{
	uint8_t *d = make_disk(DISK, 2);
	memset(d + 4 * MiB, 0, 6 * MiB); /* blocks 2, 3 and 4 hold nothing */
	write_vhd(th_path("d.vhd"), LF_VHD_DYNAMIC, d, DISK, NULL, 0);
	check_reads(th_path("d.vhd"), d, DISK, NULL);
	/* Exactly the blocks holding data are stored: footer copy, header,
	 * block table, (bitmap + block) each, footer. */
	uint64_t disk = lf_vhd_round_size(DISK), stored = 0;
	uint64_t nblocks = (disk + 2 * MiB - 1) / (2 * MiB);
	for (uint64_t b = 0; b < nblocks; b++) {
		int any = 0;
		for (uint64_t i = b * 2 * MiB; i < (b + 1) * 2 * MiB && i < DISK && !any; i++)
			any = d[i] != 0;
		stored += any;
	}
	ck_assert_uint_eq(stored, nblocks - 3);
	uint64_t bat = (nblocks * 4 + 511) / 512 * 512;
	ck_assert_uint_eq(th_file_size(th_path("d.vhd")),
			  512 + 1024 + bat + stored * (2 * MiB + 512) + 512);
	write_vhd(th_path("d64k.vhd"), LF_VHD_DYNAMIC, d, DISK, NULL, 64 * 1024);
	check_reads(th_path("d64k.vhd"), d, DISK, NULL);
	free(d);
}
END_TEST

/* The child differs from its parent in runs of sectors: 1,0,1 patterns
 * inside one bitmap byte are the case libvhdi reads wrongly. */
static uint8_t *make_child(const uint8_t *parent, uint64_t size, uint64_t seed)
{
	uint8_t *c = malloc(size);
	memcpy(c, parent, size);
	for (uint64_t blk = 0; blk < size / (2 * MiB); blk += 2) {
		uint64_t base = blk * 2 * MiB;
		static const int secs[] = { 0, 2, 5, 7, 9, 64, 65, 4000 };
		for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++)
			th_fill_random(c + base + (uint64_t)secs[i] * 512, 512, seed + base + i);
	}
	/* One whole block rewritten, and one parent block made zero. */
	ck_assert_uint_ge(size, 8 * MiB);
	th_fill_random(c + 2 * MiB * 1, 2 * MiB, seed * 7);
	memset(c + 2 * MiB * 3, 0, 2 * MiB);
	return c;
}

/* Write garbage into every child sector that the bitmap says belongs to
 * the parent. Returns how many such sectors lie inside allocated blocks. */
static unsigned poison(const char *path)
{
	uint8_t f[512], h[1024];
	uint64_t size = th_file_size(path);
	th_read_at(path, size - 512, f, 512);
	th_read_at(path, be64(f + VF_DATA_OFFSET), h, 1024);
	uint32_t n = be32(h + VD_MAX_ENTRIES), bs = be32(h + VD_BLOCK_SIZE);
	uint32_t bms = vhd_bitmap_size(bs);
	uint8_t *bat = malloc((size_t)n * 4), *bm = malloc(bms), junk[512];
	memset(junk, 0xDE, sizeof junk);
	th_read_at(path, be64(h + VD_TABLE_OFFSET), bat, (size_t)n * 4);
	unsigned planted = 0;
	for (uint32_t b = 0; b < n; b++) {
		uint32_t e = be32(bat + 4 * b);
		if (e == VHD_BAT_UNUSED)
			continue;
		th_read_at(path, (uint64_t)e * 512, bm, bms);
		for (uint32_t s = 0; s < bs / 512; s++)
			if (!(bm[s / 8] >> (7 - s % 8) & 1)) {
				th_patch(path, (uint64_t)e * 512 + bms + (uint64_t)s * 512, junk, 512);
				planted++;
			}
	}
	free(bat);
	free(bm);
	return planted;
}

START_TEST(differencing_chain_reads_like_raw)
{
	uint64_t size = 16 * MiB;
	uint8_t *base = make_disk(size, 3);
	write_vhd(th_path("base.vhd"), LF_VHD_DYNAMIC, base, size, NULL, 0);
	uint8_t *mid = make_child(base, size, 10);
	write_vhd(th_path("mid.vhd"), LF_VHD_DIFF, mid, size, th_path("base.vhd"), 0);
	uint8_t *top = make_child(mid, size, 20);
	write_vhd(th_path("top.vhd"), LF_VHD_DIFF, top, size, th_path("mid.vhd"), 0);
	check_reads(th_path("mid.vhd"), mid, size, NULL);
	check_reads(th_path("top.vhd"), top, size, NULL);

	/* Garbage where the child's bitmap says "parent" must never show. */
	ck_assert_uint_gt(poison(th_path("mid.vhd")), 1000);
	ck_assert_uint_gt(poison(th_path("top.vhd")), 1000);
	check_reads(th_path("top.vhd"), top, size, NULL);

	struct lf_source *s = NULL;
	ck_assert_int_eq(lf_source_open(th_path("top.vhd"), NULL, &s, NULL), 0);
	ck_assert_int_eq(s->kind, LF_SRC_VHD_DIFF);
	ck_assert_int_eq(lf_source_depth(s), 3);
	lf_source_close(s);
	free(base);
	free(mid);
	free(top);
}
END_TEST

START_TEST(parents_are_found)
{
	uint64_t size = 8 * MiB;
	uint8_t *base = make_disk(size, 4);
	uint8_t *top = make_child(base, size, 30);
	th_run("mkdir -p '%s' '%s'", th_path("a/base"), th_path("a/child"));
	write_vhd(th_path("a/base/p.vhd"), LF_VHD_FIXED, base, size, NULL, 0);
	write_vhd(th_path("a/child/c.vhd"), LF_VHD_DIFF, top, size, th_path("a/base/p.vhd"), 0);
	uint64_t psize = 0;
	{
		struct lf_source *s = NULL;
		ck_assert_int_eq(lf_source_open(th_path("a/base/p.vhd"), NULL, &s, NULL), 0);
		psize = s->size;
		lf_source_close(s);
	}
	uint8_t *expect = calloc(1, psize);
	memcpy(expect, top, size);
	/* The whole tree moved: the relative locator still finds it. */
	th_run("mv '%s' '%s'", th_path("a"), th_path("moved"));
	check_reads(th_path("moved/child/c.vhd"), expect, psize, NULL);
	/* Parent beside the child: found by name. */
	th_run("mv '%s' '%s'", th_path("moved/base/p.vhd"), th_path("moved/child/p.vhd"));
	check_reads(th_path("moved/child/c.vhd"), expect, psize, NULL);
	/* Parent elsewhere: not found, unless named. */
	th_run("mv '%s' '%s'", th_path("moved/child/p.vhd"), th_path("elsewhere.vhd"));
	expect_error(th_path("moved/child/c.vhd"), NULL, "not found");
	const char *parents[] = { th_path("elsewhere.vhd") };
	struct lf_source_opts o = { .parents = parents, .nparents = 1 };
	check_reads(th_path("moved/child/c.vhd"), expect, psize, &o);
	/* A disk with another unique id is not the parent. */
	write_vhd(th_path("impostor.vhd"), LF_VHD_FIXED, base, size, NULL, 0);
	const char *wrong[] = { th_path("impostor.vhd") };
	struct lf_source_opts w = { .parents = wrong, .nparents = 1 };
	expect_error(th_path("moved/child/c.vhd"), &w, "unique id");
	free(expect);
	free(base);
	free(top);
}
END_TEST

static void rewrite_dynhdr_checksum(const char *path, uint64_t hoff)
{
	uint8_t h[1024];
	th_read_at(path, hoff, h, sizeof h);
	put_be32(h + VD_CHECKSUM, vhd_checksum(h, sizeof h, VD_CHECKSUM));
	th_patch(path, hoff, h, sizeof h);
}

START_TEST(parent_loop_is_refused)
{
	uint64_t size = 4 * MiB;
	uint8_t *d = make_disk(size, 5);
	write_vhd(th_path("p.vhd"), LF_VHD_DYNAMIC, d, size, NULL, 0);
	write_vhd(th_path("a.vhd"), LF_VHD_DIFF, d, size, th_path("p.vhd"), 0);
	write_vhd(th_path("b.vhd"), LF_VHD_DIFF, d, size, th_path("a.vhd"), 0);
	/* a's parent becomes b (same name as its old parent, b's id), and b's
	 * parent is a: a loop. */
	uint8_t fb[512];
	th_read_at(th_path("b.vhd"), th_file_size(th_path("b.vhd")) - 512, fb, 512);
	th_patch(th_path("a.vhd"), 512 + VD_PARENT_UUID, fb + VF_UUID, 16);
	rewrite_dynhdr_checksum(th_path("a.vhd"), 512);
	th_run("mv '%s' '%s'", th_path("b.vhd"), th_path("p.vhd"));
	expect_error(th_path("a.vhd"), NULL, "loops");
	free(d);
}
END_TEST

START_TEST(bad_vhds_are_refused)
{
	uint64_t size = 6 * MiB;
	uint8_t *d = make_disk(size, 6);
	/* truncated: the footer at the end is gone */
	write_vhd(th_path("t.vhd"), LF_VHD_DYNAMIC, d, size, NULL, 0);
	th_run("truncate -s %llu '%s'", (unsigned long long)th_file_size(th_path("t.vhd")) / 2,
	       th_path("t.vhd"));
	expect_error(th_path("t.vhd"), NULL, "truncated");
	/* a fixed disk cut short */
	write_vhd(th_path("tf.vhd"), LF_VHD_FIXED, d, size, NULL, 0);
	uint8_t f[512];
	uint64_t fs = th_file_size(th_path("tf.vhd"));
	th_read_at(th_path("tf.vhd"), fs - 512, f, 512);
	th_run("truncate -s %llu '%s'", (unsigned long long)fs - 4096 - 512, th_path("tf.vhd"));
	th_write_file(th_path("tf2.vhd"), "", 0);
	th_run("cat '%s' > '%s'", th_path("tf.vhd"), th_path("tf2.vhd"));
	th_patch(th_path("tf2.vhd"), fs - 4096 - 512, f, 512);
	expect_error(th_path("tf2.vhd"), NULL, "truncated");
	/* bad footer checksum */
	write_vhd(th_path("c.vhd"), LF_VHD_FIXED, d, size, NULL, 0);
	uint8_t x = 0x5A;
	th_patch(th_path("c.vhd"), th_file_size(th_path("c.vhd")) - 512 + VF_ORIG_SIZE, &x, 1);
	expect_error(th_path("c.vhd"), NULL, "checksum");
	/* a block table entry past the end of the file */
	write_vhd(th_path("b.vhd"), LF_VHD_DYNAMIC, d, size, NULL, 0);
	uint8_t far[4] = { 0x00, 0xFF, 0xFF, 0x00 };
	th_patch(th_path("b.vhd"), 1536 + 4, far, 4);
	expect_error(th_path("b.vhd"), NULL, "block table entry 1 points past the end");
	/* a dynamic header that lies */
	write_vhd(th_path("h.vhd"), LF_VHD_DYNAMIC, d, size, NULL, 0);
	th_patch(th_path("h.vhd"), 512 + VD_BLOCK_SIZE, "\x00\x00\x03\x00", 4);
	expect_error(th_path("h.vhd"), NULL, "checksum");
	rewrite_dynhdr_checksum(th_path("h.vhd"), 512);
	expect_error(th_path("h.vhd"), NULL, "block size");
	free(d);
}
END_TEST

START_TEST(not_a_layer_is_refused)
{
	struct lf_layer *l = NULL;
	struct lf_err err = {0};
	/* text */
	const char *text = "this is a text file, not a disk image\n";
	th_write_file(th_path("notes.txt"), text, strlen(text));
	ck_assert_int_lt(lf_layer_open(th_path("notes.txt"), NULL, &l, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, th_path("notes.txt")));
	/* zeroed boot sector, raw and inside a VHD */
	uint8_t *zero = calloc(1, 4 * MiB);
	th_write_file(th_path("zero.img"), zero, 4 * MiB);
	ck_assert_int_lt(lf_layer_open(th_path("zero.img"), NULL, &l, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "zeroed"));
	write_vhd(th_path("zero.vhd"), LF_VHD_DYNAMIC, zero, 4 * MiB, NULL, 0);
	ck_assert_int_lt(lf_layer_open(th_path("zero.vhd"), NULL, &l, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, th_path("zero.vhd")));
	ck_assert_ptr_nonnull(strstr(err.msg, "zeroed"));
	/* an MBR whose NTFS partition has a zeroed boot sector */
	zero[446 + 4] = 0x07;
	zero[446 + 8] = 0x00; zero[446 + 9] = 0x08; /* LBA 2048 */
	zero[446 + 12] = 0x00; zero[446 + 13] = 0x10; /* 4096 sectors */
	zero[510] = 0x55; zero[511] = 0xAA;
	th_write_file(th_path("mbr.img"), zero, 4 * MiB);
	ck_assert_int_lt(lf_layer_open(th_path("mbr.img"), NULL, &l, &err), 0);
	ck_assert_msg(strstr(err.msg, "no NTFS boot sector (it is zeroed)"), "%s", err.msg);
	/* an empty file */
	th_write_file(th_path("empty.vhd"), "", 0);
	ck_assert_int_lt(lf_layer_open(th_path("empty.vhd"), NULL, &l, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, th_path("empty.vhd")));
	free(zero);
}
END_TEST

START_TEST(round_size_is_whole_cylinders)
{
	static const uint64_t sizes[] = { 1, 512, 3 * MiB, 127 * MiB + 5, 4096ull * MiB,
					  130000ull * MiB };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint64_t r = lf_vhd_round_size(sizes[i]);
		ck_assert_uint_ge(r, sizes[i]);
		ck_assert_uint_eq(r % 512, 0);
		ck_assert_uint_eq(lf_vhd_round_size(r), r);
	}
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		fixed_reads_like_raw,
		dynamic_reads_like_raw,
		differencing_chain_reads_like_raw,
		parents_are_found,
		parent_loop_is_refused,
		bad_vhds_are_refused,
		not_a_layer_is_refused,
		round_size_is_whole_cylinders,
	};
	return th_run_suite("vhd", tests, sizeof tests / sizeof tests[0]);
}
