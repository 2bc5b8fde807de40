#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "layerfs/err.h"

int lf_err_set(struct lf_err *e, int code, const char *fmt, ...)
{
	if (code <= 0)
		code = EIO;
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return -code;
}

int lf_err_prefix(struct lf_err *e, const char *fmt, ...)
{
	if (!e)
		return -EIO;
	char head[512], old[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* Truncation is acceptable here: the message stays one line. */
	size_t hl = strlen(head);
	if (hl >= sizeof e->msg)
		hl = sizeof e->msg - 1;
	memcpy(e->msg, head, hl);
	size_t ol = strlen(old);
	if (ol > sizeof e->msg - 1 - hl)
		ol = sizeof e->msg - 1 - hl;
	memcpy(e->msg + hl, old, ol);
	e->msg[hl + ol] = 0;
	return -(e->code > 0 ? e->code : EIO);
}
