/* relay.h: relaying session channels between the client and the upstream. */
#ifndef SSHROUTE_RELAY_H
#define SSHROUTE_RELAY_H

#include "proxy.h"

/* Opens a session channel on the upstream and returns its twin toward the
 * client, or NULL when the upstream refused. */
ssh_channel relay_open_session(struct proxy *p);

/* Relays until the client or the upstream ends; never returns. */
void relay_run(struct proxy *p) __attribute__((noreturn));

#endif
