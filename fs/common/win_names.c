/* Names Windows programs cannot use, and the names the union keeps for
 * itself: one rule each, for every place that makes a name (the union's
 * creating operations, pack, publish, capture). The set is ntfs-3g's
 * windows_names mount option's, so a name one refuses the other does. */
#include <string.h>
#include <strings.h>

#include "layerfs/layer.h"
#include "layerfs/win_names.h"

/* CON, PRN, AUX, NUL, COM1-9, LPT1-9: a device to Windows, as a whole
 * name and, as ntfs-3g refuses them, with any extension. */
static int device_name(const char *name)
{
	static const char *const dev[] = { "CON", "PRN", "AUX", "NUL" };
	size_t stem = strcspn(name, ".");
	for (size_t i = 0; i < sizeof dev / sizeof *dev; i++)
		if (stem == 3 && !strncasecmp(name, dev[i], 3))
			return 1;
	return stem == 4 && (!strncasecmp(name, "COM", 3) || !strncasecmp(name, "LPT", 3)) &&
	       name[3] >= '1' && name[3] <= '9';
}

const char *lf_name_forbidden(const char *name)
{
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if (*c < 0x20)
			return "a control character";
		if (strchr("\\:*?\"<>|", *c))
			return "a character Windows forbids (\\ : * ? \" < > |)";
	}
	size_t n = strlen(name);
	if (n && (name[n - 1] == '.' || name[n - 1] == ' '))
		return "a trailing dot or space";
	if (device_name(name))
		return "a device's name to Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9)";
	return NULL;
}

int lf_name_reserved(const char *name)
{
	return !strncmp(name, LF_WHITEOUT_PREFIX, strlen(LF_WHITEOUT_PREFIX));
}
