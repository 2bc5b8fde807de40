/* libFuzzer target: a disk as it comes from a hostile file. The bytes are
 * opened as a block source (VHD footer and tables, VHDX through libvhdi,
 * or raw), and again as a registry's layer file is (through an lf_file:
 * VHDX by our own reader), the NTFS volume is looked for in the MBR or GPT
 * (fs/disk/partition.c), and the disk publish would write around a new
 * volume is made and read whole (fs/disk/layout.c: the GPT rewritten for
 * a grown partition and a larger disk). Nothing may crash or read past
 * what it was given. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layerfs/layout.h"
#include "layerfs/source.h"
#include "fuzz.h"

/* WAY 0: as a host file is opened; 1: through an lf_file. */
static void try_disk(const char *path, int way)
{
	struct lf_source *s = NULL;
	struct lf_file *f = NULL;
	struct lf_err err = {0};
	int rc = way ? lf_file_open_local(path, &f, &err) : 0;
	if (!rc)
		rc = way ? lf_source_open_file(f, NULL, &s, &err) : lf_source_open(path, NULL, &s, &err);
	if (rc == 0) {
		struct lf_volume_extent ext;
		uint8_t buf[65536];
		/* what the source says it holds, read in pieces (a bounded share) */
		for (uint64_t off = 0; off < s->size && off < (8u << 20); off += sizeof buf) {
			size_t n = s->size - off < sizeof buf ? (size_t)(s->size - off) : sizeof buf;
			lf_source_pread(s, buf, n, off, NULL);
		}
		if (lf_partition_find_ntfs(s, &ext, &err) == 0 && s->size < (64u << 20)) {
			struct lf_layout *l = NULL;
			if (lf_layout_new(s, &ext, ext.length + (1u << 20), &l, &err) == 0) {
				lf_layout_set_disk_size(l, lf_layout_disk_size(l) + 4096, &err);
				uint64_t end = lf_layout_disk_size(l);
				for (uint64_t off = 0; off < end; off += sizeof buf) {
					size_t n = end - off < sizeof buf ? (size_t)(end - off) : sizeof buf;
					lf_layout_read(l, buf, n, off);
				}
				lf_layout_free(l);
			}
		}
		lf_source_close(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("disk", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	for (int way = 0; way < 2; way++)
		try_disk(path, way);
	close(fd);
	return 0;
}
