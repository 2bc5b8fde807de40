/* Test helper: the block-source layer from the shell.
 *   lf-disktool dump DISK [PARENT...]        raw contents to stdout
 *   lf-disktool dump-file DISK               the same through an lf_file (the
 *                                            readers a registry's layer gets:
 *                                            our own VHDX reader, not libvhdi)
 *   lf-disktool info DISK                     kind, size, chain, volume
 *   lf-disktool vhd fixed|dynamic RAW OUT     write a VHD of RAW's bytes
 *   lf-disktool vhd diff RAW OUT PARENT       a child of PARENT holding RAW */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/source.h"
#include "layerfs/vhd.h"

static int fd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);
	if (n < 0)
		return -errno;
	if ((size_t)n < len)
		memset((char *)buf + n, 0, len - (size_t)n);
	return 0;
}

int main(int argc, char **argv)
{
	struct lf_err err = {0};
	if (argc >= 3 && (!strcmp(argv[1], "dump") || !strcmp(argv[1], "dump-file"))) {
		struct lf_source_opts o = { .parents = (const char *const *)argv + 3, .nparents = argc - 3 };
		struct lf_source *s;
		struct lf_file *f = NULL;
		int rc = strcmp(argv[1], "dump") ? lf_file_open_local(argv[2], &f, &err) : 0;
		if (!rc)
			rc = f ? lf_source_open_file(f, NULL, &s, &err) : lf_source_open(argv[2], &o, &s, &err);
		if (rc) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		static char buf[1 << 20];
		for (uint64_t off = 0; off < s->size; off += sizeof buf) {
			size_t n = s->size - off < sizeof buf ? (size_t)(s->size - off) : sizeof buf;
			if (lf_source_pread(s, buf, n, off, &err) || fwrite(buf, 1, n, stdout) != n) {
				fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "write failed");
				return 1;
			}
		}
		lf_source_close(s);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "info")) {
		struct lf_source *s;
		struct lf_volume_extent e;
		if (lf_source_open(argv[2], NULL, &s, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		printf("kind %s\nsize %llu\nchain %d\n", lf_source_kind_name(s->kind),
		       (unsigned long long)s->size, lf_source_depth(s));
		if (lf_partition_find_ntfs(s, &e, &err) == 0)
			printf("volume %s %d %llu %llu\n", e.scheme, e.partition,
			       (unsigned long long)e.offset, (unsigned long long)e.length);
		else
			printf("volume none: %s\n", err.msg);
		lf_source_close(s);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "vhd")) {
		struct lf_vhd_write_opts o = {0};
		if (!strcmp(argv[2], "fixed"))
			o.type = LF_VHD_FIXED;
		else if (!strcmp(argv[2], "dynamic"))
			o.type = LF_VHD_DYNAMIC;
		else if (!strcmp(argv[2], "diff") && argc == 6)
			o.type = LF_VHD_DIFF, o.parent_path = argv[5];
		else
			goto usage;
		int fd = open(argv[3], O_RDONLY);
		struct stat st;
		if (fd < 0 || fstat(fd, &st)) {
			perror(argv[3]);
			return 1;
		}
		o.size = (uint64_t)st.st_size;
		if (lf_vhd_write(argv[4], &o, fd_read, &fd, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		close(fd);
		return 0;
	}
usage:
	fprintf(stderr, "usage: lf-disktool dump DISK [PARENT...] | info DISK | "
		"vhd fixed|dynamic RAW OUT | vhd diff RAW OUT PARENT\n");
	return 2;
}
