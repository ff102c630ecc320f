/* lookup.h: routes decided by a program (route key "lookup"), in the
 * spirit of sshd's AuthorizedKeysCommand. */
#ifndef SSHROUTE_LOOKUP_H
#define SSHROUTE_LOOKUP_H

#include "config.h"

/* The most a lookup program may print, in bytes. */
#define LOOKUP_OUTPUT_MAX (64 * 1024)

/* What a lookup program's run came to (lookup_run in lookup.c). */
enum lookup_result { LOOKUP_ANSWER, LOOKUP_NO_USER, LOOKUP_FAILED };

enum lookup_result lookup_run(const struct route *r, const char *user, const char *client_addr,
                              int client_port, char **answer, config_report_fn report, void *ctx);

/* Builds the argv of r's lookup command for user: the words of the line,
 * %u (and %%) expanded in each. The strings live in buf (size bytes);
 * argv[argc] is NULL. Returns argc, or -1 when it does not fit (also when
 * r has no lookup, or when it uses %u and user fails user_name_is_safe). */
int lookup_argv(const struct route *r, const char *user, char *buf, size_t size,
                char *argv[LOOKUP_ARGS_MAX + 1]);

/* Stops a running lookup program (its whole process group) and makes the
 * lookup fail; for the login grace timer's signal handler. */
void lookup_abort(void);

#endif
