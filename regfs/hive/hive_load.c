/* Loading a hive into memory. hivex reads names, values and times; the
 * security descriptor and class name of each key hivex does not expose,
 * so they are read from the file here, every offset checked. A hive whose
 * cells loop, or nest deeper than Windows allows, is refused. */
#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/bytes.h"
#include "hive_int.h"

#define MAX_DEPTH 512            /* Windows: 512 levels of keys */
#define HBIN_START 0x1000

struct loader {
	hive_h *h;
	const char *file;
	const uint8_t *map;
	size_t size;
	struct lf_err *err;
	size_t nkeys, nvalues;
	/* nodes on the path from the root: a child among them is a loop */
	hive_node_h path[MAX_DEPTH + 1];
};

/* The payload of the cell at hive offset off (past its size field), if it
 * lies inside the file and is at least need bytes long. */
static const uint8_t *cell(const struct loader *L, uint32_t off, size_t need, size_t *len)
{
	uint64_t at = (uint64_t)off + HBIN_START;
	if (off == 0xFFFFFFFF || at + 4 > L->size)
		return NULL;
	int32_t sz = (int32_t)le32(L->map + at);
	uint64_t n = sz < 0 ? (uint64_t)-(int64_t)sz : (uint64_t)sz;
	if (n < 4 + need || at + n > L->size)
		return NULL;
	*len = (size_t)n - 4;
	return L->map + at + 4;
}

/* A name as the cell stores it (Latin-1 or UTF-16LE) when it holds a NUL,
 * which hivex's C string would cut: the NUL kept as the two bytes C0 80
 * (as Modified UTF-8 does), so the name stays whole and a C string.
 * NULL when it holds none (hivex's name is used) or on a bad cell. */
static char *name_with_nul(const struct loader *L, uint64_t at, size_t len, int latin)
{
	if (at + len > L->size || (!latin && len % 2))
		return NULL;
	const uint8_t *p = L->map + at;
	int nul = 0;
	for (size_t i = 0; i < len && !nul; i += latin ? 1 : 2)
		nul = latin ? !p[i] : !p[i] && !p[i + 1];
	char *out = nul ? malloc(len * 3 + 2) : NULL;
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		if (latin ? !p[i] : !p[i] && !p[i + 1]) {
			out[o++] = (char)0xC0;
			out[o++] = (char)0x80;
			i += latin ? 1 : 2;
		} else if (latin) {
			if (p[i] < 0x80) {
				out[o++] = (char)p[i];
			} else {
				out[o++] = (char)(0xC0 | p[i] >> 6);
				out[o++] = (char)(0x80 | (p[i] & 0x3F));
			}
			i++;
		} else {
			o += reg_u16_to_u8_nul(p + i, (len - i) / 2, out + o);
			break;
		}
	}
	out[o] = 0;
	return out;
}

static char *key_name(const struct loader *L, hive_node_h node)
{
	const uint8_t *nk = (uint64_t)node + 4 + 0x4C <= L->size ? L->map + node + 4 : NULL;
	/* a key name is 255 characters at most: a longer one is damage, read
	 * as hivex reads it */
	int latin = nk && (le16(nk + 2) & 0x20) != 0;
	size_t len = nk ? le16(nk + 0x48) : 0;
	char *n = nk && !memcmp(nk, "nk", 2) && len <= (latin ? 255u : 510u)
		? name_with_nul(L, (uint64_t)node + 4 + 0x4C, len, latin) : NULL;
	return n ? n : hivex_node_name(L->h, node);
}

static char *value_name(const struct loader *L, hive_value_h v)
{
	const uint8_t *vk = (uint64_t)v + 4 + 0x14 <= L->size ? L->map + v + 4 : NULL;
	char *n = vk && !memcmp(vk, "vk", 2) && le16(vk + 2)
		? name_with_nul(L, (uint64_t)v + 4 + 0x14, le16(vk + 2), (le16(vk + 0x10) & 1) != 0)
		: NULL;
	return n ? n : hivex_value_key(L->h, v);
}

/* Security descriptor and class name of the nk cell at file offset node. */
static int raw_parts(struct loader *L, hive_node_h node, struct lf_rkey *k)
{
	const uint8_t *nk = node + 4 + 0x4C <= L->size ? L->map + node + 4 : NULL;
	if (!nk || memcmp(nk, "nk", 2))
		return 0;  /* hivex read it; nothing more to take */
	size_t len;
	const uint8_t *sk = cell(L, le32(nk + 0x2C), 20, &len);
	/* the writer's stand-in for "none given" (regf_write.c) reads as
	 * none, so a key of an app layer's hive or a fragment made without
	 * one never replaces a real descriptor below it in a merge */
	static const uint8_t none[20] = { 1, 0, 0x04, 0x80 };
	if (sk && !memcmp(sk, "sk", 2)) {
		uint32_t n = le32(sk + 16);
		if (n == sizeof none && n <= len - 20 && !memcmp(sk + 20, none, n))
			n = 0;
		if (n && n <= len - 20) {
			k->sd = malloc(n);
			if (!k->sd)
				return -ENOMEM;
			memcpy(k->sd, sk + 20, n);
			k->sdlen = n;
		}
	}
	uint16_t cn = le16(nk + 0x4A);
	const uint8_t *cls = cn ? cell(L, le32(nk + 0x30), cn, &len) : NULL;
	if (cls) {
		k->cls = malloc(cn);
		if (!k->cls)
			return -ENOMEM;
		memcpy(k->cls, cls, cn);
		k->clslen = cn;
	}
	return 0;
}

static int add_value(struct loader *L, struct lf_rkey *k, hive_value_h v)
{
	char *name = value_name(L, v);
	hive_type t;
	size_t len;
	char *data = name ? hivex_value_value(L->h, v, &t, &len) : NULL;
	if (!name || !data || len > UINT32_MAX) {
		free(name);
		free(data);
		return lf_err_set(L->err, EINVAL, "%s: a value of key '%s' cannot be read (cell %zu)",
				  L->file, k->name, (size_t)v);
	}
	if (k->nval == k->capval) {
		size_t cap = k->capval ? k->capval * 2 : 8;
		struct lf_rval *nv = realloc(k->val, cap * sizeof *nv);
		if (!nv) {
			free(name);
			free(data);
			return lf_err_set(L->err, ENOMEM, "%s: out of memory", L->file);
		}
		k->val = nv;
		k->capval = cap;
	}
	k->val[k->nval++] = (struct lf_rval){ name, (uint32_t)t, (uint8_t *)data, (uint32_t)len };
	L->nvalues++;
	return 0;
}

static int load_key(struct loader *L, hive_node_h node, int depth, struct lf_rkey **out)
{
	if (depth > MAX_DEPTH)
		return lf_err_set(L->err, ELOOP, "%s: keys nest deeper than %d levels (cell %zu)",
				  L->file, MAX_DEPTH, (size_t)node);
	for (int i = 0; i < depth; i++)
		if (L->path[i] == node)
			return lf_err_set(L->err, ELOOP, "%s: looping cells: key cell %zu contains itself",
					  L->file, (size_t)node);
	L->path[depth] = node;
	char *name = key_name(L, node);
	if (!name)
		return lf_err_set(L->err, EINVAL, "%s: the name of key cell %zu cannot be read",
				  L->file, (size_t)node);
	struct lf_rkey *k = lf_rkey_new(name, hivex_node_timestamp(L->h, node));
	free(name);
	if (!k)
		return lf_err_set(L->err, ENOMEM, "%s: out of memory", L->file);
	L->nkeys++;
	int rc = raw_parts(L, node, k);
	if (rc)
		rc = lf_err_set(L->err, ENOMEM, "%s: out of memory", L->file);
	errno = 0;
	hive_value_h *vals = rc ? NULL : hivex_node_values(L->h, node);
	if (!rc && !vals)
		rc = lf_err_set(L->err, errno ? errno : EINVAL, "%s: the values of key '%s' cannot be read",
				L->file, k->name);
	for (size_t i = 0; vals && vals[i] && !rc; i++)
		rc = add_value(L, k, vals[i]);
	free(vals);
	hive_node_h *kids = rc ? NULL : hivex_node_children(L->h, node);
	if (!rc && !kids)
		rc = lf_err_set(L->err, errno ? errno : EINVAL, "%s: the subkeys of key '%s' cannot be read",
				L->file, k->name);
	for (size_t i = 0; kids && kids[i] && !rc; i++) {
		struct lf_rkey *c = NULL;
		rc = load_key(L, kids[i], depth + 1, &c);
		if (!rc && lf_rkey_add(k, c)) {
			lf_rkey_free(c);
			rc = lf_err_set(L->err, ENOMEM, "%s: out of memory", L->file);
		}
	}
	free(kids);
	if (rc) {
		lf_rkey_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

/* The whole file in memory (hives are megabytes, not gigabytes). */
static int slurp(const char *file, uint8_t **out, size_t *size, struct lf_err *err)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lf_err_set(err, e, "%s: %s", file, strerror(e));
	}
	if (st.st_size < 0x2000 || st.st_size > 0x7FFFFFFF) {
		close(fd);
		return lf_err_set(err, EINVAL, "%s: %s for a registry hive (%lld bytes)", file,
				  st.st_size < 0x2000 ? "too small" : "too big", (long long)st.st_size);
	}
	uint8_t *b = malloc((size_t)st.st_size);
	size_t got = 0;
	while (b && got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!b || got != (size_t)st.st_size) {
		free(b);
		return lf_err_set(err, EIO, "%s: cannot read it whole", file);
	}
	*out = b;
	*size = got;
	return 0;
}

/* hivex opens files only: a replayed image goes to a memory file. */
static hive_h *open_image(const uint8_t *b, size_t size)
{
	int fd = memfd_create("hive", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	hive_h *h = NULL;
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, b + done, size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (done == size)
		h = hivex_open(path, 0);
	close(fd);
	return h;
}

/* The base block's checksum and the length it gives the hive bins: a
 * hive that fails either is damaged or cut short. */
static int check_header(const char *name, const uint8_t *img, size_t size, struct lf_err *err)
{
	uint32_t x = 0;
	for (int i = 0; i < 0x1FC; i += 4)
		x ^= le32(img + i);
	x = x == 0xFFFFFFFF ? 0xFFFFFFFE : x == 0 ? 1 : x;
	if (x != le32(img + 0x1FC))
		return lf_err_set(err, EINVAL, "%s: bad base block checksum at offset 0x1fc "
				  "(0x%08x, computed 0x%08x)", name, le32(img + 0x1FC), x);
	uint64_t bins = le32(img + 0x28);
	if (bins + HBIN_START > size)
		return lf_err_set(err, EINVAL, "%s: cut short: the base block says %llu bytes of "
				  "hive bins from offset 0x1000, the file has %zu", name,
				  (unsigned long long)bins, size - HBIN_START);
	return 0;
}

/* Load the image img (size bytes, owned: freed here) read from name; file
 * is where its logs may lie, or NULL for an image that is not a file. */
static int load_image(const char *name, const char *file, const struct lf_hive_logs *logs,
		      uint8_t *img, size_t size, struct lf_hive **out, struct lf_err *err)
{
	struct loader L = { .file = name, .err = err, .size = size };
	int rc = 0, dirty = 0, entries = 0;
	char note[200] = "";
	if (size < 0x2000 || memcmp(img, "regf", 4)) {
		rc = lf_err_set(err, EINVAL, "%s: not a registry hive (%s)", name,
				size < 0x2000 ? "too small" : "no 'regf' signature");
	} else if (!(rc = check_header(name, img, size, err))) {
		dirty = memcmp(img + 4, img + 8, 4) != 0;
		int r = dirty && file ? hive_replay_logs(file, &img, &L.size, &entries, note, sizeof note)
			: dirty && logs ? hive_replay_log_images(logs, &img, &L.size, &entries, note,
								 sizeof note) : 0;
		if (r == -ENOMEM)
			rc = lf_err_set(err, ENOMEM, "%s: out of memory", name);
	}
	L.map = img;
	if (!rc && !(L.h = entries || !file ? open_image(img, L.size) : hivex_open(file, 0)))
		rc = lf_err_set(err, errno ? errno : EINVAL, "%s: hivex cannot open it%s: %s", name,
				entries ? " (with its logs applied)" : "", strerror(errno ? errno : EINVAL));
	struct lf_hive *h = rc ? NULL : calloc(1, sizeof *h);
	if (!rc && !h)
		rc = lf_err_set(err, ENOMEM, "%s: out of memory", name);
	if (!rc) {
		h->dirty = dirty;
		h->log_entries = entries;
		if (dirty && !entries)
			snprintf(h->log_note, sizeof h->log_note, "%s", note[0] ? note : "no logs beside it");
		h->mtime = hivex_last_modified(L.h);
		h->minor = (int)le32(img + 0x18);   /* written back as read */
		rc = load_key(&L, hivex_root(L.h), 0, &h->root);
		h->nkeys = L.nkeys;
		h->nvalues = L.nvalues;
	}
	if (L.h)
		hivex_close(L.h);
	free(img);
	if (rc) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

int lf_hive_load(const char *file, struct lf_hive **out, struct lf_err *err)
{
	uint8_t *img = NULL;
	size_t size = 0;
	int rc = slurp(file, &img, &size, err);
	return rc ? rc : load_image(file, file, NULL, img, size, out, err);
}

int lf_hive_load_image(const char *name, const void *image, size_t size, struct lf_hive **out,
		       struct lf_err *err)
{
	return lf_hive_load_image_logs(name, image, size, NULL, out, err);
}

int lf_hive_load_image_logs(const char *name, const void *image, size_t size,
			    const struct lf_hive_logs *logs, struct lf_hive **out,
			    struct lf_err *err)
{
	if (size > 0x7FFFFFFF)
		return lf_err_set(err, EFBIG, "%s: too big for a registry hive", name);
	uint8_t *img = malloc(size ? size : 1);
	if (!img)
		return lf_err_set(err, ENOMEM, "%s: out of memory", name);
	memcpy(img, image, size);
	return load_image(name, NULL, logs, img, size, out, err);
}

void lf_hive_free(struct lf_hive *h)
{
	if (!h || __atomic_fetch_sub(&h->extra_refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	lf_rkey_free(h->root);   /* nothing, if frozen: the arena holds it */
	lf_arena_free(&h->arena);
	free(h);
}

struct lf_hive *lf_hive_ref(struct lf_hive *h)
{
	__atomic_fetch_add(&h->extra_refs, 1, __ATOMIC_ACQ_REL);
	return h;
}
