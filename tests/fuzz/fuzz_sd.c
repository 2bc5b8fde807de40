/* libFuzzer target: security descriptors (fs/security/). The input is
 * taken as descriptor bytes and as SDDL text: neither reads past what it
 * was given, a descriptor that checks out prints as SDDL that parses back
 * to the same bytes' meaning, and what inherits from it checks out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/security.h"
#include "fuzz.h"

static void round_trip(const uint8_t *sd, size_t len)
{
	char *text = NULL;
	if (lf_sd_to_sddl(sd, len, &text))
		return;
	uint8_t *again = NULL;
	size_t n;
	const char *why;
	/* object and callback ACEs print but do not parse: only the rest */
	if (!strstr(text, "(O") && !strstr(text, "(X") && !strstr(text, "(0x") &&
	    lf_sd_from_sddl(text, &again, &n, &why) == 0) {
		char *text2 = NULL;
		if (lf_sd_to_sddl(again, n, &text2) || strcmp(text, text2))
			abort();
		free(text2);
		free(again);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size + 1);    /* exact size: ASan sees any overread */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct lf_token t;
	struct lf_sid u;
	lf_sid_from_text("S-1-5-21-1-2-3-1001", &u);
	if (lf_token_user(&t, &u, 1)) {
		free(copy);
		return 0;
	}
	(void)lf_sd_rights(copy, size, &t, &lf_file_map);
	uint8_t *child;
	size_t n;
	if (lf_sd_inherit(copy, size, &t, 1, &lf_key_map, &child, &n) == 0) {
		if (lf_sd_check(child, n, NULL))
			abort();
		free(child);
	}
	if (lf_sd_check(copy, size, NULL) == 0)
		round_trip(copy, size);
	copy[size] = 0;                       /* the same bytes as SDDL text */
	uint8_t *sd;
	const char *why;
	if (lf_sd_from_sddl((const char *)copy, &sd, &n, &why) == 0) {
		if (lf_sd_check(sd, n, NULL))
			abort();
		round_trip(sd, n);
		free(sd);
	}
	lf_token_free(&t);
	free(copy);
	return 0;
}
