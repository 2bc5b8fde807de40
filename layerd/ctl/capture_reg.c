/* layerctl capture's registry side: for each hive B changed, a fragment
 * of the keys and values that differ (.wh. markers for deleted ones),
 * read on both sides as a session reads them (a dirty hive's logs
 * replayed alike); reboot work left pending refused. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "capture_int.h"
#include "cli.h"
#include "layerfs/regcompose.h"

static struct lf_rkey *key_at(struct lf_rkey *root, const char *path, int make)
{
	char *p = strdup(path), *save = NULL;
	struct lf_rkey *k = root;
	for (char *n = p ? strtok_r(p, "\\", &save) : NULL; k && n; n = strtok_r(NULL, "\\", &save)) {
		struct lf_rkey *s = lf_rkey_find(k, n);
		if (!s && make && (s = lf_rkey_new(n, 0)) && lf_rkey_add(k, s)) {
			lf_rkey_free(s);
			s = NULL;
		}
		k = s;
	}
	free(p);
	return k;
}

/* B's key k (at full, "HKLM/SOFTWARE/..."), whole but what the rules
 * leave out below it. */
static struct lf_rkey *deep_copy(struct capture *c, const struct lf_rkey *k, const char *full)
{
	struct lf_rkey *n = lf_rkey_new(k->name, k->mtime);
	for (size_t i = 0; n && i < k->nval; i++)
		if (lf_rkey_set(n, k->val[i].name, k->val[i].type, k->val[i].data, k->val[i].len)) {
			lf_rkey_free(n);
			return NULL;
		}
	if (n && k->sd && (n->sd = malloc(k->sdlen))) {
		memcpy(n->sd, k->sd, k->sdlen);
		n->sdlen = k->sdlen;
	}
	for (size_t i = 0; n && i < k->nsub; i++) {
		char sub[PATH_MAX];
		snprintf(sub, sizeof sub, "%s/%s", full, k->sub[i]->name);
		if (capture_excluded(&c->keys, sub))
			continue;
		struct lf_rkey *s = deep_copy(c, k->sub[i], sub);
		if (!s || lf_rkey_add(n, s)) {
			lf_rkey_free(s);
			lf_rkey_free(n);
			return NULL;
		}
	}
	return n;
}

/* The keys (k itself among them) and values of a tree. */
static void count_tree(const struct lf_rkey *k, long *keys, long *values)
{
	if (!k)
		return;
	*keys += 1;
	*values += (long)k->nval;
	for (size_t i = 0; i < k->nsub; i++)
		count_tree(k->sub[i], keys, values);
}

static void reg_change(void *ctx, char what, const char *key, const char *value)
{
	struct capture *c = ctx;
	char full[PATH_MAX];
	snprintf(full, sizeof full, "%s/%s", c->hive, key);
	for (char *p = full; *p; p++)
		if (*p == '\\')
			*p = '/';
	if (capture_excluded(&c->keys, full))
		return;
	/* finalize: reboot work left pending is no layer's to carry (a value
	 * set, or a new key holding values) */
	struct lf_rkey *bk = what == '+' && !value ? key_at(c->broot, key, 0) : NULL;
	int sets = value ? what != '-' : bk && bk->nval;
	const char *vname = value ? value : "";
	if (sets &&
	    ((!strcasecmp(c->hive, "HKLM/SYSTEM") &&
	      fnmatch("ControlSet*\\Control\\Session Manager", key, FNM_CASEFOLD | FNM_NOESCAPE) == 0 &&
	      (!value || !strcasecmp(vname, "PendingFileRenameOperations")) &&
	      (value || lf_rval_find(bk, "PendingFileRenameOperations"))) ||
	     (!strcasecmp(c->hive, "HKLM/SOFTWARE") &&
	      (fnmatch("Microsoft\\Windows\\CurrentVersion\\RunOnce", key, FNM_CASEFOLD | FNM_NOESCAPE) == 0 ||
	       fnmatch("WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\RunOnce", key,
		       FNM_CASEFOLD | FNM_NOESCAPE) == 0))))
		capture_refuse(c, "pending-reboot", full);
	char parent[PATH_MAX];
	const char *bs = strrchr(key, '\\');
	snprintf(parent, sizeof parent, "%.*s", bs ? (int)(bs - key) : 0, key);
	const char *leaf = bs ? bs + 1 : key;
	if (value) {                  /* a value: set as B has it, or a marker */
		struct lf_rkey *fk = key_at(c->frag, key, 1);
		char tok[1100];
		snprintf(tok, sizeof tok, "%s%s", LF_WHITEOUT_PREFIX, value);
		struct lf_rval *v = what == '-' ? NULL : lf_rval_find(key_at(c->broot, key, 0), value);
		if (!fk || (what == '-' ? lf_rkey_set(fk, tok, REG_NONE, "", 0)
			    : !v || lf_rkey_set(fk, value, v->type, v->data, v->len)))
			c->failed = 1;
		*(what == '-' ? &c->nmarkers : &c->nvalues) += 1;
	} else if (what == '+') {     /* a key of B's (bk, found above): whole */
		struct lf_rkey *copy = bk ? deep_copy(c, bk, full) : NULL;
		if (copy && !copy->nsub && !copy->nval && bk->nsub) {
			lf_rkey_free(copy);  /* all it held was noise */
			return;
		}
		struct lf_rkey *fp = key_at(c->frag, parent, 1);
		long keys = 0, values = 0;
		count_tree(copy, &keys, &values);
		if (!fp || !copy || lf_rkey_add(fp, copy)) {
			lf_rkey_free(copy);
			c->failed = 1;
		}
		c->nkeys += keys;
		c->nvalues += values;
	} else {                      /* a key B lost: its marker */
		char tok[1100];
		snprintf(tok, sizeof tok, "%s%s", LF_WHITEOUT_PREFIX, leaf);
		struct lf_rkey *fp = key_at(c->frag, parent, 1), *t = lf_rkey_new(tok, 0);
		if (!fp || !t || lf_rkey_add(fp, t)) {
			lf_rkey_free(t);
			c->failed = 1;
		}
		c->nmarkers++;
	}
}

static void note_dirty(struct capture *c, const char *place, const struct lf_hive *h)
{
	json_array_append_new(c->dirty, json_pack("{s:s, s:b, s:i}", "hive", place, "logs_replayed",
						  h->log_entries > 0, "log_entries", h->log_entries));
	if (!c->json)
		fprintf(stderr, "layerctl: note: %s of the layers below is dirty (a write Windows did "
			"not finish): %s\n", place, h->log_entries
			? "read with its transaction logs replayed, before and after alike"
			: "no usable logs beside it: read as its base image, before and after alike");
}

/* A hive B changed: its fragment into the staging folder at path. */
int capture_hive_fragment(struct capture *c, const char *path, const char *place)
{
	struct lf_hive *ha = NULL, *hb = NULL;
	struct lf_err err = {0};
	int ra = lf_hive_load_union(c->a, path, 1u << 30, &ha, &err);
	if (ra && ra != -ENOENT) {
		if (!cli_union_spoke())
			cli_error("%s", err.msg);
		c->failed = 1;
		return ra;
	}
	int rb = lf_hive_load_union(c->b, path, 1u << 30, &hb, &err);
	if (rb) {
		if (!cli_union_spoke())
			cli_error("%s", rb == -ENOENT ? path : err.msg);
		c->failed = 1;     /* said */
		lf_hive_free(ha);
		return rb;
	}
	/* a dirty hive below: read with its logs on both sides (as a
	 * session reads it), said so the admin knows why the OS's logged
	 * changes are not the app's */
	if (ha && ha->dirty)
		note_dirty(c, place, ha);
	struct lf_rkey *empty = lf_rkey_new("ROOT", 0);
	struct lf_hive frag = { .root = lf_rkey_new(hb->root->name, hb->mtime), .mtime = hb->mtime };
	c->frag = frag.root;
	c->broot = hb->root;
	c->hive = place;
	int rc = empty && frag.root ? 0 : -ENOMEM;
	if (!rc)
		lf_reg_diff(ha ? ha->root : empty, hb->root, reg_change, c);
	const char *name;
	int dfd = rc || (!frag.root->nsub && !frag.root->nval) ? -1 : capture_stage_dir(c, path, &name);
	if (dfd >= 0) {
		rc = lf_hive_write_at(&frag, dfd, name, &err) ? -EIO : 0;
		if (rc)
			cli_error("%s", err.msg);
		close(dfd);
	}
	lf_rkey_free(frag.root);
	lf_rkey_free(empty);
	lf_hive_free(ha);
	lf_hive_free(hb);
	return rc;
}


