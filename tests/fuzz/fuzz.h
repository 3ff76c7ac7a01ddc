/*
 * fuzz.h: what every libFuzzer harness in tests/fuzz/ shares.
 *
 * A harness is LLVMFuzzerTestOneInput() over one module of Postern. It does
 * not only run the code: it checks properties that must hold for every
 * input (bounds, round trips, agreement with a second, simpler reading of
 * the same rule), and a broken one is a crash that libFuzzer saves. That is
 * what FUZZ_CHECK is for: assert() would vanish under -DNDEBUG, and the
 * message says which property broke, which a bare abort() would not.
 *
 * Built by "make fuzzers" with clang -fsanitize=fuzzer,address,undefined;
 * run by tests/fuzz/run.sh.
 */
#ifndef POSTERN_FUZZ_H
#define POSTERN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property broken: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
