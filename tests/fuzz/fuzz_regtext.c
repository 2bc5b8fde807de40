/* libFuzzer target: regfs's file names and value texts, as a user writes
 * them. Any file name decodes or is refused, and what decodes encodes back
 * to a name that decodes the same; any text parses as each type or is
 * refused, and what parses shows as a text that parses to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/regview.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[1100], back[1100], again[1100];
	size_t n = size < 1024 ? size : 1024;
	memcpy(name, data, n);
	name[n] = 0;
	int mark, def;
	if (lf_regname_decode(name, back, sizeof back, &mark, &def) == 0) {
		char enc[3400];
		if (lf_regname_encode(back, 1, mark && !def, enc, sizeof enc) > 0) {
			int m2, d2;
			if (lf_regname_decode(enc, again, sizeof again, &m2, &d2) ||
			    strcmp(again, back))
				abort();
		}
	}
	for (uint32_t type = 0; type <= 11; type++) {
		uint8_t *bytes;
		uint32_t len;
		if (lf_regval_parse(type, (const char *)data, size, &bytes, &len))
			continue;
		char *text;
		size_t tl;
		if (lf_regval_text(type, bytes, len, &text, &tl) == 0) {
			uint8_t *b2;
			uint32_t l2;
			if (lf_regval_is_text(type, bytes, len) &&
			    (lf_regval_parse(type, text, tl, &b2, &l2) || l2 != len ||
			     memcmp(b2, bytes, len)))
				abort();
			if (lf_regval_is_text(type, bytes, len))
				free(b2);
			free(text);
		}
		free(bytes);
	}
	return 0;
}
