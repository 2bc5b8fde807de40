/* SIDs (MS-DTYP 2.4.2) in binary and text, and the token of who asks. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/bytes.h"
#include "layerfs/security.h"

#define NT(...) { .auth = { 0, 0, 0, 0, 0, 5 }, __VA_ARGS__ }
const struct lf_sid lf_sid_everyone = { .nsub = 1, .auth = { 0, 0, 0, 0, 0, 1 } };
const struct lf_sid lf_sid_local = { .nsub = 1, .auth = { 0, 0, 0, 0, 0, 2 } };
const struct lf_sid lf_sid_creator_owner = { .nsub = 1, .auth = { 0, 0, 0, 0, 0, 3 } };
const struct lf_sid lf_sid_creator_group = { .nsub = 1, .auth = { 0, 0, 0, 0, 0, 3 }, .sub = { 1 } };
const struct lf_sid lf_sid_owner_rights = { .nsub = 1, .auth = { 0, 0, 0, 0, 0, 3 }, .sub = { 4 } };
const struct lf_sid lf_sid_interactive = NT(.nsub = 1, .sub = { 4 });
const struct lf_sid lf_sid_authenticated = NT(.nsub = 1, .sub = { 11 });
const struct lf_sid lf_sid_system = NT(.nsub = 1, .sub = { 18 });
const struct lf_sid lf_sid_admins = NT(.nsub = 2, .sub = { 32, 544 });
const struct lf_sid lf_sid_users = NT(.nsub = 2, .sub = { 32, 545 });

int lf_sid_read(const uint8_t *p, size_t len, struct lf_sid *out)
{
	if (len < 8 || p[0] != 1 || p[1] > LF_SID_MAX_SUB || len < 8 + 4u * p[1])
		return -EINVAL;
	memset(out, 0, sizeof *out);
	out->nsub = p[1];
	memcpy(out->auth, p + 2, 6);
	for (int i = 0; i < out->nsub; i++)
		out->sub[i] = le32(p + 8 + 4 * i);
	return 8 + 4 * out->nsub;
}

size_t lf_sid_size(const struct lf_sid *s)
{
	return 8 + 4u * s->nsub;
}

void lf_sid_write(const struct lf_sid *s, uint8_t *p)
{
	p[0] = 1;
	p[1] = s->nsub;
	memcpy(p + 2, s->auth, 6);
	for (int i = 0; i < s->nsub; i++)
		put_le32(p + 8 + 4 * i, s->sub[i]);
}

int lf_sid_eq(const struct lf_sid *a, const struct lf_sid *b)
{
	return a->nsub == b->nsub && !memcmp(a->auth, b->auth, 6) &&
	       !memcmp(a->sub, b->sub, sizeof a->sub[0] * a->nsub);
}

int lf_sid_from_text(const char *s, struct lf_sid *out)
{
	memset(out, 0, sizeof *out);
	if ((s[0] != 'S' && s[0] != 's') || strncmp(s + 1, "-1-", 3))
		return -EINVAL;
	const char *p = s + 4;
	char *end;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	uint64_t auth = strtoull(p, &end, 0);
	if (errno || end == p || auth >> 48)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		out->auth[i] = (uint8_t)(auth >> (8 * (5 - i)));
	for (p = end; *p == '-'; p = end) {
		if (out->nsub == LF_SID_MAX_SUB || p[1] < '0' || p[1] > '9')
			return -EINVAL;
		errno = 0;
		unsigned long long v = strtoull(p + 1, &end, 10);
		if (errno || v > UINT32_MAX)
			return -EINVAL;
		out->sub[out->nsub++] = (uint32_t)v;
	}
	return *p ? -EINVAL : 0;
}

void lf_sid_to_text(const struct lf_sid *s, char *buf, size_t n)
{
	uint64_t auth = 0;
	for (int i = 0; i < 6; i++)
		auth = auth << 8 | s->auth[i];
	int k = auth >> 32 ? snprintf(buf, n, "S-1-0x%" PRIx64, auth)
			   : snprintf(buf, n, "S-1-%" PRIu64, auth);
	for (int i = 0; i < s->nsub && k >= 0 && (size_t)k < n; i++)
		k += snprintf(buf + k, n - (size_t)k, "-%" PRIu32, s->sub[i]);
}

int lf_token_user(struct lf_token *t, const struct lf_sid *user, int admin)
{
	memset(t, 0, sizeof *t);
	t->user = *user;
	const struct lf_sid *std[] = { &lf_sid_everyone, &lf_sid_local, &lf_sid_interactive,
				       &lf_sid_authenticated, &lf_sid_users, &lf_sid_admins };
	int n = admin ? 6 : 5;
	if (!(t->groups = calloc((size_t)n, sizeof *t->groups)))
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		t->groups[i] = *std[i];
	t->ngroups = n;
	/* a local account's primary group is its machine's "None" (RID 513) */
	t->group = lf_sid_users;
	if (user->nsub == 5 && user->sub[0] == 21) {
		t->group = *user;
		t->group.sub[4] = 513;
	}
	return 0;
}

int lf_token_copy(struct lf_token *dst, const struct lf_token *src)
{
	*dst = *src;
	dst->groups = NULL;
	if (src->ngroups && !(dst->groups = malloc((size_t)src->ngroups * sizeof *src->groups)))
		return -ENOMEM;
	if (src->ngroups)
		memcpy(dst->groups, src->groups, (size_t)src->ngroups * sizeof *src->groups);
	return 0;
}

void lf_token_system(struct lf_token *t)
{
	memset(t, 0, sizeof *t);
	t->user = lf_sid_system;
	t->group = lf_sid_system;
	t->system = 1;
}

void lf_token_free(struct lf_token *t)
{
	free(t->groups);
	t->groups = NULL;
	t->ngroups = 0;
}

int lf_token_has(const struct lf_token *t, const struct lf_sid *s)
{
	if (lf_sid_eq(&t->user, s))
		return 1;
	for (int i = 0; i < t->ngroups; i++)
		if (lf_sid_eq(&t->groups[i], s))
			return 1;
	return 0;
}
