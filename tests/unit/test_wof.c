/* Compact OS streams decoded (fs/ntfs/wof.c) against data compressed
 * here with wimlib's compressors, every algorithm and shape, reads of
 * every size at every kind of offset; hostile streams are EIO with a
 * reason; and the storage kinds told from reparse data and attributes. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wimlib.h>

#include "helpers.h"
#include "layerfs/bytes.h"
#include "layerfs/wof.h"

struct stream {
	uint8_t *p;
	size_t n;
	unsigned reads;
};

static ssize_t rd(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct stream *s = ctx;
	s->reads++;
	if (off >= s->n)
		return 0;
	size_t k = s->n - off < len ? s->n - (size_t)off : len;
	memcpy(buf, s->p + off, k);
	return (ssize_t)k;
}

/* data (size bytes) as a WofCompressedData stream of store s */
static struct stream make(unsigned s, const uint8_t *data, size_t size)
{
	uint32_t chunk = lf_wof_chunk_size(s);
	size_t n = (size + chunk - 1) / chunk, table = n ? (n - 1) * 4 : 0;
	struct wimlib_compressor *c;
	ck_assert_int_eq(wimlib_create_compressor(s == LF_STORE_WOF_LZX ? WIMLIB_COMPRESSION_TYPE_LZX
						  : WIMLIB_COMPRESSION_TYPE_XPRESS, chunk, 0, &c), 0);
	struct stream st = { malloc(table + size + 1), table, 0 };
	for (size_t i = 0; i < n; i++) {
		size_t len = i + 1 < n ? chunk : size - i * chunk;
		if (i)
			put_le32(st.p + (i - 1) * 4, (uint32_t)(st.n - table));
		size_t k = wimlib_compress(data + i * chunk, len, st.p + st.n, len - 1, c);
		if (!k) {
			memcpy(st.p + st.n, data + i * chunk, len);
			k = len;
		}
		st.n += k;
	}
	wimlib_free_compressor(c);
	return st;
}

static uint8_t *sample(size_t size)
{
	uint8_t *d = malloc(size + 1);
	uint32_t x = 12345;
	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245 + 12345;
		/* text-like at first, noise (stored raw) in the middle third */
		d[i] = i > size / 3 && i < size / 3 * 2 ? (uint8_t)(x >> 16) : (uint8_t)("abcab cc\n"[i % 9]);
	}
	return d;
}

START_TEST(every_algorithm_and_shape)
{
	static const size_t sizes[] = { 0, 1, 4096, 32768, 100000, 250001 };
	for (unsigned s = LF_STORE_WOF_XPRESS4K; s <= LF_STORE_WOF_XPRESS16K; s++)
		for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
			size_t size = sizes[k];
			uint8_t *d = sample(size);
			struct stream st = make(s, d, size);
			struct lf_wof *w;
			ck_assert_int_eq(lf_wof_open(s, size, st.n, &w), 0);
			uint8_t *out = malloc(size + 70000);
			char why[200];
			ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, size + 5, 0, why, sizeof why),
					 (ssize_t)size);
			ck_assert(!memcmp(out, d, size));
			/* pieces: within a chunk (twice: the second from the cache),
			 * across chunks, at the end, past it */
			static const size_t lens[] = { 1, 17, 4095, 5000, 40000, 65536 };
			for (size_t off = 0; off < size; off += 3001)
				for (size_t j = 0; j < 6; j++) {
					size_t want = size - off < lens[j] ? size - off : lens[j];
					unsigned before = st.reads;
					ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, lens[j], off, why,
								      sizeof why), (ssize_t)want);
					ck_assert(!memcmp(out, d + off, want));
					if (j == 0 && off % lf_wof_chunk_size(s)) {
						/* the same chunk again: no stream read */
						before = st.reads;
						lf_wof_pread(w, rd, &st, out, 1, off, why, sizeof why);
						ck_assert_uint_eq(st.reads, before);
					}
					(void)before;
				}
			ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, 10, size + 1, why, sizeof why), 0);
			lf_wof_close(w);
			free(out);
			free(st.p);
			free(d);
		}
}
END_TEST

START_TEST(hostile_streams)
{
	size_t size = 100000;
	uint8_t *d = sample(size), out[40000];
	char why[200];
	struct lf_wof *w;
	/* a table entry past the stream */
	struct stream st = make(LF_STORE_WOF_XPRESS4K, d, size);
	put_le32(st.p, 0x7FFFFFF0);
	ck_assert_int_eq(lf_wof_open(LF_STORE_WOF_XPRESS4K, size, st.n, &w), 0);
	ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, 100, 0, why, sizeof why), -EIO);
	ck_assert_ptr_nonnull(strstr(why, "chunk 0 is out of its stream"));
	lf_wof_close(w);
	/* entries going backwards */
	put_le32(st.p, 900);
	put_le32(st.p + 4, 800);
	ck_assert_int_eq(lf_wof_open(LF_STORE_WOF_XPRESS4K, size, st.n, &w), 0);
	ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, 100, 4096, why, sizeof why), -EIO);
	lf_wof_close(w);
	free(st.p);
	/* a compressed chunk of garbage; the chunk before it still reads */
	st = make(LF_STORE_WOF_LZX, d, size);
	uint32_t second = le32(st.p);                 /* chunk 1's offset after the table */
	memset(st.p + 12 + second, 0xFF, 20);
	ck_assert_int_eq(lf_wof_open(LF_STORE_WOF_LZX, size, st.n, &w), 0);
	ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, 40000, 30000, why, sizeof why), -EIO);
	ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, 1000, 0, why, sizeof why), 1000);
	ck_assert(!memcmp(out, d, 1000));
	lf_wof_close(w);
	/* a stream shorter than its table, and one cut short */
	ck_assert_int_eq(lf_wof_open(LF_STORE_WOF_LZX, size, 3, &w), 0);
	ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, 10, 0, why, sizeof why), -EIO);
	lf_wof_close(w);
	st.n -= 10;
	ck_assert_int_eq(lf_wof_open(LF_STORE_WOF_LZX, size, st.n + 10, &w), 0);
	ck_assert_int_eq(lf_wof_pread(w, rd, &st, out, 10, size - 10, why, sizeof why), -EIO);
	lf_wof_close(w);
	free(st.p);
	free(d);
	ck_assert_int_eq(lf_wof_open(LF_STORE_DEDUP, 1, 1, &w), -EINVAL);
}
END_TEST

static unsigned kind(uint32_t tag, const uint32_t *words, int n, uint32_t wattr, int efs, int none)
{
	uint8_t rp[64] = {0};
	put_le32(rp, tag);
	put_le16(rp + 4, (uint16_t)(4 * n));
	for (int i = 0; i < n; i++)
		put_le32(rp + 8 + 4 * i, words[i]);
	return lf_store_classify(tag ? rp : NULL, tag ? 8u + 4u * (unsigned)n : 0, wattr, efs, none);
}

START_TEST(storage_kinds)
{
	const uint32_t lzx[] = { 1, 2, 1, 1 }, x16[] = { 1, 2, 1, 3 }, bad[] = { 1, 2, 1, 9 },
		       wim[] = { 1, 1, 1, 0 }, v2[] = { 2, 2, 1, 0 };
	ck_assert_uint_eq(kind(0, NULL, 0, 0x20, 0, 0), LF_STORE_PLAIN);
	ck_assert_uint_eq(kind(LF_REPARSE_TAG_WOF, lzx, 4, 0, 0, 0), LF_STORE_WOF_LZX);
	ck_assert_uint_eq(kind(LF_REPARSE_TAG_WOF, x16, 4, 0, 0, 0), LF_STORE_WOF_XPRESS16K);
	ck_assert_uint_eq(kind(LF_REPARSE_TAG_WOF, bad, 4, 0, 0, 0), LF_STORE_WOF_UNKNOWN);
	ck_assert_uint_eq(kind(LF_REPARSE_TAG_WOF, v2, 4, 0, 0, 0), LF_STORE_WOF_UNKNOWN);
	ck_assert_uint_eq(kind(LF_REPARSE_TAG_WOF, lzx, 2, 0, 0, 0), LF_STORE_WOF_UNKNOWN);
	ck_assert_uint_eq(kind(LF_REPARSE_TAG_WOF, wim, 4, 0, 0, 0), LF_STORE_WIMBOOT);
	ck_assert_uint_eq(kind(0x80000013, lzx, 4, 0, 0, 0), LF_STORE_DEDUP);
	ck_assert_uint_eq(kind(0xC0000004, lzx, 4, 0x1000, 0, 0), LF_STORE_HSM);
	ck_assert_uint_eq(kind(0x80000008, lzx, 4, 0, 0, 0), LF_STORE_WIMBOOT);
	ck_assert_uint_eq(kind(0x8000001B, lzx, 4, 0, 0, 0), LF_STORE_ALIAS);
	ck_assert_uint_eq(kind(0, NULL, 0, 0x4000, 1, 0), LF_STORE_EFS);
	/* cloud placeholders: only when their data is not here */
	for (uint32_t n = 0; n < 16; n++) {
		uint32_t tag = 0x9000001A | n << 12;
		ck_assert_uint_eq(kind(tag, lzx, 4, 0x20, 0, 0), LF_STORE_PLAIN);
		ck_assert_uint_eq(kind(tag, lzx, 4, 0x400000, 0, 0), LF_STORE_CLOUD);
		ck_assert_uint_eq(kind(tag, lzx, 4, 0x40000, 0, 0), LF_STORE_CLOUD);
		ck_assert_uint_eq(kind(tag, lzx, 4, 0x1000, 0, 0), LF_STORE_CLOUD);
		ck_assert_uint_eq(kind(tag, lzx, 4, 0x20, 0, 1), LF_STORE_CLOUD);
	}
	ck_assert_uint_eq(kind(0xA000000C, lzx, 4, 0, 0, 0), LF_STORE_PLAIN);   /* a symlink */
	ck_assert_str_eq(lf_store_name(LF_STORE_WOF_XPRESS8K), "wof-xpress8k");
	ck_assert_ptr_nonnull(strstr(lf_store_why(LF_STORE_CLOUD), "placeholder"));
	ck_assert_ptr_null(lf_store_why(LF_STORE_WOF_LZX));
}
END_TEST

int main(void)
{
	const TTest *const tests[] = { every_algorithm_and_shape, hostile_streams, storage_kinds };
	return th_run_suite("wof", tests, sizeof tests / sizeof tests[0]);
}
