/* What layerctl says of a mistyped command or option: one line naming it,
 * and the nearest real one ("did you mean --json?"), never getopt's own
 * line beside ours. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* The option table of the command parsing now (cli_getopt). */
static const struct option *cur_opts;
static char **cur_argv;
static int cur_argc;

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts)
{
	cur_opts = opts;
	cur_argv = argv;
	cur_argc = argc;
	opterr = 0;              /* ours says it, once */
	return getopt_long(argc, argv, shortopts, opts, NULL);
}

/* Edit distance of a and b, a swap of two letters one edit (as typing
 * makes them), case ignored; at most 9. */
static int distance(const char *a, const char *b)
{
	size_t m = strlen(a), n = strlen(b);
	if (m > 63 || n > 63)
		return 9;
	int d[64][64];
	for (size_t i = 0; i <= m; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= n; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= m; i++)
		for (size_t j = 1; j <= n; j++) {
			int cost = (a[i - 1] | 32) == (b[j - 1] | 32) ? 0 : 1;
			int best = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && (a[i - 1] | 32) == (b[j - 2] | 32) &&
			    (a[i - 2] | 32) == (b[j - 1] | 32) && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[m][n] > 9 ? 9 : d[m][n];
}

const char *cli_nearest(const char *word, const char *const *names, int n)
{
	const char *best = NULL;
	int bd = 9;
	size_t len = strlen(word);
	for (int i = 0; i < n; i++) {
		int d = distance(word, names[i]);
		/* a prefix ("--jso") is as good as one letter off */
		if (len >= 2 && !strncasecmp(names[i], word, len))
			d = d < 1 ? d : 1;
		if (d < bd) {
			bd = d;
			best = names[i];
		}
	}
	return bd <= (len > 4 ? 2 : 1) ? best : NULL;
}

int cli_bad_option(const char *cmd)
{
	const char *arg = cur_argv && optind >= 1 && optind - 1 < cur_argc ? cur_argv[optind - 1] : "?";
	char word[64];
	/* a short option: getopt names it in optopt, the word may hold more */
	if (optopt && optopt < 256 && arg[0] == '-' && arg[1] != '-') {
		snprintf(word, sizeof word, "-%c", optopt);
	} else {
		snprintf(word, sizeof word, "%.*s", (int)strcspn(arg, "="), arg);
	}
	/* a known option without its value */
	for (const struct option *o = cur_opts; o && o->name; o++)
		if (o->has_arg == required_argument &&
		    ((word[0] == '-' && word[1] == '-' && !strcmp(word + 2, o->name)) ||
		     (optopt && o->val == optopt)))
			return cli_usage_error(cmd, "option '--%s' needs a value", o->name);
	const char *names[128];
	int n = 0;
	for (const struct option *o = cur_opts; o && o->name && n < 128; o++)
		names[n++] = o->name;
	const char *plain = word;
	while (*plain == '-')
		plain++;
	const char *near = cli_nearest(plain, names, n);
	if (near)
		return cli_usage_error(cmd, "unknown option '%s' (did you mean '--%s'?)", word, near);
	return cli_usage_error(cmd, "unknown option '%s'", word);
}
