/* connection.h: the state of one client connection that several layers
 * read, and its life (connection.c). What only one layer needs is that
 * layer's own: the login's progress in auth.c, the relay's timers in
 * relay.c, the channel count and flow control in pair.c, the -R ports in
 * forward.c. */
#ifndef SSHROUTE_CONNECTION_H
#define SSHROUTE_CONNECTION_H

#include <libssh/libssh.h>
#include <time.h>

#include "config.h"

struct pair;

/* A fixed cap on one connection: ports the upstream listens on for ssh -R.
 * (Channels are capped by max_channels, sessions by max_sessions.) */
#define MAX_LISTENERS 16

/* The longest key ID of a certificate sshroute makes: its four fields. */
#define CERT_KEY_ID_MAX 1024

struct connection {
	const struct config *cfg;
	ssh_session client;           /* the server session facing the client */
	ssh_session upstream;         /* NULL until the route's upstream answered */
	ssh_event event;              /* polls the client session */
	ssh_event upstream_event;     /* polls the upstream session: see poll_sessions() */
	struct timespec started;
	char client_addr[64];         /* the real client: from the socket or a PROXY header */
	int client_port;

	char *user;                   /* fixed by the first userauth request */
	int have_route;
	struct route_target target;
	int authenticated;
	const char *auth_method;      /* the method that logged the user in */
	int cert_issued;              /* a certificate was made for the upstream login */
	unsigned long long cert_serial;
	char cert_key_id[CERT_KEY_ID_MAX];
	char recordings[512];         /* the session record's list of recordings */

	struct pair *pairs;           /* relayed channels */
	int n_sessions;               /* of them, session channels */
	enum { LOST_NONE, LOST_UPSTREAM, LOST_CLIENT }
		lost;                     /* the connection that ended; the other is being served */
	int news;                     /* a channel callback took a note since the last pump */
	unsigned long channels_opened;
	unsigned long long bytes_to_upstream, bytes_to_client;
	struct timespec last_activity;  /* channel data last moved (idle_timeout) */
	int last_exit_status;         /* -1 when none was relayed */
};

/* The connected socket systemd (Accept=yes, fd 3) or inetd (fd 0)
 * passed; exits with EXIT_NOT_SOCKET, saying why, when there is none. */
int connection_socket(int to_stderr);

/* The connection on fd: its client address (from a PROXY header when
 * cfg says so), the socket made ready for libssh, the stop signals
 * watched. */
struct connection *connection_begin(const struct config *cfg, int fd);

/* login_grace_time: started before the key exchange, stopped at login. */
void connection_start_grace_timer(const struct connection *p);
void connection_stop_grace_timer(void);

/* Tells the stop signals that the key exchange is over: from then on a
 * stop says goodbye instead of shutting the socket. */
void connection_keys_exchanged(void);

/* Which session sent the packet libssh is handling, for what libssh tells
 * only in its log (see connection.c). */
enum packet_source { FROM_UNKNOWN, FROM_CLIENT, FROM_UPSTREAM };
void connection_count_packets(ssh_session s, int is_client);
/* Every packet counted so far has been handled: the next one's log lines
 * belong to whichever session counts it. Call before handling one
 * session's socket, and after a call on the upstream made while the
 * client's packets were being handled. */
void connection_packets_seen(void);
enum packet_source connection_packet_source(void);

/* Makes a session blocking, for a request that waits for the other
 * side's answer, or nonblocking again (and the packets seen). */
void connection_set_blocking(ssh_session s, int blocking);

/* A hook that connection_end() calls first: the relay's, which closes the
 * recordings. The relay is above this module, so it registers itself. */
void connection_at_end(void (*hook)(struct connection *p));

/* Ends the process: says goodbye to both sides, logs the session record
 * (with reason, a few words on why it ended) and exits with code.
 * message, when not NULL, is sent to the client in the SSH disconnect
 * message. */
void connection_end(struct connection *p, int code, const char *reason, const char *message)
	__attribute__((noreturn));

/* 1 when the session's connection has ended. */
int session_is_gone(ssh_session s);

/* SIGTERM, SIGHUP or SIGINT (systemctl stop, a shutdown, xinetd) asks for
 * a clean stop: the loops call this at every turn, and it ends the
 * connection as any ending does, with a goodbye to the client, the
 * recordings closed and the session record ("signal 15"). */
void connection_stop_if_asked(struct connection *p);

/* A descriptor that becomes readable when a stop is asked, for a poll
 * that would otherwise sleep through it; -1 when there is none. */
int connection_stop_fd(void);

#endif
