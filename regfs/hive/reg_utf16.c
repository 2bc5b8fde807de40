/* UTF-16LE <-> UTF-8, for registry strings (surrogate pairs joined; a
 * lone surrogate is kept as its own code point, as Windows stores it). */
#include "layerfs/utf16.h"

size_t reg_u16_to_u8(const uint8_t *p, size_t units, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t c = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8);
		if (c >= 0xD800 && c < 0xDC00 && i + 1 < units) {
			uint32_t d = (uint32_t)(p[2 * i + 2] | p[2 * i + 3] << 8);
			if (d >= 0xDC00 && d < 0xE000) {
				c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
				i++;
			}
		}
		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xC0 | c >> 6);
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			out[o++] = (char)(0xE0 | c >> 12);
			out[o++] = (char)(0x80 | (c >> 6 & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			out[o++] = (char)(0xF0 | c >> 18);
			out[o++] = (char)(0x80 | (c >> 12 & 0x3F));
			out[o++] = (char)(0x80 | (c >> 6 & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	return o;
}

size_t reg_u16_to_u8_nul(const uint8_t *p, size_t units, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < units;) {
		if (!p[2 * i] && !p[2 * i + 1]) {
			out[o++] = (char)0xC0;
			out[o++] = (char)0x80;
			i++;
			continue;
		}
		size_t run = 0;
		while (i + run < units && (p[2 * (i + run)] || p[2 * (i + run) + 1]))
			run++;
		o += reg_u16_to_u8(p + 2 * i, run, out + o);
		i += run;
	}
	return o;
}

size_t reg_u8_to_u16(const char *s, uint8_t *out)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		uint32_t c = *p++;
		if (c == 0xC0 && *p == 0x80) {
			/* a NUL kept inside a name (see hive_load.c): U+0000 again */
			p++;
			out[n++] = 0;
			out[n++] = 0;
			continue;
		}
		int more = c < 0x80 ? 0 : c < 0xC0 ? -1 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : c < 0xF8 ? 3 : -1;
		int k = 0;
		if (more > 0)
			c &= 0x3F >> more;
		while (k < more && (p[k] & 0xC0) == 0x80)
			c = c << 6 | (p[k++] & 0x3F);
		/* a broken sequence is one U+FFFD, never a control character
		 * made of its bits (a newline in a name would break a .reg) */
		if (more < 0 || k < more || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000) ||
		    (more == 1 && c < 0x80) || (more == 2 && c < 0x800) || (more == 3 && c < 0x10000))
			c = 0xFFFD;
		else
			p += k;
		if (c >= 0x10000) {
			c -= 0x10000;
			uint32_t hi = 0xD800 | c >> 10;
			out[n++] = (uint8_t)hi;
			out[n++] = (uint8_t)(hi >> 8);
			c = 0xDC00 | (c & 0x3FF);
		}
		out[n++] = (uint8_t)c;
		out[n++] = (uint8_t)(c >> 8);
	}
	return n;
}
