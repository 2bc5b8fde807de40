/* libFuzzer target: .reg text is imported into a tree, which is then
 * exported and imported again (the export must always parse). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "layerfs/hive.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *prefix = "HKEY_LOCAL_MACHINE\\SOFTWARE";
	struct lf_rkey *root = lf_rkey_new("ROOT", 0);
	struct lf_err err = {0};
	if (!root)
		return 0;
	if (lf_reg_import(root, prefix, (const char *)data, size, "fuzz.reg", &err) == 0) {
		char *text;
		size_t len;
		if (lf_reg_export(root, prefix, size & 1, &text, &len))
			abort();
		struct lf_rkey *again = lf_rkey_new("ROOT", 0);
		if (!again || lf_reg_import(again, prefix, text, len, "export", &err)) {
			fprintf(stderr, "an export does not import: %s\n", err.msg);
			abort();
		}
		lf_rkey_free(again);
		free(text);
	}
	lf_rkey_free(root);
	return 0;
}
