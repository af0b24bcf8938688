/*
 * t.h - the unit-test harness: a handful of macros and a main().
 *
 * A test file defines `static void run(void)` calling T_CASE() blocks; the
 * harness prints one line per failure and closes with "N passed, N failed".
 */
#ifndef PX_T_H
#define PX_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail;
static const char *t_case = "";

#define T_CASE(name) for (int t_once_ = (t_case = (name), 1); t_once_; t_once_ = 0)

#define T_OK(cond)                                                             \
	do {                                                                   \
		if (cond) {                                                    \
			t_pass++;                                              \
		} else {                                                       \
			t_fail++;                                              \
			fprintf(stderr, "FAIL %s: %s:%d: %s\n", t_case,        \
				__FILE__, __LINE__, #cond);                    \
		}                                                              \
	} while (0)

#define T_EQ(a, b) T_OK((a) == (b))
static inline int t_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

#define T_STREQ(a, b) T_OK(t_streq((a), (b)))

static void run(void);

int main(void)
{
	run();
	printf("%s: %d passed, %d failed\n", __BASE_FILE__, t_pass, t_fail);
	return t_fail ? 1 : 0;
}

#endif
