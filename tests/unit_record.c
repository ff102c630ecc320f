/* unit_record.c: unit tests for session recordings (record.c).
 *
 * Writes recordings into a temporary directory and reads them back with
 * Python's json module: every line must be JSON, and the text must come
 * out as the terminal would show it (UTF-8 split across writes joined,
 * invalid bytes as U+FFFD, control characters escaped). Prints one line
 * per case. */
#include "record.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

static char tmpdir[] = "/run/unit_record.XXXXXX";

static struct recording_header header(const char *user, unsigned long channel, long long max)
{
	struct recording_header h = { tmpdir, user, channel, 80, 24, "xterm", "a \"title\"\n", max, 0 };

	return h;
}

/* The recording of user's channel, checked by a Python expression over
 * header and events (see tests/t-record.sh's cast_check). */
static int check_cast(const char *user, unsigned long channel, const char *expression)
{
	char command[1024];

	snprintf(command, sizeof(command),
	         "/usr/bin/python3 -c 'import glob, json, sys\n"
	         "f = glob.glob(\"%s/*-%s-*-%lu.cast\")[0]\n"
	         "lines = open(f, encoding=\"utf-8\").read().splitlines()\n"
	         "header = json.loads(lines[0]); events = [json.loads(l) for l in lines[1:]]\n"
	         "text = lambda c: \"\".join(e[2] for e in events if e[1] == c)\n"
	         "sys.exit(0 if %s else 1)'", tmpdir, user, channel, expression);
	return system(command) == 0 ? 0 : -1;
}

static void expect_cast(const char *name, const char *user, unsigned long channel,
                        const char *expression)
{
	if (check_cast(user, channel, expression) == 0)
		pass(name);
	else
		fail(name, "not true of the recording: %s", expression);
}

static void test_text(void)
{
	struct recording_header h = header("alice", 1, RECORD_MAX_SIZE_DEFAULT);
	char why[256] = "";
	struct recording *r = recording_open(&h, why, sizeof(why));
	int rc = 0;

	if (r == NULL) {
		fail("text: open", "%s", why);
		return;
	}
	rc |= recording_output(r, "caf\xc3", 4, why, sizeof(why));   /* é split in two */
	rc |= recording_output(r, "\xa9 \"q\" \\ \x1b[1m\x07\r\n", 15, why, sizeof(why));
	rc |= recording_output(r, "bad \xff\xfe end", 10, why, sizeof(why));
	rc |= recording_input(r, "\xe2\x82", 2, why, sizeof(why));   /* € in two */
	rc |= recording_input(r, "\xac", 1, why, sizeof(why));
	rc |= recording_resize(r, 120, 40, why, sizeof(why));
	rc |= recording_close(r, 0);
	if (rc != 0) {
		fail("text: write", "%s", why);
		return;
	}
	expect_cast("header: version, size, TERM, title escaped", "alice", 1,
	            "header[\"version\"] == 2 and header[\"width\"] == 80 and header[\"height\"] == 24 "
	            "and header[\"env\"][\"TERM\"] == \"xterm\" and header[\"title\"] == \"a \\\"title\\\"\\n\"");
	expect_cast("output: UTF-8 split across writes is joined", "alice", 1,
	            "text(\"o\").startswith(\"caf\\u00e9 \")");
	expect_cast("output: quotes, backslash and control characters survive", "alice", 1,
	            "\" \\\"q\\\" \\\\ \\x1b[1m\\x07\\r\\n\" in text(\"o\")");
	expect_cast("output: invalid bytes become U+FFFD", "alice", 1,
	            "\"bad \\ufffd\\ufffd end\" in text(\"o\")");
	expect_cast("input: its own events, split UTF-8 joined", "alice", 1, "text(\"i\") == \"\\u20ac\"");
	expect_cast("resize: an r event", "alice", 1, "text(\"r\") == \"120x40\"");
}

static void test_max_size(void)
{
	struct recording_header h = header("bob", 2, 4096);
	char why[256] = "", chunk[1000], command[256];
	struct recording *r = recording_open(&h, why, sizeof(why));
	int i, rc = 0;

	if (r == NULL) {
		fail("max size: open", "%s", why);
		return;
	}
	memset(chunk, 'x', sizeof(chunk));
	for (i = 0; i < 20; i++)
		rc |= recording_output(r, chunk, sizeof(chunk), why, sizeof(why));
	rc |= recording_close(r, 0);
	if (rc != 0) {
		fail("max size: writes go on, dropped", "%s", why);
		return;
	}
	expect_cast("max size: a marker ends the recording", "bob", 2,
	            "events[-1][1] == \"m\" and len(text(\"o\")) > 2000");
	snprintf(command, sizeof(command), "test $(stat -c %%s %s/*-bob-*-2.cast) -le 4096", tmpdir);
	if (system(command) == 0)
		pass("max size: the file stays within it");
	else
		fail("max size: the file stays within it", "larger than 4096 bytes");
}

static void test_refusals(void)
{
	struct recording_header h = header("carol", 3, RECORD_MAX_SIZE_DEFAULT);
	char why[256] = "";
	struct recording *r;

	h.dir = "/nonexistent-srt-dir";
	r = recording_open(&h, why, sizeof(why));
	if (r == NULL && strstr(why, "No such file or directory") != NULL)
		pass("a missing directory: refused, with the reason");
	else
		fail("a missing directory: refused, with the reason", "%s", why);
	recording_close(r, 0);
	h = header("../../etc/x y", 4, RECORD_MAX_SIZE_DEFAULT);
	r = recording_open(&h, why, sizeof(why));
	if (r != NULL && strstr(recording_name(r), "/") == NULL &&
	    strstr(recording_name(r), "-.._.._etc_x_y-") != NULL)
		pass("a user name is made safe for a file name");
	else
		fail("a user name is made safe for a file name", "%s", r ? recording_name(r) : why);
	recording_close(r, 1);
	h = header("dave", 5, RECORD_MAX_SIZE_DEFAULT);
	h.keep_free = 1LL << 50;   /* more than any disk here has free */
	r = recording_open(&h, why, sizeof(why));
	if (r == NULL && strstr(why, "below record_keep_free (1125899906842624 bytes)") != NULL &&
	    system("! ls /run/unit_record.*/*-dave-* >/dev/null 2>&1") == 0)
		pass("record_keep_free: refused below it, with the reason, and no file made");
	else
		fail("record_keep_free: refused below it, with the reason, and no file made", "%s", why);
	recording_close(r, 1);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror(tmpdir);
		return 2;
	}
	test_text();
	test_max_size();
	test_refusals();
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return unit_exit_status();
}
