/* Internals of the repository engine shared between its files. */
#ifndef LF_REPO_INT_H
#define LF_REPO_INT_H

#include <jansson.h>

#include "layerfs/repo.h"

/* Read both control files of ROOT into r (empty on entry). */
int repo_read(const char *root, struct lf_repo *r, struct lf_err *err);
/* The same from their texts (a registry's control artifact). */
struct repo_text {
	const char *s;
	size_t len;
};
int repo_read_texts(const struct repo_text *layers, const struct repo_text *assign,
		    struct lf_repo *r, struct lf_err *err);
/* The control files' JSON, as they are written. */
json_t *repo_layers_json(const struct lf_repo *r);
json_t *repo_assign_json(const struct lf_repo *r);
/* A control file's text as the repository writes it (malloc'd). */
char *repo_json_text(json_t *j, size_t *len);

#endif
