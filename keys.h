/* keys.h: the key files sshroute trusts, and client public keys listed in
 * OpenSSH authorized_keys files. */
#ifndef SSHROUTE_KEYS_H
#define SSHROUTE_KEYS_H

#include <stddef.h>
#include <sys/stat.h>

#include <libssh/libssh.h>

/* sshd's StrictModes rule (OpenSSH's safe_path): the file at path (st: its
 * stat, e.g. from fstat of the open file, or NULL to stat it) and every
 * directory above its real path up to / are owned by root or by the user
 * sshroute runs as, and none is writable by group or others (a sticky
 * directory such as /tmp included). Returns 0 when path may be trusted,
 * else -1 with why set to the first offence and its fix, e.g. "directory
 * /x is writable by group or others; chmod go-w /x". */
int key_file_is_trusted(const char *path, const struct stat *st, char *why, size_t size);

/* A private key file (st: its stat) that only sshroute can read: no
 * permission for group or others, as sshd wants. One exception: a file in
 * $CREDENTIALS_DIRECTORY, where systemd's LoadCredential= puts it, read-only
 * and readable by the service's own group (mode 0440 or 0400, group root or
 * sshroute's own). Returns 0, or -1 with why set, e.g. "readable by group or
 * others (mode 0644; chmod 600)". */
int key_file_is_private(const char *path, const struct stat *st, char *why, size_t size);

/* Looks for key in an OpenSSH authorized_keys file. Returns 1 when it is
 * listed, 0 when not or when the file cannot be read or is not trusted
 * (key_file_is_trusted; logged with log_error). Blank lines and # comments are skipped; a line that starts
 * with options (anything that is not a key type name libssh knows) is
 * refused with a log_info line naming file:line, never matched; malformed
 * lines are logged and skipped. Lines of any length work. */
int authorized_keys_match(const char *path, const ssh_key key);

/* Called once per problem with a marker line of known_hosts: its line
 * number and a message. */
typedef void (*known_hosts_report_fn)(int line, const char *message, void *ctx);

/* libssh 0.10 skips known_hosts lines with a marker. Reports those that
 * sshroute cannot honour: @cert-authority (host certificates are not
 * supported), unknown markers, and @revoked lines without a usable key.
 * Returns the number of reports, or -1 when the file cannot be read. */
int known_hosts_check_markers(const char *path, known_hosts_report_fn report, void *ctx);

/* The line of the first @revoked line in known_hosts path whose host
 * patterns match host and port, as OpenSSH matches them ("host" for port
 * 22, "[host]:port" otherwise; * and ? wildcards, ! negation, |1| hashed
 * names), and whose key is key. 0 when there is none, -1 when the file
 * cannot be read. */
int known_hosts_revoked(const char *path, const char *host, int port, const ssh_key key);

/* What known_hosts says of a host's key, best first. */
enum known_host {
	KNOWN_HOST_OK,          /* a line lists this very key */
	KNOWN_HOST_CHANGED,     /* lines list another key of the same type */
	KNOWN_HOST_OTHER_TYPE,  /* lines list keys of other types only */
	KNOWN_HOST_NOT_FOUND,   /* no line names the host */
	KNOWN_HOST_ERROR,       /* the file cannot be read */
};

/* Looks up host and port in known_hosts path, as OpenSSH does: the lines
 * without a marker whose host patterns match ("host" for port 22,
 * "[host]:port" otherwise; * and ? wildcards, ! negation, |1| hashed
 * names). A line of a key type this libssh cannot read (ssh-keyscan of
 * OpenSSH 10.1 and later lists ssh-mldsa44-ed25519) lists another type.
 * Sets *line to the line of the verdict (0 when none). @revoked lines are
 * known_hosts_revoked's. */
enum known_host known_hosts_find(const char *path, const char *host, int port,
                                 const ssh_key key, int *line);

/* 1 when some line of known_hosts path lists host and port, 0 when none
 * does, -1 when the file cannot be read. */
int known_hosts_lists(const char *path, const char *host, int port);

/* Decodes base64 text of len characters (no line breaks) into out (size
 * bytes). Returns the length, -1 when it is not base64 or does not fit. */
int base64_decode(const char *text, size_t len, unsigned char *out, size_t size);

/* A fresh ed25519 key pair, on any libssh: SSH_OK or SSH_ERROR. */
int key_generate_ed25519(ssh_key *key);

#endif
