/* route.h: a user name to a route target: the route that matches, %u,
 * the upstream list's order, and a lookup program's answer. */
#ifndef SSHROUTE_ROUTE_H
#define SSHROUTE_ROUTE_H

#include "config.h"

enum route_found {
	ROUTE_FOUND,   /* out holds the route */
	ROUTE_NONE,    /* no route, or the lookup said "no such user" */
	ROUTE_FAILED,  /* the lookup failed: reported, nobody may be let in */
};

/* The route for user, with its lookup run and applied when it has one
 * (client_addr and client_port go to the lookup program). */
enum route_found route_resolve(const struct config *cfg, const char *user,
                               const char *client_addr, int client_port,
                               struct route_target *out, config_report_fn report, void *ctx);

/* Finds the route for user and expands it into out. An exact route wins
 * over patterns; among patterns the first in the file wins; routes that use
 * %u never match names that fail user_name_is_safe (and one whose
 * authorized_keys uses %u never matches "." or ".."). Returns 0 when found,
 * -1 when the user has no route (or, for a route without user, when the
 * name is too long for route_target.user). A route with lookup but no
 * upstream of its own matches with out->host "" and out->port 22: the
 * caller runs the lookup and applies its answer with route_apply_answer. */
int route_match(const struct config *cfg, const char *user, struct route_target *out);

/* Applies a lookup program's answer over route r for user and fills out as
 * route_match does. answer holds route.ini key lines (upstream, user,
 * authorized_keys, identity; blank lines and # or ; comments allowed);
 * what the answer sets overrides the route's own settings. Every problem
 * is reported through report as "lookup for USER: line N: message"; the
 * return value is their number, 0 meaning out is usable. out is left
 * untouched when there are problems. answer is a C string: the caller must
 * refuse output that holds a NUL byte. */
int route_apply_answer(const struct config *cfg, const struct route *r, const char *user,
                       const char *answer, struct route_target *out,
                       config_report_fn report, void *ctx);

#endif
