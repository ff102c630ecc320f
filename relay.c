/* relay.c: the relay's main loop, and the session channels' requests.
 *
 * Each client session channel has a twin on the upstream; together they
 * are a pair (pair.c, which moves their bytes). This file passes the
 * session requests (pty, shell, exec, subsystem, env, signals, X11 and
 * agent) upstream, and runs the loop that polls both sockets, lets libssh
 * handle them as the memory budget allows, pumps every pair, and watches
 * the limits (idle_timeout, max_session_time) and the end of either
 * side. */
#include "relay.h"

#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pair.h"
#include "record.h"

/* The main loop's own timers and state. */
static struct {
	struct timespec logged_in;        /* the relay's start (max_session_time) */
	struct timespec lost_since;       /* when one side ended (DRAIN_SECONDS) */
	struct timespec delivered_since;  /* with the client lost: all it sent went upstream */
	int busy;                         /* libssh had work at the last look: see poll_sessions() */
} loop;

#define POLL_MS 1000
#define TRICKLE_MS 100  /* a paused side's turn: see the memory budget in pair.c */
#define OPENING_POLL_MS 50
#define DRAIN_POLL_MS 100

/* ---- channel requests: passed upstream, the upstream's answer is the
 * client's. Requests are synchronous, so one is pending at a time. ---- */

static int request_answer(struct pair *pr, int rc, const char *request)
{
	if (rc == SSH_OK)
		return 0;
	log_verbose("upstream refused %s: %s", request, ssh_get_error(pr->p->upstream));
	return -1;
}

static int upstream_open(const struct pair *pr)
{
	return !pr->upstream_closed && !pr->sent_close_up;
}

/* The requests that wait for the upstream's answer. */
enum request_kind { REQ_PTY, REQ_SHELL, REQ_EXEC, REQ_SUBSYSTEM, REQ_ENV };

static const char *const request_names[] = {
	[REQ_PTY] = "pty-req", [REQ_SHELL] = "shell", [REQ_EXEC] = "exec",
	[REQ_SUBSYSTEM] = "subsystem", [REQ_ENV] = "env",
};

/* Passes one request upstream; its answer is the client's (0 or -1). */
static int forward_request(struct pair *pr, enum request_kind kind, const char *arg,
                           const char *value, int cols, int rows)
{
	ssh_channel up = pr->upstream;
	int rc = SSH_ERROR;

	if (!upstream_open(pr))
		return -1;
	connection_set_blocking(pr->p->upstream, 1);
	switch (kind) {
	case REQ_PTY:
		rc = ssh_channel_request_pty_size(up, arg, cols, rows);
		break;
	case REQ_SHELL:
		rc = ssh_channel_request_shell(up);
		break;
	case REQ_EXEC:
		rc = ssh_channel_request_exec(up, arg);
		break;
	case REQ_SUBSYSTEM:
		rc = ssh_channel_request_subsystem(up, arg);
		break;
	case REQ_ENV:
		rc = ssh_channel_request_env(up, arg, value);
		break;
	}
	connection_set_blocking(pr->p->upstream, 0);
	return request_answer(pr, rc, request_names[kind]);
}

static int on_pty_request(ssh_session s, ssh_channel c, const char *term, int cols, int rows,
                          int px_width, int px_height, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c; (void)px_width; (void)px_height;
	if (forward_request(pr, REQ_PTY, term, NULL, cols, rows) < 0)
		return -1;
	free(pr->pty_term);
	pr->pty_term = strdup(term ? term : "");
	pr->pty_cols = cols;
	pr->pty_rows = rows;
	return 0;
}

/* A shell (command NULL) or a command, recorded on a route with record.
 * A session runs one: a second request goes upstream, whose answer (sshd
 * refuses it) is the client's, and changes nothing here, least of all the
 * running session's recording. */
static int start_session(struct pair *pr, const char *command)
{
	int rc;

	if (pr->started)
		return command ? forward_request(pr, REQ_EXEC, command, NULL, 0, 0)
		               : forward_request(pr, REQ_SHELL, NULL, NULL, 0, 0);
	if (pair_start_recording(pr, command ? command : "shell") < 0)
		return 0;   /* granted, and refused by refuse_session */
	rc = command ? forward_request(pr, REQ_EXEC, command, NULL, 0, 0)
	             : forward_request(pr, REQ_SHELL, NULL, NULL, 0, 0);
	pair_settle_recording(pr, rc == 0);
	pr->started |= rc == 0;
	return rc;
}

static int on_shell_request(ssh_session s, ssh_channel c, void *userdata)
{
	(void)s; (void)c;
	return start_session(userdata, NULL);
}

static int on_exec_request(ssh_session s, ssh_channel c, const char *command, void *userdata)
{
	(void)s; (void)c;
	return start_session(userdata, command);
}

/* A subsystem (sftp) is not recorded byte for byte; the session record
 * says that it ran. */
static int on_subsystem_request(ssh_session s, ssh_channel c, const char *subsystem,
                                void *userdata)
{
	struct pair *pr = userdata;
	char note[96];

	(void)s; (void)c;
	if (forward_request(pr, REQ_SUBSYSTEM, subsystem, NULL, 0, 0) < 0)
		return -1;
	pr->started = 1;
	if (pr->p->target.record) {
		snprintf(note, sizeof(note), "subsystem %s (not recorded)", subsystem);
		pair_note_recording(pr->p, note);
	}
	return 0;
}

static int on_env_request(ssh_session s, ssh_channel c, const char *name, const char *value,
                          void *userdata)
{
	(void)s; (void)c;
	return forward_request(userdata, REQ_ENV, name, value, 0, 0);
}

/* window-change wants no answer, so it does not wait for one. */
static int on_window_change(ssh_session s, ssh_channel c, int cols, int rows, int px_width,
                            int px_height, void *userdata)
{
	struct pair *pr = userdata;
	char why[256];

	(void)s; (void)c; (void)px_width; (void)px_height;
	if (!upstream_open(pr))
		return -1;
	if (pr->rec != NULL && recording_resize(pr->rec, cols, rows, why, sizeof(why)) < 0)
		pair_recording_failed(pr->p, why);
	return request_answer(pr, ssh_channel_change_pty_size(pr->upstream, cols, rows),
	                      "window-change");
}

/* ssh -A: the upstream will open auth-agent channels back to the client. */
static void on_agent_request(ssh_session s, ssh_channel c, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c;
	if (!(pr->p->target.forward & FORWARD_AGENT))
		log_verbose("channel %lu: refused agent forwarding (allow_agent_forwarding = no)", pr->id);
	else if (upstream_open(pr))
		request_answer(pr, ssh_channel_request_auth_agent(pr->upstream), "auth-agent-req");
}

/* x11-req comes through the message callback, not a channel callback:
 * after a channel callback libssh 0.10 answers success whatever the
 * upstream said. Its fields have only deprecated getters there. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int request_x11_upstream(ssh_channel up, ssh_message msg)
{
	return ssh_channel_request_x11(up, ssh_message_channel_request_x11_single_connection(msg),
	                               ssh_message_channel_request_x11_auth_protocol(msg),
	                               ssh_message_channel_request_x11_auth_cookie(msg),
	                               ssh_message_channel_request_x11_screen_number(msg));
}
#pragma GCC diagnostic pop

int relay_x11_request(struct connection *p, ssh_message msg)
{
	ssh_channel c = ssh_message_channel_request_channel(msg);
	struct pair *pr = p->pairs;
	int rc;

	while (pr != NULL && pr->client != c)
		pr = pr->next;
	if (pr == NULL || !upstream_open(pr))
		return 1;
	if (!(p->target.forward & FORWARD_X11)) {
		log_verbose("channel %lu: refused X11 forwarding (x11_forwarding = no)", pr->id);
		return 1;
	}
	connection_set_blocking(p->upstream, 1);
	rc = request_x11_upstream(pr->upstream, msg);
	connection_set_blocking(p->upstream, 0);
	if (request_answer(pr, rc, "x11-req") < 0)
		return 1;
	ssh_message_channel_request_reply_success(msg);
	return 0;
}

static void on_signal(ssh_session s, ssh_channel c, const char *signal, void *userdata)
{
	struct pair *pr = userdata;

	(void)s; (void)c;
	if (upstream_open(pr))
		request_answer(pr, ssh_channel_request_send_signal(pr->upstream, signal), "signal");
}

static void fill_requests(struct ssh_channel_callbacks_struct *cb)
{
	cb->channel_pty_request_function = on_pty_request;
	cb->channel_pty_window_change_function = on_window_change;
	cb->channel_shell_request_function = on_shell_request;
	cb->channel_exec_request_function = on_exec_request;
	cb->channel_subsystem_request_function = on_subsystem_request;
	cb->channel_env_request_function = on_env_request;
	cb->channel_signal_function = on_signal;
	cb->channel_auth_agent_req_function = on_agent_request;
}

void relay_install(void)
{
	pair_install_requests(fill_requests);
}

/* sshd's MaxSessions: over the limit, the open is refused and the
 * connection goes on. */
static int session_allowed(struct connection *p)
{
	if (p->n_sessions >= p->cfg->max_sessions) {
		log_info("refused a session channel: %d sessions are open (max_sessions)",
		         p->n_sessions);
		return 0;
	}
	return pair_channel_allowed(p, "session", 0);
}

ssh_channel relay_open_session(struct connection *p)
{
	struct pair *pr;
	int rc;

	if (!session_allowed(p))
		return NULL;
	pr = pair_with_channels(p);
	if (pr == NULL)
		return NULL;
	connection_set_blocking(p->upstream, 1);
	rc = ssh_channel_open_session(pr->upstream);
	connection_set_blocking(p->upstream, 0);
	if (rc != SSH_OK) {
		log_info("upstream refused a session channel: %s", ssh_get_error(p->upstream));
		pair_free(pr);
		return NULL;
	}
	start_pair(p, pr, "session");
	return pr->client;
}

/* Pumps every pair, and frees those that both sides have closed. Runs only
 * from the main loop, never from a callback. */
static void pump_all(struct connection *p)
{
	struct pair **link = &p->pairs, *pr;

	p->news = 0;
	while ((pr = *link) != NULL) {
		pair_pump(pr);
		if (pair_finished(pr)) {
			*link = pr->next;
			pair_free(pr);
		} else {
			link = &pr->next;
		}
	}
}

/* How long the main loop may sleep in poll(). News that came during the
 * pump (see close_pair) is not waiting in a socket: no sleep. Nor is the
 * answer to a pending open when a nested poll read it; no callback tells
 * of it, so the loop looks again soon while an open is pending. */
/* Milliseconds from t to now, on the monotonic clock. */
static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Milliseconds left until a limit of seconds counted from t (it may be
 * negative); LONG_MAX when there is no limit. */
static long ms_left(int seconds, const struct timespec *t)
{
	return seconds <= 0 ? LONG_MAX : (long)seconds * 1000 - ms_since(t);
}

/* The poll wakes in time for max_session_time and idle_timeout too. */
static int poll_timeout(const struct connection *p)
{
	const struct pair *pr;
	long ms = POLL_MS, left;

	if (p->news)
		return 0;
	for (pr = p->pairs; pr; pr = pr->next)
		if (pr->opening)
			ms = OPENING_POLL_MS;
	if (p->lost != LOST_NONE && ms > DRAIN_POLL_MS)
		ms = DRAIN_POLL_MS;   /* the drain's steps are short (end_when_drained) */
	left = ms_left(p->target.max_session_time, &loop.logged_in);
	if (left < ms)
		ms = left < 0 ? 0 : left;
	left = ms_left(p->cfg->idle_timeout, &p->last_activity);
	if (left < ms)
		ms = left < 0 ? 0 : left;
	return (int)ms;
}

/* ---- one side gone ----
 *
 * When one connection ends, what the other side is owed still goes to it:
 * the data already received (in the carries: see stash_rest), the exit
 * status, EOF and close, within DRAIN_SECONDS. Then sshroute ends. */
#define DRAIN_SECONDS 10

/* The upstream connection ended. A channel it closed properly is finished
 * toward the client as usual; one it just dropped gets its data, but no
 * end: an OpenSSH client leaves as soon as its last channel closes, before
 * the disconnect message that says why would arrive. */
static void upstream_lost(struct connection *p)
{
	struct pair *pr;

	log_info("upstream closed the connection: %s", ssh_get_error(p->upstream));
	for (pr = p->pairs; pr; pr = pr->next) {
		pr->cut_off = !pr->upstream_closed;
		pr->sent_eof_up = pr->sent_close_up = 1;
		pr->down_out.pending = pr->down_err.pending = 0;
		if (pr->opening && !pr->opening_toward_client)
			pr->cut_off = 1;
	}
}

/* The client connection ended: what it sent goes upstream, then EOF and
 * close. */
static void client_lost(struct connection *p)
{
	struct pair *pr;

	log_verbose("client closed the connection");
	for (pr = p->pairs; pr; pr = pr->next) {
		pr->client_eof = pr->client_closed = 1;
		pr->sent_eof_down = pr->sent_close_down = 1;
		pr->sent_exit = 1; /* nobody to pass it to */
		pr->up.pending = 0;
	}
}

/* 1 when the surviving side has everything it is owed, and has taken
 * it: the client's answer to the close comes only once its output is
 * written, and the upstream's close once its command has read its input
 * and ended (sshd drops what a command has not read when its channel
 * closes, or the connection). */
static int drained_toward_client(const struct pair *pr)
{
	return pair_down_drained(pr) && (pr->cut_off || pr->client_closed);
}

static int drained_toward_upstream(const struct pair *pr)
{
	return pair_up_drained(pr) && pr->upstream_closed;
}

static int all_drained(const struct connection *p)
{
	const struct pair *pr;

	for (pr = p->pairs; pr; pr = pr->next)
		if (p->lost == LOST_UPSTREAM ? !drained_toward_client(pr) : !drained_toward_upstream(pr))
			return 0;
	return 1;
}

/* With the client gone, its commands get what it sent, then EOF. One that
 * ends at EOF (cat >file) closes within EOF_GRACE_MS; one that does not
 * (sleep, a shell's background job) is not waited for: the connection
 * ends once everything went upstream that long ago. */
#define EOF_GRACE_MS 500

static int client_owed_nothing(const struct connection *p)
{
	const struct pair *pr;

	if (p->lost != LOST_CLIENT)
		return 0;
	for (pr = p->pairs; pr; pr = pr->next) {
		if (!pair_up_drained(pr) || !(pr->upstream_closed || pr->sent_eof_up)) {
			loop.delivered_since.tv_sec = loop.delivered_since.tv_nsec = 0;
			return 0;
		}
	}
	if (loop.delivered_since.tv_sec == 0 && loop.delivered_since.tv_nsec == 0) {
		clock_gettime(CLOCK_MONOTONIC, &loop.delivered_since);
		return 0;
	}
	return ms_since(&loop.delivered_since) >= EOF_GRACE_MS;
}

/* Ends the connection once the surviving side has been served, when
 * DRAIN_SECONDS have passed, or at once when the survivor is gone too. */
static void end_when_drained(struct connection *p, int survivor_gone)
{
	const struct pair *pr;
	int cut = 0, owed_nothing = client_owed_nothing(p);

	if (!survivor_gone && !all_drained(p) && !owed_nothing &&
	    ms_since(&loop.lost_since) < DRAIN_SECONDS * 1000L)
		return;
	if (!all_drained(p) && !owed_nothing)
		log_info("ending with data still undelivered%s",
		         survivor_gone ? ": both sides are gone" : " after the drain time");
	if (p->lost == LOST_CLIENT)
		connection_end(p, EXIT_OK, "client closed", NULL);
	for (pr = p->pairs; pr; pr = pr->next)
		cut |= !pr->sent_close_down && !pr->client_closed;
	connection_end(p, cut ? EXIT_UPSTREAM : EXIT_OK, "upstream closed",
	               cut ? "sshroute: the connection to the server was lost" : NULL);
}

/* Notices a connection that ended; when both are found ended at once, the
 * upstream's end counts as the cause. Once the survivor has ended too,
 * there is nobody left to serve. */
static void notice_lost(struct connection *p)
{
	int up_gone = p->lost == LOST_UPSTREAM || session_is_gone(p->upstream);
	int client_gone = p->lost == LOST_CLIENT || session_is_gone(p->client);

	if (p->lost != LOST_NONE) {
		if (up_gone && client_gone)
			end_when_drained(p, 1);
		return;
	}
	if (!up_gone && !client_gone)
		return;
	p->lost = up_gone ? LOST_UPSTREAM : LOST_CLIENT;
	clock_gettime(CLOCK_MONOTONIC, &loop.lost_since);
	if (up_gone)
		upstream_lost(p);
	else
		client_lost(p);
}

/* idle_timeout: no channel data either way for that long ends the
 * connection. */
static int idle_too_long(const struct connection *p)
{
	return ms_left(p->cfg->idle_timeout, &p->last_activity) <= 0;
}

/* max_session_time: that long after login ends the connection, to the
 * millisecond. */
static int session_time_over(const struct connection *p)
{
	return ms_left(p->target.max_session_time, &loop.logged_in) <= 0;
}

/* Lets libssh handle one session's socket, up to reads times: libssh reads
 * at most 4 KiB per poll, so while bytes keep coming it is let read up to
 * BURST_READS times (its own poll with no wait, then the read) before the
 * relay pumps. Returns 1 when libssh found something to do. */
#define BURST_READS 16
static int handle_session(ssh_event ev, int reads)
{
	int k;

	for (k = 0; k < reads; k++) {
		connection_packets_seen();
		if (ssh_event_dopoll(ev, 0) != SSH_OK)
			break;
	}
	return k > 0;
}

/* One side's socket as the main loop polls it. */
struct side {
	int which;     /* CLIENT_SIDE or UPSTREAM_SIDE */
	ssh_session session;
	ssh_event event;
	int held;      /* paused: its hold is HOLD_MAX or more */
	int blocked;   /* paused: see side_blocked() */
	int touch;     /* paused, but let libssh handle it once now */
};

static int write_pending(ssh_session s)
{
	return (ssh_get_poll_flags(s) & SSH_WRITE_PENDING) != 0;
}

/* When each paused side was last let libssh handle it (see the budget). */
static struct timespec touched_at[2];

/* A paused side's turn: 1 when TRICKLE_MS have passed since the last,
 * else the poll's timeout is shortened to wake for the next. */
static int turn_now(const struct side *sd, int *timeout_ms)
{
	long wait = TRICKLE_MS - ms_since(&touched_at[sd->which]);

	if (wait <= 0)
		return 1;
	if (wait < *timeout_ms)
		*timeout_ms = (int)wait;
	return 0;
}

/* The second pause of the memory budget. */
#define PIPELINE_MAX ((size_t)1024 * 1024)
static int side_blocked(const struct connection *p, int which, ssh_session other)
{
	return write_pending(other) && pair_side_moving(p, which) >= PIPELINE_MAX;
}

/* What the poll asks of a side: see the memory budget for a paused one. */
static short side_events(struct side *sd, int both_paused, int *timeout_ms)
{
	int flush = write_pending(sd->session);
	short ev = POLLRDHUP;

	sd->touch = 0;
	if (!sd->held && !sd->blocked)
		return POLLIN | (flush ? POLLOUT : 0);
	if (flush && sd->held)
		flush = turn_now(sd, timeout_ms);
	if (both_paused && turn_now(sd, timeout_ms))
		ev |= POLLIN;
	if (flush)
		ev |= POLLOUT;
	sd->touch = ev != POLLRDHUP;
	return ev;
}

/* Lets libssh handle a side: a burst of reads, once for a paused side's
 * turn, or a burst when its peer hung up, whatever the budget. Returns 1
 * when libssh found something to do. */
static int handle_side(struct side *sd, short revents)
{
	if (revents & (POLLRDHUP | POLLHUP | POLLERR))
		return handle_session(sd->event, BURST_READS);
	if (!sd->held && !sd->blocked)
		return handle_session(sd->event, BURST_READS);
	if (!sd->touch)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &touched_at[sd->which]);
	return handle_session(sd->event, 1);
}

/* The sides whose connection has not ended, with what the budget says
 * of each; returns how many. */
static int live_sides(const struct connection *p, struct side sides[2])
{
	int n = 0, i;

	for (i = CLIENT_SIDE; i <= UPSTREAM_SIDE; i++) {
		if ((i == CLIENT_SIDE && p->lost == LOST_CLIENT) ||
		    (i == UPSTREAM_SIDE && p->lost == LOST_UPSTREAM))
			continue;
		sides[n].which = i;
		sides[n].session = i == CLIENT_SIDE ? p->client : p->upstream;
		sides[n].event = i == CLIENT_SIDE ? p->event : p->upstream_event;
		sides[n].held = pair_side_paused(p, i);
		sides[n].blocked = 0;
		sides[n++].touch = 0;
	}
	if (n == 2) {
		sides[0].blocked = side_blocked(p, sides[0].which, sides[1].session);
		sides[1].blocked = side_blocked(p, sides[1].which, sides[0].session);
	}
	return n;
}

/* The client and the upstream session have a poll context each, so that
 * a call on one (a write that flushes, a blocking request) never handles
 * the other's socket: with one context for both, libssh 0.10 marked the
 * session it was writing on as failed when the other's socket ended during
 * that write, and what was still owed to the survivor was lost. So the
 * main loop waits on both sockets itself, and lets libssh handle each
 * session whose socket is ready. A session that has ended is left out.
 *
 * While bytes flow (libssh found work last time), the loop does not poll
 * itself: libssh's own poll is the look, and one system call fewer per
 * 4 KiB read is a third of the relay's system calls. */
static void poll_sessions(const struct connection *p, int timeout_ms)
{
	struct pollfd fds[3];
	struct side sides[2];
	int n, i, busy = 0, both_paused, stop_fd = connection_stop_fd();

	n = live_sides(p, sides);
	if (n == 0)
		return;
	if (loop.busy) {
		for (i = 0; i < n; i++)
			busy |= handle_side(&sides[i], 0);
		if ((loop.busy = busy) != 0)
			return;
	}
	both_paused = n == 2 && (sides[0].held || sides[0].blocked) &&
	              (sides[1].held || sides[1].blocked);
	for (i = 0; i < n; i++) {
		fds[i].fd = ssh_get_fd(sides[i].session);
		fds[i].events = side_events(&sides[i], both_paused, &timeout_ms);
		fds[i].revents = 0;
	}
	/* a stop asked by signal wakes the poll (connection_stop_if_asked) */
	fds[n].fd = stop_fd;
	fds[n].events = POLLIN;
	fds[n].revents = 0;
	if (poll(fds, (nfds_t)n + (stop_fd >= 0), timeout_ms) <= 0)
		return;
	for (i = 0; i < n; i++)
		if (fds[i].revents)
			loop.busy |= handle_side(&sides[i], fds[i].revents);
}

void relay_run(struct connection *p)
{
	int timeout;

	connection_at_end(pair_close_recordings);
	ssh_set_blocking(p->client, 0);
	connection_set_blocking(p->upstream, 0);
	clock_gettime(CLOCK_MONOTONIC, &p->last_activity);
	loop.logged_in = p->last_activity;
	for (;;) {
		connection_stop_if_asked(p);
		pair_end_on_violation(p);
		notice_lost(p);
		pump_all(p);
		pair_end_on_violation(p);
		pair_end_over_ceiling(p);
		if (p->lost != LOST_NONE) {
			end_when_drained(p, 0);
		} else if (idle_too_long(p)) {
			log_info("no data for %d seconds (idle_timeout)", p->cfg->idle_timeout);
			connection_end(p, EXIT_OK, "idle timeout", "sshroute: idle timeout");
		} else if (session_time_over(p)) {
			log_info("logged in for %.3f seconds (max_session_time = %d)",
			         (double)ms_since(&loop.logged_in) / 1000, p->target.max_session_time);
			connection_end(p, EXIT_OK, "session time limit", "sshroute: session time limit reached");
		}
		/* what the recordings hold is written before the loop sleeps */
		timeout = poll_timeout(p);
		pair_flush_recordings(p, !loop.busy && timeout > 0);
		poll_sessions(p, timeout);
	}
}
