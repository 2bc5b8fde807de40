/* Inside the registry client: one client a host, a request and its answer. */
#ifndef LF_REGISTRY_INT_H
#define LF_REGISTRY_INT_H

#include <pthread.h>
#include <curl/curl.h>

#include "layerfs/oci.h"

enum { SCHEME_UNKNOWN, SCHEME_HTTP, SCHEME_HTTPS };

struct lf_registry {
	char host[256];          /* set once */
	char *basic;             /* "user:password" from the credentials file; set once */
	pthread_mutex_t lock;    /* guards what follows */
	int scheme;              /* SCHEME_*: a loopback host's found on first contact */
	int use_basic;           /* the registry asked for basic auth */
	char *bearer;            /* the last token the registry's token service gave */
	CURL *idle[16];          /* handles between requests (their connections open) */
	int nidle;
	struct lf_registry *next; /* guarded by registries_lock (registry.c) */
};

struct req {
	const char *method;      /* GET, HEAD, PUT, POST, DELETE */
	const char *path;        /* "/v2/...", or a whole URL (an upload location) */
	const char *accept, *content_type;
	const void *body;
	size_t blen;
	int follow;              /* follow redirects (blobs may live elsewhere) */
};

struct resp {
	long status;
	/* the body: into fixed (exactly fixed_size at most), else grown up to max */
	uint8_t *fixed;
	size_t fixed_size, got;
	char *body;
	size_t len, cap, max;
	int overflow;
	char digest[LF_OCI_DIGEST_MAX], location[2048], www_auth[1024];
	CURLcode cc;
	char curl_err[CURL_ERROR_SIZE];
};

int registry_request(struct lf_registry *r, const struct req *rq, struct resp *rs,
		     struct lf_err *err);
void resp_reset(struct resp *rs);

/* registry_auth.c: r->basic from the credentials file (none is no error);
 * the token a Bearer challenge asks for, or basic auth for a Basic one;
 * the token to send (malloc'd), or NULL. */
int registry_credentials(struct lf_registry *r, struct lf_err *err);
int registry_authenticate(struct lf_registry *r, const char *challenge, struct lf_err *err);
char *registry_bearer(struct lf_registry *r);

#endif
