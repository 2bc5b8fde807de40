/* layerctl acl [--json] FOLDER PATH [SDDL]: show or set the Windows
 * security descriptor of PATH in a folder layer or a personalization
 * layer, as icacls /setacl would on Windows. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "layerfs/safe_path.h"
#include "layerfs/security.h"

static void acl_usage(FILE *f)
{
	fprintf(f,
		"Usage: layerctl acl [--json] FOLDER PATH [SDDL]\n"
		"\n"
		"Show, or set to SDDL, the Windows security descriptor of PATH in FOLDER,\n"
		"a folder layer or a personalization layer (PATH from its root; \"\" or /\n"
		"is the root). It is what a session checks access against, what `pack`\n"
		"puts in the layer's NTFS volume, and what a layerfs mount shows as\n"
		"system.ntfs_acl. It is kept in the xattr trusted.layerfs.ntfs_acl (root;\n"
		"users cannot set it) or user.layerfs.ntfs_acl (anyone else, on their own\n"
		"files). A symlink on the way is refused, never followed.\n"
		"\n"
		"SDDL as Windows writes it, e.g. for C:\\Windows\\System32:\n"
		"  'O:SYG:SYD:PAI(A;;FA;;;SY)(A;OICIIO;GA;;;SY)(A;;0x1200a9;;;BU)'\n"
		"Entries with no descriptor show one made from their mode (owner bits to\n"
		"Administrators and SYSTEM, other bits to Users).\n"
		"\n"
		"Exit status: 0, 1 on an error (a bad SDDL says what is wrong), 2 on a\n"
		"usage error.\n");
}

int cmd_acl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	int json = 0, c;
	optind = 1;
	while ((c = cli_getopt(argc, argv, "+jh", opts)) != -1) {
		if (c == 'h') {
			acl_usage(stdout);
			return EXIT_OK;
		}
		if (c != 'j')
			return cli_usage_error("acl", "unknown option");
		json = 1;
	}
	if (argc - optind != 2 && argc - optind != 3)
		return cli_usage_error("acl", "needs FOLDER, PATH and, to set it, SDDL");
	const char *folder = argv[optind], *path = argv[optind + 1];
	const char *sddl = argc - optind == 3 ? argv[optind + 2] : NULL;
	while (*path == '/')
		path++;
	uint8_t *sd = NULL;
	size_t len = 0;
	const char *why = NULL;
	if (sddl && lf_sd_from_sddl(sddl, &sd, &len, &why)) {
		cli_error("%s: not valid SDDL: %s", sddl, why);
		return EXIT_FAIL;
	}
	const char *xname = geteuid() == 0 ? "trusted.layerfs.ntfs_acl" : "user.layerfs.ntfs_acl";
	int root = open(folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = root < 0 ? -errno
		 : lf_safe_open(root, *path ? path : ".", O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (root >= 0)
		close(root);
	struct stat st;
	int rc = fd < 0 ? fd : fstat(fd, &st) < 0 ? -errno : 0;
	if (!rc && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		rc = -EPERM;    /* only files and folders hold one */
	if (!rc && sd && fsetxattr(fd, xname, sd, len, 0) < 0)
		rc = -errno;
	free(sd);
	sd = NULL;
	const char *from = "descriptor";
	if (!rc) {
		uint8_t buf[65536];
		ssize_t n = fgetxattr(fd, xname, buf, sizeof buf);
		if (n > 0 && (sd = malloc((size_t)n))) {
			memcpy(sd, buf, (size_t)n);
			len = (size_t)n;
		} else {
			from = "mode";
			rc = lf_sd_from_mode(st.st_mode, NULL, &sd, &len);
		}
	}
	if (fd >= 0)
		close(fd);
	char *text = NULL;
	if (!rc)
		rc = lf_sd_to_sddl(sd, len, &text);
	free(sd);
	if (rc) {
		cli_error("%s/%s: %s", folder, path, rc == -ELOOP ? "a symlink is on the way"
			  : rc == -EPERM ? "only files and folders hold a descriptor"
			  : strerror(-rc));
		return EXIT_FAIL;
	}
	if (json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "path", path, "sddl", text, "from", from));
	else
		printf("%s\n", text);
	free(text);
	return EXIT_OK;
}
