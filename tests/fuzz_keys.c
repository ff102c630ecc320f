/* fuzz_keys.c: libFuzzer target for authorized_keys_match (keys.c).
 *
 * The input is the contents of an authorized_keys file; the key looked
 * for is a fixed ed25519 key (KEY_LINE; the seed corpus lists it in many
 * ways). The file lives in a directory made at start-up under /run, which
 * keys.c trusts (sshd's StrictModes rule; /tmp would not do), and is
 * rewritten in place for every input. Besides the sanitizers' memory checks,
 * the reader holds the promises of its interface:
 * - the result is 0 or 1;
 * - a key listed with options is never accepted: the same file with
 *   from="*" put before every line matches nothing;
 * - a commented-out file matches nothing: "#" before every line;
 * - no line, however malformed or long, stops the reader: the same file
 *   with KEY_LINE appended on a line of its own always matches;
 * - the same file gives the same answer twice.
 * A broken promise aborts, which libFuzzer reports with the input.
 *
 * keys.c logs through log.c (stderr with -e): the log lines are sent to
 * /dev/null by pointing the stdio stream stderr there. File descriptor 2
 * stays open for the sanitizers' and libFuzzer's own reports.
 *
 * With clang: make tests/fuzz_keys, then
 *   tests/fuzz_keys -runs=100000 WORK_DIR tests/corpus/keys
 * With FUZZ_STANDALONE (gcc), tests/fuzz_standalone.c supplies main. */
#include "keys.h"
#include "log.h"

#include <libssh/libssh.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define KEY_BASE64 "AAAAC3NzaC1lZDI1NTE5AAAAILzOZnhW2la6N1aQacDRKCYXPXnX0gmfNBHC/+pHgOlm"
#define KEY_LINE "ssh-ed25519 " KEY_BASE64 " fuzz"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ssh_key key;
static int fd = -1;
static char dir[64];
static char path[sizeof(dir) + 32];
static FILE *messages;   /* the real stderr, for broken promises */

static void fatal(const char *what)
{
	fprintf(messages ? messages : stderr, "fuzz_keys: %s\n", what);
	abort();
}

static void broken(const char *promise, size_t size)
{
	fprintf(messages, "fuzz_keys: %s (input of %zu bytes)\n", promise, size);
	abort();
}

static void remove_file(void)
{
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	char why[512];
	FILE *null;

	if (key != NULL)
		return;
	null = fopen("/dev/null", "w");
	if (null == NULL)
		fatal("cannot open /dev/null");
	messages = stderr;
	stderr = null;
	log_open(1);
	log_set_level(LOG_LEVEL_DEBUG);   /* every line formatted, none shown */
	if (ssh_pki_import_pubkey_base64(KEY_BASE64, SSH_KEYTYPE_ED25519, &key) != SSH_OK)
		fatal("cannot import the fixed key");
	snprintf(dir, sizeof(dir), "/run/fuzz_keys.XXXXXX");
	if (mkdtemp(dir) == NULL)
		fatal("cannot make a directory in /run (run as root)");
	snprintf(path, sizeof(path), "%s/authorized_keys", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fatal("cannot create the authorized_keys file");
	atexit(remove_file);
	if (key_file_is_trusted(path, NULL, why, sizeof(why)) < 0)
		fatal(why);
}

/* authorized_keys_match on a file holding exactly len bytes of text. */
static int match(const void *text, size_t len)
{
	if (ftruncate(fd, 0) < 0 ||
	    (len > 0 && pwrite(fd, text, len, 0) != (ssize_t)len))
		fatal("cannot write the authorized_keys file");
	return authorized_keys_match(path, key);
}

/* The input with prefix put before every line (lines end at '\n', as
 * getline reads them). Returns its length; *out is malloc'd. */
static size_t prefix_lines(const uint8_t *data, size_t size, const char *prefix, char **out)
{
	size_t plen = strlen(prefix), lines = 1, i, n = 0;
	char *buf;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	buf = malloc(size + lines * plen + 1);
	if (buf == NULL)
		fatal("out of memory");
	memcpy(buf, prefix, plen);
	n = plen;
	for (i = 0; i < size; i++) {
		buf[n++] = (char)data[i];
		if (data[i] == '\n' && i + 1 < size) {
			memcpy(buf + n, prefix, plen);
			n += plen;
		}
	}
	*out = buf;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char appended[] = "\n" KEY_LINE "\n";
	char *text;
	size_t len;
	int r;

	setup();
	r = match(data, size);
	if (r != 0 && r != 1)
		broken("result is neither 0 nor 1", size);
	if (match(data, size) != r)
		broken("the same file gives another answer", size);

	len = prefix_lines(data, size, "from=\"*\" ", &text);
	if (match(text, len) != 0)
		broken("a key listed with options is accepted", size);
	free(text);

	len = prefix_lines(data, size, "#", &text);
	if (match(text, len) != 0)
		broken("a commented-out line is accepted", size);
	free(text);

	text = malloc(size + sizeof(appended));
	if (text == NULL)
		fatal("out of memory");
	if (size > 0)
		memcpy(text, data, size);
	memcpy(text + size, appended, sizeof(appended) - 1);
	if (match(text, size + sizeof(appended) - 1) != 1)
		broken("the key on a line after this input is not found", size);
	free(text);
	return 0;
}
