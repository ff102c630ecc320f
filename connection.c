/* connection.c: one client connection's life, from the socket systemd or
 * inetd passes to the one way it ends.
 *
 * It owns what every layer above reads of the connection: the client's
 * address (from the socket, or from a PROXY header behind a load
 * balancer), the login grace timer, the signals that ask for a clean
 * stop, which session the packet libssh is handling came from, and the
 * end: goodbye to both sides, the recordings closed (through the hook the
 * relay registers), the session record, exit. It calls no module above it
 * (see ARCHITECTURE.md). */
#include "connection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <libssh/callbacks.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "log.h"
#include "lookup.h"
#include "proxyproto.h"
#include "upstream.h"

static volatile sig_atomic_t grace_expired;
static volatile sig_atomic_t stop_signal;   /* the signal that asked for a stop, or 0 */
static volatile sig_atomic_t keys_exchanged; /* the client's key exchange is over */
static int stop_pipe[2] = { -1, -1 };       /* written to by that signal's handler */
static int client_fd = -1;
static struct connection the_connection;
static void (*end_hook)(struct connection *p);  /* see connection_at_end() */

/* ---- the socket ---- */

/* systemd with Accept=yes passes the connection as fd 3; inetd, xinetd and
 * StandardInput=socket pass it as fd 0. */
static int connection_fd(void)
{
	int n = sd_listen_fds(1);

	if (n > 1)
		die(EXIT_NOT_SOCKET, "got %d sockets from systemd: sshroute serves one connection "
		    "(use Accept=yes in sshroute.socket)", n);
	return n == 1 ? SD_LISTEN_FDS_START : 0;
}

static void refuse_not_socket(int fd, int to_stderr)
{
	static const char fmt[] = "fd %d is not a connected stream socket: sshroute serves one "
	                          "connection and is started for each by systemd (sshroute.socket, "
	                          "Accept=yes) or inetd, not by hand; see sshroute(8)";

	/* stderr is only safe to write to when it is not a socket */
	if (!to_stderr && sd_is_socket(STDERR_FILENO, AF_UNSPEC, 0, -1) <= 0) {
		fprintf(stderr, "sshroute: ");
		fprintf(stderr, fmt, fd);
		fprintf(stderr, "\n");
	}
	die(EXIT_NOT_SOCKET, fmt, fd);
}

static int is_connected_stream(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	return sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 0) > 0 &&
	       getpeername(fd, (struct sockaddr *)&sa, &len) == 0;
}

/* Fills addr and port from a socket address; "unknown" for other families. */
static void address_text(const struct sockaddr_storage *sa, char *addr, size_t size, int *port)
{
	snprintf(addr, size, "unknown");
	*port = 0;
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)size);
		*port = ntohs(in->sin_port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)size);
		*port = ntohs(in6->sin6_port);
	}
}

static void note_client_address(struct connection *p, const struct sockaddr_storage *sa)
{
	char text[sizeof(p->client_addr) + 16];

	address_text(sa, p->client_addr, sizeof(p->client_addr), &p->client_port);
	snprintf(text, sizeof(text), "%s port %d", p->client_addr, p->client_port);
	log_set_client(text);
}

static void note_peer_address(struct connection *p, int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0)
		sa.ss_family = AF_UNSPEC;
	note_client_address(p, &sa);
}

/* Behind a load balancer (proxy_protocol = on) the connection starts with
 * a PROXY header naming the real client. A connection without a valid one
 * is dropped before sshroute sends a byte. */
static void take_real_client_address(struct connection *p, int fd)
{
	struct proxy_header h;
	const char *why = "";
	int seconds = p->cfg->login_grace_time > 0 ? p->cfg->login_grace_time
	                                           : DEFAULT_LOGIN_GRACE_TIME;

	if (proxy_header_read(fd, seconds * 1000, &h, &why) < 0) {
		log_error("no valid PROXY protocol header from %s port %d: %s", p->client_addr,
		          p->client_port, why);
		connection_end(p, EXIT_CLIENT, "no valid PROXY header", NULL);
	}
	if (h.local) {
		log_verbose("PROXY header without an address (LOCAL): the load balancer itself");
		return;
	}
	log_verbose("load balancer %s port %d forwards a client", p->client_addr, p->client_port);
	note_client_address(p, &h.source);
}

/* libssh expects a blocking socket; Nagle would delay every keystroke. */
static void prepare_socket(int fd)
{
	int flags = fcntl(fd, F_GETFL), yes = 1;

	if (flags >= 0 && (flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
}

/* Seconds the connection has to end by itself after login_grace_time:
 * every blocking step (a lookup, an upstream exchange) is bounded by
 * UPSTREAM_TIMEOUT or stops at once. */
#define GRACE_FINISH_SECONDS (UPSTREAM_TIMEOUT + 5)

/* After login_grace_time the client's socket is shut down, which wakes
 * libssh's poll, and a running lookup program is stopped, with all it
 * started; the connection then ends the usual way, with its record. Only
 * if that does not happen in time does the next alarm end the process. */
static void on_grace_alarm(int sig)
{
	(void)sig;
	if (grace_expired)
		_exit(EXIT_CLIENT);
	grace_expired = 1;
	shutdown(client_fd, SHUT_RDWR);
	lookup_abort();
	alarm(GRACE_FINISH_SECONDS);
}

static void start_grace_timer(int seconds)
{
	struct sigaction sa;

	if (seconds <= 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_grace_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned int)seconds);
}

/* A stop asked by signal: noted, and told to the relay's poll through a
 * pipe; a running lookup program is stopped at once. The loops end the
 * connection (connection_stop_if_asked), and so does connection_end, from
 * wherever a blocking step that the signal cut short leads. During the
 * client's key exchange, which libssh does not leave on a signal, there
 * is nobody to say goodbye to yet: the socket is shut down, as sshd's
 * child simply exits there. */
static void on_stop_signal(int sig)
{
	int saved = errno;

	if (stop_signal == 0) {
		stop_signal = sig;
		if (stop_pipe[1] >= 0 && write(stop_pipe[1], "", 1) < 0) {
			/* nothing to do: the loops look at stop_signal too */
		}
		lookup_abort();
		if (!keys_exchanged && client_fd >= 0)
			shutdown(client_fd, SHUT_RDWR);
	}
	errno = saved;
}

static void watch_stop_signals(void)
{
	static const int signals[] = { SIGTERM, SIGHUP, SIGINT };
	struct sigaction sa;
	size_t i;

	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		stop_pipe[0] = stop_pipe[1] = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}

/* ---- the socket, the grace timer and the signals ---- */

int connection_socket(int to_stderr)
{
	int fd = connection_fd();

	if (!is_connected_stream(fd))
		refuse_not_socket(fd, to_stderr);
	return fd;
}

/* Buffers of 256 KiB or more (libssh's for a channel with a backlog, the
 * relay's carries) get pages of their own, given back when freed. With
 * glibc's default, the threshold rises with every such free, later ones
 * come from the heap, and a peer that makes channels fill and drain in
 * turn leaves the heap fragmented: the process stayed 12 MiB above what
 * the memory budget counts (pair.c). */
#define OWN_PAGES_FROM (256 * 1024)

struct connection *connection_begin(const struct config *cfg, int fd)
{
	struct connection *p = &the_connection;

	mallopt(M_MMAP_THRESHOLD, OWN_PAGES_FROM);
	watch_stop_signals();
	p->cfg = cfg;
	p->last_exit_status = -1;
	clock_gettime(CLOCK_MONOTONIC, &p->started);
	note_peer_address(p, fd);
	prepare_socket(fd);
	if (cfg->proxy_protocol)
		take_real_client_address(p, fd);
	log_info("connection from %s port %d", p->client_addr, p->client_port);
	client_fd = fd;
	return p;
}

void connection_start_grace_timer(const struct connection *p)
{
	start_grace_timer(p->cfg->login_grace_time);
}

void connection_stop_grace_timer(void)
{
	alarm(0);
}

void connection_keys_exchanged(void)
{
	keys_exchanged = 1;
}

int connection_stop_fd(void)
{
	return stop_pipe[0];
}

void connection_stop_if_asked(struct connection *p)
{
	if (stop_signal != 0)
		connection_end(p, EXIT_OK, "signal", NULL);
}

/* ---- which session a packet came from ----
 *
 * Some things libssh tells only in its log (the no-more-sessions request,
 * a window excess), and a log line does not say which session it came
 * from, but the packet counters do: libssh counts each packet it receives
 * just before it handles it. So every line notes whose count moved since
 * the line before, or since the relay last said that every packet counted
 * so far is behind it (connection_packets_seen: before it lets libssh
 * handle one session's socket, and after a call that handled the
 * upstream's in the middle of the client's). Only one count moving names
 * the sender. */
static struct ssh_counter_struct client_packets, upstream_packets;
static uint64_t client_seen, upstream_seen;
static enum packet_source latest_packet;

void connection_count_packets(ssh_session s, int is_client)
{
	ssh_set_counters(s, NULL, is_client ? &client_packets : &upstream_packets);
}

void connection_packets_seen(void)
{
	client_seen = client_packets.in_packets;
	upstream_seen = upstream_packets.in_packets;
	latest_packet = FROM_UNKNOWN;
}

enum packet_source connection_packet_source(void)
{
	int client_moved = client_packets.in_packets != client_seen;
	int upstream_moved = upstream_packets.in_packets != upstream_seen;

	client_seen = client_packets.in_packets;
	upstream_seen = upstream_packets.in_packets;
	if (client_moved || upstream_moved)
		latest_packet = !upstream_moved ? FROM_CLIENT : !client_moved ? FROM_UPSTREAM : FROM_UNKNOWN;
	return latest_packet;
}

/* Control requests (channel opens, pty, exec...) are answered by the
 * other side before the client gets its answer, so they block for that
 * round trip; data never does. */
void connection_set_blocking(ssh_session s, int blocking)
{
	ssh_set_blocking(s, blocking);
	if (!blocking)
		connection_packets_seen(); /* the exchange's packets are behind us */
}

/* ---- the end ---- */

void connection_at_end(void (*hook)(struct connection *p))
{
	end_hook = hook;
}

int session_is_gone(ssh_session s)
{
	return !ssh_is_connected(s) || (ssh_get_status(s) & (SSH_CLOSED | SSH_CLOSED_ERROR));
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* The one record every connection ends with. */
static void log_session_record(const struct connection *p, int code, const char *reason)
{
	char port[16], duration[32], up[32], down[32], channels[24], status[16], exit_code[8],
		upstream[ROUTE_HOST_MAX + 16], memory[24], serial[24];
	struct rusage ru;
	struct log_field fields[] = {
		{ "client_addr", p->client_addr }, { "client_port", port },
		{ "user", p->user ? p->user : "" }, { "upstream", upstream },
		{ "method", p->auth_method ? p->auth_method : "" }, { "cert_serial", serial },
		{ "cert_key_id", p->cert_issued ? p->cert_key_id : "" }, { "recordings", p->recordings },
		{ "duration", duration },
		{ "bytes_to_upstream", up }, { "bytes_to_client", down },
		{ "channels", channels }, { "exit_status", status },
		{ "peak_memory_kib", memory }, { "end", reason ? reason : "" },
		{ "exit", exit_code },
	};

	snprintf(port, sizeof(port), "%d", p->client_port);
	snprintf(upstream, sizeof(upstream), "%s", "");
	if (p->have_route)
		snprintf(upstream, sizeof(upstream), "%s:%d", p->target.host, p->target.port);
	snprintf(duration, sizeof(duration), "%.3f", seconds_since(&p->started));
	snprintf(up, sizeof(up), "%llu", p->bytes_to_upstream);
	snprintf(down, sizeof(down), "%llu", p->bytes_to_client);
	snprintf(channels, sizeof(channels), "%lu", p->channels_opened);
	snprintf(status, sizeof(status), "%d", p->last_exit_status);
	snprintf(exit_code, sizeof(exit_code), "%d", code);
	snprintf(serial, sizeof(serial), "%s", "");
	if (p->cert_issued)
		snprintf(serial, sizeof(serial), "%llu", p->cert_serial);
	/* the peak resident size (VmHWM): what a peer made this process use */
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		ru.ru_maxrss = 0;
	snprintf(memory, sizeof(memory), "%ld", ru.ru_maxrss);
	log_record(LOG_LEVEL_INFO, "session end", fields, sizeof(fields) / sizeof(fields[0]));
}

/* The socket is still there, even if libssh marked the session failed
 * (it does so to the client session when the upstream fails inside a
 * write to the client). */
static int still_connected(ssh_session s)
{
	return ssh_is_connected(s) && ssh_get_fd(s) != SSH_INVALID_SOCKET;
}

/* After a disconnect message, the socket is shut down for writing and
 * drained briefly before it closes: closing it with unread client data
 * would send a reset, and the client could lose the message. */
static void linger_after_goodbye(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	struct timespec start;
	char buf[16384];

	clock_gettime(CLOCK_MONOTONIC, &start);
	shutdown(fd, SHUT_WR);
	while (seconds_since(&start) < 1.0 && poll(&pfd, 1, 200) > 0)
		if (read(fd, buf, sizeof(buf)) <= 0)
			break;
	close(fd);
}

/* libssh writes a packet at once only when its last poll saw the socket
 * writable, and ssh_disconnect() closes the socket right after queueing
 * its message. So queue an SSH_MSG_IGNORE, poll until it is written, and
 * poll once more to see the socket writable again: the disconnect message
 * that follows then goes out at once. This also works from inside a
 * libssh callback, where the poll watches only for writability. */
static void flush_session(struct connection *p, ssh_session s)
{
	ssh_event event = s == p->client ? p->event : p->upstream_event;
	int i;

	if (event == NULL || !still_connected(s))
		return;
	ssh_send_ignore(s, "");
	for (i = 0; i < 50 && (ssh_get_status(s) & SSH_WRITE_PENDING); i++)
		ssh_event_dopoll(event, 100);
	ssh_event_dopoll(event, 0);
}

void connection_end(struct connection *p, int code, const char *reason, const char *message)
{
	static int ending;
	static char stopped_by[32];

	if (ending)
		exit(code);
	ending = 1;
	if (stop_signal != 0) {
		snprintf(stopped_by, sizeof(stopped_by), "signal %d", (int)stop_signal);
		log_info("stopping on signal %d (%s)", (int)stop_signal, strsignal(stop_signal));
		code = EXIT_OK;
		reason = stopped_by;
		message = "sshroute: the gateway is shutting down";
	} else if (grace_expired && !p->authenticated) {
		log_info("login grace time of %d seconds exceeded", p->cfg->login_grace_time);
		code = EXIT_CLIENT;
		reason = "login grace time exceeded";
		message = NULL;
	}
	if (end_hook != NULL)
		end_hook(p);
	log_session_record(p, code, reason);
	if (p->client && still_connected(p->client)) {
		/* libssh closes its fd; a copy keeps the socket for the linger */
		int keep = message ? dup(client_fd) : -1;

		flush_session(p, p->client);
		if (message)
			ssh_session_set_disconnect_message(p->client, message);
		ssh_disconnect(p->client);
		if (keep >= 0)
			linger_after_goodbye(keep);
	}
	if (p->upstream && !session_is_gone(p->upstream)) {
		flush_session(p, p->upstream); /* what the client sent last */
		ssh_disconnect(p->upstream);
	}
	exit(code);
}

