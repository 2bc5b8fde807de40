/* Layers in a registry, the parts that need no registry: references
 * parsed as the distribution spec writes them, a revision's manifest and
 * config written and read back (and refused when wrong), the chunk size
 * policy, and the host's chunk cache (checked, renamed in, a damaged blob
 * removed, eviction past the bound). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "layerfs/oci.h"

START_TEST(references)
{
	struct lf_oci_ref r;
	ck_assert_int_eq(lf_oci_ref_parse("127.0.0.1:5000/desktops/win10:100.2", &r, NULL), 0);
	ck_assert_str_eq(r.host, "127.0.0.1:5000");
	ck_assert_str_eq(r.name, "desktops/win10");
	ck_assert_str_eq(r.tag, "100.2");
	ck_assert_str_eq(r.digest, "");
	char d[80] = "sha256:";
	memset(d + 7, 'a', 64);
	d[71] = 0;
	char s[200];
	snprintf(s, sizeof s, "oci://reg.example.com/a/b-c__d.e@%s", d);
	ck_assert_int_eq(lf_oci_ref_parse(s, &r, NULL), 0);
	ck_assert_str_eq(r.name, "a/b-c__d.e");
	ck_assert_str_eq(r.digest, d);
	char back[600];
	lf_oci_ref_str(&r, back, sizeof back);
	ck_assert_str_eq(back, s + 6);
	static const char *const bad[] = {
		"noslash", "/name", "host/Upper", "host/a..b", "host/a/", "host/-a", "host/a:",
		"host/a:-tag", "host/a@sha256:abc", "host/a@md5:00", "ho st/a", "host/a___b",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct lf_err err = {0};
		ck_assert_msg(lf_oci_ref_parse(bad[i], &r, &err) == -EINVAL, "%s taken", bad[i]);
		ck_assert(strstr(err.msg, bad[i]) != NULL);
	}
	uint64_t n;
	ck_assert_int_eq(lf_parse_size("512M", &n), 0);
	ck_assert_uint_eq(n, 512ull << 20);
	ck_assert_int_eq(lf_parse_size("4KiB", &n), 0);
	ck_assert_uint_eq(n, 4096);
	ck_assert_int_eq(lf_parse_size("-1", &n), -1);
	ck_assert_int_eq(lf_parse_size("10X", &n), -1);
	ck_assert_int_eq(lf_parse_size("99999999999T", &n), -1);
}
END_TEST

static void digest_of(int i, char out[LF_OCI_DIGEST_MAX])
{
	char b[16];
	snprintf(b, sizeof b, "%d", i);
	lf_oci_digest(b, strlen(b), out);
}

START_TEST(manifest_round_trip)
{
	struct lf_oci_layer l = { .name = "Office", .id = 100, .revision = 2, .os_layer = 1,
				  .priority = -3, .file_name = "Office.100.2.vhd",
				  .file_size = 600000, .chunk_size = 262144 };
	snprintf(l.type, sizeof l.type, "app");
	memset(l.file_sha256, 'f', 64);
	digest_of(99, l.parent);
	size_t clen, mlen;
	char *config = lf_oci_layer_config(&l, &clen);
	char cd[LF_OCI_DIGEST_MAX], chunks[3][LF_OCI_DIGEST_MAX];
	uint64_t sizes[3] = { 262144, 262144, 600000 - 2 * 262144 };
	lf_oci_digest(config, clen, cd);
	for (int i = 0; i < 3; i++)
		digest_of(i, chunks[i]);
	char *m = lf_oci_manifest(LF_OCI_LAYER_CONFIG, cd, clen, LF_OCI_CHUNK, chunks, sizes, 3,
				  "Office.100.2.vhd", &mlen);
	uint64_t csize = 0;
	char got[LF_OCI_DIGEST_MAX];
	char *type = lf_oci_manifest_config_type(m, mlen, got, &csize);
	ck_assert_str_eq(type, LF_OCI_LAYER_CONFIG);
	ck_assert_str_eq(got, cd);
	ck_assert_uint_eq(csize, clen);
	free(type);
	struct lf_oci_layer back;
	memset(&back, 0, sizeof back);
	ck_assert_int_eq(lf_oci_layer_parse(m, mlen, config, clen, &back, NULL), 0);
	ck_assert_str_eq(back.name, "Office");
	ck_assert_uint_eq(back.id, 100);
	ck_assert_uint_eq(back.revision, 2);
	ck_assert_int_eq(back.priority, -3);
	ck_assert_str_eq(back.parent, l.parent);
	ck_assert_uint_eq(back.nchunks, 3);
	ck_assert_str_eq(back.chunks[2], chunks[2]);
	lf_oci_layer_free(&back);
	/* a chunk short, a wrong size, a name with a slash: refused, said */
	struct lf_err err = {0};
	char *m2 = lf_oci_manifest(LF_OCI_LAYER_CONFIG, cd, clen, LF_OCI_CHUNK, chunks, sizes, 2,
				   "x", &mlen);
	memset(&back, 0, sizeof back);
	ck_assert_int_eq(lf_oci_layer_parse(m2, mlen, config, clen, &back, &err), -EINVAL);
	ck_assert(strstr(err.msg, "2 chunks") != NULL);
	free(m2);
	sizes[0] = 5;
	m2 = lf_oci_manifest(LF_OCI_LAYER_CONFIG, cd, clen, LF_OCI_CHUNK, chunks, sizes, 3, "x", &mlen);
	memset(&back, 0, sizeof back);
	ck_assert_int_eq(lf_oci_layer_parse(m2, mlen, config, clen, &back, &err), -EINVAL);
	ck_assert(strstr(err.msg, "chunk 0") != NULL);
	free(m2);
	l.file_name = "../../etc/passwd";
	char *c2 = lf_oci_layer_config(&l, &clen);
	memset(&back, 0, sizeof back);
	ck_assert_int_eq(lf_oci_layer_parse(m, strlen(m), c2, clen, &back, &err), -EINVAL);
	ck_assert(strstr(err.msg, "file.name") != NULL);
	free(c2);
	free(m);
	free(config);
	/* the chunk size: 256 KiB until a file is 16384 of them */
	ck_assert_uint_eq(lf_oci_chunk_size(2ull << 30), 256u << 10);
	ck_assert_uint_eq(lf_oci_chunk_size(40ull << 30), 4u << 20);
	ck_assert_uint_eq(lf_oci_chunk_size(0), 256u << 10);
}
END_TEST

START_TEST(chunk_cache)
{
	struct lf_oci_config cf = { .cache_dir = th_path("cache"), .cache_max = 3 << 20 };
	lf_oci_configure(&cf);
	struct lf_chunk_cache *c;
	ck_assert_int_eq(lf_chunk_cache_get(&c, NULL), 0);
	struct stat st;
	ck_assert_int_eq(stat(th_path("cache"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	static uint8_t buf[5][1 << 20];
	char d[5][LF_OCI_DIGEST_MAX];
	for (int i = 0; i < 5; i++) {
		th_fill_random(buf[i], sizeof buf[i], (uint64_t)i + 1);
		lf_oci_digest(buf[i], sizeof buf[i], d[i]);
	}
	ck_assert_int_eq(lf_chunk_cache_open(c, d[0], sizeof buf[0]), -ENOENT);
	int fd = lf_chunk_cache_put(c, d[0], buf[0], sizeof buf[0]);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = lf_chunk_cache_open(c, d[0], sizeof buf[0]);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	close(fd);
	/* a damaged blob is removed when opened, never read */
	char rel[200];
	snprintf(rel, sizeof rel, "cache/blobs/sha256/%.2s/%.64s", d[0] + 7, d[0] + 7);
	th_patch(th_path(rel), 4096, "X", 1);
	ck_assert_int_eq(lf_chunk_cache_open(c, d[0], sizeof buf[0]), -ENOENT);
	ck_assert_int_eq(access(th_path(rel), F_OK), -1);
	/* past the 3 MiB bound the oldest go, down to 90% of it */
	for (int i = 0; i < 5; i++) {
		fd = lf_chunk_cache_put(c, d[i], buf[i], sizeof buf[i]);
		ck_assert_int_ge(fd, 0);
		close(fd);
		sleep(i == 2 ? 1 : 0);   /* mtimes a second apart, for the order */
	}
	uint64_t bytes, blobs;
	lf_chunk_cache_usage(c, &bytes, &blobs);
	ck_assert_uint_le(bytes, 3u << 20);
	ck_assert(lf_chunk_cache_has(c, d[4], sizeof buf[4]));
	ck_assert(!lf_chunk_cache_has(c, d[0], sizeof buf[0]));
	/* tags and metadata: kept, read back checked */
	lf_chunk_cache_set_tag(c, "h:1", "n", "t", d[3]);
	char got[LF_OCI_DIGEST_MAX];
	ck_assert_int_eq(lf_chunk_cache_tag(c, "h:1", "n", "t", got), 0);
	ck_assert_str_eq(got, d[3]);
	ck_assert_int_eq(lf_chunk_cache_tag(c, "h:1", "n", "other", got), -ENOENT);
	char cd[LF_OCI_DIGEST_MAX];
	lf_oci_digest("{}", 2, cd);
	ck_assert_int_eq(lf_chunk_cache_keep(c, cd, "{}", 2), 0);
	char *body;
	size_t len;
	ck_assert_int_eq(lf_chunk_cache_read(c, cd, &body, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_str_eq(body, "{}");
	free(body);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = { references, manifest_round_trip, chunk_cache };
	return th_run_suite("oci", tests, sizeof tests / sizeof tests[0]);
}
