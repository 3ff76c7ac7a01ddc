/*
 * harness.h: the unit-test driver every tests/unit/test_*.c includes.
 *
 * CHECK(cond) counts a pass or prints file:line and the failed expression;
 * main() ends with "return harness_done();", which prints the closing line
 * "N passed, N failed" that tests/run.sh adds up, and exits non-zero on any
 * failure.
 */
#ifndef POSTERN_HARNESS_H
#define POSTERN_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_pass, harness_fail;

#define CHECK(cond) do {						\
	if (cond)							\
		harness_pass++;						\
	else {								\
		harness_fail++;						\
		fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__,\
		    #cond);						\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *ha_ = (a), *hb_ = (b);				\
	if (ha_ != NULL && hb_ != NULL && strcmp(ha_, hb_) == 0)	\
		harness_pass++;						\
	else {								\
		harness_fail++;						\
		fprintf(stderr, "%s:%d: FAIL: %s == \"%s\", got \"%s\"\n",\
		    __FILE__, __LINE__, #a, hb_ ? hb_ : "(null)",	\
		    ha_ ? ha_ : "(null)");				\
	}								\
} while (0)

static inline int
harness_done(void)
{
	printf("%d passed, %d failed\n", harness_pass, harness_fail);
	return harness_fail ? 1 : 0;
}

#endif
