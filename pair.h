/* pair.h: a client channel and its twin on the upstream, relayed by
 * relay.c; shared with forward.c, which opens the other channel kinds. */
#ifndef SSHROUTE_PAIR_H
#define SSHROUTE_PAIR_H

#include <libssh/libssh.h>

#include "connection.h"

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
 * again with forward_open_step() (forward.c) before it moves the pair's
 * data; toward_client tells which side is still opening. */
struct pending_open;
void pair_open_pending(struct pair *pr, struct pending_open *po, int toward_client);

/* Asks the far side again; SSH_OK or SSH_ERROR (both free po), or
 * SSH_AGAIN. */
int forward_open_step(const struct pair *pr, struct pending_open *po);

/* Forgets a pending open when its pair is freed. */
void forward_open_abandon(struct pending_open *po);

/* Control requests block for the other side's answer; data never does. */
void set_blocking(ssh_session s, int blocking);

#endif
