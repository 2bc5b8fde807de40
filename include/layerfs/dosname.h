/* 8.3 (DOS) names as Windows makes them for a long name: what publish
 * gives a file the stack has no 8.3 name for. */
#ifndef LAYERFS_DOSNAME_H
#define LAYERFS_DOSNAME_H

#include <stddef.h>

/* Is NAME a legal 8.3 name itself (1-8 characters, an optional dot and
 * 1-3 more, no spaces, no character DOS forbids, ASCII)? Windows makes
 * no short name for one, whatever its case. */
int lf_dos_legal(const char *name);
/* The n-th (1, 2, ...) 8.3 name Windows would try for NAME: spaces and
 * all dots but the last dropped, forbidden characters as '_', upper
 * case; the first 6 characters ~N, the extension's first 3 (PROGRA~1,
 * MICROS~2.TXT); from the 5th on, 2 characters, 4 hex digits of a hash of
 * the name, ~1 and up (PR4C2A~1), as Windows does after four. Into out
 * (13 bytes). */
void lf_dos_make(const char *name, unsigned n, char out[13]);
/* A folder's 8.3 names: given[i] holds names[i]'s from the source, or ""
 * (then made here for a name that is not a legal 8.3 name itself: the
 * first lf_dos_make candidate no name of the folder has, long or short);
 * left "" for a legal one; "-" holds a place that gets none (left ""
 * too). A given
 * name another entry holds already (a legal long name, or an earlier
 * given one: two layers' folders merged) is made anew. 0 or -ENOMEM. */
int lf_dos_names_for(const char *const *names, char (*given)[13], size_t n);
/* Is dos a name lf_dos_make makes for NAME (one of its first tries)? */
int lf_dos_made_for(const char *name, const char *dos);

#endif
