/* relay.h: relaying channels between the client and the upstream: the
 * session channels, and the pairs that forward.c opens. */
#ifndef SSHROUTE_RELAY_H
#define SSHROUTE_RELAY_H

#include "connection.h"

/* Opens a session channel on the upstream and returns its twin toward the
 * client, or NULL when the upstream refused. */
ssh_channel relay_open_session(struct connection *p);

/* 1 when one more channel of kind may open: under max_channels, and not
 * toward a side whose socket the memory budget has paused (relay.c);
 * logs a refusal. */
int relay_channel_allowed(struct connection *p, const char *kind, int toward_client);

/* x11-req on a client's session channel: passed upstream, whose answer
 * is the client's. Returns 1 to have libssh refuse it. */
int relay_x11_request(struct connection *p, ssh_message msg);

/* Watches libssh's log lines for a peer that ignores the channel window
 * (see log_route_libssh). */
void relay_watch_libssh(const char *function, const char *line);

/* Relays until the client or the upstream ends; never returns. */
void relay_run(struct connection *p) __attribute__((noreturn));

/* ---- for forward.c, which opens the other channel kinds ----
 *
 * A pair (struct pair, relay.c) is a client channel and its twin on the
 * upstream; relay.c moves their data. Session channels are paired here;
 * forward.c pairs tunnels, forwarded ports, agent and X11 channels and
 * hands them over with start_pair. */

/* A pair with fresh, not yet opened channels on both sessions and the
 * relay's callbacks in place; NULL when out of memory. */
struct pair *pair_with_channels(struct connection *p);

/* Hands an opened pair to the relay. */
void start_pair(struct connection *p, struct pair *pr, const char *kind);

/* Frees a pair that was never started (closing what was opened). */
void pair_free(struct pair *pr);

ssh_channel pair_client(const struct pair *pr);
ssh_channel pair_upstream(const struct pair *pr);

/* A channel whose far side has not answered its open yet: the relay asks
 * again with forward_open_step() (forward.h) before it moves the pair's
 * data; toward_client tells which side is still opening. */
struct pending_open;
void pair_open_pending(struct pair *pr, struct pending_open *po, int toward_client);

/* Control requests block for the other side's answer; data never does. */
void set_blocking(ssh_session s, int blocking);

/* Writes out and closes every recording of the connection, as each of its
 * endings must before the process exits. */
void relay_close_recordings(struct connection *p);

#endif
