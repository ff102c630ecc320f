/* unit_keys.c: unit tests for authorized_keys_match (keys.c).
 *
 * Makes real keys with ssh-keygen (ed25519, ecdsa, rsa, and a certificate)
 * in a temporary directory, writes authorized_keys files from them and
 * checks which keys are found and what is logged. Prints one line per
 * case, "ok - NAME" or "not ok - NAME: detail", and exits 1 when any case
 * failed. */
#include "keys.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "unit.h"

#define LOG_FILE "captured.log"

/* A key made by ssh-keygen: its .pub line and the key libssh reads from it. */
struct test_key {
	const char *file;
	const char *keygen_args;
	char *line;      /* "TYPE BASE64" */
	char *base64;
	ssh_key key;
};

enum { ED, ED_UNLISTED, ECDSA, ECDSA384, ECDSA521, RSA, N_KEYS };

static struct test_key keys[N_KEYS] = {
	[ED] = { "ed", "-t ed25519", NULL, NULL, NULL },
	[ED_UNLISTED] = { "ed2", "-t ed25519", NULL, NULL, NULL },
	[ECDSA] = { "ec", "-t ecdsa -b 256", NULL, NULL, NULL },
	[ECDSA384] = { "ec384", "-t ecdsa -b 384", NULL, NULL, NULL },
	[ECDSA521] = { "ec521", "-t ecdsa -b 521", NULL, NULL, NULL },
	[RSA] = { "rsa", "-t rsa -b 2048", NULL, NULL, NULL },
};

static char *cert_line;   /* ed's key signed by a CA: ssh-ed25519-cert-v01@openssh.com */
/* Not under /tmp: sshroute trusts no key file below a directory that
 * others may write to (key_file_is_trusted). */
static char tmpdir[] = "/run/unit_keys.XXXXXX";

/* ---- files ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* The whole file, NUL-terminated; "" when it cannot be read. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);
	int c;

	if (mem == NULL)
		exit(2);
	while (f != NULL && (c = getc(f)) != EOF)
		putc(c, mem);
	fclose(mem);
	if (f != NULL)
		fclose(f);
	return text;
}

/* The first line of a .pub file, "TYPE BASE64" without comment. */
static char *read_pub_line(const char *path)
{
	char *text = read_file(path);
	char *end = strchr(text, ' ');

	if (end == NULL || (end = strpbrk(end + 1, " \n")) == NULL) {
		fprintf(stderr, "%s: not a public key file\n", path);
		exit(2);
	}
	*end = '\0';
	return text;
}

static void make_key(struct test_key *k)
{
	char command[256], pub[64];

	snprintf(command, sizeof(command), "ssh-keygen -q %s -N '' -C '' -f %s", k->keygen_args, k->file);
	run(command);
	snprintf(pub, sizeof(pub), "%s.pub", k->file);
	k->line = read_pub_line(pub);
	k->base64 = strchr(k->line, ' ') + 1;
	if (ssh_pki_import_pubkey_file(pub, &k->key) != SSH_OK) {
		fprintf(stderr, "%s: libssh cannot read it\n", pub);
		exit(2);
	}
}

static void make_fixtures(void)
{
	size_t i;

	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) != 0) {
		perror(tmpdir);
		exit(2);
	}
	for (i = 0; i < N_KEYS; i++)
		make_key(&keys[i]);
	run("ssh-keygen -q -t ed25519 -N '' -C '' -f ca");
	run("ssh-keygen -q -s ca -I test -n alice ed.pub 2>/dev/null");
	cert_line = read_pub_line("ed-cert.pub");
	mkdir("adir", 0700);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void remove_fixtures(void)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++) {
		free(keys[i].line);
		ssh_key_free(keys[i].key);
	}
	free(cert_line);
	if (chdir("/") != 0)
		perror("/");
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- matching ---- */

/* authorized_keys_match(path, key) with its log lines (stderr) caught in
 * *log, which the caller frees. */
static int match_logged(const char *path, const ssh_key key, char **log)
{
	int saved, fd, found;

	fflush(stderr);
	saved = dup(2);
	fd = open(LOG_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved < 0 || fd < 0 || dup2(fd, 2) < 0) {
		perror(LOG_FILE);
		exit(2);
	}
	close(fd);
	found = authorized_keys_match(path, key);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	*log = read_file(LOG_FILE);
	return found;
}

/* Writes text as authorized_keys, looks for key in it: found must be
 * want, and each of the NULL-terminated log_wants must be in the log. */
static void expect(const char *name, const char *text, const ssh_key key, int want, ...)
{
	const char *needle;
	va_list ap;
	char *log;
	int found;

	write_file("authorized_keys", text);
	found = match_logged("authorized_keys", key, &log);
	if (found != want) {
		fail(name, "returned %d, expected %d; log: %s", found, want, log);
		free(log);
		return;
	}
	va_start(ap, want);
	while ((needle = va_arg(ap, const char *)) != NULL)
		if (strstr(log, needle) == NULL)
			break;
	va_end(ap);
	if (needle != NULL)
		fail(name, "log lacks \"%s\"; log: %s", needle, log);
	else
		pass(name);
	free(log);
}

/* printf into a new string. */
__attribute__((format(printf, 1, 2)))
static char *text_of(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		exit(2);
	return s;
}

/* ---- cases ---- */

static void test_found_among_several(void)
{
	char *text = text_of("# the team\n%s alice@laptop\n%s bob\n%s\n%s carol\n%s\n%s dave\n",
	                     keys[RSA].line, keys[ECDSA].line, keys[ED].line,
	                     keys[ECDSA384].line, keys[ECDSA521].line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA");

	expect("ed25519 key found among several", text, keys[ED].key, 1, NULL);
	expect("ecdsa-sha2-nistp256 key found among several", text, keys[ECDSA].key, 1, NULL);
	expect("ecdsa-sha2-nistp384 key found among several", text, keys[ECDSA384].key, 1, NULL);
	expect("ecdsa-sha2-nistp521 key found among several", text, keys[ECDSA521].key, 1, NULL);
	expect("ssh-rsa key found among several", text, keys[RSA].key, 1, NULL);
	expect("unlisted key not found", text, keys[ED_UNLISTED].key, 0, NULL);
	free(text);
}

static void test_comments_and_blank_lines(void)
{
	char *text = text_of("\n# comment\n   \n\t# indented comment\n\n  \t%s  with a comment \r\n",
	                     keys[ED].line);

	expect("comments, blank lines, indentation and CRLF", text, keys[ED].key, 1, NULL);
	free(text);
	text = text_of("# %s\n#%s\n", keys[ED].line, keys[ED].line);
	expect("commented-out key not found", text, keys[ED].key, 0, NULL);
	free(text);
	expect("empty file: not found", "", keys[ED].key, 0, NULL);
	text = text_of("%s", keys[ED].line);
	expect("last line without newline", text, keys[ED].key, 1, NULL);
	free(text);
}

static void test_options_refused(void)
{
	char *text;

	text = text_of("%s\nfrom=\"1.2.3.4\" %s\n", keys[RSA].line, keys[ED].line);
	expect("from= option: refused although the key matches", text, keys[ED].key, 0,
	       "authorized_keys:2:", "options", NULL);
	free(text);
	text = text_of("command=\"echo \\\"a b\\\"; exit\",no-pty %s me\n", keys[ECDSA].line);
	expect("command= with quoted blanks and escaped quotes: refused", text, keys[ECDSA].key, 0,
	       "authorized_keys:1:", "options", NULL);
	free(text);
	text = text_of("restrict %s\n", keys[RSA].line);
	expect("restrict option on an rsa key: refused", text, keys[RSA].key, 0,
	       "authorized_keys:1:", NULL);
	free(text);
	text = text_of("no-pty %s\n", keys[ED].line);
	expect("options line for another key: not found", text, keys[ED_UNLISTED].key, 0, NULL);
	free(text);
	/* OpenSSH too goes on looking when a matching line's options say no. */
	text = text_of("from=\"10.0.0.0/8\" %s\n%s\n", keys[ED].line, keys[ED].line);
	expect("options line refused, a later plain line for the same key accepted", text,
	       keys[ED].key, 1, "authorized_keys:1:", NULL);
	free(text);
}

static void test_long_lines(void)
{
	size_t n = 1 << 20;
	char *filler = malloc(n + 1);
	char *text;

	if (filler == NULL)
		exit(2);
	memset(filler, 'x', n);
	filler[n] = '\0';
	text = text_of("#%s\n%s\n", filler, keys[ED].line);
	expect("very long comment line (1 MiB) before the key", text, keys[ED].key, 1, NULL);
	free(text);
	text = text_of("%s %s\n", keys[RSA].line, filler);
	expect("key line with a 1 MiB comment", text, keys[RSA].key, 1, NULL);
	free(text);
	text = text_of("command=\"%s\" %s\n%s\n", filler, keys[ED].line, keys[ECDSA].line);
	expect("1 MiB option value: refused, next line still read", text, keys[ED].key, 0,
	       "authorized_keys:1:", NULL);
	expect("1 MiB option value: next line still read", text, keys[ECDSA].key, 1, NULL);
	free(text);
	free(filler);
}

static void test_malformed_lines(void)
{
	char *text = text_of("ssh-ed25519\n"                      /* 1: no key */
	                     "ssh-ed25519 !!!notbase64!!!\n"       /* 2 */
	                     "ssh-ed25519 %s\n"                    /* 3: an rsa key */
	                     "garbage\n"                           /* 4 */
	                     "from=\"1.2.3.4 %s\n"                 /* 5: open quote */
	                     "rsa %s\n"                            /* 6: libssh's short name */
	                     "rsa-sha2-256 %s\n"                   /* 7: a signature name */
	                     "%s\n",                               /* 8: good */
	                     keys[RSA].base64, keys[ED].line, keys[RSA].base64, keys[RSA].base64,
	                     keys[ED].line);

	expect("malformed lines are logged and skipped", text, keys[ED].key, 1,
	       "authorized_keys:1:", "authorized_keys:2:", "authorized_keys:3:",
	       "authorized_keys:4:", "authorized_keys:5:", "authorized_keys:6:",
	       "authorized_keys:7:", NULL);
	expect("rsa key under a wrong type name is not found", text, keys[RSA].key, 0, NULL);
	free(text);
}

static void test_unsupported_types(void)
{
	char *text = text_of("%s\n"
	                     "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n"
	                     "ssh-dss AAAAB3NzaC1kc3M=\n", cert_line);

	expect("certificate, sk and dss lines are skipped with a log line", text, keys[ED].key, 0,
	       "authorized_keys:1: ssh-ed25519-cert-v01@openssh.com keys are not supported",
	       "authorized_keys:2: sk-ssh-ed25519@openssh.com keys are not supported",
	       "authorized_keys:3: ssh-dss keys are not supported", NULL);
	free(text);
}

static void test_unreadable(void)
{
	char *log;
	int found;

	/* with %u, a user without a file has no keys: not an error */
	log_set_level(LOG_LEVEL_VERBOSE);
	found = match_logged("nothere", keys[ED].key, &log);
	log_set_level(LOG_LEVEL_INFO);
	if (found != 0 || strstr(log, "nothere") == NULL || strstr(log, "error") != NULL)
		fail("missing file returns 0, logged as no keys (not an error)", "returned %d; log: %s",
		     found, log);
	else
		pass("missing file returns 0, logged as no keys (not an error)");
	free(log);
	found = match_logged("adir", keys[ED].key, &log);
	if (found != 0 || strstr(log, "adir") == NULL)
		fail("directory returns 0 with a log line", "returned %d; log: %s", found, log);
	else
		pass("directory returns 0 with a log line");
	free(log);
	if (authorized_keys_match("authorized_keys", NULL) != 0)
		fail("no key: not found", "returned 1");
	else
		pass("no key: not found");
}

/* Looks for ED's key in path, which lists it: found must be want, and the
 * log must hold needle (when not NULL). */
static void expect_trust(const char *name, const char *path, int want, const char *needle)
{
	char *log;
	int found = match_logged(path, keys[ED].key, &log);

	if (found != want || (needle != NULL && strstr(log, needle) == NULL))
		fail(name, "returned %d, expected %d; log: %s", found, want, log);
	else
		pass(name);
	free(log);
}

/* sshd's StrictModes rule: the file and every directory above it. */
static void test_untrusted(void)
{
	char tmp[] = "/tmp/unit_keys_ak.XXXXXX", why[1024], *want;
	int fd;

	mkdir("strict", 0755);
	write_file("strict/ak", keys[ED].line);
	chmod("strict/ak", 0644);
	expect_trust("trusted file and directories: key found", "strict/ak", 1, NULL);
	chmod("strict/ak", 0664);
	want = text_of("file %s/strict/ak is writable by group or others; chmod go-w %s/strict/ak",
	               tmpdir, tmpdir);
	expect_trust("group-writable file: no key matches, the log says chmod go-w", "strict/ak", 0, want);
	free(want);
	chmod("strict/ak", 0644);
	chmod("strict", 0757);
	want = text_of("authorized_keys strict/ak: directory %s/strict is writable by group or "
	               "others; chmod go-w %s/strict", tmpdir, tmpdir);
	expect_trust("world-writable directory above: no key matches, the log names it", "strict/ak", 0,
	             want);
	free(want);
	chmod("strict", 01777);
	expect_trust("sticky world-writable directory above (like /tmp): refused too", "strict/ak", 0,
	             "sticky bit does not make it safe");
	chmod("strict", 0755);
	if (chown("strict/ak", 4242, 4242) == 0)
		expect_trust("file owned by another user: refused", "strict/ak", 0,
		             "is owned by uid 4242, not by root or uid 0");
	if (chown("strict/ak", 0, 0) == 0 && symlink("strict/ak", "strict-link") == 0)
		expect_trust("a symbolic link: the real path is checked, and trusted", "strict-link", 1, NULL);
	fd = mkstemp(tmp);
	if (fd < 0 || fchmod(fd, 0644) < 0) {
		fail("a file in /tmp is not trusted", "mkstemp failed");
	} else if (key_file_is_trusted(tmp, NULL, why, sizeof(why)) != -1 ||
	           strstr(why, "directory /tmp is writable by group or others") == NULL) {
		fail("a file in /tmp is not trusted", "why: %s", why);
	} else {
		pass("a file in /tmp is not trusted");
	}
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (key_file_is_trusted("nothere", NULL, why, sizeof(why)) != -1 || strstr(why, "nothere") == NULL)
		fail("a missing file is not trusted", "why: %s", why);
	else
		pass("a missing file is not trusted");
}

/* key_file_is_private on a file made with mode and group gid, in dir:
 * want is 0 when it must be taken as private, -1 when refused. */
static void expect_private(const char *name, const char *dir, mode_t mode, gid_t gid, int want)
{
	char path[256], why[128] = "";
	struct stat st;
	int got;

	snprintf(path, sizeof(path), "%s/key", dir);
	write_file(path, "not a key: only the mode counts\n");
	if (chmod(path, mode) < 0 || chown(path, (uid_t)-1, gid) < 0 || stat(path, &st) < 0) {
		fail(name, "cannot set up %s: %s", path, strerror(errno));
		return;
	}
	got = key_file_is_private(path, &st, why, sizeof(why));
	if (got != want || (got < 0 && strstr(why, "chmod 600") == NULL))
		fail(name, "returned %d, expected %d; why: %s", got, want, why);
	else
		pass(name);
	unlink(path);
}

/* The mode rule for private keys, and its one exception: systemd's
 * credentials, mode 0440, group root or sshroute's own, directly in
 * $CREDENTIALS_DIRECTORY. */
static void test_private_keys(void)
{
	mkdir("creds", 0500 | 0200);
	mkdir("creds/sub", 0700);
	mkdir("plain", 0700);
	unsetenv("CREDENTIALS_DIRECTORY");
	expect_private("mode 600: private", "plain", 0600, getegid(), 0);
	expect_private("mode 400: private", "plain", 0400, getegid(), 0);
	expect_private("mode 640 outside credentials: refused", "plain", 0640, getegid(), -1);
	expect_private("mode 440 without CREDENTIALS_DIRECTORY: refused", "creds", 0440, getegid(), -1);
	setenv("CREDENTIALS_DIRECTORY", "creds", 1);
	expect_private("relative CREDENTIALS_DIRECTORY is not trusted", "creds", 0440, getegid(), -1);
	if (chdir("creds") == 0) {
		char here[256];

		if (getcwd(here, sizeof(here)) != NULL)
			setenv("CREDENTIALS_DIRECTORY", here, 1);
		if (chdir("..") < 0)
			exit(2);
	}
	expect_private("credential mode 440, our group: private", "creds", 0440, getegid(), 0);
	expect_private("credential mode 440, group root: private", "creds", 0440, 0, 0);
	expect_private("credential mode 400: private", "creds", 0400, getegid(), 0);
	expect_private("credential mode 440, another group: refused", "creds", 0440, 4242, -1);
	expect_private("credential readable by others (444): refused", "creds", 0444, getegid(), -1);
	expect_private("credential writable by its group (460): refused", "creds", 0460, getegid(), -1);
	expect_private("mode 440 in a directory below the credentials: refused", "creds/sub", 0440,
	               getegid(), -1);
	expect_private("mode 440 beside the credentials: refused", "plain", 0440, getegid(), -1);
	unsetenv("CREDENTIALS_DIRECTORY");
	rmdir("creds/sub");
	rmdir("creds");
	rmdir("plain");
}

/* known_hosts_revoked on a file of one line: want is 1 when it must
 * find that line. */
static void expect_revoked(const char *name, const char *line, const char *host, int port,
                           const ssh_key key, int want)
{
	int got;

	write_file("known_hosts", line);
	got = known_hosts_revoked("known_hosts", host, port, key);
	if (got != want)
		fail(name, "returned %d, expected %d for %s port %d in: %s", got, want, host, port, line);
	else
		pass(name);
}

static void count_report(int line, const char *message, void *ctx)
{
	char *seen = ctx;

	snprintf(seen + strlen(seen), 1024 - strlen(seen), "%d: %s|", line, message);
}

/* @revoked lines, which libssh skips, and the markers sshroute refuses. */
static void test_known_hosts_markers(void)
{
	char *line, *hashed, seen[1024] = "";
	int n;

	line = text_of("@revoked 10.0.0.1 %s\n", keys[ED].line);
	expect_revoked("@revoked: plain host name, port 22", line, "10.0.0.1", 22, keys[ED].key, 1);
	expect_revoked("@revoked: another key is not revoked", line, "10.0.0.1", 22, keys[ECDSA].key, 0);
	expect_revoked("@revoked: another host is not concerned", line, "10.0.0.2", 22, keys[ED].key, 0);
	expect_revoked("@revoked: port 22 only, not another port", line, "10.0.0.1", 2022, keys[ED].key, 0);
	free(line);
	line = text_of("# c\nh 1\n@revoked [10.0.0.1]:2022 %s\n", keys[ED].line);
	expect_revoked("@revoked: [host]:port, line number", line, "10.0.0.1", 2022, keys[ED].key, 3);
	free(line);
	line = text_of("  @revoked other,*.Example.NET,!bad.example.net %s comment\n", keys[RSA].line);
	expect_revoked("@revoked: wildcard, case-insensitive", line, "up.example.net", 22, keys[RSA].key, 1);
	expect_revoked("@revoked: a negated pattern wins", line, "bad.example.net", 22, keys[RSA].key, 0);
	free(line);
	line = text_of("@revoked ?.x %s\n", keys[ED].line);
	expect_revoked("@revoked: ? matches one character", line, "a.x", 22, keys[ED].key, 1);
	expect_revoked("@revoked: ? matches only one", line, "ab.x", 22, keys[ED].key, 0);
	free(line);
	line = text_of("[up.example.net]:2022 %s\n", keys[ED].line);
	write_file("kh-plain", line);
	free(line);
	run("ssh-keygen -q -H -f kh-plain >/dev/null 2>&1 && sed 's/^/@revoked /' kh-plain >kh-hashed");
	hashed = read_file("kh-hashed");
	expect_revoked("@revoked: hashed host name (ssh-keygen -H)", hashed, "UP.example.net", 2022,
	               keys[ED].key, 1);
	expect_revoked("@revoked: hashed, another host", hashed, "up.example.net", 22, keys[ED].key, 0);
	free(hashed);
	if (known_hosts_revoked("nothere", "h", 22, keys[ED].key) != -1)
		fail("@revoked: unreadable known_hosts", "not -1");
	else
		pass("@revoked: unreadable known_hosts");

	line = text_of("h %s\n@cert-authority *.example.net %s\n@revoked h ssh-ed25519 notbase64\n"
	               "@revoked h %s\n@trusted h %s\n", keys[ED].line, keys[ED].line, keys[ED].line,
	               keys[ED].line);
	write_file("known_hosts", line);
	free(line);
	n = known_hosts_check_markers("known_hosts", count_report, seen);
	if (n != 3 || strstr(seen, "2: @cert-authority lines are not supported") == NULL ||
	    strstr(seen, "3: @revoked line without") == NULL || strstr(seen, "5: unknown marker") == NULL)
		fail("markers: @cert-authority, a bad @revoked line and unknown markers reported",
		     "returned %d: %s", n, seen);
	else
		pass("markers: @cert-authority, a bad @revoked line and unknown markers reported");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_open(1);
	make_fixtures();

	test_found_among_several();
	test_comments_and_blank_lines();
	test_options_refused();
	test_long_lines();
	test_malformed_lines();
	test_unsupported_types();
	test_unreadable();
	test_untrusted();
	test_private_keys();
	test_known_hosts_markers();

	remove_fixtures();
	return unit_exit_status();
}
