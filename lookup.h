/* lookup.h: routes decided by a program (route key "lookup"), in the
 * spirit of sshd's AuthorizedKeysCommand. */
#ifndef SSHROUTE_LOOKUP_H
#define SSHROUTE_LOOKUP_H

#include "config.h"

/* The most a lookup program may print, in bytes. */
#define LOOKUP_OUTPUT_MAX (64 * 1024)

enum route_found {
	ROUTE_FOUND,   /* out holds the route */
	ROUTE_NONE,    /* no route, or the lookup said "no such user" */
	ROUTE_FAILED,  /* the lookup failed: reported, nobody may be let in */
};

/* Finds the route for user, running the route's lookup program when it
 * has one. client_addr and client_port are passed to the program. Every
 * problem is reported through report. */
enum route_found route_resolve(const struct config *cfg, const char *user,
                               const char *client_addr, int client_port,
                               struct route_target *out, config_report_fn report, void *ctx);

/* Finds the next word of a lookup line at or after *s: points *s at it and
 * returns its length, 0 at the end of the line. Words are split at blanks
 * (spaces and tabs), with no shell and no quoting. config_load checks the
 * words with it, and lookup_argv runs them, so the two cannot differ. */
size_t lookup_next_word(const char **s);

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
