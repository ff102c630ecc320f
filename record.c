/* record.c: session recordings in asciinema's asciicast v2 format.
 *
 * One file per recorded session channel: a JSON header line, then one
 * JSON array per event, [seconds, code, data]:
 *
 *     {"version": 2, "width": 80, "height": 24, "timestamp": 1764622800, ...}
 *     [0.412345, "o", "hello\r\n"]      output of the upstream
 *     [2.002000, "r", "120x40"]         a window change
 *     [3.500000, "i", "ls\r"]           input (record_input = yes only)
 *     [9.000000, "m", "..."]            a marker: the recording stopped
 *
 * Events are buffered and written out at least once a second (the relay's
 * main loop calls recording_flush), so that a crash loses at most a
 * second. A file never grows beyond record_max_size: an event that would
 * pass it stops the recording with a marker instead. */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "utf8.h"

#define BUFFER_FLUSH ((size_t)64 * 1024)  /* write out once this much waits */
#define USER_IN_NAME_MAX 32
#define FILENAME_SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

static const char stop_marker[] = "sshroute: recording stopped at record_max_size";

struct recording {
	int fd;
	char path[PATH_MAX];
	const char *name;              /* the file name within path */
	struct timespec start;         /* event times count from here */
	char *buf;                     /* events not yet written */
	size_t len, cap;
	struct timespec buffered_since;
	long long size, max_size;      /* bytes in the file, buffered ones too */
	long long keep_free;           /* record_keep_free */
	int stopped;                   /* past max_size: events are dropped */
	unsigned char split[2][3];     /* the start of a UTF-8 sequence that the */
	size_t n_split[2];             /* next data completes, for "o" and "i" */
};

/* ---- the buffer ---- */

static int append(struct recording *r, const char *s, size_t n)
{
	size_t cap = r->cap ? r->cap : BUFFER_FLUSH;
	char *grown;

	while (cap - r->len < n)
		cap *= 2;
	if (cap != r->cap) {
		grown = realloc(r->buf, cap);
		if (grown == NULL)
			return -1;
		r->buf = grown;
		r->cap = cap;
	}
	if (r->len == 0)
		clock_gettime(CLOCK_MONOTONIC, &r->buffered_since);
	memcpy(r->buf + r->len, s, n);
	r->len += n;
	return 0;
}

static int write_out(struct recording *r, char *why, size_t size)
{
	size_t off = 0;
	ssize_t w;

	while (off < r->len) {
		w = write(r->fd, r->buf + off, r->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(why, size, "cannot write %s: %s", r->path,
			         w < 0 ? strerror(errno) : "no progress");
			return -1;
		}
		off += (size_t)w;
	}
	r->len = 0;
	return 0;
}

static double seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* The free-space floor (record_keep_free): 0 when the file system of fd
 * (or, with fd < 0, of dir) has at least keep_free bytes free for an
 * unprivileged writer, else -1 with why set. dir is dir_len bytes long. */
static int check_keep_free(int fd, const char *dir, int dir_len, long long keep_free,
                           char *why, size_t size)
{
	struct statvfs st;
	long long avail;

	if (keep_free <= 0)
		return 0;
	if ((fd >= 0 ? fstatvfs(fd, &st) : statvfs(dir, &st)) < 0) {
		snprintf(why, size, "cannot check the free space of %.*s: %s", dir_len, dir,
		         strerror(errno));
		return -1;
	}
	avail = (long long)st.f_bavail * (long long)st.f_frsize;
	if (avail >= keep_free)
		return 0;
	snprintf(why, size, "%.*s has %lld bytes free, below record_keep_free (%lld bytes)",
	         dir_len, dir, avail, keep_free);
	return -1;
}

int recording_flush(struct recording *r, int force, char *why, size_t size)
{
	if (r->len == 0 || (!force && r->len < BUFFER_FLUSH && seconds_since(&r->buffered_since) < 1.0))
		return 0;
	if (write_out(r, why, size) < 0)
		return -1;
	return check_keep_free(r->fd, r->path, (int)(r->name - r->path - 1), r->keep_free, why, size);
}

/* ---- JSON strings ---- */

/* How the UTF-8 sequence at s (n bytes there) goes into a JSON string:
 * returns the length of its escape, written to esc (0: the bytes go as
 * they are), with *len set to the bytes it takes. Control characters are
 * escaped, invalid UTF-8 becomes U+FFFD. Returns -1 for a sequence that
 * the end of s cuts short, when keep_split is set. */
static int escape_sequence(const unsigned char *s, size_t n, int keep_split, char esc[8], int *len)
{
	*len = utf8_sequence(s, n);
	if (*len < 0 && keep_split)
		return -1;
	if (*len <= 0) {
		*len = 1;
		return snprintf(esc, 8, "\\ufffd");
	}
	if (s[0] == '"' || s[0] == '\\')
		return snprintf(esc, 8, "\\%c", s[0]);
	if (s[0] < 0x20 || s[0] == 0x7F)
		return snprintf(esc, 8, "\\u%04x", s[0]);
	return 0;
}

/* s as the inside of a JSON string: appended to r's buffer when emit, and
 * its length returned either way (so that an event can be measured before
 * it is written); (size_t)-1 when out of memory. *used gets how many bytes
 * of s were taken: all but a sequence that the end of s cut short, when
 * keep_split is set. */
static size_t json_text(struct recording *r, const unsigned char *s, size_t n, int keep_split,
                        size_t *used, int emit)
{
	char esc[8];
	size_t i = 0, out = 0;
	int k, len;

	while (i < n && (k = escape_sequence(s + i, n - i, keep_split, esc, &len)) >= 0) {
		if (emit && (k ? append(r, esc, (size_t)k) : append(r, (const char *)s + i, (size_t)len)) < 0)
			return (size_t)-1;
		out += k ? (size_t)k : (size_t)len;
		i += (size_t)len;
	}
	*used = i;
	return out;
}

/* The bytes of s (whole sequences) whose JSON text fits in room. */
static size_t fitting_prefix(const unsigned char *s, size_t n, long long room)
{
	char esc[8];
	size_t i = 0;
	int k, len;

	while (i < n && (k = escape_sequence(s + i, n - i, 1, esc, &len)) >= 0 &&
	       (room -= k ? k : len) >= 0)
		i += (size_t)len;
	return i;
}

static size_t json_string(struct recording *r, const char *s, int emit)
{
	size_t used;

	return json_text(r, (const unsigned char *)s, strlen(s), 0, &used, emit);
}

/* ---- events ---- */

/* "[seconds, "code", "" with the escaped text between the last quotes. */
static void event_prefix(const struct recording *r, char code, char *out, size_t size)
{
	snprintf(out, size, "[%.6f, \"%c\", \"", seconds_since(&r->start), code);
}

/* Writes the marker that ends a recording at max_size. */
static int stop_recording(struct recording *r)
{
	char prefix[64];

	r->stopped = 1;
	log_info("recording %s reached record_max_size (%lld bytes): recording stopped, the "
	         "session goes on", r->name, r->max_size);
	event_prefix(r, 'm', prefix, sizeof(prefix));
	return append(r, prefix, strlen(prefix)) < 0 || append(r, stop_marker, strlen(stop_marker)) < 0 ||
	       append(r, "\"]\n", 3) < 0 ? -1 : 0;
}

/* What is left below max_size for events, keeping room for the marker
 * that ends a recording there. */
static long long room_left(const struct recording *r)
{
	return r->max_size - r->size - (40 + (long long)sizeof(stop_marker));
}

/* Appends one event: prefix, the JSON text of s, the end. Returns its
 * length, or 0 when out of memory. */
static size_t put_event(struct recording *r, const char *prefix, const unsigned char *s,
                        size_t n, int keep_split, size_t *used)
{
	size_t body;

	if (append(r, prefix, strlen(prefix)) < 0 ||
	    (body = json_text(r, s, n, keep_split, used, 1)) == (size_t)-1 || append(r, "\"]\n", 3) < 0)
		return 0;
	return strlen(prefix) + body + 3;
}

/* One event with text; for "o" and "i", a UTF-8 sequence split at the end
 * of data waits in r->split for the next call. An event that would pass
 * max_size is cut to what fits, and the recording stops there. */
static int text_event(struct recording *r, char code, const unsigned char *data, size_t len,
                      char *why, size_t size)
{
	int side = code == 'i', keep_split = code != 'r', ok = 1, rc = -1;
	size_t held = r->n_split[side], n = held + len, used = 0, event, take;
	unsigned char *copy = NULL;
	const unsigned char *all = data;
	char prefix[64];

	if (r->stopped)
		return 0;
	if (held > 0) {   /* rare: only after a split sequence is data copied */
		copy = malloc(n);
		if (copy == NULL) {
			snprintf(why, size, "out of memory");
			return -1;
		}
		memcpy(copy, r->split[side], held);
		memcpy(copy + held, data, len);
		all = copy;
	}
	event_prefix(r, code, prefix, sizeof(prefix));
	event = strlen(prefix) + json_text(r, all, n, keep_split, &used, 0) + 3;
	if ((long long)event <= room_left(r)) {
		ok = (event = put_event(r, prefix, all, n, keep_split, &used)) != 0;
		r->n_split[side] = n - used;   /* at most 3 bytes */
		memcpy(r->split[side], all + used, n - used);
	} else {
		take = fitting_prefix(all, n, room_left(r) - (long long)strlen(prefix) - 3);
		event = take ? put_event(r, prefix, all, take, 0, &used) : 0;
		ok = (take == 0 || event != 0) && stop_recording(r) == 0;
	}
	r->size += (long long)event;
	if (ok)
		rc = recording_flush(r, r->stopped, why, size);
	else
		snprintf(why, size, "out of memory");
	free(copy);
	return rc;
}

int recording_output(struct recording *r, const char *data, size_t len, char *why, size_t size)
{
	return text_event(r, 'o', (const unsigned char *)data, len, why, size);
}

int recording_input(struct recording *r, const char *data, size_t len, char *why, size_t size)
{
	return text_event(r, 'i', (const unsigned char *)data, len, why, size);
}

int recording_resize(struct recording *r, int width, int height, char *why, size_t size)
{
	char text[32];

	snprintf(text, sizeof(text), "%dx%d", width, height);
	return text_event(r, 'r', (const unsigned char *)text, strlen(text), why, size);
}

/* ---- the file ---- */

/* The client's name as part of a file name: [A-Za-z0-9._-] kept, anything
 * else '_', at most USER_IN_NAME_MAX characters. */
static void filename_safe(const char *user, char *out)
{
	size_t i;

	for (i = 0; i < USER_IN_NAME_MAX && user[i]; i++) {
		out[i] = user[i];
		if (strchr(FILENAME_SAFE, user[i]) == NULL)
			out[i] = '_';
	}
	out[i] = '\0';
}

static int make_path(struct recording *r, const struct recording_header *h)
{
	char user[USER_IN_NAME_MAX + 1], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	filename_safe(h->user, user);
	if (gmtime_r(&now, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return -1;
	n = snprintf(r->path, sizeof(r->path), "%s/%s-%s-%ld-%lu.cast", h->dir, stamp, user,
	             (long)getpid(), h->channel);
	if (n < 0 || (size_t)n >= sizeof(r->path))
		return -1;
	r->name = r->path + strlen(h->dir) + 1;
	return 0;
}

static int write_header(struct recording *r, const struct recording_header *h, char *why,
                        size_t size)
{
	char head[128];
	int rc;

	snprintf(head, sizeof(head), "{\"version\": 2, \"width\": %d, \"height\": %d, "
	         "\"timestamp\": %lld, \"title\": \"", h->width, h->height, (long long)time(NULL));
	rc = append(r, head, strlen(head));
	rc |= json_string(r, h->title, 1) == (size_t)-1 ? -1 : 0;
	if (h->term != NULL) {
		rc |= append(r, "\", \"env\": {\"TERM\": \"", 20);
		rc |= json_string(r, h->term, 1) == (size_t)-1 ? -1 : 0;
		rc |= append(r, "\"}}\n", 4);
	} else {
		rc |= append(r, "\"}\n", 3);
	}
	r->size = (long long)r->len;
	if (rc != 0) {
		snprintf(why, size, "out of memory");
		return -1;
	}
	return write_out(r, why, size);
}

struct recording *recording_open(const struct recording_header *h, char *why, size_t size)
{
	struct recording *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(why, size, "out of memory");
		return NULL;
	}
	r->fd = -1;
	r->max_size = h->max_size;
	r->keep_free = h->keep_free;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	if (make_path(r, h) < 0) {
		snprintf(why, size, "record_dir %s: name too long", h->dir);
	} else if (check_keep_free(-1, h->dir, (int)strlen(h->dir), r->keep_free, why, size) < 0) {
		/* refused before a file exists */
	} else if ((r->fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                         0640)) < 0) {
		snprintf(why, size, "cannot create %s: %s", r->path, strerror(errno));
	} else if (fchmod(r->fd, 0640) < 0) {   /* the unit's UMask=0077 would make it 0600 */
		snprintf(why, size, "cannot chmod %s: %s", r->path, strerror(errno));
	} else if (write_header(r, h, why, size) == 0) {
		return r;
	}
	recording_close(r, r->fd >= 0);
	return NULL;
}

const char *recording_name(const struct recording *r)
{
	return r->name;
}

int recording_close(struct recording *r, int discard)
{
	char why[256];
	int rc = 0;

	if (r == NULL)
		return 0;
	if (r->fd >= 0 && !discard && r->len > 0 && write_out(r, why, sizeof(why)) < 0) {
		log_error("session recording: %s", why);
		rc = -1;
	}
	if (r->fd >= 0 && close(r->fd) < 0)
		rc = -1;
	if (r->fd >= 0 && discard)
		unlink(r->path);
	free(r->buf);
	free(r);
	return rc;
}
