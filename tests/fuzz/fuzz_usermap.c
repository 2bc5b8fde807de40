/* libFuzzer target: ntfs-3g's UserMapping text (fs/security/usermap.c),
 * a repository control file. Any bytes: no read past them, and a SID
 * found prints and parses back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/security.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);    /* exact size: ASan sees any overread */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct lf_sid s, again;
	int line = 0;
	for (uint32_t uid = 0; uid < 3; uid++)
		if (lf_usermap_sid(copy, size, uid * 1000, &s, &line) == 1) {
			char text[256];
			lf_sid_to_text(&s, text, sizeof text);
			if (lf_sid_from_text(text, &again) || !lf_sid_eq(&s, &again))
				abort();
		}
	free(copy);
	return 0;
}
