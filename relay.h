/* relay.h: relaying session channels between the client and the upstream. */
#ifndef SSHROUTE_RELAY_H
#define SSHROUTE_RELAY_H

#include "connection.h"

/* Opens a session channel on the upstream and returns its twin toward the
 * client, or NULL when the upstream refused. */
ssh_channel relay_open_session(struct connection *p);

/* 1 when one more channel of kind may open (MAX_CHANNELS); logs a
 * refusal. */
int relay_channel_allowed(struct connection *p, const char *kind);

/* x11-req on a client's session channel: passed upstream, whose answer
 * is the client's. Returns 1 to have libssh refuse it. */
int relay_x11_request(struct connection *p, ssh_message msg);

/* Watches libssh's log lines for a peer that ignores the channel window
 * (see log_route_libssh). */
void relay_watch_libssh(const char *function, const char *line);

/* Relays until the client or the upstream ends; never returns. */
void relay_run(struct connection *p) __attribute__((noreturn));

#endif
