/* References to a registry's artifacts, digests, and the process's
 * settings for reaching registries. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "layerfs/oci.h"

static struct lf_oci_config config;  /* set once by main, before threads */

void lf_oci_configure(const struct lf_oci_config *c)
{
	config = *c;
	/* LAYERFS_CACHE for the programs with no --cache (layerctl's
	 * diff, which, publish of oci:// stacks) */
	if (!config.cache_dir)
		config.cache_dir = getenv("LAYERFS_CACHE");
}

const struct lf_oci_config *lf_oci_config(void)
{
	if (!config.cache_dir)
		config.cache_dir = getenv("LAYERFS_CACHE");
	return &config;
}

const char *lf_oci_cache_dir(void)
{
	const char *d = lf_oci_config()->cache_dir;
	return d ? d : "/var/cache/layerfs";
}

int lf_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	int shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' && shift)
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int lf_oci_is_uri(const char *s)
{
	return s && strncmp(s, "oci://", 6) == 0;
}

void lf_oci_digest(const void *buf, size_t len, char out[LF_OCI_DIGEST_MAX])
{
	static const char hex[] = "0123456789abcdef";
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&c);
	sha256_update(&c, len, buf);
	sha256_digest(&c, sizeof d, d);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		out[7 + 2 * i] = hex[d[i] >> 4];
		out[8 + 2 * i] = hex[d[i] & 15];
	}
	out[7 + 64] = 0;
}

int lf_oci_digest_ok(const char *d)
{
	if (strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return 0;
	for (const char *p = d + 7; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return 0;
	return 1;
}

/* The distribution spec's grammar for a repository name: components
 * joined by '/', each lower-case letters and digits in runs joined by '.',
 * '_', '__' or dashes. */
static int component_ok(const char *p, size_t n)
{
	size_t i = 0;
	for (;;) {
		size_t start = i;
		while (i < n && (islower((unsigned char)p[i]) || isdigit((unsigned char)p[i])))
			i++;
		if (i == start)
			return 0;
		if (i == n)
			return 1;
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i += i + 1 < n && p[i + 1] == '_' ? 2 : 1;
		} else if (p[i] == '-') {
			while (i < n && p[i] == '-')
				i++;
		} else {
			return 0;
		}
	}
}

static int name_ok(const char *s)
{
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (!component_ok(s, n))
			return 0;
		if (!slash)
			return 1;
		s = slash + 1;
	}
}

static int tag_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return 0;
	return 1;
}

int lf_oci_ref_parse(const char *s, struct lf_oci_ref *out, struct lf_err *err)
{
	memset(out, 0, sizeof *out);
	const char *in = s;
	if (lf_oci_is_uri(s))
		s += 6;
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || (size_t)(slash - s) >= sizeof out->host)
		return lf_err_set(err, EINVAL, "%s: not a registry reference: want "
				  "HOST[:PORT]/NAME[:TAG|@DIGEST]", in);
	memcpy(out->host, s, (size_t)(slash - s));
	for (const char *h = out->host; *h; h++)
		if (!isalnum((unsigned char)*h) && !strchr(".-:[]", *h))
			return lf_err_set(err, EINVAL, "%s: '%s' is not a host name", in, out->host);
	const char *rest = slash + 1;
	const char *at = strchr(rest, '@');
	size_t nlen = at ? (size_t)(at - rest) : strlen(rest);
	if (at) {
		if (!lf_oci_digest_ok(at + 1))
			return lf_err_set(err, EINVAL, "%s: '%s' is not a sha256 digest "
					  "(sha256: and 64 lower-case hex digits)", in, at + 1);
		snprintf(out->digest, sizeof out->digest, "%s", at + 1);
	}
	/* a tag is after the last ':' that follows the last '/' */
	const char *lastslash = memrchr(rest, '/', nlen);
	const char *colon = memchr(lastslash ? lastslash : rest, ':',
				   nlen - (size_t)((lastslash ? lastslash : rest) - rest));
	if (colon) {
		size_t tlen = nlen - (size_t)(colon + 1 - rest);
		if (tlen >= sizeof out->tag)
			return lf_err_set(err, EINVAL, "%s: tag longer than 128 characters", in);
		memcpy(out->tag, colon + 1, tlen);
		nlen = (size_t)(colon - rest);
		if (!tag_ok(out->tag))
			return lf_err_set(err, EINVAL, "%s: '%s' is not a tag (letters, digits, '_', "
					  "'.', '-'; at most 128)", in, out->tag);
	}
	if (nlen >= sizeof out->name)
		return lf_err_set(err, EINVAL, "%s: repository name too long", in);
	memcpy(out->name, rest, nlen);
	if (!name_ok(out->name))
		return lf_err_set(err, EINVAL, "%s: '%s' is not a repository name (lower-case letters "
				  "and digits, in parts joined by '/', '.', '_' or '-')", in, out->name);
	return 0;
}

void lf_oci_ref_str(const struct lf_oci_ref *r, char *out, size_t size)
{
	if (r->digest[0])
		snprintf(out, size, "%s/%s@%s", r->host, r->name, r->digest);
	else if (r->tag[0])
		snprintf(out, size, "%s/%s:%s", r->host, r->name, r->tag);
	else
		snprintf(out, size, "%s/%s", r->host, r->name);
}
