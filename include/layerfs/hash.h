/* FNV-1a over bytes: for tables keyed by content (descriptors, names),
 * never for a decision (equal hashes are compared byte for byte). A
 * header of its own: libntfs-3g's types clash with bytes.h's names. */
#ifndef LAYERFS_HASH_H
#define LAYERFS_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t lf_fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

#endif
