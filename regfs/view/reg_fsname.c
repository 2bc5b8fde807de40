/* Registry names as file names, and values as text: what regfs shows.
 * Every escape decodes back to the name it came from, and every text a
 * value is shown as parses back to the same bytes (exact bytes are in the
 * user.reg.raw xattr for the rest). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layerfs/utf16.h"
#include "layerfs/regview.h"

static const char hexdig[] = "0123456789ABCDEF";

static int must_escape(unsigned char c)
{
	return c == '/' || c == '%' || c < 0x20 || c == 0x7F;
}

int lf_regname_encode(const char *name, int is_value, int value_mark, char *out, size_t size)
{
	size_t o = 0;
	const char *whole = NULL;
	if (is_value && !*name)
		whole = "@";               /* the default value */
	else if (!*name)
		whole = "%00";             /* a key without a name: rare, but reachable */
	else if (!strcmp(name, "."))
		whole = "%2E";
	else if (!strcmp(name, ".."))
		whole = "%2E%2E";
	else if (!strcmp(name, "@"))
		whole = "%40";           /* "@" is the default value */
	else if (!strcmp(name, "\xc0\x80"))
		whole = "%C0%80";        /* a lone NUL: "%00" alone is the empty name */
	if (whole) {
		o = strlen(whole);
		if (o + 3 > size)
			return -ENAMETOOLONG;
		memcpy(out, whole, o);
	} else {
		for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
			if (o + 6 > size)
				return -ENAMETOOLONG;
			if (p[0] == 0xC0 && p[1] == 0x80) {
				/* a NUL in the name (kept as C0 80): %00 */
				memcpy(out + o, "%00", 3);
				o += 3;
				p++;
			} else if (must_escape(*p)) {
				out[o++] = '%';
				out[o++] = hexdig[*p >> 4];
				out[o++] = hexdig[*p & 15];
			} else {
				out[o++] = (char)*p;
			}
		}
	}
	if (value_mark) {
		out[o++] = '%';
		out[o++] = 'v';
	}
	out[o] = 0;
	return (int)o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int lf_regname_decode(const char *fname, char *out, size_t size, int *value_mark, int *is_default)
{
	size_t o = 0;
	*value_mark = 0;
	*is_default = !strcmp(fname, "@") || !strcmp(fname, "@%v");
	if (*is_default) {
		*value_mark = fname[1] != 0;
		out[0] = 0;
		return 0;
	}
	for (const char *p = fname; *p; p++) {
		if (o + 2 > size)
			return -ENAMETOOLONG;
		if (*p != '%') {
			out[o++] = *p;
			continue;
		}
		if (p[1] == 'v' && !p[2]) {
			*value_mark = 1;
			break;
		}
		int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		int c = hi << 4 | lo;
		if (c) {
			out[o++] = (char)c;
		} else if (strcmp(fname, "%00")) {
			/* a NUL inside a name, kept as C0 80; "%00" alone is the
			 * empty name */
			if (o + 3 > size)
				return -ENAMETOOLONG;
			out[o++] = (char)0xC0;
			out[o++] = (char)0x80;
		}
		p += 2;
	}
	out[o] = 0;
	return 0;
}

/* --- types --- */

static const char *const type_names[] = {
	"REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD",
	"REG_DWORD_BIG_ENDIAN", "REG_LINK", "REG_MULTI_SZ", "REG_RESOURCE_LIST",
	"REG_FULL_RESOURCE_DESCRIPTOR", "REG_RESOURCE_REQUIREMENTS_LIST", "REG_QWORD",
};
#define NTYPES (sizeof type_names / sizeof *type_names)

int lf_regtype_name(uint32_t type, char *buf, size_t size)
{
	if (type < NTYPES)
		return snprintf(buf, size, "%s", type_names[type]);
	return snprintf(buf, size, "0x%" PRIx32, type);
}

int lf_regtype_parse(const char *s, size_t len, uint32_t *type)
{
	char b[64];
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == 0))
		len--;
	if (!len || len >= sizeof b)
		return -EINVAL;
	memcpy(b, s, len);
	b[len] = 0;
	for (size_t i = 0; i < NTYPES; i++)
		if (!strcasecmp(b, type_names[i]) || !strcasecmp(b, type_names[i] + 4)) {
			*type = (uint32_t)i;
			return 0;
		}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(b, &end, 0);
	if (errno || *end || b[0] == '-' || v > 0xFFFFFFFFull)
		return -EINVAL;
	*type = (uint32_t)v;
	return 0;
}

/* --- values as text --- */

/* A string that reads back the same: UTF-16LE units, the last one its
 * NUL and no NUL before it. */
static int clean_string(const uint8_t *d, uint32_t len)
{
	if (len < 2 || len % 2 || d[len - 2] || d[len - 1])
		return 0;
	for (uint32_t i = 0; i + 2 < len; i += 2)
		if (!(d[i] | d[i + 1]))
			return 0;
	return 1;
}

static int is_text(uint32_t type, const uint8_t *d, uint32_t len)
{
	switch (type) {
	case REG_SZ:
	case REG_EXPAND_SZ:
		return clean_string(d, len);
	case REG_DWORD:
	case REG_DWORD_BIG_ENDIAN:
		return len == 4;
	case REG_QWORD:
		return len == 8;
	case REG_MULTI_SZ: {
		/* strings, each with its NUL, then one more NUL; no empty
		 * string inside and no newline in one (a line cannot say it) */
		if (len < 2 || len % 2)
			return 0;
		size_t n = len / 2, i = 0;
		while (i < n) {
			size_t s = i;
			while (i < n && (d[2 * i] | d[2 * i + 1])) {
				if (d[2 * i] == '\n' && !d[2 * i + 1])
					return 0;
				i++;
			}
			if (i == n)
				return 0;              /* no NUL at the end */
			if (i == s)
				return i + 1 == n;     /* the final empty string */
			i++;
		}
		return 0;
	}
	default:
		return 0;
	}
}

int lf_regval_is_text(uint32_t type, const uint8_t *data, uint32_t len)
{
	return is_text(type, data, len);
}

int lf_regval_text(uint32_t type, const uint8_t *d, uint32_t len, char **text, size_t *tlen)
{
	if (!is_text(type, d, len)) {
		char *b = malloc(len ? len : 1);
		if (!b)
			return -ENOMEM;
		memcpy(b, d, len);
		*text = b;
		*tlen = len;
		return 0;
	}
	char *b = malloc((size_t)len * 2 + 32);
	if (!b)
		return -ENOMEM;
	size_t o = 0;
	if (type == REG_DWORD || type == REG_DWORD_BIG_ENDIAN) {
		uint32_t v = type == REG_DWORD
			? (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24
			: (uint32_t)d[3] | (uint32_t)d[2] << 8 | (uint32_t)d[1] << 16 | (uint32_t)d[0] << 24;
		o = (size_t)sprintf(b, "%" PRIu32 "\n", v);
	} else if (type == REG_QWORD) {
		uint64_t v = 0;
		for (int i = 7; i >= 0; i--)
			v = v << 8 | d[i];
		o = (size_t)sprintf(b, "%" PRIu64 "\n", v);
	} else if (type == REG_MULTI_SZ) {
		size_t n = len / 2, i = 0;
		while (i + 1 < n) {
			size_t s = i;
			while (d[2 * i] | d[2 * i + 1])
				i++;
			o += reg_u16_to_u8(d + 2 * s, i - s, b + o);
			b[o++] = '\n';
			i++;
		}
	} else if (len) {
		o = reg_u16_to_u8(d, len / 2 - 1, b);
		b[o++] = '\n';
	}
	*text = b;
	*tlen = o;
	return 0;
}

/* Text (no NUL inside) to a UTF-16LE string with its terminator. */
static size_t put_string(const char *s, size_t n, uint8_t *out)
{
	char *z = strndup(s, n);
	if (!z)
		return (size_t)-1;
	size_t o = reg_u8_to_u16(z, out);
	free(z);
	out[o++] = 0;
	out[o++] = 0;
	return o;
}

static int parse_number(const char *t, size_t n, uint64_t max, uint64_t *v)
{
	char b[32];
	while (n && (t[n - 1] == '\n' || t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	while (n && (*t == ' ' || *t == '\t'))
		t++, n--;
	if (!n || n >= sizeof b || *t == '-' || *t == '+')
		return -EINVAL;
	memcpy(b, t, n);
	b[n] = 0;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(b, &end, 0);
	if (errno || *end || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

int lf_regval_parse(uint32_t type, const char *t, size_t n, uint8_t **data, uint32_t *len)
{
	if (n > 0x3FFFFFFF)
		return -EFBIG;
	int textual = type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ;
	if (textual && memchr(t, 0, n))
		return -EINVAL;    /* a NUL cannot be said in these */
	uint8_t *b = malloc(n * 4 + 16);
	if (!b)
		return -ENOMEM;
	size_t o = 0;
	uint64_t v;
	int rc = 0;
	if (!textual && !n) {
		o = 0;             /* empty: no data (as `touch` leaves it) */
	} else if (type == REG_SZ || type == REG_EXPAND_SZ) {
		if (n && t[n - 1] == '\n')
			n--;
		o = put_string(t, n, b);
	} else if (type == REG_MULTI_SZ) {
		size_t i = 0;
		while (i < n && o != (size_t)-1) {
			const char *nl = memchr(t + i, '\n', n - i);
			size_t e = nl ? (size_t)(nl - t) : n;
			if (e > i) {       /* empty lines would end the list early */
				size_t k = put_string(t + i, e - i, b + o);
				o = k == (size_t)-1 ? k : o + k;
			}
			i = e + 1;
		}
		if (o != (size_t)-1) {
			b[o++] = 0;
			b[o++] = 0;
		}
	} else if (type == REG_DWORD || type == REG_DWORD_BIG_ENDIAN) {
		rc = parse_number(t, n, 0xFFFFFFFFull, &v);
		for (int i = 0; i < 4 && !rc; i++)
			b[type == REG_DWORD ? i : 3 - i] = (uint8_t)(v >> (8 * i));
		o = 4;
	} else if (type == REG_QWORD) {
		rc = parse_number(t, n, UINT64_MAX, &v);
		for (int i = 0; i < 8 && !rc; i++)
			b[i] = (uint8_t)(v >> (8 * i));
		o = 8;
	} else {
		memcpy(b, t, n);
		o = n;
	}
	if (!rc && o == (size_t)-1)
		rc = -ENOMEM;
	if (rc) {
		free(b);
		return rc;
	}
	*data = b;
	*len = (uint32_t)o;
	return 0;
}
