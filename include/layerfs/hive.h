/* Registry hives as in-memory trees: loaded with hivex (plus what hivex
 * does not give: security descriptors and class names, read from the
 * file under bounds checks), and written back as compact regf files by
 * the project's own writer. No FUSE here. */
#ifndef LAYERFS_HIVE_H
#define LAYERFS_HIVE_H

#include <stddef.h>
#include <stdint.h>

#include "layerfs/arena.h"
#include "layerfs/err.h"

/* Value types (winnt.h's names). */
enum {
	REG_NONE = 0, REG_SZ = 1, REG_EXPAND_SZ = 2, REG_BINARY = 3, REG_DWORD = 4,
	REG_DWORD_BIG_ENDIAN = 5, REG_LINK = 6, REG_MULTI_SZ = 7, REG_RESOURCE_LIST = 8,
	REG_FULL_RESOURCE_DESCRIPTOR = 9, REG_RESOURCE_REQUIREMENTS_LIST = 10, REG_QWORD = 11,
};

struct lf_rval {
	char *name;              /* UTF-8; "" is the default value */
	uint32_t type;           /* REG_* */
	uint8_t *data;
	uint32_t len;
};

/* A key. A key of a frozen hive (lf_hive_freeze) is read-only and may be
 * shared by many views: a change takes a copy first (lf_rkey_own), so a
 * view owns only the keys on the paths it changed. */
struct lf_rkey {
	char *name;              /* UTF-8 */
	int64_t mtime;           /* FILETIME: 100 ns since 1601 */
	struct lf_rkey **sub;    /* in the hive's order (sorted, as Windows keeps them) */
	struct lf_rval *val;
	uint8_t *sd;             /* self-relative security descriptor, or NULL */
	uint8_t *cls;            /* class name, raw UTF-16LE, or NULL */
	struct lf_rindex *index; /* case-insensitive lookup (big keys only) */
	uint32_t nsub, capsub;
	uint32_t nval, capval;
	uint32_t sdlen;
	uint32_t woff, wsk;      /* the writer's: where its nk cell and sk go */
	uint16_t clslen;
	uint8_t frozen;          /* in a frozen hive's arena: never changed nor freed */
};

struct lf_hive {
	struct lf_rkey *root;
	int64_t mtime;           /* the base block's last-written time */
	int minor;               /* format version 1.minor read (3, 5...); 0: new, 1.5 */
	size_t nkeys, nvalues;
	int dirty;               /* seq1 != seq2: a write was not finished */
	int log_entries;         /* .LOG1/.LOG2 entries applied (0: none found) */
	char log_note[200];      /* dirty, logs not applied: what was seen of them */
	char base_only[400];     /* merged (lf_reg_compose): a copy was dirty without usable
				  * logs and read as its base image: which, to be said
				  * (the hive is shown read-only); "" when none */
	struct lf_arena arena;   /* a frozen hive's keys, values, names and data */
	int extra_refs;          /* holders beyond the first (lf_hive_ref) */
};

/* Load FILE. A dirty hive (seq1 != seq2) is read with the transaction
 * logs beside it (FILE.LOG1, FILE.LOG2, any case) applied, as Windows
 * would; without usable logs, as its base image (dirty set, log_entries
 * 0: the caller warns). */
int lf_hive_load(const char *file, struct lf_hive **out, struct lf_err *err);
/* Load a hive image held in memory (NAME is for messages); no logs are
 * looked for. */
int lf_hive_load_image(const char *name, const void *image, size_t size, struct lf_hive **out,
		       struct lf_err *err);
/* The same with the hive's transaction logs given as images (a layer's
 * HIVE.LOG1 and HIVE.LOG2, read whole; either may be NULL): a dirty hive
 * is read with them replayed, as lf_hive_load does with logs beside it. */
struct lf_hive_logs {
	const void *data[2];
	size_t len[2];
};
int lf_hive_load_image_logs(const char *name, const void *image, size_t size,
			    const struct lf_hive_logs *logs, struct lf_hive **out,
			    struct lf_err *err);
/* Drop a reference (the last one frees the hive). */
void lf_hive_free(struct lf_hive *h);
/* One more holder of h (thread-safe, as lf_hive_free is). */
struct lf_hive *lf_hive_ref(struct lf_hive *h);
/* Move the tree into one arena, sub-key and value lookups indexed where
 * keys are big, security descriptors stored once: read-only from then on
 * and safe to share between threads. 0 or -ENOMEM (the hive unchanged).
 * Never write a frozen tree with lf_hive_write/lf_hive_image (the writer
 * keeps notes in the keys): write a view's own copy. */
int lf_hive_freeze(struct lf_hive *h);

/* Write the hive to FILE as a compact regf (via a temporary, fsynced and
 * renamed into place). */
int lf_hive_write(struct lf_hive *h, const char *file, struct lf_err *err);
/* The same into NAME in folder dirfd: a new temporary beside it (never
 * an existing name, never through a symlink), fsynced, renamed over it. */
int lf_hive_write_at(struct lf_hive *h, int dirfd, const char *name, struct lf_err *err);
/* The same with its temporary in folder tmpfd (lf_safe_replace_via). */
int lf_hive_write_via(struct lf_hive *h, int tmpfd, int dirfd, const char *name,
		      struct lf_err *err);
/* The same compact regf, in memory (*image malloc'd). Both sort subkeys
 * by upper-cased name, as Windows keeps them. */
int lf_hive_image(struct lf_hive *h, uint8_t **image, size_t *size, struct lf_err *err);

/* Merging. A rule names a ';'-list value (KEY is a shell pattern over the
 * key's path from the hive's root, VALUE a value name; both ignore case). */
struct lf_reg_rule {
	const char *key;
	const char *value;
};
struct lf_merge {
	const struct lf_reg_rule *rules;
	size_t nrules;
};
/* Path, PATHEXT, PSModulePath of Session Manager\Environment; a user's Path. */
const struct lf_reg_rule *lf_reg_builtin_rules(size_t *n);
/* The built-in rules plus those of a rules file ("KEY-PATTERN = VALUE" a
 * line, '#' or ';' comments); free with lf_reg_rules_free. */
int lf_reg_rules_load(const char *file, struct lf_merge *m, struct lf_err *err);
void lf_reg_rules_free(struct lf_merge *m);
/* Does the merge join two layers' values of this name and type (a
 * MULTI_SZ, or a ;-list a rule names) rather than let the higher win?
 * keypath: from the hive's root, '\\'-separated. */
int lf_reg_joins(const struct lf_merge *m, const char *keypath, const char *value, uint32_t type);
/* Merge top (a higher layer's fragment) onto base, in place. m NULL: the
 * built-in rules. 0 or -errno. */
int lf_hive_merge(struct lf_rkey *base, const struct lf_rkey *top, const struct lf_merge *m);

/* What differs between the trees under a and b: fn gets '+' (only in
 * b), '-' (only in a) or '~' (a value changed), the key's path below the
 * roots ('\\'-joined) and the value's name, or NULL for a whole key. */
typedef void (*lf_reg_diff_fn)(void *ctx, char what, const char *key, const char *value);
void lf_reg_diff(const struct lf_rkey *a, const struct lf_rkey *b, lf_reg_diff_fn fn, void *ctx);

/* Keys and values; lookups ignore case as Windows does. */
struct lf_rkey *lf_rkey_new(const char *name, int64_t mtime);
void lf_rkey_free(struct lf_rkey *k);
struct lf_rkey *lf_rkey_find(struct lf_rkey *k, const char *name);
struct lf_rval *lf_rval_find(struct lf_rkey *k, const char *name);
/* Remove a subkey (with all below it) or a value, by name in any case. */
void lf_rkey_remove(struct lf_rkey *k, const char *name);
void lf_rval_remove(struct lf_rkey *k, const char *name);
/* .reg text (regedit 5.00) of the tree under root, whose path is prefix
 * ("HKEY_LOCAL_MACHINE\\SOFTWARE"); UTF-8, or UTF-16LE with a BOM. */
int lf_reg_export(const struct lf_rkey *root, const char *prefix, int utf16, char **text,
		  size_t *len);
#define LF_REG_UTF16 1u          /* UTF-16LE with a BOM, as regedit writes */
#define LF_REG_ESCAPE 2u         /* names with NUL, CR or LF escaped (%00, %0D,
				  * %0A; % as %25), said in a comment line:
				  * this project's form, which regedit cannot read;
				  * without it such a name is refused (EILSEQ, err
				  * names it). lf_reg_import reads it back. */
int lf_reg_export_ex(const struct lf_rkey *root, const char *prefix, unsigned flags, char **text,
		     size_t *len, struct lf_err *err);
/* Apply .reg text (UTF-16LE with a BOM, or UTF-8) to the tree under root,
 * whose path is prefix; keys outside it are an error. On error, err names
 * the line; the tree may hold the edits before it. */
int lf_reg_import(struct lf_rkey *root, const char *prefix, const char *text, size_t len,
		  const char *what, struct lf_err *err);
/* The same into a layer's fragment of a hive: "[-KEY]" and "NAME"=- become
 * the delete markers the merge applies to the layers below (sub-key or
 * value ".wh.NAME"), as a layer's own files delete what is below. */
int lf_reg_import_fragment(struct lf_rkey *root, const char *prefix, const char *text, size_t len,
			   const char *what, struct lf_err *err);
/* A changeable copy of key f: its values and descriptor copied, its
 * sub-keys the same (shared) ones. NULL: out of memory. */
struct lf_rkey *lf_rkey_thaw(const struct lf_rkey *f);
/* Make parent's sub-key at pos the view's own (a copy of a frozen one,
 * its sub-keys still shared); parent must be owned. NULL: out of memory. */
struct lf_rkey *lf_rkey_own(struct lf_rkey *parent, uint32_t pos);
/* Position of the sub-key NAME (any case) in k->sub, or -1. */
long lf_rkey_pos(struct lf_rkey *k, const char *name);
/* Names were removed or respelt: drop the lookup index (rebuilt on use). */
void lf_rkey_changed(struct lf_rkey *k);
/* Append (the caller keeps names unique); 0 or -ENOMEM. */
int lf_rkey_add(struct lf_rkey *parent, struct lf_rkey *child);
int lf_rkey_set(struct lf_rkey *k, const char *name, uint32_t type, const void *data,
		uint32_t len);

#endif
