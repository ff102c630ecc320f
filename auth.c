/* auth.c: authenticate the client by passing its credentials upstream.
 *
 * The first userauth request fixes the user name and picks the route. A
 * user with a route gets an upstream connection at once, so that the
 * methods offered are the upstream's; a user without one is offered the
 * same methods and fails the same way, after the same delay, as a wrong
 * password: the proxy does not reveal which names exist. */
#include "auth.h"

#include <errno.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "relay.h"
#include "upstream.h"

/* Every failed password takes at least this long to be answered, whatever
 * the reason (wrong password, no route): about what pam_unix takes, so a
 * missing account looks like a slow wrong password. */
#define FAILURE_DELAY_MS 2000

static const char unavailable_message[] = "sshroute: the server for this account is unavailable";

static void sleep_until(const struct timespec *deadline)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline, NULL) == EINTR)
		;
}

static void pad_failure_delay(const struct timespec *start)
{
	struct timespec deadline = *start;

	deadline.tv_sec += FAILURE_DELAY_MS / 1000;
	deadline.tv_nsec += (long)(FAILURE_DELAY_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	sleep_until(&deadline);
}

/* Fixes the user name on the first request; a later request under another
 * name ends the connection, as in sshd. */
static void accept_user(struct proxy *p, const char *user)
{
	if (p->user == NULL) {
		p->user = strdup(user);
		if (p->user == NULL)
			proxy_end(p, EXIT_INTERNAL, NULL);
		log_set_user(p->user);
		return;
	}
	if (strcmp(p->user, user) == 0)
		return;
	log_error("client changed user name from %s to %s", p->user, user);
	proxy_end(p, EXIT_CLIENT, "Change of username or service not allowed");
}

/* The methods the client is offered: the same for every name, so that
 * unknown names cannot be told apart. Password passthrough is what this
 * version can pass on. */
static void offer_methods(struct proxy *p)
{
	ssh_set_auth_methods(p->client, SSH_AUTH_METHOD_PASSWORD);
}

static void note_upstream_methods(struct proxy *p, int methods)
{
	if (!(methods & SSH_AUTH_METHOD_PASSWORD))
		log_info("upstream for user %s does not offer password authentication", p->user);
}

static void log_route(const struct proxy *p)
{
	log_info("route user=%s route=%s upstream=%s:%d upstream_user=%s", p->user,
	         p->target.route->pattern, p->target.host, p->target.port, p->target.user);
}

/* Looks the route up once and, when there is one, connects the upstream
 * and starts authenticating there. Returns SSH_AUTH_SUCCESS when the
 * upstream let the user in without credentials. */
static int prepare_route(struct proxy *p)
{
	char upstream[ROUTE_HOST_MAX + 16];
	int methods = 0, rc;

	if (p->route_looked_up)
		return SSH_AUTH_DENIED;
	p->route_looked_up = 1;
	if (route_lookup(p->cfg, p->user, &p->target) < 0) {
		log_info("no route for user %s", p->user);
		return SSH_AUTH_DENIED;
	}
	p->have_route = 1;
	snprintf(upstream, sizeof(upstream), "%s:%d", p->target.host, p->target.port);
	log_set_upstream(upstream);
	log_route(p);
	p->upstream = upstream_connect(p->cfg, &p->target);
	if (p->upstream == NULL)
		proxy_end(p, EXIT_UPSTREAM, unavailable_message);
	if (ssh_event_add_session(p->event, p->upstream) != SSH_OK)
		proxy_end(p, EXIT_INTERNAL, NULL);
	rc = upstream_auth_none(p->upstream, &methods);
	if (rc == SSH_AUTH_ERROR) {
		log_error("upstream failed during authentication: %s", ssh_get_error(p->upstream));
		proxy_end(p, EXIT_UPSTREAM, unavailable_message);
	}
	if (rc != SSH_AUTH_SUCCESS)
		note_upstream_methods(p, methods);
	return rc;
}

static int accept_login(struct proxy *p, const char *method)
{
	p->authenticated = 1;
	log_info("accepted %s for user %s from upstream %s:%d", method, p->user,
	         p->target.host, p->target.port);
	return SSH_AUTH_SUCCESS;
}

/* Counts a failure the way sshd does: the max_auth_tries-th failure ends
 * the connection. */
static int reject_attempt(struct proxy *p, const char *method)
{
	p->failures++;
	log_info("failed %s for user %s (%d of %d)", method, p->user, p->failures,
	         p->cfg->max_auth_tries);
	if (p->failures >= p->cfg->max_auth_tries)
		proxy_end(p, EXIT_CLIENT, "Too many authentication failures");
	offer_methods(p);
	return SSH_AUTH_DENIED;
}

/* A request after the login is ignored, as RFC 4252 asks. */
static int already_logged_in(const struct proxy *p)
{
	if (p->authenticated)
		log_verbose("ignoring an authentication request after the login");
	return p->authenticated;
}

static int on_auth_none(ssh_session session, const char *user, void *userdata)
{
	struct proxy *p = userdata;

	(void)session;
	if (already_logged_in(p))
		return SSH_AUTH_DENIED;
	accept_user(p, user);
	if (prepare_route(p) == SSH_AUTH_SUCCESS)
		return accept_login(p, "none");
	offer_methods(p);
	return SSH_AUTH_DENIED;
}

static int on_auth_password(ssh_session session, const char *user, const char *password,
                            void *userdata)
{
	struct proxy *p = userdata;
	struct timespec start;
	int rc;

	(void)session;
	if (already_logged_in(p))
		return SSH_AUTH_DENIED;
	clock_gettime(CLOCK_MONOTONIC, &start);
	accept_user(p, user);
	if (prepare_route(p) == SSH_AUTH_SUCCESS)
		return accept_login(p, "none");
	if (p->upstream == NULL) {
		pad_failure_delay(&start);
		return reject_attempt(p, "password");
	}
	rc = upstream_auth_password(p->upstream, password);
	if (rc == SSH_AUTH_SUCCESS)
		return accept_login(p, "password");
	if (rc == SSH_AUTH_ERROR) {
		log_error("upstream failed during authentication: %s", ssh_get_error(p->upstream));
		proxy_end(p, EXIT_UPSTREAM, unavailable_message);
	}
	if (rc == SSH_AUTH_PARTIAL)
		log_info("upstream wants more than a password for user %s; not supported yet", p->user);
	pad_failure_delay(&start);
	return reject_attempt(p, "password");
}

/* Public keys are not mapped yet: every key is refused, and counted, as
 * sshd counts keys it does not know. */
static int on_auth_pubkey(ssh_session session, const char *user, struct ssh_key_struct *pubkey,
                          char signature_state, void *userdata)
{
	struct proxy *p = userdata;

	(void)session;
	(void)pubkey;
	(void)signature_state;
	if (already_logged_in(p))
		return SSH_AUTH_DENIED;
	accept_user(p, user);
	return reject_attempt(p, "publickey");
}

static ssh_channel on_session_channel_open(ssh_session session, void *userdata)
{
	struct proxy *p = userdata;

	(void)session;
	if (!p->authenticated)
		return NULL;
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
	offer_methods(p);
}

void auth_wait(struct proxy *p)
{
	while (!p->authenticated) {
		ssh_event_dopoll(p->event, 1000);
		if (session_is_gone(p->client)) {
			log_info("client disconnected before authentication: %s", ssh_get_error(p->client));
			proxy_end(p, EXIT_CLIENT, NULL);
		}
	}
}
