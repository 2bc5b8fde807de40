/* ntfs-3g's UserMapping text (`uid:gid:SID` lines, `#` comments; a user
 * line has a uid, a group line only a gid; `::SID` is a default pattern:
 * a uid's SID is the pattern with 2*uid added to its last sub-authority,
 * as ntfs-3g's implicit mapping makes it). */
#include <errno.h>
#include <string.h>

#include "layerfs/security.h"

/* A field of digits only (or empty): its value in *v; -1 if not that. */
static int number(const char *p, size_t n, int *empty, unsigned long long *v)
{
	*empty = n == 0;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || *v > 0xffffffffull)
			return -1;
		*v = *v * 10 + (unsigned)(p[i] - '0');
	}
	return *v > 0xffffffffull ? -1 : 0;
}

int lf_usermap_sid(const char *text, size_t len, uint32_t uid, struct lf_sid *out, int *bad_line)
{
	struct lf_sid pattern;
	int have_pattern = 0, lineno = 0;
	for (size_t at = 0; at < len;) {
		const char *line = text + at;
		const char *nl = memchr(line, '\n', len - at);
		size_t n = nl ? (size_t)(nl - line) : len - at;
		at += n + 1;
		lineno++;
		const char *hash = memchr(line, '#', n);
		if (hash)
			n = (size_t)(hash - line);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (!n)
			continue;
		const char *c1 = memchr(line, ':', n);
		const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
		char sidtext[200];
		size_t sn = c2 ? n - (size_t)(c2 + 1 - line) : 0;
		struct lf_sid sid;
		unsigned long long u, g;
		int no_uid, no_gid;
		if (!c2 || sn == 0 || sn >= sizeof sidtext ||
		    number(line, (size_t)(c1 - line), &no_uid, &u) ||
		    number(c1 + 1, (size_t)(c2 - c1 - 1), &no_gid, &g)) {
			*bad_line = lineno;
			return -EINVAL;
		}
		memcpy(sidtext, c2 + 1, sn);
		sidtext[sn] = 0;
		if (lf_sid_from_text(sidtext, &sid) || sid.nsub < 1) {
			*bad_line = lineno;
			return -EINVAL;
		}
		if (no_uid && no_gid) {
			pattern = sid;
			have_pattern = 1;
		} else if (!no_uid && u == uid) {
			*out = sid;
			return 1;
		}
	}
	if (!have_pattern)
		return 0;
	*out = pattern;
	out->sub[out->nsub - 1] += 2u * (uid & 0x3fffffff);
	return 1;
}
