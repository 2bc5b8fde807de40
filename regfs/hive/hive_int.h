/* Internals of the registry engine shared between its files. */
#ifndef LF_HIVE_INT_H
#define LF_HIVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "layerfs/hive.h"

/* If the hive image (*image, *size bytes, read from FILE) is dirty, apply
 * the transaction logs beside FILE; *entries says how many log entries
 * went in. 0, -ENOENT if it is dirty and no usable log is there, or
 * -ENOMEM. The image may be reallocated (a log can grow the hive). */
int hive_replay_logs(const char *file, uint8_t **image, size_t *size, int *entries);

/* UTF-16LE (units) to UTF-8 (out: 4 bytes a unit is room enough);
 * returns the bytes written, no NUL added. */
size_t reg_u16_to_u8(const uint8_t *p, size_t units, char *out);
/* UTF-8 to UTF-16LE (out: 4 bytes a byte of s is room enough); returns
 * the bytes written, no NUL added. */
size_t reg_u8_to_u16(const char *s, uint8_t *out);

#endif
