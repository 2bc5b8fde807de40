/* regfs: the merged registry of a stack of layers (or of hive files) as a
 * file tree. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/heap.h"
#include "layerfs/fuse_reg.h"
#include "layerfs/fuse_serve.h"
#include "layerfs/regcompose.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: regfs [OPTIONS] --layer SPEC [--layer SPEC]... [--upper DIR] MOUNTPOINT\n"
		"       regfs [OPTIONS] --hive ROOT/NAME=FILE [--hive ...]... [--upper DIR] MOUNTPOINT\n"
		"\n"
		"Mount the merged registry of a stack of layers as a file tree:\n"
		"  HKLM/SYSTEM HKLM/SOFTWARE HKLM/SAM HKLM/SECURITY   (Windows/System32/config)\n"
		"  HKU/.DEFAULT                                        (config/DEFAULT)\n"
		"  HKU/USER, HKU/USER_Classes        (Users/USER/NTUSER.DAT, .../UsrClass.dat)\n"
		"Each hive is the OS layer's, with every other layer's fragment of it merged\n"
		"on top by priority (see 'layerctl reg merge'). With --hive, the hives are\n"
		"the files given; naming one ROOT/NAME more than once stacks the files,\n"
		"the first lowest.\n"
		"\n"
		"A key is a folder, a value a file holding the value as text: REG_SZ and\n"
		"REG_EXPAND_SZ as UTF-8 and a newline, REG_DWORD and REG_QWORD in decimal,\n"
		"REG_MULTI_SZ one string a line, other types (or data its type cannot say\n"
		"as text) the raw bytes. The xattr user.reg.type names the type (set it to\n"
		"change the type: the text is read anew as the new type); user.reg.raw\n"
		"holds the exact bytes, up to 64 KiB (Linux's xattr limit: a bigger value\n"
		"gives E2BIG there, and its file has all of it). The default value is '@'. In names, '/', '%%' and\n"
		"control characters are written %%XX; '.', '..' and a value named '@' are\n"
		"escaped whole; a value that has a subkey's name shows as NAME%%v.\n"
		"HKLM/SYSTEM/CurrentControlSet is a link to the set Select\\Current names.\n"
		"\n"
		"Without --upper the tree is read-only. With it, changes (write a value,\n"
		"set its type, mkdir, rmdir, rm, mv) go into the writable layer's fragment\n"
		"of that hive, at the hive's path under DIR (DIR/Windows/System32/config/\n"
		"SOFTWARE; with --hive, DIR/ROOT/NAME), with .wh.NAME markers for what is\n"
		"deleted from a lower layer. A value is set when its file is closed.\n"
		"\n"
		"Options:\n"
		"  -l, --layer SPEC       add a layer (PATH[,name=N][,type=T][,prio=P], as layerfs)\n"
		"      --hive ROOT/NAME=FILE  show hive FILE at ROOT/NAME (HKLM/SOFTWARE)\n"
		"  -u, --upper DIR        the writable layer's folder\n"
		"      --rules FILE       more ;-list values to merge (see 'layerctl reg merge')\n"
		"      --priority NAME=N  give layer NAME priority N\n"
		"  -p, --parent FILE      the parent of a differencing disk (repeatable)\n"
		"  -o OPTIONS             FUSE mount options (allow_other, ...)\n"
		"      --access windows|posix  run as root, windows (the default): keys'\n"
		"                         security descriptors decide, root being SYSTEM\n"
		"                         and anyone else a standard user; the owner bits\n"
		"                         show what Administrators may do, the others what\n"
		"                         a user may. posix: root's mount, modes only.\n"
		"  -f                     stay in the foreground\n"
		"  -s                     serve on one thread\n"
		"  -d                     debug: foreground, FUSE requests on stderr\n"
		"  -h, --help             this help\n"
		"  -V, --version          the version\n"
		"\n"
		"Unmount with 'fusermount3 -u MOUNTPOINT'.\n"
		"Exit status: 0 after a clean unmount, 1 on failure, 2 on a usage error.\n");
}

struct cmdline {
	struct lf_stack stack;
	const char *hives[64];
	int nhives;
	const char *upper, *rules;
	const char *overrides[64];
	int noverrides;
	const char *parents[32];
	int nparents;
	struct lf_regfs_opts fo;
	int access_posix;
};

static int parse_args(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{ "layer", required_argument, NULL, 'l' },
		{ "hive", required_argument, NULL, 'H' },
		{ "upper", required_argument, NULL, 'u' },
		{ "rules", required_argument, NULL, 'R' },
		{ "priority", required_argument, NULL, 'P' },
		{ "parent", required_argument, NULL, 'p' },
		{ "access", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct lf_err err = {0};
	int ch;
	while ((ch = getopt_long(argc, argv, "l:u:p:o:fsdhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (lf_stack_add(&c->stack, optarg, &err))
				return fprintf(stderr, "regfs: %s\n", err.msg), 2;
			break;
		case 'H':
			if (c->nhives == 64 || !strchr(optarg, '='))
				return fprintf(stderr, "regfs: --hive %s: %s\n", optarg,
					       c->nhives == 64 ? "too many" : "ROOT/NAME=FILE wanted"), 2;
			c->hives[c->nhives++] = optarg;
			break;
		case 'u': c->upper = optarg; break;
		case 'R': c->rules = optarg; break;
		case 'P':
			if (c->noverrides == 64)
				return fprintf(stderr, "regfs: too many --priority\n"), 2;
			c->overrides[c->noverrides++] = optarg;
			break;
		case 'p':
			if (c->nparents == 32)
				return fprintf(stderr, "regfs: too many --parent\n"), 2;
			c->parents[c->nparents++] = optarg;
			break;
		case 'o': c->fo.fuse_opts = optarg; break;
		case 'A':
			if (lf_access_arg("regfs", optarg, &c->access_posix))
				return 2;
			break;
		case 'f': c->fo.foreground = 1; break;
		case 's': c->fo.single_thread = 1; break;
		case 'd': c->fo.debug = c->fo.foreground = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("regfs %s\n", LF_VERSION); return 0;
		default:
			fprintf(stderr, "Try 'regfs --help'.\n");
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "regfs: %s\nTry 'regfs --help'.\n",
			argc == optind ? "no MOUNTPOINT given" : "too many arguments");
		return 2;
	}
	c->fo.mountpoint = argv[optind];
	if (!c->stack.n == !c->nhives) {
		fprintf(stderr, "regfs: give --layer or --hive (one kind)\nTry 'regfs --help'.\n");
		return 2;
	}
	for (int i = 0; i < c->noverrides; i++)
		if (lf_stack_override(&c->stack, c->overrides[i], &err))
			return fprintf(stderr, "regfs: %s\n", err.msg), 2;
	if (c->stack.n && lf_stack_sort(&c->stack, &err))
		return fprintf(stderr, "regfs: %s\n", err.msg), 2;
	return -1;
}

/* --hive ROOT/NAME=FILE: the files of one mount, stacked in the order given. */
static int add_hives(struct cmdline *c, struct lf_regview *v, const struct lf_merge *m,
		     struct lf_err *err)
{
	int done[64] = {0};
	for (int i = 0; i < c->nhives; i++) {
		if (done[i])
			continue;
		const char *eq = strchr(c->hives[i], '=');
		size_t ml = (size_t)(eq - c->hives[i]);
		char mount[256];
		snprintf(mount, sizeof mount, "%.*s", (int)ml, c->hives[i]);
		struct lf_hive *base = NULL;
		int rc = 0;
		for (int j = i; j < c->nhives && !rc; j++) {
			if (strncasecmp(c->hives[j], mount, ml) || c->hives[j][ml] != '=')
				continue;
			done[j] = 1;
			struct lf_hive *h;
			rc = lf_hive_load(c->hives[j] + ml + 1, &h, err);
			if (!rc && h->dirty && !h->log_entries)
				fprintf(stderr, "regfs: warning: %s is dirty and has no usable "
					"logs beside it: read as it is\n", c->hives[j] + ml + 1);
			if (!rc && base) {
				rc = lf_hive_merge(base->root, h->root, m);
				if (rc)
					lf_err_set(err, -rc, "%s: cannot merge it", c->hives[j] + ml + 1);
				lf_hive_free(h);
			} else if (!rc) {
				base = h;
			}
		}
		char frag[4096];
		if (!rc && c->upper)
			snprintf(frag, sizeof frag, "%s/%s", c->upper, mount);
		if (!rc)
			rc = lf_regview_add(v, mount, base, c->upper ? frag : NULL, err);
		else
			lf_hive_free(base);
		if (rc)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	lf_heap_setup();
	struct cmdline c;
	memset(&c, 0, sizeof c);
	int rc = parse_args(argc, argv, &c);
	if (rc >= 0) {
		lf_stack_free(&c.stack);
		return rc;
	}
	struct lf_err err = {0};
	struct lf_merge rules = {0}, *m = NULL;
	if (c.rules) {
		if (lf_reg_rules_load(c.rules, &rules, &err)) {
			fprintf(stderr, "regfs: %s\n", err.msg);
			return 2;
		}
		m = &rules;
	}
	/* the daemon leaves the current folder: keep the absolute path */
	char *upper = NULL;
	struct stat st;
	if (c.upper && (!(upper = realpath(c.upper, NULL)) || stat(upper, &st) ||
			!S_ISDIR(st.st_mode))) {
		fprintf(stderr, "regfs: --upper %s: not a folder\n", c.upper);
		free(upper);
		lf_stack_free(&c.stack);
		lf_reg_rules_free(&rules);
		return 1;
	}
	c.upper = upper;
	struct lf_regview *v = NULL;
	struct lf_union *u = NULL;
	rc = lf_regview_new(m, NULL, NULL, &v) ? lf_err_set(&err, ENOMEM, "out of memory") : 0;
	if (!rc && upper) {
		/* fragments below --upper only through its fd, never through
		 * a symlink (regfs may run as root on a user's folder) */
		int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int fr = fd < 0 ? -errno : lf_regview_set_frag_root(v, fd, upper);
		if (fd >= 0)
			close(fd);
		if (fr)
			rc = lf_err_set(&err, -fr, "--upper %s: %s", upper, strerror(-fr));
	}
	if (!rc && c.nhives) {
		rc = add_hives(&c, v, m, &err);
	} else if (!rc) {
		c.stack.parents = c.parents;
		c.stack.nparents = c.nparents;
		rc = lf_union_open(&c.stack, NULL, &u, &err);
		int n = rc ? 0 : lf_regview_add_union(v, u, m, c.upper, NULL, &err);
		if (!rc && n < 0)
			rc = 1;
		else if (!rc && n == 0)
			rc = lf_err_set(&err, ENOENT, "no layer has a registry hive "
					"(Windows/System32/config/..., Users/*/NTUSER.DAT)");
		/* the hives are in memory now; the layers are not needed */
		lf_union_close(u);
	}
	if (rc) {
		fprintf(stderr, "regfs: %s\n", err.msg);
		lf_regview_free(v);
		lf_stack_free(&c.stack);
		lf_reg_rules_free(&rules);
		free(upper);
		return 1;
	}
	if (geteuid() == 0 && !c.access_posix && lf_regview_set_plain_access(v)) {
		fprintf(stderr, "regfs: out of memory\n");
		rc = 1;
	} else {
		rc = lf_regfs_run(v, &c.fo);
	}
	free(upper);
	lf_regview_free(v);
	lf_stack_free(&c.stack);
	lf_reg_rules_free(&rules);
	return rc;
}
