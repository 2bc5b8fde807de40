/* Windows security: SIDs, security descriptors (self-relative, as NTFS
 * and registry sk cells keep them), access checks for a token as
 * MS-DTYP's AccessCheck makes them, inheritance for new objects, SDDL.
 * Descriptors are bytes from disk or a user: every function here takes
 * them as hostile. No FUSE, no file system in here. */
#ifndef LAYERFS_SECURITY_H
#define LAYERFS_SECURITY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Rights (MS-DTYP 2.4.3). For a folder, READ_DATA lists it, WRITE_DATA
 * adds a file, APPEND_DATA adds a subfolder, EXECUTE traverses it. */
#define LF_FILE_READ_DATA        0x00000001u
#define LF_FILE_WRITE_DATA       0x00000002u
#define LF_FILE_APPEND_DATA      0x00000004u
#define LF_FILE_READ_EA          0x00000008u
#define LF_FILE_WRITE_EA         0x00000010u
#define LF_FILE_EXECUTE          0x00000020u
#define LF_FILE_DELETE_CHILD     0x00000040u
#define LF_FILE_READ_ATTRIBUTES  0x00000080u
#define LF_FILE_WRITE_ATTRIBUTES 0x00000100u
#define LF_FILE_LIST_DIRECTORY   LF_FILE_READ_DATA
#define LF_FILE_ADD_FILE         LF_FILE_WRITE_DATA
#define LF_FILE_ADD_SUBDIRECTORY LF_FILE_APPEND_DATA
#define LF_KEY_QUERY_VALUE       0x00000001u
#define LF_KEY_SET_VALUE         0x00000002u
#define LF_KEY_CREATE_SUB_KEY    0x00000004u
#define LF_KEY_ENUMERATE_SUB_KEYS 0x00000008u
#define LF_DELETE                0x00010000u
#define LF_READ_CONTROL          0x00020000u
#define LF_WRITE_DAC             0x00040000u
#define LF_WRITE_OWNER           0x00080000u
#define LF_SYNCHRONIZE           0x00100000u
#define LF_ACCESS_SYSTEM_SECURITY 0x01000000u
#define LF_MAXIMUM_ALLOWED       0x02000000u
#define LF_GENERIC_ALL           0x10000000u
#define LF_GENERIC_EXECUTE       0x20000000u
#define LF_GENERIC_WRITE         0x40000000u
#define LF_GENERIC_READ          0x80000000u

/* What GENERIC_* means for an object type (MS-DTYP 2.4.3). */
struct lf_generic_map {
	uint32_t read, write, execute, all;
};
extern const struct lf_generic_map lf_file_map;   /* files and folders */
extern const struct lf_generic_map lf_key_map;    /* registry keys */

/* Descriptor control bits and ACE flags (MS-DTYP 2.4.6, 2.4.4.1). */
#define LF_SE_DACL_PRESENT       0x0004u
#define LF_SE_SACL_PRESENT       0x0010u
#define LF_SE_DACL_AUTO_INHERIT_REQ 0x0100u
#define LF_SE_DACL_AUTO_INHERITED 0x0400u
#define LF_SE_DACL_PROTECTED     0x1000u
#define LF_SE_SELF_RELATIVE      0x8000u
#define LF_ACE_OBJECT_INHERIT    0x01u
#define LF_ACE_CONTAINER_INHERIT 0x02u
#define LF_ACE_NO_PROPAGATE      0x04u
#define LF_ACE_INHERIT_ONLY      0x08u
#define LF_ACE_INHERITED         0x10u
#define LF_ACE_ALLOWED           0
#define LF_ACE_DENIED            1

#define LF_SID_MAX_SUB 15
struct lf_sid {
	uint8_t nsub;
	uint8_t auth[6];         /* big-endian, as on disk */
	uint32_t sub[LF_SID_MAX_SUB];
};

/* Well-known SIDs the token and the default descriptors use. */
extern const struct lf_sid lf_sid_everyone, lf_sid_creator_owner, lf_sid_creator_group,
	lf_sid_owner_rights, lf_sid_local, lf_sid_interactive, lf_sid_authenticated,
	lf_sid_system, lf_sid_admins, lf_sid_users;

/* A SID from its binary form: the bytes it takes, or -EINVAL. */
int lf_sid_read(const uint8_t *p, size_t len, struct lf_sid *out);
size_t lf_sid_size(const struct lf_sid *s);
void lf_sid_write(const struct lf_sid *s, uint8_t *p);
int lf_sid_eq(const struct lf_sid *a, const struct lf_sid *b);
/* "S-1-5-21-...", or an SDDL alias ("BA", "SY") where aliases is set. */
int lf_sid_from_text(const char *s, struct lf_sid *out);
void lf_sid_to_text(const struct lf_sid *s, char *buf, size_t n);

/* Who asks: a user and her groups, or SYSTEM (every right). */
struct lf_token {
	struct lf_sid user;
	struct lf_sid group;     /* primary group: new objects' group */
	struct lf_sid *groups;
	int ngroups;
	int system;
};
/* A standard interactive user's token: Everyone, LOCAL, INTERACTIVE,
 * Authenticated Users, BUILTIN\Users, and BUILTIN\Administrators when
 * admin. -ENOMEM on failure. */
int lf_token_user(struct lf_token *t, const struct lf_sid *user, int admin);
void lf_token_system(struct lf_token *t);
/* dst: a copy of src that owns its own groups. 0 or -ENOMEM. */
int lf_token_copy(struct lf_token *dst, const struct lf_token *src);
void lf_token_free(struct lf_token *t);
int lf_token_has(const struct lf_token *t, const struct lf_sid *s);

/* 0 if sd[0..len) is a well-formed self-relative descriptor (every
 * offset, size and SID inside it), else -EINVAL with *why saying what. */
int lf_sd_check(const uint8_t *sd, size_t len, const char **why);
/* The owner (or group) SID; -ENOENT if it has none, -EINVAL if bad. */
int lf_sd_owner(const uint8_t *sd, size_t len, struct lf_sid *out);
int lf_sd_group(const uint8_t *sd, size_t len, struct lf_sid *out);

/* The rights t has on an object with descriptor sd (MAXIMUM_ALLOWED):
 * DACL in order, each ACE's mask mapped by map, deny and allow as
 * stored; no DACL or a NULL DACL grants all, an empty one none; the
 * owner has READ_CONTROL and WRITE_DAC unless an OWNER RIGHTS ACE says
 * otherwise. A bad descriptor grants nothing (SYSTEM excepted). */
uint32_t lf_sd_rights(const uint8_t *sd, size_t len, const struct lf_token *t,
		      const struct lf_generic_map *map);
/* 0 if got (rights lf_sd_rights gave) holds every right of want (generic
 * ones mapped by map), else -EACCES: the one access decision, the
 * drive's and REG's alike. */
int lf_rights_allow(uint32_t got, uint32_t want, const struct lf_generic_map *map);
/* lf_rights_allow of what t has by sd. */
int lf_sd_access(const uint8_t *sd, size_t len, const struct lf_token *t,
		 const struct lf_generic_map *map, uint32_t want);

/* The descriptor Windows gives an object made by t in a parent whose
 * descriptor is parent (NULL: none): owner t's user, group t's primary
 * group, the ACEs the parent's DACL passes down (object/container
 * inherit, inherit-only, no-propagate, CREATOR OWNER/GROUP replaced,
 * generic rights mapped in the effective copies), or t's default DACL
 * (the user and SYSTEM: all) when nothing is inherited. *out malloc'd. */
int lf_sd_inherit(const uint8_t *parent, size_t plen, const struct lf_token *t,
		  int container, const struct lf_generic_map *map,
		  uint8_t **out, size_t *outlen);
/* A descriptor from a POSIX mode, for entries that have none (folder
 * layers, host files): owner (and group) owner, or BUILTIN\Administrators
 * when NULL; owner bits to the owner, Administrators and SYSTEM, other
 * bits to BUILTIN\Users; folders' ACEs inherit. *out malloc'd. */
int lf_sd_from_mode(mode_t mode, const struct lf_sid *owner, uint8_t **out, size_t *outlen);
/* rwx as `ls -l` shows them for rights granted on a file or folder (a
 * folder is always x: Windows gives everyone bypass-traverse). */
unsigned lf_rights_rwx(uint32_t rights, int folder);

/* ntfs-3g's UserMapping text ("uid:gid:SID" lines, "::SID" a default
 * pattern: 2*uid added to its last sub-authority): uid's SID. 1 found,
 * 0 not there, -EINVAL with the 1-based *bad_line. */
int lf_usermap_sid(const char *text, size_t len, uint32_t uid, struct lf_sid *out, int *bad_line);

/* SDDL (MS-DTYP 2.5.1): text to descriptor and back. from_sddl: *why
 * names the problem on -EINVAL. to_sddl: *out malloc'd. */
int lf_sd_from_sddl(const char *sddl, uint8_t **out, size_t *outlen, const char **why);
int lf_sd_to_sddl(const uint8_t *sd, size_t len, char **out);

#endif
