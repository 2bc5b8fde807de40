/* Small helpers shared by the unit tests. */
#ifndef LF_TEST_HELPERS_H
#define LF_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

/* A fresh temporary folder, removed by th_cleanup(). */
const char *th_tmpdir(void);
void th_cleanup(void);
/* th_tmpdir()/name, in a static ring of buffers. */
const char *th_path(const char *name);

void th_write_file(const char *path, const void *data, size_t len);
void th_patch(const char *path, uint64_t off, const void *data, size_t len);
void th_read_at(const char *path, uint64_t off, void *data, size_t len);
uint64_t th_file_size(const char *path);
void th_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Deterministic pseudo-random bytes. */
void th_fill_random(uint8_t *buf, size_t len, uint64_t seed);

/* lf_vhd_read_fn over a memory buffer (ctx = struct th_mem *). */
struct th_mem { const uint8_t *data; uint64_t size; };
int th_mem_read(void *ctx, void *buf, size_t len, uint64_t off);

/* Run the tests as one suite (each in a fresh temporary folder, cleaned
 * after); returns main's exit status. */
#include <check.h>
int th_run_suite(const char *name, const TTest *const *tests, int n);

#endif
