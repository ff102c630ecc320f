/* tests/unit.h: what the C unit tests (tests/unit_*.c) share. Each test
 * prints one line per case, "ok - NAME" or "not ok - NAME: detail", which
 * tests/run counts, and exits with unit_exit_status(). */
#ifndef SSHROUTE_UNIT_H
#define SSHROUTE_UNIT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int failures;

static inline void pass(const char *name)
{
	printf("ok - %s\n", name);
}

__attribute__((format(printf, 2, 3)))
static inline void fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("not ok - %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures++;
}

/* Runs a shell command that prepares the tests; a failure ends them (2). */
static inline void run(const char *command)
{
	if (system(command) != 0) {
		fprintf(stderr, "failed: %s\n", command);
		exit(2);
	}
}

static inline int unit_exit_status(void)
{
	return failures ? 1 : 0;
}

#endif
