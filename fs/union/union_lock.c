/* Node locks: a futex word per node (see union_int.h for why). The
 * classic three-state lock: 0 free, 1 held, 2 held with waiters. */
#include <errno.h>
#include <stdio.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "union_int.h"

static void futex(atomic_uint *w, int op, unsigned val)
{
	syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

void union_enter(struct lf_union *u)
{
	lf_rdlock(&u->cfg, LF_LK_UNION_CFG);
}

int union_leave(struct lf_union *u, int rc)
{
	lf_rwunlock(&u->cfg);
	return rc;
}

ssize_t union_leave_n(struct lf_union *u, ssize_t n)
{
	lf_rwunlock(&u->cfg);
	return n;
}

int node_trylock_at(struct unode *n, const char *where)
{
	unsigned c = 0;
	if (!atomic_compare_exchange_strong(&n->lock, &c, 1))
		return EBUSY;
	lf_lk_held(n, LF_LK_NODE_CHILD, where);   /* cannot wait: any rank */
	return 0;
}

void node_lock_at(struct unode *n, enum lf_lock_class cls, const char *where)
{
	lf_lk_check(n, cls, where);
	unsigned c = 0;
	if (!atomic_compare_exchange_strong(&n->lock, &c, 1)) {
		if (c != 2)
			c = atomic_exchange(&n->lock, 2);
		while (c != 0) {
			futex(&n->lock, FUTEX_WAIT_PRIVATE, 2);
			c = atomic_exchange(&n->lock, 2);
		}
	}
	lf_lk_held(n, cls, where);
}

void node_unlock_at(struct unode *n, const char *where)
{
	lf_lk_drop(n, where);
	if (atomic_fetch_sub(&n->lock, 1) != 1) {
		atomic_store(&n->lock, 0);
		futex(&n->lock, FUTEX_WAKE_PRIVATE, 1);
	}
}

uint64_t node_where(struct unode *n, char *name, size_t size)
{
	node_lock(n);
	snprintf(name, size, "%s", n->name);
	uint64_t parent = n->parent;
	node_unlock(n);
	return parent;
}

int node_rename(struct unode *n, const char *name)
{
	char *s = strdup(name);
	if (!s)
		return -ENOMEM;
	if (n->name != n->inline_name)
		free(n->name);
	n->name = s;
	return 0;
}
