/* keys.c: is a client's public key listed in an authorized_keys file?
 *
 * A client's signature is bound to its session with sshroute and cannot be
 * replayed upstream, so a route maps the keys listed in its authorized_keys
 * to sshroute's own identity. The file is OpenSSH's format, read line by
 * line with getline so that no line is too long:
 *
 *     [options] keytype base64 [comment]
 *
 * Options (from=, command=, restrict, ...) limit what a key may do, and
 * sshroute enforces none of them: a listed key with options is refused,
 * loudly, never accepted as if they were not there. Certificates and
 * security-key (sk-) keys are not supported.
 *
 * Whoever can write to a key file, or to a directory above it, can put a
 * key there or swap the file: such files are refused as sshd refuses them
 * with StrictModes (key_file_is_trusted, also used by config.c for host
 * keys and identities). */
#include "keys.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- files sshroute trusts ---- */

static int owner_is_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* Checks one file or directory of the path; what is "file" or "directory". */
static int node_is_trusted(const char *what, const char *path, const struct stat *st,
                           char *why, size_t size)
{
	if (!owner_is_trusted(st->st_uid)) {
		snprintf(why, size, "%s %s is owned by uid %u, not by root or uid %u (the user "
		         "sshroute runs as); chown root %s", what, path, (unsigned)st->st_uid,
		         (unsigned)geteuid(), path);
		return -1;
	}
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && (st->st_mode & 022)) {
		snprintf(why, size, "directory %s is writable by group or others (the sticky bit "
		         "does not make it safe); move the file to a directory that only root "
		         "can write to", path);
		return -1;
	}
	if (st->st_mode & 022) {
		snprintf(why, size, "%s %s is writable by group or others; chmod go-w %s", what, path,
		         path);
		return -1;
	}
	return 0;
}

int key_file_is_trusted(const char *path, const struct stat *st, char *why, size_t size)
{
	char real[PATH_MAX], *slash;
	struct stat own;

	if (realpath(path, real) == NULL) {
		snprintf(why, size, "cannot resolve %s: %s", path, strerror(errno));
		return -1;
	}
	if (st == NULL && stat(real, &own) < 0) {
		snprintf(why, size, "cannot stat %s: %s", real, strerror(errno));
		return -1;
	}
	if (node_is_trusted("file", real, st ? st : &own, why, size) < 0)
		return -1;
	/* realpath gives an absolute path: every step up ends at "/" */
	while (strcmp(real, "/") != 0 && (slash = strrchr(real, '/')) != NULL) {
		slash[slash == real ? 1 : 0] = '\0';
		if (stat(real, &own) < 0) {
			snprintf(why, size, "cannot stat directory %s: %s", real, strerror(errno));
			return -1;
		}
		if (node_is_trusted("directory", real, &own, why, size) < 0)
			return -1;
	}
	return 0;
}

/* 1 when the file at real path real lies directly in the directory where
 * systemd put this service's credentials ($CREDENTIALS_DIRECTORY). */
static int is_in_credentials_directory(const char *real)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char real_dir[PATH_MAX];
	size_t n;

	if (dir == NULL || dir[0] != '/' || realpath(dir, real_dir) == NULL)
		return 0;
	n = strlen(real_dir);
	return strncmp(real, real_dir, n) == 0 && real[n] == '/' && strchr(real + n + 1, '/') == NULL;
}

/* systemd hands each credential over read-only, readable by the service's
 * own group as well as its owner (mode 0440): that group is the service's
 * dynamic group, or root's, and nobody else holds it. */
static int is_systemd_credential(const char *path, const struct stat *st)
{
	char real[PATH_MAX];

	if ((st->st_mode & 0237) != 0 || (st->st_gid != 0 && st->st_gid != getegid()))
		return 0;
	return realpath(path, real) != NULL && is_in_credentials_directory(real);
}

int key_file_is_private(const char *path, const struct stat *st, char *why, size_t size)
{
	if ((st->st_mode & 077) == 0 || is_systemd_credential(path, st))
		return 0;
	snprintf(why, size, "%s by group or others (mode %04o; chmod 600)",
	         (st->st_mode & 044) ? "readable" : "accessible", (unsigned)(st->st_mode & 07777));
	return -1;
}

/* ---- authorized_keys ---- */

/* One key line taken apart, pointing into the line. */
struct key_line {
	int has_options;
	enum ssh_keytypes_e type;
	const char *type_name;   /* as written */
	const char *base64;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *skip_blanks(char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

/* Ends the word at *rest with a NUL and moves *rest past it. */
static char *cut_word(char **rest)
{
	char *word = *rest;
	char *end = word + strcspn(word, " \t");

	/* strcspn stops at the NUL, so end is within the string; clang 20's
	 * taint analysis cannot tell */
	if (*end != '\0') /* NOLINT(clang-analyzer-security.ArrayBound) */
		*end++ = '\0';
	*rest = end;
	return word;
}

static void strip_line_ending(char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
}

/* The key type a word names, as authorized_keys writes it. libssh also
 * knows short names ("rsa", "ecdsa", "dsa"); OpenSSH would read those as
 * options, and so do we. */
static enum ssh_keytypes_e key_type_named(const char *word)
{
	enum ssh_keytypes_e type = ssh_key_type_from_name(word);
	const char *name = ssh_key_type_to_char(type);

	if (type == SSH_KEYTYPE_UNKNOWN || name == NULL || strcmp(name, word) != 0)
		return SSH_KEYTYPE_UNKNOWN;
	return type;
}

/* 1 when the first word of s (s is not changed) names a key type: one
 * that libssh knows, or DSA, which OpenSSH still names but libssh 0.11 and
 * later no longer know, so that such a line is reported as an unsupported
 * key, not as a malformed line. */
static int key_type_at(char *s)
{
	char *end = s + strcspn(s, " \t");
	char saved = *end;
	int known;

	*end = '\0';
	known = key_type_named(s) != SSH_KEYTYPE_UNKNOWN || strcmp(s, "ssh-dss") == 0 ||
	        strcmp(s, "ssh-dss-cert-v01@openssh.com") == 0;
	*end = saved;
	return known;
}

/* Moves past the options the way OpenSSH reads them: up to the first blank
 * outside double quotes; \" inside quotes does not end them. NULL when a
 * quote is left open. */
static char *skip_options(char *s)
{
	int quoted = 0;

	for (; *s != '\0' && (quoted || !is_blank(*s)); s++) {
		if (quoted && s[0] == '\\' && s[1] == '"')
			s++;
		else if (*s == '"')
			quoted = !quoted;
	}
	return quoted ? NULL : s;
}

/* Takes apart a line that is neither blank nor a comment. Returns NULL, or
 * why the line is malformed. */
static const char *parse_key_line(char *s, struct key_line *out)
{
	memset(out, 0, sizeof(*out));
	if (!key_type_at(s)) {
		s = skip_options(s);
		if (s == NULL)
			return "unterminated quote in the options";
		out->has_options = 1;
		s = skip_blanks(s);
		if (!key_type_at(s))
			return "no key type that libssh knows";
	}
	out->type_name = cut_word(&s);
	out->type = key_type_named(out->type_name);
	s = skip_blanks(s);
	out->base64 = cut_word(&s);
	if (*out->base64 == '\0')
		return "no key after the key type";
	return NULL;
}

/* The key types a client can prove it holds with a plain signature. */
static int key_type_supported(enum ssh_keytypes_e type)
{
	switch (type) {
	case SSH_KEYTYPE_RSA:
	case SSH_KEYTYPE_ECDSA_P256:
	case SSH_KEYTYPE_ECDSA_P384:
	case SSH_KEYTYPE_ECDSA_P521:
	case SSH_KEYTYPE_ED25519:
		return 1;
	default:
		return 0;
	}
}

/* 1 when this line lists key without options. Lines that cannot be used
 * are logged: they are mistakes the administrator should hear about. */
static int line_grants_key(const char *path, int lineno, char *line, const ssh_key key)
{
	struct key_line kl;
	ssh_key listed = NULL;
	const char *why;
	int same;

	strip_line_ending(line);
	line = skip_blanks(line);
	if (*line == '\0' || *line == '#')
		return 0;
	why = parse_key_line(line, &kl);
	if (why != NULL) {
		log_info("%s:%d: %s, line skipped", path, lineno, why);
		return 0;
	}
	if (!key_type_supported(kl.type)) {
		log_info("%s:%d: %s keys are not supported, line skipped", path, lineno, kl.type_name);
		return 0;
	}
	if (ssh_pki_import_pubkey_base64(kl.base64, kl.type, &listed) != SSH_OK) {
		log_info("%s:%d: not a valid %s key, line skipped", path, lineno, kl.type_name);
		return 0;
	}
	same = ssh_key_cmp(listed, key, SSH_KEY_CMP_PUBLIC) == 0;
	ssh_key_free(listed);
	if (same && kl.has_options) {
		log_info("%s:%d: key refused: it is listed with options, which sshroute does not enforce",
		         path, lineno);
		return 0;
	}
	return same;
}

/* Opens path for reading, refusing anything but a regular file: a FIFO
 * (O_NONBLOCK keeps open from waiting for a writer) or a device there is a
 * mistake, not a list of keys. */
static FILE *open_keys_file(const char *path)
{
	struct stat st;
	char why[PATH_MAX + 256];
	FILE *fp;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		/* with %u, a user without a file simply has no keys */
		log_verbose("no authorized_keys %s", path);
		return NULL;
	}
	if (fd < 0) {
		log_error("cannot read authorized_keys %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("authorized_keys %s is not a regular file", path);
		close(fd);
		return NULL;
	}
	if (key_file_is_trusted(path, &st, why, sizeof(why)) < 0) {
		log_error("authorized_keys %s: %s; no key in it is accepted", path, why);
		close(fd);
		return NULL;
	}
	fp = fdopen(fd, "r");
	if (fp == NULL) {
		log_error("cannot read authorized_keys %s: %s", path, strerror(errno));
		close(fd);
	}
	return fp;
}

int authorized_keys_match(const char *path, const ssh_key key)
{
	char *line = NULL;
	size_t size = 0;
	int lineno = 0, found = 0, read_errno = 0;
	FILE *fp;

	if (key == NULL || (fp = open_keys_file(path)) == NULL)
		return 0;
	while (!found) {
		errno = 0;
		if (getline(&line, &size, fp) < 0) {
			read_errno = errno;
			break;
		}
		found = line_grants_key(path, ++lineno, line, key);
	}
	if (!found && !feof(fp))
		log_error("cannot read authorized_keys %s: %s", path, strerror(read_errno));
	free(line);
	fclose(fp);
	return found;
}

/* ---- known_hosts ----
 *
 * sshroute reads known_hosts itself, as OpenSSH's ssh does, rather than
 * through libssh, which gives up on the whole file at the first line of a
 * host whose key type it does not know: ssh-keyscan of an OpenSSH 10.1 or
 * later server lists an ssh-mldsa44-ed25519 key that no libssh reads, and
 * the host's ed25519 line would then count for nothing. Such a line is a
 * key of another type here. libssh also skips every line that starts with
 * a marker: an @revoked line must not be skipped, since a key listed there
 * is refused even when another line lists it as the host's key. sshroute
 * cannot honour @cert-authority. */

/* A marker line taken apart, pointing into the line. */
struct marker_line {
	const char *marker;   /* "@revoked", ... */
	const char *hosts;    /* patterns, or one |1|salt|hash */
	const char *type_name;
	const char *base64;
};

/* Takes apart a line of known_hosts (ending stripped): marker is "" on a
 * line without one. NULL for a blank line or a comment. */
static struct marker_line *parse_known_hosts_line(char *line, struct marker_line *out)
{
	char *s = skip_blanks(line);

	if (*s == '\0' || *s == '#')
		return NULL;
	out->marker = *s == '@' ? cut_word(&s) : "";
	s = skip_blanks(s);
	out->hosts = cut_word(&s);
	s = skip_blanks(s);
	out->type_name = cut_word(&s);
	s = skip_blanks(s);
	out->base64 = cut_word(&s);
	return out;
}

/* The key of a line, NULL when it has none that libssh can read. */
static ssh_key line_key(const struct marker_line *m)
{
	enum ssh_keytypes_e type = key_type_named(m->type_name);
	ssh_key key = NULL;

	if (type == SSH_KEYTYPE_UNKNOWN || *m->base64 == '\0' ||
	    ssh_pki_import_pubkey_base64(m->base64, type, &key) != SSH_OK)
		return NULL;
	return key;
}

/* OpenSSH's pattern match: * and ?, case-insensitive. A '*' that fails
 * is retried one character further on. */
static int wildcard_match(const char *s, const char *pat, size_t pat_len)
{
	const char *end = pat + pat_len, *star = NULL, *retry = NULL;

	while (*s != '\0') {
		if (pat < end && *pat == '*') {
			star = ++pat;
			retry = s;
		} else if (pat < end && (*pat == '?' ||
		                         tolower((unsigned char)*pat) == tolower((unsigned char)*s))) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star;
			s = ++retry;
		} else {
			return 0;
		}
	}
	while (pat < end && *pat == '*')
		pat++;
	return pat == end;
}

/* A comma list of patterns: some positive one matches and no negated one
 * (!pattern) does. */
static int pattern_list_match(const char *name, const char *list)
{
	const char *item = list;
	size_t len;
	int positive = 0;

	for (; *item; item += len + (item[len] == ',')) {
		len = strcspn(item, ",");
		if (item[0] == '!' && wildcard_match(name, item + 1, len - 1))
			return 0;
		if (item[0] != '!' && wildcard_match(name, item, len))
			positive = 1;
	}
	return positive;
}

/* (keys.h) Decodes base64 text of len characters into out (size bytes); returns
 * the length, -1 when it is not base64 or does not fit. */
int base64_decode(const char *text, size_t len, unsigned char *out, size_t size)
{
	int n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > size)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
	if (n < 0)
		return -1;
	return n - (text[len - 1] == '=') - (text[len - 2] == '=');
}

/* A hashed name, "|1|base64(salt)|base64(HMAC-SHA1(salt, name))", as
 * ssh-keygen -H and HashKnownHosts write it. */
static int hashed_match(const char *name, const char *hashed)
{
	unsigned char salt[64], want[64], got[EVP_MAX_MD_SIZE];
	const char *salt64 = hashed + 3, *bar = strchr(salt64, '|');
	unsigned int got_len = 0;
	int salt_len, want_len;

	if (bar == NULL)
		return 0;
	salt_len = base64_decode(salt64, (size_t)(bar - salt64), salt, sizeof(salt));
	want_len = base64_decode(bar + 1, strlen(bar + 1), want, sizeof(want));
	if (salt_len <= 0 || want_len != 20 ||
	    HMAC(EVP_sha1(), salt, salt_len, (const unsigned char *)name, strlen(name), got,
	         &got_len) == NULL || got_len != 20)
		return 0;
	return CRYPTO_memcmp(got, want, 20) == 0;
}

static int hosts_match(const char *name, const char *hosts)
{
	if (strncmp(hosts, "|1|", 3) == 0)
		return hashed_match(name, hosts);
	return pattern_list_match(name, hosts);
}

/* What is wrong with a marker line, NULL when sshroute can honour it. */
static const char *marker_problem(const struct marker_line *m)
{
	ssh_key key;

	if (strcmp(m->marker, "@cert-authority") == 0)
		return "@cert-authority lines are not supported: sshroute accepts no host "
		       "certificates; list each upstream's own host key instead";
	if (strcmp(m->marker, "@revoked") != 0)
		return "unknown marker (only @revoked is supported)";
	if (*m->hosts == '\0' || (key = line_key(m)) == NULL)
		return "@revoked line without a host pattern and a key that libssh can read: "
		       "it could not be honoured";
	ssh_key_free(key);
	return NULL;
}

int known_hosts_check_markers(const char *path, known_hosts_report_fn report, void *ctx)
{
	struct marker_line m;
	char *line = NULL;
	const char *why;
	size_t size = 0;
	int lineno = 0, problems = 0;
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return -1;
	while (getline(&line, &size, fp) >= 0) {
		lineno++;
		strip_line_ending(line);
		if (parse_known_hosts_line(line, &m) != NULL && *m.marker != '\0' &&
		    (why = marker_problem(&m)) != NULL) {
			report(lineno, why, ctx);
			problems++;
		}
	}
	free(line);
	fclose(fp);
	return problems;
}

/* 1 when marker line m revokes key for name. */
static int line_revokes(const struct marker_line *m, const char *name, const ssh_key key)
{
	ssh_key listed;
	int same;

	if (strcmp(m->marker, "@revoked") != 0 || !hosts_match(name, m->hosts) ||
	    (listed = line_key(m)) == NULL)
		return 0;
	same = ssh_key_cmp(listed, key, SSH_KEY_CMP_PUBLIC) == 0;
	ssh_key_free(listed);
	return same;
}

/* The name a host's lines list, lower case: "host" for port 22,
 * "[host]:port" otherwise. */
static void known_hosts_name(const char *host, int port, char *name, size_t size)
{
	size_t i;

	if (port == 22)
		snprintf(name, size, "%s", host);
	else
		snprintf(name, size, "[%s]:%d", host, port);
	for (i = 0; name[i]; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
}

/* What a plain line (no marker) of host name says about key. */
static enum known_host line_verdict(const struct marker_line *m, const char *name,
                                    const ssh_key key)
{
	enum known_host verdict = KNOWN_HOST_NOT_FOUND;
	ssh_key listed;

	if (*m->marker != '\0' || !hosts_match(name, m->hosts))
		return KNOWN_HOST_NOT_FOUND;
	/* a key type this libssh cannot read is another type than key's */
	if ((listed = line_key(m)) == NULL || ssh_key_type(listed) != ssh_key_type(key))
		verdict = KNOWN_HOST_OTHER_TYPE;
	else if (ssh_key_cmp(listed, key, SSH_KEY_CMP_PUBLIC) == 0)
		verdict = KNOWN_HOST_OK;
	else
		verdict = KNOWN_HOST_CHANGED;
	ssh_key_free(listed);
	return verdict;
}

enum known_host known_hosts_find(const char *path, const char *host, int port,
                                 const ssh_key key, int *found_line)
{
	struct marker_line m;
	char name[512], *line = NULL;
	size_t size = 0;
	int lineno = 0;
	enum known_host best = KNOWN_HOST_NOT_FOUND, verdict;
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return KNOWN_HOST_ERROR;
	known_hosts_name(host, port, name, sizeof(name));
	*found_line = 0;
	/* the enum is ordered: a matching key beats a changed one, which
	 * beats one of another type */
	while (best != KNOWN_HOST_OK && getline(&line, &size, fp) >= 0) {
		lineno++;
		strip_line_ending(line);
		if (parse_known_hosts_line(line, &m) == NULL)
			continue;
		verdict = line_verdict(&m, name, key);
		if (verdict < best) {
			best = verdict;
			*found_line = lineno;
		}
	}
	free(line);
	fclose(fp);
	return best;
}

int known_hosts_lists(const char *path, const char *host, int port)
{
	struct marker_line m;
	char name[512], *line = NULL;
	size_t size = 0;
	int found = 0;
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return -1;
	known_hosts_name(host, port, name, sizeof(name));
	while (!found && getline(&line, &size, fp) >= 0) {
		strip_line_ending(line);
		found = parse_known_hosts_line(line, &m) != NULL && *m.marker == '\0' &&
		        hosts_match(name, m.hosts);
	}
	free(line);
	fclose(fp);
	return found;
}

int known_hosts_revoked(const char *path, const char *host, int port, const ssh_key key)
{
	struct marker_line m;
	char name[512], *line = NULL;
	size_t size = 0;
	int lineno = 0, found = 0;
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return -1;
	known_hosts_name(host, port, name, sizeof(name));
	while (!found && getline(&line, &size, fp) >= 0) {
		lineno++;
		strip_line_ending(line);
		if (parse_known_hosts_line(line, &m) != NULL && line_revokes(&m, name, key))
			found = lineno;
	}
	free(line);
	fclose(fp);
	return found;
}

int key_generate_ed25519(ssh_key *key)
{
	/* libssh 0.12 replaced ssh_pki_generate (deprecated there) */
#if LIBSSH_VERSION_MAJOR > 0 || LIBSSH_VERSION_MINOR >= 12
	return ssh_pki_generate_key(SSH_KEYTYPE_ED25519, NULL, key);
#else
	return ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, key);
#endif
}
