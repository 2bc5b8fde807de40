/* A fuzz target as a plain program (no libFuzzer): each file named, and
 * each file of each folder named (in name order), given to the target
 * once (a FILE.gz as gzip -dc gives it: ../shared/realdata keeps them so).
 * A crash or a sanitizer's report fails it; so does a corpus with nothing
 * in it (a run that tested nothing). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static FILE *open_input(const char *path, int *piped)
{
	size_t n = strlen(path);
	*piped = n > 3 && !strcmp(path + n - 3, ".gz");
	if (!*piped)
		return fopen(path, "rb");
	if (strchr(path, '\''))
		return NULL;
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "gzip -dc -- '%s'", path);
	return popen(cmd, "r");
}

static int run_file(const char *path)
{
	int piped;
	FILE *f = open_input(path, &piped);
	if (!f) {
		fprintf(stderr, "run_corpus: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *b = realloc(buf, cap *= 2);
			if (!b)
				free(buf);
			buf = b;
		}
	}
	if (piped ? pclose(f) != 0 : fclose(f) != 0) {
		fprintf(stderr, "run_corpus: %s: cannot be read whole\n", path);
		free(buf);
		return -1;
	}
	if (!buf) {
		fprintf(stderr, "run_corpus: %s: out of memory\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	long inputs = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "run_corpus: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]))
				return 1;
			inputs++;
			continue;
		}
		struct dirent **names;
		int n = scandir(argv[i], &names, NULL, by_name);
		if (n < 0) {
			fprintf(stderr, "run_corpus: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		for (int k = 0; k < n; k++) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
			if (names[k]->d_name[0] != '.' && !stat(path, &st) && S_ISREG(st.st_mode)) {
				if (run_file(path))
					return 1;
				inputs++;
			}
			free(names[k]);
		}
		free(names);
	}
	printf("%ld inputs, none crashed\n", inputs);
	return inputs ? 0 : 1;
}
