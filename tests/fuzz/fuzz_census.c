/* libFuzzer target: a census memo file (fs/union/union_census_memo.c),
 * which layerd reads from its cache folder. Any bytes: no read past them;
 * one it takes encodes to bytes it takes again, with the same count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/union.h"
#include "fuzz.h"

#define KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);    /* exact size: ASan sees any overread */
	struct lf_census_memo *m = lf_census_memo_new(), *again = lf_census_memo_new();
	if (!copy || !m || !again)
		abort();
	memcpy(copy, data, size);
	const char *why;
	if (lf_census_memo_decode(m, copy, size, KEY, &why) == 0) {
		uint8_t *out;
		size_t len, n, n2;
		if (lf_census_memo_encode(m, KEY, &out, &len, &n) ||
		    lf_census_memo_decode(again, out, len, KEY, &why))
			abort();
		uint8_t *out2;
		if (lf_census_memo_encode(again, KEY, &out2, &len, &n2) || n2 != n)
			abort();
		free(out);
		free(out2);
	}
	lf_census_memo_free(m);
	lf_census_memo_free(again);
	free(copy);
	return 0;
}
