/* layerctl: the admin's tool. Each command lives in its own cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "layerfs/oci.h"
#include "layerfs/background.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "pack", cmd_pack, "pack a directory into a layer (NTFS in a VHD, or raw)" },
	{ "ls", cmd_ls, "list a folder of a layer" },
	{ "stat", cmd_stat, "show one entry of a layer in full" },
	{ "cat", cmd_cat, "write files of a layer to standard output" },
	{ "which", cmd_which, "say which layer of a stack provides a path, and what it shadows" },
	{ "reg", cmd_reg, "registry hives: compact a hive, merge layers' hives by priority" },
	{ "repo", cmd_repo, "the layer repository: init, add, remove, restore, assign, unassign,\n"
			    "             priority, list, resolve (a user's stack)" },
	{ "push", cmd_push, "push layer revisions and the control files to an OCI registry" },
	{ "pull", cmd_pull, "pull layer revisions (or a whole repository) from an OCI registry" },
	{ "delete", cmd_delete, "delete a layer revision from an OCI registry (then its garbage collection)" },
	{ "fsck", cmd_fsck, "check a layer repository (and reclaim what is safe)" },
	{ "conflicts", cmd_conflicts, "what more than one app layer provides, and who wins" },
	{ "login", cmd_session, "layerd: compose a user's desktop and mount it" },
	{ "logoff", cmd_session, "layerd: unmount a user's desktop" },
	{ "refresh", cmd_session, "layerd: re-read the repository, update running sessions" },
	{ "status", cmd_session, "layerd: the sessions it serves" },
	{ "capture", cmd_capture, "make an app layer of what an installation changed (before, after)" },
	{ "publish", cmd_publish, "compose a stack into one bootable disk image (VHD, VHDX or raw)" },
	{ "compare", cmd_compare, "does a disk image hold exactly what a stack composes?" },
	{ "diff", cmd_diff, "what differs between two stacks, disks or folders: files and registry values" },
	{ "acl", cmd_acl, "show or set a file's Windows security descriptor (SDDL) in a folder layer" },
	{ "reset", cmd_reset, "give back the layers' version of a path a user changed or deleted" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl COMMAND [OPTIONS] ARGS...\n"
		"\n"
		"Pack, inspect and verify layers of a layered Windows desktop.\n"
		"A LAYER is a .vhd (fixed, dynamic or differencing), a .vhdx, a raw\n"
		"NTFS image or partitioned disk image, or a host directory.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"Run 'layerctl COMMAND --help' for a command's options.\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
	lf_background_allow();       /* layerctl never forks to go on */
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("layerctl %s\n", LF_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	const char *names[sizeof commands / sizeof commands[0]];
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		names[i] = commands[i].name;
	const char *near = cli_nearest(argv[1], names, (int)(sizeof names / sizeof *names));
	if (near)
		fprintf(stderr, "layerctl: unknown command '%s' (did you mean '%s'?)\n"
			"Try 'layerctl --help'.\n", argv[1], near);
	else
		fprintf(stderr, "layerctl: unknown command '%s'\nTry 'layerctl --help'.\n", argv[1]);
	return EXIT_USAGE;
}
