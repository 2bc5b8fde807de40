/* Error reports: one line that names the file and the problem. */
#ifndef LAYERFS_ERR_H
#define LAYERFS_ERR_H

#include <stddef.h>

struct lf_err {
	int code;          /* positive errno value */
	char msg[1024];    /* "FILE: problem", no trailing newline */
};

/* Fill *e (which may be NULL) and return -code, so callers can write
 * `return lf_err_set(e, EINVAL, "%s: bad footer", path);`. */
int lf_err_set(struct lf_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message with more context ("PATH: " + old). */
int lf_err_prefix(struct lf_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
