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

#include "forward.h"
#include "log.h"
#include "pair.h"

/* direct-tcpip from the client (ssh -L, -D, -W, -J): opened upstream
 * first, so that the upstream's policy decides. Returns 1 to have libssh
 * refuse the channel. */
static int open_direct_tcpip(struct proxy *p, ssh_message msg)
{
	const char *host = ssh_message_channel_request_open_destination(msg);
	int port = ssh_message_channel_request_open_destination_port(msg);
	struct pair *pr = pair_with_channels(p);
	int rc;

	if (pr == NULL)
		return 1;
	set_blocking(p->upstream, 1);
	rc = ssh_channel_open_forward(pair_upstream(pr), host, port,
	                              ssh_message_channel_request_open_originator(msg),
	                              ssh_message_channel_request_open_originator_port(msg));
	set_blocking(p->upstream, 0);
	if (rc != SSH_OK) {
		log_info("upstream refused a tunnel to %s port %d: %s", host, port,
		         ssh_get_error(p->upstream));
		pair_free(pr);
		return 1;
	}
	if (ssh_message_channel_request_open_reply_accept_channel(msg, pair_client(pr)) != SSH_OK) {
		pair_free(pr);
		return 0;
	}
	log_verbose("tunnel to %s port %d", host, port);
	start_pair(p, pr, "direct-tcpip");
	return 0;
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
	struct pair *pr = pair_with_channels(p);
	int rc;

	if (pr == NULL)
		return 1;
	set_blocking(p->client, 1);
	rc = ssh_channel_open_reverse_forward(pair_client(pr),
	                                      ssh_message_channel_request_open_destination(msg),
	                                      ssh_message_channel_request_open_destination_port(msg),
	                                      ssh_message_channel_request_open_originator(msg),
	                                      ssh_message_channel_request_open_originator_port(msg));
	set_blocking(p->client, 0);
	if (rc != SSH_OK ||
	    ssh_message_channel_request_open_reply_accept_channel(msg, pair_upstream(pr)) != SSH_OK) {
		log_info("client refused a connection to a forwarded port");
		pair_free(pr);
		return rc != SSH_OK;
	}
	start_pair(p, pr, "forwarded-tcpip");
	return 0;
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

