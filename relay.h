/* relay.h: the relay: the session channels, and the main loop that moves
 * every channel's data until the client or the upstream ends. */
#ifndef SSHROUTE_RELAY_H
#define SSHROUTE_RELAY_H

#include "connection.h"

/* Registers the session requests' callbacks (pty, shell, exec...) for
 * every pair made from now on (pair_install_requests): before any channel
 * opens. */
void relay_install(void);

/* Opens a session channel on the upstream and returns its twin toward the
 * client, or NULL when the upstream refused. */
ssh_channel relay_open_session(struct connection *p);

/* x11-req on a client's session channel: passed upstream, whose answer
 * is the client's. Returns 1 to have libssh refuse it. */
int relay_x11_request(struct connection *p, ssh_message msg);

/* Relays until the client or the upstream ends; never returns. */
void relay_run(struct connection *p) __attribute__((noreturn));

#endif
