/* Reparse data layout (MS-FSCC 2.1.2): tag, data length, reserved, then
 * for symlinks and junctions the substitute and print names (offsets into
 * a UTF-16LE path buffer); symlinks add a flags word (1 = relative). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/bytes.h"
#include "layerfs/utf16.h"
#include "reparse.h"


int lf_reparse_is_link(uint32_t tag)
{
	return tag == LF_REPARSE_TAG_SYMLINK || tag == LF_REPARSE_TAG_JUNCTION;
}

ssize_t lf_reparse_decode(const uint8_t *data, size_t len, char *out,
			  size_t size, enum lf_link_kind *kind)
{
	if (len < 16)
		return -EINVAL;
	uint32_t tag = le32(data);
	if (!lf_reparse_is_link(tag))
		return -EINVAL;
	size_t dlen = le16(data + 4);
	size_t head = tag == LF_REPARSE_TAG_SYMLINK ? 20 : 16;
	if (dlen + 8 > len || dlen + 8 < head)
		return -EINVAL;
	const uint8_t *pb = data + head;
	size_t pblen = dlen + 8 - head;
	uint16_t soff = le16(data + 8), slen = le16(data + 10);
	uint16_t poff = le16(data + 12), plen = le16(data + 14);
	int relative = tag == LF_REPARSE_TAG_SYMLINK && (le32(data + 16) & 1);
	if ((size_t)soff + slen > pblen || (size_t)poff + plen > pblen)
		return -EINVAL;
	/* The substitute name is what Windows follows; the print name is for
	 * show and may be empty. */
	char *t = lf_utf16_to_utf8(pb + soff, slen, 0);
	if (!t)
		return -EINVAL;
	for (char *c = t; *c; c++)
		if (*c == '\\')
			*c = '/';
	const char *shown = t;
	enum lf_link_kind k;
	if (relative) {
		k = LF_LINK_RELATIVE;
	} else {
		if (strncmp(shown, "/?\?/", 4) == 0)
			shown += 4;
		if ((shown[0] == 'C' || shown[0] == 'c') && shown[1] == ':' &&
		    (shown[2] == '/' || shown[2] == 0)) {
			shown += 2;
			k = LF_LINK_ROOTED;
		} else {
			shown = t;
			k = LF_LINK_FOREIGN;
		}
	}
	size_t n = strlen(shown);
	if (k == LF_LINK_ROOTED && n == 0)
		shown = "/", n = 1;
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(out, shown, c);
		out[c] = 0;
	}
	free(t);
	if (kind)
		*kind = k;
	return (ssize_t)n;
}

ssize_t lf_reparse_encode_symlink(const char *target, uint8_t *out, size_t cap)
{
	int rooted = target[0] == '/';
	size_t tl = strlen(target);
	char *subst = malloc(tl + 8), *print = malloc(tl + 4);
	if (!subst || !print) {
		free(subst);
		free(print);
		return -ENOMEM;
	}
	if (rooted) {
		snprintf(subst, tl + 8, "\\??\\C:%s", target);
		snprintf(print, tl + 4, "C:%s", target);
	} else {
		strcpy(subst, target);
		strcpy(print, target);
	}
	for (char *c = subst; *c; c++)
		if (*c == '/')
			*c = '\\';
	for (char *c = print; *c; c++)
		if (*c == '/')
			*c = '\\';
	ssize_t sl = lf_utf8_to_utf16(subst, NULL, 0, 0);
	ssize_t pl = lf_utf8_to_utf16(print, NULL, 0, 0);
	ssize_t total = 20 + sl + pl;
	ssize_t rc = total;
	if (sl < 0 || pl < 0)
		rc = -EINVAL;
	else if (total > LF_REPARSE_MAX || sl > 0xFFFF || pl > 0xFFFF)
		rc = -ENAMETOOLONG;
	else if ((size_t)total > cap)
		rc = -ERANGE;
	if (rc > 0) {
		memset(out, 0, (size_t)total);
		put_le32(out, LF_REPARSE_TAG_SYMLINK);
		put_le16(out + 4, (uint16_t)(total - 8));
		put_le16(out + 8, 0);
		put_le16(out + 10, (uint16_t)sl);
		put_le16(out + 12, (uint16_t)sl);
		put_le16(out + 14, (uint16_t)pl);
		put_le32(out + 16, rooted ? 0 : 1);
		lf_utf8_to_utf16(subst, out + 20, (size_t)sl, 0);
		lf_utf8_to_utf16(print, out + 20 + sl, (size_t)pl, 0);
	}
	free(subst);
	free(print);
	return rc;
}
