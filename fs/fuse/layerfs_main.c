/* layerfs: mount a stack of layers as one merged drive, read-only or with
 * a writable personalization layer on top.
 * Three ways to say it:
 *   layerfs [OPTIONS] --layer SPEC [--layer SPEC...] MOUNTPOINT
 *   layerfs [OPTIONS] -o lowerdir=A:B:C MOUNTPOINT            (overlayfs)
 *   layerfs SOURCE MOUNTPOINT -o lowerdir=A:B[,...]           (mount helper)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/heap.h"
#include "layerfs/fuse_ll.h"
#include "layerfs/fuse_serve.h"
#include "layerfs/oci.h"
#include "layerfs/regcompose.h"
#include "layerfs/union.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: layerfs [OPTIONS] --layer SPEC [--layer SPEC]... [--upper DIR] MOUNTPOINT\n"
		"       layerfs [OPTIONS] -o lowerdir=LAYER[:LAYER]...[,upperdir=DIR] MOUNTPOINT\n"
		"       layerfs SOURCE MOUNTPOINT -o lowerdir=LAYER[:LAYER]...[,OPTION]...\n"
		"\n"
		"Mount layers as one merged Windows drive. A LAYER is a .vhd, a .vhdx,\n"
		"a raw NTFS image, a directory, or a layer revision in an OCI registry,\n"
		"oci://HOST[:PORT]/NAME[:TAG|@DIGEST] (pushed by 'layerctl push'): its\n"
		"chunks are fetched as reads need them. Without --upper the drive is read-only;\n"
		"with it, every change goes into DIR, the user's personalization layer.\n"
		"\n"
		"  SPEC is PATH[,name=NAME][,type=os|platform|app][,prio=N]. The OS layer\n"
		"  is always lowest; platform and app layers stack by prio (default: the\n"
		"  order given, later = higher). NAME defaults to the file name without\n"
		"  extension (a lowerdir= folder's own name); when that is taken by a\n"
		"  layer given before, it is NAME#K, K its place in the list (1: the first\n"
		"  given), as --priority NAME#K=N can name it.\n"
		"\n"
		"Merging: names are case-insensitive; a merged folder keeps the spelling of\n"
		"the lowest layer of the run of layers that show it (as Windows keeps the\n"
		"spelling of whoever made it first);\n"
		"folders merge, anything else is won by the highest layer; .wh.NAME in a\n"
		"layer hides NAME below it, .wh..wh..opq hides everything below in its\n"
		"folder. NTFS metadata shows as system.ntfs_* xattrs, streams as user.*.\n"
		"\n"
		"Writing: a file from a read-only layer is copied into DIR on its first\n"
		"change (to a temporary in DIR/.wh..wh..work, then renamed into place);\n"
		"deleting what a lower layer has leaves a token .wh.NAME in DIR; a folder\n"
		"made where a deleted one was gets .wh..wh..opq. Renaming a folder that\n"
		"has parts in a read-only layer fails with EXDEV (mv then copies it).\n"
		"\n"
		"Options:\n"
		"  -l, --layer SPEC         add a layer\n"
		"  -u, --upper DIR          the writable personalization layer (a folder)\n"
		"      --workdir DIR        where copy-up temporaries go (default:\n"
		"                           DIR/.wh..wh..work); same file system as DIR\n"
		"      --priority NAME=N    give layer NAME priority N\n"
		"  -p, --parent FILE        the parent of a differencing disk (repeatable)\n"
		"      --cache DIR          where chunks of oci:// layers are kept, shared\n"
		"                           by every mount and layerd (default\n"
		"                           /var/cache/layerfs; made root's and 0700)\n"
		"      --cache-size SIZE    its bound (default 10G; K, M, G, T), the least\n"
		"                           recently used chunks evicted past it\n"
		"      --prefetch           fetch the rest of every oci:// layer in the\n"
		"                           background\n"
		"      --registry-auth FILE registry credentials, as container tools keep\n"
		"                           them (auth.json; root's, 0600)\n"
		"      --registry-ca FILE   the CA a registry's TLS certificate is checked\n"
		"                           against (default: the system's)\n"
		"  -o OPTIONS               mount options: lowerdir=A:B:C (leftmost highest,\n"
		"                           as overlayfs), upperdir=DIR, workdir=DIR,\n"
		"                           FUSE options (allow_other,\n"
		"                           default_permissions, fsname=, max_read=...);\n"
		"                           mount(8) options such as dev, suid, rw, _netdev\n"
		"                           are accepted and ignored\n"
		"  -f                       stay in the foreground\n"
		"  -s                       serve on one thread\n"
		"  -d                       debug: foreground, FUSE requests on stderr\n"
		"      --access windows|posix  (-o access=) windows (the default): an entry\n"
		"                           with a Windows security descriptor and no Linux\n"
		"                           metadata ($LX*) shows owner root, owner bits\n"
		"                           what SYSTEM and Administrators may do, group\n"
		"                           and other bits what BUILTIN\\Users may, so a\n"
		"                           local user gets a standard user's rights;\n"
		"                           others keep their POSIX owner and mode.\n"
		"                           posix: descriptors are not looked at.\n"
		"                           Windows' access refuses (EINVAL) names Windows\n"
		"                           programs cannot use: \\ : * ? \" < > |, control\n"
		"                           characters, a trailing dot or space, CON,\n"
		"                           PRN, AUX, NUL, COM1-9, LPT1-9 (ntfs-3g's\n"
		"                           windows_names); -o windows_names asks it of a\n"
		"                           posix mount. Names beginning .wh. (the union's\n"
		"                           own) are refused on every mount.\n"
		"                           (A layerd session checks each request against\n"
		"                           the descriptors for the user's own token.)\n"
		"  -t, --timeout SECONDS    how long the kernel may cache names and\n"
		"                           attributes (default 86400: every change comes\n"
		"                           through the mount, or tells the kernel)\n"
		"  -h, --help               this help\n"
		"  -V, --version            the version\n"
		"\n"
		"Run as root, layerfs mounts with allow_other and default_permissions, so\n"
		"every user can use the drive as the files' modes allow, and new files\n"
		"belong to the user who makes them (-o noallow_other and\n"
		"-o nodefault_permissions turn these off).\n"
		"Unmount with 'fusermount3 -u MOUNTPOINT' or 'umount MOUNTPOINT'; SIGTERM\n"
		"unmounts cleanly. In /etc/fstab:\n"
		"  none  /mnt/c  fuse.layerfs  lowerdir=/srv/app.vhd:/srv/os.vhd,nofail  0 0\n"
		"\n"
		"Exit status: 0 after a clean unmount, 1 on failure, 2 on a usage error.\n");
}

/* mount(8) options that mean nothing to the union. */
static int ignorable(const char *o)
{
	static const char *const names[] = {
		"rw", "ro", "dev", "nodev", "suid", "nosuid", "exec", "noexec",
		"auto", "noauto", "user", "nouser", "users", "owner", "group",
		"_netdev", "nofail", "defaults", "atime", "noatime", "relatime",
		"norelatime", "strictatime", "diratime", "nodiratime", "async",
		"sync", "dirsync", "lazytime", "nolazytime", "silent", "loud",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(o, names[i]))
			return 1;
	return !strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8);
}

/* Options libfuse takes. */
static int fuse_option(const char *o)
{
	static const char *const names[] = {
		"allow_other", "allow_root", "default_permissions", "auto_unmount",
		"fsname=", "subtype=", "max_read=", "blkdev", "blksize=",
		"max_threads=", "max_idle_threads=",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);
		if (names[i][n - 1] == '=' ? !strncmp(o, names[i], n) : !strcmp(o, names[i]))
			return 1;
	}
	return 0;
}

struct cmdline {
	struct lf_stack stack;
	const char *upper, *workdir;
	char fuse_opts[4096];
	int allow_other, default_permissions, fsname_given;
	int no_allow_other, no_default_permissions;
	int access_posix;         /* --access posix: descriptors are not looked at */
	int windows_names;        /* -o windows_names: Windows' names on a posix mount too */
	struct lf_oci_config oci; /* oci:// layers: cache, credentials */
};

static void add_fuse_opt(struct cmdline *c, const char *o)
{
	size_t n = strlen(c->fuse_opts);
	snprintf(c->fuse_opts + n, sizeof c->fuse_opts - n, "%s%s", n ? "," : "", o);
}

/* -o values live as long as the program (main's strings may be gone). */
static const char *keep_value(const char *v)
{
	static char *kept[8];
	static int n;
	if (n == 8)
		return NULL;
	return kept[n++] = strdup(v);
}

/* One -o list. Returns 0, or 2 after a message. */
static int parse_o(struct cmdline *c, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return 1;
	int rc = 0;
	for (char *o = strtok_r(copy, ",", &save); o && !rc; o = strtok_r(NULL, ",", &save)) {
		struct lf_err err = {0};
		if (!strncmp(o, "lowerdir=", 9)) {
			if (lf_stack_add_lowerdir(&c->stack, o + 9, &err)) {
				fprintf(stderr, "layerfs: %s\n", err.msg);
				rc = 2;
			}
		} else if (!strncmp(o, "upperdir=", 9) || !strncmp(o, "workdir=", 8)) {
			/* kept in the list's copy: see keep_value */
			const char **to = o[0] == 'u' ? &c->upper : &c->workdir;
			*to = keep_value(o + (o[0] == 'u' ? 9 : 8));
			if (!*to || !**to) {
				fprintf(stderr, "layerfs: %s: a folder is needed\n", o);
				rc = 2;
			}
		} else if (!strcmp(o, "access=posix") || !strcmp(o, "access=windows")) {
			c->access_posix = !strcmp(o, "access=posix");
		} else if (!strcmp(o, "windows_names")) {
			c->windows_names = 1;
		} else if (!strcmp(o, "noallow_other") || !strcmp(o, "nodefault_permissions")) {
			c->no_allow_other |= !strcmp(o, "noallow_other");
			c->no_default_permissions |= !strcmp(o, "nodefault_permissions");
		} else if (fuse_option(o)) {
			c->allow_other |= !strcmp(o, "allow_other");
			c->default_permissions |= !strcmp(o, "default_permissions");
			c->fsname_given |= !strncmp(o, "fsname=", 7);
			add_fuse_opt(c, o);
		} else if (!ignorable(o)) {
			fprintf(stderr, "layerfs: unknown mount option '%s'\n", o);
			rc = 2;
		}
	}
	free(copy);
	return rc;
}

/* Parse the command line into c and fo; returns -1 to go on, or an exit
 * status. */
static int parse_args(int argc, char **argv, struct cmdline *c, struct lf_fuse_opts *fo,
		      const char **parents, int *nparents)
{
	static const struct option longopts[] = {
		{ "layer", required_argument, NULL, 'l' },
		{ "upper", required_argument, NULL, 'u' },
		{ "workdir", required_argument, NULL, 'W' },
		{ "priority", required_argument, NULL, 'P' },
		{ "parent", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "access", required_argument, NULL, 'A' },
		{ "cache", required_argument, NULL, 'C' },
		{ "cache-size", required_argument, NULL, 'Z' },
		{ "prefetch", no_argument, NULL, 'F' },
		{ "registry-auth", required_argument, NULL, 'R' },
		{ "registry-ca", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *overrides[64];
	int noverrides = 0, ch, rc;
	struct lf_err err = {0};
	while ((ch = getopt_long(argc, argv, "l:u:p:o:t:fsdhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (lf_stack_add(&c->stack, optarg, &err))
				return fprintf(stderr, "layerfs: %s\n", err.msg), 2;
			break;
		case 'u': c->upper = optarg; break;
		case 'W': c->workdir = optarg; break;
		case 'P':
			if (noverrides == 64)
				return fprintf(stderr, "layerfs: too many --priority\n"), 2;
			overrides[noverrides++] = optarg;
			break;
		case 'p':
			if (*nparents == 32)
				return fprintf(stderr, "layerfs: too many --parent\n"), 2;
			parents[(*nparents)++] = optarg;
			break;
		case 'o':
			if ((rc = parse_o(c, optarg)))
				return rc;
			break;
		case 't': {
			char *end;
			fo->timeout = strtod(optarg, &end);
			if (*end || fo->timeout < 0)
				return fprintf(stderr, "layerfs: bad --timeout '%s'\n", optarg), 2;
			break;
		}
		case 'A':
			if (lf_access_arg("layerfs", optarg, &c->access_posix))
				return 2;
			break;
		case 'C': c->oci.cache_dir = optarg; break;
		case 'Z':
			if (lf_parse_size(optarg, &c->oci.cache_max) || c->oci.cache_max < (1 << 20))
				return fprintf(stderr, "layerfs: bad --cache-size '%s' (a size of "
					       "1M or more: 512M, 20G)\n", optarg), 2;
			break;
		case 'F': c->oci.prefetch = 1; break;
		case 'R': c->oci.auth_file = optarg; break;
		case 'T': c->oci.ca_file = optarg; break;
		case 'f': fo->foreground = 1; break;
		case 's': fo->single_thread = 1; break;
		case 'd': fo->debug = fo->foreground = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("layerfs %s\n", LF_VERSION); return 0;
		default:
			fprintf(stderr, "Try 'layerfs --help'.\n");
			return 2;
		}
	}
	int npos = argc - optind;
	if (npos < 1 || npos > 2) {
		fprintf(stderr, "layerfs: %s\nTry 'layerfs --help'.\n",
			npos < 1 ? "no MOUNTPOINT given" : "too many arguments");
		return 2;
	}
	/* With two, the first is the mount helper's SOURCE, a name only. */
	fo->mountpoint = argv[argc - 1];
	for (int i = 0; i < noverrides; i++)
		if (lf_stack_override(&c->stack, overrides[i], &err))
			return fprintf(stderr, "layerfs: %s\n", err.msg), 2;
	if (c->stack.n == 0) {
		fprintf(stderr, "layerfs: no layers: give --layer or -o lowerdir=\nTry 'layerfs --help'.\n");
		return 2;
	}
	if (lf_stack_sort(&c->stack, &err))
		return fprintf(stderr, "layerfs: %s\n", err.msg), 2;
	if (c->workdir && !c->upper)
		return fprintf(stderr, "layerfs: a work folder without --upper or upperdir=\n"), 2;
	if (c->upper && lf_stack_set_upper(&c->stack, c->upper, c->workdir, &err))
		return fprintf(stderr, "layerfs: %s\n", err.msg), 2;
	return -1;
}

/* Folder layers keep a descriptor per folder they have seen: allow as many
 * as the hard limit does. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	lf_heap_setup();
	struct cmdline c;
	memset(&c, 0, sizeof c);
	struct lf_fuse_opts fo = { .timeout = 86400 };
	const char *parents[32];
	int nparents = 0;
	int rc = parse_args(argc, argv, &c, &fo, parents, &nparents);
	if (rc >= 0) {
		lf_stack_free(&c.stack);
		return rc;
	}
	c.stack.parents = parents;
	c.stack.nparents = nparents;
	lf_oci_configure(&c.oci);
	raise_fd_limit();
	/* The kernel applied the caller's umask already; new files get
	 * exactly the mode it sends. */
	umask(0);

	struct lf_union *u = NULL;
	struct lf_err err = {0};
	/* registry hives show merged from every layer's copy */
	struct lf_union_opts uo = { .prefetch = 1, .stack = lf_reg_stack,
				    .windows_names = !c.access_posix || c.windows_names };
	uo.stacked = lf_hive_patterns(&uo.nstacked);
	if (lf_union_open(&c.stack, &uo, &u, &err)) {
		fprintf(stderr, "layerfs: %s\n", err.msg);
		lf_stack_free(&c.stack);
		return 1;
	}
	if (!c.access_posix && lf_union_set_plain_access(u)) {
		fprintf(stderr, "layerfs: out of memory\n");
		lf_union_close(u);
		lf_stack_free(&c.stack);
		return 1;
	}
	if (!c.upper)
		add_fuse_opt(&c, "ro");
	if (!c.fsname_given)
		add_fuse_opt(&c, "fsname=layerfs");
	add_fuse_opt(&c, "subtype=layerfs");
	if (geteuid() == 0) {
		/* As a local disk: every user, the kernel checking modes. */
		if (!c.allow_other && !c.no_allow_other)
			add_fuse_opt(&c, "allow_other");
		if (!c.default_permissions && !c.no_default_permissions)
			add_fuse_opt(&c, "default_permissions");
	}
	fo.fuse_opts = c.fuse_opts;
	rc = lf_fuse_run(u, &fo);
	lf_union_close(u);
	lf_stack_free(&c.stack);
	return rc;
}
