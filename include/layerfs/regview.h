/* The registry as a file tree, as regfs shows it. No FUSE here.
 *
 *   /HKLM/SOFTWARE/Microsoft/...   a key is a directory
 *   .../Windows NT/CurrentVersion/ProductName   a value is a file
 *
 * A value's file holds the value as text: REG_SZ and REG_EXPAND_SZ as
 * UTF-8 with a newline, REG_DWORD and REG_QWORD in decimal, REG_MULTI_SZ
 * one string a line, anything else (or data its type cannot say as text)
 * the raw bytes. The xattr user.reg.type names the type, user.reg.raw
 * holds the bytes. The default value is "@". CurrentControlSet (in
 * HKLM/SYSTEM) is a symlink to the set Select\Current names.
 *
 * With a fragment file per hive, changes go into it as a layer does: new
 * and changed keys and values, and delete markers (.wh.NAME) for what a
 * lower layer has. Every call is thread-safe. */
#ifndef LAYERFS_REGVIEW_H
#define LAYERFS_REGVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "layerfs/err.h"
#include "layerfs/hive.h"

#define LF_REG_TYPE_XATTR "user.reg.type"
#define LF_REG_RAW_XATTR "user.reg.raw"

/* Names as file names: '/', '%' and control characters become %XX; ".",
 * ".." and "@" are escaped whole; the default value is "@".
 * A value whose name a subkey also has is listed as NAME%v (any value can
 * be reached so). Returns the length, or -ENAMETOOLONG. */
int lf_regname_encode(const char *name, int is_value, int value_mark, char *out, size_t size);
/* Back: 0, or -EINVAL for a broken escape. */
int lf_regname_decode(const char *fname, char *out, size_t size, int *value_mark,
		      int *is_default);

/* "REG_SZ" (or "0x1f" for a type without a name); the length. */
int lf_regtype_name(uint32_t type, char *buf, size_t size);
/* A type from its name ("REG_DWORD", "DWORD", any case) or number. */
int lf_regtype_parse(const char *s, size_t len, uint32_t *type);
/* The value as its file shows it (*text malloc'd). */
int lf_regval_text(uint32_t type, const uint8_t *data, uint32_t len, char **text, size_t *tlen);
/* Whether that text is the typed form (else it is the raw bytes). */
int lf_regval_is_text(uint32_t type, const uint8_t *data, uint32_t len);
/* A file's text to data of the type (*data malloc'd); -EINVAL if it does
 * not parse (a DWORD that is no number). */
int lf_regval_parse(uint32_t type, const char *text, size_t tlen, uint8_t **data,
		    uint32_t *len);

struct lf_regview;

/* rules: the ;-list merge rules (NULL: built in); log: a line for
 * trouble met while serving (NULL: stderr). */
int lf_regview_new(const struct lf_merge *rules, void (*log)(void *ctx, const char *line),
		   void *log_ctx, struct lf_regview **out);
/* Show the hive `lower` (taken, even on error) at MOUNT ("HKLM/SOFTWARE",
 * "HKU/.DEFAULT"). frag_file: the writable layer's fragment of it, read
 * if it is there and written on each change; NULL: read-only. */
int lf_regview_add(struct lf_regview *v, const char *mount, struct lf_hive *lower,
		   const char *frag_file, struct lf_err *err);
void lf_regview_free(struct lf_regview *v);
/* Show from's hives in v instead of v's own (a running mount's view gets
 * new layers); from is freed. */
void lf_regview_take(struct lf_regview *v, struct lf_regview *from);
/* A hive no layer has, only the writable layer (a user's own profile,
 * made at her first login): shown at MOUNT when FRAG_FILE exists. 1 if
 * added, 0 if not there or a layer has it (added with it), or an error. */
int lf_regview_add_own(struct lf_regview *v, const char *mount, const char *frag_file,
		       struct lf_err *err);
/* Fragments under DIR (the writable layer's folder: a tree its user may
 * influence) are read and written only through this folder's fd (a dup of
 * fd is kept): never through a symlink, never above it. 0 or -errno. */
int lf_regview_set_frag_root(struct lf_regview *v, int fd, const char *dir);
/* Who keys and values belong to (default: the process's own ids); the
 * view is then that user's alone: its root is closed to others (0700). */
void lf_regview_set_owner(struct lf_regview *v, uid_t uid, gid_t gid);
/* The i-th hive shown read-only because a layer's copy lost its last
 * write (dirty, no usable logs): its mount ("HKLM/SECURITY") and why, in
 * the buffers; 1, or 0 when there are no more. */
int lf_regview_read_only(struct lf_regview *v, int i, char *mount, size_t msize, char *why,
			 size_t wsize);
/* Windows rights (a session): keys' descriptors decide what uid may do,
 * with t's rights (copied); uid 0 is SYSTEM, anyone else gets nothing;
 * HKU\USER is hers in full. New keys inherit their parent's ACEs. */
struct lf_token;
int lf_regview_set_access(struct lf_regview *v, const char *user, uid_t uid, gid_t gid,
			  const struct lf_token *t);
/* A root mount without a session: root is SYSTEM, anyone else a standard
 * user (Everyone, Users, ...), checked the same way; owner bits show what
 * Administrators may do. */
int lf_regview_set_plain_access(struct lf_regview *v);

typedef int (*lf_regview_fn)(void *ctx, const char *name, const struct stat *st);

/* The mount's requests. uid is who asks: her rights are checked inside
 * the call (a session), PATH resolved once under one hold of the view's
 * lock, and attributes come back with the mode the session user is
 * shown (her rights whoever asks: r lists a key or reads a value, w
 * makes subkeys or sets it). */
int lf_regview_stat_as(struct lf_regview *v, uid_t uid, const char *path, struct stat *st);
/* A listing: KEY_ENUMERATE_SUB_KEYS; fn gets each entry as shown. */
int lf_regview_list_as(struct lf_regview *v, uid_t uid, const char *path, lf_regview_fn fn,
		       void *ctx);
/* Opening a value's file for flags: EISDIR, EROFS, KEY_QUERY_VALUE to
 * read, KEY_SET_VALUE to write or truncate; its text (*text malloc'd)
 * unless text is NULL. */
int lf_regview_open_as(struct lf_regview *v, uid_t uid, const char *path, int flags,
		       char **text, size_t *len);

/* Paths are '/'-separated from the view's root, as FUSE gives them. */
int lf_regview_stat(struct lf_regview *v, const char *path, struct stat *st);
int lf_regview_list(struct lf_regview *v, const char *path, lf_regview_fn fn, void *ctx);
int lf_regview_read(struct lf_regview *v, const char *path, char **text, size_t *len);
int lf_regview_readlink(struct lf_regview *v, const char *path, char *buf, size_t size);
ssize_t lf_regview_listxattr(struct lf_regview *v, const char *path, char *buf, size_t size);
ssize_t lf_regview_getxattr(struct lf_regview *v, const char *path, const char *name,
			    void *buf, size_t size);

/* Changes; -EROFS without a fragment. Each is asked by uid, whose rights
 * it checks as lf_regview_set_access says (-EACCES; uid 0 is SYSTEM):
 * setxattr and unlink KEY_SET_VALUE on the value's key, create
 * KEY_SET_VALUE and mkdir KEY_CREATE_SUB_KEY on the key it is made in,
 * rmdir DELETE on the key, rename of a key DELETE on it and
 * KEY_CREATE_SUB_KEY where it goes, of a value KEY_SET_VALUE on both
 * keys. create and mkdir fill st (unless
 * NULL) as lf_regview_stat_as would. write checks nothing: the file was
 * opened for writing (lf_regview_open_as). truncate: the value's file
 * cut or zero-filled to size bytes, parsed as a write would be. */
int lf_regview_setxattr(struct lf_regview *v, uid_t uid, const char *path, const char *name,
			const void *value, size_t size);
int lf_regview_create(struct lf_regview *v, uid_t uid, const char *path, struct stat *st);
int lf_regview_write(struct lf_regview *v, const char *path, const char *text, size_t len);
int lf_regview_truncate(struct lf_regview *v, uid_t uid, const char *path, size_t size);
int lf_regview_mkdir(struct lf_regview *v, uid_t uid, const char *path, struct stat *st);
int lf_regview_rmdir(struct lf_regview *v, uid_t uid, const char *path);
int lf_regview_unlink(struct lf_regview *v, uid_t uid, const char *path);
/* flags: RENAME_NOREPLACE; within one hive (else -EXDEV). */
int lf_regview_rename(struct lf_regview *v, uid_t uid, const char *from, const char *to,
		      unsigned flags);

#endif
