/* The registry client: the OCI Distribution API over HTTP, through libcurl.
 * One client a host, shared by the process's threads; a request takes an
 * idle curl handle (its connections kept alive) or makes one. Plain HTTP
 * only to a loopback host that does not speak TLS (as container tools
 * allow); anything else is TLS, checked against the system's CAs or the
 * configured one. Credentials: registry_auth.c. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "layerfs/lockcheck.h"
#include "layerfs/oci.h"
#include "registry_int.h"

#define MANIFEST_MAX (4u << 20)
#define SMALL_MAX (1u << 20)

static pthread_mutex_t registries_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lf_registry *registries;   /* guarded by registries_lock */
static _Atomic uint64_t fetched;          /* bytes of blobs and manifests */

uint64_t lf_registry_fetched(void)
{
	return atomic_load(&fetched);
}

static void curl_start(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int loopback(const char *host)
{
	return !strncmp(host, "localhost", 9) || !strncmp(host, "127.", 4) ||
	       !strncmp(host, "[::1]", 5);
}

int lf_registry_get(const char *host, struct lf_registry **out, struct lf_err *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, curl_start);
	lf_mutex_lock(&registries_lock, LF_LK_OCI);
	struct lf_registry *r = registries;
	while (r && strcmp(r->host, host))
		r = r->next;
	int rc = 0;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r) {
			rc = lf_err_set(err, ENOMEM, "out of memory");
		} else {
			snprintf(r->host, sizeof r->host, "%s", host);
			pthread_mutex_init(&r->lock, NULL);
			r->scheme = loopback(host) ? SCHEME_UNKNOWN : SCHEME_HTTPS;
			rc = registry_credentials(r, err);
			if (rc) {
				free(r);
			} else {
				r->next = registries;
				registries = r;
			}
		}
	}
	lf_mutex_unlock(&registries_lock);
	if (!rc)
		*out = r;
	return rc;
}

/* --- one HTTP exchange --- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct resp *rs = ctx;
	size_t len = size * n;
	if (rs->fixed) {
		if (rs->got + len > rs->fixed_size) {
			rs->overflow = 1;
			return 0;
		}
		memcpy(rs->fixed + rs->got, p, len);
		rs->got += len;
		return len;
	}
	if (rs->len + len > rs->max) {
		rs->overflow = 1;
		return 0;
	}
	if (rs->len + len + 1 > rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 4096;
		while (cap < rs->len + len + 1)
			cap *= 2;
		char *b = realloc(rs->body, cap);
		if (!b)
			return 0;
		rs->body = b;
		rs->cap = cap;
	}
	memcpy(rs->body + rs->len, p, len);
	rs->len += len;
	rs->body[rs->len] = 0;
	return len;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return;
	const char *v = line + n + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	size_t m = (size_t)(end - v) < size - 1 ? (size_t)(end - v) : size - 1;
	memcpy(out, v, m);
	out[m] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct resp *rs = ctx;
	size_t len = size * n;
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {   /* a new response (a redirect's) */
		rs->digest[0] = rs->location[0] = rs->www_auth[0] = 0;
	}
	header_value(p, len, "Docker-Content-Digest", rs->digest, sizeof rs->digest);
	header_value(p, len, "Location", rs->location, sizeof rs->location);
	header_value(p, len, "WWW-Authenticate", rs->www_auth, sizeof rs->www_auth);
	return len;
}

static CURL *take_handle(struct lf_registry *r)
{
	lf_mutex_lock(&r->lock, LF_LK_LEAF);
	CURL *c = r->nidle ? r->idle[--r->nidle] : NULL;
	lf_mutex_unlock(&r->lock);
	return c ? c : curl_easy_init();
}

static void give_handle(struct lf_registry *r, CURL *c)
{
	lf_mutex_lock(&r->lock, LF_LK_LEAF);
	if (r->nidle < (int)(sizeof r->idle / sizeof r->idle[0])) {
		r->idle[r->nidle++] = c;
		c = NULL;
	}
	lf_mutex_unlock(&r->lock);
	if (c)
		curl_easy_cleanup(c);
}

static int exchange(struct lf_registry *r, int scheme, const struct req *rq, struct resp *rs)
{
	CURL *c = take_handle(r);
	if (!c)
		return -ENOMEM;
	curl_easy_reset(c);
	char url[4096];
	if (!strncmp(rq->path, "http://", 7) || !strncmp(rq->path, "https://", 8))
		snprintf(url, sizeof url, "%s", rq->path);
	else
		snprintf(url, sizeof url, "%s://%s%s", scheme == SCHEME_HTTP ? "http" : "https",
			 r->host, rq->path);
	struct curl_slist *h = NULL;
	char line[4200];
	if (rq->accept) {
		snprintf(line, sizeof line, "Accept: %s", rq->accept);
		h = curl_slist_append(h, line);
	}
	if (rq->content_type) {
		snprintf(line, sizeof line, "Content-Type: %s", rq->content_type);
		h = curl_slist_append(h, line);
	}
	char *bearer = registry_bearer(r);
	lf_mutex_lock(&r->lock, LF_LK_LEAF);
	int basic = r->basic && r->use_basic;
	lf_mutex_unlock(&r->lock);
	if (bearer) {
		snprintf(line, sizeof line, "Authorization: Bearer %s", bearer);
		h = curl_slist_append(h, line);
		free(bearer);
	} else if (basic) {
		curl_easy_setopt(c, CURLOPT_USERPWD, r->basic);
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* a stalled transfer: under 1 KiB/s for 30 s */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, rq->follow ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, rs->curl_err);
	const char *ca = lf_oci_config()->ca_file;
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "PUT") || !strcmp(rq->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->blen);
		if (!strcmp(rq->method, "PUT"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
	} else if (strcmp(rq->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	rs->curl_err[0] = 0;
	rs->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	curl_slist_free_all(h);
	give_handle(r, c);
	return 0;
}

/* Decide http or https for a loopback host: TLS if it answers TLS. */
static int scheme_of(struct lf_registry *r, const struct req *rq, struct resp *rs, int *done)
{
	lf_mutex_lock(&r->lock, LF_LK_LEAF);
	int scheme = r->scheme;
	lf_mutex_unlock(&r->lock);
	*done = 0;
	if (scheme != SCHEME_UNKNOWN)
		return scheme;
	exchange(r, SCHEME_HTTPS, rq, rs);
	if (rs->cc == CURLE_SSL_CONNECT_ERROR) {
		scheme = SCHEME_HTTP;        /* a plain-HTTP registry on this host */
		resp_reset(rs);
	} else if (rs->cc == CURLE_OK) {
		scheme = SCHEME_HTTPS;
		*done = 1;
	} else {
		*done = 1;
		return SCHEME_HTTPS;         /* unreachable: decide next time */
	}
	lf_mutex_lock(&r->lock, LF_LK_LEAF);
	r->scheme = scheme;
	lf_mutex_unlock(&r->lock);
	return scheme;
}

void resp_reset(struct resp *rs)
{
	free(rs->body);
	uint8_t *fixed = rs->fixed;
	size_t fs = rs->fixed_size, max = rs->max;
	memset(rs, 0, sizeof *rs);
	rs->fixed = fixed;
	rs->fixed_size = fs;
	rs->max = max;
}

/* The registry's own words for a failed request: its first error's. */
static void registry_says(const struct resp *rs, char *out, size_t size)
{
	out[0] = 0;
	json_t *j = rs->body ? json_loadb(rs->body, rs->len, 0, NULL) : NULL;
	json_t *e = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	if (code || msg)
		snprintf(out, size, "%s%s%s", code ? code : "", code && msg ? ": " : "",
			 msg ? msg : "");
	json_decref(j);
}

int registry_request(struct lf_registry *r, const struct req *rq, struct resp *rs,
		     struct lf_err *err)
{
	int retries = 0;
	for (int attempt = 0;; attempt++) {
		int done;
		int scheme = scheme_of(r, rq, rs, &done);
		if (!done)
			exchange(r, scheme, rq, rs);
		if (rs->cc != CURLE_OK && !(rs->cc == CURLE_WRITE_ERROR && rs->overflow)) {
			int code = rs->cc == CURLE_COULDNT_CONNECT ? ECONNREFUSED
				 : rs->cc == CURLE_COULDNT_RESOLVE_HOST ? EHOSTUNREACH
				 : rs->cc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : EIO;
			return lf_err_set(err, code, "%s: %s %s: %s", r->host, rq->method, rq->path,
					  rs->curl_err[0] ? rs->curl_err : curl_easy_strerror(rs->cc));
		}
		if (rs->overflow)
			return lf_err_set(err, EFBIG, "%s: %s %s: the answer is longer than the %zu "
					  "bytes expected", r->host, rq->method, rq->path,
					  rs->fixed ? rs->fixed_size : rs->max);
		if (rs->status == 401 && attempt == 0 && registry_authenticate(r, rs->www_auth, err) == 0) {
			resp_reset(rs);
			continue;
		}
		if (rs->status >= 200 && rs->status < 300)
			return 0;
		/* a registry's passing trouble: a read is asked again, twice */
		if ((rs->status == 500 || rs->status == 502 || rs->status == 503 ||
		     rs->status == 504 || rs->status == 429) && retries < 2 &&
		    (!strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD"))) {
			usleep(200000u << (2 * retries));
			retries++;
			attempt = -1;
			resp_reset(rs);
			continue;
		}
		char says[300], who[200] = " (no credentials for it, or wrong ones)";
		registry_says(rs, says, sizeof says);
		lf_mutex_lock(&r->lock, LF_LK_LEAF);
		if (r->basic)      /* "user:password": the user's name, never the password */
			snprintf(who, sizeof who, " (denied to %.*s: wrong password, or not "
				 "allowed)", (int)strcspn(r->basic, ":"), r->basic);
		lf_mutex_unlock(&r->lock);
		int code = rs->status == 404 ? ENOENT
			 : rs->status == 401 || rs->status == 403 ? EACCES
			 : rs->status == 405 ? EROFS : EIO;
		return lf_err_set(err, code, "%s: %s %s: HTTP %ld%s%s%s", r->host, rq->method,
				  rq->path, rs->status,
				  rs->status == 401 ? who :
				  rs->status == 405 && !strcmp(rq->method, "DELETE") ?
				  " (the registry does not allow deletes: storage: delete: enabled: true)" :
				  rs->status == 405 ? " (the registry refuses it: a pull-through cache?)" : "",
				  says[0] ? ": " : "", says);
	}
}

/* --- the API --- */

int lf_registry_get_manifest(struct lf_registry *r, const char *name, const char *reference,
			     char **body, size_t *len, char digest[LF_OCI_DIGEST_MAX],
			     struct lf_err *err)
{
	char path[1024];
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", name, reference);
	struct req rq = { .method = "GET", .path = path, .follow = 1,
			  .accept = LF_OCI_MANIFEST ", application/vnd.docker.distribution.manifest.v2+json" };
	struct resp rs = { .max = MANIFEST_MAX };
	int rc = registry_request(r, &rq, &rs, err);
	if (!rc) {
		lf_oci_digest(rs.body ? rs.body : "", rs.len, digest);
		atomic_fetch_add(&fetched, rs.len);
		if (lf_oci_digest_ok(reference) && strcmp(reference, digest))
			rc = lf_err_set(err, EBADMSG, "%s/%s@%s: the manifest the registry sent hashes "
					"to %s: refused", r->host, name, reference, digest);
	}
	if (rc) {
		free(rs.body);
		return rc;
	}
	*body = rs.body ? rs.body : strdup("");
	*len = rs.len;
	return 0;
}

int lf_registry_put_manifest(struct lf_registry *r, const char *name, const char *tag,
			     const char *body, size_t len, char digest[LF_OCI_DIGEST_MAX],
			     struct lf_err *err)
{
	char path[1024];
	lf_oci_digest(body, len, digest);
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", name, tag && *tag ? tag : digest);
	struct req rq = { .method = "PUT", .path = path, .content_type = LF_OCI_MANIFEST,
			  .body = body, .blen = len };
	struct resp rs = { .max = SMALL_MAX };
	int rc = registry_request(r, &rq, &rs, err);
	free(rs.body);
	return rc;
}

int lf_registry_delete_manifest(struct lf_registry *r, const char *name, const char *digest,
				struct lf_err *err)
{
	char path[1024];
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", name, digest);
	struct req rq = { .method = "DELETE", .path = path };
	struct resp rs = { .max = SMALL_MAX };
	int rc = registry_request(r, &rq, &rs, err);
	free(rs.body);
	return rc;
}

int lf_registry_has_blob(struct lf_registry *r, const char *name, const char *digest,
			 struct lf_err *err)
{
	char path[1024];
	snprintf(path, sizeof path, "/v2/%s/blobs/%s", name, digest);
	struct req rq = { .method = "HEAD", .path = path, .follow = 1 };
	struct resp rs = { .max = SMALL_MAX };
	struct lf_err e = {0};
	int rc = registry_request(r, &rq, &rs, &e);
	free(rs.body);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return err ? (*err = e, rc) : rc;
	return 1;
}

int lf_registry_get_blob(struct lf_registry *r, const char *name, const char *digest,
			 void *buf, size_t size, struct lf_err *err)
{
	char path[1024];
	snprintf(path, sizeof path, "/v2/%s/blobs/%s", name, digest);
	struct req rq = { .method = "GET", .path = path, .follow = 1 };
	struct resp rs = { .fixed = buf, .fixed_size = size };
	int rc = registry_request(r, &rq, &rs, err);
	free(rs.body);
	if (rc)
		return rc;
	atomic_fetch_add(&fetched, rs.got);
	char got[LF_OCI_DIGEST_MAX];
	lf_oci_digest(buf, rs.got, got);
	if (rs.got != size || strcmp(got, digest))
		return lf_err_set(err, EBADMSG, "%s/%s: blob %s: the registry sent %zu bytes hashing "
				  "to %s (want %zu bytes): refused", r->host, name, digest, rs.got,
				  got, size);
	return 0;
}

int lf_registry_put_blob(struct lf_registry *r, const char *name, const char *digest,
			 const void *buf, size_t size, struct lf_err *err)
{
	char path[1024];
	snprintf(path, sizeof path, "/v2/%s/blobs/uploads/", name);
	struct req rq = { .method = "POST", .path = path };
	struct resp rs = { .max = SMALL_MAX };
	int rc = registry_request(r, &rq, &rs, err);
	if (!rc && !rs.location[0])
		rc = lf_err_set(err, EIO, "%s: POST %s: no upload location in the answer", r->host,
				path);
	if (rc) {
		free(rs.body);
		return rc;
	}
	/* the location may be relative and may carry a query already */
	char put[3000];
	snprintf(put, sizeof put, "%s%sdigest=%s", rs.location,
		 strchr(rs.location, '?') ? "&" : "?", digest);
	free(rs.body);
	struct resp ps = { .max = SMALL_MAX };
	struct req pr = { .method = "PUT", .path = put, .content_type = "application/octet-stream",
			  .body = buf, .blen = size };
	rc = registry_request(r, &pr, &ps, err);
	free(ps.body);
	return rc;
}

int lf_registry_ensure_blob(struct lf_registry *r, const char *name, const void *buf,
			    size_t size, char digest[LF_OCI_DIGEST_MAX], struct lf_err *err)
{
	lf_oci_digest(buf, size, digest);
	int has = lf_registry_has_blob(r, name, digest, err);
	return has < 0 ? has : has ? 0 : lf_registry_put_blob(r, name, digest, buf, size, err);
}

int lf_registry_tags(struct lf_registry *r, const char *name, char ***tags, struct lf_err *err)
{
	char path[1024];
	snprintf(path, sizeof path, "/v2/%s/tags/list?n=10000", name);
	struct req rq = { .method = "GET", .path = path, .follow = 1 };
	struct resp rs = { .max = MANIFEST_MAX };
	int rc = registry_request(r, &rq, &rs, err);
	json_t *j = rc ? NULL : json_loadb(rs.body ? rs.body : "", rs.len, 0, NULL);
	free(rs.body);
	if (rc)
		return rc;
	json_t *a = json_object_get(j, "tags");
	size_t n = json_array_size(a);
	char **v = calloc(n + 1, sizeof *v);
	for (size_t i = 0; v && i < n; i++)
		v[i] = strdup(json_string_value(json_array_get(a, i)) ?: "");
	json_decref(j);
	if (!v)
		return lf_err_set(err, ENOMEM, "out of memory");
	*tags = v;
	return (int)n;
}
