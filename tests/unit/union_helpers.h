/* Unit tests of the union: a union of one folder layer under a writable
 * one, opened or the test fails. */
#ifndef LF_TEST_UNION_HELPERS_H
#define LF_TEST_UNION_HELPERS_H

#include <check.h>
#include <stdio.h>

#include "layerfs/union.h"

/* LOWER (a folder, type os) under the writable folder UPPER. */
static inline struct lf_union *th_union_open(const char *lower, const char *upper,
					     const struct lf_union_opts *o)
{
	struct lf_stack s = {0};
	struct lf_err err = {0};
	char spec[600];
	snprintf(spec, sizeof spec, "%s,type=os", lower);
	ck_assert_int_eq(lf_stack_add(&s, spec, &err), 0);
	ck_assert_int_eq(lf_stack_sort(&s, &err), 0);
	ck_assert_int_eq(lf_stack_set_upper(&s, upper, NULL, &err), 0);
	struct lf_union *u = NULL;
	ck_assert_msg(lf_union_open(&s, o, &u, &err) == 0, "%s", err.msg);
	lf_stack_free(&s);
	return u;
}

#endif
