/* pair.c: a channel pair: the client's channel and its twin on the
 * upstream, and the bytes between them.
 *
 * libssh callbacks only take notes (how many bytes wait, EOF, close, exit
 * status): libssh calls them from inside its own calls, even from inside a
 * write on the other session, so acting there would nest. All the moving
 * happens in pair_pump(), run from relay.c's main loop after each poll:
 * it reads what libssh holds into a carry buffer and writes on what the
 * destination's window allows. Until the carry is empty, and while the
 * destination cannot take more at once, nothing more is read, so libssh's
 * window stops the sender: that is the flow control, and memory stays
 * bounded by the windows, for a peer that keeps to them. One that does not
 * ends the connection (see "flow control" below). The memory budget
 * bounds the rest (see its section). */
#include "pair.h"

#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The connection's channels, as this file counts and polices them. */
static struct {
	int n_channels;               /* pairs open (or opening), of any kind */
	const char *violation;        /* "client" or "upstream": it broke flow control */
	unsigned long violation_channel;
} chans;

/* The carry takes everything libssh holds on a channel at once (see
 * refill); libssh holds at most its window (1,280,000 bytes) and a packet
 * beyond what was read, so this never cuts a read short in practice. */
#define CARRY_MAX ((size_t)2 * 1024 * 1024)
#define CARRY_FIRST ((size_t)64 * 1024)  /* a carry grows by this much */
#define WRITE_MAX ((size_t)128 * 1024)   /* see drain_carry */

/* relay.c's session requests, and forward.c's open steps: registered by
 * those layers, which are above this one. */
static void (*fill_requests)(struct ssh_channel_callbacks_struct *cb);
static int (*open_step)(const struct pair *pr, struct pending_open *po);
static void (*open_abandon)(struct pending_open *po);

/* ---- flow control ----
 *
 * A peer may send no more than the window sshroute advertised. libssh
 * counts that window, but 0.10 buffers an excess anyway ("accept it
 * anyway") and 0.11 and later drop it, setting only an error string; all
 * three name it in their log ("Data packet too big for our window"). sshd
 * ends such a connection ("peer ignored channel window"), and so does
 * sshroute: a peer that ignores the window could otherwise fill memory.
 *
 * As a backstop that does not depend on libssh's wording: for a peer that
 * keeps to its window, libssh never holds more than about 2 MB of one
 * channel's data (1,920,000 bytes in 0.10, 2 MiB in 0.11), so more than
 * BUFFERED_MAX is a violation too. */
#define BUFFERED_MAX ((uint32_t)4 * 1024 * 1024)

static int window_exceeded;  /* libssh logged an excess; the next data callback names the side */

void pair_watch_libssh(const char *function, const char *line)
{
	if (strcmp(function, "channel_rcv_data") == 0 &&
	    strstr(line, "Data packet too big for our window") != NULL)
		window_exceeded = 1;
}

/* Called with what libssh now holds of the channel's data from side. */
static void check_window(const struct pair *pr, const char *side, uint32_t held)
{
	if (!window_exceeded && held <= BUFFERED_MAX)
		return;
	window_exceeded = 0;
	if (chans.violation == NULL) {
		chans.violation = side;
		chans.violation_channel = pr->id;
	}
}

/* libssh 0.11 and later drop the excess without a data callback: the
 * session whose error says so is the one that sent it. */
static void name_violation(struct connection *p)
{
	if (!window_exceeded || chans.violation != NULL)
		return;
	if (strcmp(ssh_get_error(p->upstream), "Window exceeded") == 0)
		chans.violation = "upstream";
	else
		chans.violation = "client";
}

void pair_end_on_violation(struct connection *p)
{
	int by_upstream;

	name_violation(p);
	if (chans.violation == NULL)
		return;
	by_upstream = strcmp(chans.violation, "upstream") == 0;
	log_error("channel %lu: the %s sent more data than the window allowed "
	          "(rcvd too much data): protocol violation", chans.violation_channel, chans.violation);
	connection_end(p, by_upstream ? EXIT_UPSTREAM : EXIT_CLIENT, "protocol violation",
	               by_upstream ? "sshroute: the server broke the SSH protocol"
	                           : "Protocol violation: peer ignored channel window");
}

/* ---- notes taken by the callbacks ---- */

/* New bytes are activity (idle_timeout); bytes that only wait are not. */
static void note_arrival(struct pair *pr, struct stream *st, uint32_t held)
{
	if (held > st->pending)
		clock_gettime(CLOCK_MONOTONIC, &pr->p->last_activity);
	st->pending = held;
	if (held > st->peak)
		st->peak = held;
	pr->p->news = 1;
}

static int on_client_data(ssh_session s, ssh_channel c, void *data, uint32_t len, int is_stderr,
                          void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c; (void)data;
	check_window(pr, "client", len);
	if (is_stderr)
		return (int)len; /* clients have no stderr to send: drop it */
	note_arrival(pr, &pr->up, len);
	return 0;
}

static int on_upstream_data(ssh_session s, ssh_channel c, void *data, uint32_t len, int is_stderr,
                            void *userdata)
{
	struct pair *pr = userdata;
	struct stream *st = is_stderr ? &pr->down_err : &pr->down_out;
	const struct stream *other = is_stderr ? &pr->down_out : &pr->down_err;

	(void)s; (void)c; (void)data;
	/* stdout and stderr share the channel's window */
	check_window(pr, "upstream", len + other->pending);
	note_arrival(pr, st, len);
	return 0;
}

static void stash_rest(struct stream *st, ssh_channel src);

/* At EOF or close the sender has sent its last byte, and may disconnect
 * right after it: libssh refuses to read from a session that has ended,
 * so what it still holds is taken now (see stash_rest). */
static void on_client_eof(ssh_session s, ssh_channel c, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c;
	stash_rest(&pr->up, pr->client);
	pr->client_eof = 1;
	pr->p->news = 1;
}

static void on_client_close(ssh_session s, ssh_channel c, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c;
	stash_rest(&pr->up, pr->client);
	pr->client_eof = pr->client_closed = 1;
	pr->p->news = 1;
}

static void on_upstream_eof(ssh_session s, ssh_channel c, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c;
	stash_rest(&pr->down_out, pr->upstream);
	stash_rest(&pr->down_err, pr->upstream);
	pr->upstream_eof = 1;
	pr->p->news = 1;
}

static void on_upstream_close(ssh_session s, ssh_channel c, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c;
	stash_rest(&pr->down_out, pr->upstream);
	stash_rest(&pr->down_err, pr->upstream);
	pr->upstream_eof = pr->upstream_closed = 1;
	pr->p->news = 1;
}

static void on_upstream_exit_status(ssh_session s, ssh_channel c, int status, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c;
	pr->exit_kind = EXIT_STATUS;
	pr->exit_status = status;
	pr->p->news = 1;
}

static void on_upstream_exit_signal(ssh_session s, ssh_channel c, const char *signal, int core,
                                    const char *errmsg, const char *lang, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c;
	free(pr->exit_signal);
	free(pr->exit_errmsg);
	free(pr->exit_lang);
	pr->exit_signal = strdup(signal ? signal : "");
	pr->exit_errmsg = strdup(errmsg ? errmsg : "");
	pr->exit_lang = strdup(lang ? lang : "");
	pr->exit_core = core;
	pr->exit_kind = pr->exit_signal && pr->exit_errmsg && pr->exit_lang ? EXIT_SIGNAL : EXIT_NONE;
	pr->p->news = 1;
}

/* ---- recording (record = yes) ----
 *
 * A shell or command on a recorded route starts only once its recording
 * is open, and a recording that cannot be written ends the connection:
 * no session on such a route runs unrecorded. */

static const char recording_unavailable[] = "sshroute: session recording is unavailable\r\n";

/* Adds text to the session record's list of recordings. */
void pair_note_recording(struct connection *p, const char *text)
{
	size_t len = strlen(p->recordings);

	snprintf(p->recordings + len, sizeof(p->recordings) - len, "%s%s", len ? "," : "", text);
}

static int carry_room(struct stream *st, size_t want);

/* A session that may not start: its request is granted, but nothing goes
 * upstream; the client gets the message on stderr, exit status 1, and the
 * channel's end, through the usual path (a refused request would do, but
 * ssh then exits before it prints what came on stderr). */
static void refuse_session(struct pair *pr, const char *message)
{
	struct stream *st = &pr->down_err;
	size_t n = strlen(message);

	if (carry_room(st, st->len + n) == 0) {
		memcpy(st->carry + st->len, message, n);
		st->len += n;
	}
	pr->exit_kind = EXIT_STATUS;
	pr->exit_status = 1;
	pr->upstream_eof = pr->upstream_closed = 1;   /* its side never starts */
	pr->sent_eof_up = 1;
	pr->p->news = 1;
}

/* Opens the recording of a session that is about to run command ("shell"
 * for a shell). Returns 0 when the session may start. */
int pair_start_recording(struct pair *pr, const char *command)
{
	const struct connection *p = pr->p;
	char title[1024], why[256];
	struct recording_header h = {
		p->cfg->record_dir ? p->cfg->record_dir : RECORD_DIR_DEFAULT, p->user, pr->id,
		pr->pty_cols > 0 ? pr->pty_cols : 80, pr->pty_rows > 0 ? pr->pty_rows : 24,
		pr->pty_term, title, p->cfg->record_max_size, p->cfg->record_keep_free,
	};

	if (!p->target.record || pr->rec != NULL)
		return 0;
	snprintf(title, sizeof(title), "user %s upstream %s:%d route %s command %s", p->user,
	         p->target.host, p->target.port, p->target.route->pattern, command);
	pr->rec = recording_open(&h, why, sizeof(why));
	if (pr->rec != NULL)
		return 0;
	log_error("channel %lu: session refused, it cannot be recorded (record = yes): %s",
	          pr->id, why);
	refuse_session(pr, recording_unavailable);
	return -1;
}

/* The session started: the recording counts. Or it did not: its file goes. */
void pair_settle_recording(struct pair *pr, int started)
{
	if (pr->rec == NULL)
		return;
	if (!started) {
		recording_close(pr->rec, 1);
		pr->rec = NULL;
		return;
	}
	log_info("channel %lu: recording to %s", pr->id, recording_name(pr->rec));
	pair_note_recording(pr->p, recording_name(pr->rec));
}

void pair_recording_failed(struct connection *p, const char *why)
{
	log_error("session recording failed, ending the connection (record = yes): %s", why);
	connection_end(p, EXIT_INTERNAL, "session recording failed",
	               "sshroute: session recording is unavailable");
}

/* Bytes that went to the client (output) or upstream (input). */
static void record_moved(struct pair *pr, const struct stream *st, const char *data, size_t n)
{
	char why[256];
	int rc = 0;

	if (pr->rec == NULL)
		return;
	if (st != &pr->up)
		rc = recording_output(pr->rec, data, n, why, sizeof(why));
	else if (pr->p->target.record_input)
		rc = recording_input(pr->rec, data, n, why, sizeof(why));
	if (rc < 0)
		pair_recording_failed(pr->p, why);
}

/* Closes every recording: connection_end() calls it (connection_at_end). */
void pair_close_recordings(struct connection *p)
{
	struct pair *pr;

	for (pr = p->pairs; pr; pr = pr->next) {
		if (pr->rec != NULL && recording_close(pr->rec, 0) < 0)
			log_error("channel %lu: the end of its recording could not be written", pr->id);
		pr->rec = NULL;
	}
}

/* Writes out what recordings hold: with force (the loop is about to
 * sleep) everything, otherwise what waited a second. */
void pair_flush_recordings(struct connection *p, int force)
{
	struct pair *pr;
	char why[256];

	if (!p->target.record)
		return;   /* the relay's loop, on every route: nothing to look at */
	for (pr = p->pairs; pr; pr = pr->next)
		if (pr->rec != NULL && recording_flush(pr->rec, force, why, sizeof(why)) < 0)
			pair_recording_failed(p, why);
}

/* ---- moving bytes ---- */

static int stream_drained(const struct stream *st)
{
	return st->pending == 0 && st->off == st->len;
}

/* Makes room for want bytes in the carry, in all: that much, rounded up
 * to CARRY_FIRST, for the memory budget counts what is allocated. */
static int carry_room(struct stream *st, size_t want)
{
	size_t cap = (want + CARRY_FIRST - 1) / CARRY_FIRST * CARRY_FIRST;
	char *grown;

	if (cap <= st->cap)
		return 0;
	grown = realloc(st->carry, cap);
	if (grown == NULL)
		return -1;
	st->carry = grown;
	st->cap = cap;
	return 0;
}

/* How much one refill takes. libssh 0.10's ssh_channel_read() reopens the
 * sender's window to 1,280,000 bytes without counting what libssh still
 * holds, so reading a little at a time from a fast sender to a slow
 * receiver let libssh's buffer grow without bound (16-97 MiB seen on
 * uploads): there a refill takes all of it, which keeps it under one
 * window. libssh 0.11 counts what it holds, so a refill takes one write's
 * worth and the carry stays small. */
static uint32_t refill_size(uint32_t pending)
{
	static int takes_all = -1;
	uint32_t most;

	if (takes_all < 0)
		takes_all = ssh_version(SSH_VERSION_INT(0, 11, 0)) == NULL;
	most = takes_all ? (uint32_t)CARRY_MAX : (uint32_t)WRITE_MAX;
	return pending < most ? pending : most;
}

/* Reads up to n of the bytes libssh holds for src. Not with
 * ssh_channel_read_nonblocking(): from libssh 0.11 on, it first reads the
 * session's socket (ssh_channel_poll), which would bypass the memory
 * budget's pause. With no wait and bytes held, libssh neither polls nor
 * reads the socket. */
static int read_held(ssh_channel src, char *dst, uint32_t n, int is_stderr)
{
	return ssh_channel_read_timeout(src, dst, n, is_stderr, 0);
}

/* Refills an empty carry from what libssh holds on src. Only called while
 * libssh holds bytes, so the read does not poll (and nest). */
static int refill(struct stream *st, ssh_channel src)
{
	uint32_t want = refill_size(st->pending);
	int n;

	st->off = st->len = 0;
	/* cppcheck-suppress knownConditionTrueFalse ; only on pump_stream's !src_readable path */
	if (want == 0)
		return 0;
	if (carry_room(st, want) < 0) {
		log_error("out of memory for a channel's data");
		return 0;
	}
	n = read_held(src, st->carry, want, st->is_stderr);
	if (n <= 0) {
		st->pending = 0;
		return 0;
	}
	st->pending -= (uint32_t)n <= st->pending ? (uint32_t)n : st->pending;
	st->len = (size_t)n;
	return 1;
}

/* Appends everything libssh holds of the stream to the carry: for a
 * sender that has sent its last byte (bounded by its window, about 2 MB),
 * and for a backlog (take_backlog). libssh holds the bytes, so the read
 * does not poll (and nest). */
static void stash_rest(struct stream *st, ssh_channel src)
{
	size_t kept = st->len - st->off;
	int n;

	if (st->pending == 0)
		return;
	if (st->off > 0 && kept > 0)
		memmove(st->carry, st->carry + st->off, kept);
	st->off = 0;
	st->len = kept;
	if (carry_room(st, kept + st->pending) < 0) {
		log_error("out of memory for a channel's last data");
		return;
	}
	n = read_held(src, st->carry + kept, st->pending, st->is_stderr);
	if (n > 0)
		st->len += (size_t)n;
	st->pending = 0;
}

/* Writes from the carry what dst's window allows, at most WRITE_MAX, and
 * nothing while libssh still has output waiting for that socket: what a
 * write puts in libssh's output buffer stays there until the peer reads
 * it, so writing up to the window (2 MiB for OpenSSH) would hold that
 * much twice over, in the carry and in libssh. The window is read just
 * before the write, and the write's own count is what moved. */
static int output_waiting(ssh_channel dst)
{
	return (ssh_get_poll_flags(ssh_channel_get_session(dst)) & SSH_WRITE_PENDING) != 0;
}

static int takes_now(ssh_channel dst)
{
	return ssh_channel_window_size(dst) > 0 && !output_waiting(dst);
}

static int drain_carry(struct pair *pr, struct stream *st, ssh_channel dst,
                       unsigned long long *counter)
{
	uint32_t window = ssh_channel_window_size(dst);
	size_t n = st->len - st->off;
	int w;

	if (window == 0 || output_waiting(dst))
		return 0;
	if (n > window)
		n = window;
	if (n > WRITE_MAX)
		n = WRITE_MAX;
	w = st->is_stderr ? ssh_channel_write_stderr(dst, st->carry + st->off, (uint32_t)n)
	                  : ssh_channel_write(dst, st->carry + st->off, (uint32_t)n);
	if (w <= 0)
		return w;
	record_moved(pr, st, st->carry + st->off, (size_t)w);
	st->off += (size_t)w;
	*counter += (unsigned long long)w;
	return 1;
}

/* Moves what it can of one stream (see pump_stream). */
static int move_stream(struct pair *pr, struct stream *st, ssh_channel src, ssh_channel dst,
                       int dst_writable, unsigned long long *counter)
{
	int moved = 0, rc;

	for (;;) {
		if (st->off == st->len && dst_writable && !takes_now(dst))
			return moved;
		if (st->off == st->len && !refill(st, src))
			return moved;
		if (!dst_writable) {
			st->off = st->len;
			moved = 1;
			continue;
		}
		rc = drain_carry(pr, st, dst, counter);
		if (rc <= 0) {
			if (rc < 0)
				log_debug("channel write failed: %s",
				          ssh_get_error(ssh_channel_get_session(dst)));
			return moved;
		}
		moved = 1;
	}
}

/* Bytes that wait only because the destination's socket is busy (its
 * window is open) move from libssh into the carry, up to CARRY_MAX:
 * libssh never gives a channel's buffer back until the channel closes, the
 * carry is freed once it is empty, so a backlog that comes and goes leaves
 * nothing behind. Bytes for a destination whose window is shut stay in
 * libssh, whose window then stops the sender: read into the carry, they
 * would make room for another window's worth. */
static void take_backlog(struct stream *st, ssh_channel src, ssh_channel dst)
{
	if (st->pending > 0 && ssh_channel_window_size(dst) > 0 &&
	    st->len - st->off + st->pending <= CARRY_MAX)
		stash_rest(st, src);
}

/* Moves one stream as far as the destination allows. When the destination
 * is gone, what is left is read and dropped so that the source can finish.
 * Returns 1 when bytes moved. */
static int pump_stream(struct pair *pr, struct stream *st, ssh_channel src, int src_readable,
                       ssh_channel dst, int dst_writable, unsigned long long *counter)
{
	int moved;

	if (!src_readable) {
		st->pending = 0;
		return move_stream(pr, st, src, dst, dst_writable, counter);
	}
	moved = move_stream(pr, st, src, dst, dst_writable, counter);
	if (dst_writable)
		take_backlog(st, src, dst);
	return moved;
}

/* A carry that is empty, with nothing waiting behind it, is given back:
 * the memory budget counts what carries hold allocated. */
static void release_idle_carry(struct stream *st)
{
	if (st->carry == NULL || !stream_drained(st))
		return;
	free(st->carry);
	st->carry = NULL;
	st->cap = 0;
	st->off = st->len = 0;
}

static int client_writable(const struct pair *pr)
{
	return !pr->client_closed && !pr->sent_close_down && !pr->sent_eof_down;
}

static int upstream_writable(const struct pair *pr)
{
	return !pr->upstream_closed && !pr->sent_close_up && !pr->sent_eof_up;
}

static int pump_data(struct pair *pr)
{
	struct connection *p = pr->p;
	int moved = 0;

	moved |= pump_stream(pr, &pr->up, pr->client, !pr->sent_close_down, pr->upstream,
	                     upstream_writable(pr), &p->bytes_to_upstream);
	moved |= pump_stream(pr, &pr->down_out, pr->upstream, !pr->sent_close_up, pr->client,
	                     client_writable(pr), &p->bytes_to_client);
	moved |= pump_stream(pr, &pr->down_err, pr->upstream, !pr->sent_close_up, pr->client,
	                     client_writable(pr), &p->bytes_to_client);
	release_idle_carry(&pr->up);
	release_idle_carry(&pr->down_out);
	release_idle_carry(&pr->down_err);
	/* bytes that came and went within this pump (a write can poll and
	 * bring more) were never seen pending above */
	if (moved)
		clock_gettime(CLOCK_MONOTONIC, &p->last_activity);
	return moved;
}

/* ---- end of a channel: exit status, EOF and close, in that order, and
 * each only once the data before it has been written.
 *
 * Each step looks at the state afresh: sending an EOF or a close flushes
 * libssh's output, and that poll can run callbacks, so more data, the exit
 * status or a close may have arrived since the step before. (Deciding on
 * an older look once closed a client's channel on an exit status that had
 * just come in, unsent.) What arrives that way sets p->news, and the main
 * loop pumps again at once. ---- */

int pair_up_drained(const struct pair *pr)
{
	return stream_drained(&pr->up);
}

int pair_down_drained(const struct pair *pr)
{
	return stream_drained(&pr->down_out) && stream_drained(&pr->down_err);
}

static void send_exit(struct pair *pr)
{
	int rc;

	if (pr->exit_kind == EXIT_STATUS) {
		rc = ssh_channel_request_send_exit_status(pr->client, pr->exit_status);
		pr->p->last_exit_status = pr->exit_status;
	} else {
		rc = ssh_channel_request_send_exit_signal(pr->client, pr->exit_signal, pr->exit_core,
		                                          pr->exit_errmsg, pr->exit_lang);
		log_verbose("remote command killed by signal %s", pr->exit_signal);
	}
	if (rc != SSH_OK)
		log_debug("cannot pass the exit status on: %s", ssh_get_error(pr->p->client));
	else
		log_verbose("channel %lu: exit %s passed to the client", pr->id,
		            pr->exit_kind == EXIT_STATUS ? "status" : "signal");
	pr->sent_exit = 1;
}

static int exit_owed(const struct pair *pr)
{
	return pr->exit_kind != EXIT_NONE && !pr->sent_exit;
}

/* The exit status goes on even when the client has already closed its
 * side: a client that has sent and received EOF may close first, and sshd
 * still sends the exit status then, which the client still takes. */
static void finish_downstream(struct pair *pr)
{
	if (pr->sent_close_down || !pair_down_drained(pr))
		return;
	if (exit_owed(pr))
		send_exit(pr);
	if (pr->upstream_eof && !pr->sent_eof_down && !pr->client_closed && pair_down_drained(pr)) {
		pr->sent_eof_down = 1;
		ssh_channel_send_eof(pr->client);
	}
}

static void finish_upstream(struct pair *pr)
{
	if (pr->upstream_closed || pr->sent_close_up || !pair_up_drained(pr))
		return;
	if (pr->client_eof && !pr->sent_eof_up) {
		pr->sent_eof_up = 1;
		ssh_channel_send_eof(pr->upstream);
	}
}

/* Seconds a client's close waits before it goes upstream, when the
 * upstream's command has sent EOF but no exit status yet. */
#define CLOSE_HOLD_SECONDS 2

/* A client that has sent and received EOF (a multiplexing ssh) may close
 * its channel before the exit status arrives. A server that has a close
 * may end the session without an exit status (sshd still sends one when
 * its command was running at the close, but not every server does); so
 * the close waits (a little) for it, and the exit status still reaches
 * the client. */
static int hold_client_close(struct pair *pr)
{
	struct timespec now;

	if (pr->exit_kind != EXIT_NONE || !pr->upstream_eof)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (pr->close_held_since.tv_sec == 0) {
		pr->close_held_since = now;
		return 1;
	}
	return now.tv_sec - pr->close_held_since.tv_sec < CLOSE_HOLD_SECONDS;
}

/* The upstream's side is over for the client: it closed, and everything
 * it sent before (data, exit status) has been passed on. */
static int upstream_done(const struct pair *pr)
{
	return pr->upstream_closed && pair_down_drained(pr) && !exit_owed(pr);
}

/* Each side's close is passed on once what it sent before has been: the
 * client's close goes upstream, the upstream's (which follows its exit
 * status) goes to the client. A close is also the answer to the other
 * side's close. */
static void close_pair(struct pair *pr)
{
	/* with the client gone, the upstream's command ends by itself at EOF;
	 * a session channel that runs nothing would wait forever */
	int client_done = pr->client_closed && pair_up_drained(pr) && !hold_client_close(pr) &&
	                  (pr->p->lost != LOST_CLIENT || (pr->is_session && !pr->started));

	if (!pr->sent_close_up && (client_done || upstream_done(pr))) {
		log_verbose("channel %lu: closed by the %s", pr->id,
		            upstream_done(pr) ? "upstream" : "client");
		pr->sent_close_up = 1;
		ssh_channel_close(pr->upstream);
	}
	if (!pr->sent_close_down && upstream_done(pr)) {
		pr->sent_close_down = 1;
		ssh_channel_close(pr->client);
	}
}

void pair_open_pending(struct pair *pr, struct pending_open *po, int toward_client)
{
	pr->opening = po;
	pr->opening_toward_client = toward_client;
}

/* A late refusal of a tunnel's far side: its accepted twin is closed as if
 * the far side had closed. Returns 1 while the open is still pending. */
static int still_opening(struct pair *pr)
{
	int rc;

	if (pr->opening == NULL)
		return 0;
	rc = open_step(pr, pr->opening);
	if (rc == SSH_AGAIN)
		return 1;
	pr->opening = NULL;
	if (rc == SSH_OK)
		return 0;
	if (pr->opening_toward_client) {
		pr->client_eof = pr->client_closed = 1;
		pr->sent_close_down = 1; /* never opened: nothing to close */
	} else {
		pr->upstream_eof = pr->upstream_closed = 1;
		pr->sent_close_up = 1;
	}
	return 0;
}

void pair_pump(struct pair *pr)
{
	if (still_opening(pr))
		return;

	while (pump_data(pr))
		;
	finish_downstream(pr);
	finish_upstream(pr);
	close_pair(pr);
}

int pair_finished(const struct pair *pr)
{
	return pr->sent_close_down && pr->sent_close_up && pr->client_closed && pr->upstream_closed;
}

/* ---- pairs ---- */

void pair_free(struct pair *pr)
{
	if (pr->id != 0) { /* started: it was counted */
		chans.n_channels--;
		pr->p->n_sessions -= pr->is_session;
	}
	if (pr->opening)
		open_abandon(pr->opening);
	if (pr->client) {
		ssh_remove_channel_callbacks(pr->client, &pr->client_cb);
		ssh_channel_free(pr->client);
	}
	if (pr->upstream) {
		ssh_remove_channel_callbacks(pr->upstream, &pr->upstream_cb);
		ssh_channel_free(pr->upstream);
	}
	free(pr->up.carry);
	free(pr->down_out.carry);
	free(pr->down_err.carry);
	free(pr->exit_signal);
	free(pr->exit_errmsg);
	free(pr->exit_lang);
	free(pr->pty_term);
	if (recording_close(pr->rec, 0) < 0)
		log_error("channel %lu: the end of its recording could not be written", pr->id);
	free(pr);
}

void pair_install_requests(void (*fill)(struct ssh_channel_callbacks_struct *cb))
{
	fill_requests = fill;
}

void pair_install_opens(int (*step)(const struct pair *pr, struct pending_open *po),
                        void (*abandon)(struct pending_open *po))
{
	open_step = step;
	open_abandon = abandon;
}

static void init_client_callbacks(struct pair *pr)
{
	struct ssh_channel_callbacks_struct *cb = &pr->client_cb;

	cb->userdata = pr;
	cb->channel_data_function = on_client_data;
	cb->channel_eof_function = on_client_eof;
	cb->channel_close_function = on_client_close;
	if (fill_requests != NULL)
		fill_requests(cb);
	ssh_callbacks_init(cb);
}

static void init_upstream_callbacks(struct pair *pr)
{
	struct ssh_channel_callbacks_struct *cb = &pr->upstream_cb;

	cb->userdata = pr;
	cb->channel_data_function = on_upstream_data;
	cb->channel_eof_function = on_upstream_eof;
	cb->channel_close_function = on_upstream_close;
	cb->channel_exit_status_function = on_upstream_exit_status;
	cb->channel_exit_signal_function = on_upstream_exit_signal;
	ssh_callbacks_init(cb);
}

static struct pair *pair_new(struct connection *p)
{
	struct pair *pr = calloc(1, sizeof(*pr));

	if (pr == NULL)
		return NULL;
	pr->p = p;
	pr->down_err.is_stderr = 1;
	init_client_callbacks(pr);
	init_upstream_callbacks(pr);
	return pr;
}

/* New pairs go to the end of the list: a channel can be opened from inside
 * pump_all() (a write may poll), and pump_all() keeps a link into the list. */
static void append_pair(struct connection *p, struct pair *pr)
{
	struct pair **link = &p->pairs;

	while (*link)
		link = &(*link)->next;
	*link = pr;
}

/* A pair with fresh, not yet opened channels on both sessions and its
 * callbacks in place. */
struct pair *pair_with_channels(struct connection *p)
{
	struct pair *pr = pair_new(p);

	if (pr == NULL)
		return NULL;
	pr->upstream = ssh_channel_new(p->upstream);
	pr->client = ssh_channel_new(p->client);
	if (pr->upstream == NULL || pr->client == NULL) {
		pair_free(pr);
		return NULL;
	}
	ssh_set_channel_callbacks(pr->upstream, &pr->upstream_cb);
	ssh_set_channel_callbacks(pr->client, &pr->client_cb);
	return pr;
}

void start_pair(struct connection *p, struct pair *pr, const char *kind)
{
	append_pair(p, pr);
	pr->id = ++p->channels_opened;
	pr->is_session = strcmp(kind, "session") == 0;
	chans.n_channels++;
	p->n_sessions += pr->is_session;
	log_verbose("%s channel %lu opened", kind, pr->id);
}

int pair_channel_allowed(const struct connection *p, const char *kind, int toward_client)
{
	if (chans.n_channels >= p->cfg->max_channels) {
		log_info("refused a %s channel: %d channels are open (max_channels)", kind,
		         chans.n_channels);
		return 0;
	}
	if (pair_side_paused(p, toward_client ? CLIENT_SIDE : UPSTREAM_SIDE)) {
		log_info("refused a %s channel: the %s's channels hold %zu bytes for slow readers",
		         kind, toward_client ? "client" : "upstream",
		         pair_side_stalled(p, toward_client ? CLIENT_SIDE : UPSTREAM_SIDE));
		return 0;
	}
	return 1;
}

/* ---- the memory budget ----
 *
 * Flow control bounds each channel by its window, but libssh's windows
 * are its own (1,280,000 bytes in 0.10, 2 MiB later) and there is no API
 * to make them smaller: 64 channels whose readers are slow would make
 * libssh hold 80 to 130 MB. So the relay counts what each side has sent
 * that is not delivered yet, in libssh and in the carries: its hold. A
 * side's socket is not read (the side is paused; its peer waits, in TCP,
 * and so do its other channels) while
 *  - what it sent toward shut windows is HOLD_MAX or more: its
 *    channels' readers are slow (held);
 *  - or what it sent toward open windows is PIPELINE_MAX or more and the
 *    other side's socket has output waiting, so that nothing read now
 *    could be written on (blocked): this one is short, it ends when that
 *    socket drains. Channels whose reader has shut its window do not
 *    count here: they would keep the side blocked for as long as they
 *    wait (pair_side_moving).
 * Under those, channels move as their windows allow.
 *
 * A paused side still flushes what is owed to it (libssh may read a
 * packet's worth then): a blocked side at once, a held one at most once
 * per TRICKLE_MS. It is read to its end when its peer hangs up. When both
 * sides are paused, each may be waiting for a window adjustment stuck in
 * the other's unread socket: then each is read once per TRICKLE_MS. New
 * channels are not opened toward a held side: the round trip would read
 * its socket.
 *
 * libssh never gives a channel's buffer back while the channel is open,
 * so a peer that fills its channels one after the other makes the
 * process bigger each time, though the hold stays small. The footprint
 * counts that: what each stream made libssh hold at its most, plus the
 * carries (freed when idle). Past BUFFER_CEILING, the connection ends. */
#define HOLD_MAX ((size_t)6 * 1024 * 1024)
#define BUFFER_CEILING ((size_t)30 * 1024 * 1024)

static size_t stream_hold(const struct stream *st)
{
	return (size_t)st->pending + (st->len - st->off);
}

/* What a side has sent that waits: toward destinations whose window is
 * shut (stalled: waiting on a reader), or open (moving: waiting only on
 * the socket). */
static size_t side_waiting(const struct connection *p, int which, int stalled)
{
	const struct pair *pr;
	size_t sum = 0;

	for (pr = p->pairs; pr; pr = pr->next) {
		ssh_channel dst = which == CLIENT_SIDE ? pr->upstream : pr->client;
		int shut = dst == NULL || ssh_channel_window_size(dst) == 0;

		if (shut != stalled)
			continue;
		sum += which == CLIENT_SIDE ? stream_hold(&pr->up)
		                            : stream_hold(&pr->down_out) + stream_hold(&pr->down_err);
	}
	return sum;
}

size_t pair_side_stalled(const struct connection *p, int which)
{
	return side_waiting(p, which, 1);
}

size_t pair_side_moving(const struct connection *p, int which)
{
	return side_waiting(p, which, 0);
}

/* What libssh's buffer for a stream that held peak bytes at most has made
 * resident: about that much (it allocates the power of two above, but
 * pages are resident only once written), and a packet of slack for what
 * it read but has not moved to the front yet. */
static size_t libssh_footprint(uint32_t peak)
{
	return peak == 0 ? 0 : (size_t)peak + (size_t)64 * 1024;
}

static size_t stream_footprint(const struct stream *st)
{
	return libssh_footprint(st->peak) + st->cap;
}

static size_t connection_footprint(const struct connection *p)
{
	const struct pair *pr;
	size_t sum = 0;

	for (pr = p->pairs; pr; pr = pr->next)
		sum += stream_footprint(&pr->up) + stream_footprint(&pr->down_out) +
		       stream_footprint(&pr->down_err);
	return sum;
}

int pair_side_paused(const struct connection *p, int which)
{
	return pair_side_stalled(p, which) >= HOLD_MAX;
}

/* The hard bound (see above): the connection ends. */
void pair_end_over_ceiling(struct connection *p)
{
	size_t used = connection_footprint(p);

	if (used <= BUFFER_CEILING)
		return;
	log_info("the connection's channels made libssh and sshroute hold %zu bytes, over the %zu allowed",
	         used, BUFFER_CEILING);
	connection_end(p, EXIT_OK, "buffers full", "sshroute: the connection's buffers are full");
}

ssh_channel pair_client(const struct pair *pr)
{
	return pr->client;
}

ssh_channel pair_upstream(const struct pair *pr)
{
	return pr->upstream;
}
