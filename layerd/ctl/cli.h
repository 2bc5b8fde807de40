/* Shared by layerctl's commands. */
#ifndef LAYERCTL_CLI_H
#define LAYERCTL_CLI_H

#include <stdint.h>

#include "layerfs/layer.h"
#include "layerfs/union.h"

/* Exit statuses, as an admin scripts against them. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

extern const char *prog;

/* "layerctl: message" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error: message, a hint to --help, and EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* getopt_long that remembers the option table, with getopt's own words
 * off: a wrong option is said by cli_bad_option (1 line, "did you mean"). */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts);
/* The usage error for the option cli_getopt just refused: unknown (and
 * the nearest real one), or one that needs a value. EXIT_USAGE. */
int cli_bad_option(const char *cmd);
/* The name of names[0..n) nearest to word (a letter or two off, or
 * word a prefix of it), or NULL. */
const char *cli_nearest(const char *word, const char *const *names, int n);

/* "10G", "512M", "4096": bytes; -1 on a bad size. */
int64_t cli_parse_size(const char *s);

/* Open a layer named on the command line, reporting errors. Parents of
 * differencing disks come from --parent options. */
struct lf_layer *cli_open_layer(const char *path, const char *const *parents,
				int nparents);

/* Resolve PATH in the layer, reporting a missing path by name. */
int cli_resolve(struct lf_layer *l, const char *path, struct lf_attr *a);

/* ISO 8601 UTC with nanoseconds. */
void cli_format_time(struct timespec ts, char *out, size_t size);

/* Print a JSON value on stdout, indented, and release it. */
struct json_t;
void cli_print_json(struct json_t *j);

/* A user as --user, --groups G,H,... and --machine M name it. */
struct cli_who {
	const char *user, *machine;
	const char *groups[256];
	int ngroups;
	char host[256];
	char *copy;
	char *unix_names[256];   /* her Unix groups' names (owned) */
	int nunix;
};
/* Her groups as login takes them: her Unix groups (when the account is
 * known here) and the named ones (NULL: none); the machine defaults to
 * this host. */
void cli_who_fill(struct cli_who *w, const char *groups);
/* The groups alone (the machine left as it is). */
void cli_who_groups(struct cli_who *w, const char *groups);
void cli_who_free(struct cli_who *w);

/* "file", "dir", "symlink", ... */
const char *cli_type_name(uint32_t mode);
/* Union options under which hives show merged from every layer's copy,
 * as a mount serves them (diff, capture, which). */
struct lf_union_opts cli_hive_opts(void);
/* Did the union engine say something (an error, on stderr) since the last
 * call? A failure it explains needs no second line. */
int cli_union_spoke(void);
/* A progress bar on stderr, when it is a tty and not --quiet: phase,
 * percent (total 0: a count alone, the total not known yet). Made as
 * cli_bar_init says; cli_bar_end ends its line. */
struct cli_bar { int on; const char *last_phase; long last; };
void cli_bar_init(struct cli_bar *b, int quiet);
void cli_bar_show(void *bar, const char *phase, uint64_t done, uint64_t total);
void cli_bar_end(struct cli_bar *b);
/* layerd's status reply ($LAYERD_SOCKET or the default socket), or NULL
 * when no layerd answers there (said nothing). */
struct json_t *cli_layerd_status(void);

/* The stack publish and compare read: --layer SPEC..., or --repo R
 * --user U [--groups G] [--machine M] [--with-user]; --parent for
 * differencing disks. */
struct cli_stack_args {
	const char *layers[256];
	int nlayers;
	const char *repo, *groups;
	struct cli_who who;
	int with_user;
	const char *parents[32];
	int nparents;
	const char *overrides[64];   /* NAME=N priority overrides (which) */
	int noverrides;
};
#define CLI_STACK_OPTIONS \
	{ "layer", required_argument, NULL, 'l' }, { "repo", required_argument, NULL, 'R' }, \
	{ "user", required_argument, NULL, 'u' }, { "groups", required_argument, NULL, 'g' }, \
	{ "machine", required_argument, NULL, 'm' }, { "with-user", no_argument, NULL, 'W' }, \
	{ "parent", required_argument, NULL, 'P' }
#define CLI_STACK_HELP \
	"The stack, named one of two ways:\n" \
	"  --layer SPEC          a layer: PATH[,name=N][,type=os|platform|app][,prio=P]\n" \
	"                        (again for each; the OS layer's disk gives the layout)\n" \
	"  --repo REPO --user U  what U gets from the repository, as layerd composes it\n" \
	"  --groups G,H          her groups (repository assignments to groups)\n" \
	"  --machine M           the machine (default: this host's name)\n" \
	"  --with-user           her personalization layer too (left out by default)\n" \
	"  --parent FILE         a differencing disk's parent, where its locators fail\n"
/* An option of the stack's (1: it was one), the options checked (an
 * error message, or NULL), and the stack they name opened as a union,
 * hives merged as a mount serves them (base: the OS layer's file). */
int cli_stack_option(struct cli_stack_args *a, int c, const char *arg);
const char *cli_stack_check(struct cli_stack_args *a);
int cli_stack_open(const struct cli_stack_args *a, char *base, size_t basesz,
		   struct lf_union **u, struct lf_err *err);
/* The image against the stack (compare's report on stdout; JSON with
 * json): 0 the same, 1 different, 2 trouble. */
int cli_compare(const char *image, struct lf_union *stack, const char *stack_name, int json,
		int no_ctime);

int cmd_pack(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_which(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_acl(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_reg(int argc, char **argv);
int cmd_repo(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_conflicts(int argc, char **argv);
/* login, logoff, refresh, status (argv[0] says which) */
int cmd_session(int argc, char **argv);

/* Something of an entry not kept (an object ID another file has): one
 * line on stderr, "layerctl: note: PATH: WHAT" (pack's and publish's note). */
void cli_note(void *ctx, const char *path, const char *what);

#endif
