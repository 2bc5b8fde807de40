/* What pack.c and pack_revision.c share: the packer's state and the
 * steps that fill a volume from a host folder. */
#ifndef LF_PACK_INT_H
#define LF_PACK_INT_H

#include <limits.h>
#include <sys/stat.h>

#include "layerfs/pack.h"
#include "ntfs_glue.h"

#define CLUSTER 4096u
#define PART_START (1u << 20)   /* partition at 1 MiB, as Windows puts it */

struct hardlink { dev_t dev; ino_t ino; u64 mft; };

/* An 8.3 name to give at the end (pack_dos.c), and the times of the
 * record and its folder to put back after: (creation, change, access,
 * MFT change; an MFT change time of 0 is left as libntfs-3g sets it). */
struct pack_dos {
	u64 mft, dir;
	struct timespec times[4], dir_times[4];
	char name[13];
};

#define SDID_SLOTS 1024

struct packer {
	const struct lf_pack_opts *o;
	struct lf_pack_stats *st;
	struct lf_err *err;
	const char *src;
	int src_root;
	ntfs_volume *vol;
	uint64_t total, done;
	struct hardlink *links;
	size_t nlinks, caplinks;
	size_t *slots, capslots;   /* hash of links: index + 1, 0 free */
	char path[PATH_MAX * 4];   /* the entry being worked on, for errors */
	char *buf;                 /* PACK_CHUNK bytes for copying contents */
	ntfs_inode *root;
	/* object IDs given (16 bytes each): one file of a volume has one */
	uint8_t (*objids)[16];
	size_t nobjids, capobjids;
	struct pack_dos *dos;      /* 8.3 names to give at the end */
	size_t ndos, capdos;
	char dos_now[13];          /* the entry being made: its 8.3 name, or "" */
	int defer;                 /* files' data after every name (pack_later.c) */
	struct pack_later *later;  /* the files whose data is still to write */
	size_t nlater, caplater;
	struct sdid {              /* descriptors registered in $Secure */
		struct sdid *next;
		le32 id;
		size_t len;
		uint8_t sd[];
	} *sdids[SDID_SLOTS];
};

#define PACK_CHUNK (1u << 20)
/* a file this small lives in its MFT record: its data is written at once */
#define PACK_RESIDENT 600

typedef int (*walk_fn)(struct packer *p, int dfd, const char *name,
		       const struct stat *st, void *arg);

void pack_progress(struct packer *p, const char *phase);
/* The data of the host file open as fd into ni's unnamed stream. */
int pack_copy_data_fd(struct packer *p, int fd, ntfs_inode *ni);
/* pack_later.c: a file (record mft, p->path, what it was) whose data is
 * written after every name is made; write them all (nothing open). */
int pack_later_add(struct packer *p, u64 mft, const struct stat *st);
int pack_later_write(struct packer *p);
void pack_later_free(struct packer *p);
/* pack_dos.c: a record's four times (t as pack_dos keeps them); an 8.3
 * name to give record mft in folder dir at the end (name "" or too
 * long: none), with both records' times to put back; give them all
 * (nothing else open), counting them in *given. 0 or -errno (p->err). */
int pack_put_times(ntfs_inode *ni, const struct timespec t[4]);
int pack_dos_want(struct packer *p, u64 mft, u64 dir, const char *name,
		  const struct timespec t[4], const struct timespec dir_t[4]);
int pack_dos_give(struct packer *p, size_t *given);
/* 4 bytes little-endian (layerfs/bytes.h's le32 is a type to libntfs-3g). */
uint32_t pack_le32(const uint8_t *b);
/* What in name Windows cannot hold (a forbidden character, a trailing dot
 * or space), or NULL. */
const char *pack_bad_name(const char *name);
/* Append "/name" to p->path for error reports; returns the old length. */
size_t pack_path_push(struct packer *p, const char *name);
/* Each entry of folder dfd, in name order, checked for names Windows
 * cannot hold or tell apart. */
int pack_each_entry(struct packer *p, int dfd, walk_fn fn, void *arg);
/* Make the entry (and all below a folder) in the folder arg (ntfs_inode *). */
int pack_fill_entry(struct packer *p, int dfd, const char *name, const struct stat *st,
		    void *arg);
/* A libntfs-3g failure as one line naming the entry. */
int pack_fail(struct packer *p, const char *what);
/* The entry's descriptor (*sd malloc'd) and its id in $Secure (0: none). */
int pack_desc_of(struct packer *p, int dfd, const char *name, const struct stat *st,
		 uint8_t **sd, size_t *len);
/* The id of descriptor sd in the volume's $Secure (0: none). */
le32 pack_sec_id(struct packer *p, const uint8_t *sd, size_t len);
le32 pack_sec_id_of(struct packer *p, int dfd, const char *name, const struct stat *st);
/* FILE_ATTRIBUTE_* bits a file may carry, set on ni. */
void pack_set_attrib(ntfs_inode *ni, uint32_t a);
/* What an entry carries beside its data (pack_meta.c). */
struct lx_meta;
struct pack_meta {
	const uint8_t *ea;       /* its $EA records as its source has them */
	size_t ealen;
	const struct lx_meta *lx;   /* its Linux owner and mode; NULL: none */
	const uint8_t *oid;      /* its object ID (16 bytes, or 64 with birth IDs) */
	size_t oidlen;           /* 0: none */
	int replace;             /* an entry kept from before: what it had goes */
};
/* Owner, group, mode (and device numbers) of st, as WSL keeps them. */
void pack_lx_of(const struct stat *st, struct lx_meta *m);
/* m's $EA (its records without $LX*, then lx's) and object ID on ni; an
 * object ID a file made before has is left out, said through note. */
int pack_keep_ea_objid(struct packer *p, ntfs_inode *ni, const struct pack_meta *m);
/* The host entry's Windows attributes, $EA and object ID (ntfs-3g's
 * system.ntfs_* or a folder layer's trusted/user.layerfs.ntfs_*) and its
 * owner and mode (unless no_lx), on ni. */
int pack_copy_meta(struct packer *p, int dfd, const char *name, const struct stat *st,
		   ntfs_inode *ni, int replace);
/* An alternate data stream NAME (UTF-8) holding data. */
int pack_add_stream(struct packer *p, ntfs_inode *ni, const char *name, const void *data,
		    size_t len);
/* Hard links: the file (dev, ino) already made (NULL: not yet), and
 * remembering one made as MFT record mft. */
struct hardlink *pack_find_link(struct packer *p, dev_t dev, ino_t ino);
int pack_remember_link(struct packer *p, dev_t dev, ino_t ino, u64 mft);
/* mkntfs on vol_path: size bytes, the volume hidden_sectors into its disk. */
int pack_mkntfs(struct packer *p, const char *vol_path, uint64_t size, uint64_t hidden_sectors);
int pack_copy_streams(struct packer *p, int dfd, const char *name, ntfs_inode *ni, int is_dir);
int pack_set_times(ntfs_inode *ni, const struct stat *st);
int pack_set_root_sd(struct packer *p, const struct stat *st);
/* The mounted volume p->vol filled by fill(p, the source root, the
 * volume's root), the root's descriptor and times set, unmounted. */
int pack_fill_volume(struct packer *p, const char *vol_path,
		     int (*fill)(struct packer *p, int dfd, ntfs_inode **dirp));
/* The packer's own memory (links, buffer, descriptor ids). */
void pack_free(struct packer *p);

/* raw (a disk image file) converted to a VHDX at vhdx by qemu-img
 * (qemu-utils), fsynced. */
int pack_qemu_vhdx(struct packer *p, const char *raw, const char *vhdx);

/* size bytes of a disk, read by rd, written as a new raw file at path
 * (zeros left holes), fsynced; phase "write". */
int pack_write_raw_disk(struct packer *p, const char *path,
			int (*rd)(void *ctx, void *buf, size_t len, uint64_t off), void *ctx,
			uint64_t size);

/* The work file a new volume is made in, beside OUT. */
struct pack_work {
	char *path;
	int fd;
	uint64_t size;
};
/* A work file of vol_size bytes beside out, formatted (mkntfs) for the
 * disk p->o->format makes. */
int pack_work_new(struct packer *p, const char *out, uint64_t vol_size, struct pack_work *wk);
/* The filled volume as OUT: renamed (raw), or a VHD or VHDX with an MBR
 * around it. */
int pack_work_finish(struct packer *p, const char *out, struct pack_work *wk);
/* The work file gone (after a failure, or a VHD written from it). */
void pack_work_drop(struct pack_work *wk);

#endif
