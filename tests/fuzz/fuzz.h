/* What every fuzz target is: libFuzzer's entry point. Built by meson with
 * -fsanitize=fuzzer when the compiler is clang; otherwise linked with
 * run_corpus.c, which feeds it each file of its corpus once (CI runs
 * that over tests/fuzz/corpus/TARGET). */
#ifndef LF_FUZZ_H
#define LF_FUZZ_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
