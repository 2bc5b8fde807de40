/* A layer revision as an OCI artifact: the image manifest (config, then
 * the layer file's chunks in order) and the config (the layer's control
 * record), written and read. Every field read is checked: a manifest is
 * input from the network. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "layerfs/oci.h"

char *lf_oci_manifest(const char *config_type, const char *config_digest, size_t config_size,
		      const char *blob_type, char (*const blobs)[LF_OCI_DIGEST_MAX],
		      const uint64_t *sizes, size_t nblobs, const char *title, size_t *len)
{
	json_t *layers = json_array();
	for (size_t i = 0; i < nblobs; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType", blob_type,
							"digest", blobs[i], "size",
							(json_int_t)sizes[i]));
	json_t *m = json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:I}, s:o, s:{s:s}}",
			      "schemaVersion", 2, "mediaType", LF_OCI_MANIFEST,
			      "artifactType", config_type,
			      "config", "mediaType", config_type, "digest", config_digest,
			      "size", (json_int_t)config_size, "layers", layers,
			      "annotations", "org.opencontainers.image.title", title);
	char *s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (s)
		*len = strlen(s);
	return s;
}

char *lf_oci_layer_config(const struct lf_oci_layer *l, size_t *len)
{
	json_t *c = json_pack("{s:s, s:s, s:i, s:i, s:s, s:i, s:i, s:{s:s, s:s, s:I}, s:I}",
			      "format", "layerfs-layer/1", "name", l->name, "id", (int)l->id,
			      "revision", (int)l->revision, "type", l->type,
			      "os_layer", (int)l->os_layer, "priority", (int)l->priority,
			      "file", "name", l->file_name, "sha256", l->file_sha256,
			      "size", (json_int_t)l->file_size,
			      "chunk_size", (json_int_t)l->chunk_size);
	if (l->parent[0])
		json_object_set_new(c, "parent", json_string(l->parent));
	char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(c);
	if (s)
		*len = strlen(s);
	return s;
}

void lf_oci_layer_free(struct lf_oci_layer *l)
{
	free(l->name);
	free(l->file_name);
	free(l->chunks);
	memset(l, 0, sizeof *l);
}

static int bad(struct lf_err *err, const char *what, const char *fmt, const char *field)
{
	char m[300];
	snprintf(m, sizeof m, fmt, field);
	return lf_err_set(err, EINVAL, "%s: %s", what, m);
}

char *lf_oci_manifest_config_type(const char *manifest, size_t len, char digest[LF_OCI_DIGEST_MAX],
				  uint64_t *size)
{
	json_t *m = json_loadb(manifest, len, 0, NULL);
	json_t *c = json_object_get(m, "config");
	const char *t = json_string_value(json_object_get(c, "mediaType"));
	const char *d = json_string_value(json_object_get(c, "digest"));
	json_t *sz = json_object_get(c, "size");
	char *out = NULL;
	if (t && d && lf_oci_digest_ok(d) && json_is_integer(sz) && json_integer_value(sz) >= 0 &&
	    json_integer_value(json_object_get(m, "schemaVersion")) == 2) {
		snprintf(digest, LF_OCI_DIGEST_MAX, "%s", d);
		*size = (uint64_t)json_integer_value(sz);
		out = strdup(t);
	}
	json_decref(m);
	return out;
}

static int parse_config(const char *what, json_t *c, struct lf_oci_layer *l, struct lf_err *err)
{
	const char *s;
	if (!json_is_object(c) || !(s = json_string_value(json_object_get(c, "format"))) ||
	    strcmp(s, "layerfs-layer/1"))
		return bad(err, what, "the config is not a layerfs layer's (%s)", "format");
	static const char *const ints[] = { "id", "revision", "os_layer", NULL };
	uint32_t *dst[] = { &l->id, &l->revision, &l->os_layer };
	for (int i = 0; ints[i]; i++) {
		json_t *v = json_object_get(c, ints[i]);
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > UINT32_MAX)
			return bad(err, what, "config: '%s' must be a whole number above 0", ints[i]);
		*dst[i] = (uint32_t)json_integer_value(v);
	}
	json_t *p = json_object_get(c, "priority");
	if (!json_is_integer(p))
		return bad(err, what, "config: '%s' must be a whole number", "priority");
	l->priority = (long)json_integer_value(p);
	s = json_string_value(json_object_get(c, "type"));
	if (!s || (strcmp(s, "os") && strcmp(s, "platform") && strcmp(s, "app")))
		return bad(err, what, "config: '%s' must be os, platform or app", "type");
	snprintf(l->type, sizeof l->type, "%s", s);
	s = json_string_value(json_object_get(c, "name"));
	if (!s || !*s || strlen(s) > 200)
		return bad(err, what, "config: '%s' must be a name", "name");
	l->name = strdup(s);
	json_t *f = json_object_get(c, "file");
	s = json_string_value(json_object_get(f, "name"));
	if (!s || !*s || strchr(s, '/') || s[0] == '.' || strlen(s) > 255)
		return bad(err, what, "config: '%s' must be a file name (no '/')", "file.name");
	l->file_name = strdup(s);
	s = json_string_value(json_object_get(f, "sha256"));
	if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
		return bad(err, what, "config: '%s' must be 64 hex digits", "file.sha256");
	memcpy(l->file_sha256, s, 65);
	json_t *sz = json_object_get(f, "size"), *cs = json_object_get(c, "chunk_size");
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return bad(err, what, "config: '%s' must be a number of bytes", "file.size");
	l->file_size = (uint64_t)json_integer_value(sz);
	if (!json_is_integer(cs) || json_integer_value(cs) < 4096 ||
	    json_integer_value(cs) > (64 << 20))
		return bad(err, what, "config: '%s' must be 4 KiB to 64 MiB", "chunk_size");
	l->chunk_size = (uint64_t)json_integer_value(cs);
	s = json_string_value(json_object_get(c, "parent"));
	if (s && !lf_oci_digest_ok(s))
		return bad(err, what, "config: '%s' must be a sha256 digest", "parent");
	snprintf(l->parent, sizeof l->parent, "%s", s ? s : "");
	if (!l->name || !l->file_name)
		return lf_err_set(err, ENOMEM, "out of memory");
	return 0;
}

int lf_oci_layer_parse(const char *manifest, size_t mlen, const char *config, size_t clen,
		       struct lf_oci_layer *out, struct lf_err *err)
{
	const char *what = out->manifest_digest[0] ? out->manifest_digest : "manifest";
	json_error_t je;
	json_t *m = json_loadb(manifest, mlen, 0, &je);
	json_t *c = json_loadb(config, clen, 0, NULL);
	int rc = 0;
	if (!m)
		rc = lf_err_set(err, EINVAL, "%s: not JSON: %s", what, je.text);
	else if (!c)
		rc = bad(err, what, "its config is not JSON%s", "");
	if (!rc)
		rc = parse_config(what, c, out, err);
	json_t *layers = json_object_get(m, "layers");
	size_t n = json_array_size(layers);
	uint64_t want = out->chunk_size ? (out->file_size + out->chunk_size - 1) / out->chunk_size : 0;
	if (!rc && (!json_is_array(layers) || n != want))
		rc = lf_err_set(err, EINVAL, "%s: %zu chunks for a %llu-byte file in %llu-byte "
				"chunks (want %llu)", what, n, (unsigned long long)out->file_size,
				(unsigned long long)out->chunk_size, (unsigned long long)want);
	if (!rc && n && !(out->chunks = calloc(n, sizeof *out->chunks)))
		rc = lf_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *b = json_array_get(layers, i);
		const char *d = json_string_value(json_object_get(b, "digest"));
		json_t *sz = json_object_get(b, "size");
		uint64_t expect = i + 1 < n ? out->chunk_size
					    : out->file_size - (uint64_t)i * out->chunk_size;
		if (!d || !lf_oci_digest_ok(d) || !json_is_integer(sz) ||
		    (uint64_t)json_integer_value(sz) != expect)
			rc = lf_err_set(err, EINVAL, "%s: chunk %zu: want a sha256 digest and a size "
					"of %llu", what, i, (unsigned long long)expect);
		else
			memcpy(out->chunks[i], d, LF_OCI_DIGEST_MAX);
	}
	out->nchunks = rc ? 0 : n;
	json_decref(m);
	json_decref(c);
	if (rc)
		lf_oci_layer_free(out);
	return rc;
}

int lf_oci_unreachable(int code)
{
	code = code < 0 ? -code : code;
	return code == ECONNREFUSED || code == EHOSTUNREACH || code == ETIMEDOUT ||
	       code == ECONNRESET;
}

int lf_oci_manifest_fetch(struct lf_registry *r, struct lf_chunk_cache *cache, const char *host,
			  const char *name, const char *reference, char **body, size_t *len,
			  char digest[LF_OCI_DIGEST_MAX], struct lf_err *err)
{
	struct lf_err e = {0};
	int rc = lf_registry_get_manifest(r, name, reference, body, len, digest, &e);
	if (!rc && cache) {
		lf_chunk_cache_keep(cache, digest, *body, *len);
		if (!lf_oci_digest_ok(reference))
			lf_chunk_cache_set_tag(cache, host, name, reference, digest);
		return 0;
	}
	if (rc && cache && lf_oci_unreachable(e.code)) {
		char want[LF_OCI_DIGEST_MAX];
		snprintf(want, sizeof want, "%s", reference);
		if ((lf_oci_digest_ok(want) || lf_chunk_cache_tag(cache, host, name, reference, want) == 0) &&
		    lf_chunk_cache_read(cache, want, body, len) == 0) {
			snprintf(digest, LF_OCI_DIGEST_MAX, "%s", want);
			fprintf(stderr, "layerfs: %s/%s:%s: the registry cannot be reached (%s): "
				"using the cached %s\n", host, name, reference, e.msg, want);
			return 0;
		}
	}
	if (err)
		*err = e;
	return rc;
}

/* The manifest and config, from the registry, or from the cache when the
 * registry cannot be reached (a session host keeps working offline). */
int lf_oci_small_blob(struct lf_registry *r, struct lf_chunk_cache *cache, const char *name,
		      const char *digest, uint64_t size, char **body, size_t *len,
		      struct lf_err *err)
{
	if (cache && lf_chunk_cache_read(cache, digest, body, len) == 0)
		return 0;
	if (size > (4 << 20))
		return lf_err_set(err, EFBIG, "%s: config of %llu bytes: refused", digest,
				  (unsigned long long)size);
	char *b = malloc(size + 1);
	if (!b)
		return lf_err_set(err, ENOMEM, "out of memory");
	int rc = lf_registry_get_blob(r, name, digest, b, size, err);
	if (rc) {
		free(b);
		return rc;
	}
	b[size] = 0;
	if (cache)
		lf_chunk_cache_keep(cache, digest, b, size);
	*body = b;
	*len = size;
	return 0;
}

int lf_oci_layer_fetch(struct lf_registry *r, const char *host, const char *name,
		       const char *reference, struct lf_oci_layer *out, struct lf_err *err)
{
	memset(out, 0, sizeof *out);
	struct lf_chunk_cache *cache = NULL;
	struct lf_err ce = {0};
	if (!lf_oci_config()->verify)
		lf_chunk_cache_get(&cache, &ce);
	char *m = NULL, *c = NULL, cdigest[LF_OCI_DIGEST_MAX];
	size_t mlen = 0, clen = 0;
	uint64_t csize = 0;
	int rc = lf_oci_manifest_fetch(r, cache, host, name, reference, &m, &mlen,
				       out->manifest_digest, err);
	char *type = rc ? NULL : lf_oci_manifest_config_type(m, mlen, cdigest, &csize);
	if (!rc && (!type || strcmp(type, LF_OCI_LAYER_CONFIG)))
		rc = lf_err_set(err, EMEDIUMTYPE, "%s/%s:%s: not a layerfs layer (its config is %s)",
				host, name, reference, type ? type : "not an OCI image manifest's");
	free(type);
	if (!rc)
		rc = lf_oci_small_blob(r, cache, name, cdigest, csize, &c, &clen, err);
	if (!rc)
		rc = lf_oci_layer_parse(m, mlen, c, clen, out, err);
	free(m);
	free(c);
	return rc;
}

int lf_oci_layer_cached(const char *uri, uint64_t *cached, uint64_t *total, struct lf_err *err)
{
	struct lf_oci_ref ref;
	struct lf_registry *r;
	struct lf_chunk_cache *cache;
	struct lf_oci_layer l;
	int rc = lf_oci_ref_parse(uri, &ref, err);
	if (!rc)
		rc = lf_chunk_cache_get(&cache, err);
	if (!rc)
		rc = lf_registry_get(ref.host, &r, err);
	if (!rc)
		rc = lf_oci_layer_fetch(r, ref.host, ref.name, ref.digest[0] ? ref.digest
					: ref.tag[0] ? ref.tag : "latest", &l, err);
	if (rc)
		return rc;
	*cached = 0;
	*total = l.file_size;
	for (size_t i = 0; i < l.nchunks; i++) {
		uint64_t size = lf_oci_chunk_len(l.file_size, l.chunk_size, i);
		if (lf_chunk_cache_has(cache, l.chunks[i], size))
			*cached += size;
	}
	lf_oci_layer_free(&l);
	return 0;
}
