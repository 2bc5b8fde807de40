/* Layers in an OCI registry (docs/REGISTRY.md): references, the registry
 * client (HTTP through libcurl), the host's chunk cache, and a layer file
 * read from a registry a chunk at a time. No FUSE here.
 *
 * A layer revision is an OCI image manifest: its config is the layer's
 * control record (LF_OCI_LAYER_CONFIG), its blobs the layer file cut in
 * fixed-size chunks (LF_OCI_CHUNK), in order. A repository's control files
 * are an artifact of their own (LF_OCI_CONTROL_CONFIG). */
#ifndef LAYERFS_OCI_H
#define LAYERFS_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "layerfs/err.h"
#include "layerfs/source.h"

#define LF_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define LF_OCI_LAYER_CONFIG "application/vnd.layerfs.layer.config.v1+json"
#define LF_OCI_CONTROL_CONFIG "application/vnd.layerfs.repository.config.v1+json"
#define LF_OCI_CHUNK "application/vnd.layerfs.layer.chunk.v1"
#define LF_OCI_CONTROL_FILE "application/vnd.layerfs.repository.file.v1+json"
/* The chunk size push uses unless told: 256 KiB, doubled until a layer
 * file is at most LF_OCI_MAX_CHUNKS of them (a manifest of ~1.6 MB; a
 * registry refuses one over 4 MiB). docs/REGISTRY.md says why. */
#define LF_OCI_CHUNK_SIZE (256u << 10)
#define LF_OCI_MAX_CHUNKS 16384
#define LF_OCI_DIGEST_MAX 72     /* "sha256:" and 64 hex digits, NUL */

/* HOST[:PORT]/NAME[:TAG|@DIGEST], with or without "oci://" before it. */
struct lf_oci_ref {
	char host[256];              /* with its port, if given */
	char name[256];              /* the repository: lower-case path components */
	char tag[129];               /* "" when none */
	char digest[LF_OCI_DIGEST_MAX]; /* "" when none */
};
int lf_oci_ref_parse(const char *s, struct lf_oci_ref *out, struct lf_err *err);
/* "HOST/NAME" + ":TAG" or "@DIGEST" (what the ref has); into out. */
void lf_oci_ref_str(const struct lf_oci_ref *r, char *out, size_t size);
/* Is S an oci:// layer path? */
int lf_oci_is_uri(const char *s);

/* How this process reaches registries and where it caches chunks: set
 * once by a program's main, before any layer opens. */
struct lf_oci_config {
	const char *cache_dir;       /* NULL: /var/cache/layerfs */
	uint64_t cache_max;          /* bytes; 0: 10 GiB */
	const char *auth_file;       /* NULL: $REGISTRY_AUTH_FILE, then the usual places */
	const char *ca_file;         /* NULL: the system's CAs */
	int prefetch;                /* fetch every chunk of an opened layer, in the background */
	int jobs;                    /* chunks fetched at once by push, pull, prefetch; 0: 4 */
	int verify;                  /* fsck: manifests and configs from the registry alone,
				      * never the cache's copies */
};
void lf_oci_configure(const struct lf_oci_config *c);
/* The chunk cache's folder: configured, $LAYERFS_CACHE, or /var/cache/layerfs. */
const char *lf_oci_cache_dir(void);
/* "512M", "20G", "1T", "4096": bytes; -1 if not a size. */
int lf_parse_size(const char *s, uint64_t *out);
const struct lf_oci_config *lf_oci_config(void);

/* --- the registry client (registry.c): the Distribution API --- */
struct lf_registry;
/* The client for HOST (shared by every caller in the process, kept until
 * exit). Plain HTTP only to a loopback host, and only when it does not
 * speak TLS; TLS everywhere else. */
int lf_registry_get(const char *host, struct lf_registry **out, struct lf_err *err);

/* A manifest by tag or digest: its bytes (malloc'd), its digest (checked
 * against the bytes, and against REFERENCE when that is a digest), its
 * media type. */
int lf_registry_get_manifest(struct lf_registry *r, const char *name, const char *reference,
			     char **body, size_t *len, char digest[LF_OCI_DIGEST_MAX],
			     struct lf_err *err);
int lf_registry_put_manifest(struct lf_registry *r, const char *name, const char *tag,
			     const char *body, size_t len, char digest[LF_OCI_DIGEST_MAX],
			     struct lf_err *err);
int lf_registry_delete_manifest(struct lf_registry *r, const char *name, const char *digest,
				struct lf_err *err);
/* 1 if the blob is there, 0 if not, or -errno. */
int lf_registry_has_blob(struct lf_registry *r, const char *name, const char *digest,
			 struct lf_err *err);
/* The blob into buf (exactly size bytes), its digest checked: a blob that
 * does not hash to its name is EBADMSG. */
int lf_registry_get_blob(struct lf_registry *r, const char *name, const char *digest,
			 void *buf, size_t size, struct lf_err *err);
int lf_registry_put_blob(struct lf_registry *r, const char *name, const char *digest,
			 const void *buf, size_t size, struct lf_err *err);
/* BUF in NAME as a blob (its digest into digest), sent only if the
 * registry lacks it. */
int lf_registry_ensure_blob(struct lf_registry *r, const char *name, const void *buf,
			    size_t size, char digest[LF_OCI_DIGEST_MAX], struct lf_err *err);
/* The tags of NAME, each malloc'd; how many, or -errno. */
int lf_registry_tags(struct lf_registry *r, const char *name, char ***tags,
		     struct lf_err *err);
/* Bytes this process has fetched from registries (blobs and manifests). */
uint64_t lf_registry_fetched(void);

/* sha256:HEX of BUF. */
void lf_oci_digest(const void *buf, size_t len, char out[LF_OCI_DIGEST_MAX]);
int lf_oci_digest_ok(const char *digest);

/* --- a layer revision's manifest and config (artifact.c) --- */
struct lf_oci_layer {
	char manifest_digest[LF_OCI_DIGEST_MAX];
	/* the control record */
	char *name;
	uint32_t id, revision, os_layer;
	char type[16];               /* os, platform, app */
	long priority;
	char *file_name;             /* the file's name in a repository: NAME.ID.REV.vhd */
	char file_sha256[65];
	uint64_t file_size;
	char parent[LF_OCI_DIGEST_MAX]; /* the parent revision's manifest; "" when none */
	/* the file, cut in chunks */
	uint64_t chunk_size;
	size_t nchunks;
	char (*chunks)[LF_OCI_DIGEST_MAX];
};
int lf_oci_layer_parse(const char *manifest, size_t mlen, const char *config, size_t clen,
		       struct lf_oci_layer *out, struct lf_err *err);
/* The config's bytes, and then the manifest's for it (malloc'd). */
char *lf_oci_layer_config(const struct lf_oci_layer *l, size_t *len);
char *lf_oci_manifest(const char *config_type, const char *config_digest, size_t config_size,
		      const char *blob_type, char (*const blobs)[LF_OCI_DIGEST_MAX],
		      const uint64_t *sizes, size_t nblobs, const char *title, size_t *len);
void lf_oci_layer_free(struct lf_oci_layer *l);
/* The manifest's config media type (malloc'd), or NULL if it is not an
 * OCI image manifest. */
char *lf_oci_manifest_config_type(const char *manifest, size_t len, char digest[LF_OCI_DIGEST_MAX],
				  uint64_t *size);

/* A manifest by tag or digest, kept in the cache (CACHE may be NULL);
 * when the registry cannot be reached, the cache's (a tag: the digest it
 * had last), said in one line on stderr. */
struct lf_chunk_cache;
int lf_oci_manifest_fetch(struct lf_registry *r, struct lf_chunk_cache *cache, const char *host,
			  const char *name, const char *reference, char **body, size_t *len,
			  char digest[LF_OCI_DIGEST_MAX], struct lf_err *err);
/* A small blob (a config, a control file) by digest: the cache's, else
 * fetched, checked and kept in the cache. */
int lf_oci_small_blob(struct lf_registry *r, struct lf_chunk_cache *cache, const char *name,
		      const char *digest, uint64_t size, char **body, size_t *len,
		      struct lf_err *err);
/* Fetch and parse the revision REFERENCE (tag or digest) of NAME, as
 * above. */
int lf_oci_layer_fetch(struct lf_registry *r, const char *host, const char *name,
		       const char *reference, struct lf_oci_layer *out, struct lf_err *err);
/* How much of the layer oci://HOST/NAME[:TAG|@DIGEST] this host's cache
 * holds: bytes of its file in chunks there, and its file's size. */
int lf_oci_layer_cached(const char *uri, uint64_t *cached, uint64_t *total, struct lf_err *err);
/* The registry cannot be reached (as opposed to: it said no). */
int lf_oci_unreachable(int code);

/* --- whole layer files pushed and pulled (transfer.c) --- */
struct lf_oci_stats {
	uint64_t chunks_sent;        /* pushed, or fetched */
	uint64_t chunks_kept;        /* the registry had it, or the partial file did */
	uint64_t bytes_sent;
};
/* The chunk size for a layer file of FILE_SIZE bytes, as above. */
uint64_t lf_oci_chunk_size(uint64_t file_size);
/* The length of chunk I of a file of FILE_SIZE bytes in chunks of
 * CHUNK_SIZE (the last one shorter). */
uint64_t lf_oci_chunk_len(uint64_t file_size, uint64_t chunk_size, size_t i);
/* Push the layer file PATH as a revision of REPO tagged TAG (NULL: by
 * digest alone): META is its control record (file_size, chunk_size and
 * manifest_digest are filled in). Only chunks the registry lacks are
 * sent; lf_oci_config()->jobs at once. */
int lf_oci_push_layer(struct lf_registry *reg, const char *repo, const char *path,
		      struct lf_oci_layer *meta, const char *tag, struct lf_oci_stats *stats,
		      void (*progress)(void *, const char *, uint64_t, uint64_t), void *pctx,
		      struct lf_err *err);
/* Pull revision L of REPO into the file DST (through DST.partial, fsynced
 * and renamed; a partial file from before keeps what hashes right). */
int lf_oci_pull_layer(struct lf_registry *reg, const char *repo, const struct lf_oci_layer *l,
		      const char *dst, struct lf_oci_stats *stats,
		      void (*progress)(void *, const char *, uint64_t, uint64_t), void *pctx,
		      struct lf_err *err);

/* --- the host's chunk cache (chunk_cache.c) --- */
struct lf_chunk_cache;
/* The process's cache, opened on first use from lf_oci_config(). */
int lf_chunk_cache_get(struct lf_chunk_cache **out, struct lf_err *err);
/* An fd on the cached blob DIGEST of SIZE bytes, its digest checked now,
 * or -ENOENT if the cache has none (or had a wrong one: removed). */
int lf_chunk_cache_open(struct lf_chunk_cache *c, const char *digest, uint64_t size);
/* Is the blob there (not checked: for counting)? */
int lf_chunk_cache_has(struct lf_chunk_cache *c, const char *digest, uint64_t size);
/* Put BUF (already checked to be DIGEST) in: written to a temporary and
 * renamed in, then old blobs evicted past the bound. An fd on it, or a
 * memfd when the cache cannot keep it; -errno. */
int lf_chunk_cache_put(struct lf_chunk_cache *c, const char *digest, const void *buf,
		       size_t size);
/* A manifest or config kept by digest, never evicted (small; a host
 * logs in from them when the registry cannot be reached). */
int lf_chunk_cache_keep(struct lf_chunk_cache *c, const char *digest, const void *buf,
			size_t size);
/* Small metadata kept for offline use: a manifest or config by digest
 * (the same store), and the last digest seen for a tag. */
int lf_chunk_cache_read(struct lf_chunk_cache *c, const char *digest, char **body, size_t *len);
void lf_chunk_cache_set_tag(struct lf_chunk_cache *c, const char *host, const char *name,
			    const char *tag, const char *digest);
int lf_chunk_cache_tag(struct lf_chunk_cache *c, const char *host, const char *name,
		       const char *tag, char digest[LF_OCI_DIGEST_MAX]);
/* Bytes and blobs in the cache now. */
void lf_chunk_cache_usage(struct lf_chunk_cache *c, uint64_t *bytes, uint64_t *blobs);
const char *lf_chunk_cache_dir(const struct lf_chunk_cache *c);

/* --- a layer file from a registry (oci_file.c) --- */
/* The disk of oci://HOST/NAME[:TAG|@DIGEST]: its chunks fetched on
 * demand, through the cache; a differencing revision's parent by digest. */
int lf_source_open_oci(const char *uri, struct lf_source **out, struct lf_err *err);

#endif
