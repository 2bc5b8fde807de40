/* Internals of the `ntfs` backend, shared by layer_ntfs.c (names,
 * attributes, plain data) and ntfs_store.c (files whose data is not
 * plainly in their $DATA: Compact OS, and the kinds kept elsewhere). */
#ifndef LF_LAYER_NTFS_INT_H
#define LF_LAYER_NTFS_INT_H

#include <pthread.h>

#include "layerfs/layer.h"
#include "ntfs_glue.h"

struct ntfs_wof_open;

struct ntfs_layer {
	struct lf_layer base;
	ntfs_volume *vol;
	pthread_mutex_t lock;    /* (LAYER) vol and every inode of it */
	int have_secure;
	/* (LEAF) files of stores not plain: the Compact OS files open, and
	 * the files whose unreadable data was logged (once each) */
	pthread_mutex_t store_lock;
	struct ntfs_wof_open *wof_open;
	lf_ino *logged;
	size_t nlogged;
};

#define NL(l) ((struct ntfs_layer *)(l))

/* The file's store (enum lf_store), from what ni says; rp/rlen its
 * reparse data as read already (rlen 0: none). Under nl->lock. */
unsigned ntfs_store_of(ntfs_inode *ni, const uint8_t *rp, int rlen);
/* Its unnamed $DATA's size and allocation as its record says, where
 * libntfs-3g does not open it (an encrypted file's). Under nl->lock. */
int ntfs_data_record_size(ntfs_inode *ni, uint64_t *size, uint64_t *alloc);
/* The bytes its stream takes on disk (a Compact OS file's size on disk).
 * Under nl->lock. */
uint64_t ntfs_wof_alloc(ntfs_inode *ni);
/* Read a file of store s, size bytes (not plain): a Compact OS file's
 * data, nothing for an alias, -EIO for data not here (logged once per
 * file). Without nl->lock. */
ssize_t ntfs_store_read(struct ntfs_layer *nl, lf_ino ino, unsigned s, uint64_t size, void *buf,
			size_t len, uint64_t off);
/* Say once that a plain file's data did not read (libntfs-3g's why).
 * Without nl->lock. */
void ntfs_say_unread(struct ntfs_layer *nl, lf_ino ino, uint64_t off, const char *why);
/* A Compact OS file opened / let go: its decoder lives while open. */
int ntfs_wof_hold(struct ntfs_layer *nl, lf_ino ino, unsigned s, uint64_t size);
void ntfs_wof_drop(struct ntfs_layer *nl, lf_ino ino);
/* Read an open Compact OS file through its decoder; -ENOENT when ino is
 * not one open. Without nl->lock. */
ssize_t ntfs_wof_pread_open(struct ntfs_layer *nl, lf_ino ino, void *buf, size_t len, uint64_t off);
void ntfs_store_free(struct ntfs_layer *nl);

#endif
