/* Internals of the registry engine shared between its files. */
#ifndef LF_HIVE_INT_H
#define LF_HIVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "layerfs/hive.h"
#include "layerfs/utf16.h"

/* If the hive image (*image, *size bytes, read from FILE) is dirty, apply
 * the transaction logs beside FILE; *entries says how many log entries
 * went in. 0, -ENOENT if it is dirty and no usable log is there, or
 * -ENOMEM. The image may be reallocated (a log can grow the hive). */
int hive_replay_logs(const char *file, uint8_t **image, size_t *size, int *entries,
		     char *note, size_t nlen);
/* The same with the logs given as images (a layer's, read whole). note
 * (both): what was seen of each log that was not used, "; "-joined. */
int hive_replay_log_images(const struct lf_hive_logs *logs, uint8_t **image, size_t *size,
			   int *entries, char *note, size_t nlen);


#endif
