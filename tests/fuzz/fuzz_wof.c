/* libFuzzer target: a Compact OS file's stream (fs/ntfs/wof.c), and the
 * reparse data its kind is told by. The first byte picks the algorithm,
 * the next three the file's size (up to 16 MiB), the rest is the stream:
 * every read ends in data or EIO, never a read past the stream or the
 * buffer, and the same read twice (once from the chunk cache) agrees. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/wof.h"
#include "fuzz.h"

struct stream {
	const uint8_t *p;
	size_t n;
};

static ssize_t rd(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct stream *s = ctx;
	if (off >= s->n)
		return 0;
	size_t k = s->n - off < len ? s->n - (size_t)off : len;
	memcpy(buf, s->p + off, k);
	return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lf_store_classify(data, size, size > 4 ? data[4] : 0, 0, size & 1);
	if (size < 4)
		return 0;
	unsigned store = LF_STORE_WOF_XPRESS4K + data[0] % 4;
	uint64_t fsize = (uint64_t)data[1] | (uint64_t)data[2] << 8 | (uint64_t)data[3] << 16;
	uint8_t *copy = malloc(size - 4 + 1);      /* exact: ASan sees an overread */
	memcpy(copy, data + 4, size - 4);
	struct stream s = { copy, size - 4 };
	struct lf_wof *w;
	if (lf_wof_open(store, fsize, s.n, &w)) {
		free(copy);
		return 0;
	}
	uint8_t *a = malloc(fsize + 1), *b = malloc(70000);
	char why[200];
	ssize_t n = lf_wof_pread(w, rd, &s, a, fsize, 0, why, sizeof why);
	if (n >= 0 && (uint64_t)n != fsize)
		abort();
	if (n > 0 && fsize > 100) {
		uint64_t off = fsize / 3;
		size_t len = fsize - off < 70000 ? (size_t)(fsize - off) : 70000;
		ssize_t m = lf_wof_pread(w, rd, &s, b, len, off, why, sizeof why);
		if (m != (ssize_t)len || memcmp(a + off, b, len))
			abort();
	}
	lf_wof_close(w);
	free(a);
	free(b);
	free(copy);
	return 0;
}
