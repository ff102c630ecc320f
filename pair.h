/* pair.h: a channel pair: a client channel and its twin on the upstream,
 * the data between them (the carries), how each end is passed on, the
 * recording hooks, and the memory budget's counts. relay.c (sessions)
 * and forward.c (the other channels) make pairs; pair.c moves their
 * bytes. relay.c reads a session pair's fields (its requests, its
 * recording); the streams are pair.c's. */
#ifndef SSHROUTE_PAIR_H
#define SSHROUTE_PAIR_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <stdint.h>
#include <time.h>

#include "connection.h"
#include "record.h"

struct pending_open;   /* forward.c's: a far-side open not answered yet */

/* One direction of one data stream: bytes libssh holds for us on the
 * source channel (pending), then bytes read but not yet written (carry). */
struct stream {
	int is_stderr;
	uint32_t pending;
	uint32_t peak;           /* the most libssh held at once: see the memory budget */
	size_t off, len;
	char *carry;             /* grows as needed, up to CARRY_MAX; freed when idle */
	size_t cap;
};

enum exit_kind { EXIT_NONE, EXIT_STATUS, EXIT_SIGNAL };

struct pair {
	struct connection *p;
	ssh_channel client, upstream;
	struct ssh_channel_callbacks_struct client_cb, upstream_cb;
	struct stream up;        /* client stdin -> upstream */
	struct stream down_out;  /* upstream stdout -> client */
	struct stream down_err;  /* upstream stderr -> client */

	/* what each side told us */
	int client_eof, client_closed, upstream_eof, upstream_closed;
	/* what we told each side */
	int sent_eof_up, sent_eof_down, sent_close_up, sent_close_down, sent_exit;

	enum exit_kind exit_kind;
	int exit_status;
	char *exit_signal, *exit_errmsg, *exit_lang;
	int exit_core;

	unsigned long id;        /* for the log: channels are counted from 1 */
	int is_session;
	int started;             /* a shell, command or subsystem runs upstream */
	struct recording *rec;   /* record = yes: this session's recording */
	char *pty_term;          /* the pty request, for the recording's header */
	int pty_cols, pty_rows;
	int cut_off;             /* the upstream's session ended without closing this channel */
	struct timespec close_held_since;  /* see hold_client_close() */
	struct pending_open *opening;  /* the far side's open is not answered yet */
	int opening_toward_client;
	struct pair *next;
};

/* The two sides of a connection, for the memory budget. */
enum { CLIENT_SIDE, UPSTREAM_SIDE };

/* A pair with fresh, not yet opened channels on both sessions and its
 * callbacks in place; NULL when out of memory. */
struct pair *pair_with_channels(struct connection *p);

/* Counts an opened pair (kind: "session", "direct-tcpip"...), gives it its
 * number for the log and puts it on the connection's list. */
void start_pair(struct connection *p, struct pair *pr, const char *kind);

/* Frees a pair, closing its channels and its recording. */
void pair_free(struct pair *pr);

ssh_channel pair_client(const struct pair *pr);
ssh_channel pair_upstream(const struct pair *pr);

/* 1 when one more channel of kind may open: under max_channels, and not
 * toward a side whose socket the memory budget has paused; logs a
 * refusal. */
int pair_channel_allowed(const struct connection *p, const char *kind, int toward_client);

/* A pair whose far side has not answered its open yet: pair.c asks again
 * with the step registered by forward.c (pair_install_opens) before it
 * moves the pair's data, and gives po back with the abandon hook. forward.c
 * is above pair.c, so it registers these itself. */
void pair_open_pending(struct pair *pr, struct pending_open *po, int toward_client);
void pair_install_opens(int (*step)(const struct pair *pr, struct pending_open *po),
                        void (*abandon)(struct pending_open *po));

/* The session requests of a client channel (pty, shell, exec...) are
 * relay.c's: it registers what fills them into each new pair's callbacks. */
void pair_install_requests(void (*fill)(struct ssh_channel_callbacks_struct *cb));

/* Moves what it can of a pair's data and ends, from the main loop. */
void pair_pump(struct pair *pr);
int pair_finished(const struct pair *pr);
int pair_up_drained(const struct pair *pr);
int pair_down_drained(const struct pair *pr);

/* Flow control: watches libssh's log for a window excess; ends the
 * connection when a peer broke its window. */
void pair_watch_libssh(const char *function, const char *line);
void pair_end_on_violation(struct connection *p);

/* Recordings (record = yes): opened before a session starts (0: it may
 * start), kept or removed once the upstream answered, flushed by the main
 * loop, closed at every ending. */
int pair_start_recording(struct pair *pr, const char *command);
void pair_settle_recording(struct pair *pr, int started);
void pair_flush_recordings(struct connection *p, int force);
void pair_close_recordings(struct connection *p);
/* Adds text to the session record's list of recordings; ends the
 * connection when a recording cannot be written (record = yes). */
void pair_note_recording(struct connection *p, const char *text);
void pair_recording_failed(struct connection *p, const char *why)
	__attribute__((noreturn));

/* The memory budget's counts (see pair.c): what a side sent that waits
 * on a reader (stalled) or only on a socket (moving); 1 when the first is
 * too much to read more from the side; the hard ceiling, which ends the
 * connection. */
size_t pair_side_stalled(const struct connection *p, int which);
size_t pair_side_moving(const struct connection *p, int which);
int pair_side_paused(const struct connection *p, int which);
void pair_end_over_ceiling(struct connection *p);

#endif
