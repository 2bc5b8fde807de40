/* The union engine without FUSE: stacking order, lookups in any case,
 * tokens, opaque folders, type conflicts, node numbers across forget,
 * readdir's lookup references, which, with and without prefetch threads.
 * Run under valgrind too: nodes and indexes must all be freed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "union_helpers.h"
#include "layerfs/publish.h"
#include "layerfs/union.h"

static void put(const char *rel, const char *data)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", th_tmpdir(), rel);
	char dir[1024];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = 0;
	th_run("mkdir -p '%s'", dir);
	th_write_file(path, data, strlen(data));
}

static struct lf_union *open_stack(int prefetch)
{
	put("os/Windows/win.ini", "os");
	put("os/Windows/notepad.exe", "MZ");
	put("os/Windows/Temp/old.log", "old");
	put("os/Program Files/Common/x.dll", "os x");
	put("os/Conflict/inside.txt", "hidden by a file above");
	put("a/PROGRAM FILES/App/a.exe", "MZ a");
	put("a/WINDOWS/WIN.INI", "app a");
	put("a/conflict", "a file over a folder");
	put("b/program files/common/x.dll", "b x");
	put("b/windows/.wh.NOTEPAD.EXE", "");
	put("b/windows/temp/.wh..wh..opq", "");
	put("b/windows/temp/new.log", "new");
	struct lf_stack s = {0};
	struct lf_err err = {0};
	char spec[600];
	/* given out of order: type and prio decide */
	snprintf(spec, sizeof spec, "%s/b,prio=9", th_tmpdir());
	ck_assert_int_eq(lf_stack_add(&s, spec, &err), 0);
	snprintf(spec, sizeof spec, "%s/os,type=os,prio=100", th_tmpdir());
	ck_assert_int_eq(lf_stack_add(&s, spec, &err), 0);
	snprintf(spec, sizeof spec, "%s/a,prio=5", th_tmpdir());
	ck_assert_int_eq(lf_stack_add(&s, spec, &err), 0);
	ck_assert_int_eq(lf_stack_sort(&s, &err), 0);
	ck_assert_str_eq(s.v[0].name, "b");
	ck_assert_str_eq(s.v[2].name, "os");
	struct lf_union_opts o = { .prefetch = prefetch };
	struct lf_union *u = NULL;
	ck_assert_msg(lf_union_open(&s, &o, &u, &err) == 0, "%s", err.msg);
	lf_stack_free(&s);
	return u;
}

/* Walk a path, forgetting the walk afterwards but for the last node when
 * keep is set (the caller forgets it); returns 0 or -errno. */
static int walk_keep(struct lf_union *u, const char *path, struct lf_attr *a, int keep)
{
	uint64_t seen[32], cur = LF_UNION_ROOT;
	int n = 0, rc = lf_union_getattr(u, cur, a);
	char copy[512];
	snprintf(copy, sizeof copy, "%s", path);
	for (char *save = NULL, *c = strtok_r(copy, "/", &save); c && !rc;
	     c = strtok_r(NULL, "/", &save)) {
		rc = lf_union_lookup(u, cur, c, a);
		if (!rc)
			cur = seen[n++] = a->ino;
	}
	for (int i = 0; i < n - (keep && !rc); i++)
		lf_union_forget(u, seen[i], 1);
	return rc;
}

static int walk(struct lf_union *u, const char *path, struct lf_attr *a)
{
	return walk_keep(u, path, a, 0);
}

static void read_str(struct lf_union *u, const char *path, const char *want)
{
	struct lf_attr a;
	ck_assert_int_eq(walk_keep(u, path, &a, 1), 0);
	struct lf_ufile *f;
	ck_assert_int_eq(lf_union_open_file(u, a.ino, O_RDONLY, &f), 0);
	char buf[64] = "";
	ck_assert_int_eq(lf_union_pread(u, f, buf, sizeof buf - 1, 0), (ssize_t)strlen(want));
	ck_assert_str_eq(buf, want);
	lf_union_release(u, f);
	lf_union_forget(u, a.ino, 1);
	ck_assert_int_eq(lf_union_getattr(u, a.ino, &a), -ESTALE);
}

struct names { char v[16][64]; int n; uint64_t inos[16]; };

static int collect(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	(void)next;
	struct names *n = ctx;
	if (n->n == 16)
		return 1;
	snprintf(n->v[n->n], 64, "%s", name);
	n->inos[n->n++] = a->ino;
	return 0;
}

static void check_union(struct lf_union *u)
{
	struct lf_attr a, b;
	read_str(u, "windows/win.ini", "app a");
	read_str(u, "PROGRAM FILES/COMMON/X.DLL", "b x");
	read_str(u, "Program Files/App/a.exe", "MZ a");
	read_str(u, "Windows/Temp/new.log", "new");
	ck_assert_int_eq(walk(u, "Windows/Temp/old.log", &a), -ENOENT);
	ck_assert_int_eq(walk(u, "Windows/notepad.exe", &a), -ENOENT);
	ck_assert_int_eq(walk(u, "Windows/.wh.notepad.exe", &a), -ENOENT);
	ck_assert_int_eq(walk(u, "conflict", &a), 0);
	ck_assert(S_ISREG(a.mode));
	ck_assert_int_eq(walk(u, "conflict/inside.txt", &a), -ENOTDIR);

	/* the same number in any case, and after the node was forgotten */
	ck_assert_int_eq(walk(u, "windows/WIN.INI", &a), 0);
	ck_assert_int_eq(walk(u, "WINDOWS/win.ini", &b), 0);
	ck_assert_uint_eq(a.ino, b.ino);

	/* the root: the lowest spelling of each merged folder (Windows keeps
	 * its maker's); no tokens */
	struct names n = {0};
	ck_assert_int_eq(lf_union_readdir(u, LF_UNION_ROOT, 0, 0, collect, &n), 0);
	ck_assert_int_eq(n.n, 3);
	ck_assert_str_eq(n.v[0], "Program Files");
	ck_assert_str_eq(n.v[1], "Windows");
	ck_assert_str_eq(n.v[2], "conflict"); /* the file above wins, spelling too */
	/* readdirplus takes a reference per entry, which forget gives back */
	struct names p = {0};
	ck_assert_int_eq(lf_union_readdir(u, LF_UNION_ROOT, 1, 1, collect, &p), 0);
	ck_assert_int_eq(p.n, 2);
	for (int i = 0; i < p.n; i++) {
		ck_assert_int_eq(lf_union_getattr(u, p.inos[i], &a), 0);
		lf_union_forget(u, p.inos[i], 1);
		ck_assert_int_eq(lf_union_getattr(u, p.inos[i], &a), -ESTALE);
	}

	struct lf_which w;
	ck_assert_int_eq(lf_union_which(u, "windows/temp", &w), 0);
	ck_assert(w.found);
	ck_assert_int_eq(w.ncontrib, 1);            /* b's opaque Temp alone */
	ck_assert_int_eq(w.nshadowed, 1);           /* the OS layer's Temp */
	ck_assert_str_eq(w.shadowed[0].why, "contents hidden by an opaque folder");
	ck_assert_int_eq(lf_union_which(u, "windows/notepad.exe", &w), 0);
	ck_assert(!w.found);
	ck_assert_int_eq(w.nshadowed, 1);
	ck_assert_str_eq(w.shadowed[0].why, "deleted by a token");
}

static const struct lf_census_row *census_row(const struct lf_census *c, const char *name)
{
	for (size_t i = 0; i < c->nrows; i++)
		if (!strcmp(c->rows[i].name, name))
			return &c->rows[i];
	ck_abort_msg("no census row '%s'", name);
	return NULL;
}

/* Layers: 0 b, 1 a, 2 os (highest first). */
START_TEST(census_says_who_gives_what)
{
	struct lf_union *u = open_stack(0);
	struct lf_census c;
	ck_assert_int_eq(lf_union_census(u, "", NULL, &c), 0);
	ck_assert_int_eq(c.nlayers, 3);
	ck_assert_uint_eq(c.nrows, 3);
	/* the root's own files: a's "conflict" over the OS layer's folder */
	const struct lf_census_row *r = census_row(&c, "");
	ck_assert_uint_eq(r->files[1], 1);
	ck_assert_uint_eq(r->bytes[1], strlen("a file over a folder"));
	ck_assert_uint_eq(r->shadowed[2], 1);
	/* Program Files: b's x.dll over the OS layer's, a's a.exe */
	r = census_row(&c, "Program Files");
	ck_assert(r->dir);
	ck_assert_uint_eq(r->files[0], 1);
	ck_assert_uint_eq(r->bytes[0], 3);
	ck_assert_uint_eq(r->files[1], 1);
	ck_assert_uint_eq(r->files[2], 0);
	ck_assert_uint_eq(r->shadowed[2], 1);
	/* Windows: a's win.ini over the OS layer's, b's token on notepad.exe,
	 * b's opaque Temp (the OS layer's old.log is not read) */
	r = census_row(&c, "Windows");
	ck_assert_uint_eq(r->files[1], 1);
	ck_assert_uint_eq(r->bytes[1], 5);
	ck_assert_uint_eq(r->files[0], 1);
	ck_assert_uint_eq(r->shadowed[2], 1);
	ck_assert_uint_eq(r->deleted[2], 1);
	ck_assert_uint_eq(r->files[2], 0);
	lf_census_free(&c);
	/* one folder down; a file is not a folder; nothing is not there */
	ck_assert_int_eq(lf_union_census(u, "windows", NULL, &c), 0);
	ck_assert_uint_eq(census_row(&c, "Temp")->files[0], 1);
	ck_assert_uint_eq(census_row(&c, "")->deleted[2], 1);
	lf_census_free(&c);
	ck_assert_int_eq(lf_union_census(u, "conflict", NULL, &c), -ENOTDIR);
	ck_assert_int_eq(lf_union_census(u, "nowhere", NULL, &c), -ENOENT);
	lf_union_close(u);
}
END_TEST

START_TEST(merges_without_prefetch)
{
	struct lf_union *u = open_stack(0);
	check_union(u);
	lf_union_close(u);
}
END_TEST

START_TEST(merges_with_prefetch)
{
	struct lf_union *u = open_stack(1);
	check_union(u);
	check_union(u);
	lf_union_close(u);
}
END_TEST

START_TEST(bad_stacks)
{
	struct lf_stack s = {0};
	struct lf_err err = {0};
	ck_assert_int_lt(lf_stack_add(&s, "x,colour=blue", &err), 0);
	ck_assert_int_lt(lf_stack_add(&s, "x,type=kernel", &err), 0);
	ck_assert_int_lt(lf_stack_add(&s, "x,prio=high", &err), 0);
	ck_assert_int_lt(lf_stack_add(&s, ",name=x", &err), 0);
	ck_assert_int_eq(lf_stack_add(&s, "/srv/a.vhd,type=os", &err), 0);
	ck_assert_int_eq(lf_stack_add(&s, "/srv/b.vhd,type=os", &err), 0);
	ck_assert_int_lt(lf_stack_sort(&s, &err), 0);
	ck_assert_int_lt(lf_stack_override(&s, "nosuch=3", &err), 0);
	ck_assert_int_eq(lf_stack_override(&s, "a=3", &err), 0);
	lf_stack_free(&s);
	ck_assert_int_eq(lf_stack_add_lowerdir(&s, "/x/top:/y/base", &err), 0);
	ck_assert_int_eq(lf_stack_sort(&s, &err), 0);
	ck_assert_str_eq(s.v[0].name, "top");
	lf_stack_free(&s);
	ck_assert_int_eq(lf_stack_add(&s, "/nowhere/at/all", &err), 0);
	struct lf_union *u = NULL;
	ck_assert_int_lt(lf_union_open(&s, NULL, &u, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nowhere/at/all"));
	lf_stack_free(&s);
}
END_TEST

struct seen {
	int inodes, names;
	char last[64];
};

static void count_inval(void *ctx, uint64_t ino, const char *name)
{
	struct seen *v = ctx;
	(void)ino;
	if (name) {
		v->names++;
		snprintf(v->last, sizeof v->last, "%s", name);
	} else {
		v->inodes++;
	}
}

static int stack_of(struct lf_stack *s, const char *const *names)
{
	struct lf_err err = {0};
	char spec[600];
	for (int i = 0; names[i]; i++) {
		snprintf(spec, sizeof spec, "%s/%s%s", th_tmpdir(), names[i],
			 !strcmp(names[i], "os") ? ",type=os" : "");
		ck_assert_int_eq(lf_stack_add(s, spec, &err), 0);
	}
	return lf_stack_sort(s, &err);
}

/* A new layer set in place: what the kernel holds keeps its number and
 * shows the new stack; what only a removed layer had is no longer found
 * by name, but what the kernel holds of it (a shell's folder, an open
 * file) reads on from the detached layer. */
static void relayer(int prefetch)
{
	struct lf_union *u = open_stack(prefetch);
	struct lf_attr pf, app, x;
	ck_assert_int_eq(lf_union_lookup(u, LF_UNION_ROOT, "Program Files", &pf), 0);
	ck_assert_int_eq(lf_union_lookup(u, pf.ino, "App", &app), 0);
	ck_assert_int_eq(lf_union_lookup(u, pf.ino, "NewApp", &x), -ENOENT);
	put("c/Program Files/NewApp/n.exe", "MZ n");
	/* drop a, add c */
	struct lf_stack s = {0};
	static const char *const names[] = { "os", "b", "c", NULL };
	ck_assert_int_eq(stack_of(&s, names), 0);
	struct seen seen = {0};
	struct lf_err err = {0};
	ck_assert_msg(lf_union_set_layers(u, &s, count_inval, &seen, &err) == 0, "%s", err.msg);
	lf_stack_free(&s);
	struct lf_attr again, n;
	ck_assert_int_eq(lf_union_lookup(u, LF_UNION_ROOT, "program files", &again), 0);
	ck_assert_uint_eq(again.ino, pf.ino);                       /* the same number */
	ck_assert_int_eq(lf_union_lookup(u, pf.ino, "NewApp", &n), 0); /* the new layer's */
	/* App was only in a: not found by name; held, it still reads */
	ck_assert_int_eq(lf_union_lookup(u, pf.ino, "App", &x), -ENOENT);
	ck_assert_int_eq(lf_union_getattr(u, app.ino, &x), 0);
	ck_assert(S_ISDIR(x.mode));
	struct lf_attr in_app;
	ck_assert_int_eq(lf_union_lookup(u, app.ino, "a.exe", &in_app), 0);
	struct lf_ufile *f;
	ck_assert_int_eq(lf_union_open_file(u, in_app.ino, O_RDONLY, &f), 0);
	char buf[16] = {0};
	ck_assert_int_gt(lf_union_pread(u, f, buf, sizeof buf - 1, 0), 0);
	lf_union_release(u, f);
	lf_union_forget(u, in_app.ino, 1);
	ck_assert_int_gt(seen.inodes, 0);
	ck_assert_int_gt(seen.names, 0);
	lf_union_forget(u, app.ino, 1);
	lf_union_forget(u, n.ino, 1);
	lf_union_forget(u, pf.ino, 2);
	/* and back: a again, c gone */
	static const char *const back[] = { "os", "a", "b", NULL };
	struct lf_stack s2 = {0};
	ck_assert_int_eq(stack_of(&s2, back), 0);
	ck_assert_int_eq(lf_union_set_layers(u, &s2, NULL, NULL, &err), 0);
	lf_stack_free(&s2);
	ck_assert_int_eq(lf_union_lookup(u, LF_UNION_ROOT, "Program Files", &pf), 0);
	ck_assert_int_eq(lf_union_lookup(u, pf.ino, "App", &app), 0);
	ck_assert_int_eq(lf_union_lookup(u, pf.ino, "NewApp", &x), -ENOENT);
	lf_union_forget(u, app.ino, 1);
	lf_union_forget(u, pf.ino, 1);
	lf_union_close(u);
}

START_TEST(new_layer_set_in_place)
{
	relayer(0);
	relayer(1);
}
END_TEST

struct walked { uint64_t inos[64]; char names[64][32]; int n; uint64_t next; };

static int collect_walk(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	struct walked *w = ctx;
	if (w->n == 64)
		return 1;
	w->next = next;
	snprintf(w->names[w->n], sizeof w->names[0], "%s", name);
	w->inos[w->n++] = a->ino;
	return 0;
}

/* The next entries of folder ino from *off (into w): how many; 0 at
 * its end. */
static int next_batch(struct lf_union *u, uint64_t ino, uint64_t *off, struct walked *w)
{
	memset(w, 0, sizeof *w);
	ck_assert_int_eq(lf_union_readdir(u, ino, *off, 0, collect_walk, w), 0);
	*off = w->next;
	return w->n;
}

/* As find walks: list a folder, look up each entry, go down, forget.
 * Returns the number of entries seen below ino. */
static long find_walk(struct lf_union *u, uint64_t ino)
{
	long seen = 0;
	struct walked w;
	for (uint64_t off = 0; next_batch(u, ino, &off, &w);) {
		for (int i = 0; i < w.n; i++) {
			struct lf_attr a;
			ck_assert_int_eq(lf_union_lookup(u, ino, w.names[i], &a), 0);
			seen++;
			if (S_ISDIR(a.mode))
				seen += find_walk(u, a.ino);
			lf_union_forget(u, a.ino, 1);
		}
	}
	return seen;
}

/* More folders within two levels of the folder in use than the read-ahead
 * keeps (4,096): its bookkeeping must drop only what no one reads. */
START_TEST(read_ahead_past_its_limit)
{
	th_run("cd '%s' && mkdir wide && cd wide && for i in $(seq 100); do for j in $(seq 50); do "
	       "mkdir -p c$i/d$j/a c$i/d$j/b c$i/d$j/c c$i/d$j/e c$i/d$j/g; done; done", th_tmpdir());
	struct lf_stack s = {0};
	struct lf_err err = {0};
	char spec[600];
	snprintf(spec, sizeof spec, "%s/wide,type=os", th_tmpdir());
	ck_assert_int_eq(lf_stack_add(&s, spec, &err), 0);
	ck_assert_int_eq(lf_stack_sort(&s, &err), 0);
	struct lf_union_opts o = { .prefetch = 1 };
	struct lf_union *u = NULL;
	ck_assert_msg(lf_union_open(&s, &o, &u, &err) == 0, "%s", err.msg);
	lf_stack_free(&s);
	for (int round = 0; round < 2; round++)
		ck_assert_int_eq(find_walk(u, LF_UNION_ROOT), 100 + 100 * 50 * 6);
	lf_union_close(u);
}
END_TEST

/* The names of folder ino, sorted, one string ("a b c"). */
static void listing(struct lf_union *u, uint64_t ino, char *out, size_t size)
{
	char names[64][32];
	int n = 0;
	struct walked w;
	for (uint64_t off = 0; next_batch(u, ino, &off, &w);) {
		for (int i = 0; i < w.n && n < 64; i++)
			snprintf(names[n++], sizeof names[0], "%s", w.names[i]);
	}
	qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	out[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? " " : "", names[i]);
}

/* More folders held than indexes kept (4,096): a folder's index let go and
 * built again gives the same names and node numbers, and folders changed
 * through the mount, or asked for a missing name, keep theirs. */
START_TEST(kept_indexes_rebuild_the_same)
{
	th_run("mkdir -p '%s/up' && cd '%s' && mkdir many && cd many && for i in $(seq 60); do "
	       "for j in $(seq 100); do mkdir -p g$i/f$j && echo x > g$i/f$j/a && echo y > g$i/f$j/b;"
	       " done; done", th_tmpdir(), th_tmpdir());
	struct lf_union *u = th_union_open(th_path("many"), th_path("up"), NULL);
	enum { G = 60, F = 100 };
	static uint64_t dirs[G][F], files[G][F];
	struct lf_attr a;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < G; i++) {
			char n[32];
			snprintf(n, sizeof n, "g%d", i + 1);
			ck_assert_int_eq(lf_union_lookup(u, LF_UNION_ROOT, n, &a), 0);
			uint64_t g = a.ino;
			for (int j = 0; j < F; j++) {
				snprintf(n, sizeof n, "f%d", j + 1);
				ck_assert_int_eq(lf_union_lookup(u, g, n, &a), 0);
				ck_assert(round == 0 || a.ino == dirs[i][j]);
				dirs[i][j] = a.ino;
				ck_assert_int_eq(lf_union_lookup(u, a.ino, "A", &a), 0);
				ck_assert(round == 0 || a.ino == files[i][j]);
				files[i][j] = a.ino;
				char l[256];
				listing(u, dirs[i][j], l, sizeof l);
				/* f1: changed through the mount; f2: kept for its
				 * "no"; f3: let go and built again, so the file put
				 * into the layer behind the union's back shows */
				const char *want = round && i == 0 && j == 0 ? "a c"
						   : round && i == 0 && j == 2 ? "a b e" : "a b";
				ck_assert_msg(!strcmp(l, want), "g%d/f%d: '%s', not '%s'", i + 1, j + 1,
					      l, want);
			}
		}
		if (round == 0) {
			/* changes in the first folders, which later builds push out */
			struct lf_cred c = { 0, 0 };
			struct lf_ufile *f = NULL;
			ck_assert_int_eq(lf_union_unlink(u, dirs[0][0], "b"), 0);
			ck_assert_int_eq(lf_union_create(u, dirs[0][0], "c", 0100644, 0, &c, &a, &f), 0);
			lf_union_release(u, f);
			ck_assert_int_eq(lf_union_lookup(u, dirs[0][1], "d", &a), -ENOENT);
			th_run("echo new > '%s/many/g1/f2/d' && echo new > '%s/many/g1/f3/e'",
			       th_tmpdir(), th_tmpdir());
		}
	}
	/* thousands of folders built since f2's "no": still its index */
	char l[256];
	listing(u, dirs[0][1], l, sizeof l);
	ck_assert_msg(!strcmp(l, "a b"), "g1/f2: '%s'", l);
	lf_union_close(u);
}
END_TEST

static size_t layer_numbers(struct lf_union *u)
{
	size_t n = 0;
	for (int i = 0; i < lf_union_nlayers(u); i++) {
		struct lf_layer *l = lf_union_layer(u, i);
		if (l->ops->gc_count)
			n += l->ops->gc_count(l);
	}
	return n;
}

/* After a walk the kernel forgot, a sweep makes the folder layers forget
 * the names no one holds; what is held keeps its number and still reads,
 * a copy-up keeps the number it had, hard links in the writable layer
 * stay one file, and a forgotten layer number is stale, never another
 * file. A second walk gives the same tree. */
START_TEST(sweep_forgets_what_no_one_holds)
{
	th_run("mkdir -p '%s/up' && cd '%s' && mkdir os && cd os && for i in $(seq 20); do "
	       "mkdir -p g$i && for j in $(seq 100); do echo $i.$j > g$i/f$j; done; done",
	       th_tmpdir(), th_tmpdir());
	struct lf_union_opts o = { .prefetch = 1 };
	struct lf_union *u = th_union_open(th_path("os"), th_path("up"), &o);
	struct lf_attr a, held, copied, linked;
	/* held: a file open, a folder looked up; copied up; a hard link */
	ck_assert_int_eq(walk_keep(u, "g7", &a, 1), 0);
	uint64_t g7 = a.ino;
	ck_assert_int_eq(lf_union_lookup(u, g7, "f9", &held), 0);
	struct lf_ufile *open_file;
	ck_assert_int_eq(lf_union_open_file(u, held.ino, O_RDONLY, &open_file), 0);
	/* the kernel holds the folders above what it holds */
	ck_assert_int_eq(walk_keep(u, "g3", &a, 1), 0);
	uint64_t g3 = a.ino;
	ck_assert_int_eq(lf_union_lookup(u, g3, "f3", &copied), 0);
	struct lf_ufile *w;
	ck_assert_int_eq(lf_union_open_file(u, copied.ino, O_WRONLY | O_APPEND, &w), 0);
	ck_assert_int_eq(lf_union_pwrite(u, w, "more\n", 5, 4), 5);
	lf_union_release(u, w);
	ck_assert_int_eq(lf_union_link(u, copied.ino, g3, "again", &linked), 0);
	ck_assert_uint_eq(linked.ino, copied.ino);
	lf_union_forget(u, linked.ino, 1);
	lf_union_forget(u, copied.ino, 1);
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(find_walk(u, LF_UNION_ROOT), 20 + 20 * 100 + 1);
		size_t before = layer_numbers(u);
		ck_assert_uint_gt(before, 2000);
		size_t kept = lf_union_sweep(u);
		ck_assert_uint_eq(kept, layer_numbers(u));
		/* the root's and the held folders' indexes (g3, g7: 100
		 * names each), what is held, the writable layer's root */
		ck_assert_msg(kept <= 20 + 2 * 100 + 10, "%zu of %zu layer numbers kept", kept,
			      before);
		ck_assert_int_eq(lf_union_getattr(u, held.ino, &a), 0);
		char buf[16] = "";
		ck_assert_int_eq(lf_union_pread(u, open_file, buf, sizeof buf - 1, 0), 4);
		ck_assert_str_eq(buf, "7.9\n");
		ck_assert_int_eq(walk(u, "g3/f3", &a), 0);
		ck_assert_uint_eq(a.ino, copied.ino);
		ck_assert_uint_eq(a.size, 9);
		ck_assert_uint_eq(a.nlink, 2);
		ck_assert_int_eq(walk(u, "g3/again", &a), 0);
		ck_assert_uint_eq(a.ino, copied.ino);
	}
	/* g5/f5's layer number, forgotten by the sweep: stale */
	ck_assert_int_eq(walk(u, "g5/f5", &a), 0);
	struct lf_layer *os = lf_union_layer(u, 1);
	lf_ino old = a.ino & ((1ull << 48) - 1);
	ck_assert_int_eq(os->ops->getattr(os, old, &a), 0);
	lf_union_sweep(u);
	ck_assert_int_eq(os->ops->getattr(os, old, &a), -ESTALE);
	ck_assert_int_eq(walk(u, "g5/f5", &a), 0);
	ck_assert_uint_ne(a.ino & ((1ull << 48) - 1), old);
	lf_union_release(u, open_file);
	lf_union_forget(u, held.ino, 1);
	lf_union_forget(u, g3, 1);
	lf_union_forget(u, g7, 1);
	lf_union_close(u);
}
END_TEST

static int count_difference(void *ctx, char what, const char *path, const char *why,
			    const struct lf_attr *a)
{
	(void)a;
	fprintf(stderr, "difference: %c %s (%s)\n", what, path, why ? why : "");
	++*(int *)ctx;
	return 0;
}

static int count_links(void *ctx, char what, const char *path, const char *why,
		       const struct lf_attr *a)
{
	(void)a, (void)what, (void)path;
	*(int *)ctx += why && strstr(why, "links") != NULL;
	return 0;
}

static struct lf_union *open_one(const char *path)
{
	struct lf_stack s = {0};
	struct lf_union *u = NULL;
	struct lf_union_opts uo = {0};
	struct lf_err err = {0};
	ck_assert_int_eq(lf_stack_add(&s, path, &err), 0);
	ck_assert_int_eq(lf_stack_sort(&s, &err), 0);
	ck_assert_msg(lf_union_open(&s, &uo, &u, &err) == 0, "%s", err.msg);
	lf_stack_free(&s);
	return u;
}

/* Publish the stack (tokens, opaque folder, a hard link, a merged folder)
 * into an image; the image read back as a layer is the union, exactly. */
START_TEST(publish_is_the_union)
{
	struct lf_union *u = open_stack(0);
	th_run("ln '%s/os/Windows/notepad.exe' '%s/os/Windows/write.exe'", th_tmpdir(), th_tmpdir());
	th_run("ln '%s/os/Windows/notepad.exe' '%s/os/Program Files/notepad.exe'", th_tmpdir(),
	       th_tmpdir());
	struct lf_publish_opts o = { .format = LF_PUBLISH_RAW };
	struct lf_publish_stats st;
	struct lf_err err = {0};
	ck_assert_msg(lf_publish(u, th_path("pub.img"), &o, &st, &err) == 0, "%s", err.msg);
	/* notepad.exe is deleted above: its other two names are one file */
	ck_assert_uint_eq(st.hardlinks, 1);
	ck_assert_str_eq(st.layout, "bare");
	struct lf_union *img = open_one(th_path("pub.img"));
	int n = 0;
	struct lf_diff_opts d = { .flags = LF_DIFF_EXACT };
	ck_assert_int_eq(lf_union_diff(img, u, &d, count_difference, &n), 0);
	ck_assert_int_eq(n, 0);
	struct lf_attr a;
	ck_assert_int_eq(walk(img, "Windows/notepad.exe", &a), -ENOENT);
	ck_assert_int_eq(walk(img, "Windows/write.exe", &a), 0);
	ck_assert_uint_eq(a.nlink, 2);
	ck_assert_int_eq(walk(img, "Windows/Temp/old.log", &a), -ENOENT);
	/* against the same files as copies, not names of one: compare says so */
	th_run("cp -a '%s/os' '%s/copies' && cd '%s/copies' && rm 'Program Files/notepad.exe' && "
	       "cp -a Windows/notepad.exe 'Program Files/notepad.exe'", th_tmpdir(), th_tmpdir(),
	       th_tmpdir());
	struct lf_union *copies = open_one(th_path("copies"));
	n = 0;
	ck_assert_int_eq(lf_union_diff(img, copies, &d, count_links, &n), 0);
	ck_assert_int_ge(n, 1);
	lf_union_close(copies);
	lf_union_close(img);
	/* a publish interrupted before left work files: the next one clears them */
	th_write_file(th_path("pub.img.publish-999999999.vol"), "x", 1);
	ck_assert_int_eq(lf_publish_clean(th_path("pub.img")), 1);
	lf_union_close(u);
}
END_TEST


static void census_equal(const struct lf_census *x, const struct lf_census *y)
{
	ck_assert_int_eq(x->nlayers, y->nlayers);
	ck_assert_uint_eq(x->nrows, y->nrows);
	for (size_t i = 0; i < x->nrows; i++) {
		ck_assert_str_eq(x->rows[i].name, y->rows[i].name);
		for (int k = 0; k < x->nlayers; k++) {
			ck_assert_uint_eq(x->rows[i].files[k], y->rows[i].files[k]);
			ck_assert_uint_eq(x->rows[i].bytes[k], y->rows[i].bytes[k]);
			ck_assert_uint_eq(x->rows[i].shadowed[k], y->rows[i].shadowed[k]);
			ck_assert_uint_eq(x->rows[i].deleted[k], y->rows[i].deleted[k]);
		}
	}
}

/* An NTFS OS layer (the os folder published) under app layer a: a census
 * with a memo counts what a census without one counts, the first time
 * (the memo learns the subtrees only the OS layer gives) and again from
 * the memo, and from the memo saved and read back; a memo file that does
 * not add up, or is another layer's, is refused. */
START_TEST(census_memo_counts_the_same)
{
	struct lf_union *u = open_stack(0);
	put("os/Windows/System/deep/deeper/d.sys", "deep file");
	struct lf_publish_opts po = { .format = LF_PUBLISH_RAW };
	struct lf_publish_stats st;
	struct lf_err err = {0};
	lf_union_close(u);
	u = open_one(th_path("os"));
	ck_assert_msg(lf_publish(u, th_path("os.img"), &po, &st, &err) == 0, "%s", err.msg);
	lf_union_close(u);
	struct lf_stack s = {0};
	char spec[600];
	snprintf(spec, sizeof spec, "%s/os.img,type=os", th_tmpdir());
	ck_assert_int_eq(lf_stack_add(&s, spec, &err), 0);
	snprintf(spec, sizeof spec, "%s/a", th_tmpdir());
	ck_assert_int_eq(lf_stack_add(&s, spec, &err), 0);
	ck_assert_int_eq(lf_stack_sort(&s, &err), 0);
	struct lf_union_opts uo = {0};
	ck_assert_msg(lf_union_open(&s, &uo, &u, &err) == 0, "%s", err.msg);
	lf_stack_free(&s);
	ck_assert_int_eq(lf_union_nlayers(u), 2);          /* 0 a, 1 the OS image */
	static const char key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct lf_census_memo *memo = lf_census_memo_new();
	struct lf_census_memo *memos[2] = { lf_census_memo_new(), memo };   /* a's: a folder layer */
	struct lf_census plain, first, again, loaded;
	ck_assert_int_eq(lf_union_census(u, "", NULL, &plain), 0);
	ck_assert_int_eq(lf_union_census(u, "", memos, &first), 0);
	census_equal(&plain, &first);
	ck_assert(lf_census_memo_dirty(memo));
	ck_assert(!lf_census_memo_dirty(memos[0]));    /* a folder layer's numbers are not kept */
	struct lf_census_counts c;
	/* Windows: the OS layer's notepad.exe and d.sys show (a's win.ini
	 * hides the OS layer's); System, deep below, is the OS layer's alone */
	ck_assert_uint_eq(census_row(&plain, "Windows")->files[1], 3);
	ck_assert_int_eq(lf_union_census(u, "", memos, &again), 0);
	census_equal(&plain, &again);
	int dir = open(th_tmpdir(), O_RDONLY | O_DIRECTORY);
	ck_assert_msg(lf_census_memo_save(memo, dir, "os.memo", key, &err) == 0, "%s", err.msg);
	ck_assert(!lf_census_memo_dirty(memo));
	struct lf_census_memo *back = lf_census_memo_new();
	ck_assert_msg(lf_census_memo_load(back, dir, "os.memo", key, &err) == 0, "%s", err.msg);
	struct lf_census_memo *memos2[2] = { NULL, back };
	ck_assert_int_eq(lf_union_census(u, "", memos2, &loaded), 0);
	census_equal(&plain, &loaded);
	ck_assert(!lf_census_memo_dirty(back));        /* nothing new to learn */
	uint8_t *data;
	size_t len, n;
	ck_assert_int_eq(lf_census_memo_encode(back, key, &data, &len, &n), 0);
	ck_assert_uint_ge(n, 2);
	struct lf_census_memo *other = lf_census_memo_new();
	const char *why;
	/* each remembered subtree 1000 files more: the census takes them from
	 * the memo, not from the layer */
	for (size_t i = 0; i < n; i++)
		data[80 + i * 40 + 8] += 0xe8, data[80 + i * 40 + 9] += 0x03;
	ck_assert_int_eq(lf_census_memo_decode(other, data, len, key, &why), 0);
	struct lf_census_memo *memos3[2] = { NULL, other };
	struct lf_census forged;
	ck_assert_int_eq(lf_union_census(u, "", memos3, &forged), 0);
	ck_assert_uint_ge(census_row(&forged, "Windows")->files[1],
			  census_row(&plain, "Windows")->files[1] + 1000);
	lf_census_free(&forged);
	lf_census_memo_free(other);
	other = lf_census_memo_new();
	ck_assert_int_eq(lf_census_memo_decode(other, data, len, "another", &why), -1);
	ck_assert_str_eq(why, "made for another layer file");
	ck_assert_int_eq(lf_census_memo_decode(other, data, len - 1, key, &why), -1);
	ck_assert_str_eq(why, "its length is not its count's");
	data[0] = 'X';
	ck_assert_int_eq(lf_census_memo_decode(other, data, len, key, &why), -1);
	ck_assert_str_eq(why, "not a census memo");
	th_write_file(th_path("bad.memo"), data, 10);
	ck_assert_int_eq(lf_census_memo_load(other, dir, "bad.memo", key, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "bad.memo: not a census memo");
	ck_assert_int_eq(lf_census_memo_get(back, 0x7fffffff, &c), 0);
	free(data);
	close(dir);
	lf_census_free(&plain);
	lf_census_free(&first);
	lf_census_free(&again);
	lf_census_free(&loaded);
	lf_census_memo_free(memo);
	lf_census_memo_free(memos[0]);
	lf_census_memo_free(back);
	lf_census_memo_free(other);
	lf_union_close(u);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = { merges_without_prefetch, merges_with_prefetch, bad_stacks,
				       new_layer_set_in_place, read_ahead_past_its_limit,
				       kept_indexes_rebuild_the_same, sweep_forgets_what_no_one_holds,
				       publish_is_the_union, census_says_who_gives_what,
				       census_memo_counts_the_same };
	return th_run_suite("union", tests, sizeof tests / sizeof tests[0]);
}
