/* auth.c: authenticate the client by passing its credentials upstream.
 *
 * The first userauth request fixes the user name and picks the route. A
 * user with a route gets an upstream connection at once, and is offered
 * the methods that route and upstream allow: publickey when the route maps
 * keys, password and keyboard-interactive when the upstream accepts them.
 * Passwords and keyboard-interactive rounds go to the upstream verbatim;
 * a client key listed in the route's authorized_keys is replaced by the
 * route's identity, since a client's signature is bound to its session
 * with the proxy and cannot be replayed.
 *
 * A user without a route is offered password and fails like a wrong
 * password, after the same delay: the proxy does not reveal which names
 * exist. */
#include "auth.h"

#include <errno.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "keys.h"
#include "log.h"
#include "lookup.h"
#include "relay.h"
#include "upstream.h"

/* Every failed attempt takes at least this long to be answered, whatever
 * the reason (wrong password, no route, upstream refusal): about what
 * pam_unix takes, so a missing account looks like a wrong password. */
#define FAILURE_DELAY_MS 2000

/* What a user without a route is offered. */
#define NO_ROUTE_METHODS ((int)SSH_AUTH_METHOD_PASSWORD)

static const char unavailable_message[] = "sshroute: the server for this account is unavailable";
static const char identity_refused_message[] =
	"sshroute: the server for this account refused sshroute's key; "
	"please tell the administrator";

/* ---- timing ---- */

static void start_attempt(struct proxy *p)
{
	clock_gettime(CLOCK_MONOTONIC, &p->attempt_started);
}

static void pad_failure_delay(const struct proxy *p)
{
	struct timespec deadline = p->attempt_started;

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
static void accept_user(struct proxy *p, const char *user)
{
	if (user == NULL)
		user = "";
	if (p->user == NULL) {
		p->user = strdup(user);
		if (p->user == NULL)
			proxy_end(p, EXIT_INTERNAL, "out of memory", NULL);
		log_set_user(p->user);
		return;
	}
	if (strcmp(p->user, user) == 0)
		return;
	log_error("client changed user name");
	proxy_end(p, EXIT_CLIENT, "user name changed", "Change of username or service not allowed");
}

/* The methods the client may use now: what the route allows and the
 * upstream still accepts. */
static int offered_methods(const struct proxy *p)
{
	int up = p->upstream_methods, allowed, m = 0;

	if (!p->have_route)
		return NO_ROUTE_METHODS;
	allowed = p->target.auth;
	if ((allowed & AUTH_PUBLICKEY) && (up & SSH_AUTH_METHOD_PUBLICKEY))
		m |= SSH_AUTH_METHOD_PUBLICKEY;
	if ((allowed & AUTH_PASSWORD) && (up & SSH_AUTH_METHOD_PASSWORD))
		m |= SSH_AUTH_METHOD_PASSWORD;
	if ((allowed & AUTH_KBDINT) && (up & SSH_AUTH_METHOD_INTERACTIVE))
		m |= SSH_AUTH_METHOD_INTERACTIVE;
	return m;
}

/* 1 when method can be tried upstream: a user without a route is offered
 * password, but there is nothing to try it on. */
static int upstream_accepts(const struct proxy *p, int method)
{
	return p->have_route && p->upstream != NULL && (offered_methods(p) & method);
}

static void offer_methods(struct proxy *p)
{
	int m = offered_methods(p);

	/* Offering nothing would leave the client without a word: a routed
	 * user whose upstream accepts nothing sshroute can pass gets the
	 * no-route methods, and the log says why. */
	ssh_set_auth_methods(p->client, m ? m : NO_ROUTE_METHODS);
}

static void log_route(const struct proxy *p)
{
	log_info("route %s: upstream %s:%d upstream_user=%s",
	         p->target.route->pattern, p->target.host, p->target.port, p->target.user);
}

static void log_unusable_route(const struct proxy *p)
{
	if (offered_methods(p) == 0)
		log_error("route %s: the upstream accepts no method this route can pass on "
		          "(upstream offers %s%s%s; route auth and authorized_keys allow %s%s%s)",
		          p->target.route->pattern,
		          p->upstream_methods & SSH_AUTH_METHOD_PUBLICKEY ? "publickey " : "",
		          p->upstream_methods & SSH_AUTH_METHOD_PASSWORD ? "password " : "",
		          p->upstream_methods & SSH_AUTH_METHOD_INTERACTIVE ? "keyboard-interactive" : "",
		          p->target.auth & AUTH_PUBLICKEY ? "publickey " : "",
		          p->target.auth & AUTH_PASSWORD ? "password " : "",
		          p->target.auth & AUTH_KBDINT ? "keyboard-interactive" : "");
}

/* The upstream's login banner (sshd's Banner) goes to the client. */
static void pass_banner(struct proxy *p)
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

/* Looks the route up once (running its lookup program, if any) and, when there is one, connects the upstream
 * and asks it with "none" which methods it accepts. Returns
 * SSH_AUTH_SUCCESS when the upstream let the user in without credentials. */
static int prepare_route(struct proxy *p)
{
	char upstream[ROUTE_HOST_MAX + 16];
	int rc;

	if (p->route_looked_up)
		return SSH_AUTH_DENIED;
	p->route_looked_up = 1;
	switch (route_resolve(p->cfg, p->user, p->client_addr, p->client_port, &p->target,
	                      report_problem, NULL)) {
	case ROUTE_NONE:
		log_info("no route for this user");
		return SSH_AUTH_DENIED;
	case ROUTE_FAILED:
		proxy_end(p, EXIT_UPSTREAM, "lookup failed", unavailable_message);
	case ROUTE_FOUND:
		break;
	}
	p->have_route = 1;
	snprintf(upstream, sizeof(upstream), "%s:%d", p->target.host, p->target.port);
	log_set_upstream(upstream);
	log_route(p);
	p->upstream = upstream_connect(p->cfg, &p->target);
	if (p->upstream == NULL)
		proxy_end(p, EXIT_UPSTREAM, "upstream unavailable", unavailable_message);
	if (ssh_event_add_session(p->event, p->upstream) != SSH_OK) {
		log_error("cannot add the upstream session to the event loop");
		proxy_end(p, EXIT_INTERNAL, "internal error", NULL);
	}
	forward_attach_upstream(p);
	rc = upstream_auth_none(p->upstream, &p->upstream_methods);
	if (rc == SSH_AUTH_ERROR) {
		log_error("upstream failed during authentication: %s", ssh_get_error(p->upstream));
		proxy_end(p, EXIT_UPSTREAM, "upstream failed", unavailable_message);
	}
	pass_banner(p);
	if (rc != SSH_AUTH_SUCCESS)
		log_unusable_route(p);
	return rc;
}

/* ---- outcomes ---- */

static int accept_login(struct proxy *p, const char *method)
{
	p->authenticated = 1;
	p->auth_method = method;
	log_info("accepted %s from upstream %s:%d", method,
	         p->target.host, p->target.port);
	return SSH_AUTH_SUCCESS;
}

/* The upstream accepted one method and wants another (sshd's
 * AuthenticationMethods): the client is told the same. */
static int accept_partially(struct proxy *p, const char *method)
{
	p->upstream_methods = upstream_methods_left(p->upstream);
	log_info("partial success with %s; upstream wants more", method);
	offer_methods(p);
	return SSH_AUTH_PARTIAL;
}

/* Counts a failure the way sshd does: the max_auth_tries-th failure ends
 * the connection. */
static int count_failure(struct proxy *p, const char *method)
{
	p->failures++;
	log_info("failed %s (%d of %d)", method, p->failures,
	         p->cfg->max_auth_tries);
	if (p->failures >= p->cfg->max_auth_tries)
		proxy_end(p, EXIT_CLIENT, "too many authentication failures",
		          "Too many authentication failures");
	if (p->upstream)
		p->upstream_methods = upstream_methods_left(p->upstream);
	offer_methods(p);
	return SSH_AUTH_DENIED;
}

/* A failed attempt, answered after the common delay. */
static int reject_attempt(struct proxy *p, const char *method)
{
	pad_failure_delay(p);
	return count_failure(p, method);
}

/* Turns an upstream's SSH_AUTH_* answer into the client's. */
static int upstream_verdict(struct proxy *p, int rc, const char *method)
{
	switch (rc) {
	case SSH_AUTH_SUCCESS:
		return accept_login(p, method);
	case SSH_AUTH_PARTIAL:
		return accept_partially(p, method);
	case SSH_AUTH_DENIED:
		return reject_attempt(p, method);
	default:
		log_error("upstream failed during authentication: %s", ssh_get_error(p->upstream));
		proxy_end(p, EXIT_UPSTREAM, "upstream failed", unavailable_message);
	}
}

/* Common start of every request. Returns 0 when the request can go on,
 * or an SSH_AUTH_* answer for it. */
static int begin_request(struct proxy *p, const char *user)
{
	if (p->authenticated) {
		/* RFC 4252: requests after the login are ignored */
		log_verbose("ignoring an authentication request after the login");
		return SSH_AUTH_DENIED;
	}
	start_attempt(p);
	accept_user(p, user);
	p->kbdint = 0;
	if (prepare_route(p) == SSH_AUTH_SUCCESS)
		return accept_login(p, "none");
	return 0;
}

/* ---- none, password, publickey (libssh server callbacks) ---- */

static int on_auth_none(ssh_session session, const char *user, void *userdata)
{
	struct proxy *p = userdata;
	int rc;

	(void)session;
	if ((rc = begin_request(p, user)) != 0)
		return rc;
	offer_methods(p);
	return SSH_AUTH_DENIED;
}

static int on_auth_password(ssh_session session, const char *user, const char *password,
                            void *userdata)
{
	struct proxy *p = userdata;
	int rc;

	(void)session;
	if ((rc = begin_request(p, user)) != 0)
		return rc;
	if (!upstream_accepts(p, SSH_AUTH_METHOD_PASSWORD))
		return reject_attempt(p, "password");
	return upstream_verdict(p, upstream_auth_password(p->upstream, password), "password");
}

static int key_is_mapped(const struct proxy *p, ssh_key key)
{
	if (!upstream_accepts(p, SSH_AUTH_METHOD_PUBLICKEY))
		return 0;
	return authorized_keys_match(p->target.authorized_keys, key);
}

/* A probe (no signature) is answered PK_OK only for a listed key; a signed
 * request, verified by libssh, logs in upstream with the route's identity. */
static int on_auth_pubkey(ssh_session session, const char *user, struct ssh_key_struct *key,
                          char signature_state, void *userdata)
{
	struct proxy *p = userdata;
	int rc;

	(void)session;
	if ((rc = begin_request(p, user)) != 0)
		return rc;
	if (!key_is_mapped(p, key))
		return count_failure(p, "publickey");
	if (signature_state == SSH_PUBLICKEY_STATE_NONE)
		return SSH_AUTH_SUCCESS; /* PK_OK: the client may sign */
	if (signature_state != SSH_PUBLICKEY_STATE_VALID)
		return reject_attempt(p, "publickey");
	rc = upstream_auth_identity(p->upstream, p->target.identity);
	if (rc == SSH_AUTH_DENIED) {
		log_error("upstream %s:%d refused sshroute's identity %s for upstream user %s (route %s): "
		          "add its public key to the upstream account's authorized_keys",
		          p->target.host, p->target.port, p->target.identity, p->target.user,
		          p->target.route->pattern);
		proxy_end(p, EXIT_UPSTREAM, "upstream refused the identity", identity_refused_message);
	}
	return upstream_verdict(p, rc, "publickey");
}

/* ---- keyboard-interactive (no server callback in libssh 0.10: it comes
 * through the message callback) ---- */

/* Sends the upstream's current round (name, instruction, prompts with
 * their echo flags) to the client, verbatim. */
static void relay_prompts(struct proxy *p, ssh_message msg)
{
	int n = ssh_userauth_kbdint_getnprompts(p->upstream), i;
	const char **prompts = calloc((size_t)(n > 0 ? n : 1), sizeof(*prompts));
	char *echo = calloc((size_t)(n > 0 ? n : 1), 1);

	if (prompts == NULL || echo == NULL)
		proxy_end(p, EXIT_INTERNAL, "out of memory", NULL);
	/* libssh 0.10's getprompt checks its bound off by one: stay below n */
	for (i = 0; i < n; i++)
		prompts[i] = ssh_userauth_kbdint_getprompt(p->upstream, (unsigned int)i, &echo[i]);
	ssh_message_auth_interactive_request(msg, ssh_userauth_kbdint_getname(p->upstream),
	                                     ssh_userauth_kbdint_getinstruction(p->upstream),
	                                     (unsigned int)n, prompts, echo);
	free(prompts);
	free(echo);
	p->kbdint = 1;
}

/* Copies the client's answers to the upstream. Returns -1 when their
 * number is not the number of prompts. */
static int pass_answers(struct proxy *p)
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

/* Answers msg with an SSH_AUTH_* result, as the server callbacks do. */
static void reply(struct proxy *p, ssh_message msg, int rc)
{
	if (rc == SSH_AUTH_SUCCESS || rc == SSH_AUTH_PARTIAL) {
		ssh_message_auth_reply_success(msg, rc == SSH_AUTH_PARTIAL);
		return;
	}
	ssh_message_auth_set_methods(msg, offered_methods(p) ? offered_methods(p) : NO_ROUTE_METHODS);
	ssh_message_reply_default(msg);
}

/* One step of the upstream's conversation: another round goes to the
 * client; an end is the client's answer. */
static void kbdint_step(struct proxy *p, ssh_message msg, int rc)
{
	if (rc == SSH_AUTH_INFO) {
		relay_prompts(p, msg);
		return;
	}
	p->kbdint = 0;
	reply(p, msg, upstream_verdict(p, rc, "keyboard-interactive"));
}

static void kbdint_start(struct proxy *p, ssh_message msg)
{
	int rc = begin_request(p, ssh_message_auth_user(msg));

	if (rc != 0) {
		reply(p, msg, rc);
		return;
	}
	if (!upstream_accepts(p, SSH_AUTH_METHOD_INTERACTIVE)) {
		reply(p, msg, reject_attempt(p, "keyboard-interactive"));
		return;
	}
	kbdint_step(p, msg, ssh_userauth_kbdint(p->upstream, NULL, NULL));
}

static void kbdint_continue(struct proxy *p, ssh_message msg)
{
	if (!p->kbdint || p->authenticated) {
		reply(p, msg, SSH_AUTH_DENIED);
		return;
	}
	start_attempt(p);
	if (pass_answers(p) < 0) {
		p->kbdint = 0;
		reply(p, msg, reject_attempt(p, "keyboard-interactive"));
		return;
	}
	kbdint_step(p, msg, ssh_userauth_kbdint(p->upstream, NULL, NULL));
}

/* Handles what the server callbacks do not: keyboard-interactive here,
 * tunnels and forwarded ports in the relay. Returns 1 to let libssh give
 * its default answer. */
static int on_message(ssh_session session, ssh_message msg, void *userdata)
{
	struct proxy *p = userdata;

	(void)session;
	if (ssh_message_type(msg) != SSH_REQUEST_AUTH)
		return p->authenticated ? forward_client_message(p, msg) : 1;
	if (ssh_message_subtype(msg) != SSH_AUTH_METHOD_INTERACTIVE)
		return 1;
	if (ssh_message_auth_kbdint_is_response(msg))
		kbdint_continue(p, msg);
	else
		kbdint_start(p, msg);
	return 0;
}

/* no-more-sessions@openssh.com: the client will open no further session
 * channels, so one that comes anyway is not the client's own doing. libssh
 * 0.10 answers global requests it does not know by itself, without a
 * callback; only its log names them. */
static int no_more_sessions;
#define NO_MORE_SESSIONS_LINE \
	"ssh_packet_global_request: UNKNOWN SSH_MSG_GLOBAL_REQUEST " \
	"no-more-sessions@openssh.com, want_reply = "

void auth_watch_libssh(const char *function, const char *line)
{
	if (strcmp(function, "ssh_packet_global_request") == 0 &&
	    strncmp(line, NO_MORE_SESSIONS_LINE, strlen(NO_MORE_SESSIONS_LINE)) == 0)
		no_more_sessions = 1;
}

static ssh_channel on_session_channel_open(ssh_session session, void *userdata)
{
	struct proxy *p = userdata;

	(void)session;
	if (!p->authenticated)
		return NULL;
	if (no_more_sessions) {
		/* as sshd does */
		log_info("session channel requested after no-more-sessions");
		proxy_end(p, EXIT_CLIENT, "session after no-more-sessions",
		          "Possible attack: attempt to open a session after additional sessions disabled");
	}
	return relay_open_session(p);
}

static struct ssh_server_callbacks_struct server_callbacks = {
	.auth_none_function = on_auth_none,
	.auth_password_function = on_auth_password,
	.auth_pubkey_function = on_auth_pubkey,
	.channel_open_request_session_function = on_session_channel_open,
};

void auth_install(struct proxy *p)
{
	server_callbacks.userdata = p;
	ssh_callbacks_init(&server_callbacks);
	ssh_set_server_callbacks(p->client, &server_callbacks);
	ssh_set_message_callback(p->client, on_message, p);
	offer_methods(p);
}

void auth_wait(struct proxy *p)
{
	while (!p->authenticated) {
		ssh_event_dopoll(p->event, 1000);
		if (session_is_gone(p->client)) {
			log_info("client disconnected before authentication: %s", ssh_get_error(p->client));
			proxy_end(p, EXIT_CLIENT, "client left before login", NULL);
		}
	}
}
