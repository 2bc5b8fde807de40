/* UTF-16 <-> UTF-8 for names on disk (VHD parent names, reparse targets):
 * strict, a lone surrogate is bad input. The registry keeps its own
 * lenient pair (regfs/hive/reg_utf16.c): Windows stores lone surrogates
 * in hives and they must come back as they were. */
#include <stdlib.h>
#include <sys/types.h>

#include "layerfs/utf16.h"

char *lf_utf16_to_utf8(const uint8_t *p, size_t bytes, int big_endian)
{
	size_t units = bytes / 2;
	char *s = malloc(units * 3 + 1);
	if (!s)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t c = big_endian ? (uint32_t)(p[2 * i] << 8 | p[2 * i + 1])
					: (uint32_t)(p[2 * i + 1] << 8 | p[2 * i]);
		if (c == 0)
			break;
		if (c >= 0xD800 && c < 0xDC00 && i + 1 < units) {
			uint32_t d = big_endian ? (uint32_t)(p[2 * i + 2] << 8 | p[2 * i + 3])
						: (uint32_t)(p[2 * i + 3] << 8 | p[2 * i + 2]);
			if (d < 0xDC00 || d >= 0xE000) {
				free(s);
				return NULL;
			}
			c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
			i++;
		} else if (c >= 0xD800 && c < 0xE000) {
			free(s);
			return NULL;
		}
		if (c < 0x80) {
			s[o++] = (char)c;
		} else if (c < 0x800) {
			s[o++] = (char)(0xC0 | c >> 6);
			s[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			s[o++] = (char)(0xE0 | c >> 12);
			s[o++] = (char)(0x80 | (c >> 6 & 0x3F));
			s[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			char *t = realloc(s, units * 3 + 2);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
			s[o++] = (char)(0xF0 | c >> 18);
			s[o++] = (char)(0x80 | (c >> 12 & 0x3F));
			s[o++] = (char)(0x80 | (c >> 6 & 0x3F));
			s[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	s[o] = 0;
	return s;
}

ssize_t lf_utf8_to_utf16(const char *s, uint8_t *out, size_t cap,
			 int big_endian)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t c;
		int extra;
		if (*p < 0x80) { c = *p; extra = 0; }
		else if ((*p & 0xE0) == 0xC0) { c = *p & 0x1F; extra = 1; }
		else if ((*p & 0xF0) == 0xE0) { c = *p & 0x0F; extra = 2; }
		else if ((*p & 0xF8) == 0xF0) { c = *p & 0x07; extra = 3; }
		else return -1;
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xC0) != 0x80)
				return -1;
			c = c << 6 | (*p & 0x3F);
		}
		uint16_t u[2];
		int nu = 1;
		if (c >= 0x10000) {
			c -= 0x10000;
			u[0] = (uint16_t)(0xD800 | c >> 10);
			u[1] = (uint16_t)(0xDC00 | (c & 0x3FF));
			nu = 2;
		} else {
			u[0] = (uint16_t)c;
		}
		for (int i = 0; i < nu; i++, o += 2) {
			if (out && o + 2 <= cap) {
				out[o + (big_endian ? 0 : 1)] = (uint8_t)(u[i] >> 8);
				out[o + (big_endian ? 1 : 0)] = (uint8_t)u[i];
			}
		}
	}
	return (ssize_t)o;
}
