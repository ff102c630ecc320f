/* log.h: the one place that writes log lines and the one place that maps
 * failures to exit codes. */
#ifndef SSHROUTE_LOG_H
#define SSHROUTE_LOG_H

#include <stddef.h>

/* route.ini's log_level; -v raises it. */
enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_INFO, LOG_LEVEL_VERBOSE, LOG_LEVEL_DEBUG };

/* Exit codes: fixed, documented in sshroute(8). */
enum exit_code {
	EXIT_OK = 0,         /* session ended normally; -t, -T, -V succeeded */
	EXIT_NO_ROUTE = 1,   /* -T: the user has no route */
	EXIT_USAGE = 2,      /* bad command line */
	EXIT_CONFIG = 3,     /* route.ini is not usable */
	EXIT_NOT_SOCKET = 4, /* not started on a connected stream socket */
	EXIT_CLIENT = 5,     /* the client failed before the relay */
	EXIT_UPSTREAM = 6,   /* the upstream is unavailable */
	EXIT_INTERNAL = 7,   /* out of memory, libssh failure */
};

/* Where log lines go: the journal (falling back to syslog), or stderr. */
void log_open(int to_stderr);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Session context, sent as structured journal fields with every line;
 * the client and the user also end every line's text, on every
 * destination: " [client ADDR port PORT user="NAME"]", each part once it
 * is set, NAME escaped. Log lines name the client's user only there.
 * address is "ADDR port PORT"; user NULL means not known yet. */
void log_set_client(const char *address);
void log_set_user(const char *user);
void log_set_upstream(const char *upstream);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_LEVEL_VERBOSE, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* One field of a structured record: key in lower case ("user"); in the
 * journal it becomes SSHROUTE_USER. */
struct log_field {
	const char *key;
	const char *value;
};

/* Logs message with fields: journal fields, or " key=value" pairs appended
 * to the text on stderr and syslog. Values are escaped like every line. */
void log_record(enum log_level level, const char *message, const struct log_field *fields,
                size_t n);

/* key=value as a record shows it (value escaped, quoted when it holds a
 * space), into out (size bytes, truncated to fit). */
void log_format_field(char *out, size_t size, const char *key, const char *value);

/* Logs an error line and exits with code. */
void die(enum exit_code code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Sends libssh's own log lines through log_msg (at debug), and each of them
 * to watch first when it is not NULL: libssh 0.10 tells some things only
 * in its log. function is the libssh function that logged; line starts
 * with its name. */
typedef void (*libssh_line_fn)(const char *function, const char *line);
void log_route_libssh(libssh_line_fn watch);

#endif
