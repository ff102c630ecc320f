/* auth.c: authenticate the client by passing its credentials upstream.
 *
 * The first userauth request fixes the user name. Until the client
 * presents a credential, every name gets the same answer, at once: the
 * methods the server allows at all, no banner, no upstream contacted. So
 * a stranger learns nothing about which names exist and cannot make the
 * upstreams do any work (or lock the gateway out with their own
 * penalties, since they see only the gateway's address).
 *
 * A credential (a password, a keyboard-interactive request, a signed
 * public key that the route's authorized_keys lists) makes sshroute
 * connect the route's upstream, once; from then on the client sees what
 * the upstream says: its banner, its methods, partial success. Passwords
 * and keyboard-interactive rounds go to the upstream verbatim; a listed
 * client key is replaced by the route's identity, since a client's
 * signature is bound to its session with the proxy and cannot be
 * replayed. A key probe (no signature) is answered from authorized_keys
 * alone.
 *
 * A user without a route fails as a wrong credential does: a key is
 * refused as an unlisted one, a password after the same delay, and
 * keyboard-interactive after one ordinary password prompt. */
#include "auth.h"

#include <errno.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "forward.h"
#include "keys.h"
#include "log.h"
#include "lookup.h"
#include "relay.h"
#include "route.h"
#include "upstream.h"

/* The login's progress: this file's alone (connection.h holds what other
 * layers read). */
static struct {
	int route_looked_up;
	int route_failed;             /* the lookup failed: "unavailable" at a credential */
	int upstream_methods;         /* SSH_AUTH_METHOD_* the upstream still accepts */
	int partial;                  /* the upstream gave partial success: offer its methods */
	int key_proven;               /* a listed key was signed before the upstream took keys */
	int failures;                 /* failed authentication attempts */
	enum { KBDINT_NONE, KBDINT_FIRST, KBDINT_UPSTREAM, KBDINT_REST }
		kbdint;                   /* the client owes answers to: sshroute's own first
		                           * Password: prompt, the upstream's round, or the
		                           * rest of the upstream's first round */
	int kbdint_filled;            /* KBDINT_REST: the upstream's prompt that the
		                           * answer to the first Password: prompt filled */
	char *held_password;          /* that answer, while the upstream's rounds before
		                           * its first password prompt (notices) go by */
	int upstream_kbdint;          /* the upstream waits for answers to a round */
	struct timespec attempt_started;
} login;

/* Every failed attempt is answered this long after it arrived, whatever
 * the reason (wrong password, no route, upstream refusal), so that a
 * missing account looks like a wrong password, and a route whose upstream
 * uses PAM like one whose upstream does not. The deadline lies above what
 * an upstream's PAM takes: pam_unix asks for 2 s, which Linux-PAM
 * randomises (1.98 to 2.26 s for the test users here), and now and then
 * an OpenSSH upstream's failure takes twice that (4.52 s measured). */
#define FAILURE_DELAY_MS 5000

/* The prompt of a keyboard-interactive exchange that sshroute asks
 * itself (see ask_password): what sshd's PAM asks. */
static const char password_prompt[] = "Password: ";

/* Packets received from each side, counted by libssh (see
 * no-more-sessions below). */

/* What the steps of a request return when it goes on: no SSH_AUTH_*
 * value (SSH_AUTH_SUCCESS is 0, so 0 cannot mean "go on"). */
#define GO_ON (-100)

/* Rounds of empty answers sshroute gives an upstream to end an exchange
 * the client abandoned. */
#define ABANDON_ROUNDS_MAX 8

static const char unavailable_message[] = "sshroute: the server for this account is unavailable";
static const char identity_refused_message[] =
	"sshroute: the server for this account refused sshroute's key; "
	"please tell the administrator";

/* ---- timing ---- */

static void start_attempt(void)
{
	clock_gettime(CLOCK_MONOTONIC, &login.attempt_started);
}

static void pad_failure_delay(void)
{
	struct timespec deadline = login.attempt_started;

	deadline.tv_sec += FAILURE_DELAY_MS / 1000;
	deadline.tv_nsec += (long)(FAILURE_DELAY_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
		;
}

/* ---- user, route and methods ---- */

/* Fixes the user name on the first request; a later request under another
 * name ends the connection, as in sshd. */
static void accept_user(struct connection *p, const char *user)
{
	if (user == NULL)
		user = "";
	if (p->user == NULL) {
		p->user = strdup(user);
		if (p->user == NULL)
			connection_end(p, EXIT_INTERNAL, "out of memory", NULL);
		log_set_user(p->user);
		return;
	}
	if (strcmp(p->user, user) == 0)
		return;
	log_error("client changed user name");
	connection_end(p, EXIT_CLIENT, "user name changed", "Change of username or service not allowed");
}

static int ssh_methods(int auth)
{
	return (auth & AUTH_PUBLICKEY ? (int)SSH_AUTH_METHOD_PUBLICKEY : 0) |
	       (auth & AUTH_PASSWORD ? (int)SSH_AUTH_METHOD_PASSWORD : 0) |
	       (auth & AUTH_KBDINT ? (int)SSH_AUTH_METHOD_INTERACTIVE : 0);
}

/* The methods the server allows at all: those of any route (publickey
 * only where a route can have keys). The same for every name. */
static int server_methods(const struct config *cfg)
{
	int auth = 0;
	size_t i;

	for (i = 0; i < cfg->n_routes; i++) {
		const struct route *r = &cfg->routes[i];
		int a = r->auth;

		if (r->authorized_keys == NULL && r->lookup == NULL)
			a &= ~AUTH_PUBLICKEY;
		auth |= a;
	}
	return auth ? ssh_methods(auth) : (int)SSH_AUTH_METHOD_PASSWORD;
}

/* The methods the client may use now: the server's, the same for every
 * name, until a partial success (the upstream took one credential and
 * wants another, as sshd's AuthenticationMethods); from then on, what the
 * route allows and the upstream still accepts. A plain failure does not
 * narrow the list: which methods a route's upstream takes would tell a
 * stranger, after one wrong password, that the name has a route. */
static int offered_methods(const struct connection *p)
{
	int m;

	if (p->upstream == NULL || !login.partial)
		return server_methods(p->cfg);
	m = ssh_methods(p->target.auth) & login.upstream_methods;
	/* Offering nothing would leave the client without a word: a routed
	 * user whose upstream accepts nothing sshroute can pass gets the
	 * server's methods, and the log says why (log_unusable_route). */
	return m ? m : server_methods(p->cfg);
}

/* 1 when method can be tried upstream now. */
static int upstream_accepts(const struct connection *p, int method)
{
	return p->have_route && p->upstream != NULL &&
	       (ssh_methods(p->target.auth) & login.upstream_methods & method);
}

static void offer_methods(struct connection *p)
{
	ssh_set_auth_methods(p->client, offered_methods(p));
}

/* "host:port", or for a list "host:port (then host:port, ...)". */
static void format_upstreams(const struct route_target *t, char *out, size_t size)
{
	size_t i, len;

	snprintf(out, size, "%s:%d", t->host, t->port);
	for (i = 1; i < t->n_hosts; i++) {
		len = strlen(out);
		snprintf(out + len, size - len, "%s%s:%d%s", i == 1 ? " (then " : ", ",
		         t->hosts[i].host, t->hosts[i].port, i + 1 == t->n_hosts ? ")" : "");
	}
}

static void log_route(const struct connection *p)
{
	char upstreams[UPSTREAMS_MAX * (ROUTE_HOST_MAX + 16)];

	format_upstreams(&p->target, upstreams, sizeof(upstreams));
	log_info("route %s: upstream %s upstream_user=%s", p->target.route->pattern, upstreams,
	         p->target.user);
}

static void log_unusable_route(const struct connection *p)
{
	if ((ssh_methods(p->target.auth) & login.upstream_methods) == 0)
		log_error("route %s: the upstream accepts no method this route can pass on "
		          "(upstream offers %s%s%s; route auth and authorized_keys allow %s%s%s)",
		          p->target.route->pattern,
		          login.upstream_methods & SSH_AUTH_METHOD_PUBLICKEY ? "publickey " : "",
		          login.upstream_methods & SSH_AUTH_METHOD_PASSWORD ? "password " : "",
		          login.upstream_methods & SSH_AUTH_METHOD_INTERACTIVE ? "keyboard-interactive" : "",
		          p->target.auth & AUTH_PUBLICKEY ? "publickey " : "",
		          p->target.auth & AUTH_PASSWORD ? "password " : "",
		          p->target.auth & AUTH_KBDINT ? "keyboard-interactive" : "");
}

/* The upstream's login banner (sshd's Banner) goes to the client. */
static void pass_banner(struct connection *p)
{
	char *text = ssh_get_issue_banner(p->upstream);
	ssh_string banner;

	if (text == NULL)
		return;
	banner = ssh_string_from_char(text);
	if (banner != NULL)
		ssh_send_issue_banner(p->client, banner);
	ssh_string_free(banner);
	ssh_string_free_char(text);
}

static void report_problem(const char *message, void *ctx)
{
	(void)ctx;
	log_error("%s", message);
}

/* Looks the route up, once (running its lookup program, if any), without
 * any upstream work. Returns 1 when the user has a route. A failed lookup
 * is remembered: the client hears of it only at a credential. */
static int find_route(struct connection *p)
{
	char upstream[ROUTE_HOST_MAX + 16];

	if (login.route_looked_up)
		return p->have_route;
	login.route_looked_up = 1;
	switch (route_resolve(p->cfg, p->user, p->client_addr, p->client_port, &p->target,
	                      report_problem, NULL)) {
	case ROUTE_NONE:
		log_info("no route for this user");
		return 0;
	case ROUTE_FAILED:
		login.route_failed = 1;
		return 0;
	case ROUTE_FOUND:
		break;
	}
	p->have_route = 1;
	snprintf(upstream, sizeof(upstream), "%s:%d", p->target.host, p->target.port);
	log_set_upstream(upstream);
	log_route(p);
	return 1;
}

/* 1 when a credential of this kind (AUTH_*) goes to the upstream: the
 * route allows it, or the lookup failed (the client is then told that the
 * server is unavailable, which it may learn only now). */
static int route_takes(struct connection *p, int auth)
{
	return (find_route(p) && (p->target.auth & auth)) || login.route_failed;
}

/* The upstream failed during authentication: the client is told that
 * the server is unavailable. */
static void upstream_failed(struct connection *p) __attribute__((noreturn));
static void upstream_failed(struct connection *p)
{
	log_error("upstream failed during authentication: %s", ssh_get_error(p->upstream));
	connection_end(p, EXIT_UPSTREAM, "upstream failed", unavailable_message);
}

/* A credential arrived: connects the route's upstream (once) and asks it
 * with "none" which methods it accepts. Returns SSH_AUTH_SUCCESS when the
 * upstream lets the user in without credentials. Every failure ends the
 * connection with "unavailable". */
static int contact_upstream(struct connection *p)
{
	char upstream[ROUTE_HOST_MAX + 16];
	int rc;

	if (login.route_failed)
		connection_end(p, EXIT_UPSTREAM, "lookup failed", unavailable_message);
	if (p->upstream != NULL)
		return SSH_AUTH_DENIED;
	p->upstream = upstream_connect(p->cfg, &p->target);
	if (p->upstream == NULL)
		connection_end(p, EXIT_UPSTREAM, "upstream unavailable", unavailable_message);
	snprintf(upstream, sizeof(upstream), "%s:%d", p->target.host, p->target.port);
	log_set_upstream(upstream);   /* the one that answered */
	p->upstream_event = ssh_event_new();
	if (p->upstream_event == NULL ||
	    ssh_event_add_session(p->upstream_event, p->upstream) != SSH_OK) {
		log_error("cannot add the upstream session to the event loop");
		connection_end(p, EXIT_INTERNAL, "internal error", NULL);
	}
	forward_attach_upstream(p);
	connection_count_packets(p->upstream, 0);
	rc = upstream_auth_none(p->upstream, &login.upstream_methods);
	if (rc == SSH_AUTH_ERROR)
		upstream_failed(p);
	pass_banner(p);
	if (rc != SSH_AUTH_SUCCESS)
		log_unusable_route(p);
	return rc;
}

/* ---- outcomes ---- */

static int accept_login(struct connection *p, const char *method)
{
	p->authenticated = 1;
	p->auth_method = method;
	log_info("accepted %s from upstream %s:%d", method,
	         p->target.host, p->target.port);
	return SSH_AUTH_SUCCESS;
}

/* The certificate's key ID: who the client is and where from, each value
 * as the session record writes it. */
static void make_key_id(const struct connection *p, char *out, size_t size)
{
	char user[320], from[96], port[32], route[320], number[16];

	snprintf(number, sizeof(number), "%d", p->client_port);
	log_format_field(user, sizeof(user), "user", p->user);
	log_format_field(from, sizeof(from), "from", p->client_addr);
	log_format_field(port, sizeof(port), "port", number);
	log_format_field(route, sizeof(route), "route", p->target.route->pattern);
	snprintf(out, size, "sshroute %s %s %s %s", user, from, port, route);
}

/* Logs in upstream with a fresh key and a certificate for it, signed by
 * the route's CA. On a refusal the log names the CA and the principal. */
static int try_certificate(struct connection *p)
{
	char why[256], source[64];
	int fwd = p->target.forward;
	struct cert_request req = { p->target.user, p->cert_key_id, source,
	                            p->target.certificate_validity,
	                            (fwd & (FORWARD_LOCAL | FORWARD_REMOTE)) != 0,
	                            (fwd & FORWARD_AGENT) != 0, (fwd & FORWARD_X11) != 0 };
	struct ca *ca = ca_load(p->target.certificate_authority, why, sizeof(why));
	ssh_key key = NULL;
	int rc = SSH_AUTH_ERROR;

	make_key_id(p, p->cert_key_id, sizeof(p->cert_key_id));
	if (ca == NULL)
		log_error("cannot load certificate_authority %s: it is %s",
		          p->target.certificate_authority, why);
	else if (upstream_local_address(p->upstream, source, sizeof(source)) < 0)
		log_error("cannot tell the address of the upstream connection for the certificate");
	else if ((key = cert_issue(ca, &req, &p->cert_serial)) != NULL)
		rc = upstream_auth_key(p->upstream, key);
	if (key != NULL)
		p->cert_issued = 1;
	if (rc == SSH_AUTH_DENIED)
		log_error("upstream %s:%d refused sshroute's certificate for principal %s (route %s, "
		          "CA %s %s): the upstream's sshd_config needs TrustedUserCAKeys with the CA's "
		          "public key (upstreams that take no certificates, such as dropbear and "
		          "tinysshd, need an identity instead)", p->target.host, p->target.port, p->target.user,
		          p->target.route->pattern, ca_type(ca), ca_fingerprint(ca));
	ssh_key_free(key);
	ca_free(ca);
	return rc;
}

/* A client key that the route lists, signed by the client, logs in
 * upstream with a certificate from the route's CA, or as the route's
 * identity. Returns the upstream's SSH_AUTH_* answer; a refusal ends the
 * connection, with one message for both. */
static int try_identity(struct connection *p)
{
	int rc;

	if (p->target.certificate_authority != NULL) {
		rc = try_certificate(p);
	} else {
		rc = upstream_auth_identity(p->upstream, p->target.identity);
		if (rc == SSH_AUTH_DENIED)
			log_error("upstream %s:%d refused sshroute's identity %s for upstream user %s "
			          "(route %s): add its public key to the upstream account's "
			          "authorized_keys", p->target.host, p->target.port, p->target.identity,
			          p->target.user, p->target.route->pattern);
	}
	if (rc == SSH_AUTH_DENIED)
		connection_end(p, EXIT_UPSTREAM, p->target.certificate_authority
		          ? "upstream refused the certificate" : "upstream refused the identity",
		          identity_refused_message);
	return rc;
}

/* The upstream accepted one method and wants another (sshd's
 * AuthenticationMethods): the client is told the same. A key the client
 * proved earlier on this connection is used at once when the upstream
 * now asks for one. */
static int accept_partially(struct connection *p, const char *method)
{
	int rc;

	login.partial = 1;
	login.upstream_methods = upstream_methods_left(p->upstream);
	log_info("partial success with %s; upstream wants more", method);
	if (login.key_proven && upstream_accepts(p, SSH_AUTH_METHOD_PUBLICKEY)) {
		login.key_proven = 0;
		rc = try_identity(p);
		if (rc == SSH_AUTH_SUCCESS)
			return accept_login(p, "publickey");
		if (rc != SSH_AUTH_PARTIAL)
			upstream_failed(p);
		login.upstream_methods = upstream_methods_left(p->upstream);
		log_info("partial success with publickey; upstream wants more");
	}
	offer_methods(p);
	return SSH_AUTH_PARTIAL;
}

/* Logs a failure in the line that fail2ban's filter matches, and counts
 * it. */
static void note_failure(struct connection *p, const char *method)
{
	login.failures++;
	log_info("failed %s (%d of %d)", method, login.failures,
	         p->cfg->max_auth_tries);
}

/* Counts a failure the way sshd does: the max_auth_tries-th failure ends
 * the connection. */
static int count_failure(struct connection *p, const char *method)
{
	note_failure(p, method);
	if (login.failures >= p->cfg->max_auth_tries)
		connection_end(p, EXIT_CLIENT, "too many authentication failures",
		               "Too many authentication failures");
	if (p->upstream && !login.upstream_kbdint)
		login.upstream_methods = upstream_methods_left(p->upstream);
	offer_methods(p);
	return SSH_AUTH_DENIED;
}

/* A failed attempt, answered after the common delay. */
static int reject_attempt(struct connection *p, const char *method)
{
	pad_failure_delay();
	return count_failure(p, method);
}

/* Turns an upstream's SSH_AUTH_* answer into the client's. */
static int upstream_verdict(struct connection *p, int rc, const char *method)
{
	switch (rc) {
	case SSH_AUTH_SUCCESS:
		return accept_login(p, method);
	case SSH_AUTH_PARTIAL:
		return accept_partially(p, method);
	case SSH_AUTH_DENIED:
		return reject_attempt(p, method);
	default:
		upstream_failed(p);
	}
}

static int abandon_upstream_kbdint(struct connection *p);

/* Wipes and forgets the answer to sshroute's Password: prompt. */
static void drop_held_password(void)
{
	if (login.held_password == NULL)
		return;
	OPENSSL_clear_free(login.held_password, strlen(login.held_password) + 1);
	login.held_password = NULL;
}

/* Common start of every request. Returns GO_ON when the request can go
 * on, or an SSH_AUTH_* answer for it. */
static int begin_request(struct connection *p, const char *user)
{
	if (p->authenticated) {
		/* RFC 4252: requests after the login are ignored */
		log_verbose("ignoring an authentication request after the login");
		return SSH_AUTH_DENIED;
	}
	start_attempt();
	accept_user(p, user);
	drop_held_password();
	/* a new request instead of the answers a round asked for */
	if (login.kbdint != KBDINT_NONE) {
		login.kbdint = KBDINT_NONE;
		count_failure(p, "keyboard-interactive");
	}
	return abandon_upstream_kbdint(p);
}

/* The credential goes upstream: connects it if need be. Returns GO_ON,
 * or the answer when the upstream let the user in at "none". */
static int upstream_ready(struct connection *p)
{
	return contact_upstream(p) == SSH_AUTH_SUCCESS ? accept_login(p, "none") : GO_ON;
}

/* ---- none, password, publickey (libssh server callbacks) ---- */

static int on_auth_none(ssh_session session, const char *user, void *userdata)
{
	struct connection *p = userdata;
	int rc;

	(void)session;
	if ((rc = begin_request(p, user)) != GO_ON)
		return rc;
	offer_methods(p);
	return SSH_AUTH_DENIED;
}

static int on_auth_password(ssh_session session, const char *user, const char *password,
                            void *userdata)
{
	struct connection *p = userdata;
	int rc;

	(void)session;
	if ((rc = begin_request(p, user)) != GO_ON)
		return rc;
	if (!route_takes(p, AUTH_PASSWORD))
		return reject_attempt(p, "password");
	if ((rc = upstream_ready(p)) != GO_ON)
		return rc;
	if (!upstream_accepts(p, SSH_AUTH_METHOD_PASSWORD))
		return reject_attempt(p, "password");
	return upstream_verdict(p, upstream_auth_password(p->upstream, password), "password");
}

/* Answered from the route alone: no upstream is asked. */
static int key_is_listed(struct connection *p, ssh_key key)
{
	if (!find_route(p) || !(p->target.auth & AUTH_PUBLICKEY))
		return 0;
	return authorized_keys_match(p->target.authorized_keys, key);
}

/* A probe (a key without a signature) runs no lookup program, as no
 * request before a secret does: a route that needs one answers PK_OK to
 * any key, and the signed request that follows, the proof that the client
 * holds the key, runs the lookup (find_route). A route without a lookup
 * answers from its authorized_keys, as sshd does. */
static int answer_probe(struct connection *p, ssh_key key)
{
	static struct route_target matched;   /* large; one connection per process */

	if (!login.route_looked_up && route_match(p->cfg, p->user, &matched) == 0 &&
	    matched.route->lookup != NULL)
		return matched.route->auth & AUTH_PUBLICKEY ? SSH_AUTH_SUCCESS
		                                            : count_failure(p, "publickey");
	return key_is_listed(p, key) ? SSH_AUTH_SUCCESS : count_failure(p, "publickey");
}

/* A probe is answered PK_OK for a listed key (answer_probe); a signed
 * request, verified by libssh, logs in upstream with the route's identity. */
static int on_auth_pubkey(ssh_session session, const char *user, struct ssh_key_struct *key,
                          char signature_state, void *userdata)
{
	struct connection *p = userdata;
	int rc;

	(void)session;
	if ((rc = begin_request(p, user)) != GO_ON)
		return rc;
	if (signature_state == SSH_PUBLICKEY_STATE_NONE)
		return answer_probe(p, key);   /* PK_OK: the client may sign */
	if (signature_state != SSH_PUBLICKEY_STATE_VALID)
		return reject_attempt(p, "publickey");   /* no proof: no lookup either */
	if (!key_is_listed(p, key))
		return count_failure(p, "publickey");
	if ((rc = upstream_ready(p)) != GO_ON)
		return rc;
	if (!upstream_accepts(p, SSH_AUTH_METHOD_PUBLICKEY)) {
		/* The upstream wants another method first (AuthenticationMethods
		 * password,publickey): the key is refused for now, and used as
		 * soon as the upstream asks for it (accept_partially). */
		login.key_proven = 1;
		return count_failure(p, "publickey");
	}
	return upstream_verdict(p, try_identity(p), "publickey");
}

/* ---- keyboard-interactive (no server callback in libssh 0.10: it comes
 * through the message callback) ---- */

/* Sends one round of prompts to the client. A client that cannot take it
 * is gone. */
static void send_prompts(struct connection *p, ssh_message msg, const char *name,
                         const char *instruction, unsigned int n, const char **prompts, char *echo)
{
	if (ssh_message_auth_interactive_request(msg, name, instruction, n, prompts, echo) !=
	    SSH_OK) {
		log_info("cannot send keyboard-interactive prompts: %s", ssh_get_error(p->client));
		connection_end(p, EXIT_CLIENT, "client failed", NULL);
	}
}

/* Sends the upstream's current round (name, instruction, prompts with
 * their echo flags) to the client, verbatim. */
static void relay_prompts(struct connection *p, ssh_message msg)
{
	int n = ssh_userauth_kbdint_getnprompts(p->upstream), i;
	const char **prompts = calloc((size_t)(n > 0 ? n : 1), sizeof(*prompts));
	char *echo = calloc((size_t)(n > 0 ? n : 1), 1);

	if (prompts == NULL || echo == NULL)
		connection_end(p, EXIT_INTERNAL, "out of memory", NULL);
	/* libssh 0.10's getprompt checks its bound off by one: stay below n */
	for (i = 0; i < n; i++)
		prompts[i] = ssh_userauth_kbdint_getprompt(p->upstream, (unsigned int)i, &echo[i]);
	send_prompts(p, msg, ssh_userauth_kbdint_getname(p->upstream),
	             ssh_userauth_kbdint_getinstruction(p->upstream), (unsigned int)(n > 0 ? n : 0),
	             prompts, echo);
	free(prompts);
	free(echo);
	login.kbdint = KBDINT_UPSTREAM;
}

/* sshroute's own first round: one ordinary password prompt, as sshd's PAM
 * asks it, the same for every name, before any lookup or upstream. */
static void ask_password(struct connection *p, ssh_message msg)
{
	const char *prompts[] = { password_prompt };
	char echo[] = { 0 };

	send_prompts(p, msg, "", "", 1, prompts, echo);
	login.kbdint = KBDINT_FIRST;
}

/* Copies the client's answers to the upstream. Returns -1 when their
 * number is not the number of prompts. */
static int pass_answers(struct connection *p)
{
	int n = ssh_userauth_kbdint_getnanswers(p->client), i;

	if (n != ssh_userauth_kbdint_getnprompts(p->upstream)) {
		log_info("client gave %d answers to %d prompts", n,
		         ssh_userauth_kbdint_getnprompts(p->upstream));
		return -1;
	}
	for (i = 0; i < n; i++)
		if (ssh_userauth_kbdint_setanswer(p->upstream, (unsigned int)i,
		                                  ssh_userauth_kbdint_getanswer(p->client,
		                                                                (unsigned int)i)) < 0)
			return -1;
	return 0;
}

/* Asks the upstream for its next round; notes whether one is open. */
static int upstream_kbdint_step(struct connection *p)
{
	int rc = ssh_userauth_kbdint(p->upstream, NULL, NULL);

	login.upstream_kbdint = rc == SSH_AUTH_INFO;
	return rc;
}

/* The client left a keyboard-interactive round unanswered (a new request,
 * or answers that do not fit): the upstream's exchange is ended with
 * empty answers, so that the next request starts afresh there instead of
 * sending libssh's stale answers. Returns GO_ON, or SSH_AUTH_SUCCESS
 * (through accept_login) when the upstream took the empty answers. */
static int abandon_upstream_kbdint(struct connection *p)
{
	int round, i, n, rc = SSH_AUTH_DENIED;

	for (round = 0; login.upstream_kbdint && round < ABANDON_ROUNDS_MAX; round++) {
		n = ssh_userauth_kbdint_getnprompts(p->upstream);
		for (i = 0; i < n; i++)
			ssh_userauth_kbdint_setanswer(p->upstream, (unsigned int)i, "");
		rc = upstream_kbdint_step(p);
	}
	if (login.upstream_kbdint || rc == SSH_AUTH_ERROR) {
		log_error("upstream failed to end an abandoned keyboard-interactive exchange: %s",
		          ssh_get_error(p->upstream));
		connection_end(p, EXIT_UPSTREAM, "upstream failed", unavailable_message);
	}
	if (rc == SSH_AUTH_SUCCESS)
		return accept_login(p, "keyboard-interactive");
	if (rc == SSH_AUTH_PARTIAL)
		login.upstream_methods = upstream_methods_left(p->upstream);
	return GO_ON;
}

/* Answers msg with an SSH_AUTH_* result, as the server callbacks do. */
static void reply(const struct connection *p, ssh_message msg, int rc)
{
	if (rc == SSH_AUTH_SUCCESS || rc == SSH_AUTH_PARTIAL) {
		ssh_message_auth_reply_success(msg, rc == SSH_AUTH_PARTIAL);
		return;
	}
	ssh_message_auth_set_methods(msg, offered_methods(p));
	ssh_message_reply_default(msg);
}

static int fill_first_round(struct connection *p, ssh_message msg);

/* One step of the upstream's conversation: another round goes to the
 * client (the first with a prompt takes the answer to sshroute's own
 * Password: prompt first); an end is the client's answer. */
static void kbdint_step(struct connection *p, ssh_message msg, int rc)
{
	/* at most twice: fill_first_round drops the answer when it uses it */
	while (rc == SSH_AUTH_INFO && login.held_password != NULL) {
		if (fill_first_round(p, msg))
			return;
		rc = upstream_kbdint_step(p);
	}
	if (rc == SSH_AUTH_INFO) {
		relay_prompts(p, msg);
		return;
	}
	drop_held_password();
	login.kbdint = KBDINT_NONE;
	reply(p, msg, upstream_verdict(p, rc, "keyboard-interactive"));
}

/* A keyboard-interactive request: sshroute's own Password: prompt first,
 * whatever the name; only its answer, a secret, may run a lookup or reach
 * an upstream (first_answer). */
static void kbdint_start(struct connection *p, ssh_message msg)
{
	int rc = begin_request(p, ssh_message_auth_user(msg));

	if (rc != GO_ON) {
		reply(p, msg, rc);
		return;
	}
	ask_password(p, msg);
}

/* The index of the first prompt of the upstream's round that does not
 * echo (a password), -1 when there is none. */
static int first_secret_prompt(struct connection *p)
{
	int n = ssh_userauth_kbdint_getnprompts(p->upstream), i;
	char echo;

	for (i = 0; i < n; i++) {
		echo = 1;
		ssh_userauth_kbdint_getprompt(p->upstream, (unsigned int)i, &echo);
		if (!echo)
			return i;
	}
	return -1;
}

/* Sends the upstream's round but for prompt skip (already answered) to
 * the client, as a round of its own. */
static void relay_rest(struct connection *p, ssh_message msg, int skip)
{
	int n = ssh_userauth_kbdint_getnprompts(p->upstream), i, k = 0;
	const char **prompts = calloc((size_t)n, sizeof(*prompts));
	char *echo = calloc((size_t)n, 1);

	if (prompts == NULL || echo == NULL)
		connection_end(p, EXIT_INTERNAL, "out of memory", NULL);
	for (i = 0; i < n; i++) {
		if (i == skip)
			continue;
		prompts[k] = ssh_userauth_kbdint_getprompt(p->upstream, (unsigned int)i, &echo[k]);
		k++;
	}
	send_prompts(p, msg, ssh_userauth_kbdint_getname(p->upstream),
	             ssh_userauth_kbdint_getinstruction(p->upstream), (unsigned int)k, prompts, echo);
	free(prompts);
	free(echo);
	login.kbdint = KBDINT_REST;
	login.kbdint_filled = skip;
}

/* The upstream's first round with a prompt: the answer to sshroute's
 * Password: prompt fills its first prompt that does not echo; its other
 * prompts (a one-time code) go to the client as a round of their own.
 * Rounds before it without prompts (a notice) go to the client as they
 * are, the answer held for the next; a round whose prompts all echo goes
 * as it is, and the answer is dropped. Returns 1 when a round went to the
 * client, 0 when the upstream's next step is due (the answer filled the
 * round's only prompt). */
static int fill_first_round(struct connection *p, ssh_message msg)
{
	int k = first_secret_prompt(p);

	if (k < 0) {
		if (ssh_userauth_kbdint_getnprompts(p->upstream) > 0)
			drop_held_password();
		relay_prompts(p, msg);
		return 1;
	}
	ssh_userauth_kbdint_setanswer(p->upstream, (unsigned int)k, login.held_password);
	drop_held_password();
	if (ssh_userauth_kbdint_getnprompts(p->upstream) == 1)
		return 0;
	relay_rest(p, msg, k);
	return 1;
}

/* The answer to sshroute's Password: prompt: the secret that lets the
 * route be looked up and the upstream be asked, by keyboard-interactive
 * or as a password. */
static void first_answer(struct connection *p, ssh_message msg)
{
	const char *password = ssh_userauth_kbdint_getnanswers(p->client) == 1
	                       ? ssh_userauth_kbdint_getanswer(p->client, 0) : NULL;
	int rc;

	if (password == NULL ||
	    !(route_takes(p, AUTH_KBDINT) || route_takes(p, AUTH_PASSWORD))) {
		reply(p, msg, reject_attempt(p, "keyboard-interactive"));
		return;
	}
	if ((rc = upstream_ready(p)) != GO_ON) {
		reply(p, msg, rc);
		return;
	}
	if (upstream_accepts(p, SSH_AUTH_METHOD_INTERACTIVE)) {
		if ((login.held_password = strdup(password)) == NULL)
			connection_end(p, EXIT_INTERNAL, "out of memory", NULL);
		kbdint_step(p, msg, upstream_kbdint_step(p));
	} else if (upstream_accepts(p, SSH_AUTH_METHOD_PASSWORD)) {
		reply(p, msg, upstream_verdict(p, upstream_auth_password(p->upstream, password),
		                               "password"));
	} else {
		reply(p, msg, reject_attempt(p, "keyboard-interactive"));
	}
}

/* The client's answers to the rest of the upstream's first round: they go
 * to its prompts but the one already filled. Returns -1 when they do not
 * fit. */
static int pass_rest(struct connection *p)
{
	int n = ssh_userauth_kbdint_getnprompts(p->upstream), i, k = 0;

	if (ssh_userauth_kbdint_getnanswers(p->client) != n - 1) {
		log_info("client gave %d answers to %d prompts", ssh_userauth_kbdint_getnanswers(p->client),
		         n - 1);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (i != login.kbdint_filled &&
		    ssh_userauth_kbdint_setanswer(p->upstream, (unsigned int)i,
		                                  ssh_userauth_kbdint_getanswer(p->client,
		                                                                (unsigned int)k++)) < 0)
			return -1;
	return 0;
}

static void kbdint_continue(struct connection *p, ssh_message msg)
{
	int kind = login.kbdint;

	if (kind == KBDINT_NONE || p->authenticated) {
		reply(p, msg, SSH_AUTH_DENIED);
		return;
	}
	start_attempt();
	login.kbdint = KBDINT_NONE;
	if (kind == KBDINT_FIRST) {
		first_answer(p, msg);
		return;
	}
	if ((kind == KBDINT_REST ? pass_rest(p) : pass_answers(p)) < 0) {
		if (abandon_upstream_kbdint(p) != GO_ON) {
			reply(p, msg, SSH_AUTH_SUCCESS);
			return;
		}
		reply(p, msg, reject_attempt(p, "keyboard-interactive"));
		return;
	}
	kbdint_step(p, msg, upstream_kbdint_step(p));
}

/* Handles what the server callbacks do not: keyboard-interactive here,
 * tunnels and forwarded ports in the relay. Returns 1 to let libssh give
 * its default answer. */
/* A message after login: x11-req on a session is the relay's, the rest
 * (tunnels, ssh -R ports) forward.c's. */
static int relayed_message(struct connection *p, ssh_message msg)
{
	if (ssh_message_type(msg) == SSH_REQUEST_CHANNEL &&
	    ssh_message_subtype(msg) == SSH_CHANNEL_REQUEST_X11)
		return relay_x11_request(p, msg);
	return forward_client_message(p, msg);
}

static int on_message(ssh_session session, ssh_message msg, void *userdata)
{
	struct connection *p = userdata;

	(void)session;
	if (ssh_message_type(msg) != SSH_REQUEST_AUTH)
		return p->authenticated ? relayed_message(p, msg) : 1;
	if (ssh_message_subtype(msg) != SSH_AUTH_METHOD_INTERACTIVE)
		return 1;
	if (ssh_message_auth_kbdint_is_response(msg))
		kbdint_continue(p, msg);
	else
		kbdint_start(p, msg);
	return 0;
}

/* ---- no-more-sessions@openssh.com ----
 *
 * The client will open no further session channels, so one that comes
 * anyway is not the client's own doing. libssh names this request only in
 * its log: 0.10 as an unknown global request, 0.11 and later as "Received
 * no-more-sessions@openssh.com", both at SSH_LOG_PROTOCOL. The request
 * counts only when the client sent the packet (connection_packet_source):
 * an upstream's request never counts, and neither does a line whose
 * sender is unknown. */
static int no_more_sessions;

static int names_no_more_sessions(const char *function, const char *line)
{
	return strcmp(function, "ssh_packet_global_request") == 0 &&
	       (strstr(line, "UNKNOWN SSH_MSG_GLOBAL_REQUEST no-more-sessions@openssh.com,") ||
	        strstr(line, "Received no-more-sessions@openssh.com "));
}

void auth_watch_libssh(const char *function, const char *line)
{
	enum packet_source from = connection_packet_source();

	if (names_no_more_sessions(function, line)) {
		if (from == FROM_CLIENT)
			no_more_sessions = 1;
		else
			log_verbose("ignoring a no-more-sessions request that is not the client's");
	}
}

static ssh_channel on_session_channel_open(ssh_session session, void *userdata)
{
	struct connection *p = userdata;

	(void)session;
	if (!p->authenticated)
		return NULL;
	if (no_more_sessions) {
		/* as sshd does */
		log_info("session channel requested after no-more-sessions");
		connection_end(p, EXIT_CLIENT, "session after no-more-sessions",
		               "Possible attack: attempt to open a session after additional sessions disabled");
	}
	return relay_open_session(p);
}

/* gssapi-with-mic: libssh 0.10 would run it, before login, with the host's
 * keytab and no failure count. sshroute has nothing to pass it to, so
 * every attempt is refused, and counted like any failed method. */
static ssh_string on_gssapi_select_oid(ssh_session session, const char *user, int n_oid,
                                       ssh_string *oids, void *userdata)
{
	struct connection *p = userdata;

	(void)session; (void)n_oid; (void)oids;
	if (begin_request(p, user) == GO_ON)
		count_failure(p, "gssapi-with-mic");
	return NULL;
}

static struct ssh_server_callbacks_struct server_callbacks = {
	.auth_none_function = on_auth_none,
	.gssapi_select_oid_function = on_gssapi_select_oid,
	.auth_password_function = on_auth_password,
	.auth_pubkey_function = on_auth_pubkey,
	.channel_open_request_session_function = on_session_channel_open,
};

void auth_install(struct connection *p)
{
	server_callbacks.userdata = p;
	ssh_callbacks_init(&server_callbacks);
	ssh_set_server_callbacks(p->client, &server_callbacks);
	ssh_set_message_callback(p->client, on_message, p);
	connection_count_packets(p->client, 1);
	offer_methods(p);
}

void auth_wait(struct connection *p)
{
	while (!p->authenticated) {
		connection_stop_if_asked(p);
		ssh_event_dopoll(p->event, 1000);
		if (session_is_gone(p->client)) {
			/* a round left unanswered is a failed attempt, as a wrong answer is */
			if (login.kbdint != KBDINT_NONE)
				note_failure(p, "keyboard-interactive");
			log_info("client disconnected before authentication: %s", ssh_get_error(p->client));
			connection_end(p, EXIT_CLIENT, "client left before login", NULL);
		}
	}
}
