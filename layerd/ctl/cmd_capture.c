/* layerctl capture --before A --after B OUT: an app layer of what B has
 * that A has not (issue 17): new and changed files with their Windows
 * descriptors, delete tokens for what B lost, and for each registry hive a
 * fragment (new and changed keys and values, .wh. markers for deleted
 * ones), packed as a layer. Windows' noise is left out by rules. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <jansson.h>

#include "capture_int.h"
#include "cli.h"
#include "layerfs/hive.h"
#include "layerfs/layer.h"
#include "layerfs/pack.h"
#include "layerfs/safe_path.h"
#include "layerfs/regcompose.h"
#include "layerfs/union.h"
#include "layerfs/win_names.h"

/* Windows' noise (App Volumes' exclude_path / exclude_registry): a path
 * at or below one of these, case ignored, '*' one part. */
static const char *const default_files[] = {
	"pagefile.sys", "hiberfil.sys", "swapfile.sys", "$Recycle.Bin",
	"System Volume Information", "Windows/Temp", "Windows/Prefetch", "Windows/Logs",
	"Windows/SoftwareDistribution/Download", "Users/*/AppData/Local/Temp",
	"Windows/System32/winevt/Logs", "ProgramData/Microsoft/Search/Data",
	"ProgramData/Microsoft/Windows Defender",
};
static const char *const default_keys[] = {
	"HKLM/SYSTEM/*/Services/bam", "HKLM/SYSTEM/MountedDevices",
	"HKLM/SYSTEM/*/Enum", "HKLM/SYSTEM/*/Control/DeviceClasses",
	"HKLM/SOFTWARE/Microsoft/Windows/CurrentVersion/Explorer/RecentDocs",
	"HKU/*/Software/Microsoft/Windows/CurrentVersion/Explorer/RecentDocs",
	"HKU/*/Software/Microsoft/Windows/CurrentVersion/Explorer/RunMRU",
};

int capture_under(const char *rule, const char *path)
{
	char pre[PATH_MAX];
	size_t n = strlen(path);
	for (size_t cut = n; cut > 0; cut--) {
		if (cut < n && path[cut] != '/')
			continue;
		snprintf(pre, sizeof pre, "%.*s", (int)cut, path);
		if (fnmatch(rule, pre, FNM_CASEFOLD | FNM_PATHNAME) == 0)
			return 1;
	}
	return 0;
}

int capture_excluded(struct rules *r, const char *path)
{
	for (size_t i = 0; i < r->n; i++)
		if (capture_under(r->v[i], path)) {
			r->hits[i]++;
			return 1;
		}
	return 0;
}

/* The summary per top folder ("Program Files", "Windows", ...). */
static void tally(struct capture *c, const char *path, const char *what, json_int_t n)
{
	char top[NAME_MAX + 1];
	snprintf(top, sizeof top, "%.*s", (int)strcspn(path, "/"), path);
	json_t *t = json_object_get(c->tops, top);
	if (!t) {
		t = json_pack("{s:I, s:I, s:I}", "files", (json_int_t)0, "bytes", (json_int_t)0,
			      "tokens", (json_int_t)0);
		json_object_set_new(c->tops, top, t);
	}
	json_object_set_new(t, what, json_integer(json_integer_value(json_object_get(t, what)) + n));
}

/* A finalize check found something (refused unless --force). */
void capture_refuse(struct capture *c, const char *check, const char *what)
{
	json_array_append_new(c->refusals, json_pack("{s:s, s:s}", "check", check, "what", what));
}

static void fail(struct capture *c, const char *what, const char *path, int e)
{
	if (!c->failed)
		cli_error("%s: %s: %s", path, what, strerror(e));
	c->failed = 1;
}

/* B's descriptor, Windows attributes and alternate data streams go with
 * the copy (pack keeps them: the first two as layerfs.* xattrs, streams
 * as user.NAME): as Windows sees them, so an entry of a folder layer that
 * has none gets the one made from its mode here, not from the copy's.
 * A stream the host cannot hold is said, not lost silently. */
static void keep_sd(struct capture *c, const char *path, uint64_t ino, int fd)
{
	static uint8_t v[65536];
	const char *own = geteuid() == 0 ? "trusted.layerfs." : "user.layerfs.";
	char to[64];
	uint8_t *sd;
	size_t len;
	struct lf_attr at;
	if (!lf_union_win_sd(c->b, ino, &sd, &len)) {
		snprintf(to, sizeof to, "%sntfs_acl", own);
		(void)fsetxattr(fd, to, sd, len, 0);
		free(sd);
	}
	if (!lf_union_getattr(c->b, ino, &at)) {
		uint32_t w = lf_union_win_attrib(c->b, &at);
		uint8_t le[4] = { (uint8_t)w, (uint8_t)(w >> 8), (uint8_t)(w >> 16), (uint8_t)(w >> 24) };
		snprintf(to, sizeof to, "%sntfs_attrib", own);
		(void)fsetxattr(fd, to, le, sizeof le, 0);
	}
	char names[8192];
	ssize_t ln = lf_union_listxattr(c->b, ino, names, sizeof names);
	for (ssize_t i = 0; ln > 0 && i < ln; i += (ssize_t)strlen(names + i) + 1) {
		const char *x = names + i;
		if (strncmp(x, "user.", 5) || !strncmp(x, "user.layerfs.", 13))
			continue;
		ssize_t n = lf_union_getxattr(c->b, ino, x, v, sizeof v);
		int e = n < 0 ? (int)-n : fsetxattr(fd, x, v, (size_t)n, 0) < 0 ? errno : 0;
		if (e)
			fprintf(stderr, "layerctl: warning: %s: its stream %s is not kept: %s\n",
				path, x + 5, e == ERANGE ? "over 64 KiB" : strerror(e));
	}
}

static int copy_one(struct capture *c, const char *path, uint64_t ino, const struct lf_attr *a);

/* What a file takes where it is stored: a sparse one its blocks. */
static uint64_t stored_size(const struct lf_attr *a)
{
	return a->alloc < a->size ? a->alloc : a->size;
}

/* Bytes free in the staging folder's file system (UINT64_MAX: unknown). */
static uint64_t room_left(const struct capture *c)
{
	struct statvfs sv;
	return fstatvfs(c->stage, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : UINT64_MAX;
}

static const char *linked_to(const struct capture *c, uint64_t ino)
{
	for (const struct linked *l = c->links[ino % LINK_SLOTS]; l; l = l->next)
		if (l->ino == ino)
			return l->path;
	return NULL;
}

static int link_add(struct capture *c, uint64_t ino, const char *path)
{
	struct linked *l = malloc(sizeof *l + strlen(path) + 1);
	if (!l)
		return -ENOMEM;
	l->ino = ino;
	strcpy(l->path, path);
	l->next = c->links[ino % LINK_SLOTS];
	c->links[ino % LINK_SLOTS] = l;
	return 0;
}

static void links_free(struct capture *c)
{
	for (size_t i = 0; i < LINK_SLOTS; i++)
		for (struct linked *l = c->links[i], *next; l; l = next) {
			next = l->next;
			free(l);
		}
}

/* B's node at path (a reference the caller forgets), or -errno. */
static int b_lookup(struct capture *c, const char *path, struct lf_attr *out)
{
	char part[PATH_MAX];
	uint64_t at = LF_UNION_ROOT;
	int held = 0;
	for (const char *p = path; *p;) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		snprintf(part, sizeof part, "%.*s", (int)n, p);
		int rc = lf_union_lookup(c->b, at, part, out);
		if (held)
			lf_union_forget(c->b, at, 1);
		if (rc)
			return rc;
		at = out->ino;
		held = 1;
		p += n + (end != NULL);
	}
	return held ? 0 : -EINVAL;
}

/* The staging folder at dir (B's spelling), made where missing: each
 * folder made carries B's descriptor, attributes and streams, since the
 * layer's copy is what the union shows over the folder below. An fd. */
static int stage_folder(struct capture *c, const char *dir)
{
	int fd = dup(c->stage);
	char sub[PATH_MAX];
	for (const char *p = dir; fd >= 0 && *p;) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		snprintf(sub, sizeof sub, "%.*s", (int)n, p);
		int made = mkdirat(fd, sub, 0755) == 0;
		int next = made || errno == EEXIST
			? openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
		int e = errno;
		close(fd);
		fd = next;
		if (fd < 0)
			return -e;
		struct lf_attr ba;
		snprintf(sub, sizeof sub, "%.*s", (int)(p + n - dir), dir);
		if (made && !b_lookup(c, sub, &ba)) {
			keep_sd(c, sub, ba.ino, fd);
			lf_union_forget(c->b, ba.ino, 1);
		}
		p += n + (end != NULL);
	}
	return fd < 0 ? -errno : fd;
}

/* The staging folder's parent of path, made: an fd, and the last name. */
int capture_stage_dir(struct capture *c, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	*name = slash ? slash + 1 : path;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 0, path);
	return stage_folder(c, dir);
}

struct kids { char **v; size_t n, cap; };

static int kid(void *ctx, const char *name, const struct lf_attr *a, uint64_t next)
{
	(void)a;
	(void)next;
	struct kids *k = ctx;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		char **v = realloc(k->v, cap * sizeof *v);
		if (!v)
			return 1;
		k->v = v;
		k->cap = cap;
	}
	return !(k->v[k->n++] = strdup(name));
}

/* B's file, link or whole folder at path into the staging folder. */
static int copy_one(struct capture *c, const char *path, uint64_t ino, const struct lf_attr *a)
{
	const char *name;
	int dfd = capture_stage_dir(c, path, &name);
	if (dfd < 0)
		return dfd;
	int rc = 0;
	if (S_ISDIR(a->mode)) {
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			rc = -errno;
		int fd = rc ? -1 : openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			keep_sd(c, path, ino, fd);
			close(fd);
		}
		struct kids k = {0};
		if (!rc)
			rc = lf_union_readdir(c->b, ino, 0, 0, kid, &k);
		for (size_t i = 0; !rc && i < k.n; i++) {
			char sub[PATH_MAX];
			struct lf_attr sa;
			snprintf(sub, sizeof sub, "%s/%s", path, k.v[i]);
			if (capture_excluded(&c->files, sub) || lf_union_lookup(c->b, ino, k.v[i], &sa))
				continue;
			rc = copy_one(c, sub, sa.ino, &sa);
			lf_union_forget(c->b, sa.ino, 1);
		}
		for (size_t i = 0; i < k.n; i++)
			free(k.v[i]);
		free(k.v);
	} else if (S_ISLNK(a->mode)) {
		char target[4096];
		ssize_t n = lf_union_readlink(c->b, ino, target, sizeof target);
		rc = n < 0 ? (int)n : symlinkat(target, dfd, name) < 0 ? -errno : 0;
		/* its reparse data as B has it (a junction stays one; pack
		 * reads it back), where root may keep it on a link */
		static uint8_t rp[16384];
		ssize_t rn = rc || geteuid() ? -1
			: lf_union_getxattr(c->b, ino, "system.ntfs_reparse_data", rp, sizeof rp);
		char at[64 + NAME_MAX];
		snprintf(at, sizeof at, "/proc/self/fd/%d/%s", dfd, name);
		if (rn > 0)
			(void)lsetxattr(at, "trusted.layerfs.ntfs_reparse", rp, (size_t)rn, 0);
		uint8_t *sd;
		size_t sdlen;
		if (!rc && !geteuid() && !lf_union_win_sd(c->b, ino, &sd, &sdlen)) {
			(void)lsetxattr(at, "trusted.layerfs.ntfs_acl", sd, sdlen, 0);
			free(sd);
		}
	} else if (S_ISREG(a->mode) && a->nlink > 1 && linked_to(c, ino)) {
		const char *first = linked_to(c, ino);
		rc = linkat(c->stage, first, dfd, name, 0) < 0 ? -errno : 0;
		c->nlinks += !rc;
	} else if (S_ISREG(a->mode) && stored_size(a) > room_left(c)) {
		/* said now, not after minutes of copying */
		cli_error("%s: %llu bytes, more than the %llu free where the capture is staged",
			  path, (unsigned long long)stored_size(a), (unsigned long long)room_left(c));
		c->failed = 1;
		rc = -ENOSPC;
	} else if (S_ISREG(a->mode)) {
		struct lf_ufile *in = NULL;
		int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		rc = out < 0 ? -errno : lf_union_open_file(c->b, ino, O_RDONLY, &in);
		static char buf[1 << 20];
		/* only where B has data: its holes stay holes in the staged
		 * copy (pack keeps them), and are never read */
		uint64_t end = 0;
		for (uint64_t off = 0; !rc && off < a->size;) {
			int r = off < end ? 1 : lf_union_next_data(c->b, in, &off, a->size, &end);
			if (r <= 0) {
				rc = r;
				break;
			}
			size_t want = end - off < sizeof buf ? (size_t)(end - off) : sizeof buf;
			ssize_t n = lf_union_pread(c->b, in, buf, want, off);
			if (n <= 0) {
				rc = (int)n;
				break;
			}
			if (pwrite(out, buf, (size_t)n, (off_t)off) != n)
				rc = -errno;
			off += (uint64_t)n;
		}
		if (!rc && ftruncate(out, (off_t)a->size) < 0)
			rc = -errno;
		if (in)
			lf_union_release(c->b, in);
		if (!rc) {
			keep_sd(c, path, ino, out);
			struct timespec t[2] = { a->atime, a->mtime };
			futimens(out, t);
			c->nfiles++;
			c->bytes += a->size;
			tally(c, path, "files", 1);
			tally(c, path, "bytes", (json_int_t)a->size);
			if (a->nlink > 1)
				rc = link_add(c, ino, path);
		}
		if (out >= 0)
			close(out);
	}
	close(dfd);
	return rc;
}

/* A delete token for what B lost. */
static int token(struct capture *c, const char *path)
{
	const char *name;
	int dfd = capture_stage_dir(c, path, &name);
	if (dfd < 0)
		return dfd;
	char tok[NAME_MAX + 8];
	snprintf(tok, sizeof tok, "%s%s", LF_WHITEOUT_PREFIX, name);
	int fd = openat(dfd, tok, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	close(dfd);
	c->ntokens += !rc;
	if (!rc)
		tally(c, path, "tokens", 1);
	return rc;
}

static int change(void *ctx, char what, const char *path, const char *why, const struct lf_attr *a)
{
	struct capture *c = ctx;
	if (c->failed)
		return 1;
	if (capture_excluded(&c->files, path))
		return 0;
	/* a name Windows forbids (made on a plain mount) cannot go in a
	 * layer: left out and said, or refused with --strict */
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *bad = what != '-' ? lf_name_forbidden(base) : NULL;
	if (bad && c->strict) {
		cli_error("%s: the name has %s (--strict)", path, bad);
		c->failed = 1;
		return 1;
	}
	if (bad) {
		fprintf(stderr, "layerctl: warning: %s: left out: the name has %s (--strict "
			"refuses)\n", path, bad);
		c->nskipped++;
		return 0;
	}
	char place[512];
	int rc = 0;
	int hive = what != '-' && S_ISREG(a->mode) && lf_hive_place_of(path, place, sizeof place);
	/* finalize: an app layer that deletes OS files or shadows the OS's
	 * own binaries breaks the OS under it */
	if (what == '-')
		capture_refuse(c, "deletes-os-file", path);
	else if (what == '~' && !hive && (capture_under("Windows/System32", path) ||
					  capture_under("Windows/SysWOW64", path) ||
					  capture_under("Windows/WinSxS", path)))
		capture_refuse(c, "shadows-os-file", path);
	if (hive) {
		rc = capture_hive_fragment(c, path, place);
	} else if (what == '-') {
		rc = token(c, path);
	} else if (what == 'd') {
		/* a folder's own descriptor, attributes or streams: the folder
		 * alone (made with B's), what is in it is compared on its own */
		int fd = stage_folder(c, path);
		rc = fd < 0 ? fd : 0;
		if (fd >= 0)
			close(fd);
	} else {
		/* respelled in another case (Windows' rename): the old name's
		 * token, so that the layer's spelling shows, and B's whole */
		if (what == '~' && strstr(why, "spelling"))
			rc = token(c, path);
		if (!rc)
			rc = copy_one(c, path, a->ino, a);
	}
	if (rc)
		fail(c, "cannot capture it", path, -rc);
	return c->failed;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void capture_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl capture [--json] [--no-default-exclusions] [--exclude RULE]...\n"
		"                        (--before A --after B | --session UPPER --layer SPEC...) OUT\n"
		"\n"
		"Make an app layer OUT (a dynamic VHD, as pack makes) of what B has that A\n"
		"has not: A and B are each a layer, a disk or a folder, or LAYER:LAYER:...\n"
		"a stack (leftmost highest), e.g. a VM's disk before and after an install.\n"
		"New and changed files go in with their Windows descriptors, attributes\n"
		"and streams (a file of several names once, its names hard links); what B lost\n"
		"becomes a delete token; each registry hive becomes a fragment: only the\n"
		"keys and values that differ, .wh. markers for deleted ones. Mounted over\n"
		"A, OUT shows B ('layerctl diff B OUT:A' says nothing).\n"
		"\n"
		"--session UPPER --layer SPEC...: a packaging session, the personalization\n"
		"layer of a mount in which the app was installed (UPPER), against the\n"
		"stack below it (the --layer SPECs, as layerfs takes them). Its hive\n"
		"copies become fragments; its working folder and lock stay out, and so\n"
		"does the packaging account's own profile (Users/ACCOUNT: her NTUSER.DAT,\n"
		"desktop, AppData), ACCOUNT taken from a layerd layer's place\n"
		"(REPO/Users/ACCOUNT/LAYER) or from --account.\n"
		"A hive of the layers below left dirty is read with its transaction logs\n"
		"on both sides, as a session reads it (said on stderr, and in --json).\n"
		"\n"
		"Windows' noise is left out (pagefile, hiberfil, $Recycle.Bin, System\n"
		"Volume Information, Windows/Temp, Prefetch, Logs, event logs, update\n"
		"downloads, users' Temp, the search index, Defender's data; registry: bam,\n"
		"MountedDevices, Enum, DeviceClasses, MRU lists). Rules are paths from the\n"
		"drive's root or HKLM/... and HKU/... keys, case ignored, '*' one part, a\n"
		"rule covering what is below it.\n"
		"Finalize checks refuse a capture, listing what they found: reboot work\n"
		"left pending (PendingFileRenameOperations, RunOnce values), files deleted\n"
		"from below (delete tokens would hide OS files), OS binaries shadowed\n"
		"(changed files in Windows/System32, SysWOW64, WinSxS). A hive left dirty\n"
		"(a write Windows did not finish) without its .LOG1/.LOG2 fails it, even\n"
		"with --force: what it holds is not known.\n"
		"  --force                   capture anyway\n"
		"  --exclude RULE            leave RULE out too (repeatable)\n"
		"  --account NAME            --session: the packaging account (its profile\n"
		"                            Users/NAME is left out)\n"
		"  --keep-profile            --session: capture the account's profile too\n"
		"  --strict                  refuse a name Windows forbids (\\ : * ? \" < > |,\n"
		"                            a trailing dot or space, CON...); by default\n"
		"                            each is left out and said\n"
		"  --no-default-exclusions   only the --exclude rules\n"
		"  --parent PREV             OUT is a new revision of the layer disk PREV,\n"
		"                            written as a differencing VHD whose parent is\n"
		"                            PREV (only the sectors that differ are stored;\n"
		"                            PREV stays where it is, as OUT's parent). The\n"
		"                            capture must be the whole revision: B holds\n"
		"                            PREV, A does not (--session: PREV, one of the\n"
		"                            --layer's, is left out of A)\n"
		"  --repo REPO --name NAME   add OUT to REPO as the next revision of layer\n"
		"                            NAME (a new app layer if there is none)\n"
		"  --json                    the summary as JSON (files, bytes, links, tokens,\n"
		"                            keys, values, markers, per top folder, what each\n"
		"                            rule kept out)\n"
		"  -q, --quiet               no progress bar (it shows only when stderr is a\n"
		"                            terminal)\n"
		"\n"
		"Exit status: 0, 1 on failure (nothing is left at OUT), 2 on a usage error.\n");
}

/* Is the --layer SPEC (PATH[,options]) the file at path? */
static int same_layer(const char *spec, const char *path)
{
	char file[PATH_MAX];
	snprintf(file, sizeof file, "%.*s", (int)strcspn(spec, ","), spec);
	struct stat a, b;
	return stat(file, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* The account a layerd session's personalization layer belongs to: its
 * folder is REPO/Users/ACCOUNT/LAYER. NULL when UPPER is not laid out so. */
static const char *session_account(const char *upper)
{
	static char name[NAME_MAX + 1];
	char real[PATH_MAX];
	if (!realpath(upper, real))
		return NULL;
	char *last = strrchr(real, '/');
	if (!last || last == real)
		return NULL;
	*last = 0;
	char *acct = strrchr(real, '/');
	if (!acct || acct == real)
		return NULL;
	*acct = 0;
	const char *users = strrchr(real, '/');
	if (!users || strcmp(users + 1, "Users") || strlen(acct + 1) > NAME_MAX)
		return NULL;
	snprintf(name, sizeof name, "%s", acct + 1);
	return name;
}

static void add_rules(struct rules *r, const char *const *v, size_t n)
{
	const char **nv = realloc(r->v, (r->n + n) * sizeof *nv);
	long *nh = realloc(r->hits, (r->n + n) * sizeof *nh);
	if (nv)
		r->v = nv;
	if (nh)
		r->hits = nh;
	for (size_t i = 0; nv && nh && i < n; i++) {
		r->v[r->n] = v[i];
		r->hits[r->n++] = 0;
	}
}

static json_t *rules_json(const struct rules *r)
{
	json_t *o = json_object();
	for (size_t i = 0; i < r->n; i++)
		if (r->hits[i])
			json_object_set_new(o, r->v[i], json_integer(r->hits[i]));
	return o;
}

int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "before", required_argument, NULL, 'a' }, { "after", required_argument, NULL, 'b' },
		{ "session", required_argument, NULL, 's' }, { "layer", required_argument, NULL, 'l' },
		{ "repo", required_argument, NULL, 'R' }, { "name", required_argument, NULL, 'n' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "no-default-exclusions", no_argument, NULL, 'N' },
		{ "force", no_argument, NULL, 'f' }, { "quiet", no_argument, NULL, 'q' },
		{ "parent", required_argument, NULL, 'P' },
		{ "account", required_argument, NULL, 'u' },
		{ "keep-profile", no_argument, NULL, 'K' },
		{ "strict", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *before = NULL, *after = NULL, *session = NULL, *repo = NULL, *name = NULL;
	const char *parent = NULL, *account = NULL;
	int keep_profile = 0, strict = 0;
	const char *layers[64];
	int nlayers = 0;
	const char *extra[64];
	int nextra = 0, json = 0, defaults = 1, force = 0, quiet = 0, c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "hq", opts)) != -1) {
		switch (c) {
		case 'a': before = optarg; break;
		case 'b': after = optarg; break;
		case 's': session = optarg; break;
		case 'R': repo = optarg; break;
		case 'n': name = optarg; break;
		case 'l':
			if (nlayers == 64)
				return cli_usage_error("capture", "too many --layer");
			layers[nlayers++] = optarg;
			break;
		case 'x':
			if (nextra == 64)
				return cli_usage_error("capture", "too many --exclude");
			extra[nextra++] = optarg;
			break;
		case 'N': defaults = 0; break;
		case 'f': force = 1; break;
		case 'q': quiet = 1; break;
		case 'P': parent = optarg; break;
		case 'u': account = optarg; break;
		case 'K': keep_profile = 1; break;
		case 'S': strict = 1; break;
		case 'j': json = 1; break;
		case 'h': capture_usage(stdout); return EXIT_OK;
		default: return cli_bad_option("capture");
		}
	}
	if (argc - optind != 1 || (session ? before || after || !nlayers
					   : !before || !after || nlayers))
		return cli_usage_error("capture", "needs --before A --after B, or --session UPPER "
				       "--layer SPEC..., and OUT");
	if (!repo != !name)
		return cli_usage_error("capture", "--repo and --name go together");
	const char *out = argv[optind];
	struct capture cap = { .stage = -1, .refusals = json_array(), .tops = json_object(),
			       .dirty = json_array(), .json = json, .strict = strict };
	if (defaults) {
		add_rules(&cap.files, default_files, sizeof default_files / sizeof *default_files);
		add_rules(&cap.keys, default_keys, sizeof default_keys / sizeof *default_keys);
	}
	/* the packaging account's own profile (her NTUSER.DAT, desktop,
	 * AppData) is hers, not the app's: left out unless kept */
	char profile[NAME_MAX + 8] = "";
	if (session && !keep_profile && (account || (account = session_account(session)))) {
		if (!*account || strchr(account, '/') || strlen(account) > NAME_MAX)
			return cli_usage_error("capture", "--account: a user name");
		snprintf(profile, sizeof profile, "Users/%s", account);
		const char *one[1] = { profile };
		add_rules(&cap.files, one, 1);
	}
	for (int i = 0; i < nextra; i++) {
		const char *one[1] = { extra[i] };
		add_rules(!strncasecmp(extra[i], "HK", 2) ? &cap.keys : &cap.files, one, 1);
	}
	struct lf_union_opts uo = cli_hive_opts();
	struct lf_err err = {0};
	const char *sides[2] = { before, after };
	struct lf_union **us[2] = { &cap.a, &cap.b };
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++) {
		struct lf_stack st = {0};
		if (session) {
			/* a packaging session: the stack below, and it with her
			 * personalization layer on top (read-only here; the union
			 * never shows its working folder or lock) */
			for (int k = 0; !rc && k < nlayers; k++)
				if (i == 1 || !parent || !same_layer(layers[k], parent))
					rc = lf_stack_add(&st, layers[k], &err);
			if (!rc && i == 1) {
				char spec[PATH_MAX + 32];
				snprintf(spec, sizeof spec, "%s,type=app,prio=1000000000", session);
				rc = lf_stack_add(&st, spec, &err);
			}
		} else {
			rc = lf_stack_add_lowerdir(&st, sides[i], &err);
		}
		rc = rc || lf_stack_sort(&st, &err) || lf_union_open(&st, &uo, us[i], &err);
		lf_stack_free(&st);
		if (rc)
			cli_error("%s", err.msg);
	}
	if (session)
		before = layers[0];
	snprintf(cap.stage_path, sizeof cap.stage_path, "%s.capture.XXXXXX", out);
	if (!rc && !mkdtemp(cap.stage_path)) {
		cli_error("%s: cannot make a work folder beside it: %s", out, strerror(errno));
		rc = 1;
	}
	if (!rc && (cap.stage = open(cap.stage_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		rc = 1;
	if (!rc)                      /* the layer's root is shown over B's */
		keep_sd(&cap, "", LF_UNION_ROOT, cap.stage);
	struct cli_bar bar;
	cli_bar_init(&bar, quiet);
	if (!rc) {
		struct lf_diff_opts dopts = { .progress = cli_bar_show, .progress_ctx = &bar };
		int d = lf_union_diff(cap.a, cap.b, &dopts, change, &cap);
		if (d && !cap.failed)
			cli_error("%s: %s", before, strerror(-d));
		rc = d || cap.failed;
	}
	/* finalize checks: each finding listed, the capture refused unless --force */
	size_t nref = json_array_size(cap.refusals);
	if (!rc && nref && !force) {
		size_t i;
		json_t *f;
		if (json)
			cli_print_json(json_pack("{s:b, s:O}", "ok", 0, "refused", cap.refusals));
		else
			json_array_foreach(cap.refusals, i, f)
				printf("refused: %s: %s\n", json_string_value(json_object_get(f, "check")),
				       json_string_value(json_object_get(f, "what")));
		cli_error("%s: not made: %zu finalize check%s failed (listed; --force captures anyway)",
			  out, nref, nref == 1 ? "" : "s");
		rc = 1;
		nref = 0;           /* said */
	}
	struct lf_pack_stats ps = {0};
	struct lf_pack_opts po = { .format = LF_PACK_VHD_DYNAMIC, .label = "capture", .note = cli_note,
				   .progress = cli_bar_show, .progress_ctx = &bar };
	if (!rc && (parent ? lf_pack_revision(cap.stage_path, parent, out, &po, &ps, &err)
			   : lf_pack(cap.stage_path, out, &po, &ps, &err))) {
		cli_error("%s", err.msg);
		rc = 1;
	}
	cli_bar_end(&bar);
	if (cap.stage >= 0)
		close(cap.stage);
	links_free(&cap);
	if (cap.stage_path[0] && access(cap.stage_path, F_OK) == 0)
		nftw(cap.stage_path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (!rc && json) {
		cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:O, s:I, s:I, s:I, s:I, s:{s:o, s:o}, s:O, s:O, s:I, s:s?}",
			"layer", out, "files", (json_int_t)cap.nfiles, "bytes", (json_int_t)cap.bytes,
			"links", (json_int_t)cap.nlinks, "folders", cap.tops,
			"tokens", (json_int_t)cap.ntokens, "keys", (json_int_t)cap.nkeys,
			"values", (json_int_t)cap.nvalues, "markers", (json_int_t)cap.nmarkers,
			"excluded", "files", rules_json(&cap.files), "registry", rules_json(&cap.keys),
			"forced", cap.refusals, "dirty_hives", cap.dirty, "left_out", (json_int_t)cap.nskipped,
			"profile_left_out", profile[0] ? profile : NULL));
	} else if (!rc) {
		printf("%s: %ld files (%llu bytes), %ld more names of them, %ld delete tokens; "
		       "registry: %ld keys, %ld values, %ld markers\n", out, cap.nfiles,
		       (unsigned long long)cap.bytes, cap.nlinks, cap.ntokens, cap.nkeys,
		       cap.nvalues, cap.nmarkers);
		const char *top;
		json_t *t;
		json_object_foreach(cap.tops, top, t)
			printf("  %s: %lld files (%lld bytes), %lld delete tokens\n", top,
			       (long long)json_integer_value(json_object_get(t, "files")),
			       (long long)json_integer_value(json_object_get(t, "bytes")),
			       (long long)json_integer_value(json_object_get(t, "tokens")));
		for (size_t i = 0; i < cap.files.n; i++)
			if (cap.files.hits[i])
				printf("  left out by %s%s: %ld\n", cap.files.v[i],
				       cap.files.v[i] == profile ? " (the packaging account's profile; "
				       "--keep-profile keeps it)" : "", cap.files.hits[i]);
		for (size_t i = 0; i < cap.keys.n; i++)
			if (cap.keys.hits[i])
				printf("  left out by %s: %ld\n", cap.keys.v[i], cap.keys.hits[i]);
	}
	lf_union_close(cap.a);
	lf_union_close(cap.b);
	if (!rc && repo) {
		/* into the repository: the next revision of NAME, or a new layer
		 * built on the repository's OS layer (repo add says which) */
		char *av[] = { "repo", "add", (char *)repo, (char *)out, "--type", "app", "--name",
			       (char *)name, NULL };
		rc = cmd_repo(8, av) != EXIT_OK;
	}
	json_decref(cap.refusals);
	json_decref(cap.tops);
	json_decref(cap.dirty);
	free(cap.files.v);
	free(cap.files.hits);
	free(cap.keys.v);
	free(cap.keys.hits);
	return rc ? EXIT_FAIL : EXIT_OK;
}
