/* Transaction logs (.LOG1/.LOG2): a dirty hive (seq1 != seq2) is read as
 * Windows would read it, with the logged dirty pages written over its
 * base image.
 *
 * The "HvLE" format of Windows 8.1 and later: entries are applied in
 * sequence-number order across both logs, from the log whose base block
 * has the lower sequence number; a gap, a bad signature or a bad Marvin32
 * hash ends the replay there (a torn last entry is dropped, as Windows
 * drops it).
 *
 * The old format of Windows XP to 7: the log's base block, then at 512 a
 * dirty vector ("DIRT" and one bit per 512-byte sector of the hive bins),
 * then from the next 512-byte boundary the dirty sectors, in bit order.
 * The newest log (its base block's sequence number) is applied whole. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/bytes.h"
#include "hive_int.h"

#define BASE_BLOCK 4096
#define LOG_ENTRIES 512
#define MARVIN_SEED 0x82EF4D887A4E55C5ull

static uint32_t rotl(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static void marvin_block(uint32_t *lo, uint32_t *hi)
{
	*hi ^= *lo;
	*lo = rotl(*lo, 20);
	*lo += *hi;
	*hi = rotl(*hi, 9);
	*hi ^= *lo;
	*lo = rotl(*lo, 27);
	*lo += *hi;
	*hi = rotl(*hi, 19);
}

/* Marvin32, the hash the log entries carry. */
static uint64_t marvin32(const uint8_t *p, size_t n, uint64_t seed)
{
	uint32_t lo = (uint32_t)seed, hi = (uint32_t)(seed >> 32);
	for (; n >= 4; p += 4, n -= 4) {
		lo += le32(p);
		marvin_block(&lo, &hi);
	}
	uint32_t last = 0x80;
	if (n == 1)
		last = 0x8000 | p[0];
	else if (n == 2)
		last = 0x800000 | p[0] | (uint32_t)p[1] << 8;
	else if (n == 3)
		last = 0x80000000u | p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
	lo += last;
	marvin_block(&lo, &hi);
	marvin_block(&lo, &hi);
	return (uint64_t)hi << 32 | lo;
}

static uint32_t checksum(const uint8_t *b)
{
	uint32_t x = 0;
	for (int i = 0; i < 0x1FC; i += 4)
		x ^= le32(b + i);
	return x == 0xFFFFFFFF ? 0xFFFFFFFE : x == 0 ? 1 : x;
}

struct log {
	const uint8_t *b;
	uint8_t *owned;          /* b, when read here */
	size_t size;
	uint32_t seq;            /* its base block's */
	int old;                 /* the dirty-vector format of Windows XP to 7 */
	char path[PATH_MAX];
};

/* What the replay saw, for a caller told "no usable logs". */
static void say(char *note, size_t n, const char *fmt, const char *what, const char *why)
{
	size_t at = note ? strlen(note) : 0;
	if (note && at < n)
		snprintf(note + at, n - at, fmt, at ? "; " : "", what, why);
}

static int read_file(const char *path, uint8_t **out, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	uint8_t *b = malloc(st.st_size ? (size_t)st.st_size : 1);
	ssize_t n = b ? read(fd, b, (size_t)st.st_size) : -1;
	close(fd);
	if (!b || n != st.st_size) {
		free(b);
		return -EIO;
	}
	*out = b;
	*size = (size_t)st.st_size;
	return 0;
}

/* HIVE.LOG1 / HIVE.LOG2 beside the hive, in any case (Windows writes
 * "ntuser.dat.LOG1" beside "NTUSER.DAT"). */
static int find_log(const char *hive, int which, char *out, size_t size)
{
	char dcopy[PATH_MAX], bcopy[PATH_MAX];
	snprintf(dcopy, sizeof dcopy, "%s", hive);
	snprintf(bcopy, sizeof bcopy, "%s", hive);
	const char *dir = dirname(dcopy), *base = basename(bcopy);
	char want[NAME_MAX + 8];
	snprintf(want, sizeof want, "%s.LOG%d", base, which);
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && !found && (e = readdir(d)))
		if (!strcasecmp(e->d_name, want)) {
			snprintf(out, size, "%s/%s", dir, e->d_name);
			found = 1;
		}
	if (d)
		closedir(d);
	return found;
}

/* A log whose base block is whole: signature, checksum, and for the new
 * format seq1 == seq2; the old format has its dirty vector at 512. NULL,
 * or what is wrong with it. */
static const char *why_unusable(struct log *l)
{
	if (!l->b || l->size < LOG_ENTRIES)
		return "too short for a log";
	if (memcmp(l->b, "regf", 4))
		return "no 'regf' base block";
	if (checksum(l->b) != le32(l->b + 0x1FC))
		return "its base block's checksum is wrong";
	l->old = l->size >= 1024 && !memcmp(l->b + 512, "DIRT", 4);
	if (!l->old && le32(l->b + 4) != le32(l->b + 8))
		return "its base block is half written (seq1 != seq2)";
	if (!l->old && (l->size < LOG_ENTRIES + 4 || memcmp(l->b + LOG_ENTRIES, "HvLE", 4)))
		return "neither a dirty vector (Windows XP-7) nor HvLE entries (Windows 8.1+)";
	l->seq = le32(l->b + 4);
	return NULL;
}

static int usable(struct log *l, char *note, size_t n, const char *what)
{
	const char *why = why_unusable(l);
	if (!why)
		return 1;
	say(note, n, "%s%s: %s", what, why);
	free(l->owned);
	l->owned = NULL;
	l->b = NULL;
	return 0;
}

static int open_log(const char *hive, int which, struct log *l, char *note, size_t n)
{
	char what[32];
	snprintf(what, sizeof what, ".LOG%d", which);
	if (!find_log(hive, which, l->path, sizeof l->path)) {
		say(note, n, "%s%s: %s", what, "not there");
		return 0;
	}
	if (read_file(l->path, &l->owned, &l->size)) {
		say(note, n, "%s%s: %s", what, "cannot be read");
		return 0;
	}
	l->b = l->owned;
	return usable(l, note, n, what);
}

/* The old format: the dirty sectors over the hive bins, whole. */
static int apply_old(const struct log *l, uint8_t **hive, size_t *hsize)
{
	uint32_t bins = le32(l->b + 0x28);
	if (bins % 512 || bins > 0x7FFFF000u)
		return 0;
	size_t nbits = bins / 512, vec = 516, data = (vec + (nbits + 7) / 8 + 511) / 512 * 512;
	if (vec + (nbits + 7) / 8 > l->size)
		return 0;
	size_t need = BASE_BLOCK + (size_t)bins;
	if (need > *hsize) {
		uint8_t *g = realloc(*hive, need);
		if (!g)
			return -ENOMEM;
		memset(g + *hsize, 0, need - *hsize);
		*hive = g;
		*hsize = need;
	}
	int applied = 0;
	for (size_t i = 0; i < nbits; i++) {
		if (!(l->b[vec + i / 8] >> (i % 8) & 1))
			continue;
		if (data + 512 > l->size)
			return applied ? applied : 0;   /* cut short: what came is in */
		memcpy(*hive + BASE_BLOCK + i * 512, l->b + data, 512);
		data += 512;
		applied++;
	}
	put_le32(*hive + 0x28, bins);
	put_le32(*hive + 4, l->seq);
	put_le32(*hive + 8, l->seq);
	return applied ? applied : 1;        /* a log of no dirty sector still settles it */
}

/* Apply l's entries from sequence number *next on; returns how many. */
static int apply_log(const struct log *l, uint32_t *next, uint8_t **hive, size_t *hsize)
{
	int applied = 0;
	for (size_t off = LOG_ENTRIES; off + 0x28 <= l->size; ) {
		const uint8_t *e = l->b + off;
		uint32_t size = le32(e + 4), seq = le32(e + 12), hbins = le32(e + 16),
			 npages = le32(e + 20);
		if (memcmp(e, "HvLE", 4) || size < 0x28 || size % 512 || size > l->size - off ||
		    npages > (size - 0x28) / 8 || hbins % 4096 || hbins > 0x7FFFF000u)
			break;
		if (marvin32(e, 0x20, MARVIN_SEED) != le64(e + 0x20) ||
		    marvin32(e + 0x28, size - 0x28, MARVIN_SEED) != le64(e + 0x18))
			break;
		off += size;
		if (seq < *next)
			continue;    /* already in the hive */
		if (seq != *next)
			break;       /* a gap: what follows cannot be trusted */
		size_t need = BASE_BLOCK + (size_t)hbins;
		if (need > *hsize) {
			uint8_t *g = realloc(*hive, need);
			if (!g)
				return -ENOMEM;
			memset(g + *hsize, 0, need - *hsize);
			*hive = g;
			*hsize = need;
		}
		const uint8_t *refs = e + 0x28, *data = refs + 8 * (size_t)npages;
		size_t left = size - 0x28 - 8 * (size_t)npages;
		int ok = 1;
		for (uint32_t i = 0; i < npages && ok; i++) {
			uint32_t poff = le32(refs + 8 * i), psize = le32(refs + 8 * i + 4);
			if (psize > left || (uint64_t)poff + psize > hbins)
				ok = 0;
			else {
				memcpy(*hive + BASE_BLOCK + poff, data, psize);
				data += psize;
				left -= psize;
			}
		}
		if (!ok)
			break;
		put_le32(*hive + 0x28, hbins);
		put_le32(*hive + 4, seq);
		put_le32(*hive + 8, seq);
		*next = seq + 1;
		applied++;
	}
	return applied;
}

/* Apply the usable logs of logs[0..n) to a dirty image. */
static int replay(struct log *logs, int n, uint8_t **image, size_t *size, int *entries,
		  char *note, size_t nlen)
{
	uint32_t seq2 = le32(*image + 8);
	if (n == 2 && logs[1].seq < logs[0].seq) {
		struct log t = logs[0];
		logs[0] = logs[1];
		logs[1] = t;
	}
	int rc = 0;
	if (n && logs[n - 1].old) {
		/* the old format: the newest log, whole */
		rc = apply_old(&logs[n - 1], image, size);
		if (rc > 0)
			*entries += rc;
		else if (rc == 0)
			say(note, nlen, "%s%s: %s", "the newest log", "its dirty vector runs past it");
	} else {
		/* from the primary's last complete write on */
		uint32_t next = n ? logs[0].seq : 0;
		if (n && next < seq2)
			next = seq2;
		for (int i = 0; i < n && rc >= 0 && !logs[i].old; i++) {
			rc = apply_log(&logs[i], &next, image, size);
			if (rc > 0)
				*entries += rc;
		}
		if (n && !*entries)
			say(note, nlen, "%s%s: %s", "the logs", "no entry follows the hive's last write");
	}
	for (int i = 0; i < n; i++)
		free(logs[i].owned);
	if (rc < 0)
		return rc;
	if (*entries)
		put_le32(*image + 0x1FC, checksum(*image));
	return n ? 0 : -ENOENT;
}

int hive_replay_logs(const char *file, uint8_t **image, size_t *size, int *entries,
		     char *note, size_t nlen)
{
	*entries = 0;
	uint8_t *h = *image;
	if (le32(h + 4) == le32(h + 8))
		return 0;
	struct log logs[2] = {0};
	int n = 0;
	for (int which = 1; which <= 2; which++)
		if (open_log(file, which, &logs[n], note, nlen))
			n++;
	return replay(logs, n, image, size, entries, note, nlen);
}

int hive_replay_log_images(const struct lf_hive_logs *in, uint8_t **image, size_t *size,
			   int *entries, char *note, size_t nlen)
{
	*entries = 0;
	if (le32(*image + 4) == le32(*image + 8))
		return 0;
	struct log logs[2] = {0};
	int n = 0;
	for (int i = 0; in && i < 2; i++) {
		char what[32];
		snprintf(what, sizeof what, ".LOG%d", i + 1);
		logs[n] = (struct log){ .b = in->data[i], .size = in->len[i] };
		if (!in->data[i])
			say(note, nlen, "%s%s: %s", what, "not there");
		else if (usable(&logs[n], note, nlen, what))
			n++;
	}
	return replay(logs, n, image, size, entries, note, nlen);
}
