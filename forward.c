/* forward.c: channels and requests besides sessions: tunnels the client
 * opens (ssh -L, -D, -W, -J), ports the upstream listens on for the client
 * (ssh -R), and the agent and X11 channels the upstream opens back.
 *
 * Each new channel is opened on the far side first and accepted on the
 * near side only when that worked, so that the far side's policy (sshd's
 * AllowTcpForwarding, PermitOpen; the client's forwarding options)
 * decides, and a refusal is passed on as a refusal. Once open, the two
 * channels are a pair and relay.c moves their data. */
#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "log.h"
#include "pair.h"

static struct {
	int n_listeners;              /* ssh -R ports the upstream listens on */
} forwarding;

/* How long a new tunnel may hold up the connection while the far side
 * decides: most refusals (AllowTcpForwarding, PermitOpen, a closed port)
 * come back in milliseconds and are passed on as refusals. A far side
 * that takes longer (a target that drops SYNs) gets the channel accepted
 * anyway; the open goes on in the background (pair_open_pending) and a
 * late refusal closes the channel. */
#define OPEN_WAIT_MS 1000

/* The channel kinds sshroute opens on the far side for a channel the near
 * side asked for. */
enum open_kind {
	OPEN_DIRECT_TCPIP,     /* a tunnel from the client, opened upstream */
	OPEN_FORWARDED_TCPIP,  /* a connection to an ssh -R port, opened toward the client */
	OPEN_AUTH_AGENT,       /* the upstream reaching the client's agent */
	OPEN_X11,              /* the upstream reaching the client's X server */
};

static const char *const open_kind_names[] = {
	[OPEN_DIRECT_TCPIP] = "direct-tcpip", [OPEN_FORWARDED_TCPIP] = "forwarded-tcpip",
	[OPEN_AUTH_AGENT] = "auth-agent", [OPEN_X11] = "x11",
};

/* A far-side open still waiting for its answer: what it needs to ask
 * libssh again. host and port are the target (tcpip) or the originator
 * (x11); origin is only for tcpip. */
struct pending_open {
	enum open_kind kind;
	char *host, *origin;
	int port, origin_port;
};

static int toward_client(enum open_kind kind)
{
	return kind != OPEN_DIRECT_TCPIP;
}

static void pending_open_free(struct pending_open *po)
{
	if (po == NULL)
		return;
	free(po->host);
	free(po->origin);
	free(po);
}

static struct pending_open *pending_open_new(enum open_kind kind, const char *host, int port,
                                             const char *origin, int origin_port)
{
	struct pending_open *po = calloc(1, sizeof(*po));

	if (po == NULL)
		return NULL;
	po->kind = kind;
	po->host = strdup(host ? host : "");
	po->origin = strdup(origin ? origin : "");
	po->port = port;
	po->origin_port = origin_port;
	if (po->host == NULL || po->origin == NULL) {
		pending_open_free(po);
		return NULL;
	}
	return po;
}

static struct pending_open *pending_tcpip_open(enum open_kind kind, ssh_message msg)
{
	return pending_open_new(kind, ssh_message_channel_request_open_destination(msg),
	                        ssh_message_channel_request_open_destination_port(msg),
	                        ssh_message_channel_request_open_originator(msg),
	                        ssh_message_channel_request_open_originator_port(msg));
}

/* Asks the far side (nonblocking): SSH_OK, SSH_AGAIN or SSH_ERROR. */
static int retry_open(const struct pair *pr, const struct pending_open *po)
{
	switch (po->kind) {
	case OPEN_DIRECT_TCPIP:
		return ssh_channel_open_forward(pair_upstream(pr), po->host, po->port, po->origin,
		                                po->origin_port);
	case OPEN_FORWARDED_TCPIP:
		return ssh_channel_open_reverse_forward(pair_client(pr), po->host, po->port,
		                                        po->origin, po->origin_port);
	case OPEN_AUTH_AGENT:
		return ssh_channel_open_auth_agent(pair_client(pr));
	case OPEN_X11:
		return ssh_channel_open_x11(pair_client(pr), po->host, po->port);
	}
	return SSH_ERROR;
}

/* " to HOST port N" for a tunnel, " from HOST port N" for X11, "" for
 * the agent: for the log. */
static const char *describe_target(const struct pending_open *po)
{
	static char text[300];

	if (po->kind == OPEN_AUTH_AGENT)
		return "";
	snprintf(text, sizeof(text), " %s %s port %d", po->kind == OPEN_X11 ? "from" : "to", po->host,
	         po->port);
	return text;
}

/* Waits up to wait_ms for the far side's answer. */
static int first_answer(const struct pair *pr, const struct pending_open *po, ssh_session far,
                        int wait_ms)
{
	struct pollfd pfd = { ssh_get_fd(far), POLLIN, 0 };
	int rc, waited;

	for (waited = 0;; waited += 50) {
		rc = retry_open(pr, po);
		if (rc != SSH_AGAIN || waited >= wait_ms)
			return rc;
		poll(&pfd, 1, 50);
	}
}

/* A pending open forgotten when its pair is freed (pair_install_opens). */
static void forward_open_abandon(struct pending_open *po)
{
	pending_open_free(po);
}

/* Asks the far side again; SSH_OK or SSH_ERROR (both free po), or
 * SSH_AGAIN (pair_install_opens). */
static int forward_open_step(const struct pair *pr, struct pending_open *po)
{
	int rc = retry_open(pr, po);

	if (rc == SSH_ERROR)
		log_info("the %s refused a%s %s channel%s, after accepting its twin",
		         toward_client(po->kind) ? "client" : "upstream",
		         po->kind == OPEN_AUTH_AGENT ? "n" : "", open_kind_names[po->kind],
		         describe_target(po));
	if (rc != SSH_AGAIN)
		pending_open_free(po);
	return rc;
}

/* Opens po's channel on the far side and returns its pair, whose near
 * channel the caller then accepts and starts; NULL when the far side
 * refused (or out of memory). Takes po.
 *
 * Opens toward the client come from inside the upstream's callbacks, where
 * the upstream cannot be read: waiting there would stall any session the
 * client opens meanwhile (it needs the upstream's answer). So the client's
 * answer is not waited for; the upstream's, up to OPEN_WAIT_MS. */
static struct pair *open_far_side(struct connection *p, struct pending_open *po)
{
	ssh_session far;
	struct pair *pr = NULL;
	int rc;

	if (po != NULL && pair_channel_allowed(p, open_kind_names[po->kind], toward_client(po->kind)))
		pr = pair_with_channels(p);
	if (pr == NULL) {
		pending_open_free(po);
		return NULL;
	}
	far = toward_client(po->kind) ? p->client : p->upstream;
	connection_set_blocking(far, 0);
	rc = first_answer(pr, po, far, toward_client(po->kind) ? 0 : OPEN_WAIT_MS);
	connection_packets_seen();
	if (rc == SSH_ERROR) {
		log_info("the %s refused a%s %s channel%s: %s", toward_client(po->kind) ? "client" : "upstream",
		         po->kind == OPEN_AUTH_AGENT ? "n" : "", open_kind_names[po->kind],
		         describe_target(po), ssh_get_error(far));
		pending_open_free(po);
		pair_free(pr);
		return NULL;
	}
	log_verbose("%s channel%s%s", open_kind_names[po->kind], describe_target(po),
	            rc == SSH_AGAIN ? ": the far side has not answered yet" : "");
	if (rc == SSH_AGAIN)
		pair_open_pending(pr, po, toward_client(po->kind));
	else
		pending_open_free(po);
	return pr;
}

/* A tcpip channel: opened on the far side, then msg's channel is accepted
 * on the near side. Returns 1 to have libssh refuse msg. */
static int open_tunnel(struct connection *p, ssh_message msg, enum open_kind kind)
{
	struct pair *pr = open_far_side(p, pending_tcpip_open(kind, msg));

	if (pr == NULL)
		return 1;
	if (ssh_message_channel_request_open_reply_accept_channel(
		    msg, toward_client(kind) ? pair_upstream(pr) : pair_client(pr)) != SSH_OK) {
		/* the far side's channel closes with the pair; the near side
		 * still gets its answer: a refusal */
		log_info("cannot accept a %s channel: %s", open_kind_names[kind],
		         ssh_get_error(toward_client(kind) ? p->upstream : p->client));
		pair_free(pr);
		return 1;
	}
	start_pair(p, pr, open_kind_names[kind]);
	return 0;
}

/* direct-tcpip from the client (ssh -L, -D, -W, -J): opened upstream
 * first, so that the upstream's policy decides. */
static int open_direct_tcpip(struct connection *p, ssh_message msg)
{
	if (!(p->target.forward & FORWARD_LOCAL)) {
		log_verbose("refused a direct-tcpip channel to %s port %d (allow_tcp_forwarding)",
		            ssh_message_channel_request_open_destination(msg),
		            ssh_message_channel_request_open_destination_port(msg));
		return 1;   /* libssh refuses: administratively prohibited */
	}
	return open_tunnel(p, msg, OPEN_DIRECT_TCPIP);
}

/* tcpip-forward (ssh -R): the upstream listens; with port 0 the port it
 * bound goes back to the client. */
static int forward_remote_port(struct connection *p, ssh_message msg)
{
	const char *address = ssh_message_global_request_address(msg);
	int port = ssh_message_global_request_port(msg), bound = 0, rc;

	if (!(p->target.forward & FORWARD_REMOTE)) {
		log_verbose("refused to forward %s port %d (allow_tcp_forwarding)", address, port);
		return 1;
	}
	if (forwarding.n_listeners >= MAX_LISTENERS) {
		log_info("refused to forward %s port %d: %d ports are forwarded, the most one "
		         "connection may have", address, port, forwarding.n_listeners);
		return 1;
	}
	connection_set_blocking(p->upstream, 1);
	rc = ssh_channel_listen_forward(p->upstream, address, port, &bound);
	connection_set_blocking(p->upstream, 0);
	if (rc != SSH_OK) {
		log_info("upstream refused to listen on %s port %d: %s", address, port,
		         ssh_get_error(p->upstream));
		return 1;
	}
	forwarding.n_listeners++;
	log_verbose("upstream listens on %s port %d for the client", address, port ? port : bound);
	ssh_message_global_request_reply_success(msg, (uint16_t)(port ? port : bound));
	return 0;
}

static int cancel_remote_port(struct connection *p, ssh_message msg)
{
	const char *address = ssh_message_global_request_address(msg);
	int port = ssh_message_global_request_port(msg), rc;

	connection_set_blocking(p->upstream, 1);
	rc = ssh_channel_cancel_forward(p->upstream, address, port);
	connection_set_blocking(p->upstream, 0);
	if (rc != SSH_OK)
		return 1;
	if (forwarding.n_listeners > 0)
		forwarding.n_listeners--;
	ssh_message_global_request_reply_success(msg, 0);
	return 0;
}

int forward_client_message(struct connection *p, ssh_message msg)
{
	int type = ssh_message_type(msg), subtype = ssh_message_subtype(msg);

	if (type == SSH_REQUEST_CHANNEL_OPEN && subtype == SSH_CHANNEL_DIRECT_TCPIP)
		return open_direct_tcpip(p, msg);
	if (type == SSH_REQUEST_GLOBAL && subtype == SSH_GLOBAL_REQUEST_TCPIP_FORWARD)
		return forward_remote_port(p, msg);
	if (type == SSH_REQUEST_GLOBAL && subtype == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD)
		return cancel_remote_port(p, msg);
	return 1; /* keepalives and the rest: libssh's default answer */
}

/* forwarded-tcpip from the upstream (a connection to an ssh -R port):
 * opened toward the client first, so that the client decides. */
static int open_forwarded_tcpip(struct connection *p, ssh_message msg)
{
	return open_tunnel(p, msg, OPEN_FORWARDED_TCPIP);
}

/* What the upstream session gets besides channel traffic. Global requests
 * (sshd's ClientAlive keepalives) get libssh's default answer. */
static int on_upstream_message(ssh_session s, ssh_message msg, void *userdata)
{
	struct connection *p = userdata;

	(void)s;
	if (p->authenticated && ssh_message_type(msg) == SSH_REQUEST_CHANNEL_OPEN &&
	    ssh_message_subtype(msg) == SSH_CHANNEL_FORWARDED_TCPIP)
		return open_forwarded_tcpip(p, msg);
	return 1;
}

/* An agent or X11 channel the upstream opens: its twin is opened toward
 * the client first; the upstream's channel is what libssh then accepts. */
static ssh_channel open_toward_client(struct connection *p, enum open_kind kind,
                                      const char *x11_host, int x11_port)
{
	struct pair *pr;
	int allowed = kind == OPEN_X11 ? FORWARD_X11 : FORWARD_AGENT;

	if (!p->authenticated)
		return NULL;
	if (!(p->target.forward & allowed)) {   /* never asked for: the client was refused */
		log_verbose("refused an %s channel from the upstream", open_kind_names[kind]);
		return NULL;
	}
	pr = open_far_side(p, pending_open_new(kind, x11_host, x11_port, NULL, 0));
	if (pr == NULL)
		return NULL;
	start_pair(p, pr, open_kind_names[kind]);
	return pair_upstream(pr);
}

static ssh_channel on_upstream_agent_open(ssh_session s, void *userdata)
{
	(void)s;
	return open_toward_client(userdata, OPEN_AUTH_AGENT, NULL, 0);
}

static ssh_channel on_upstream_x11_open(ssh_session s, const char *address, int port,
                                        void *userdata)
{
	(void)s;
	return open_toward_client(userdata, OPEN_X11, address, port);
}

static struct ssh_callbacks_struct upstream_session_callbacks = {
	.channel_open_request_auth_agent_function = on_upstream_agent_open,
	.channel_open_request_x11_function = on_upstream_x11_open,
};

void forward_attach_upstream(struct connection *p)
{
	pair_install_opens(forward_open_step, forward_open_abandon);
	upstream_session_callbacks.userdata = p;
	ssh_callbacks_init(&upstream_session_callbacks);
	ssh_set_callbacks(p->upstream, &upstream_session_callbacks);
	ssh_set_message_callback(p->upstream, on_upstream_message, p);
}

