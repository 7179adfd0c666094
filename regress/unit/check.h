/*
 * check.h: the unit tests' one assertion: count it, and on failure print
 * where and what, then carry on.  main() returns failures != 0.
 */
#ifndef REGRESS_CHECK_H
#define REGRESS_CHECK_H

#include <stdio.h>

static int	failures;
static int	checks;

#define CHECK(cond) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);	\
	}								\
} while (0)

#endif
