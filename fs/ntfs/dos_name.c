/* 8.3 names, as Windows' NTFS makes them (RtlGenerate8dot3Name's rules,
 * as documented for FAT and NTFS: Microsoft's "Naming Files" page and
 * fsutil 8dot3name). The hash of the 5th name on is ours: Windows' own is
 * not documented, and any four hex digits that differ per name serve. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/dosname.h"

/* Characters DOS does not allow in a name (besides control characters
 * and space), which Windows replaces with '_'. */
static int forbidden(unsigned char c)
{
	return c < 0x20 || c >= 0x7f || strchr("\"*+,/:;<=>?[\\]|", c) != NULL;
}

int lf_dos_legal(const char *name)
{
	const char *dot = strchr(name, '.');
	size_t base = dot ? (size_t)(dot - name) : strlen(name);
	if (base == 0 || base > 8)
		return 0;
	if (dot && (strchr(dot + 1, '.') || strlen(dot + 1) == 0 || strlen(dot + 1) > 3))
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p != '.' && (forbidden(*p) || *p == ' '))
			return 0;
	return 1;
}

static uint16_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ (unsigned char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p)) * 16777619u;
	return (uint16_t)(h ^ (h >> 16));
}

void lf_dos_make(const char *name, unsigned n, char out[13])
{
	/* the last dot splits base and extension; a leading one is no
	 * extension's (".gitignore" -> GITIGN~1) */
	const char *last = strrchr(name, '.');
	if (last == name)
		last = NULL;
	char base[9] = "", ext[4] = "";
	size_t nb = 0, ne = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == ' ' || *p == '.')
			continue;
		char c = forbidden(*p) ? '_' : *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : (char)*p;
		if (last && (const char *)p > last) {
			if (ne < 3)
				ext[ne++] = c;
		} else if (nb < 8) {
			base[nb++] = c;
		}
	}
	base[nb] = ext[ne] = 0;
	if (!nb) {               /* nothing left of the base: Windows keeps a '_' */
		base[0] = '_';
		base[1] = 0;
		nb = 1;
	}
	char stem[9];
	if (n <= 4) {
		snprintf(stem, sizeof stem, "%.6s~%u", base, n);
	} else {                 /* ~1..~9 after a hash; then another hash */
		unsigned k = n - 5;
		snprintf(stem, sizeof stem, "%.2s%04X~%u", base,
			 (unsigned)(uint16_t)(name_hash(name) + (k / 9) * 0x9e37u), k % 9 + 1);
	}
	snprintf(out, 13, "%s%s%s", stem, ne ? "." : "", ext);
}

int lf_dos_made_for(const char *name, const char *dos)
{
	for (unsigned k = 1; k < 1000; k++) {
		char c[13];
		lf_dos_make(name, k, c);
		if (!strcmp(c, dos))
			return 1;
	}
	return 0;
}

/* A folder's taken 8.3 names: open addressing, upper case. */
struct taken {
	char (*v)[13];
	size_t cap;
};

static size_t slot(const struct taken *t, const char *s)
{
	size_t i = name_hash(s) & (t->cap - 1);
	while (t->v[i][0] && strcmp(t->v[i], s))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void upper12(const char *s, char up[13])
{
	size_t k = 0;
	for (; s[k] && k < 12; k++)
		up[k] = s[k] >= 'a' && s[k] <= 'z' ? (char)(s[k] - 32) : s[k];
	up[k] = 0;
}

static void mark_taken(struct taken *t, const char *s)
{
	char up[13];
	upper12(s, up);
	memcpy(t->v[slot(t, up)], up, 13);
}

static int is_taken(const struct taken *t, const char *s)
{
	char up[13];
	upper12(s, up);
	return t->v[slot(t, up)][0] != 0;
}

int lf_dos_names_for(const char *const *names, char (*given)[13], size_t n)
{
	struct taken t = { NULL, 16 };
	while (t.cap < 2 * n + 16)
		t.cap *= 2;
	if (!(t.v = calloc(t.cap, sizeof *t.v)))
		return -ENOMEM;
	/* a long name that is a legal 8.3 name holds it; a given 8.3 name
	 * another entry holds already (two layers' folders merged, each
	 * with its own PROGRA~1) is made anew */
	for (size_t i = 0; i < n; i++)
		if (lf_dos_legal(names[i]))
			mark_taken(&t, names[i]);
	for (size_t i = 0; i < n; i++) {
		if (!given[i][0] || !strcmp(given[i], "-"))
			continue;
		if (is_taken(&t, given[i]))
			given[i][0] = 0;
		else
			mark_taken(&t, given[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (given[i][0] || lf_dos_legal(names[i]))
			continue;
		for (unsigned k = 1; k < 100000; k++) {
			char c[13];
			lf_dos_make(names[i], k, c);
			if (!t.v[slot(&t, c)][0]) {
				mark_taken(&t, c);
				memcpy(given[i], c, 13);
				break;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(given[i], "-"))
			given[i][0] = 0;         /* held its place, gets none */
	free(t.v);
	return 0;
}
