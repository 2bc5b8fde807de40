/* libFuzzer target: the $EA value of an NTFS file, as WSL's $LX* records
 * are read from it (fs/ntfs/lxattr.c). Any bytes decode without reading past
 * them, and what decodes encodes to records that decode the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fs/ntfs/lxattr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);   /* exact size: ASan sees any overread */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct lx_meta m, again;
	lx_decode(copy, size, &m);
	free(copy);
	uint8_t buf[128];
	size_t n = lx_encode(&m, buf, sizeof buf);
	if (m.has && !n)
		abort();
	lx_decode(buf, n, &again);
	if (memcmp(&m, &again, sizeof m))
		abort();
	return 0;
}
