/* log.c: log lines to the journal, syslog or stderr.
 *
 * Under inetd and StandardInput=socket, fds 1 and 2 can be the client's
 * socket, so nothing is written there unless -e asked for it. Every line
 * and field passes through escape(): user names and libssh messages come
 * from the network and must not smuggle control characters into a log.
 * Lines name the client and the user only in the context that ends each
 * of them (context_suffix), never in their text. */
#include "log.h"

#include <ctype.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#define TEXT_MAX 1024
/* Escaping can make text four times longer ("\x1b" for one byte). */
#define ESCAPED_MAX (4 * TEXT_MAX + 1)
#define FIELD_MAX 300
/* A line: the escaped text and the session context (context_suffix). */
#define LINE_MAX_ (ESCAPED_MAX + 3 * FIELD_MAX)
#define RECORD_FIELDS_MAX 20

static int to_stderr;
static int journal_failed;
static int syslog_open;
static enum log_level current_level = LOG_LEVEL_INFO;
static char client_field[FIELD_MAX];
static char user_field[FIELD_MAX];
static int user_known;
static char upstream_field[FIELD_MAX];

static const char *const level_names[] = { "error", "info", "verbose", "debug" };

/* Copies src into dst (size bytes), writing bytes that are not printable
 * ASCII, the backslash and the double quote as \xNN. */
static void escape(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; *src && n + 5 < size; src++) {
		unsigned char c = (unsigned char)*src;

		if (c < 0x20 || c > 0x7e || c == '\\' || c == '"')
			n += (size_t)snprintf(dst + n, size - n, "\\x%02x", c);
		else
			dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

void log_open(int use_stderr)
{
	to_stderr = use_stderr;
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

void log_set_client(const char *address)
{
	escape(client_field, FIELD_MAX, address ? address : "");
}

void log_set_user(const char *user)
{
	user_known = user != NULL;
	escape(user_field, FIELD_MAX, user ? user : "");
}

void log_set_upstream(const char *upstream)
{
	escape(upstream_field, FIELD_MAX, upstream ? upstream : "");
}

static int syslog_priority(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return LOG_ERR;
	case LOG_LEVEL_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

/* The session context that ends every line, on every destination:
 * " [client ADDR port PORT user="NAME"]", each part once it is known.
 * The name is escaped, so it holds no '"': the quotes are unambiguous,
 * and a parser that reads from the end of the line (fail2ban) finds the
 * client address there whatever the name and the text before it hold. */
static void context_suffix(char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	if (!client_field[0] && !user_known)
		return;
	n += (size_t)snprintf(out + n, size - n, " [");
	if (client_field[0])
		n += (size_t)snprintf(out + n, size - n, "client %s%s", client_field,
		                      user_known ? " " : "");
	if (user_known && n < size)
		n += (size_t)snprintf(out + n, size - n, "user=\"%s\"", user_field);
	if (n < size)
		snprintf(out + n, size - n, "]");
}

/* A journal entry: the message, the session's context, and extra fields
 * given as "SSHROUTE_KEY=value" strings. */
static int write_journal(enum log_level level, const char *text, char *const *extra, size_t n_extra)
{
	char message[LINE_MAX_ + 8], priority[16], client[FIELD_MAX + 32], user[FIELD_MAX + 32],
		upstream[FIELD_MAX + 32];
	struct iovec iov[6 + RECORD_FIELDS_MAX];
	size_t n = 0, i;

	snprintf(message, sizeof(message), "MESSAGE=%s", text);
	snprintf(priority, sizeof(priority), "PRIORITY=%d", syslog_priority(level));
	snprintf(client, sizeof(client), "SSHROUTE_CLIENT=%s", client_field);
	snprintf(user, sizeof(user), "SSHROUTE_USER=%s", user_field);
	snprintf(upstream, sizeof(upstream), "SSHROUTE_UPSTREAM=%s", upstream_field);
	iov[n++] = (struct iovec){ message, strlen(message) };
	iov[n++] = (struct iovec){ priority, strlen(priority) };
	iov[n++] = (struct iovec){ "SYSLOG_IDENTIFIER=sshroute", 26 };
	iov[n++] = (struct iovec){ client, strlen(client) };
	iov[n++] = (struct iovec){ user, strlen(user) };
	iov[n++] = (struct iovec){ upstream, strlen(upstream) };
	for (i = 0; i < n_extra && i < RECORD_FIELDS_MAX; i++)
		iov[n++] = (struct iovec){ extra[i], strlen(extra[i]) };
	return sd_journal_sendv(iov, (int)n);
}

/* sd_journal_sendv() reports success when there is no journal at all (it
 * drops the entry without a word), so journald's socket is looked for
 * first: without it, lines go to syslog. */
static int journal_present(void)
{
	static int present = -1;

	if (present < 0)
		present = access("/run/systemd/journal/socket", F_OK) == 0;
	return present;
}

static void write_syslog(enum log_level level, const char *text)
{
	if (!syslog_open) {
		openlog("sshroute", LOG_PID | LOG_NDELAY, LOG_AUTH);
		syslog_open = 1;
	}
	syslog(syslog_priority(level), "%s", text);
}

/* One line on stderr in one write(2): stderr is often a file shared with
 * the process that started sshroute (systemd-socket-activate, xinetd),
 * and glibc 2.37 and later write an unbuffered stream's printf output in
 * pieces, between which that process's own lines landed. */
static void write_stderr_line(enum log_level level, const char *text)
{
	char line[LINE_MAX_ + 64];
	int n = snprintf(line, sizeof(line), "sshroute[%ld]: %s: %s\n", (long)getpid(),
	                 level_names[level], text);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return; /* nowhere left to say so */
}

/* message is escaped already; the session context is appended to it. */
static void write_text(enum log_level level, const char *message, char *const *extra,
                       size_t n_extra)
{
	char text[LINE_MAX_], suffix[2 * FIELD_MAX + 32];

	context_suffix(suffix, sizeof(suffix));
	snprintf(text, sizeof(text), "%s%s", message, suffix);
	if (to_stderr) {
		write_stderr_line(level, text);
		return;
	}
	if (!journal_failed && journal_present() && write_journal(level, text, extra, n_extra) >= 0)
		return;
	journal_failed = 1;
	write_syslog(level, text);
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char raw[TEXT_MAX], text[ESCAPED_MAX];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape(text, sizeof(text), raw);
	write_text(level, text, NULL, 0);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* key=value, with value (escaped already) quoted when it holds a space,
 * so that the line splits back. Returns what snprintf returns. */
static size_t format_pair(char *out, size_t size, const char *key, const char *value)
{
	return (size_t)snprintf(out, size, strchr(value, ' ') ? "%s=\"%s\"" : "%s=%s", key, value);
}

void log_format_field(char *out, size_t size, const char *key, const char *value)
{
	char escaped[FIELD_MAX];

	escape(escaped, sizeof(escaped), value);
	format_pair(out, size, key, escaped);
}

/* "SSHROUTE_KEY=value" for the journal, whose field names are upper case. */
static void journal_field(char *out, size_t size, const char *key, const char *value)
{
	size_t n = (size_t)snprintf(out, size, "SSHROUTE_"), k;

	for (k = 0; key[k] && n + 1 < size; k++)
		out[n++] = (char)toupper((unsigned char)key[k]);
	snprintf(out + n, size - n, "=%s", value);
}

void log_record(enum log_level level, const char *message, const struct log_field *fields,
                size_t n)
{
	static char field_text[RECORD_FIELDS_MAX][FIELD_MAX + 48];
	char text[ESCAPED_MAX], value[FIELD_MAX], *extra[RECORD_FIELDS_MAX] = { NULL };
	size_t len, i;

	if (level > current_level)
		return;
	len = (size_t)snprintf(text, sizeof(text), "%s", message);
	for (i = 0; i < n && i < RECORD_FIELDS_MAX; i++) {
		escape(value, sizeof(value), fields[i].value);
		if (len < sizeof(text))
			len += (size_t)snprintf(text + len, sizeof(text) - len, " ");
		if (len < sizeof(text))
			len += format_pair(text + len, sizeof(text) - len, fields[i].key, value);
		journal_field(field_text[i], sizeof(field_text[i]), fields[i].key, value);
		extra[i] = field_text[i];
	}
	write_text(level, text, extra, i);
}

void die(enum exit_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(code);
}

static libssh_line_fn libssh_watch;

/* libssh's own lines are debug detail; its buffer already names the
 * function that logged. Some things libssh tells only here (see
 * log_route_libssh), so the watcher sees every line first. */
static void libssh_log_line(int priority, const char *function, const char *buffer, void *userdata)
{
	(void)priority; (void)userdata;
	if (libssh_watch)
		libssh_watch(function, buffer);
	if (current_level >= LOG_LEVEL_DEBUG)
		log_msg(LOG_LEVEL_DEBUG, "libssh: %s", buffer);
}

void log_route_libssh(libssh_line_fn watch)
{
	libssh_watch = watch;
	ssh_set_log_callback(libssh_log_line);
	ssh_set_log_userdata(NULL);
	/* SSH_LOG_PROTOCOL at most: packet-level tracing would be noise. The
	 * watcher needs these lines even when they are not logged; they come
	 * per request and per channel, never per data packet. */
	ssh_set_log_level(current_level >= LOG_LEVEL_DEBUG || watch ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG);
}
