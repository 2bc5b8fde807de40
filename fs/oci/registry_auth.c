/* Who we are to a registry: credentials from the file container tools
 * use (containers' auth.json, docker's config.json: {"auths": {HOST:
 * {"auth": base64("user:password")}}}), root's alone; basic auth when the
 * registry asks for it, a token from its token service when it asks for a
 * Bearer one (the distribution spec's token flow). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <nettle/base64.h>

#include "layerfs/lockcheck.h"
#include "registry_int.h"

/* The first credentials file there is: the configured one, then where
 * container tools keep theirs. */
static const char *auth_file(char *buf, size_t size)
{
	const char *given = lf_oci_config()->auth_file;
	if (given)
		return given;
	const char *env = getenv("REGISTRY_AUTH_FILE");
	if (env && *env)
		return env;
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && snprintf(buf, size, "%s/containers/auth.json", xdg) < (int)size &&
	    access(buf, F_OK) == 0)
		return buf;
	if (geteuid() == 0 && access("/run/containers/0/auth.json", F_OK) == 0)
		return "/run/containers/0/auth.json";
	const char *home = getenv("HOME");
	if (home && snprintf(buf, size, "%s/.docker/config.json", home) < (int)size &&
	    access(buf, F_OK) == 0)
		return buf;
	return NULL;
}

static char *decode_auth(const char *b64)
{
	struct base64_decode_ctx d;
	size_t n = strlen(b64), out = BASE64_DECODE_LENGTH(n);
	char *s = malloc(out + 1);
	base64_decode_init(&d);
	if (!s || !base64_decode_update(&d, &out, (uint8_t *)s, n, b64) ||
	    !base64_decode_final(&d) || !memchr(s, ':', out)) {
		free(s);
		return NULL;
	}
	s[out] = 0;
	return s;
}

int registry_credentials(struct lf_registry *r, struct lf_err *err)
{
	char buf[4096];
	const char *path = auth_file(buf, sizeof buf);
	if (!path)
		return 0;
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !lf_oci_config()->auth_file)
			return 0;
		return lf_err_set(err, errno, "%s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		fclose(f);
		return lf_err_set(err, EPERM, "%s: holds registry passwords but others may read it "
				  "(mode %04o): chmod 600 it", path, st.st_mode & 07777);
	}
	json_error_t je;
	json_t *j = json_loadf(f, 0, &je);
	fclose(f);
	if (!j)
		return lf_err_set(err, EINVAL, "%s: line %d: %s", path, je.line, je.text);
	json_t *auths = json_object_get(j, "auths");
	const char *key;
	json_t *v;
	json_object_foreach(auths, key, v) {
		const char *k = key;
		if (!strncmp(k, "https://", 8))
			k += 8;
		else if (!strncmp(k, "http://", 7))
			k += 7;
		size_t n = strlen(r->host);
		if (strncmp(k, r->host, n) || (k[n] && k[n] != '/'))
			continue;
		const char *b64 = json_string_value(json_object_get(v, "auth"));
		if (b64 && !(r->basic = decode_auth(b64))) {
			json_decref(j);
			return lf_err_set(err, EINVAL, "%s: auths.\"%s\".auth is not base64 of "
					  "user:password", path, key);
		}
		break;
	}
	json_decref(j);
	return 0;
}

/* One parameter of a challenge: realm="...", service="...", scope="...". */
static int param(const char *ch, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	for (const char *p = ch; (p = strstr(p, name)); p += n) {
		if ((p != ch && p[-1] != ' ' && p[-1] != ',') || p[n] != '=' || p[n + 1] != '"')
			continue;
		const char *v = p + n + 2, *end = strchr(v, '"');
		if (!end || (size_t)(end - v) >= size)
			return 0;
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = 0;
		return 1;
	}
	return 0;
}

int registry_authenticate(struct lf_registry *r, const char *ch, struct lf_err *err)
{
	if (!strncasecmp(ch, "Basic", 5)) {
		if (!r->basic)
			return -EACCES;
		lf_mutex_lock(&r->lock, LF_LK_LEAF);
		r->use_basic = 1;
		lf_mutex_unlock(&r->lock);
		return 0;
	}
	char realm[1024], service[256] = "", scope[512] = "";
	if (strncasecmp(ch, "Bearer", 6) || !param(ch, "realm", realm, sizeof realm))
		return -EACCES;
	param(ch, "service", service, sizeof service);
	param(ch, "scope", scope, sizeof scope);
	CURL *c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	char *es = curl_easy_escape(c, service, 0), *esc = curl_easy_escape(c, scope, 0);
	char url[2500];
	snprintf(url, sizeof url, "%s%sservice=%s%s%s", realm, strchr(realm, '?') ? "&" : "?",
		 es ? es : "", scope[0] ? "&scope=" : "", scope[0] && esc ? esc : "");
	curl_free(es);
	curl_free(esc);
	curl_easy_cleanup(c);
	/* the token service is asked as the registry is: same TLS rules */
	struct req rq = { .method = "GET", .path = url, .follow = 1 };
	struct resp rs = { .max = 1 << 20 };
	lf_mutex_lock(&r->lock, LF_LK_LEAF);
	int had_basic = r->use_basic;
	r->use_basic = 1;                 /* the token service takes basic auth */
	char *old = r->bearer;
	r->bearer = NULL;
	lf_mutex_unlock(&r->lock);
	free(old);
	int rc = registry_request(r, &rq, &rs, err);
	json_t *j = rc ? NULL : json_loadb(rs.body ? rs.body : "", rs.len, 0, NULL);
	free(rs.body);
	const char *tok = json_string_value(json_object_get(j, "token"));
	if (!tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!rc && !tok)
		rc = lf_err_set(err, EACCES, "%s: the token service %s gave no token", r->host, realm);
	lf_mutex_lock(&r->lock, LF_LK_LEAF);
	r->use_basic = had_basic;
	if (!rc) {                        /* the newest token, when threads asked at once */
		free(r->bearer);
		r->bearer = strdup(tok);
	}
	lf_mutex_unlock(&r->lock);
	json_decref(j);
	return rc;
}

char *registry_bearer(struct lf_registry *r)
{
	lf_mutex_lock(&r->lock, LF_LK_LEAF);
	char *t = r->bearer ? strdup(r->bearer) : NULL;
	lf_mutex_unlock(&r->lock);
	return t;
}
