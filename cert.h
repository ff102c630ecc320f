/* cert.h: sshroute as a small SSH certificate authority. A route with
 * certificate_authority logs in upstream with a fresh key and a
 * short-lived OpenSSH user certificate for it, made per connection. */
#ifndef SSHROUTE_CERT_H
#define SSHROUTE_CERT_H

#include <stddef.h>

#include <libssh/libssh.h>

/* certificate_validity: the default and the limits, in seconds. The
 * certificate is valid from CERT_SKEW seconds before it is made, for
 * upstreams whose clock is a little behind. */
#define CERT_VALIDITY_DEFAULT 120
#define CERT_VALIDITY_MIN 10
#define CERT_VALIDITY_MAX 3600
#define CERT_SKEW 60

/* A CA private key, ready to sign. */
struct ca;

/* Reads the CA's private key at path: an unencrypted OpenSSH private key
 * file (what ssh-keygen writes) of type ed25519, ecdsa (nistp256, 384 or
 * 521) or rsa. Returns NULL with why (size bytes) set to the reason. The
 * caller checks the file's mode and owner first. */
struct ca *ca_load(const char *path, char *why, size_t size);
void ca_free(struct ca *ca);

/* "ED25519", "ECDSA" or "RSA", and "SHA256:..." as ssh-keygen -l shows. */
const char *ca_type(const struct ca *ca);
const char *ca_fingerprint(const struct ca *ca);

/* What one certificate says. */
struct cert_request {
	const char *principal;       /* the upstream user: the only principal */
	const char *key_id;          /* who and where the client is */
	const char *source_address;  /* the address the upstream sees us at */
	int validity;                /* seconds after now */
	int permit_port_forwarding;  /* the extensions that follow the route's */
	int permit_agent_forwarding; /* forwarding switches; permit-pty and */
	int permit_x11_forwarding;   /* permit-user-rc are always there */
};

/* Makes a fresh ed25519 key and a user certificate for it, signed by ca,
 * and checks the certificate by importing it with libssh. Returns the
 * private key with the certificate attached (for ssh_userauth_publickey),
 * and its serial in *serial; NULL after logging why. */
ssh_key cert_issue(const struct ca *ca, const struct cert_request *req,
                   unsigned long long *serial);

#endif
