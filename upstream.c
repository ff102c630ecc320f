/* upstream.c: connect to the upstream and check who it is.
 *
 * Host keys are checked against the known_hosts file of route.ini and
 * nothing else: no ~/.ssh, no /etc/ssh/ssh_known_hosts, no ssh_config, and
 * never trust on first use. keys.c reads that file, not libssh, which
 * skips @revoked lines and fails on a key type it does not know: a revoked
 * key is refused first, then the key must be listed for the host. */
#include "upstream.h"

#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "algorithms.h"
#include "keys.h"
#include "log.h"

/* An identity file larger than this is not a key (a 16384-bit RSA key is
 * about 13 KB). */
#define IDENTITY_FILE_MAX (64L * 1024)

/* On the upstream leg sshroute is the client and picks the cipher: with
 * AES-NI, AES-GCM costs less CPU per byte than chacha20-poly1305. */
static const char upstream_ciphers[] = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
                                       "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr";

/* The session's target and known_hosts, and nothing from ssh_config. */
static int set_host(ssh_session s, const struct config *cfg, const struct upstream_host *h)
{
	int no = 0;
	unsigned int port = (unsigned int)h->port;

	/* PROCESS_CONFIG first: HOST would otherwise read ssh_config files. */
	return ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_HOST, h->host) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_PORT, &port) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, cfg->known_hosts) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, cfg->known_hosts) < 0 ? -1 : 0;
}

/* connect_timeout bounds the connection and its key exchange;
 * UPSTREAM_TIMEOUT every exchange after that. */
static int set_timeout(ssh_session s, int seconds)
{
	long timeout = seconds;

	return ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
}

static int set_options(ssh_session s, const struct config *cfg, const struct route_target *t,
                       const struct upstream_host *h)
{
	int yes = 1;

	return set_host(s, cfg, h) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_USER, t->user) < 0 ||
	       set_timeout(s, t->connect_timeout) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_KEY_EXCHANGE, KEX_UPSTREAM) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_CIPHERS_C_S, upstream_ciphers) < 0 ||
	       ssh_options_set(s, SSH_OPTIONS_CIPHERS_S_C, upstream_ciphers) < 0 ? -1 : 0;
}

/* The SHA256 fingerprint of the key the upstream showed, for the log. */
static char *presented_fingerprint(ssh_session s)
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t len = 0;
	char *fp = NULL;

	if (ssh_get_server_publickey(s, &key) == SSH_OK &&
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) == 0)
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return fp;
}

static const char *key_type_shown(ssh_session s)
{
	ssh_key key = NULL;
	const char *name = "unknown";

	if (ssh_get_server_publickey(s, &key) == SSH_OK)
		name = ssh_key_type_to_char(ssh_key_type(key));
	ssh_key_free(key);
	return name;
}

/* Returns 0 when no @revoked line of known_hosts lists the key the
 * upstream presented, as OpenSSH's ssh refuses such keys. */
static int check_not_revoked(ssh_session s, const struct config *cfg,
                             const struct upstream_host *t, const char *where)
{
	ssh_key key = NULL;
	char *fp;
	int line;

	if (ssh_get_server_publickey(s, &key) != SSH_OK) {
		log_error("cannot get the host key of upstream %s: %s", where, ssh_get_error(s));
		return -1;
	}
	line = known_hosts_revoked(cfg->known_hosts, t->host, t->port, key);
	ssh_key_free(key);
	if (line == 0)
		return 0;
	if (line < 0) {
		log_error("cannot read %s to check the host key of upstream %s: connection refused",
		          cfg->known_hosts, where);
		return -1;
	}
	fp = presented_fingerprint(s);
	log_error("upstream %s presented a REVOKED host key (listed @revoked in %s line %d; "
	          "%s key %s): connection refused", where, cfg->known_hosts, line,
	          key_type_shown(s), fp ? fp : "?");
	ssh_string_free_char(fp);
	return -1;
}

/* Returns 0 when the upstream's host key is the one in known_hosts. */
static int verify_host_key(ssh_session s, const struct config *cfg,
                           const struct upstream_host *t, const char *where)
{
	enum known_host state = KNOWN_HOST_ERROR;
	ssh_key key = NULL;
	char *fp;
	int line = 0;

	if (ssh_get_server_publickey(s, &key) != SSH_OK) {
		log_error("cannot get the host key of upstream %s: %s", where, ssh_get_error(s));
		return -1;
	}
	state = known_hosts_find(cfg->known_hosts, t->host, t->port, key, &line);
	ssh_key_free(key);
	if (state == KNOWN_HOST_OK)
		return 0;
	fp = presented_fingerprint(s);
	switch (state) {
	case KNOWN_HOST_CHANGED:
		log_error("upstream host key for %s does not match %s line %d (%s key %s): "
		          "POSSIBLE MAN-IN-THE-MIDDLE ATTACK, connection refused; if the key "
		          "really changed, check the new key with the upstream's administrator, "
		          "remove the old line (ssh-keygen -R HOST -f %s) and add the new one",
		          where, cfg->known_hosts, line, key_type_shown(s), fp ? fp : "?",
		          cfg->known_hosts);
		break;
	case KNOWN_HOST_OTHER_TYPE:
		log_error("upstream %s showed a %s host key (%s) but %s holds keys of "
		          "other types only for it (line %d): POSSIBLE MAN-IN-THE-MIDDLE ATTACK, "
		          "connection refused", where, key_type_shown(s), fp ? fp : "?",
		          cfg->known_hosts, line);
		break;
	case KNOWN_HOST_NOT_FOUND:
		log_error("upstream host key for %s is not in %s (%s key %s): connection refused",
		          where, cfg->known_hosts, key_type_shown(s), fp ? fp : "?");
		break;
	default:
		log_error("cannot read %s to check the host key of upstream %s: connection refused",
		          cfg->known_hosts, where);
		break;
	}
	ssh_string_free_char(fp);
	return -1;
}

/* What one attempt found. */
enum attempt {
	ATTEMPT_OK,
	ATTEMPT_UNREACHABLE,   /* refused, unreachable, no answer in time, no key exchange */
	ATTEMPT_REFUSED,       /* its host key is unknown, changed or revoked: no failover */
};

static enum attempt try_upstream(const struct config *cfg, const struct route_target *t,
                                 const struct upstream_host *h, ssh_session *out)
{
	char where[ROUTE_HOST_MAX + 16];
	ssh_session s = ssh_new();
	enum attempt result = ATTEMPT_UNREACHABLE;

	snprintf(where, sizeof(where), "%s port %d", h->host, h->port);
	if (s == NULL || set_options(s, cfg, t, h) < 0) {
		log_error("cannot set up the upstream session for %s: %s", where,
		          s ? ssh_get_error(s) : "out of memory");
	} else if (ssh_connect(s) != SSH_OK) {
		log_error("cannot connect to upstream %s: %s", where, ssh_get_error(s));
	} else if (check_not_revoked(s, cfg, h, where) < 0 || verify_host_key(s, cfg, h, where) < 0) {
		result = ATTEMPT_REFUSED;
	} else if (set_timeout(s, UPSTREAM_TIMEOUT) < 0) {
		log_error("cannot set up the upstream session for %s: %s", where, ssh_get_error(s));
	} else {
		log_verbose("connected to upstream %s", where);
		*out = s;
		return ATTEMPT_OK;
	}
	if (s) {
		ssh_disconnect(s);
		ssh_free(s);
	}
	return result;
}

ssh_session upstream_connect(const struct config *cfg, struct route_target *t)
{
	ssh_session s = NULL;
	size_t i;

	for (i = 0; i < t->n_hosts; i++) {
		if (t->n_hosts > 1)
			log_info("trying upstream %s port %d (%zu of %zu)", t->hosts[i].host,
			         t->hosts[i].port, i + 1, t->n_hosts);
		switch (try_upstream(cfg, t, &t->hosts[i], &s)) {
		case ATTEMPT_OK:
			memcpy(t->host, t->hosts[i].host, sizeof(t->host));
			t->port = t->hosts[i].port;
			return s;
		case ATTEMPT_REFUSED:
			if (i + 1 < t->n_hosts)
				log_error("not trying the other upstreams: a host key problem may be an "
				          "attack, never a reason to fail over");
			return NULL;
		case ATTEMPT_UNREACHABLE:
			break;
		}
	}
	if (t->n_hosts > 1)
		log_error("none of the %zu upstreams answered", t->n_hosts);
	return NULL;
}

int upstream_known(const struct config *cfg, const struct upstream_host *h)
{
	return known_hosts_lists(cfg->known_hosts, h->host, h->port);
}

int upstream_auth_none(ssh_session upstream, int *methods)
{
	int rc = ssh_userauth_none(upstream, NULL);

	*methods = rc == SSH_AUTH_SUCCESS ? 0 : ssh_userauth_list(upstream, NULL);
	return rc;
}

int upstream_auth_password(ssh_session upstream, const char *password)
{
	return ssh_userauth_password(upstream, NULL, password);
}

/* The identity file's text, read without stdio's buffer (which nobody
 * wipes) into one that the caller wipes; NULL when it cannot be read. */
static char *read_identity(const char *path, size_t *size)
{
	struct stat st;
	char *text = NULL;
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= IDENTITY_FILE_MAX && (text = calloc(1, (size_t)st.st_size + 1)) != NULL) {
		*size = (size_t)st.st_size + 1;
		n = read(fd, text, (size_t)st.st_size);
	}
	if (fd >= 0)
		close(fd);
	if (text != NULL && n != (ssize_t)st.st_size) {
		OPENSSL_clear_free(text, *size);
		text = NULL;
	}
	return text;
}

/* The identity is read here, after the client logged in, and wiped at
 * once; the key is freed after its one use. */
int upstream_auth_identity(ssh_session upstream, const char *path)
{
	size_t size = 0;
	char *text = path ? read_identity(path, &size) : NULL;
	ssh_key key = NULL;
	int rc = SSH_AUTH_ERROR;

	if (text != NULL && ssh_pki_import_privkey_base64(text, NULL, NULL, NULL, &key) == SSH_OK)
		rc = ssh_userauth_publickey(upstream, NULL, key);
	else
		log_error("cannot load the identity %s for the upstream", path ? path : "(none)");
	if (text != NULL)
		OPENSSL_clear_free(text, size);
	ssh_key_free(key);
	return rc;
}

int upstream_auth_key(ssh_session upstream, ssh_key key)
{
	return ssh_userauth_publickey(upstream, NULL, key);
}

int upstream_local_address(ssh_session upstream, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = ssh_get_fd(upstream);
	char *scope;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
		return -1;
	scope = strchr(out, '%');   /* an IPv6 scope: not part of an address list */
	if (scope != NULL)
		*scope = '\0';
	return 0;
}

int upstream_methods_left(ssh_session upstream)
{
	return ssh_userauth_list(upstream, NULL);
}
