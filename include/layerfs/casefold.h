/* Case-insensitive names as Windows compares them: each character mapped
 * to upper case (NTFS compares through its $UpCase table, which is simple
 * one-to-one upper-casing). */
#ifndef LAYERFS_CASEFOLD_H
#define LAYERFS_CASEFOLD_H

#include <stddef.h>
#include <stdint.h>

/* Write the folded form of UTF-8 `in` to out (NUL-terminated); returns
 * its length, or -1 if `in` is not UTF-8 or out is too small. Invalid
 * UTF-8 bytes are folded as themselves so that every name has a key. */
int lf_casefold(const char *in, char *out, size_t size);

/* Compare two UTF-8 names ignoring case; 0 when equal. */
int lf_casecmp(const char *a, const char *b);

/* Hash of the folded name (FNV-1a). */
uint64_t lf_casehash(const char *name);

#endif
