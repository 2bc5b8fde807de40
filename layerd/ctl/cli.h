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
};
/* Split groups (NULL: none); the machine defaults to this host. */
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

int cmd_pack(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_which(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_acl(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_reg(int argc, char **argv);
int cmd_repo(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_conflicts(int argc, char **argv);
/* login, logoff, refresh, status (argv[0] says which) */
int cmd_session(int argc, char **argv);

#endif
