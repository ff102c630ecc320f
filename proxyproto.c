/* proxyproto.c: parse and read the PROXY protocol header.
 *
 * Behind a load balancer the socket's peer is the balancer; the header it
 * sends first names the real client. Whoever can send a header can claim
 * any address, so sshroute only expects one when proxy_protocol is on and
 * parses it strictly: the specification says that anything that does not
 * exactly match the protocol must abort the connection.
 *
 * The parser is incremental: it tells "valid so far, need more" (0) from
 * "can never become valid" (-1), and it refuses as early as it can, so a
 * peer sending garbage is dropped at its first wrong byte rather than at
 * the timeout. A return of 0 promises no more than that no error was found
 * yet: an unfinished v1 address is only checked with inet_pton once the
 * space after it arrives, and v2 TLVs once the whole header is there.
 *
 * Limits:
 * - v1: the line, CRLF included, is at most 107 bytes (the specification's
 *   worst case, "PROXY UNKNOWN" with two full IPv6 addresses and ports).
 * - v2: the address block plus TLVs is at most 1024 bytes, so a header is
 *   at most PROXY_HEADER_MAX = 1040 bytes. The specification keeps headers
 *   within 536 bytes (one minimal TCP segment) so they arrive at once, but
 *   TLVs may exceed that: HAProxy's unique-id (up to 128 bytes), authority
 *   (up to 255), SSL details and cloud vendors' TLVs add up to more. 1024
 *   bytes covers them with room to spare and still bounds what a peer can
 *   make us read before it is authenticated.
 *
 * What is accepted:
 * - v1 "TCP4" and "TCP6" lines with addresses of the matching family and
 *   decimal ports without sign or leading zero; "UNKNOWN" followed by CRLF
 *   or by a space and any printable text (the specification says to ignore
 *   it), which means "use the socket's addresses".
 * - v2 version 2 only; command PROXY with TCP over IPv4 (0x11) or IPv6
 *   (0x21), whose address block must hold the family's addresses and ports;
 *   command LOCAL with any family and any block, which is skipped. After
 *   the addresses of a PROXY header come TLVs: their framing must be exact
 *   (as HAProxy checks it), their contents are ignored, a CRC32C included.
 *   UDP, UNIX and UNSPEC families are refused for PROXY: sshroute relays
 *   TCP only, and HAProxy sends LOCAL, not PROXY/UNSPEC, when it has no
 *   address to give. */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define V1_MAX_LEN 107          /* the longest line, CRLF included */
#define V1_MIN_LEN 15           /* "PROXY UNKNOWN\r\n", the shortest header */
#define V1_PREFIX "PROXY "
#define V1_PREFIX_LEN 6

#define V2_SIGNATURE_LEN 12
#define V2_FIXED_LEN 16         /* signature, version and command, family, length */
#define V2_VERSION 0x2
#define V2_LOCAL 0x0
#define V2_PROXY 0x1
#define V2_TCP4 0x11
#define V2_UDP4 0x12
#define V2_TCP6 0x21
#define V2_UDP6 0x22
#define V2_UNIX_STREAM 0x31
#define V2_UNIX_DGRAM 0x32
#define V2_IPV4_BLOCK 12        /* two addresses of 4 bytes, two ports */
#define V2_IPV6_BLOCK 36        /* two addresses of 16 bytes, two ports */
#define TLV_HEADER_LEN 3        /* type, length (big-endian) */

static const unsigned char v2_signature[V2_SIGNATURE_LEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Sets the reason for a refusal and returns -1, so that every refusal is
 * one statement. */
static int reject(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -1;
}

static unsigned read_be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Stores an address (4 or 16 bytes, network byte order) and a port (host
 * byte order) as a socket address of family. */
static void store_address(struct sockaddr_storage *ss, int family,
                          const unsigned char *addr, unsigned port)
{
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons((unsigned short)port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = htons((unsigned short)port);
	}
}

/* ---- version 1: one line of text ---- */

/* Finds the end of the v1 line. Returns its length with the CRLF when it is
 * complete, 0 when more bytes are needed, -1 when no valid line can start
 * with these bytes: a byte that is not printable ASCII, a CR without LF, a
 * bare LF, or no CR early enough for the CRLF to end within 107 bytes.
 * *content gets the number of bytes before the CR, or of all the bytes
 * when the line is not complete. */
static int v1_line_length(const unsigned char *buf, size_t len, size_t *content,
                          const char **why)
{
	size_t i;

	for (i = 0; i < len && i + 2 <= V1_MAX_LEN; i++) {
		if (buf[i] == '\r') {
			*content = i;
			if (i + 1 == len)
				return 0;
			if (buf[i + 1] != '\n')
				return reject(why, "v1 line has a CR without LF");
			return (int)(i + 2);
		}
		if (buf[i] == '\n')
			return reject(why, "v1 line ends without CR");
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return reject(why, "v1 line has a byte that is not printable ASCII");
	}
	if (i + 2 > V1_MAX_LEN)
		return reject(why, "v1 line has no CRLF within 107 bytes");
	*content = i;
	return 0;
}

/* A v1 line read field by field. end is the CR when the line is complete,
 * else the end of the bytes received so far. */
struct v1_cursor {
	const char *line;
	size_t pos;
	size_t end;
	int complete;
};

/* Takes the next field, which runs to the next space or to the end.
 * Returns 1 when the field is complete, with *at_eol telling whether the
 * line ends behind it; 0 when it may still continue in bytes not received
 * yet. Either way *field and *n hold what there is of it. */
static int v1_next_field(struct v1_cursor *c, const char **field, size_t *n, int *at_eol)
{
	size_t i = c->pos;

	while (i < c->end && c->line[i] != ' ')
		i++;
	*field = c->line + c->pos;
	*n = i - c->pos;
	*at_eol = i == c->end;
	c->pos = i < c->end ? i + 1 : i;
	return i < c->end || c->complete;
}

/* Returns 1 when the n bytes at text are name, or with partial set, the
 * start of name. */
static int field_is(const char *text, size_t n, int partial, const char *name)
{
	size_t name_len = strlen(name);

	if (partial ? n > name_len : n != name_len)
		return 0;
	return memcmp(text, name, n) == 0;
}

/* Maps the v1 protocol field to AF_INET ("TCP4"), AF_INET6 ("TCP6") or
 * AF_UNSPEC ("UNKNOWN"); -1 for anything else. With partial set, a field
 * that may still grow into one of them maps to AF_UNSPEC. */
static int v1_protocol(const char *field, size_t n, int partial)
{
	if (field_is(field, n, partial, "TCP4"))
		return partial ? AF_UNSPEC : AF_INET;
	if (field_is(field, n, partial, "TCP6"))
		return partial ? AF_UNSPEC : AF_INET6;
	if (field_is(field, n, partial, "UNKNOWN"))
		return AF_UNSPEC;
	return -1;
}

/* Checks a v1 address of family and stores it in addr (4 or 16 bytes).
 * A complete one must be what inet_pton accepts, which refuses leading
 * zeroes in IPv4 and anything but the canonical forms. A partial one only
 * has to use the family's characters and fit in its longest text form. */
static int v1_address(const char *field, size_t n, int family, int partial,
                      unsigned char *addr)
{
	static const char ipv4_chars[] = "0123456789.";
	static const char ipv6_chars[] = "0123456789abcdefABCDEF:.";
	const char *allowed = family == AF_INET ? ipv4_chars : ipv6_chars;
	size_t longest = family == AF_INET ? INET_ADDRSTRLEN - 1 : INET6_ADDRSTRLEN - 1;
	char text[INET6_ADDRSTRLEN];
	size_t i;

	if (n > longest)
		return 0;
	for (i = 0; i < n; i++)
		/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): strchr would take NUL */
		if (!memchr(allowed, field[i], strlen(allowed)))
			return 0;
	if (partial)
		return 1;
	memcpy(text, field, n);
	text[n] = '\0';
	return inet_pton(family, text, addr) == 1;
}

/* Checks a v1 port: decimal 0..65535, no sign, no leading zero except in
 * "0" itself. With partial set, more digits may follow, so only what can
 * no longer become valid is refused. */
static int v1_port(const char *field, size_t n, int partial, unsigned *port)
{
	unsigned long value = 0;
	size_t i;

	if (n == 0)
		return partial;
	if (n > 5 || (field[0] == '0' && n > 1))
		return 0;
	for (i = 0; i < n; i++) {
		if (field[i] < '0' || field[i] > '9')
			return 0;
		value = value * 10 + (unsigned long)(field[i] - '0');
	}
	if (value > 65535)
		return 0;
	*port = (unsigned)value;
	return 1;
}

/* Reads the four fields behind "TCP4 " or "TCP6 ": source and destination
 * address, source and destination port, each followed by exactly one space
 * but the last, which the CRLF follows. Returns 1 when all are complete
 * and valid, 0 when more bytes are needed, -1 when invalid. */
static int v1_inet_fields(struct v1_cursor *c, int family, struct proxy_header *h,
                          const char **why)
{
	unsigned char addr[2][16];
	unsigned port[2] = { 0, 0 };
	const char *field;
	size_t n;
	int i, complete, at_eol, ok;

	for (i = 0; i < 4; i++) {
		complete = v1_next_field(c, &field, &n, &at_eol);
		if (complete && n == 0)
			return reject(why, "v1 fields must be separated by exactly one space");
		if (i < 2)
			ok = v1_address(field, n, family, !complete, addr[i]);
		else
			ok = v1_port(field, n, !complete, &port[i - 2]);
		if (!ok)
			return reject(why, i < 2 ? "v1 address is not valid for the protocol"
			                         : "v1 port is not a decimal number 0..65535");
		if (!complete)
			return 0;
		if (at_eol && i < 3)
			return reject(why, "v1 line ends before its last field");
		if (!at_eol && i == 3)
			return reject(why, "v1 line has more than four fields after the protocol");
	}
	store_address(&h->source, family, addr[0], port[0]);
	store_address(&h->destination, family, addr[1], port[1]);
	return 1;
}

/* Parses a v1 line: "PROXY TCP4 ...\r\n", "PROXY TCP6 ...\r\n" or
 * "PROXY UNKNOWN...\r\n". */
static int parse_v1(const unsigned char *buf, size_t len, struct proxy_header *h,
                    const char **why)
{
	struct v1_cursor c;
	const char *field;
	size_t content, n;
	int line, complete, at_eol, family, r;

	line = v1_line_length(buf, len, &content, why);
	if (line < 0)
		return -1;
	n = content < V1_PREFIX_LEN ? content : V1_PREFIX_LEN;
	if (memcmp(buf, V1_PREFIX, n) != 0)
		return reject(why, "not a PROXY protocol header");
	if (content < V1_PREFIX_LEN)
		return line ? reject(why, "v1 line ends before the protocol") : 0;

	c.line = (const char *)buf;
	c.pos = V1_PREFIX_LEN;
	c.end = content;
	c.complete = line > 0;
	complete = v1_next_field(&c, &field, &n, &at_eol);
	if (complete && n == 0)
		return reject(why, "v1 fields must be separated by exactly one space");
	family = v1_protocol(field, n, !complete);
	if (family < 0)
		return reject(why, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
	if (!complete)
		return 0;
	if (family == AF_UNSPEC) {
		/* The rest of an UNKNOWN line is to be ignored. */
		h->local = 1;
		return line;
	}
	if (at_eol)
		return reject(why, "v1 line ends after the protocol");
	r = v1_inet_fields(&c, family, h, why);
	return r <= 0 ? r : line;
}

/* ---- version 2: binary ---- */

/* Checks the family and transport byte of a PROXY command. Returns the
 * length of the addresses it announces, or -1 when sshroute cannot use it. */
static int v2_address_length(unsigned family, const char **why)
{
	switch (family) {
	case V2_TCP4:
		return V2_IPV4_BLOCK;
	case V2_TCP6:
		return V2_IPV6_BLOCK;
	case V2_UDP4:
	case V2_UDP6:
		return reject(why, "v2 UDP is not supported");
	case V2_UNIX_STREAM:
	case V2_UNIX_DGRAM:
		return reject(why, "v2 UNIX family is not supported");
	case 0x00:
		return reject(why, "v2 PROXY command with unspecified family");
	default:
		return reject(why, "v2 family or transport is not valid");
	}
}

/* Checks that the bytes after the addresses are a sequence of whole TLVs:
 * type, 16-bit length, value. Their values are not used. */
static int v2_check_tlvs(const unsigned char *p, size_t len, const char **why)
{
	size_t value_len;

	while (len > 0) {
		if (len < TLV_HEADER_LEN)
			return reject(why, "v2 TLV is truncated");
		value_len = read_be16(p + 1);
		if (value_len > len - TLV_HEADER_LEN)
			return reject(why, "v2 TLV runs past the header");
		p += TLV_HEADER_LEN + value_len;
		len -= TLV_HEADER_LEN + value_len;
	}
	return 0;
}

/* Stores the addresses of a complete PROXY header's block. */
static void v2_store_addresses(const unsigned char *block, unsigned family,
                               struct proxy_header *h)
{
	if (family == V2_TCP4) {
		store_address(&h->source, AF_INET, block, read_be16(block + 8));
		store_address(&h->destination, AF_INET, block + 4, read_be16(block + 10));
	} else {
		store_address(&h->source, AF_INET6, block, read_be16(block + 32));
		store_address(&h->destination, AF_INET6, block + 16, read_be16(block + 34));
	}
}

/* Parses a v2 header: 12-byte signature, version and command, family and
 * transport, big-endian length of what follows, then addresses and TLVs.
 * Each byte is checked as soon as it is there. */
static int parse_v2(const unsigned char *buf, size_t len, struct proxy_header *h,
                    const char **why)
{
	size_t n = len < V2_SIGNATURE_LEN ? len : V2_SIGNATURE_LEN;
	unsigned command, family, block_len;
	int address_len = 0;

	if (memcmp(buf, v2_signature, n) != 0)
		return reject(why, "not a PROXY protocol header");
	if (len < V2_SIGNATURE_LEN + 1)
		return 0;
	if (buf[V2_SIGNATURE_LEN] >> 4 != V2_VERSION)
		return reject(why, "v2 version is not 2");
	command = buf[V2_SIGNATURE_LEN] & 0x0f;
	if (command != V2_LOCAL && command != V2_PROXY)
		return reject(why, "v2 command is not LOCAL or PROXY");
	if (len < V2_SIGNATURE_LEN + 2)
		return 0;
	family = buf[V2_SIGNATURE_LEN + 1];
	if (command == V2_PROXY && (address_len = v2_address_length(family, why)) < 0)
		return -1;
	if (len < V2_FIXED_LEN)
		return 0;
	block_len = read_be16(buf + 14);
	if (block_len > PROXY_HEADER_MAX - V2_FIXED_LEN)
		return reject(why, "v2 header is longer than 1040 bytes");
	if (block_len < (unsigned)address_len)
		return reject(why, "v2 address block is shorter than its family's addresses");
	if (len < V2_FIXED_LEN + block_len)
		return 0;
	if (command == V2_LOCAL) {
		/* Health checks and the like: the family and block are ignored. */
		h->local = 1;
		return (int)(V2_FIXED_LEN + block_len);
	}
	if (v2_check_tlvs(buf + V2_FIXED_LEN + address_len, block_len - address_len, why) < 0)
		return -1;
	v2_store_addresses(buf + V2_FIXED_LEN, family, h);
	return (int)(V2_FIXED_LEN + block_len);
}

int proxy_header_parse(const unsigned char *buf, size_t len, struct proxy_header *out,
                       const char **why)
{
	struct proxy_header h;
	int r;

	if (len == 0)
		return 0;
	memset(&h, 0, sizeof h);
	h.source.ss_family = AF_UNSPEC;
	h.destination.ss_family = AF_UNSPEC;
	if (buf[0] == v2_signature[0])
		r = parse_v2(buf, len, &h, why);
	else
		r = parse_v1(buf, len, &h, why);
	if (r > 0)
		*out = h;
	return r;
}

/* ---- reading from a socket ---- */

/* Milliseconds from now until deadline (CLOCK_MONOTONIC), 0 when past. */
static int ms_until(const struct timespec *deadline)
{
	struct timespec now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(deadline->tv_sec - now.tv_sec) * 1000000000 +
	     (deadline->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return ns / 1000000 >= 1000000000 ? 1000000000 : (int)((ns + 999999) / 1000000);
}

/* How many more bytes can be read without risking a byte past the header,
 * given the have bytes already read, which proxy_header_parse found to be
 * an incomplete header. Every header is at least 15 bytes; a v2 header
 * announces its length in its 16 fixed bytes; a v1 line can end at any
 * byte, so it is read one byte at a time (at most 107 small reads, once
 * per connection: nothing next to the key exchange that follows). */
static size_t safe_read_size(const unsigned char *buf, size_t have)
{
	if (have > 0 && buf[0] == v2_signature[0]) {
		if (have < V2_FIXED_LEN)
			return V2_FIXED_LEN - have;
		return V2_FIXED_LEN + read_be16(buf + 14) - have;
	}
	if (have < V1_MIN_LEN)
		return V1_MIN_LEN - have;
	return 1;
}

/* Waits until fd is readable or deadline passes, then reads at most want
 * bytes. Returns the number read (> 0), or -1 with a reason. Signals that
 * interrupt poll or read are not failures: the wait goes on until the
 * same deadline. */
static ssize_t read_before(int fd, unsigned char *p, size_t want,
                           const struct timespec *deadline, const char **why)
{
	struct pollfd pfd;
	ssize_t got;
	int ready;

	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		ready = poll(&pfd, 1, ms_until(deadline));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return reject(why, "poll failed while waiting for the PROXY header");
		if (ready == 0)
			return reject(why, "timed out waiting for the PROXY header");
		got = read(fd, p, want);
		if (got > 0)
			return got;
		if (got == 0)
			return reject(why, "connection closed before the PROXY header ended");
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return reject(why, "read failed while reading the PROXY header");
	}
}

int proxy_header_read(int fd, int timeout_ms, struct proxy_header *out, const char **why)
{
	unsigned char buf[PROXY_HEADER_MAX] = { 0 };
	struct timespec deadline;
	size_t have = 0, want;
	ssize_t got;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout_ms > 0) {
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	for (;;) {
		r = proxy_header_parse(buf, have, out, why);
		if (r > 0)
			return 0;
		if (r < 0)
			return -1;
		want = safe_read_size(buf, have);
		if (want == 0 || want > sizeof buf - have)
			return reject(why, "PROXY header is too long");
		got = read_before(fd, buf + have, want, &deadline, why);
		if (got < 0)
			return -1;
		have += (size_t)got;
	}
}
