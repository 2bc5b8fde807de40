/* A repository's control files as an artifact of their own in a registry
 * (docs/REGISTRY.md): an OCI manifest whose config maps each layer
 * revision to its manifest by digest, and whose two blobs are
 * GuestLayerFile.txt and LayerAssignment.txt as they were. Tagged
 * "control" (what hosts follow) and "control-TIME" (each version kept). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "layerfs/oci.h"
#include "repo_int.h"

#define CONTROL_FORMAT "layerfs-repository/1"

int lf_repo_push_control(const struct lf_repo *r, const char *host, const char *name,
			 char (*const manifests)[72], char digest[72], char *version, size_t vsize,
			 struct lf_err *err)
{
	struct lf_registry *reg;
	int rc = lf_registry_get(host, &reg, err);
	if (rc)
		return rc;
	json_t *lj = repo_layers_json(r), *aj = repo_assign_json(r), *map = json_array();
	for (size_t i = 0; i < r->nlayers; i++)
		json_array_append_new(map, json_pack("{s:i, s:i, s:s}", "id", (int)r->layers[i].id,
						     "revision", (int)r->layers[i].revision,
						     "manifest", manifests[i]));
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(version, vsize, "control-%Y%m%dT%H%M%SZ", &tm);
	json_t *cj = json_pack("{s:s, s:s, s:o}", "format", CONTROL_FORMAT, "version", version + 8,
			       "layers", map);
	size_t ignored_len;
	char *texts[3] = { repo_json_text(lj, &ignored_len), repo_json_text(aj, &ignored_len),
			   json_dumps(cj, JSON_COMPACT) };
	json_decref(lj);
	json_decref(aj);
	json_decref(cj);
	char d[3][LF_OCI_DIGEST_MAX];
	uint64_t sizes[2];
	for (int i = 0; i < 3 && !rc; i++)
		rc = texts[i] ? lf_registry_ensure_blob(reg, name, texts[i], strlen(texts[i]), d[i], err)
			      : lf_err_set(err, ENOMEM, "out of memory");
	size_t mlen = 0;
	char *m = NULL;
	if (!rc) {
		sizes[0] = strlen(texts[0]);
		sizes[1] = strlen(texts[1]);
		m = lf_oci_manifest(LF_OCI_CONTROL_CONFIG, d[2], strlen(texts[2]), LF_OCI_CONTROL_FILE,
				    d, sizes, 2, "layerfs repository", &mlen);
		if (!m)
			rc = lf_err_set(err, ENOMEM, "out of memory");
	}
	char ignored[LF_OCI_DIGEST_MAX];
	if (!rc)
		rc = lf_registry_put_manifest(reg, name, version, m, mlen, digest, err);
	if (!rc)
		rc = lf_registry_put_manifest(reg, name, "control", m, mlen, ignored, err);
	free(m);
	for (int i = 0; i < 3; i++)
		free(texts[i]);
	return rc;
}

int lf_repo_fetch_control(const char *host, const char *name, const char *tag,
			  struct lf_control_layer **layers, size_t *n, char **layers_text,
			  size_t *llen, char **assign_text, size_t *alen, char digest[72],
			  struct lf_err *err)
{
	struct lf_registry *reg;
	struct lf_chunk_cache *cache = NULL;
	struct lf_err ce = {0};
	int rc = lf_registry_get(host, &reg, err);
	if (rc)
		return rc;
	if (!lf_oci_config()->verify)
		lf_chunk_cache_get(&cache, &ce);
	char *m = NULL, *c = NULL, cdigest[LF_OCI_DIGEST_MAX];
	size_t mlen = 0, clen = 0;
	uint64_t csize = 0;
	rc = lf_oci_manifest_fetch(reg, cache, host, name, tag, &m, &mlen, digest, err);
	char *type = rc ? NULL : lf_oci_manifest_config_type(m, mlen, cdigest, &csize);
	if (!rc && (!type || strcmp(type, LF_OCI_CONTROL_CONFIG)))
		rc = lf_err_set(err, EMEDIUMTYPE, "%s/%s:%s: not a layerfs repository's control "
				"artifact (its config is %s)", host, name, tag, type ? type : "none");
	free(type);
	if (!rc)
		rc = lf_oci_small_blob(reg, cache, name, cdigest, csize, &c, &clen, err);
	json_t *mj = rc ? NULL : json_loadb(m, mlen, 0, NULL);
	json_t *cj = rc ? NULL : json_loadb(c, clen, 0, NULL);
	json_t *blobs = json_object_get(mj, "layers");
	json_t *map = json_object_get(cj, "layers");
	const char *fmt = json_string_value(json_object_get(cj, "format"));
	if (!rc && (!fmt || strcmp(fmt, CONTROL_FORMAT) || json_array_size(blobs) != 2 ||
		    !json_is_array(map)))
		rc = lf_err_set(err, EINVAL, "%s/%s@%s: a control artifact wants format %s, two "
				"files and a list of layers", host, name, digest, CONTROL_FORMAT);
	char **texts[2] = { layers_text, assign_text };
	size_t *lens[2] = { llen, alen };
	for (int i = 0; i < 2 && !rc; i++) {
		json_t *b = json_array_get(blobs, (size_t)i);
		const char *d = json_string_value(json_object_get(b, "digest"));
		json_t *sz = json_object_get(b, "size");
		if (!d || !lf_oci_digest_ok(d) || !json_is_integer(sz) || json_integer_value(sz) < 0)
			rc = lf_err_set(err, EINVAL, "%s/%s@%s: file %d: no digest or size", host,
					name, digest, i);
		else
			rc = lf_oci_small_blob(reg, cache, name, d, (uint64_t)json_integer_value(sz),
					       texts[i], lens[i], err);
	}
	size_t k = json_array_size(map);
	struct lf_control_layer *v = rc ? NULL : calloc(k + 1, sizeof *v);
	if (!rc && !v)
		rc = lf_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < k; i++) {
		json_t *e = json_array_get(map, i);
		json_int_t id = json_integer_value(json_object_get(e, "id"));
		json_int_t rev = json_integer_value(json_object_get(e, "revision"));
		const char *md = json_string_value(json_object_get(e, "manifest"));
		if (id < 1 || id > INT32_MAX || rev < 1 || rev > INT32_MAX || !md ||
		    !lf_oci_digest_ok(md))
			rc = lf_err_set(err, EINVAL, "%s/%s@%s: config layers[%zu]: want id, revision "
					"and a manifest digest", host, name, digest, i);
		else
			v[i] = (struct lf_control_layer){ (uint32_t)id, (uint32_t)rev, "" };
		if (!rc)
			snprintf(v[i].manifest, sizeof v[i].manifest, "%s", md);
	}
	json_decref(mj);
	json_decref(cj);
	free(m);
	free(c);
	if (rc) {
		free(v);
		if (layers_text && *layers_text && rc) {
			free(*layers_text);
			*layers_text = NULL;
		}
		return rc;
	}
	*layers = v;
	*n = k;
	return 0;
}

int lf_repo_open_registry(const char *ref, const char *root, struct lf_repo **out,
			  struct lf_err *err)
{
	struct lf_oci_ref o;
	int rc = lf_oci_ref_parse(ref, &o, err);
	if (rc)
		return rc;
	struct lf_control_layer *map = NULL;
	size_t n = 0, llen = 0, alen = 0;
	char *lt = NULL, *at = NULL, digest[LF_OCI_DIGEST_MAX];
	rc = lf_repo_fetch_control(o.host, o.name, o.tag[0] ? o.tag : "control", &map, &n, &lt,
				   &llen, &at, &alen, digest, err);
	if (rc)
		return rc;
	struct lf_repo *r = calloc(1, sizeof *r);
	struct repo_text l = { lt, llen }, a = { at, alen };
	rc = r ? repo_read_texts(&l, &a, r, err) : lf_err_set(err, ENOMEM, "out of memory");
	free(lt);
	free(at);
	char *real = rc ? NULL : realpath(root, NULL);
	if (!rc && !real)
		rc = lf_err_set(err, errno, "%s: %s", root, strerror(errno));
	if (r) {
		r->root = real;
		char hn[600];
		snprintf(hn, sizeof hn, "%s/%s", o.host, o.name);
		r->registry = strdup(hn);
	}
	/* each layer's file: its revision in the registry */
	for (size_t i = 0; !rc && i < r->nlayers; i++) {
		struct lf_repo_layer *y = &r->layers[i];
		size_t k = 0;
		while (k < n && (map[k].id != y->id || map[k].revision != y->revision))
			k++;
		if (k == n) {
			rc = lf_err_set(err, EINVAL, "%s/%s@%s: layer %u revision %u has no manifest "
					"in the control artifact", o.host, o.name, digest, y->id,
					y->revision);
			break;
		}
		char uri[900];
		snprintf(uri, sizeof uri, "oci://%s/%s@%s", o.host, o.name, map[k].manifest);
		free(y->file);
		if (!(y->file = strdup(uri)))
			rc = lf_err_set(err, ENOMEM, "out of memory");
	}
	free(map);
	if (rc) {
		lf_repo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
