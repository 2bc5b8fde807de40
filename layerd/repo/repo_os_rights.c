/* An OS layer whose system folders every user may change (a folder
 * packed without Windows' descriptors gets one from its mode, and 0777
 * or a careless ACL hands Windows\ to BUILTIN\Users): found, so fsck and
 * repo add can say it before a user's session writes there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layerfs/layer.h"
#include "layerfs/repo.h"
#include "layerfs/security.h"

/* What a standard user changes in a folder: adds, deletes, rewrites its
 * descriptor or owner. */
#define CHANGES (LF_FILE_ADD_FILE | LF_FILE_ADD_SUBDIRECTORY | LF_FILE_DELETE_CHILD | \
		 LF_WRITE_DAC | LF_WRITE_OWNER)

static const char *const system_folders[] = { "Windows", "Windows/System32", "Program Files",
					       "Program Files (x86)" };

static int user_may_change(struct lf_layer *l, const char *path)
{
	struct lf_attr a;
	if (lf_layer_resolve(l, path, &a) || !S_ISDIR(a.mode))
		return 0;
	uint8_t buf[65536], *sd = buf, *made = NULL;
	size_t len = 0;
	ssize_t n = l->ops->getxattr ? l->ops->getxattr(l, a.ino, "system.ntfs_acl", buf,
							sizeof buf) : -ENODATA;
	if (n > 0) {
		len = (size_t)n;
	} else if (lf_sd_from_mode(a.mode, NULL, &made, &len) == 0) {
		sd = made;       /* as a session shows a folder without one */
	} else {
		return 0;
	}
	/* a plain user: Everyone, Interactive, Authenticated Users, Users */
	struct lf_sid user;
	struct lf_token t;
	int may = 0;
	if (lf_sid_from_text("S-1-5-21-1-2-3-1001", &user) == 0 && lf_token_user(&t, &user, 0) == 0) {
		may = (lf_sd_rights(sd, len, &t, &lf_file_map) & CHANGES) != 0;
		lf_token_free(&t);
	}
	free(made);
	return may;
}

int lf_os_layer_open_folders(struct lf_layer *l, char *out, size_t size)
{
	int found = 0;
	out[0] = 0;
	for (size_t i = 0; i < sizeof system_folders / sizeof *system_folders; i++)
		if (user_may_change(l, system_folders[i])) {
			size_t k = strlen(out);
			snprintf(out + k, size - k, "%s%s", found++ ? ", " : "", system_folders[i]);
		}
	return found;
}
