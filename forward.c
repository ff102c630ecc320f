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
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "log.h"
#include "pair.h"

/* How long a new tunnel may hold up the connection while the far side
 * decides: most refusals (AllowTcpForwarding, PermitOpen, a closed port)
 * come back in milliseconds and are passed on as refusals. A far side
 * that takes longer (a target that drops SYNs) gets the channel accepted
 * anyway; the open goes on in the background (pair_open_pending) and a
 * late refusal closes the channel. */
#define OPEN_WAIT_MS 1000

/* A far-side open still waiting for its answer: what it needs to ask
 * libssh again. */
struct pending_open {
	int toward_client;   /* a forwarded-tcpip channel to the client */
	char *host, *origin;
	int port, origin_port;
};

static void pending_open_free(struct pending_open *po)
{
	if (po == NULL)
		return;
	free(po->host);
	free(po->origin);
	free(po);
}

static struct pending_open *pending_open_new(int toward_client, ssh_message msg)
{
	struct pending_open *po = calloc(1, sizeof(*po));

	if (po == NULL)
		return NULL;
	po->toward_client = toward_client;
	po->host = strdup(ssh_message_channel_request_open_destination(msg));
	po->origin = strdup(ssh_message_channel_request_open_originator(msg));
	po->port = ssh_message_channel_request_open_destination_port(msg);
	po->origin_port = ssh_message_channel_request_open_originator_port(msg);
	if (po->host == NULL || po->origin == NULL) {
		pending_open_free(po);
		return NULL;
	}
	return po;
}

/* Asks the far side (nonblocking): SSH_OK, SSH_AGAIN or SSH_ERROR. */
static int retry_open(struct pair *pr, const struct pending_open *po)
{
	if (po->toward_client)
		return ssh_channel_open_reverse_forward(pair_client(pr), po->host, po->port,
		                                        po->origin, po->origin_port);
	return ssh_channel_open_forward(pair_upstream(pr), po->host, po->port, po->origin,
	                                po->origin_port);
}

/* Waits up to wait_ms for the far side's answer. */
static int first_answer(struct pair *pr, const struct pending_open *po, ssh_session far,
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

void forward_open_abandon(struct pending_open *po)
{
	pending_open_free(po);
}

int forward_open_step(struct pair *pr, struct pending_open *po)
{
	int rc = retry_open(pr, po);

	if (rc == SSH_ERROR)
		log_info("the %s refused a %s channel to %s port %d, after accepting its twin",
		         po->toward_client ? "client" : "upstream",
		         po->toward_client ? "forwarded-tcpip" : "direct-tcpip", po->host, po->port);
	if (rc != SSH_AGAIN)
		pending_open_free(po);
	return rc;
}

/* Opens a tunnel's channel on the far side, then accepts msg's channel on
 * the near side. Returns 1 to have libssh refuse msg. */
static int open_tunnel(struct proxy *p, ssh_message msg, int toward_client)
{
	ssh_session far = toward_client ? p->client : p->upstream;
	struct pending_open *po = pending_open_new(toward_client, msg);
	struct pair *pr = po ? pair_with_channels(p) : NULL;
	const char *kind = toward_client ? "forwarded-tcpip" : "direct-tcpip";
	int rc;

	if (pr == NULL) {
		pending_open_free(po);
		return 1;
	}
	/* A forwarded-tcpip open comes from inside the upstream's callback,
	 * where the upstream cannot be read: waiting there would stall any
	 * session the client opens meanwhile (it needs the upstream's
	 * answer). So the client's answer is not waited for. */
	set_blocking(far, 0);
	rc = first_answer(pr, po, far, toward_client ? 0 : OPEN_WAIT_MS);
	if (rc == SSH_ERROR) {
		log_info("the %s refused a %s channel to %s port %d: %s",
		         toward_client ? "client" : "upstream", kind, po->host, po->port,
		         ssh_get_error(far));
		pending_open_free(po);
		pair_free(pr);
		return 1;
	}
	if (ssh_message_channel_request_open_reply_accept_channel(
		    msg, toward_client ? pair_upstream(pr) : pair_client(pr)) != SSH_OK) {
		pending_open_free(po);
		pair_free(pr);
		return 0;
	}
	log_verbose("%s channel to %s port %d%s", kind, po->host, po->port,
	            rc == SSH_AGAIN ? ": the far side has not answered yet" : "");
	if (rc == SSH_AGAIN)
		pair_open_pending(pr, po, toward_client);
	else
		pending_open_free(po);
	start_pair(p, pr, kind);
	return 0;
}

/* direct-tcpip from the client (ssh -L, -D, -W, -J): opened upstream
 * first, so that the upstream's policy decides. */
static int open_direct_tcpip(struct proxy *p, ssh_message msg)
{
	return open_tunnel(p, msg, 0);
}

/* tcpip-forward (ssh -R): the upstream listens; with port 0 the port it
 * bound goes back to the client. */
static int forward_remote_port(struct proxy *p, ssh_message msg)
{
	const char *address = ssh_message_global_request_address(msg);
	int port = ssh_message_global_request_port(msg), bound = 0, rc;

	set_blocking(p->upstream, 1);
	rc = ssh_channel_listen_forward(p->upstream, address, port, &bound);
	set_blocking(p->upstream, 0);
	if (rc != SSH_OK) {
		log_info("upstream refused to listen on %s port %d: %s", address, port,
		         ssh_get_error(p->upstream));
		return 1;
	}
	log_verbose("upstream listens on %s port %d for the client", address, port ? port : bound);
	ssh_message_global_request_reply_success(msg, (uint16_t)(port ? port : bound));
	return 0;
}

static int cancel_remote_port(struct proxy *p, ssh_message msg)
{
	const char *address = ssh_message_global_request_address(msg);
	int port = ssh_message_global_request_port(msg), rc;

	set_blocking(p->upstream, 1);
	rc = ssh_channel_cancel_forward(p->upstream, address, port);
	set_blocking(p->upstream, 0);
	if (rc != SSH_OK)
		return 1;
	ssh_message_global_request_reply_success(msg, 0);
	return 0;
}

int forward_client_message(struct proxy *p, ssh_message msg)
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
static int open_forwarded_tcpip(struct proxy *p, ssh_message msg)
{
	return open_tunnel(p, msg, 1);
}

/* What the upstream session gets besides channel traffic. Global requests
 * (sshd's ClientAlive keepalives) get libssh's default answer. */
static int on_upstream_message(ssh_session s, ssh_message msg, void *userdata)
{
	struct proxy *p = userdata;

	(void)s;
	if (p->authenticated && ssh_message_type(msg) == SSH_REQUEST_CHANNEL_OPEN &&
	    ssh_message_subtype(msg) == SSH_CHANNEL_FORWARDED_TCPIP)
		return open_forwarded_tcpip(p, msg);
	return 1;
}

/* An agent or X11 channel the upstream opens: its twin is opened toward
 * the client first; the upstream's channel is what libssh then accepts. */
static ssh_channel open_toward_client(struct proxy *p, const char *kind, const char *x11_address,
                                      int x11_port)
{
	struct pair *pr;
	int rc;

	if (!p->authenticated || (pr = pair_with_channels(p)) == NULL)
		return NULL;
	set_blocking(p->client, 1);
	rc = x11_address ? ssh_channel_open_x11(pair_client(pr), x11_address, x11_port)
	                 : ssh_channel_open_auth_agent(pair_client(pr));
	set_blocking(p->client, 0);
	if (rc != SSH_OK) {
		log_info("client refused an %s channel", kind);
		pair_free(pr);
		return NULL;
	}
	start_pair(p, pr, kind);
	return pair_upstream(pr);
}

static ssh_channel on_upstream_agent_open(ssh_session s, void *userdata)
{
	(void)s;
	return open_toward_client(userdata, "auth-agent", NULL, 0);
}

static ssh_channel on_upstream_x11_open(ssh_session s, const char *address, int port,
                                        void *userdata)
{
	(void)s;
	return open_toward_client(userdata, "x11", address ? address : "", port);
}

static struct ssh_callbacks_struct upstream_session_callbacks = {
	.channel_open_request_auth_agent_function = on_upstream_agent_open,
	.channel_open_request_x11_function = on_upstream_x11_open,
};

void forward_attach_upstream(struct proxy *p)
{
	upstream_session_callbacks.userdata = p;
	ssh_callbacks_init(&upstream_session_callbacks);
	ssh_set_callbacks(p->upstream, &upstream_session_callbacks);
	ssh_set_message_callback(p->upstream, on_upstream_message, p);
}

