/* sshroute: route SSH connections by user name.
 *
 * systemd (Accept=yes) or inetd starts one sshroute per TCP connection.
 * It runs an SSH server on that socket, picks the upstream from route.ini
 * by the client's user name, passes the client's credentials there, relays
 * the session channels until either side ends, and exits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
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

#include "algorithms.h"
#include "auth.h"
#include "cert.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "lookup.h"
#include "connection.h"
#include "proxyproto.h"
#include "record.h"
#include "relay.h"
#include "upstream.h"

#ifndef VERSION
#define VERSION "unknown"
#endif
#ifndef DEFAULT_CONFIG
#define DEFAULT_CONFIG "/etc/sshroute/route.ini"
#endif

struct options {
	const char *file;
	const char *route_user; /* -T */
	int check;              /* -t */
	int version;            /* -V */
	int to_stderr;          /* -e */
	int verbose;            /* -v, counted */
};

static volatile sig_atomic_t grace_expired;
static volatile sig_atomic_t stop_signal;   /* the signal that asked for a stop, or 0 */
static volatile sig_atomic_t keys_exchanged; /* the client's key exchange is over */
static int stop_pipe[2] = { -1, -1 };       /* written to by that signal's handler */
static int client_fd = -1;

static void usage(void)
{
	fprintf(stderr, "usage: sshroute [-etVv] [-f file] [-T user]\n");
	exit(EXIT_USAGE);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int c;

	o->file = DEFAULT_CONFIG;
	while ((c = getopt(argc, argv, "ef:T:tVv")) != -1) {
		switch (c) {
		case 'e': o->to_stderr = 1; break;
		case 'f': o->file = optarg; break;
		case 'T': o->route_user = optarg; break;
		case 't': o->check = 1; break;
		case 'V': o->version = 1; break;
		case 'v': o->verbose++; break;
		default: usage();
		}
	}
	if (optind != argc || o->check + o->version + (o->route_user != NULL) > 1)
		usage();
}

/* ---- the commands that do not serve a connection ---- */

static void print_report(const char *message, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "%s\n", message);
}

static int load_or_report(const char *file, struct config *cfg)
{
	if (config_load(file, cfg, print_report, NULL) == 0)
		return 0;
	fprintf(stderr, "sshroute: %s: configuration is not usable\n", file);
	return -1;
}

/* known_hosts must hold every upstream a route names (those without %u,
 * which can be looked up now): a warning for each one missing, since
 * sshroute refuses to connect there. */
static void warn_unknown_upstreams(const struct config *cfg)
{
	const struct route *r;
	struct upstream_host h;
	size_t i, k;

	for (i = 0; i < cfg->n_routes; i++) {
		r = &cfg->routes[i];
		for (k = 0; k < r->n_upstreams; k++) {
			if (strchr(r->upstreams[k].host, '%') != NULL ||
			    strlen(r->upstreams[k].host) >= sizeof(h.host))
				continue;
			snprintf(h.host, sizeof(h.host), "%s", r->upstreams[k].host);
			h.port = r->upstreams[k].port;
			if (upstream_known(cfg, &h) == 0)
				fprintf(stderr, "%s:%d: warning: [route %s] upstream %s port %d is not in "
				        "known_hosts %s: sshroute will not connect to it (ssh-keyscan "
				        "-p %d %s shows its keys)\n", cfg->path, r->line, r->pattern, h.host,
				        h.port, cfg->known_hosts, h.port, h.host);
		}
	}
}

/* An authorized_keys file that sshd's StrictModes would not trust: its
 * keys are refused at login (keys.c), and only its route's. */
static void warn_untrusted_keys(const struct config *cfg)
{
	const struct route *r;
	char why[PATH_MAX + 256];
	size_t i;

	for (i = 0; i < cfg->n_routes; i++) {
		r = &cfg->routes[i];
		if (r->authorized_keys == NULL || strstr(r->authorized_keys, "%u") != NULL ||
		    key_file_is_trusted(r->authorized_keys, NULL, why, sizeof(why)) == 0)
			continue;
		fprintf(stderr, "%s:%d: warning: [route %s] authorized_keys %s: %s; no key in it "
		        "is accepted until then\n", cfg->path, r->line, r->pattern,
		        r->authorized_keys, why);
	}
}

static int check_config(const char *file)
{
	struct config cfg;
	int rc = load_or_report(file, &cfg);

	if (rc == 0) {
		warn_unknown_upstreams(&cfg);
		warn_untrusted_keys(&cfg);
	}
	config_free(&cfg);
	if (rc < 0)
		return EXIT_CONFIG;
	printf("configuration OK\n");
	return EXIT_OK;
}

/* The methods the route allows; the upstream may narrow them further. */
static void print_methods(int auth)
{
	printf("methods: %s%s%s%s\n",
	       auth & AUTH_PUBLICKEY ? "publickey" : "",
	       (auth & AUTH_PUBLICKEY) && (auth & ~AUTH_PUBLICKEY) ? "," : "",
	       auth & AUTH_PASSWORD ? (auth & AUTH_KBDINT ? "password," : "password") : "",
	       auth & AUTH_KBDINT ? "keyboard-interactive" : (auth ? "" : "none"));
}

/* How a client who logs in with a listed key is logged in upstream. */
static void print_upstream_auth(const struct route_target *t)
{
	struct ca *ca;
	char why[256];

	if (t->certificate_authority == NULL) {
		printf("upstream auth: identity\nidentity: %s\n", t->identity ? t->identity : "(none)");
		return;
	}
	ca = ca_load(t->certificate_authority, why, sizeof(why));
	printf("upstream auth: certificate\ncertificate_authority: %s (%s %s)\n"
	       "certificate_validity: %d s\n", t->certificate_authority, ca ? ca_type(ca) : "?",
	       ca ? ca_fingerprint(ca) : why, t->certificate_validity);
	if (t->identity != NULL)
		printf("identity: %s (not used: the certificate authority wins)\n", t->identity);
	ca_free(ca);
}

static const char *yes_no(int yes)
{
	return yes ? "yes" : "no";
}

/* Recording, session time and forwarding: the route's policy. */
static void print_policy(const struct config *cfg, const struct route_target *t)
{
	int tcp = t->forward & (FORWARD_LOCAL | FORWARD_REMOTE);

	if (t->record)
		printf("record: yes (record_input: %s; in %s, at most %lld bytes each, keeping "
		       "%lld bytes free)\n", yes_no(t->record_input),
		       cfg->record_dir ? cfg->record_dir : RECORD_DIR_DEFAULT, cfg->record_max_size,
		       cfg->record_keep_free);
	else
		printf("record: no\n");
	printf("max_session_time: %d%s\n", t->max_session_time,
	       t->max_session_time ? " s" : " (no limit)");
	printf("allow_tcp_forwarding: %s\nallow_agent_forwarding: %s\nx11_forwarding: %s\n",
	       tcp == (FORWARD_LOCAL | FORWARD_REMOTE) ? "yes" : tcp == FORWARD_LOCAL ? "local"
	       : tcp == FORWARD_REMOTE ? "remote" : "no",
	       yes_no(t->forward & FORWARD_AGENT), yes_no(t->forward & FORWARD_X11));
}

/* A list: the hosts in the order they would be tried, and how. */
static void print_upstream_list(const struct route_target *t)
{
	static const char *const how[] = {
		[BALANCE_FIRST] = "first: in the order written",
		[BALANCE_USER] = "user: this user's order, the same every time",
		[BALANCE_RANDOM] = "random: an order drawn now, another at each connection",
	};
	size_t i;

	printf("upstreams:");
	for (i = 0; i < t->n_hosts; i++)
		printf(strchr(t->hosts[i].host, ':') ? "%s [%s]:%d" : "%s %s:%d", i ? "," : "",
		       t->hosts[i].host, t->hosts[i].port);
	printf("\nbalance: %s\nconnect_timeout: %d s\n", how[t->route->balance], t->connect_timeout);
}

static void print_route(const struct config *cfg, const struct route_target *t)
{
	printf("route: %s  (%s:%d)\n", t->route->pattern, cfg->path, t->route->line);
	if (t->route->lookup)
		printf("lookup: %s\n", t->route->lookup);
	printf("upstream: %s\nport: %d\n", t->host, t->port);
	if (t->n_hosts > 1)
		print_upstream_list(t);
	printf("user: %s\n", t->user);
	print_methods(t->auth);
	if (t->authorized_keys[0]) {
		printf("authorized_keys: %s\n", t->authorized_keys);
		print_upstream_auth(t);
	}
	print_policy(cfg, t);
}

static int show_route(const char *file, const char *user)
{
	struct config cfg;
	struct route_target t;
	int rc;

	if (load_or_report(file, &cfg) < 0) {
		config_free(&cfg);
		return EXIT_CONFIG;
	}
	switch (route_resolve(&cfg, user, "", 0, &t, print_report, NULL)) {
	case ROUTE_FOUND:
		print_route(&cfg, &t);
		rc = EXIT_OK;
		break;
	case ROUTE_NONE:
		fprintf(stderr, "sshroute: no route for user %s\n", user);
		rc = EXIT_NO_ROUTE;
		break;
	default:
		fprintf(stderr, "sshroute: the lookup for user %s failed: clients are told that the "
		        "server is unavailable\n", user);
		rc = EXIT_UPSTREAM;
		break;
	}
	config_free(&cfg);
	return rc;
}

/* The key exchanges of KEX_SERVER that this libssh knows: each is tried
 * alone on a bind, which refuses a list without a known name. */
static void print_key_exchanges(void)
{
	char list[] = KEX_SERVER, *name, *save = NULL;
	ssh_bind bind = ssh_bind_new();
	int any_pq = 0, first = 1;

	printf("key exchange:");
	for (name = strtok_r(list, ",", &save); name && bind; name = strtok_r(NULL, ",", &save)) {
		if (ssh_bind_options_set(bind, SSH_BIND_OPTIONS_KEY_EXCHANGE, name) < 0)
			continue;
		printf("%s%s", first ? " " : ",", name);
		first = 0;
		any_pq |= strstr(KEX_POST_QUANTUM, name) != NULL;
	}
	printf("\npost-quantum key exchange: %s\n",
	       any_pq ? "yes" : "no (this libssh has none; libssh 0.12 has them)");
	ssh_bind_free(bind);
}

static void print_version(void)
{
	printf("sshroute %s\nlibssh %s\n", VERSION, ssh_version(0));
	print_key_exchanges();
}

/* ---- the connection ---- */

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

int connection_stop_fd(void)
{
	return stop_pipe[0];
}

void connection_stop_if_asked(struct connection *p)
{
	if (stop_signal != 0)
		connection_end(p, EXIT_OK, "signal", NULL);
}

/* What sshroute offers clients: modern algorithms only (no NIST-curve key
 * exchange, no SHA-1, no encrypt-and-MAC), as ssh-audit recommends; the
 * key exchanges are in algorithms.h. */
static const struct {
	enum ssh_bind_options_e option;
	const char *value;
} server_algorithms[] = {
	{ SSH_BIND_OPTIONS_KEY_EXCHANGE, KEX_SERVER },
	{ SSH_BIND_OPTIONS_CIPHERS_C_S,
	  "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
	  "aes256-ctr,aes192-ctr,aes128-ctr" },
	{ SSH_BIND_OPTIONS_CIPHERS_S_C,
	  "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
	  "aes256-ctr,aes192-ctr,aes128-ctr" },
	{ SSH_BIND_OPTIONS_HMAC_C_S, "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com" },
	{ SSH_BIND_OPTIONS_HMAC_S_C, "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com" },
	{ SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS,
	  "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
	  "rsa-sha2-512,rsa-sha2-256" },
	{ SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES,
	  "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
	  "rsa-sha2-512,rsa-sha2-256" },
};

static ssh_bind make_bind(const struct config *cfg)
{
	ssh_bind bind = ssh_bind_new();
	int no = 0;
	size_t i;

	if (bind == NULL)
		die(EXIT_INTERNAL, "out of memory");
	if (ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no) < 0)
		die(EXIT_INTERNAL, "libssh: %s", ssh_get_error(bind));
	for (i = 0; i < sizeof(server_algorithms) / sizeof(server_algorithms[0]); i++)
		if (ssh_bind_options_set(bind, server_algorithms[i].option,
		                         server_algorithms[i].value) < 0)
			die(EXIT_INTERNAL, "libssh refuses the algorithm list %s: %s",
			    server_algorithms[i].value, ssh_get_error(bind));
	for (i = 0; i < cfg->n_host_keys; i++)
		if (ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, cfg->host_keys[i]) < 0)
			die(EXIT_CONFIG, "cannot load host key %s: %s", cfg->host_keys[i],
			    ssh_get_error(bind));
	return bind;
}

static struct connection the_connection;

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
	relay_close_recordings(p);
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

static void serve(const struct config *cfg, int fd)
{
	struct connection *p = &the_connection;
	ssh_bind bind;

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

	bind = make_bind(cfg);
	p->client = ssh_new();
	if (p->client == NULL)
		die(EXIT_INTERNAL, "out of memory");
	if (ssh_bind_accept_fd(bind, p->client, fd) != SSH_OK)
		die(EXIT_CLIENT, "cannot start the SSH session: %s", ssh_get_error(bind));
	ssh_bind_free(bind);
	auth_install(p);

	/* The event exists before the key exchange: some clients (dbclient)
	 * send their first userauth request right behind it, and libssh
	 * handles that request inside ssh_handle_key_exchange(). The client
	 * session can join only after the key exchange. The upstream gets an
	 * event of its own (see poll_sessions() in relay.c). */
	p->event = ssh_event_new();
	if (p->event == NULL)
		die(EXIT_INTERNAL, "out of memory");
	start_grace_timer(cfg->login_grace_time);
	if (ssh_handle_key_exchange(p->client) != SSH_OK) {
		log_info("key exchange failed: %s", ssh_get_error(p->client));
		connection_end(p, EXIT_CLIENT, "key exchange failed", NULL);
	}
	keys_exchanged = 1;
	if (ssh_event_add_session(p->event, p->client) != SSH_OK)
		die(EXIT_INTERNAL, "cannot set up the event loop");
	auth_wait(p);
	alarm(0);
	relay_run(p);
}

/* Some things libssh tells only in its log (see log_route_libssh). */
static void watch_libssh(const char *function, const char *line)
{
	auth_watch_libssh(function, line);
	relay_watch_libssh(function, line);
}

static void report_to_log(const char *message, void *ctx)
{
	(void)ctx;
	log_error("%s", message);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct config cfg;
	int fd, level;

	parse_options(argc, argv, &o);
	if (o.version) {
		print_version();
		return EXIT_OK;
	}
	if (o.check || o.route_user) {
		log_open(1); /* run by hand: what a lookup program says goes to stderr */
		return o.check ? check_config(o.file) : show_route(o.file, o.route_user);
	}

	signal(SIGPIPE, SIG_IGN);
	log_open(o.to_stderr);
	fd = connection_fd();
	if (!is_connected_stream(fd))
		refuse_not_socket(fd, o.to_stderr);
	config_read_secret_keys(0);
	if (config_load(o.file, &cfg, report_to_log, NULL) != 0)
		die(EXIT_CONFIG, "%s: configuration is not usable, connection refused", o.file);
	level = (int)cfg.log_level + o.verbose;
	log_set_level(level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : (enum log_level)level);
	log_route_libssh(watch_libssh);
	if (ssh_init() != SSH_OK)
		die(EXIT_INTERNAL, "cannot initialise libssh");
	serve(&cfg, fd);
	return EXIT_INTERNAL;
}
