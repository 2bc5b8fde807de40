/* /metrics: layerd's counts in the Prometheus text format (version
 * 0.0.4), as promtool check metrics wants them: HELP and TYPE on each,
 * counters ending in _total, durations in seconds, sizes in bytes. Counts
 * only: a user's or a layer's name only with --metrics-names. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "layerd_int.h"
#include "console.h"
#include "layerfs/metrics.h"
#include "layerfs/oci.h"

static void head(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct sbuf *b, const char *name, const char *type, const char *help,
		unsigned long long v)
{
	head(b, name, type, help);
	sb_printf(b, "%s %llu\n", name, v);
}

/* The series of one histogram; LABEL is "" or 'op="read",'. */
static void histogram(struct sbuf *b, const char *name, const char *label,
		      const struct lf_histogram *h)
{
	unsigned long long below = 0;
	for (int i = 0; i < LF_HIST_BUCKETS; i++) {
		below += h->bucket[i];
		sb_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, label, lf_histogram_bounds[i],
			  below);
	}
	unsigned long long count = h->count;
	sb_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, label, count);
	char bare[64] = "";
	if (*label)
		snprintf(bare, sizeof bare, "{%.*s}", (int)strlen(label) - 1, label);
	sb_printf(b, "%s_sum%s %.9f\n%s_count%s %llu\n", name, bare, (double)h->sum_ns / 1e9,
		  name, bare, count);
}

int page_metrics(const struct console_req *r, struct sbuf *b)
{
	struct lf_metrics *m = lf_metrics();
	json_t *st = session_status(r->d, NULL);
	json_t *sessions = json_object_get(st, "sessions");
	one(b, "layerd_sessions", "gauge", "Sessions served now.", json_array_size(sessions));
	one(b, "layerd_layers_open", "gauge", "Layers open now (one for every session that has it).",
	    (unsigned long long)json_integer_value(json_object_get(st, "open_layers")));
	if (r->o->metrics_names) {
		head(b, "layerd_session_info", "gauge", "A session served now, by user and machine.");
		size_t i;
		json_t *s;
		json_array_foreach(sessions, i, s) {
			/* names are account names: no quote or backslash in them */
			sb_printf(b, "layerd_session_info{user=\"%s\",machine=\"%s\"} 1\n",
				  json_string_value(json_object_get(s, "user")),
				  json_string_value(json_object_get(s, "machine")));
		}
	}
	json_decref(st);
	one(b, "layerd_logins_total", "counter", "Logins asked for.", m->logins);
	one(b, "layerd_login_failures_total", "counter", "Logins that failed.", m->login_failures);
	head(b, "layerd_login_duration_seconds", "histogram", "Time from a login's request to "
	     "its mounted drive.");
	histogram(b, "layerd_login_duration_seconds", "", &m->login);
	head(b, "layerfs_fuse_request_duration_seconds", "histogram",
	     "FUSE requests to the sessions' drives and their time, by operation.");
	for (int op = 0; op < LF_FUSE_NOPS; op++) {
		char label[64];
		snprintf(label, sizeof label, "op=\"%s\",", lf_fuse_op_name((enum lf_fuse_op)op));
		histogram(b, "layerfs_fuse_request_duration_seconds", label, &m->fuse[op]);
	}
	one(b, "layerfs_copyups_total", "counter", "Files and folders copied up into a "
	    "personalization layer.", m->copyups);
	one(b, "layerfs_copyup_bytes_total", "counter", "Bytes of file data copied up.",
	    m->copyup_bytes);
	one(b, "layerfs_readahead_hits_total", "counter", "Folder listings the read-ahead had "
	    "ready.", m->readahead_hits);
	one(b, "layerfs_readahead_misses_total", "counter", "Folder listings made when asked.",
	    m->readahead_misses);
	one(b, "regfs_hive_saves_total", "counter", "Registry hive fragments saved.", m->hive_saves);
	one(b, "regfs_hive_save_failures_total", "counter", "Registry hive saves that failed.",
	    m->hive_save_failures);
	one(b, "layerfs_registry_fetched_bytes_total", "counter", "Bytes fetched from OCI "
	    "registries (chunks, manifests, configs).", lf_registry_fetched());
	struct lf_chunk_cache *c;
	struct lf_err err = {0};
	uint64_t bytes = 0, blobs = 0;
	if (r->d->registry && lf_chunk_cache_get(&c, &err) == 0)
		lf_chunk_cache_usage(c, &bytes, &blobs);
	one(b, "layerfs_chunk_cache_bytes", "gauge", "Bytes in the host's chunk cache.", bytes);
	one(b, "layerfs_chunk_cache_blobs", "gauge", "Blobs in the host's chunk cache.", blobs);
	return 200;
}
