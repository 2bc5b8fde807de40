/* Names Windows cannot use, and names the union keeps for itself. */
#ifndef LAYERFS_WIN_NAMES_H
#define LAYERFS_WIN_NAMES_H

/* Why Windows programs cannot use NAME (a control character, one of
 * \ : * ? " < > |, a trailing dot or space, a device's name such as CON
 * or COM1, with or without an extension), or NULL. */
const char *lf_name_forbidden(const char *name);
/* Is NAME one the writable layer keeps for itself (".wh." and what
 * begins so: delete tokens, the opaque marker, the work folder, the
 * session lock)? Nobody makes one through a mount. */
int lf_name_reserved(const char *name);

#endif
