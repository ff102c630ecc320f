/* keys.h: client public keys listed in OpenSSH authorized_keys files. */
#ifndef SSHROUTE_KEYS_H
#define SSHROUTE_KEYS_H

#include <libssh/libssh.h>

/* Looks for key in an OpenSSH authorized_keys file. Returns 1 when it is
 * listed, 0 when not or when the file cannot be read (logged with
 * log_error). Blank lines and # comments are skipped; a line that starts
 * with options (anything that is not a key type name libssh knows) is
 * refused with a log_info line naming file:line, never matched; malformed
 * lines are logged and skipped. Lines of any length work. */
int authorized_keys_match(const char *path, const ssh_key key);

#endif
