/* Windows symlink and junction reparse data, to and from POSIX targets. */
#ifndef LF_REPARSE_H
#define LF_REPARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layerfs/layer.h"

#define LF_REPARSE_TAG_SYMLINK 0xA000000Cu
#define LF_REPARSE_TAG_JUNCTION 0xA0000003u
#define LF_REPARSE_MAX 16384

/* Is this reparse tag one that shows as a symlink? */
int lf_reparse_is_link(uint32_t tag);

/* Decode a symlink or junction into a POSIX target ('/' separators);
 * a target on drive C: becomes LF_LINK_ROOTED "/path". Returns the
 * target's length, or -EINVAL for data that is not a well-formed link. */
ssize_t lf_reparse_decode(const uint8_t *data, size_t len, char *out,
			  size_t size, enum lf_link_kind *kind);

/* Encode a symlink to a POSIX target: relative targets keep the relative
 * flag, rooted ones ("/x") become "\??\C:\x". Returns the length or -errno. */
ssize_t lf_reparse_encode_symlink(const char *target, uint8_t *out,
				  size_t cap);

#endif
