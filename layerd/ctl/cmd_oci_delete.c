/* layerctl delete REF: a layer revision (or an old control version) taken
 * out of an OCI registry, its manifest deleted. Its chunks stay until the
 * registry's own garbage collection, which keeps those another revision
 * still names (docs/REGISTRY.md). Refused, unless forced, while what
 * hosts follow needs it: the "control" artifact names it, or another
 * revision is a differencing disk on it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cmd_repo.h"
#include "layerfs/oci.h"
#include "layerfs/repo.h"

static void delete_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl delete [OPTIONS] HOST[:PORT]/NAME:TAG|@DIGEST\n"
		"\n"
		"Delete a layer revision that 'layerctl push' put in an OCI registry: its\n"
		"manifest (and so every tag on it). Its chunks stay in the registry's\n"
		"storage until the registry's garbage collection, which keeps every chunk\n"
		"another revision still names:\n"
		"\n"
		"    docker-registry garbage-collect /etc/docker/registry/config.yml\n"
		"\n"
		"(with the registry stopped or read-only, as its documentation says).\n"
		"The registry must allow deletes (storage: delete: enabled: true).\n"
		"\n"
		"Refused while hosts need the revision: the repository's 'control'\n"
		"artifact names it (remove it with 'layerctl repo remove' and push the\n"
		"control files again with 'layerctl push REPO all'), or another revision\n"
		"is a differencing disk on it. An old control version (control-TIME)\n"
		"may be deleted; the one tagged 'control' may not.\n"
		"\n"
		"Options:\n"
		"      --force            delete it all the same (hosts that need it fail\n"
		"                         to log in; fsck --registry says which)\n"
		"      --registry-auth FILE  credentials (default: $REGISTRY_AUTH_FILE, then\n"
		"                         where podman and docker keep theirs)\n"
		"      --registry-ca FILE the CA the registry's certificate is checked against\n"
		"      --json             say what was deleted as JSON\n"
		"  -h, --help             this help\n");
}

/* Who needs DIGEST: the "control" artifact, another revision as its
 * parent. One line into why, 0 when no one; -errno when it cannot be told. */
static int needed_by(struct lf_registry *reg, const struct lf_oci_ref *ref, const char *digest,
		     char *why, size_t size, struct lf_err *err)
{
	char **tags = NULL;
	int n = lf_registry_tags(reg, ref->name, &tags, err);
	if (n < 0)
		return n;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		if (!strcmp(tags[i], "control")) {
			struct lf_control_layer *map = NULL;
			size_t k = 0, ll = 0, al = 0;
			char *lt = NULL, *at = NULL, cd[LF_OCI_DIGEST_MAX];
			struct lf_err e = {0};
			if (lf_repo_fetch_control(ref->host, ref->name, "control", &map, &k, &lt, &ll, &at,
						  &al, cd, &e) == 0) {
				if (!strcmp(cd, digest))
					rc = snprintf(why, size, "it is the control artifact hosts "
						      "follow (tag 'control')") > 0;
				for (size_t j = 0; j < k && !rc; j++)
					if (!strcmp(map[j].manifest, digest))
						rc = snprintf(why, size, "the control artifact names it "
							      "(layer %u revision %u): remove it from the "
							      "repository and push the control files "
							      "again first", map[j].id,
							      map[j].revision) > 0;
			}
			free(map);
			free(lt);
			free(at);
			continue;
		}
		if (!strncmp(tags[i], "control-", 8))
			continue;
		struct lf_oci_layer l;
		struct lf_err e = {0};
		if (lf_oci_layer_fetch(reg, ref->host, ref->name, tags[i], &l, &e) == 0) {
			if (!strcmp(l.parent, digest))
				rc = snprintf(why, size, "revision %s (%s %u.%u) is a differencing "
					      "disk on it", tags[i], l.name, l.id, l.revision) > 0;
			lf_oci_layer_free(&l);
		}
	}
	for (int i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
	return rc;
}

int cmd_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' }, { "registry-auth", required_argument, NULL, 'A' },
		{ "registry-ca", required_argument, NULL, 'T' }, { "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct lf_oci_config cf = { .verify = 1 };
	int force = 0, json = 0, c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'f': force = 1; break;
		case 'A': cf.auth_file = optarg; break;
		case 'T': cf.ca_file = optarg; break;
		case 'J': json = 1; break;
		case 'h': delete_usage(stdout); return EXIT_OK;
		default: return cli_bad_option("delete");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("delete", "want one HOST/NAME:TAG or HOST/NAME@DIGEST");
	lf_oci_configure(&cf);
	struct lf_oci_ref ref;
	struct lf_registry *reg;
	struct lf_err err = {0};
	int rc = lf_oci_ref_parse(argv[optind], &ref, &err);
	if (rc)
		return repo_fail(&err);
	if (!ref.tag[0] && !ref.digest[0])
		return cli_usage_error("delete", "%s: name the revision, by tag or digest",
				       argv[optind]);
	rc = lf_registry_get(ref.host, &reg, &err);
	char *m = NULL, digest[LF_OCI_DIGEST_MAX];
	size_t ml = 0;
	if (!rc)
		rc = lf_registry_get_manifest(reg, ref.name, ref.digest[0] ? ref.digest : ref.tag, &m,
					      &ml, digest, &err);
	free(m);
	char why[600] = "";
	if (!rc && !force) {
		int need = needed_by(reg, &ref, digest, why, sizeof why, &err);
		if (need < 0)
			rc = need;
		else if (need)
			rc = lf_err_set(&err, EBUSY, "%s: not deleted: %s (--force deletes it all the "
					"same)", argv[optind], why);
	}
	if (!rc)
		rc = lf_registry_delete_manifest(reg, ref.name, digest, &err);
	if (rc)
		return repo_fail(&err);
	if (json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "registry", ref.host, "repository",
					 ref.name, "deleted", digest));
	else
		printf("deleted %s/%s@%s; its chunks stay until the registry's garbage collection "
		       "(docker-registry garbage-collect CONFIG)\n", ref.host, ref.name, digest);
	return EXIT_OK;
}
