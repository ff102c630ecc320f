/* config.c: reads route.ini into a struct config and finds the route for a
 * user name.
 *
 * inih does the tokenising. Our own reader feeds it one physical line at a
 * time, so that we know the line number of every key (Debian's inih gives
 * the handler none), and it notes section headers itself, so that two
 * sections with the same name, or a section without any key, are seen too.
 * Every problem is collected with its line and handed to the caller sorted
 * by line once the whole file has been read.
 *
 * A route may hand the decision to a lookup program (lookup.c runs it).
 * Its answer is a few route keys; we read it line by line ourselves (it is
 * a string, not a file) but check each value with the very setters that
 * route.ini's keys go through. */
#include "config.h"
#include "cert.h"
#include "keys.h"
#include "record.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <ini.h>
#include <libssh/libssh.h>

#define DEFAULT_MAX_AUTH_TRIES 6
#define DEFAULT_MAX_SESSIONS 10
#define DEFAULT_MAX_CHANNELS 64

enum section_kind {
	SECTION_NONE,     /* before the first header */
	SECTION_SERVER,
	SECTION_ROUTE,
	SECTION_IGNORED,  /* a bad header: its keys are skipped, it was reported */
};

enum server_key { KEY_HOST_KEY, KEY_KNOWN_HOSTS, KEY_SERVER_IDENTITY, KEY_LOGIN_GRACE_TIME,
	KEY_MAX_AUTH_TRIES, KEY_LOG_LEVEL, KEY_PROXY_PROTOCOL, KEY_IDLE_TIMEOUT, KEY_MAX_SESSIONS,
	KEY_MAX_CHANNELS,
	KEY_SERVER_CA, KEY_SERVER_CERT_VALIDITY, KEY_RECORD_DIR, KEY_RECORD_MAX_SIZE,
	KEY_RECORD_KEEP_FREE, KEY_SERVER_MAX_SESSION_TIME, KEY_SERVER_TCP_FORWARDING, KEY_SERVER_AGENT_FORWARDING,
	KEY_SERVER_X11_FORWARDING, KEY_SERVER_CONNECT_TIMEOUT, N_SERVER_KEYS };
/* The keys a lookup answer may set come first: route_keys[0..N_ANSWER_KEYS)
 * are the answer's keys. */
enum route_key { KEY_UPSTREAM, KEY_USER, KEY_AUTHORIZED_KEYS, KEY_IDENTITY, KEY_AUTH,
	KEY_LOOKUP, KEY_LOOKUP_TIMEOUT, KEY_CA, KEY_CERT_VALIDITY, KEY_RECORD, KEY_RECORD_INPUT,
	KEY_MAX_SESSION_TIME, KEY_TCP_FORWARDING, KEY_AGENT_FORWARDING, KEY_X11_FORWARDING,
	KEY_BALANCE, KEY_CONNECT_TIMEOUT, N_ROUTE_KEYS };
#define N_ANSWER_KEYS (KEY_IDENTITY + 1)

struct problem {
	int line;      /* 0: about the whole file */
	size_t seq;    /* order of discovery, to keep the sort stable */
	char *text;    /* "file:line: message" */
};

struct parser {
	const char *path;
	const char *answer_user;  /* reading a lookup answer for this user, not path */
	FILE *fp;
	struct config *cfg;
	char *buf;                /* getline buffer */
	size_t bufsize;
	int lineno;               /* physical line last handed to inih */
	int pending_key_line;     /* a key line inih has not passed to on_key yet */
	enum section_kind section;
	int server_line;          /* first [server] header, 0 when none */
	int server_key_line[N_SERVER_KEYS];  /* first line of each key */
	int n_route_sections;
	struct route draft;       /* the [route NAME] being read */
	int draft_is_duplicate;
	int route_key_line[N_ROUTE_KEYS];
	size_t *keyed_routes;     /* routes with authorized_keys but no identity or */
	size_t n_keyed_routes;    /* CA of their own: they need the [server] one */
	struct problem *problems;
	size_t n_problems;
	size_t lost_problems;     /* could not be stored: out of memory */
	int read_errno;           /* errno of the getline that ended the file */
};

struct key_def {
	const char *name;
	int repeatable;
	void (*set)(struct parser *p, const char *value);
};

/* ---- problems ---- */

/* Control characters from the file must not reach a terminal or a log. */
static void make_printable(char *s)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s))
			*s = '?';
}

/* "file:line: message", or "lookup for USER: line N: message" in an answer. */
static int format_problem(const struct parser *p, int line, const char *message, char **text)
{
	if (p->answer_user != NULL && line > 0)
		return asprintf(text, "lookup for %s: line %d: %s", p->answer_user, line, message);
	if (p->answer_user != NULL)
		return asprintf(text, "lookup for %s: %s", p->answer_user, message);
	if (line > 0)
		return asprintf(text, "%s:%d: %s", p->path, line, message);
	return asprintf(text, "%s: %s", p->path, message);
}

static void add_problem(struct parser *p, int line, const char *message)
{
	struct problem *grown;
	char *text;
	int n;

	n = format_problem(p, line, message, &text);
	grown = n < 0 ? NULL : realloc(p->problems, (p->n_problems + 1) * sizeof(*grown));
	if (grown == NULL) {
		if (n >= 0)
			free(text);
		p->lost_problems++;
		return;
	}
	make_printable(text);
	p->problems = grown;
	p->problems[p->n_problems].line = line;
	p->problems[p->n_problems].seq = p->n_problems;
	p->problems[p->n_problems].text = text;
	p->n_problems++;
}

__attribute__((format(printf, 3, 4)))
static void report_at(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	char *message;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&message, fmt, ap);
	va_end(ap);
	if (n < 0) {
		p->lost_problems++;
		return;
	}
	add_problem(p, line, message);
	free(message);
}

#define report(p, ...) report_at((p), (p)->lineno, __VA_ARGS__)

static void note_out_of_memory(struct parser *p)
{
	report(p, "out of memory");
}

static char *dup_or_report(struct parser *p, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		note_out_of_memory(p);
	return copy;
}

static int compare_problems(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;
	long lx = x->line > 0 ? x->line : (long)INT_MAX + 1;
	long ly = y->line > 0 ? y->line : (long)INT_MAX + 1;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the problems to the caller in line order (problems about the file
 * as a whole last) and returns how many there were. */
static int deliver_problems(struct parser *p, config_report_fn report_fn, void *ctx)
{
	size_t i;
	int total = (int)(p->n_problems + p->lost_problems);

	if (p->n_problems > 0)   /* qsort wants a non-NULL array, even when empty */
		qsort(p->problems, p->n_problems, sizeof(*p->problems), compare_problems);
	for (i = 0; i < p->n_problems; i++) {
		if (report_fn != NULL)
			report_fn(p->problems[i].text, ctx);
		free(p->problems[i].text);
	}
	if (p->lost_problems > 0 && report_fn != NULL)
		report_fn(p->answer_user ? "out of memory while reading a lookup answer"
		                         : "out of memory while reading the configuration", ctx);
	free(p->problems);
	p->problems = NULL;
	p->n_problems = 0;
	return total;
}

/* ---- small string helpers ---- */

static char *skip_space(char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

static void strip_trailing_space(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static char *trim(char *s)
{
	s = skip_space(s);
	strip_trailing_space(s);
	return s;
}

/* Cuts an inline comment the way inih does: a ';' after whitespace. */
static void strip_inline_comment(char *s)
{
	int was_space = 0;

	for (; *s; s++) {
		if (was_space && *s == ';') {
			*s = '\0';
			return;
		}
		was_space = isspace((unsigned char)*s);
	}
}

static int has_space_or_control(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

/* ---- templates (%u, %%) ---- */

static int host_char_ok(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

static int user_char_ok(unsigned char c)
{
	return !isspace(c) && !iscntrl(c);
}

static int path_char_ok(unsigned char c)
{
	return !iscntrl(c);
}

/* Checks a template for upstream host or user: only %u and %% may follow a
 * '%', every other character (and the '%' that %% stands for) must pass
 * char_ok, and the longest possible expansion must fit into max_len.
 * Returns 0 when it is fine, sets *uses_u when %u appears. */
static int check_template(struct parser *p, const char *tmpl, const char *what,
                          int (*char_ok)(unsigned char), size_t max_len, int *uses_u)
{
	size_t expanded = 0;
	const char *s;

	for (s = tmpl; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '%') {
			if (s[1] == '\0') {
				report(p, "lone \"%%\" at the end of %s \"%s\" (write %%%% for a literal %%)", what, tmpl);
				return -1;
			}
			if (s[1] == 'u') {
				*uses_u = 1;
				expanded += USER_NAME_MAX;
				s++;
				continue;
			}
			if (s[1] != '%') {
				report(p, "unknown %%-sequence \"%%%c\" in %s \"%s\" (only %%u and %%%% are allowed)",
				       s[1], what, tmpl);
				return -1;
			}
			s++;
		}
		if (!char_ok(c)) {
			if (isprint(c))
				report(p, "invalid character \"%c\" in %s \"%s\"", c, what, tmpl);
			else
				report(p, "invalid character 0x%02x in %s \"%s\"", c, what, tmpl);
			return -1;
		}
		expanded++;
	}
	if (expanded > max_len) {
		report(p, "%s \"%s\" is too long (at most %zu characters after %%u expansion)",
		       what, tmpl, max_len);
		return -1;
	}
	return 0;
}

int expand_span(const char *tmpl, size_t len, const char *name, char *out, size_t size)
{
	const char *s, *piece, *end = tmpl + len;
	size_t used = 0, n;

	if (size == 0)
		return -1;
	for (s = tmpl; s < end; s++) {
		piece = s;
		n = 1;
		if (s[0] == '%' && s + 1 < end && s[1] == 'u') {
			piece = name;
			n = strlen(name);
			s++;
		} else if (s[0] == '%' && s + 1 < end && s[1] == '%') {
			s++;
		}
		if (used + n >= size)
			return -1;
		memcpy(out + used, piece, n);
		used += n;
	}
	out[used] = '\0';
	return 0;
}

int expand_template(const char *tmpl, const char *name, char *out, size_t size)
{
	return expand_span(tmpl, strlen(tmpl), name, out, size);
}

int template_uses_u(const char *tmpl)
{
	const char *s;

	for (s = tmpl; *s; s++) {
		if (s[0] == '%' && s[1] == 'u')
			return 1;
		if (s[0] == '%' && s[1] == '%')
			s++;
	}
	return 0;
}

/* ---- values ---- */

/* Strict decimal integer in [min, max]; what names the key in messages. */
static int parse_number(struct parser *p, const char *what, const char *value,
                        long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (end == value || *end != '\0' || isspace((unsigned char)value[0])) {
		report(p, "%s \"%s\" is not an integer", what, value);
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		report(p, "%s \"%s\" is out of range (%ld..%ld)", what, value, min, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* "yes" or "no", as sshd_config spells them. */
static int parse_yes_no(struct parser *p, const char *what, const char *value, int *out)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
		*out = strcmp(value, "yes") == 0;
		return 0;
	}
	report(p, "bad %s \"%s\" (yes or no)", what, value);
	return -1;
}

/* allow_tcp_forwarding, allow_agent_forwarding, x11_forwarding: sets the
 * key's FORWARD_* bits in *set, and in *allowed those it allows. */
static void parse_forwarding(struct parser *p, const char *what, const char *value, int bits,
                             int *set, int *allowed)
{
	int yes;

	if (bits == (FORWARD_LOCAL | FORWARD_REMOTE) &&
	    (strcmp(value, "local") == 0 || strcmp(value, "remote") == 0)) {
		*set |= bits;
		*allowed = (*allowed & ~bits) | (value[0] == 'l' ? FORWARD_LOCAL : FORWARD_REMOTE);
		return;
	}
	if (bits == (FORWARD_LOCAL | FORWARD_REMOTE) && strcmp(value, "yes") != 0 &&
	    strcmp(value, "no") != 0) {
		report(p, "bad %s \"%s\" (yes, no, local or remote)", what, value);
		return;
	}
	if (parse_yes_no(p, what, value, &yes) < 0)
		return;
	*set |= bits;
	*allowed = yes ? *allowed | bits : *allowed & ~bits;
}

static int parse_port(struct parser *p, const char *text, int *port)
{
	const char *s;
	long v;

	for (s = text; *s; s++)
		if (!isdigit((unsigned char)*s))
			break;
	v = (*s == '\0' && s > text && s - text <= 5) ? strtol(text, NULL, 10) : 0;
	if (v < 1 || v > 65535) {
		report(p, "bad port \"%s\" (1..65535)", text);
		return -1;
	}
	*port = (int)v;
	return 0;
}

/* "[ADDR]" or "[ADDR]:PORT": the address is kept without brackets. */
static int parse_bracketed_upstream(struct parser *p, const char *value, char **host, int *port)
{
	const char *close = strchr(value, ']');
	struct in6_addr addr;
	char *inside;

	if (close == NULL) {
		report(p, "bad upstream \"%s\": missing \"]\" after the IPv6 address", value);
		return -1;
	}
	if (close[1] != '\0' && close[1] != ':') {
		report(p, "bad upstream \"%s\": expected \":PORT\" after \"]\"", value);
		return -1;
	}
	inside = strndup(value + 1, (size_t)(close - value - 1));
	if (inside == NULL) {
		note_out_of_memory(p);
		return -1;
	}
	if (inet_pton(AF_INET6, inside, &addr) != 1) {
		report(p, "bad upstream \"%s\": \"%s\" is not an IPv6 address", value, inside);
		free(inside);
		return -1;
	}
	if (close[1] == ':' && parse_port(p, close + 2, port) < 0) {
		free(inside);
		return -1;
	}
	*host = inside;
	return 0;
}

/* "HOST" or "HOST:PORT", where HOST is a name or IPv4 address template. */
static int parse_plain_upstream(struct parser *p, const char *value, char **host,
                                int *port, int *uses_u)
{
	const char *colon = strchr(value, ':');
	char *name;

	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		report(p, "bad upstream \"%s\": write an IPv6 address in brackets, as [ADDR] or [ADDR]:PORT", value);
		return -1;
	}
	name = colon ? strndup(value, (size_t)(colon - value)) : strdup(value);
	if (name == NULL) {
		note_out_of_memory(p);
		return -1;
	}
	if (*name == '\0') {
		report(p, "bad upstream \"%s\": no host name", value);
		goto fail;
	}
	if (check_template(p, name, "upstream host", host_char_ok, ROUTE_HOST_MAX - 1, uses_u) < 0)
		goto fail;
	if (colon != NULL && parse_port(p, colon + 1, port) < 0)
		goto fail;
	*host = name;
	return 0;
fail:
	free(name);
	return -1;
}

/* ---- files ---- */

/* A file sshroute will read later (known_hosts, authorized_keys): checked
 * now, so that a typo shows at -t and not when someone logs in. what names
 * the key in messages. */
static int check_readable_file(struct parser *p, const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) < 0) {
		report(p, "cannot read %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		report(p, "%s %s is not a regular file", what, path);
		return -1;
	}
	return 0;
}

/* A file that decides who gets in (a key file): sshd's StrictModes rule,
 * key_file_is_trusted. st is the file's stat, or NULL. */
static int check_trusted(struct parser *p, const char *what, const char *path,
                         const struct stat *st)
{
	char why[PATH_MAX + 256];

	if (key_file_is_trusted(path, st, why, sizeof(why)) == 0)
		return 0;
	report(p, "%s %s: %s", what, path, why);
	return -1;
}

/* A relative file name in route.ini is looked up in $CREDENTIALS_DIRECTORY
 * first, when systemd passed credentials (LoadCredential=, so that a
 * DynamicUser service can read a root-only key), and next to route.ini
 * otherwise. Returns a malloc'd path, or NULL after reporting. */
static char *resolve_file(struct parser *p, const char *name)
{
	const char *base = getenv("CREDENTIALS_DIRECTORY"), *slash;
	char *path = NULL;

	if (name[0] == '/')
		return dup_or_report(p, name);
	if (base != NULL && base[0] == '/') {
		if (asprintf(&path, "%s/%s", base, name) < 0)
			path = NULL;
		else if (access(path, F_OK) == 0)
			return path;
		free(path);
		path = NULL;
	}
	slash = strrchr(p->path, '/');
	if ((slash ? asprintf(&path, "%.*s/%s", (int)(slash - p->path), p->path, name)
	           : asprintf(&path, "%s", name)) < 0) {
		note_out_of_memory(p);
		return NULL;
	}
	return path;
}

/* Whether config_load reads the identities' and CAs' private keys to check
 * that they are usable (config_read_secret_keys in config.h). */
static int read_secret_keys = 1;

void config_read_secret_keys(int on)
{
	read_secret_keys = on;
}

/* A private key (host key or identity): what names it in messages. Its
 * contents are read only for a host key, which every connection needs, or
 * when read_secret_keys says so. */
static int check_private_key(struct parser *p, const char *what, const char *path)
{
	ssh_key key = NULL;
	struct stat st;
	char why[64];

	if (stat(path, &st) < 0) {
		report(p, "cannot read %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		report(p, "%s %s is not a regular file", what, path);
		return -1;
	}
	/* sshd refuses such keys too: anyone who can read it can be us. */
	if (key_file_is_private(path, &st, why, sizeof(why)) < 0) {
		report(p, "%s %s is %s", what, path, why);
		return -1;
	}
	if (check_trusted(p, what, path, &st) < 0)
		return -1;
	if (faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) < 0) {
		report(p, "cannot read %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!read_secret_keys && strcmp(what, "host key") != 0)
		return 0;
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
		report(p, "%s %s is not a usable private key (unparseable or protected by a passphrase)",
		       what, path);
		return -1;
	}
	ssh_key_free(key);
	return 0;
}

/* An identity serves every user of a route, so %u has no place in it. The
 * path is taken literally otherwise. Returns a copy, NULL on a problem. */
static char *checked_identity(struct parser *p, const char *value)
{
	char *path;

	if (strstr(value, "%u") != NULL) {
		report(p, "identity \"%s\" may not contain %%u (one identity serves every user)", value);
		return NULL;
	}
	if ((path = resolve_file(p, value)) != NULL && check_private_key(p, "identity", path) < 0) {
		free(path);
		return NULL;
	}
	return path;
}

/* A CA key: checked as an identity is (no %u, mode, owner), and it must
 * be a key cert.c can sign with. Returns a copy, NULL on a problem. */
static char *checked_ca(struct parser *p, const char *value)
{
	char *path, why[256];
	struct ca *ca;

	if (strstr(value, "%u") != NULL) {
		report(p, "certificate_authority \"%s\" may not contain %%u", value);
		return NULL;
	}
	path = resolve_file(p, value);
	if (path == NULL || check_private_key(p, "certificate_authority", path) < 0) {
		free(path);
		return NULL;
	}
	if (!read_secret_keys)
		return path;
	ca = ca_load(path, why, sizeof(why));
	if (ca == NULL) {
		report(p, "certificate_authority %s cannot sign certificates: it is %s", path, why);
		free(path);
		return NULL;
	}
	ca_free(ca);
	return path;
}

static void parse_validity(struct parser *p, const char *value, int *out)
{
	parse_number(p, "certificate_validity", value, CERT_VALIDITY_MIN, CERT_VALIDITY_MAX, out);
}

/* ---- [server] keys ---- */

static void set_host_key(struct parser *p, const char *value)
{
	struct config *cfg = p->cfg;
	char **grown;
	char *copy;

	if ((copy = resolve_file(p, value)) == NULL)
		return;
	if (check_private_key(p, "host key", copy) < 0) {
		free(copy);
		return;
	}
	grown = realloc(cfg->host_keys, (cfg->n_host_keys + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(copy);
		note_out_of_memory(p);
		return;
	}
	cfg->host_keys = grown;
	cfg->host_keys[cfg->n_host_keys++] = copy;
}

/* A known_hosts line sshroute cannot honour, reported at the line of
 * known_hosts in route.ini. */
static void report_marker(int line, const char *message, void *ctx)
{
	struct parser *p = ctx;

	report(p, "known_hosts %s line %d: %s", p->cfg->known_hosts, line, message);
}

/* libssh skips marker lines (@revoked, @cert-authority): keys.c honours
 * @revoked, and a line that would be ignored is an error. */
static int check_known_hosts_markers(struct parser *p, const char *path)
{
	int n = known_hosts_check_markers(path, report_marker, p);

	if (n < 0)
		report(p, "cannot read known_hosts %s: %s", path, strerror(errno));
	return n != 0 ? -1 : 0;
}

static void set_known_hosts(struct parser *p, const char *value)
{
	char *path = resolve_file(p, value);

	p->cfg->known_hosts = path;
	if (path != NULL && (check_readable_file(p, "known_hosts", path) < 0 ||
	                     check_known_hosts_markers(p, path) < 0)) {
		free(path);
		path = NULL;
	}
	p->cfg->known_hosts = path;
}

static void set_server_identity(struct parser *p, const char *value)
{
	p->cfg->identity = checked_identity(p, value);
}

static void set_server_ca(struct parser *p, const char *value)
{
	p->cfg->certificate_authority = checked_ca(p, value);
}

static void set_server_cert_validity(struct parser *p, const char *value)
{
	parse_validity(p, value, &p->cfg->certificate_validity);
}

static void set_record_dir(struct parser *p, const char *value)
{
	if (value[0] != '/') {
		report(p, "record_dir \"%s\" is not an absolute path", value);
		return;
	}
	p->cfg->record_dir = dup_or_report(p, value);
}

static void set_record_max_size(struct parser *p, const char *value)
{
	int n;

	if (parse_number(p, "record_max_size", value, 4096, INT_MAX, &n) == 0)
		p->cfg->record_max_size = n;
}

/* The largest size parse_size takes: 1024T, far below LLONG_MAX. */
#define SIZE_LIMIT (1LL << 50)

/* A size in bytes, or with a K, M, G or T suffix (powers of 1024). */
static int parse_size(struct parser *p, const char *what, const char *value, long long *out)
{
	static const char suffixes[] = "KMGT";
	const char *at;
	char *end;
	long long v;
	int shift = 0;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (*end != '\0' && end[1] == '\0' && (at = strchr(suffixes, *end)) != NULL) {
		shift = 10 * (int)(at - suffixes + 1);
		end++;
	}
	if (end == value || !isdigit((unsigned char)value[0]) || *end != '\0') {
		report(p, "%s \"%s\" is not a size (bytes, or with K, M, G or T)", what, value);
		return -1;
	}
	if (errno == ERANGE || v > (SIZE_LIMIT >> shift)) {
		report(p, "%s \"%s\" is too large (at most 1024T)", what, value);
		return -1;
	}
	*out = v << shift;
	return 0;
}

static void set_record_keep_free(struct parser *p, const char *value)
{
	parse_size(p, "record_keep_free", value, &p->cfg->record_keep_free);
}

static void set_server_max_session_time(struct parser *p, const char *value)
{
	parse_number(p, "max_session_time", value, 0, MAX_SESSION_TIME_LIMIT,
	             &p->cfg->max_session_time);
}

static void set_server_tcp_forwarding(struct parser *p, const char *value)
{
	int set = 0;

	parse_forwarding(p, "allow_tcp_forwarding", value, FORWARD_LOCAL | FORWARD_REMOTE, &set,
	                 &p->cfg->forward);
}

static void set_server_agent_forwarding(struct parser *p, const char *value)
{
	int set = 0;

	parse_forwarding(p, "allow_agent_forwarding", value, FORWARD_AGENT, &set, &p->cfg->forward);
}

static void set_server_x11_forwarding(struct parser *p, const char *value)
{
	int set = 0;

	parse_forwarding(p, "x11_forwarding", value, FORWARD_X11, &set, &p->cfg->forward);
}

static void set_server_connect_timeout(struct parser *p, const char *value)
{
	parse_number(p, "connect_timeout", value, 1, 300, &p->cfg->connect_timeout);
}

static void set_login_grace_time(struct parser *p, const char *value)
{
	parse_number(p, "login_grace_time", value, 0, 86400, &p->cfg->login_grace_time);
}

static void set_idle_timeout(struct parser *p, const char *value)
{
	parse_number(p, "idle_timeout", value, 0, 604800, &p->cfg->idle_timeout);
}

static void set_max_auth_tries(struct parser *p, const char *value)
{
	parse_number(p, "max_auth_tries", value, 1, 100, &p->cfg->max_auth_tries);
}

static void set_max_sessions(struct parser *p, const char *value)
{
	parse_number(p, "max_sessions", value, 1, MAX_SESSIONS_LIMIT, &p->cfg->max_sessions);
}

static void set_max_channels(struct parser *p, const char *value)
{
	parse_number(p, "max_channels", value, 1, MAX_CHANNELS_LIMIT, &p->cfg->max_channels);
}

static void set_log_level(struct parser *p, const char *value)
{
	static const char *const names[] = {
		[LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_INFO] = "info",
		[LOG_LEVEL_VERBOSE] = "verbose", [LOG_LEVEL_DEBUG] = "debug",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(value, names[i]) == 0) {
			p->cfg->log_level = (enum log_level)i;
			return;
		}
	}
	report(p, "bad log_level \"%s\" (error, info, verbose or debug)", value);
}

static void set_proxy_protocol(struct parser *p, const char *value)
{
	if (strcmp(value, "on") == 0)
		p->cfg->proxy_protocol = 1;
	else if (strcmp(value, "off") == 0)
		p->cfg->proxy_protocol = 0;
	else
		report(p, "bad proxy_protocol \"%s\" (on or off)", value);
}

/* A lookup line is split at these, with no shell and no quoting. */
#define LOOKUP_BLANKS " \t"

size_t config_lookup_word(const char **s)
{
	*s += strspn(*s, LOOKUP_BLANKS);
	return strcspn(*s, LOOKUP_BLANKS);
}

/* ---- [route NAME] keys ---- */

/* One host of an upstream list, into out. */
static int parse_one_upstream(struct parser *p, const char *value, struct upstream_template *out,
                              int *uses_u)
{
	out->port = DEFAULT_PORT;
	if (value[0] == '[')
		return parse_bracketed_upstream(p, value, &out->host, &out->port);
	return parse_plain_upstream(p, value, &out->host, &out->port, uses_u);
}

static void free_upstreams(struct upstream_template *up, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(up[i].host);
}

/* 1 when the list already has host:port. */
static int upstream_listed(const struct upstream_template *up, size_t n,
                           const struct upstream_template *one)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (up[i].port == one->port && strcmp(up[i].host, one->host) == 0)
			return 1;
	return 0;
}

/* "upstream = HOST[:PORT], [IPV6]:PORT, ...": every host is checked; the
 * route keeps the list only when all of them are good. */
static void set_upstream(struct parser *p, const char *value)
{
	struct upstream_template up[UPSTREAMS_MAX];
	char *list = dup_or_report(p, value), *rest = list, *item;
	size_t n = 0;
	int uses_u = 0, bad = list == NULL;

	while (!bad && (item = strsep(&rest, ",")) != NULL) {
		item = trim(item);
		if (*item == '\0') {
			report(p, "empty item in upstream \"%s\"", value);
			bad = 1;
		} else if (n == UPSTREAMS_MAX) {
			report(p, "upstream \"%s\" lists more than %d hosts", value, UPSTREAMS_MAX);
			bad = 1;
		} else if (parse_one_upstream(p, item, &up[n], &uses_u) < 0) {
			bad = 1;
		} else if (upstream_listed(up, n, &up[n])) {
			report(p, "upstream \"%s\" lists %s twice", value, item);
			free(up[n].host);
			bad = 1;
		} else {
			n++;
		}
	}
	free(list);
	if (bad) {
		free_upstreams(up, n);
		return;
	}
	memcpy(p->draft.upstreams, up, n * sizeof(up[0]));
	p->draft.n_upstreams = n;
	p->draft.uses_u |= uses_u;
}

static void set_balance(struct parser *p, const char *value)
{
	if (strcmp(value, "first") == 0)
		p->draft.balance = BALANCE_FIRST;
	else if (strcmp(value, "user") == 0)
		p->draft.balance = BALANCE_USER;
	else if (strcmp(value, "random") == 0)
		p->draft.balance = BALANCE_RANDOM;
	else
		report(p, "bad balance \"%s\" (first, user or random)", value);
}

static void set_route_connect_timeout(struct parser *p, const char *value)
{
	parse_number(p, "connect_timeout", value, 1, 300, &p->draft.connect_timeout);
}

static void set_user(struct parser *p, const char *value)
{
	int uses_u = 0;

	if (check_template(p, value, "user", user_char_ok, ROUTE_USER_MAX - 1, &uses_u) < 0)
		return;
	p->draft.user = dup_or_report(p, value);
	p->draft.uses_u |= uses_u;
}

/* The file must exist now, unless its name depends on the user: then it
 * is looked for at login, where a missing file just means no keys. Its
 * modes are keys.c's, at each login, as sshd checks them: a file that is
 * not trusted (StrictModes) refuses its own keys and locks nobody else
 * out, and -t warns of it (sshroute.c). */
static void set_authorized_keys(struct parser *p, const char *value)
{
	char path[ROUTE_PATH_MAX];
	int uses_u = 0;

	if (value[0] != '/') {
		report(p, "authorized_keys \"%s\" is not an absolute path", value);
		return;
	}
	if (check_template(p, value, "authorized_keys", path_char_ok, ROUTE_PATH_MAX - 1, &uses_u) < 0)
		return;
	if (!uses_u && (expand_template(value, "", path, sizeof(path)) < 0 ||
	                check_readable_file(p, "authorized_keys", path) < 0))
		return;
	p->draft.authorized_keys = dup_or_report(p, value);
	p->draft.uses_u |= uses_u;
}

static void set_route_identity(struct parser *p, const char *value)
{
	p->draft.identity = checked_identity(p, value);
}

static void set_route_ca(struct parser *p, const char *value)
{
	p->draft.certificate_authority = checked_ca(p, value);
}

static void set_route_cert_validity(struct parser *p, const char *value)
{
	parse_validity(p, value, &p->draft.certificate_validity);
}

static void set_record(struct parser *p, const char *value)
{
	parse_yes_no(p, "record", value, &p->draft.record);
}

static void set_record_input(struct parser *p, const char *value)
{
	parse_yes_no(p, "record_input", value, &p->draft.record_input);
}

static void set_route_max_session_time(struct parser *p, const char *value)
{
	parse_number(p, "max_session_time", value, 0, MAX_SESSION_TIME_LIMIT,
	             &p->draft.max_session_time);
}

static void set_route_tcp_forwarding(struct parser *p, const char *value)
{
	parse_forwarding(p, "allow_tcp_forwarding", value, FORWARD_LOCAL | FORWARD_REMOTE,
	                 &p->draft.forward_set, &p->draft.forward);
}

static void set_route_agent_forwarding(struct parser *p, const char *value)
{
	parse_forwarding(p, "allow_agent_forwarding", value, FORWARD_AGENT, &p->draft.forward_set,
	                 &p->draft.forward);
}

static void set_route_x11_forwarding(struct parser *p, const char *value)
{
	parse_forwarding(p, "x11_forwarding", value, FORWARD_X11, &p->draft.forward_set,
	                 &p->draft.forward);
}

static int auth_method_bit(const char *name)
{
	static const struct { const char *name; int bit; } methods[] = {
		{ "publickey", AUTH_PUBLICKEY },
		{ "password", AUTH_PASSWORD },
		{ "keyboard-interactive", AUTH_KBDINT },
	};
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

/* "auth = publickey, password": every bad word is reported (empty items
 * once); the route keeps the default (all methods) unless the whole list
 * is good. */
static void set_auth(struct parser *p, const char *value)
{
	char *list = dup_or_report(p, value), *rest = list, *item;
	int bits = 0, bad = 0, empty = 0, bit;

	if (list == NULL)
		return;
	while ((item = strsep(&rest, ",")) != NULL) {
		item = trim(item);
		bit = auth_method_bit(item);
		if (*item == '\0') {
			empty = 1;
		} else if (bit == 0) {
			report(p, "unknown method \"%s\" in auth (publickey, password or keyboard-interactive)",
			       item);
			bad = 1;
		} else if (bits & bit) {
			report(p, "\"%s\" given twice in auth \"%s\"", item, value);
			bad = 1;
		}
		bits |= bit;
	}
	if (empty)
		report(p, "empty item in auth \"%s\" (a comma list of publickey, password, "
		       "keyboard-interactive)", value);
	if (!bad && !empty)
		p->draft.auth = bits;
	free(list);
}

static int word_char_ok(unsigned char c)
{
	return !iscntrl(c);
}

/* The program is checked now, so that -t finds a typo or a missing chmod
 * +x, and not the first user who logs in. %u has no place in it: one
 * program serves every user, and it could not be checked here. */
static int check_lookup_program(struct parser *p, const char *word)
{
	char path[ROUTE_PATH_MAX];
	struct stat st;

	if (word[0] != '/') {
		report(p, "lookup program \"%s\" is not an absolute path", word);
		return -1;
	}
	if (template_uses_u(word)) {
		report(p, "lookup program \"%s\" may not contain %%u (one program serves every user)", word);
		return -1;
	}
	if (expand_template(word, "", path, sizeof(path)) < 0)
		return -1;   /* cannot happen: check_template measured it */
	if (stat(path, &st) < 0) {
		report(p, "cannot find lookup program %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		report(p, "lookup program %s is not a regular file", path);
		return -1;
	}
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0) {
		report(p, "lookup program %s is not executable: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Checks one word of a lookup line; the first is the program. */
static int check_lookup_word(struct parser *p, const char *word, int is_program, int *uses_u)
{
	if (check_template(p, word, "lookup", word_char_ok, ROUTE_PATH_MAX - 1, uses_u) < 0)
		return -1;
	return is_program ? check_lookup_program(p, word) : 0;
}

/* Checks every word of a lookup line; sets *uses_u when %u appears. */
static int check_lookup(struct parser *p, const char *value, int *uses_u)
{
	const char *s;
	char *word;
	size_t len;
	int words = 0, rc = 0;

	for (s = value; rc == 0 && (len = config_lookup_word(&s)) > 0; s += len) {
		if (++words > LOOKUP_ARGS_MAX) {
			report(p, "lookup has more than %d words (program and arguments)", LOOKUP_ARGS_MAX);
			return -1;
		}
		word = strndup(s, len);
		if (word == NULL) {
			note_out_of_memory(p);
			return -1;
		}
		rc = check_lookup_word(p, word, words == 1, uses_u);
		free(word);
	}
	return rc;
}

static void set_lookup(struct parser *p, const char *value)
{
	int uses_u = 0;

	if (check_lookup(p, value, &uses_u) < 0)
		return;
	p->draft.lookup = dup_or_report(p, value);
	p->draft.uses_u |= uses_u;
}

static void set_lookup_timeout(struct parser *p, const char *value)
{
	parse_number(p, "lookup_timeout", value, 1, 300, &p->draft.lookup_timeout);
}

static const struct key_def server_keys[N_SERVER_KEYS] = {
	[KEY_HOST_KEY] = { "host_key", 1, set_host_key },
	[KEY_KNOWN_HOSTS] = { "known_hosts", 0, set_known_hosts },
	[KEY_SERVER_IDENTITY] = { "identity", 0, set_server_identity },
	[KEY_LOGIN_GRACE_TIME] = { "login_grace_time", 0, set_login_grace_time },
	[KEY_MAX_AUTH_TRIES] = { "max_auth_tries", 0, set_max_auth_tries },
	[KEY_LOG_LEVEL] = { "log_level", 0, set_log_level },
	[KEY_PROXY_PROTOCOL] = { "proxy_protocol", 0, set_proxy_protocol },
	[KEY_IDLE_TIMEOUT] = { "idle_timeout", 0, set_idle_timeout },
	[KEY_MAX_SESSIONS] = { "max_sessions", 0, set_max_sessions },
	[KEY_MAX_CHANNELS] = { "max_channels", 0, set_max_channels },
	[KEY_SERVER_CA] = { "certificate_authority", 0, set_server_ca },
	[KEY_SERVER_CERT_VALIDITY] = { "certificate_validity", 0, set_server_cert_validity },
	[KEY_RECORD_DIR] = { "record_dir", 0, set_record_dir },
	[KEY_RECORD_MAX_SIZE] = { "record_max_size", 0, set_record_max_size },
	[KEY_RECORD_KEEP_FREE] = { "record_keep_free", 0, set_record_keep_free },
	[KEY_SERVER_MAX_SESSION_TIME] = { "max_session_time", 0, set_server_max_session_time },
	[KEY_SERVER_TCP_FORWARDING] = { "allow_tcp_forwarding", 0, set_server_tcp_forwarding },
	[KEY_SERVER_AGENT_FORWARDING] = { "allow_agent_forwarding", 0, set_server_agent_forwarding },
	[KEY_SERVER_X11_FORWARDING] = { "x11_forwarding", 0, set_server_x11_forwarding },
	[KEY_SERVER_CONNECT_TIMEOUT] = { "connect_timeout", 0, set_server_connect_timeout },
};

static const struct key_def route_keys[N_ROUTE_KEYS] = {
	[KEY_UPSTREAM] = { "upstream", 0, set_upstream },
	[KEY_USER] = { "user", 0, set_user },
	[KEY_AUTHORIZED_KEYS] = { "authorized_keys", 0, set_authorized_keys },
	[KEY_IDENTITY] = { "identity", 0, set_route_identity },
	[KEY_AUTH] = { "auth", 0, set_auth },
	[KEY_LOOKUP] = { "lookup", 0, set_lookup },
	[KEY_LOOKUP_TIMEOUT] = { "lookup_timeout", 0, set_lookup_timeout },
	[KEY_CA] = { "certificate_authority", 0, set_route_ca },
	[KEY_CERT_VALIDITY] = { "certificate_validity", 0, set_route_cert_validity },
	[KEY_RECORD] = { "record", 0, set_record },
	[KEY_RECORD_INPUT] = { "record_input", 0, set_record_input },
	[KEY_MAX_SESSION_TIME] = { "max_session_time", 0, set_route_max_session_time },
	[KEY_TCP_FORWARDING] = { "allow_tcp_forwarding", 0, set_route_tcp_forwarding },
	[KEY_AGENT_FORWARDING] = { "allow_agent_forwarding", 0, set_route_agent_forwarding },
	[KEY_X11_FORWARDING] = { "x11_forwarding", 0, set_route_x11_forwarding },
	[KEY_BALANCE] = { "balance", 0, set_balance },
	[KEY_CONNECT_TIMEOUT] = { "connect_timeout", 0, set_route_connect_timeout },
};

/* Looks name up in keys, refuses repeats and empty values, then sets it.
 * first_line[i] remembers where key i was first given. */
static void apply_key(struct parser *p, const struct key_def *keys, size_t n_keys,
                      int *first_line, const char *label, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < n_keys; i++)
		if (strcmp(keys[i].name, name) == 0)
			break;
	if (i == n_keys) {
		report(p, "unknown key \"%s\" in %s", name, label);
		return;
	}
	if (first_line[i] != 0 && !keys[i].repeatable) {
		report(p, "\"%s\" given twice in %s (first at line %d)", name, label, first_line[i]);
		return;
	}
	if (first_line[i] == 0)
		first_line[i] = p->lineno;
	if (*value == '\0') {
		report(p, "empty value for \"%s\" in %s", name, label);
		return;
	}
	keys[i].set(p, value);
}

/* ---- sections ---- */

static void free_route(struct route *r)
{
	free(r->pattern);
	free_upstreams(r->upstreams, r->n_upstreams);
	free(r->user);
	free(r->authorized_keys);
	free(r->identity);
	free(r->certificate_authority);
	free(r->lookup);
	memset(r, 0, sizeof(*r));
}

static const struct route *find_route_by_pattern(const struct config *cfg, const char *pattern)
{
	size_t i;

	for (i = 0; i < cfg->n_routes; i++)
		if (strcmp(cfg->routes[i].pattern, pattern) == 0)
			return &cfg->routes[i];
	return NULL;
}

/* A route with authorized_keys and no identity or CA of its own needs one
 * of [server], which may still come further down: noted here, checked by
 * check_identities. Keys that were given count, even with a bad value, so
 * that one mistake is not reported twice. */
static void note_keyed_route(struct parser *p, size_t index)
{
	size_t *grown;

	if (p->route_key_line[KEY_AUTHORIZED_KEYS] == 0 || p->route_key_line[KEY_IDENTITY] != 0 ||
	    p->route_key_line[KEY_CA] != 0)
		return;
	grown = realloc(p->keyed_routes, (p->n_keyed_routes + 1) * sizeof(*grown));
	if (grown == NULL) {
		report_at(p, p->draft.line, "out of memory");
		return;
	}
	p->keyed_routes = grown;
	p->keyed_routes[p->n_keyed_routes++] = index;
}

/* route_matches skips a route that has neither host nor lookup. A route
 * whose upstream or lookup was given but bad loses both, so that it never
 * sends anyone where the file did not mean (a bad lookup next to a good
 * upstream must not route everyone to that upstream). */
static void disable_if_broken(struct parser *p)
{
	struct route *r = &p->draft;

	if ((p->route_key_line[KEY_UPSTREAM] != 0 && r->n_upstreams == 0) ||
	    (p->route_key_line[KEY_LOOKUP] != 0 && r->lookup == NULL)) {
		free_upstreams(r->upstreams, r->n_upstreams);
		free(r->lookup);
		r->n_upstreams = 0;
		r->lookup = NULL;
	}
}

/* A pattern route serves many accounts. One authorized_keys for all of
 * them (no %u), with the upstream user following the client's name, lets
 * every key in the file log in as every account the pattern matches.
 * NULL when the pair is safe, else what the user setting does. */
static const char *shared_keys_problem(const struct route *r, const char *authorized_keys,
                                       const char *user)
{
	if (!r->is_glob || authorized_keys == NULL || template_uses_u(authorized_keys))
		return NULL;
	if (user == NULL)
		return "user defaults to the client's name";
	return template_uses_u(user) ? "user follows the client's name (%u)" : NULL;
}

/* route.ini's half of shared_keys_problem. A lookup route is checked when
 * its answer comes (the answer may give user); a bad user was reported. */
static void check_shared_keys(struct parser *p)
{
	const struct route *r = &p->draft;
	const char *why = shared_keys_problem(r, r->authorized_keys, r->user);

	if (why == NULL || p->route_key_line[KEY_LOOKUP] != 0 ||
	    (p->route_key_line[KEY_USER] != 0 && r->user == NULL))
		return;
	report_at(p, p->route_key_line[KEY_AUTHORIZED_KEYS], "route %s: authorized_keys %s has no %%u "
	          "and %s, so every key in it could log in as every matching account: add %%u to "
	          "the path or set user", r->pattern, r->authorized_keys, why);
}

/* Checks of a [route NAME] as a whole: where users go must be known (an
 * upstream, or a lookup to give one), and some way in must be allowed. */
static void check_route(struct parser *p)
{
	int has_lookup = p->route_key_line[KEY_LOOKUP] != 0;

	if (p->route_key_line[KEY_UPSTREAM] == 0 && !has_lookup)
		report_at(p, p->draft.line, "[route %s] has no upstream", p->draft.pattern);
	if (p->route_key_line[KEY_LOOKUP_TIMEOUT] != 0 && !has_lookup)
		report_at(p, p->route_key_line[KEY_LOOKUP_TIMEOUT],
		          "lookup_timeout without lookup in [route %s]", p->draft.pattern);
	/* With a lookup, the answer may still give authorized_keys. */
	if (p->draft.auth == AUTH_PUBLICKEY && p->route_key_line[KEY_AUTHORIZED_KEYS] == 0 &&
	    !has_lookup)
		report_at(p, p->draft.line, "[route %s] allows only publickey but has no authorized_keys: "
		          "nobody could log in", p->draft.pattern);
	check_shared_keys(p);
}

/* Ends the [route NAME] being read; it joins cfg->routes unless it repeats
 * an earlier one. */
static void finish_route(struct parser *p)
{
	struct config *cfg = p->cfg;
	struct route *grown;

	check_route(p);
	disable_if_broken(p);
	if (p->draft_is_duplicate) {
		free_route(&p->draft);
		return;
	}
	grown = realloc(cfg->routes, (cfg->n_routes + 1) * sizeof(*grown));
	if (grown == NULL) {
		report_at(p, p->draft.line, "out of memory");
		free_route(&p->draft);
		return;
	}
	cfg->routes = grown;
	note_keyed_route(p, cfg->n_routes);
	cfg->routes[cfg->n_routes++] = p->draft;
	memset(&p->draft, 0, sizeof(p->draft));
}

static void finish_section(struct parser *p)
{
	if (p->section == SECTION_ROUTE)
		finish_route(p);
	p->section = SECTION_NONE;
}

static void start_route(struct parser *p, const char *pattern)
{
	const struct route *first;

	p->n_route_sections++;
	p->section = SECTION_IGNORED;
	if (*pattern == '\0') {
		report(p, "[route] needs a user name or pattern, as in [route alice] or [route team-*]");
		return;
	}
	if (has_space_or_control(pattern)) {
		report(p, "bad route name \"%s\": it may not contain spaces", pattern);
		return;
	}
	memset(&p->draft, 0, sizeof(p->draft));
	memset(p->route_key_line, 0, sizeof(p->route_key_line));
	p->draft.pattern = dup_or_report(p, pattern);
	if (p->draft.pattern == NULL)
		return;
	p->draft.line = p->lineno;
	p->draft.is_glob = strpbrk(pattern, "*?[") != NULL;
	p->draft.auth = AUTH_ALL;
	p->draft.lookup_timeout = LOOKUP_TIMEOUT_DEFAULT;
	p->draft.max_session_time = -1;
	first = find_route_by_pattern(p->cfg, pattern);
	p->draft_is_duplicate = first != NULL;
	if (first != NULL)
		report(p, "duplicate [route %s] (first at line %d)", pattern, first->line);
	p->section = SECTION_ROUTE;
}

static void start_section(struct parser *p, char *name)
{
	if (strcmp(name, "server") == 0) {
		p->section = SECTION_SERVER;
		if (p->server_line == 0)
			p->server_line = p->lineno;
	} else if (strncmp(name, "route", 5) == 0 && (name[5] == '\0' || isspace((unsigned char)name[5]))) {
		start_route(p, trim(name + 5));
	} else {
		report(p, "unknown section [%s] (expected [server] or [route NAME])", name);
		p->section = SECTION_IGNORED;
	}
}

/* line starts with '['. The closing ']' is the last character before any
 * inline comment, so that patterns like [route team-[ab]*] work. */
static void read_section_header(struct parser *p, char *line)
{
	size_t len;

	finish_section(p);
	strip_inline_comment(line + 1);
	strip_trailing_space(line);
	len = strlen(line);
	if (len < 2 || line[len - 1] != ']') {
		report(p, "bad section header (expected [server] or [route NAME])");
		p->section = SECTION_IGNORED;
		return;
	}
	line[len - 1] = '\0';
	start_section(p, trim(line + 1));
}

/* A line that was neither blank, comment nor header but never reached
 * on_key had no '=' (or ':'): inih counts that as an error. */
static void check_pending_key_line(struct parser *p)
{
	if (p->pending_key_line == 0)
		return;
	report_at(p, p->pending_key_line, "expected \"key = value\", [server] or [route NAME]");
	p->pending_key_line = 0;
}

static void classify_line(struct parser *p, char *line)
{
	if (*line == '\0' || *line == ';' || *line == '#')
		return;
	if (*line == '[')
		read_section_header(p, line);
	else
		p->pending_key_line = p->lineno;
}

/* Length of a line without its line ending. */
static size_t content_length(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len;
}

/* A line we cannot hand to inih: it gets a blank line instead. When it
 * looked like a section header, the keys that follow belong to nothing. */
static char *reject_line(struct parser *p, char *line, char *str)
{
	if (*skip_space(line) == '[') {
		finish_section(p);
		p->section = SECTION_IGNORED;
	}
	str[0] = '\0';
	return str;
}

/* The longest line inih takes, given the size of its buffer (it needs
 * room for "\r\n\0"). Lookup answers get the same limit. */
static size_t max_line_length(int buffer_size)
{
	return buffer_size > 3 ? (size_t)buffer_size - 3 : 0;
}

/* inih's reader (fgets-like, num is the size of inih's buffer). It hands
 * inih one physical line at a time, so inih's line numbers are ours. Leading
 * whitespace is removed: inih would otherwise take an indented line for
 * the continuation of the previous value. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	size_t len, max = max_line_length(num);
	char *line;
	ssize_t n;

	check_pending_key_line(p);
	errno = 0;
	n = getline(&p->buf, &p->bufsize, p->fp);
	if (n < 0) {
		p->read_errno = errno;
		return NULL;
	}
	p->lineno++;
	line = p->buf;
	len = (size_t)n;
	if (p->lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (memchr(line, '\0', len) != NULL) {
		report(p, "line contains a NUL byte");
		return reject_line(p, line, str);
	}
	if (content_length(line, len) > max) {
		report(p, "line too long (more than %zu characters)", max);
		return reject_line(p, line, str);
	}
	line = skip_space(line);
	memcpy(str, line, strlen(line) + 1);
	classify_line(p, line);
	return str;
}

/* inih's handler. section is inih's idea of it; ours (from read_line) is
 * used instead, as it also knows about bad and repeated headers. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	char label[64 + ROUTE_HOST_MAX];

	(void)section;
	p->pending_key_line = 0;
	if (*name == '\0') {
		report(p, "missing key name before \"=\"");
		return 1;
	}
	switch (p->section) {
	case SECTION_NONE:
		report(p, "key \"%s\" outside any section (put it under [server] or [route NAME])", name);
		break;
	case SECTION_SERVER:
		apply_key(p, server_keys, N_SERVER_KEYS, p->server_key_line, "[server]", name, value);
		break;
	case SECTION_ROUTE:
		snprintf(label, sizeof(label), "[route %s]", p->draft.pattern);
		apply_key(p, route_keys, N_ROUTE_KEYS, p->route_key_line, label, name, value);
		break;
	case SECTION_IGNORED:
		break;
	}
	return 1;
}

/* What must be there once the whole file is read. */
static void check_required(struct parser *p)
{
	if (p->server_line == 0) {
		report_at(p, 0, "no [server] section (host_key and known_hosts are required)");
	} else {
		if (p->server_key_line[KEY_HOST_KEY] == 0)
			report_at(p, p->server_line, "[server] has no host_key");
		if (p->server_key_line[KEY_KNOWN_HOSTS] == 0)
			report_at(p, p->server_line, "[server] has no known_hosts");
	}
	if (p->n_route_sections == 0)
		report_at(p, 0, "no [route NAME] section: nobody could log in");
}

/* Once the whole file is read, [server] identity and CA are known. */
static void check_identities(struct parser *p)
{
	const struct route *r;
	size_t i;

	if (p->server_key_line[KEY_SERVER_IDENTITY] != 0 || p->server_key_line[KEY_SERVER_CA] != 0)
		return;
	for (i = 0; i < p->n_keyed_routes; i++) {
		r = &p->cfg->routes[p->keyed_routes[i]];
		report_at(p, r->line, "[route %s] has authorized_keys but no identity or "
		          "certificate_authority (set one here or in [server])", r->pattern);
	}
}

static void init_config(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->login_grace_time = DEFAULT_LOGIN_GRACE_TIME;
	cfg->max_auth_tries = DEFAULT_MAX_AUTH_TRIES;
	cfg->max_sessions = DEFAULT_MAX_SESSIONS;
	cfg->max_channels = DEFAULT_MAX_CHANNELS;
	cfg->certificate_validity = CERT_VALIDITY_DEFAULT;
	cfg->record_max_size = RECORD_MAX_SIZE_DEFAULT;
	cfg->record_keep_free = RECORD_KEEP_FREE_DEFAULT;
	cfg->forward = FORWARD_ALL;
	cfg->connect_timeout = CONNECT_TIMEOUT_DEFAULT;
	cfg->log_level = LOG_LEVEL_INFO;
}

static int open_config(struct parser *p)
{
	struct stat st;

	p->fp = fopen(p->path, "re");
	if (p->fp == NULL) {
		report_at(p, 0, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (fstat(fileno(p->fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		report_at(p, 0, "cannot read: %s", strerror(EISDIR));
		return -1;
	}
	return 0;
}

static int has_problem_at(const struct parser *p, int line)
{
	size_t i;

	for (i = 0; i < p->n_problems; i++)
		if (p->problems[i].line == line)
			return 1;
	return 0;
}

static void parse_config(struct parser *p)
{
	int rc;

	rc = ini_parse_stream(read_line, p, on_key, p);
	check_pending_key_line(p);
	finish_section(p);
	if (ferror(p->fp)) {
		report_at(p, 0, "read error: %s", strerror(p->read_errno));
		return;
	}
	/* inih returns the first line it could not parse; our reader has
	 * reported every such line already, so this is only a safety net. */
	if (rc == -2)
		report_at(p, 0, "out of memory");
	else if (rc > 0 && !has_problem_at(p, rc))
		report_at(p, rc, "parse error");
	check_required(p);
	check_identities(p);
}

int config_load(const char *path, struct config *cfg, config_report_fn report_fn, void *ctx)
{
	struct parser p;

	init_config(cfg);
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.cfg = cfg;
	cfg->path = strdup(path);
	if (cfg->path == NULL)
		report_at(&p, 0, "out of memory");
	else if (open_config(&p) == 0)
		parse_config(&p);
	if (p.fp != NULL)
		fclose(p.fp);
	free_route(&p.draft);
	free(p.keyed_routes);
	free(p.buf);
	return deliver_problems(&p, report_fn, ctx);
}

void config_free(struct config *cfg)
{
	size_t i;

	free(cfg->path);
	for (i = 0; i < cfg->n_host_keys; i++)
		free(cfg->host_keys[i]);
	free(cfg->host_keys);
	free(cfg->known_hosts);
	free(cfg->identity);
	free(cfg->certificate_authority);
	free(cfg->record_dir);
	for (i = 0; i < cfg->n_routes; i++)
		free_route(&cfg->routes[i]);
	free(cfg->routes);
	init_config(cfg);
}

/* ---- lookup answers ---- */

/* Length of the UTF-8 sequence at s (n bytes left), 0 when it is not
 * valid UTF-8 (cut short included), or when it is a C1 control character
 * (U+0080..U+009F: 0xC2 0x80..0x9F), which a terminal obeys. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
	int len = utf8_sequence(s, n);

	if (len <= 0 || (len == 2 && s[0] == 0xC2 && s[1] <= 0x9F))
		return 0;
	return (size_t)len;
}

/* A program's output is untrusted: a line must be UTF-8 text without
 * control characters (tabs aside) before any of it is looked at. */
static int check_answer_bytes(struct parser *p, const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7F) {
			report(p, "control character 0x%02x", s[i]);
			return -1;
		}
		n = utf8_length(s + i, len - i);
		if (n == 0) {
			report(p, "not valid UTF-8 text (byte 0x%02x)", s[i]);
			return -1;
		}
	}
	return 0;
}

static int is_answer_key(const char *name)
{
	size_t i;

	for (i = 0; i < N_ANSWER_KEYS; i++)
		if (strcmp(route_keys[i].name, name) == 0)
			return 1;
	return 0;
}

/* Notes key name as given (without setting it), so that a refused value is
 * not reported a second time as missing. */
static void note_answer_key(struct parser *p, const char *name)
{
	size_t i;

	for (i = 0; i < N_ANSWER_KEYS; i++)
		if (strcmp(route_keys[i].name, name) == 0 && p->route_key_line[i] == 0)
			p->route_key_line[i] = p->lineno;
}

/* "key = value": the value goes through the same setter as in route.ini,
 * once it is known to hold no '%'. The answer is program output, possibly
 * built from what a user typed: it must never be a template, or
 * "upstream = %u" would let a user name pick the host. */
static void apply_answer_key(struct parser *p, char *line, char *eq)
{
	char *name, *value;

	*eq = '\0';
	name = trim(line);
	value = eq + 1;
	strip_inline_comment(value);
	value = trim(value);
	if (*name == '\0') {
		report(p, "missing key name before \"=\"");
	} else if (!is_answer_key(name)) {
		report(p, "key \"%s\" is not allowed in an answer (only upstream, user, "
		       "authorized_keys and identity)", name);
	} else if (strchr(value, '%') != NULL) {
		report(p, "an answer may not contain %% (\"%s = %s\")", name, value);
		note_answer_key(p, name);
	} else {
		apply_key(p, route_keys, N_ANSWER_KEYS, p->route_key_line, "the answer", name, value);
	}
}

static void read_answer_line(struct parser *p, char *line)
{
	char *eq;

	line = skip_space(line);
	if (*line == '\0' || *line == '#' || *line == ';')
		return;
	if (*line == '[') {
		report(p, "an answer has no sections, only key lines (upstream, user, "
		       "authorized_keys, identity)");
		return;
	}
	eq = strchr(line, '=');
	if (eq == NULL) {
		report(p, "expected \"key = value\"");
		return;
	}
	apply_answer_key(p, line, eq);
}

/* Splits the answer into lines and reads each; line endings LF or CRLF.
 * The length limit is route.ini's (Debian's inih has it as a variable). */
static void read_answer(struct parser *p, const char *answer)
{
	size_t len, content, max = max_line_length(ini_max_line);
	const char *s;
	char *line;

	for (s = answer; *s; s += len + (s[len] == '\n')) {
		len = strcspn(s, "\n");
		content = content_length(s, len);   /* without a final '\r' */
		p->lineno++;
		if (content > max) {
			report(p, "line too long (more than %zu characters)", max);
			continue;
		}
		line = strndup(s, content);
		if (line == NULL) {
			note_out_of_memory(p);
			return;
		}
		if (check_answer_bytes(p, line, strlen(line)) == 0)
			read_answer_line(p, line);
		free(line);
	}
}

/* shared_keys_problem for the answer put over route r. An answer holds no
 * %u, so for a pattern route an answer's authorized_keys needs a user. */
static void check_answer_shared_keys(struct parser *p, const struct route *r)
{
	const struct route *a = &p->draft;
	const char *keys = a->authorized_keys ? a->authorized_keys : r->authorized_keys;
	const char *why = shared_keys_problem(r, keys, a->user ? a->user : r->user);

	if (why == NULL)
		return;
	report_at(p, 0, "route %s: authorized_keys %s has no %%u and %s, so every key in it could "
	          "log in as every matching account: the answer must give user (or the route "
	          "add %%u to the path or set user)", r->pattern, keys, why);
}

/* 1 when named (NULL: none) is the file of st, however spelt. */
static int same_file(const struct stat *st, const char *named)
{
	struct stat other;

	return named != NULL && stat(named, &other) == 0 && other.st_dev == st->st_dev &&
	       other.st_ino == st->st_ino;
}

/* 1 when path is the identity of [server] or of a route. */
static int identity_is_named(const struct config *cfg, const char *path)
{
	struct stat st;
	size_t i;

	if (stat(path, &st) < 0)
		return 0;
	if (same_file(&st, cfg->identity))
		return 1;
	for (i = 0; i < cfg->n_routes; i++)
		if (same_file(&st, cfg->routes[i].identity))
			return 1;
	return 0;
}

/* An answer chooses among the identities route.ini names, and names no
 * key file of its own: any file sshroute can read would do otherwise,
 * its host key included. */
static void check_answer_identity(struct parser *p, const struct config *cfg)
{
	const char *path = p->draft.identity;

	if (path != NULL && !identity_is_named(cfg, path))
		report_at(p, p->route_key_line[KEY_IDENTITY], "identity %s is not one that route.ini "
		          "names (an answer may only choose the identity of [server] or of a route)", path);
}

/* Checks of the answer as a whole, over the route it completes. */
static void check_answer(struct parser *p, const struct config *cfg, const struct route *r)
{
	int keys_line = p->route_key_line[KEY_AUTHORIZED_KEYS];

	if (p->route_key_line[KEY_UPSTREAM] == 0 && r->n_upstreams == 0)
		report_at(p, 0, "the answer has no upstream");
	/* As in route.ini: a client that logs in with a key leaves us no
	 * password to pass on, so the upstream needs our own key. */
	if (keys_line != 0 && p->route_key_line[KEY_IDENTITY] == 0 && r->identity == NULL &&
	    cfg->identity == NULL && r->certificate_authority == NULL &&
	    cfg->certificate_authority == NULL)
		report_at(p, keys_line, "authorized_keys but no identity (give identity in the answer, "
		          "or identity or certificate_authority in the route or [server])");
	check_answer_identity(p, cfg);
	if (r->auth == AUTH_PUBLICKEY && keys_line == 0 && r->authorized_keys == NULL)
		report_at(p, 0, "[route %s] allows only publickey and the answer gives no "
		          "authorized_keys: nobody could log in", r->pattern);
	check_answer_shared_keys(p, r);
}

int config_read_answer(const struct config *cfg, const struct route *r, const char *user,
                       const char *answer, struct route *draft, config_report_fn report_fn,
                       void *ctx)
{
	struct parser p;

	memset(&p, 0, sizeof(p));
	p.path = cfg->path ? cfg->path : "";   /* relative identity paths: next to route.ini */
	p.answer_user = user;
	/* p.cfg stays NULL: the answer's setters only fill p.draft, and an
	 * answer must never reach the configuration itself. */
	read_answer(&p, answer);
	check_answer(&p, cfg, r);
	*draft = p.draft;
	return deliver_problems(&p, report_fn, ctx);
}

void config_free_answer(struct route *draft)
{
	free_route(draft);
}
