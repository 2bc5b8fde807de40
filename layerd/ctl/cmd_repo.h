/* layerctl repo's parts shared by its files: cmd_repo.c (init, add,
 * assign, priority, list, resolve) and cmd_repo_retire.c (remove,
 * restore). */
#ifndef LAYERCTL_CMD_REPO_H
#define LAYERCTL_CMD_REPO_H

#include <stdint.h>

#include <jansson.h>

#include "layerfs/repo.h"

/* Say err; EXIT_FAIL. */
int repo_fail(struct lf_err *err);
/* lf_repo_update, its failure said: EXIT_OK or EXIT_FAIL. */
int repo_update(const char *root, lf_repo_change change, void *ctx);
/* A whole number 1..2^31-1, or -1. */
int repo_parse_uint(const char *s, uint32_t *out);
/* The highest id a retired revision had (Retired/ *.json), or 0, and the
 * highest retired revision of layer id: a new layer never takes the id,
 * nor a new revision the number, of one that may come back. */
uint32_t repo_retired_max_id(const char *root, uint32_t id, uint32_t *max_revision);

int repo_remove(int argc, char **argv, int json);
int repo_restore(int argc, char **argv, int json);

#endif
