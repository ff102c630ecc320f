/* algorithms.h: the key exchanges sshroute offers and asks for.
 *
 * Post-quantum hybrids come first: libssh 0.12 has them, and OpenSSH 10.1
 * and later warn on every login without one. libssh keeps the names it
 * knows from such a list and drops the rest, so the same list works on
 * libssh 0.10 and 0.11, which then offer what they have; sshroute -V
 * prints what this libssh offers. */
#ifndef SSHROUTE_ALGORITHMS_H
#define SSHROUTE_ALGORITHMS_H

#define KEX_POST_QUANTUM \
	"mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com"

/* Toward clients: modern key exchange only (no NIST curves, no SHA-1, no
 * 2048-bit group: ssh-audit 3 warns on diffie-hellman-group14-sha256). */
#define KEX_SERVER KEX_POST_QUANTUM ",curve25519-sha256,curve25519-sha256@libssh.org," \
	"diffie-hellman-group16-sha512,diffie-hellman-group18-sha512"

/* Toward upstreams: the same preference, then what libssh 0.10 offers by
 * default, so that an upstream without curve25519 still connects. */
#define KEX_UPSTREAM KEX_POST_QUANTUM ",curve25519-sha256,curve25519-sha256@libssh.org," \
	"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," \
	"diffie-hellman-group18-sha512,diffie-hellman-group16-sha512," \
	"diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256"

#endif
