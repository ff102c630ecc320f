/* sshroute: route SSH connections by user name.
 *
 * systemd (Accept=yes) or inetd starts one sshroute per TCP connection.
 * It runs an SSH server on that socket, picks the upstream from route.ini
 * by the client's user name, passes the client's credentials there, relays
 * the session channels until either side ends, and exits. */
#include <getopt.h>
#include <limits.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms.h"
#include "auth.h"
#include "cert.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "lookup.h"
#include "pair.h"
#include "connection.h"
#include "record.h"
#include "relay.h"
#include "route.h"
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


static void serve(const struct config *cfg, int fd)
{
	struct connection *p = connection_begin(cfg, fd);
	ssh_bind bind = make_bind(cfg);

	p->client = ssh_new();
	if (p->client == NULL)
		die(EXIT_INTERNAL, "out of memory");
	if (ssh_bind_accept_fd(bind, p->client, fd) != SSH_OK)
		die(EXIT_CLIENT, "cannot start the SSH session: %s", ssh_get_error(bind));
	ssh_bind_free(bind);
	auth_install(p);
	relay_install();

	/* The event exists before the key exchange: some clients (dbclient)
	 * send their first userauth request right behind it, and libssh
	 * handles that request inside ssh_handle_key_exchange(). The client
	 * session can join only after the key exchange. The upstream gets an
	 * event of its own (see poll_sessions() in relay.c). */
	p->event = ssh_event_new();
	if (p->event == NULL)
		die(EXIT_INTERNAL, "out of memory");
	connection_start_grace_timer(p);
	if (ssh_handle_key_exchange(p->client) != SSH_OK) {
		log_info("key exchange failed: %s", ssh_get_error(p->client));
		connection_end(p, EXIT_CLIENT, "key exchange failed", NULL);
	}
	connection_keys_exchanged();
	if (ssh_event_add_session(p->event, p->client) != SSH_OK)
		die(EXIT_INTERNAL, "cannot set up the event loop");
	auth_wait(p);
	connection_stop_grace_timer();
	relay_run(p);
}

/* Some things libssh tells only in its log (see log_route_libssh). */
static void watch_libssh(const char *function, const char *line)
{
	auth_watch_libssh(function, line);
	pair_watch_libssh(function, line);
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
	fd = connection_socket(o.to_stderr);
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
