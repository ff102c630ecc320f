/* log.c: log lines to the journal, syslog or stderr.
 *
 * Under inetd and StandardInput=socket, fds 1 and 2 can be the client's
 * socket, so nothing is written there unless -e asked for it. Every line
 * passes through sanitize(): user names and libssh messages come from the
 * network and must not smuggle control characters into a log. */
#include "log.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024
#define FIELD_MAX 300

static int to_stderr;
static int journal_failed;
static int syslog_open;
static enum log_level current_level = LOG_LEVEL_INFO;
static char client_field[FIELD_MAX];
static char user_field[FIELD_MAX];
static char upstream_field[FIELD_MAX];

static const char *const level_names[] = { "error", "info", "verbose", "debug" };

/* Replaces bytes that are not printable ASCII with '?', in place. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static void set_field(char *field, const char *value)
{
	snprintf(field, FIELD_MAX, "%s", value ? value : "");
	sanitize(field);
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
	set_field(client_field, address);
}

void log_set_user(const char *user)
{
	set_field(user_field, user);
}

void log_set_upstream(const char *upstream)
{
	set_field(upstream_field, upstream);
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

static void write_stderr(enum log_level level, const char *line)
{
	fprintf(stderr, "sshroute[%ld]: %s: %s\n", (long)getpid(), level_names[level], line);
	fflush(stderr);
}

static int write_journal(enum log_level level, const char *line)
{
	return sd_journal_send("MESSAGE=%s", line,
	                       "PRIORITY=%d", syslog_priority(level),
	                       "SYSLOG_IDENTIFIER=sshroute",
	                       "SSHROUTE_CLIENT=%s", client_field,
	                       "SSHROUTE_USER=%s", user_field,
	                       "SSHROUTE_UPSTREAM=%s", upstream_field,
	                       NULL);
}

/* Syslog has no fields, so the context goes into the text. */
static void write_syslog(enum log_level level, const char *line)
{
	if (!syslog_open) {
		openlog("sshroute", LOG_PID | LOG_NDELAY, LOG_AUTH);
		syslog_open = 1;
	}
	if (client_field[0])
		syslog(syslog_priority(level), "%s [client %s]", line, client_field);
	else
		syslog(syslog_priority(level), "%s", line);
}

static void write_line(enum log_level level, char *line)
{
	sanitize(line);
	if (to_stderr) {
		write_stderr(level, line);
		return;
	}
	if (!journal_failed && write_journal(level, line) >= 0)
		return;
	journal_failed = 1;
	write_syslog(level, line);
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];

	vsnprintf(line, sizeof(line), fmt, ap);
	write_line(level, line);
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

void die(enum exit_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(code);
}

/* libssh's own lines are debug detail; its buffer already names the
 * function that logged. */
static void libssh_log_line(int priority, const char *function, const char *buffer, void *userdata)
{
	(void)priority, (void)function, (void)userdata;
	log_msg(LOG_LEVEL_DEBUG, "libssh: %s", buffer);
}

void log_route_libssh(void)
{
	ssh_set_log_callback(libssh_log_line);
	ssh_set_log_userdata(NULL);
	/* SSH_LOG_PROTOCOL at most: packet-level tracing would be noise. */
	ssh_set_log_level(current_level >= LOG_LEVEL_DEBUG ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG);
}
