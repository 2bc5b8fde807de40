/* Where a file's data is when it is not plainly in its unnamed $DATA:
 * Compact OS files (the Windows Overlay Filter's system compression),
 * which are read as their data, and the kinds whose data lives off the
 * volume (deduplication, HSM, WIMBoot, EFS, cloud placeholders), which
 * are an error to read, never zeros. fs/ntfs/wof.c. */
#ifndef LAYERFS_WOF_H
#define LAYERFS_WOF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum lf_store {
	LF_STORE_PLAIN = 0,
	/* Compact OS: data in the "WofCompressedData" stream, chunked */
	LF_STORE_WOF_XPRESS4K,
	LF_STORE_WOF_LZX,
	LF_STORE_WOF_XPRESS8K,
	LF_STORE_WOF_XPRESS16K,
	/* an App execution alias: Windows shows a file of no bytes */
	LF_STORE_ALIAS,
	/* data not on this volume: reading is EIO */
	LF_STORE_DEDUP,          /* Data Deduplication's chunk store */
	LF_STORE_HSM,            /* hierarchical storage, offline */
	LF_STORE_WIMBOOT,        /* a WIM file on another volume */
	LF_STORE_EFS,            /* encrypted (EFS): ciphertext only */
	LF_STORE_CLOUD,          /* a cloud-files placeholder not kept here */
	LF_STORE_WOF_UNKNOWN,    /* a WOF reparse point of a form not known */
	LF_STORE_NKINDS
};

#define LF_WOF_STREAM "WofCompressedData"
#define LF_REPARSE_TAG_WOF 0x80000017u

static inline int lf_store_is_wof(unsigned s)
{
	return s >= LF_STORE_WOF_XPRESS4K && s <= LF_STORE_WOF_XPRESS16K;
}

static inline int lf_store_missing(unsigned s)
{
	return s >= LF_STORE_DEDUP && s < LF_STORE_NKINDS;
}

/* "wof-lzx", "dedup", ... ("plain" for none). */
const char *lf_store_name(unsigned s);
/* For the missing kinds, why in words ("its data is in Data
 * Deduplication's chunk store, not on this volume"); NULL otherwise. */
const char *lf_store_why(unsigned s);

/* What a file's storage is, from its reparse data (NULL, 0: none), its
 * Windows attributes (FILE_ATTRIBUTE_*), whether it has an $EFS
 * attribute and whether its unnamed $DATA has nothing allocated while
 * its size says bytes. */
unsigned lf_store_classify(const uint8_t *rp, size_t rplen, uint32_t wattr, int efs,
			   int data_unallocated);

/* A Compact OS file's decoder: chunk table windows and the last chunks
 * decompressed, shared by every reader of the file (its own lock). */
struct lf_wof;
/* Read len bytes of the compressed stream at off: the count read, or
 * -errno. Called under the decoder's lock. */
typedef ssize_t (*lf_wof_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* For a file of store s (a WOF kind), size bytes of data, stream_size
 * bytes of stream. -ENOMEM, or -EINVAL for a store that is no WOF kind. */
int lf_wof_open(unsigned s, uint64_t size, uint64_t stream_size, struct lf_wof **out);
/* Read decompressed bytes; -EIO for a stream that does not decode, with
 * why (a short phrase: "chunk 3 does not decompress (LZX)") in why. */
ssize_t lf_wof_pread(struct lf_wof *w, lf_wof_read_fn rd, void *ctx, void *buf, size_t len,
		     uint64_t off, char *why, size_t whylen);
void lf_wof_close(struct lf_wof *w);
/* Its store (a WOF kind). */
unsigned lf_wof_store(const struct lf_wof *w);

/* Chunk size of a WOF kind (4, 32, 8 or 16 KiB). */
uint32_t lf_wof_chunk_size(unsigned s);

#endif
