/* auth.h: authenticating the client by passing its credentials upstream. */
#ifndef SSHROUTE_AUTH_H
#define SSHROUTE_AUTH_H

#include "connection.h"

/* Installs the server callbacks (authentication, session channels) on the
 * client session. Call before the key exchange. */
void auth_install(struct connection *p);

/* Runs the event loop until the client is authenticated on the upstream.
 * Every failure ends the process through connection_end(). */
void auth_wait(struct connection *p);

/* Watches libssh's log lines for the client's no-more-sessions@openssh.com
 * (see log_route_libssh). */
void auth_watch_libssh(const char *function, const char *line);

#endif
