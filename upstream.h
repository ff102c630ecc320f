/* upstream.h: the connection from sshroute to the route's upstream sshd. */
#ifndef SSHROUTE_UPSTREAM_H
#define SSHROUTE_UPSTREAM_H

#include <libssh/libssh.h>

#include "config.h"

/* Seconds a blocking exchange with the upstream may take. */
#define UPSTREAM_TIMEOUT 10

/* Connects to target's upstream and checks its host key strictly against
 * the configured known_hosts. The hosts of its list are tried in order,
 * each within connect_timeout: one that refuses, is unreachable, does not
 * answer in time or fails the key exchange makes way for the next; a host
 * key that is unknown, changed or revoked ends the search. target->host
 * and ->port become the host that answered. Returns the connected
 * session, or NULL after logging why. */
ssh_session upstream_connect(const struct config *cfg, struct route_target *target);

/* 1 when known_hosts has a key for h, 0 when not, -1 when it cannot tell. */
int upstream_known(const struct config *cfg, const struct upstream_host *h);

/* Starts authentication with "none". Returns the SSH_AUTH_* result; on
 * SSH_AUTH_DENIED, *methods holds the upstream's SSH_AUTH_METHOD_* bits. */
int upstream_auth_none(ssh_session upstream, int *methods);

/* Tries a password on the upstream; returns the SSH_AUTH_* result. */
int upstream_auth_password(ssh_session upstream, const char *password);

/* Authenticates with the private key at path (the route's identity).
 * Returns the SSH_AUTH_* result; SSH_AUTH_ERROR also when the key does not
 * load (logged). */
int upstream_auth_identity(ssh_session upstream, const char *path);

/* Authenticates with key (a private key, with a certificate attached or
 * not). Returns the SSH_AUTH_* result. */
int upstream_auth_key(ssh_session upstream, ssh_key key);

/* The numeric address sshroute's end of the upstream connection has, as
 * the upstream sees it. Returns 0, or -1 when it is not known. */
int upstream_local_address(ssh_session upstream, char *out, size_t size);

/* The methods the upstream still accepts, after a failure or a partial
 * success. */
int upstream_methods_left(ssh_session upstream);

#endif
