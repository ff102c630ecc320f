/* forward.h: tunnels, forwarded ports, agent and X11 channels. */
#ifndef SSHROUTE_FORWARD_H
#define SSHROUTE_FORWARD_H

#include <libssh/libssh.h>

#include "connection.h"

/* Installs what forwarding needs on the upstream session: the agent and
 * X11 channels and forwarded ports the upstream opens toward the client. */
void forward_attach_upstream(struct connection *p);

/* Handles a client message the server callbacks do not cover: tunnels
 * (direct-tcpip) and remote port forwarding. Returns 1 to let libssh give
 * its default answer. */
int forward_client_message(struct connection *p, ssh_message msg);

#endif
