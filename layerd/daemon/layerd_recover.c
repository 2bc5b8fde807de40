/* Mounts a layerd that died (kill -9, a crash) left behind: dead FUSE
 * mounts at RUN/USER/C and RUN/USER/REG ("Transport endpoint is not
 * connected") on which no new session could be mounted. They are
 * detached at start-up and before each login's mounts. Only layerd's own
 * are touched: below RUN, of type fuse.layerfs or fuse.regfs, named
 * layerd:USER or layerd-reg:USER. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "layerd_int.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
}

int recover_mounts(struct daemon *d, const char *user)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	char prefix[4200];
	snprintf(prefix, sizeof prefix, "%s/%s%s", d->run, user ? user : "", user ? "/" : "");
	size_t pl = strlen(prefix);
	char *line = NULL;
	size_t cap = 0;
	int n = 0;
	char **found = NULL;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE SOURCE SUPER */
		char *sep = strstr(line, " - ");
		char mp[4096], type[64], source[512];
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%63s %511s", type, source) != 2)
			continue;
		unescape(mp);
		unescape(source);
		int ours = (!strcmp(type, "fuse.layerfs") && !strncmp(source, "layerd:", 7)) ||
			   (!strcmp(type, "fuse.regfs") && !strncmp(source, "layerd-reg:", 11));
		if (!ours || strncmp(mp, prefix, pl))
			continue;
		/* RUN/USER/C or RUN/USER/REG of a session this daemon does not
		 * hold: found in a pass, detached after it */
		char **v = realloc(found, (size_t)(n + 1) * sizeof *v);
		if (!v || !(v[n] = strdup(mp)))
			break;
		found = v;
		n++;
	}
	free(line);
	fclose(f);
	for (int i = 0; i < n; i++) {
		if (umount2(found[i], MNT_DETACH) == 0)
			d->log("%s: a mount an earlier layerd left, detached", found[i]);
		free(found[i]);
	}
	free(found);
	return n;
}
