/* record.h: session recordings in asciinema's asciicast v2 format. */
#ifndef SSHROUTE_RECORD_H
#define SSHROUTE_RECORD_H

#include <stddef.h>

#define RECORD_DIR_DEFAULT "/var/log/sshroute/sessions"
#define RECORD_MAX_SIZE_DEFAULT (100LL * 1024 * 1024)
/* record_keep_free's default: the file system of record_dir keeps this
 * much free, as journald's SystemKeepFree= does for the journal. */
#define RECORD_KEEP_FREE_DEFAULT (256LL * 1024 * 1024)

struct recording;

/* What the header says about one session channel. */
struct recording_header {
	const char *dir;       /* record_dir */
	const char *user;      /* the client's user name (made filename-safe) */
	unsigned long channel; /* the channel's number in the session record */
	int width, height;     /* from the pty request; 80x24 without one */
	const char *term;      /* TERM from the pty request, NULL without one */
	const char *title;     /* user, upstream, route and command */
	long long max_size;    /* record_max_size */
	long long keep_free;   /* record_keep_free: bytes the file system keeps free */
};

/* Creates DIR/YYYYMMDDTHHMMSSZ-USER-PID-CHANNEL.cast (mode 0640, never
 * over an existing file) and writes the header. Returns NULL with why
 * (size bytes) set when that fails, or when DIR's file system has less
 * than keep_free bytes free. */
struct recording *recording_open(const struct recording_header *h, char *why, size_t size);

/* Events: output from the upstream ("o"), input from the client ("i"), a
 * window change ("r"). Output is decoded as UTF-8, split sequences kept
 * for the next call and invalid bytes written as U+FFFD. Return 0, or -1
 * when the file cannot be written (why set, as recording_open). Past
 * record_max_size the recording stops with a marker event ("m") and a
 * log line; events are then dropped and 0 returned. */
int recording_output(struct recording *r, const char *data, size_t len, char *why, size_t size);
int recording_input(struct recording *r, const char *data, size_t len, char *why, size_t size);
int recording_resize(struct recording *r, int width, int height, char *why, size_t size);

/* Writes out what is buffered when it is older than a second, or at
 * once with force. Returns 0, or -1 when the file cannot be written or
 * its file system is left with less than keep_free bytes free. */
int recording_flush(struct recording *r, int force, char *why, size_t size);

/* The file's name, without its directory. */
const char *recording_name(const struct recording *r);

/* Flushes, closes and frees. With discard, the file is removed (the
 * session never started). Returns 0, or -1 when the last write failed. */
int recording_close(struct recording *r, int discard);

#endif
