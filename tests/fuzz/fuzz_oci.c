/* libFuzzer target: what a registry sends, as hostile as it likes. The
 * bytes up to the first NUL are a manifest, the rest its config: both
 * read as a layer revision (fs/oci/artifact.c), the manifest's config
 * type taken, and the first line tried as a reference (fs/oci/oci_ref.c).
 * Nothing may crash or read past what it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/oci.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, 0, size);
	size_t mlen = nul ? (size_t)(nul - s) : size;
	const char *config = nul ? nul + 1 : "";
	size_t clen = nul ? size - mlen - 1 : 0;
	struct lf_oci_layer l;
	memset(&l, 0, sizeof l);
	if (lf_oci_layer_parse(s, mlen, config, clen, &l, NULL) == 0) {
		size_t n = 0;
		free(lf_oci_layer_config(&l, &n));
		lf_oci_layer_free(&l);
	}
	char digest[LF_OCI_DIGEST_MAX];
	uint64_t csize = 0;
	free(lf_oci_manifest_config_type(s, mlen, digest, &csize));
	char line[600];
	const char *nl = memchr(s, '\n', mlen);
	size_t ln = nl ? (size_t)(nl - s) : mlen;
	if (ln < sizeof line) {
		memcpy(line, s, ln);
		line[ln] = 0;
		struct lf_oci_ref ref;
		char back[1200];
		if (lf_oci_ref_parse(line, &ref, NULL) == 0)
			lf_oci_ref_str(&ref, back, sizeof back);
		uint64_t bytes;
		lf_parse_size(line, &bytes);
	}
	return 0;
}
