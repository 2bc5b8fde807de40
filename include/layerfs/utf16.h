/* UTF-16 text in on-disk structures. */
#ifndef LAYERFS_UTF16_H
#define LAYERFS_UTF16_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Names on disk (fs/common/utf16.c): strict. */
/* Decode UTF-16 (little- or big-endian) into a malloc'd UTF-8 string;
 * NULL on bad input. */
char *lf_utf16_to_utf8(const uint8_t *p, size_t bytes, int big_endian);
/* Encode UTF-8 as UTF-16; returns bytes written (or needed), -1 on bad
 * UTF-8. */
ssize_t lf_utf8_to_utf16(const char *s, uint8_t *out, size_t cap,
			 int big_endian);

/* Registry strings (regfs/hive/reg_utf16.c): a lone surrogate is kept as
 * its own code point, as Windows stores it. */
/* UTF-16LE (units) to UTF-8 (out: 4 bytes a unit is room enough);
 * returns the bytes written, no NUL added. */
size_t reg_u16_to_u8(const uint8_t *p, size_t units, char *out);
/* UTF-8 to UTF-16LE (out: 4 bytes a byte of s is room enough); returns
 * the bytes written, no NUL added. */
size_t reg_u8_to_u16(const char *s, uint8_t *out);
/* reg_u16_to_u8, a NUL unit kept as C0 80 (Modified UTF-8): a name or a
 * .reg line that holds one stays a whole C string; reg_u8_to_u16 turns
 * C0 80 back into U+0000. */
size_t reg_u16_to_u8_nul(const uint8_t *p, size_t units, char *out);

#endif
