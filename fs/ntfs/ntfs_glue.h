/* libntfs-3g on a block source, and its log captured for error reports. */
#ifndef LF_NTFS_GLUE_H
#define LF_NTFS_GLUE_H

/* ntfs-3g's ntfstime.h redefines struct timespec unless sys/stat.h and
 * time.h come first. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/ea.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/reparse.h>
#include <ntfs-3g/security.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>
#include <ntfs-3g/xattrs.h>
#include <ntfs-3g/cache.h>

#include "layerfs/source.h"

/* A read-only ntfs_device over part of a block source. */
struct ntfs_device *lf_ntfs_device_new(struct lf_source *src,
				       const struct lf_volume_extent *ext);

/* Route libntfs-3g's error messages into a per-thread buffer, so that a
 * failure can say what libntfs-3g said. Idempotent. */
/* Refuse, with a clear error, a volume libntfs-3g would refuse only after
 * leaking (ntfs_precheck.c); 0 when it may be mounted. */
int lf_ntfs_precheck(struct lf_source *src, const struct lf_volume_extent *ext,
		     struct lf_err *err);
void lf_ntfs_log_capture(void);
/* The last message libntfs-3g logged on this thread ("" if none), and
 * forget it. */
const char *lf_ntfs_log_last(void);
void lf_ntfs_log_clear(void);

#endif
