/* libFuzzer target: a hive file is loaded, merged onto itself, written
 * compact and loaded again. Loading may refuse the input; whatever loads
 * must merge, and whatever is written must load back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "layerfs/hive.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[64], out[64];
	snprintf(in, sizeof in, "/tmp/fuzz-hive-in.%d", getpid());
	snprintf(out, sizeof out, "/tmp/fuzz-hive-out.%d", getpid());
	FILE *f = fopen(in, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct lf_err err = {0};
	struct lf_hive *h = NULL;
	if (lf_hive_load(in, &h, &err) == 0) {
		struct lf_hive m = { .root = lf_rkey_new(h->root->name, 0), .mtime = h->mtime };
		if (!m.root || lf_hive_merge(m.root, h->root, NULL) ||
		    lf_hive_merge(m.root, h->root, NULL))
			abort();
		if (lf_hive_write(&m, out, &err) == 0) {
			struct lf_hive *back = NULL;
			if (lf_hive_load(out, &back, &err)) {
				fprintf(stderr, "written hive does not load: %s\n", err.msg);
				abort();
			}
			lf_hive_free(back);
		}
		lf_rkey_free(m.root);
		lf_hive_free(h);
	}
	unlink(in);
	unlink(out);
	return 0;
}
