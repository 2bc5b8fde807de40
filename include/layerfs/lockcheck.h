/* Lock order, checked while testing (the kernel's lockdep idea, cut down).
 *
 * Every lock of the engine, regfs and layerd belongs to a class with a
 * rank; the map that says what each class guards and why it sits where
 * it does is at the top of fs/union/union_int.h (regfs' part in
 * regfs/view/reg_view_int.h). A thread takes locks in rising rank only:
 * taking one of a rank lower than or equal to one it holds, or a lock it
 * holds already, aborts at once with both places. Locks of equal rank
 * may nest only through a class of their own (a folder's child under
 * its parent: LF_LK_NODE_CHILD). A trylock cannot wait, so it is not
 * checked, but is held like any other for what comes after it.
 *
 * Built with -Dlockcheck=true (CI's sanitizer build); otherwise every
 * wrapper below is the plain pthread call and costs nothing. */
#ifndef LAYERFS_LOCKCHECK_H
#define LAYERFS_LOCKCHECK_H

#include <pthread.h>

enum lf_lock_class {
	LF_LK_SESSION,       /* layerd: one session's refresh or logoff */
	LF_LK_DAEMON,        /* layerd: its sessions and the logins under way */
	LF_LK_RECLAIM,       /* the heap trimmer's list of reclaimers */
	LF_LK_UNION_CFG,     /* a union's layer set (rwlock) */
	LF_LK_UNION_WRITE,   /* a union: one change of the tree at a time */
	LF_LK_LAYER_CACHE,   /* layerd: layers shared between sessions */
	LF_LK_NODE,          /* a union node: its folder index */
	LF_LK_NODE_CHILD,    /* a node taken under its parent's */
	LF_LK_PREFETCH,      /* the read-ahead queues */
	LF_LK_UNION_MAPS,    /* a union's alias, link and merged-file tables */
	LF_LK_REG_FILE,      /* regfs: one open value file's buffer */
	LF_LK_REG_SAVE,      /* regfs: one change of the view, its save included */
	LF_LK_REG_VIEW,      /* regfs: the registry view */
	LF_LK_HIVE_CACHE,    /* merged hives shared between views */
	LF_LK_WOF,           /* a Compact OS file's decoder (its stream read under it) */
	LF_LK_LAYER,         /* a layer's own state (folder, NTFS volume) */
	LF_LK_OCI,           /* the process's registry clients and chunk cache (fs/oci/) */
	LF_LK_LEAF,          /* the rest: nothing is taken under them */
	LF_LK_HEAP_WAKE,     /* the heap trimmer's wake-up: innermost of all */
	LF_LK_NCLASSES
};

#define LF_LK_STR2(x) #x
#define LF_LK_STR(x) LF_LK_STR2(x)
#define LF_LK_HERE __FILE__ ":" LF_LK_STR(__LINE__)

#ifdef LF_LOCKCHECK
/* About to wait for lock l of class c at where: aborts on a wrong order. */
void lf_lk_check(const void *l, enum lf_lock_class c, const char *where);
/* l is now held (after a lock or a successful trylock). */
void lf_lk_held(const void *l, enum lf_lock_class c, const char *where);
/* l is let go. */
void lf_lk_drop(const void *l, const char *where);
/* How many locks this thread holds (tests). */
int lf_lk_depth(void);
#else
static inline void lf_lk_check(const void *l, enum lf_lock_class c, const char *where)
{ (void)l; (void)c; (void)where; }
static inline void lf_lk_held(const void *l, enum lf_lock_class c, const char *where)
{ (void)l; (void)c; (void)where; }
static inline void lf_lk_drop(const void *l, const char *where) { (void)l; (void)where; }
static inline int lf_lk_depth(void) { return 0; }
#endif

static inline void lf_mutex_lock_at(pthread_mutex_t *m, enum lf_lock_class c, const char *where)
{
	lf_lk_check(m, c, where);
	pthread_mutex_lock(m);
	lf_lk_held(m, c, where);
}

static inline int lf_mutex_trylock_at(pthread_mutex_t *m, enum lf_lock_class c, const char *where)
{
	int rc = pthread_mutex_trylock(m);
	if (rc == 0)
		lf_lk_held(m, c, where);
	return rc;
}

static inline void lf_mutex_unlock_at(pthread_mutex_t *m, const char *where)
{
	lf_lk_drop(m, where);
	pthread_mutex_unlock(m);
}

static inline void lf_rdlock_at(pthread_rwlock_t *l, enum lf_lock_class c, const char *where)
{
	lf_lk_check(l, c, where);
	pthread_rwlock_rdlock(l);
	lf_lk_held(l, c, where);
}

static inline void lf_wrlock_at(pthread_rwlock_t *l, enum lf_lock_class c, const char *where)
{
	lf_lk_check(l, c, where);
	pthread_rwlock_wrlock(l);
	lf_lk_held(l, c, where);
}

static inline int lf_tryrdlock_at(pthread_rwlock_t *l, enum lf_lock_class c, const char *where)
{
	int rc = pthread_rwlock_tryrdlock(l);
	if (rc == 0)
		lf_lk_held(l, c, where);
	return rc;
}

static inline int lf_trywrlock_at(pthread_rwlock_t *l, enum lf_lock_class c, const char *where)
{
	int rc = pthread_rwlock_trywrlock(l);
	if (rc == 0)
		lf_lk_held(l, c, where);
	return rc;
}

static inline void lf_rwunlock_at(pthread_rwlock_t *l, const char *where)
{
	lf_lk_drop(l, where);
	pthread_rwlock_unlock(l);
}

#define lf_mutex_lock(m, c) lf_mutex_lock_at((m), (c), LF_LK_HERE)
#define lf_mutex_trylock(m, c) lf_mutex_trylock_at((m), (c), LF_LK_HERE)
#define lf_mutex_unlock(m) lf_mutex_unlock_at((m), LF_LK_HERE)
#define lf_rdlock(l, c) lf_rdlock_at((l), (c), LF_LK_HERE)
#define lf_wrlock(l, c) lf_wrlock_at((l), (c), LF_LK_HERE)
#define lf_tryrdlock(l, c) lf_tryrdlock_at((l), (c), LF_LK_HERE)
#define lf_trywrlock(l, c) lf_trywrlock_at((l), (c), LF_LK_HERE)
#define lf_rwunlock(l) lf_rwunlock_at((l), LF_LK_HERE)

#endif
