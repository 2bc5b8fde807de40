/* The repository engine: assignment resolution over a table of cases, and
 * control files that are wrong in each way the parser must name. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "layerfs/repo.h"

#define SHA "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\""

static void write_repo(const char *layers, const char *assign)
{
	char l[8192], a[8192];
	snprintf(l, sizeof l, "{\"format\": \"layerfs-guest-layers/1\", \"layers\": [%s]}", layers);
	snprintf(a, sizeof a, "{\"format\": \"layerfs-layer-assignments/1\", \"assignments\": [%s]}",
		 assign);
	th_write_file(th_path("GuestLayerFile.txt"), l, strlen(l));
	th_write_file(th_path("LayerAssignment.txt"), a, strlen(a));
}

#define L(id, rev, name, type, os, prio) \
	"{\"id\": " #id ", \"revision\": " #rev ", \"name\": \"" name "\", \"type\": \"" type \
	"\", \"os_layer\": " #os ", \"priority\": " #prio ", \"file\": \"Layers/" name "." #id \
	"." #rev ".vhd\", " SHA ", \"size\": 1}"

static const char *layers =
	L(1, 1, "Win10", "os", 1, 0) "," L(1, 2, "Win10", "os", 1, 0) ","
	L(2, 1, "Win11", "os", 2, 0) ","
	L(100, 1, "Office", "app", 1, 10) "," L(100, 2, "Office", "app", 1, 10) ","
	L(100, 3, "Office", "app", 1, 10) ","
	L(101, 1, "Tools", "app", 1, 20) "," L(102, 1, "Cad", "app", 2, 5) ","
	L(50, 1, "Drivers", "platform", 1, 0);

static const char *assign =
	"{\"kind\": \"machine\", \"name\": \"WKS-*\", \"layers\": [{\"id\": 1}]},"
	"{\"kind\": \"machine\", \"name\": \"LAB-*\", \"layers\": [{\"id\": 2}]},"
	"{\"kind\": \"group\", \"name\": \"finance\", \"layers\": [{\"id\": 100, \"revision\": 1}, {\"id\": 50}]},"
	"{\"kind\": \"group\", \"name\": \"staff\", \"layers\": [{\"id\": 100, \"revision\": 2}]},"
	"{\"kind\": \"group\", \"name\": \"dev\", \"layers\": [{\"id\": 100}]},"
	"{\"kind\": \"user\", \"name\": \"alice\", \"layers\": [{\"id\": 100, \"revision\": 1}, {\"id\": 101}]},"
	"{\"kind\": \"user\", \"name\": \"carol\", \"layers\": [{\"id\": 999}]},"
	"{\"kind\": \"user\", \"name\": \"dave\", \"layers\": [{\"id\": 101, \"revision\": 7}]},"
	"{\"kind\": \"user\", \"name\": \"erin\", \"layers\": [{\"id\": 102}]},"
	"{\"kind\": \"user\", \"name\": \"frank\", \"layers\": [{\"id\": 2}]}";

static const struct rcase {
	const char *user, *groups, *machine;
	const char *stack;       /* "id:rev ..." lowest first; NULL: an error */
	const char *skipped;     /* "id:rev ..." */
	const char *upper;
} cases[] = {
	/* a user's pinned revision beats every group's */
	{ "alice", "finance,dev", "WKS-1", "1:2 50:1 100:1 101:1", "", "Users/alice/00000001_Win10" },
	/* among groups the newest: staff's pinned 2 over finance's pinned 1 */
	{ "bob", "finance,staff", "WKS-1", "1:2 50:1 100:2", "", "Users/bob/00000001_Win10" },
	/* an unpinned group assignment means the newest there is */
	{ "bob", "finance,dev", "WKS-1", "1:2 50:1 100:3", "", NULL },
	/* names and machine patterns ignore case */
	{ "ALICE", "", "wks-9", "1:2 100:1 101:1", "", "Users/ALICE/00000001_Win10" },
	/* a layer built on another OS layer is left out */
	{ "bob", "staff", "LAB-3", "2:1", "100:2", "Users/bob/00000002_Win11" },
	{ "erin", "", "WKS-1", "1:2", "102:1", NULL },
	{ "erin", "", "LAB-1", "2:1 102:1", "", NULL },
	/* a layer or revision not in the repository */
	{ "carol", "", "WKS-1", "1:2", "999:0", NULL },
	{ "dave", "", "WKS-1", "1:2", "101:7", NULL },
	/* no OS layer, or two */
	{ "nobody", "", "srv1", NULL, NULL, NULL },
	{ "frank", "", "WKS-1", NULL, NULL, NULL },
	/* no machine given: machine patterns do not apply */
	{ "frank", "", NULL, "2:1", "", NULL },
};

static void ids(char *out, size_t size, const struct lf_resolution *res, int skipped)
{
	size_t o = 0;
	out[0] = 0;
	size_t n = skipped ? res->nskipped : res->n;
	for (size_t i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%u:%u", i ? " " : "",
				      skipped ? res->skipped[i].id : res->v[i].layer->id,
				      skipped ? res->skipped[i].revision : res->v[i].layer->revision);
}

START_TEST(resolution_table)
{
	write_repo(layers, assign);
	struct lf_repo *r;
	struct lf_err err = {0};
	ck_assert_msg(lf_repo_open(th_tmpdir(), &r, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct rcase *c = &cases[i];
		char gbuf[128], *save = NULL;
		const char *groups[8];
		int ng = 0;
		snprintf(gbuf, sizeof gbuf, "%s", c->groups);
		for (char *g = strtok_r(gbuf, ",", &save); g; g = strtok_r(NULL, ",", &save))
			groups[ng++] = g;
		struct lf_resolution res;
		int rc = lf_repo_resolve(r, c->user, groups, ng, c->machine, &res, &err);
		if (!c->stack) {
			ck_assert_msg(rc < 0, "case %zu: want an error", i);
			continue;
		}
		ck_assert_msg(rc == 0, "case %zu: %s", i, err.msg);
		char got[256];
		ids(got, sizeof got, &res, 0);
		ck_assert_msg(!strcmp(got, c->stack), "case %zu: stack %s, want %s", i, got, c->stack);
		ids(got, sizeof got, &res, 1);
		ck_assert_msg(!strcmp(got, c->skipped), "case %zu: skipped %s, want %s", i, got,
			      c->skipped);
		for (size_t k = 0; k < res.n; k++)
			ck_assert(res.v[k].why[0]);
		for (size_t k = 0; k < res.nskipped; k++)
			ck_assert(res.skipped[k].why[0] && !res.skipped[k].required);
		if (c->upper)
			ck_assert_str_eq(res.upper, c->upper);
		lf_resolution_free(&res);
	}
	/* a user name that would leave Users/ */
	struct lf_resolution res;
	ck_assert_int_eq(lf_repo_resolve(r, "../x", NULL, 0, "WKS-1", &res, &err), -EINVAL);
	lf_repo_free(r);
}
END_TEST

/* Each broken control file is refused with the file and the field named. */
START_TEST(control_files_refused)
{
	static const struct { const char *layers, *assign, *want; } bad[] = {
		{ L(1, 1, "W", "os", 1, 0) ",", "", "GuestLayerFile.txt: line" },
		{ "{\"id\": 1}", "", "GuestLayerFile.txt: layers[0]: 'revision' is missing" },
		{ "{\"id\": 1, \"revision\": 1, \"name\": \"W\", \"type\": \"os\", \"priority\": 0, "
		  "\"file\": \"a.vhd\", " SHA ", \"size\": 1, \"colour\": 1}", "",
		  "layers[0]: unknown field 'colour'" },
		{ "{\"id\": \"1\"}", "", "layers[0]: 'id' must be a whole number" },
		{ "{\"id\": 1, \"revision\": 1, \"name\": \"W\", \"type\": \"os\", \"priority\": 0, "
		  "\"file\": \"../a.vhd\", " SHA ", \"size\": 1}", "", "'..' would leave" },
		{ "{\"id\": 1, \"revision\": 1, \"name\": \"W\", \"type\": \"os\", \"priority\": 0, "
		  "\"file\": \"/etc/passwd\", " SHA ", \"size\": 1}", "", "absolute" },
		{ "{\"id\": 1, \"revision\": 1, \"name\": \"W\", \"type\": \"disk\"}", "", "'type' must be" },
		{ L(1, 1, "W", "os", 1, 0) "," L(1, 1, "W", "os", 1, 0), "", "layers[1]: layer 1 revision 1 is also" },
		{ L(100, 1, "A", "app", 1, 0) "," L(100, 2, "B", "app", 1, 0), "", "named or typed otherwise" },
		{ L(1, 1, "W", "os", 1, 0), "{\"kind\": \"person\", \"name\": \"a\", \"layers\": []}",
		  "LayerAssignment.txt: assignments[0]: 'kind' must be" },
		{ L(1, 1, "W", "os", 1, 0), "{\"kind\": \"user\", \"name\": \"a\", \"layers\": [1]}",
		  "assignments[0].layers[0]: must be an object" },
		{ L(1, 1, "W", "os", 1, 0), "{\"kind\": \"user\", \"name\": \"a\", \"layers\": [{\"id\": 1, \"rev\": 2}]}",
		  "assignments[0].layers[0]: unknown field 'rev'" },
		{ L(1, 1, "W", "os", 1, 0), "{\"kind\": \"user\", \"name\": \"a\", \"layers\": []},"
		  "{\"kind\": \"user\", \"name\": \"a\", \"layers\": []}", "user 'a' is also assignments[0]" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_repo(bad[i].layers, bad[i].assign);
		struct lf_repo *r = NULL;
		struct lf_err err = {0};
		ck_assert_msg(lf_repo_open(th_tmpdir(), &r, &err) < 0, "case %zu opened", i);
		ck_assert_msg(strstr(err.msg, bad[i].want) != NULL, "case %zu: '%s' lacks '%s'", i,
			      err.msg, bad[i].want);
	}
	unlink(th_path("GuestLayerFile.txt"));
	struct lf_repo *r;
	struct lf_err err = {0};
	ck_assert_int_eq(lf_repo_open(th_tmpdir(), &r, &err), -ENOENT);
	ck_assert(strstr(err.msg, "repo init") != NULL);
}
END_TEST

/* Paths stay inside: textually, and through symlinks. */
START_TEST(paths_stay_inside)
{
	struct lf_err err = {0};
	ck_assert_int_eq(lf_repo_init(th_path("R"), (gid_t)-1, &err), 0);
	ck_assert_int_eq(lf_repo_init(th_path("R"), (gid_t)-1, &err), -EEXIST);
	struct stat st;     /* the layers hold SAM and SECURITY: not for everyone */
	ck_assert_int_eq(stat(th_path("R/Layers/App"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	ck_assert_int_eq(stat(th_path("R/Users"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	struct lf_repo *r;
	ck_assert_int_eq(lf_repo_open(th_path("R"), &r, &err), 0);
	char out[4096];
	ck_assert_int_eq(lf_repo_path(r, "Layers/OS/a.vhd", out, sizeof out, &err), 0);
	ck_assert_int_eq(lf_repo_path(r, "Layers/../../x", out, sizeof out, &err), -EINVAL);
	ck_assert_int_eq(symlink("/etc", th_path("R/Layers/out")), 0);
	ck_assert_int_eq(lf_repo_path(r, "Layers/out/passwd", out, sizeof out, &err), -EXDEV);
	ck_assert(strstr(err.msg, "leads out") != NULL);
	ck_assert_int_eq(symlink("OS", th_path("R/Layers/in")), 0);
	ck_assert_int_eq(lf_repo_path(r, "Layers/in/x.vhd", out, sizeof out, &err), 0);
	lf_repo_free(r);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = { resolution_table, control_files_refused, paths_stay_inside };
	return th_run_suite("repo", tests, sizeof tests / sizeof tests[0]);
}
