#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wctype.h>

#include "layerfs/casefold.h"

static locale_t utf8_locale;
static pthread_once_t locale_once = PTHREAD_ONCE_INIT;

static void make_locale(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Decode one UTF-8 character; returns bytes used (1 for a stray byte,
 * which is returned as itself with *valid = 0). */
static int decode(const unsigned char *p, uint32_t *c, int *valid)
{
	int n;
	*valid = 1;
	if (p[0] < 0x80) { *c = p[0]; return 1; }
	else if ((p[0] & 0xE0) == 0xC0) { *c = p[0] & 0x1F; n = 2; }
	else if ((p[0] & 0xF0) == 0xE0) { *c = p[0] & 0x0F; n = 3; }
	else if ((p[0] & 0xF8) == 0xF0) { *c = p[0] & 0x07; n = 4; }
	else { *c = p[0]; *valid = 0; return 1; }
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*c = p[0];
			*valid = 0;
			return 1;
		}
		*c = *c << 6 | (p[i] & 0x3F);
	}
	return n;
}

static int encode(uint32_t c, char *out)
{
	if (c < 0x80) { out[0] = (char)c; return 1; }
	if (c < 0x800) { out[0] = (char)(0xC0 | c >> 6); out[1] = (char)(0x80 | (c & 0x3F)); return 2; }
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | c >> 12); out[1] = (char)(0x80 | (c >> 6 & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F)); return 3;
	}
	out[0] = (char)(0xF0 | c >> 18); out[1] = (char)(0x80 | (c >> 12 & 0x3F));
	out[2] = (char)(0x80 | (c >> 6 & 0x3F)); out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static uint32_t upper(uint32_t c)
{
	if (c < 0x80)
		return c >= 'a' && c <= 'z' ? c - 32 : c;
	pthread_once(&locale_once, make_locale);
	/* NTFS upcases only the Basic Multilingual Plane. */
	if (!utf8_locale || c >= 0x10000)
		return c;
	uint32_t u = (uint32_t)towupper_l((wint_t)c, utf8_locale);
	/* One-to-one only, and within the BMP, as $UpCase. */
	return u < 0x10000 ? u : c;
}

int lf_casefold(const char *in, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;
	while (*p) {
		uint32_t c;
		int valid;
		int n = decode(p, &c, &valid);
		char tmp[4];
		int m;
		if (valid) {
			m = encode(upper(c), tmp);
		} else {
			tmp[0] = (char)*p;
			m = 1;
		}
		if (o + (size_t)m + 1 > size)
			return -1;
		memcpy(out + o, tmp, (size_t)m);
		o += (size_t)m;
		p += n;
	}
	if (o + 1 > size)
		return -1;
	out[o] = 0;
	return (int)o;
}

int lf_casecmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	while (*p && *q) {
		uint32_t c, d;
		int v1, v2;
		p += decode(p, &c, &v1);
		q += decode(q, &d, &v2);
		if (v1)
			c = upper(c);
		if (v2)
			d = upper(d);
		if (c != d)
			return c < d ? -1 : 1;
	}
	return (*p != 0) - (*q != 0);
}

uint64_t lf_casehash(const char *name)
{
	uint64_t h = 1469598103934665603ull;
	const unsigned char *p = (const unsigned char *)name;
	while (*p) {
		uint32_t c;
		int valid;
		p += decode(p, &c, &valid);
		if (valid)
			c = upper(c);
		for (int i = 0; i < 4; i++) {
			h ^= (c >> (8 * i)) & 0xFF;
			h *= 1099511628211ull;
		}
	}
	return h;
}
