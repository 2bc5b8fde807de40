/* Write Compact OS files, and files whose data Windows keeps elsewhere,
 * onto an NTFS volume image, as Windows stores them (issue 30's test
 * tool; the reader is fs/ntfs/wof.c, which this shares no code with):
 *
 *   lf-woftool put IMAGE PATH ALG SOURCE [--corrupt table|chunk]
 *       PATH (its folder must exist) becomes SOURCE's bytes compressed
 *       with ALG (xpress4k, lzx, xpress8k, xpress16k): a sparse unnamed
 *       $DATA of SOURCE's size, the stream WofCompressedData (a chunk
 *       table, then the chunks; a chunk that does not shrink is stored
 *       raw) and the WOF reparse point. --corrupt spoils it: a chunk
 *       table entry past the stream, or the second chunk's bytes.
 *   lf-woftool tag IMAGE PATH KIND [SOURCE]
 *       PATH (made if missing, from SOURCE's bytes if given) becomes a
 *       file whose data is elsewhere: dedup, hsm, wimboot, efs, cloud (a
 *       placeholder not fetched), cloud-kept (one kept on the device),
 *       cloud-dir (PATH a folder), alias (an App execution alias).
 *
 * Through libntfs-3g on the image; the codecs are wimlib's. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/reparse.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>
#include <wimlib.h>

static ntfschar efs_name[] = { const_cpu_to_le16('$'), const_cpu_to_le16('E'),
			       const_cpu_to_le16('F'), const_cpu_to_le16('S') };

static void die(const char *what)
{
	fprintf(stderr, "lf-woftool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The folder of PATH open, and its last name in *name (malloc'd UTF-16). */
static ntfs_inode *parent_of(ntfs_volume *vol, const char *path, ntfschar **name, int *nlen)
{
	char *dir = strdup(path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	if (slash)
		*slash = 0;
	*name = NULL;
	*nlen = ntfs_mbstoucs(base, name);
	ntfs_inode *d = ntfs_pathname_to_inode(vol, NULL, slash && dir[0] ? dir : "/");
	free(dir);
	if (!d || *nlen <= 0)
		die(path);
	return d;
}

/* PATH, made if missing; its folder open in *dir (libntfs-3g wants a
 * child closed with its folder open: ntfs_inode_close_in_dir). */
static ntfs_inode *make(ntfs_volume *vol, const char *path, mode_t type, ntfs_inode **dir)
{
	ntfschar *u;
	int ulen;
	ntfs_inode *d = parent_of(vol, path, &u, &ulen);
	u64 ref = ntfs_inode_lookup_by_name(d, u, ulen);
	ntfs_inode *ni = ref != (u64)-1 ? ntfs_inode_open(vol, MREF(ref))
		       : ntfs_create(d, const_cpu_to_le32(0), u, (u8)ulen, type);
	free(u);
	if (!ni)
		die(path);
	*dir = d;
	return ni;
}

static void done(ntfs_inode *ni, ntfs_inode *dir, const char *path)
{
	if (ntfs_inode_close_in_dir(ni, dir) || ntfs_inode_close(dir))
		die(path);
}

/* Its unnamed $DATA SIZE bytes, holes only (as WOF and placeholders
 * leave it). */
static void sparse_data(ntfs_inode *ni, uint64_t size)
{
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na || ntfs_attr_truncate(na, (s64)size))
		die("the unnamed $DATA");
	ntfs_attr_close(na);
}

static void set_reparse(ntfs_inode *ni, uint32_t tag, const uint8_t *data, uint16_t len)
{
	uint8_t buf[64];
	put32(buf, tag);
	buf[4] = (uint8_t)len;
	buf[5] = (uint8_t)(len >> 8);
	buf[6] = buf[7] = 0;
	memcpy(buf + 8, data, len);
	if (ntfs_set_ntfs_reparse_data(ni, (const char *)buf, 8u + len, 0))
		die("the reparse point");
}

static void add_attrib(ntfs_inode *ni, uint32_t bits)
{
	ni->flags |= cpu_to_le32(bits);
	NInoSetDirty(ni);
}

static int alg_of(const char *s, uint32_t *chunk)
{
	static const struct { const char *name; int alg; uint32_t chunk; } algs[] = {
		{ "xpress4k", 0, 4096 }, { "lzx", 1, 32768 },
		{ "xpress8k", 2, 8192 }, { "xpress16k", 3, 16384 },
	};
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(s, algs[i].name)) {
			*chunk = algs[i].chunk;
			return algs[i].alg;
		}
	fprintf(stderr, "lf-woftool: %s: not xpress4k, lzx, xpress8k or xpress16k\n", s);
	exit(2);
}

static int is_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

static int cmd_put(ntfs_volume *vol, const char *path, const char *algname, const char *src,
		   const char *corrupt)
{
	uint32_t chunk;
	int alg = alg_of(algname, &chunk);
	int fd = open(src, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		die(src);
	uint64_t size = (uint64_t)st.st_size;
	uint64_t nchunks = (size + chunk - 1) / chunk;
	unsigned entry = size <= 0xFFFFFFFFull ? 4 : 8;
	uint64_t table = nchunks ? (nchunks - 1) * entry : 0;
	struct wimlib_compressor *c;
	if (wimlib_create_compressor(alg == 1 ? WIMLIB_COMPRESSION_TYPE_LZX
				     : WIMLIB_COMPRESSION_TYPE_XPRESS, chunk, 0, &c))
		die("a compressor");
	ntfs_inode *dir;
	ntfs_inode *ni = make(vol, path, S_IFREG, &dir);
	ntfschar *wof_name = NULL;
	int wof_len = ntfs_mbstoucs("WofCompressedData", &wof_name);
	if (wof_len <= 0 || ntfs_attr_add(ni, AT_DATA, wof_name, (u8)wof_len, NULL, 0))
		die("the WofCompressedData stream");
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, wof_name, (u32)wof_len);
	free(wof_name);
	uint8_t *in = malloc(chunk), *out = malloc(chunk), *zero_out = malloc(chunk);
	uint8_t *tab = calloc(1, table ? table : 1);
	size_t zero_len = 0;
	if (!na || !in || !out || !zero_out || !tab)
		die("memory");
	uint64_t at = 0;             /* where the next chunk goes, after the table */
	uint64_t raw = 0;            /* chunks stored as they are */
	off_t next_data = 0;         /* a sparse source's holes are not read */
	for (uint64_t i = 0; i < nchunks; i++) {
		size_t len = i + 1 < nchunks ? chunk : (size_t)(size - i * chunk);
		off_t at_chunk = (off_t)(i * chunk);
		if (next_data >= 0 && next_data < at_chunk + (off_t)len &&
		    (next_data = lseek(fd, at_chunk, SEEK_DATA)) < 0)
			next_data = (off_t)size;   /* ENXIO: holes to the end */
		if (next_data >= at_chunk + (off_t)len)
			memset(in, 0, len);
		else if (pread(fd, in, len, at_chunk) != (ssize_t)len)
			die(src);
		const uint8_t *stored = in;
		size_t n;
		if (len == chunk && is_zero(in, len) && zero_len) {
			stored = zero_out;    /* a 5 GiB file of holes: one compression */
			n = zero_len;
		} else {
			/* stored raw unless it shrinks */
			n = wimlib_compress(in, len, out, len - 1, c);
			if (n) {
				stored = out;
				if (len == chunk && is_zero(in, len)) {
					memcpy(zero_out, out, n);
					zero_len = n;
				}
			} else {
				n = len;
				raw++;
			}
		}
		if (i > 0) {
			if (entry == 4)
				put32(tab + (i - 1) * 4, (uint32_t)at);
			else
				put64(tab + (i - 1) * 8, at);
		}
		uint8_t *spoil = NULL;
		if (corrupt && !strcmp(corrupt, "chunk") && i == (nchunks > 1 ? 1 : 0)) {
			spoil = malloc(n);
			memset(spoil, 0xFF, n);
			if (n == len && n > 1)  /* raw would read as anything: make it short */
				n--;
			stored = spoil;
		}
		if (ntfs_attr_pwrite(na, (s64)(table + at), (s64)n, stored) != (s64)n)
			die("the stream");
		free(spoil);
		at += n;
	}
	if (corrupt && !strcmp(corrupt, "table") && table)
		put32(tab, 0x7FFFFFF0u);
	if (table && ntfs_attr_pwrite(na, 0, (s64)table, tab) != (s64)table)
		die("the chunk table");
	ntfs_attr_close(na);
	sparse_data(ni, size);
	uint8_t rp[16];
	put32(rp, 1);              /* WOF version */
	put32(rp + 4, 2);          /* the file provider */
	put32(rp + 8, 1);          /* its version */
	put32(rp + 12, (uint32_t)alg);
	set_reparse(ni, 0x80000017u, rp, 16);
	add_attrib(ni, 0x200);     /* FILE_ATTRIBUTE_SPARSE_FILE, as Windows leaves it */
	done(ni, dir, path);
	wimlib_free_compressor(c);
	free(in);
	free(out);
	free(zero_out);
	free(tab);
	close(fd);
	printf("%s: %llu bytes in %llu chunks of %u, %llu stored raw, stream %llu bytes (%s)\n",
	       path, (unsigned long long)size, (unsigned long long)nchunks, chunk,
	       (unsigned long long)raw, (unsigned long long)(table + at), algname);
	return 0;
}

static void copy_in(ntfs_inode *ni, const char *src)
{
	int fd = open(src, O_RDONLY);
	if (fd < 0)
		die(src);
	ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	uint8_t buf[65536];
	ssize_t n;
	s64 at = 0;
	while (na && (n = read(fd, buf, sizeof buf)) > 0) {
		if (ntfs_attr_pwrite(na, at, n, buf) != n)
			die("the unnamed $DATA");
		at += n;
	}
	if (!na)
		die("the unnamed $DATA");
	ntfs_attr_close(na);
	close(fd);
}

static int cmd_tag(ntfs_volume *vol, const char *path, const char *kind, const char *src)
{
	uint8_t blob[32];
	for (size_t i = 0; i < sizeof blob; i++)
		blob[i] = (uint8_t)(0x5A ^ i);
	int dir = !strcmp(kind, "cloud-dir");
	ntfs_inode *parent;
	ntfs_inode *ni = make(vol, path, dir ? S_IFDIR : S_IFREG, &parent);
	if (!dir) {
		if (src && strcmp(kind, "cloud") && strcmp(kind, "dedup") && strcmp(kind, "hsm") &&
		    strcmp(kind, "wimboot"))
			copy_in(ni, src);
		else if (strcmp(kind, "alias"))
			sparse_data(ni, 100000);   /* its size, its data elsewhere */
	}
	if (!strcmp(kind, "dedup")) {
		set_reparse(ni, 0x80000013u, blob, 32);
	} else if (!strcmp(kind, "hsm")) {
		set_reparse(ni, 0xC0000004u, blob, 16);
		add_attrib(ni, 0x1000);           /* OFFLINE */
	} else if (!strcmp(kind, "wimboot")) {
		set_reparse(ni, 0x80000008u, blob, 16);
	} else if (!strcmp(kind, "efs")) {
		if (ntfs_attr_add(ni, AT_LOGGED_UTILITY_STREAM, efs_name, 4, blob, 32))
			die("$EFS");
		add_attrib(ni, 0x4000);           /* ENCRYPTED */
	} else if (!strcmp(kind, "cloud")) {
		set_reparse(ni, 0x9000101Au, blob, 16);   /* n = 1 */
		add_attrib(ni, 0x400000);         /* RECALL_ON_DATA_ACCESS */
	} else if (!strcmp(kind, "cloud-kept") || dir) {
		set_reparse(ni, 0x9000701Au, blob, 16);
	} else if (!strcmp(kind, "alias")) {
		set_reparse(ni, 0x8000001Bu, blob, 32);
	} else {
		fprintf(stderr, "lf-woftool: %s: no such kind\n", kind);
		exit(2);
	}
	done(ni, parent, path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5 || (strcmp(argv[1], "put") && strcmp(argv[1], "tag"))) {
		fprintf(stderr, "usage: lf-woftool put IMAGE PATH ALG SOURCE [--corrupt table|chunk]\n"
				"       lf-woftool tag IMAGE PATH KIND [SOURCE]\n");
		return 2;
	}
	/* libntfs-3g's own words on stderr: this is a test tool */
	ntfs_log_set_handler(ntfs_log_handler_stderr);
	ntfs_volume *vol = ntfs_mount(argv[2], 0);
	if (!vol)
		die(argv[2]);
	int rc;
	if (!strcmp(argv[1], "put")) {
		if (argc < 6)
			return 2;
		rc = cmd_put(vol, argv[3], argv[4], argv[5],
			     argc > 7 && !strcmp(argv[6], "--corrupt") ? argv[7] : NULL);
	} else {
		rc = cmd_tag(vol, argv[3], argv[4], argc > 5 ? argv[5] : NULL);
	}
	if (ntfs_umount(vol, FALSE))
		die("umount");
	return rc;
}
