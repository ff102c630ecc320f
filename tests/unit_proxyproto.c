/* unit_proxyproto.c: unit tests for the PROXY protocol parser and reader
 * (proxyproto.c).
 *
 * Feeds proxy_header_parse valid headers of every kind, each of them cut
 * at every length (which must ask for more bytes), and each kind of bad
 * input (which must be refused). Then runs proxy_header_read over a
 * socketpair against a peer that sends a header followed by an SSH banner,
 * sends it in pieces, stays silent, drips, or hangs up. Prints one line
 * per case, "ok - NAME" or "not ok - NAME: detail", and exits 1 when any
 * case failed. */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#define BANNER "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"


/* ---- building headers ---- */

static const unsigned char v2_signature[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Writes a v2 header with the given version/command and family bytes, a
 * length field of length and block_len bytes of block; returns its size. */
static size_t v2_build(unsigned char *out, unsigned ver_cmd, unsigned family,
                       unsigned length, const unsigned char *block, size_t block_len)
{
	memcpy(out, v2_signature, 12);
	out[12] = (unsigned char)ver_cmd;
	out[13] = (unsigned char)family;
	out[14] = (unsigned char)(length >> 8);
	out[15] = (unsigned char)length;
	if (block_len)
		memcpy(out + 16, block, block_len);
	return 16 + block_len;
}

/* 192.0.2.10:51234 -> 198.51.100.7:22, then tlv_len bytes of TLVs. */
static size_t v2_ipv4(unsigned char *out, const unsigned char *tlvs, size_t tlv_len)
{
	unsigned char block[12 + 512] = {
		192, 0, 2, 10, 198, 51, 100, 7, 0xc8, 0x22, 0x00, 0x16
	};

	if (tlv_len)
		memcpy(block + 12, tlvs, tlv_len);
	return v2_build(out, 0x21, 0x11, (unsigned)(12 + tlv_len), block, 12 + tlv_len);
}

/* [2001:db8::1]:65535 -> [2001:db8::2]:2222, then tlv_len bytes of TLVs. */
static size_t v2_ipv6(unsigned char *out, const unsigned char *tlvs, size_t tlv_len)
{
	unsigned char block[36 + 512] = { 0 };

	block[0] = 0x20; block[1] = 0x01; block[2] = 0x0d; block[3] = 0xb8; block[15] = 1;
	block[16] = 0x20; block[17] = 0x01; block[18] = 0x0d; block[19] = 0xb8; block[31] = 2;
	block[32] = 0xff; block[33] = 0xff; block[34] = 0x08; block[35] = 0xae;
	if (tlv_len)
		memcpy(block + 36, tlvs, tlv_len);
	return v2_build(out, 0x21, 0x21, (unsigned)(36 + tlv_len), block, 36 + tlv_len);
}

/* A NOOP TLV, an AUTHORITY TLV and a UNIQUE_ID TLV, as HAProxy may send. */
static const unsigned char some_tlvs[] = {
	0x04, 0x00, 0x02, 0x00, 0x00,
	0x02, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'o', 'r', 'g',
	0x05, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,
};

/* ---- checking results ---- */

/* Returns 1 when ss is family with address text and port; else says why. */
static int address_is(const char *name, const char *which, const struct sockaddr_storage *ss,
                      int family, const char *text, unsigned port)
{
	char got[INET6_ADDRSTRLEN] = "?";
	unsigned got_port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, got, sizeof got);
		got_port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, got, sizeof got);
		got_port = ntohs(sin6->sin6_port);
	}
	if (ss->ss_family != family || strcmp(got, text) != 0 || got_port != port) {
		fail(name, "%s is family %d %s port %u, expected family %d %s port %u",
		     which, ss->ss_family, got, got_port, family, text, port);
		return 0;
	}
	return 1;
}

/* Every proper prefix of a valid header must ask for more bytes. */
static int prefixes_need_more(const char *name, const unsigned char *buf, size_t len)
{
	struct proxy_header h;
	const char *why;
	size_t k;
	int r;

	for (k = 0; k < len; k++) {
		why = NULL;
		r = proxy_header_parse(buf, k, &h, &why);
		if (r != 0) {
			fail(name, "first %zu of %zu bytes gave %d (%s), expected 0",
			     k, len, r, why ? why : "-");
			return 0;
		}
	}
	return 1;
}

/* A valid header of header_len bytes at the start of buf (buf_len bytes,
 * maybe with bytes after it) naming source and destination; also checks
 * every truncation. */
static void expect_inet(const char *name, const unsigned char *buf, size_t buf_len,
                        size_t header_len, int family, const char *src, unsigned sport,
                        const char *dst, unsigned dport)
{
	struct proxy_header h;
	const char *why = NULL;
	int r;

	memset(&h, 0xa5, sizeof h);
	r = proxy_header_parse(buf, buf_len, &h, &why);
	if (r != (int)header_len) {
		fail(name, "returned %d (%s), expected %zu", r, why ? why : "-", header_len);
		return;
	}
	if (h.local) {
		fail(name, "local is set");
		return;
	}
	if (!address_is(name, "source", &h.source, family, src, sport) ||
	    !address_is(name, "destination", &h.destination, family, dst, dport) ||
	    !prefixes_need_more(name, buf, header_len))
		return;
	pass(name);
}

/* A valid header without addresses (LOCAL, UNKNOWN). */
static void expect_local(const char *name, const unsigned char *buf, size_t buf_len,
                         size_t header_len)
{
	struct proxy_header h;
	const char *why = NULL;
	int r;

	memset(&h, 0xa5, sizeof h);
	r = proxy_header_parse(buf, buf_len, &h, &why);
	if (r != (int)header_len)
		fail(name, "returned %d (%s), expected %zu", r, why ? why : "-", header_len);
	else if (h.local != 1)
		fail(name, "local is %d, expected 1", h.local);
	else if (h.source.ss_family != AF_UNSPEC || h.destination.ss_family != AF_UNSPEC)
		fail(name, "families are %d and %d, expected AF_UNSPEC",
		     h.source.ss_family, h.destination.ss_family);
	else if (prefixes_need_more(name, buf, header_len))
		pass(name);
}

/* Bytes that are not a valid header: -1 with a reason, and out untouched. */
static void expect_invalid(const char *name, const unsigned char *buf, size_t len)
{
	struct proxy_header h, before;
	const char *why = NULL;
	int r;

	memset(&h, 0x5a, sizeof h);
	before = h;
	r = proxy_header_parse(buf, len, &h, &why);
	if (r != -1)
		fail(name, "returned %d, expected -1", r);
	else if (!why || !*why)
		fail(name, "no reason given");
	else if (memcmp(&h, &before, sizeof h) != 0)
		fail(name, "out was written");
	else
		pass(name);
}

static void expect_invalid_text(const char *name, const char *text)
{
	expect_invalid(name, (const unsigned char *)text, strlen(text));
}

/* Bytes that are a valid start: 0. */
static void expect_need_more(const char *name, const unsigned char *buf, size_t len)
{
	struct proxy_header h;
	const char *why = NULL;
	int r = proxy_header_parse(buf, len, &h, &why);

	if (r != 0)
		fail(name, "returned %d (%s), expected 0", r, why ? why : "-");
	else
		pass(name);
}

/* ---- proxy_header_parse: v1 ---- */

static void test_v1_valid(void)
{
	static const char tcp4[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	static const char tcp4_banner[] = "PROXY TCP4 10.0.0.1 10.0.0.2 0 65535\r\n" BANNER;
	static const char tcp6[] = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
	static const char tcp6_full[] =
		"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	static const char unknown[] = "PROXY UNKNOWN\r\n";
	static const char unknown_107[] =
		"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	expect_inet("v1 TCP4", (const unsigned char *)tcp4, strlen(tcp4), strlen(tcp4),
	            AF_INET, "192.168.0.1", 56324, "192.168.0.11", 443);
	expect_inet("v1 TCP4 followed by the SSH banner", (const unsigned char *)tcp4_banner,
	            strlen(tcp4_banner), strlen(tcp4_banner) - strlen(BANNER),
	            AF_INET, "10.0.0.1", 0, "10.0.0.2", 65535);
	expect_inet("v1 TCP6", (const unsigned char *)tcp6, strlen(tcp6), strlen(tcp6),
	            AF_INET6, "2001:db8::1", 65535, "::1", 0);
	expect_inet("v1 TCP6 longest addresses (104 bytes)", (const unsigned char *)tcp6_full,
	            strlen(tcp6_full), 104, AF_INET6,
	            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	expect_local("v1 UNKNOWN", (const unsigned char *)unknown, strlen(unknown), 15);
	expect_local("v1 UNKNOWN with addresses, 107 bytes", (const unsigned char *)unknown_107,
	             strlen(unknown_107), 107);
}

static void test_v1_invalid(void)
{
	char line[200];

	expect_invalid_text("v1 lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 unknown protocol", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 UNKNOWN glued to text", "PROXY UNKNOWNX\r\n");
	expect_invalid_text("v1 protocol only", "PROXY TCP4\r\n");
	expect_invalid_text("v1 nothing after PROXY", "PROXY\r\n");
	expect_invalid_text("v1 missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
	expect_invalid_text("v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n");
	expect_invalid_text("v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n");
	expect_invalid_text("v1 double space after PROXY", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 double space after protocol", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 double space between addresses", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 double space before ports", "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n");
	expect_invalid_text("v1 double space between ports", "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n");
	expect_invalid_text("v1 tab separator", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 bad IPv4 octet", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 IPv4 with 3 parts", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 IPv4 leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 IPv4 letters", "PROXY TCP4 a.b.c.d 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 IPv4 host name", "PROXY TCP4 localhost 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 bad IPv6", "PROXY TCP6 2001:db8:::1 ::1 1 2\r\n");
	expect_invalid_text("v1 IPv6 with zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n");
	expect_invalid_text("v1 TCP4 with IPv6 address", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n");
	expect_invalid_text("v1 TCP4 with IPv6 destination", "PROXY TCP4 1.2.3.4 ::1 1 2\r\n");
	expect_invalid_text("v1 TCP6 with IPv4 address", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n");
	expect_invalid_text("v1 port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 22\r\n");
	expect_invalid_text("v1 port 99999", "PROXY TCP4 1.2.3.4 5.6.7.8 22 99999\r\n");
	expect_invalid_text("v1 port with 6 digits", "PROXY TCP4 1.2.3.4 5.6.7.8 100000 22\r\n");
	expect_invalid_text("v1 port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 022 22\r\n");
	expect_invalid_text("v1 port 00", "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n");
	expect_invalid_text("v1 port with plus sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +22 22\r\n");
	expect_invalid_text("v1 negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 22\r\n");
	expect_invalid_text("v1 hexadecimal port", "PROXY TCP4 1.2.3.4 5.6.7.8 0x16 22\r\n");
	expect_invalid_text("v1 LF without CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
	expect_invalid_text("v1 CR without LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX");
	expect_invalid_text("v1 NUL byte", "PROXY UNKNOWN \001\r\n");
	expect_invalid_text("v1 byte above ASCII", "PROXY UNKNOWN \xc3\xa9\r\n");
	expect_invalid_text("SSH banner instead of a header", BANNER);
	expect_invalid_text("HTTP request instead of a header", "GET / HTTP/1.0\r\n\r\n");

	/* No CRLF within 107 bytes: refused as soon as it cannot fit. */
	memset(line, 'x', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	expect_invalid("v1 without CRLF within 107 bytes", (unsigned char *)line, 107);
	expect_invalid("v1 without CR within 106 bytes", (unsigned char *)line, 106);
	expect_need_more("v1 unfinished at 105 bytes", (unsigned char *)line, 105);
	memcpy(line + 106, "\r\n", 2);
	expect_invalid("v1 line of 108 bytes", (unsigned char *)line, 108);
	memcpy(line + 105, "\r\n", 2);
	expect_local("v1 UNKNOWN line of exactly 107 bytes", (unsigned char *)line, 107, 107);

	/* Refused before the line ends. */
	expect_invalid_text("v1 early: port 65536 before CRLF", "PROXY TCP4 1.2.3.4 5.6.7.8 65536");
	expect_invalid_text("v1 early: double space", "PROXY TCP4 1.2.3.4  ");
	expect_invalid_text("v1 early: IPv6 character in TCP4", "PROXY TCP4 1.2.3.4 ::");
	expect_invalid_text("v1 early: bad protocol", "PROXY UDP4");
	expect_invalid_text("v1 early: first byte", "S");
	expect_need_more("v1 unfinished TCP6 address", (const unsigned char *)"PROXY TCP6 2001:db8", 19);
}

/* ---- proxy_header_parse: v2 ---- */

static void test_v2_valid(void)
{
	unsigned char buf[2048];
	unsigned char ignored[36];
	size_t n;

	n = v2_ipv4(buf, NULL, 0);
	expect_inet("v2 PROXY IPv4", buf, n, 28, AF_INET, "192.0.2.10", 51234, "198.51.100.7", 22);
	memcpy(buf + n, BANNER, strlen(BANNER));
	expect_inet("v2 PROXY IPv4 followed by the SSH banner", buf, n + strlen(BANNER), 28,
	            AF_INET, "192.0.2.10", 51234, "198.51.100.7", 22);
	n = v2_ipv4(buf, some_tlvs, sizeof some_tlvs);
	expect_inet("v2 PROXY IPv4 with TLVs", buf, n, 28 + sizeof some_tlvs,
	            AF_INET, "192.0.2.10", 51234, "198.51.100.7", 22);
	n = v2_ipv6(buf, NULL, 0);
	expect_inet("v2 PROXY IPv6", buf, n, 52, AF_INET6, "2001:db8::1", 65535, "2001:db8::2", 2222);
	n = v2_ipv6(buf, some_tlvs, sizeof some_tlvs);
	memcpy(buf + n, BANNER, strlen(BANNER));
	expect_inet("v2 PROXY IPv6 with TLVs followed by the SSH banner", buf, n + strlen(BANNER),
	            n, AF_INET6, "2001:db8::1", 65535, "2001:db8::2", 2222);

	n = v2_build(buf, 0x20, 0x00, 0, NULL, 0);
	expect_local("v2 LOCAL", buf, n, 16);
	memset(ignored, 0xee, sizeof ignored);
	n = v2_build(buf, 0x20, 0x21, sizeof ignored, ignored, sizeof ignored);
	expect_local("v2 LOCAL with an IPv6 block, skipped", buf, n, 52);
	n = v2_build(buf, 0x20, 0x32, 5, ignored, 5);
	expect_local("v2 LOCAL with a UNIX family and short block", buf, n, 21);

	/* The limit itself: 1024 bytes of addresses and TLVs. */
	memset(buf, 0, sizeof buf);
	n = v2_ipv4(buf, NULL, 0);
	buf[14] = 0x04;
	buf[15] = 0x00;
	buf[28] = 0x04;                     /* one NOOP TLV filling the rest */
	buf[29] = (1024 - 12 - 3) >> 8;
	buf[30] = (1024 - 12 - 3) & 0xff;
	expect_inet("v2 header of 1040 bytes (the limit)", buf, 1040, 1040,
	            AF_INET, "192.0.2.10", 51234, "198.51.100.7", 22);
}

static void test_v2_invalid(void)
{
	unsigned char buf[2048], good[64];
	char name[80];
	size_t n, i;

	n = v2_ipv4(good, NULL, 0);
	for (i = 0; i < 12; i++) {
		memcpy(buf, good, n);
		buf[i] ^= 0x20;
		snprintf(name, sizeof name, "v2 bad signature byte %zu", i + 1);
		expect_invalid(name, buf, n);
		/* Refused as soon as the wrong byte is there. */
		snprintf(name, sizeof name, "v2 bad signature byte %zu, early", i + 1);
		expect_invalid(name, buf, i + 1);
	}

	memcpy(buf, good, n);
	buf[12] = 0x11;
	expect_invalid("v2 version 1", buf, n);
	buf[12] = 0x31;
	expect_invalid("v2 version 3", buf, 13);
	buf[12] = 0x01;
	expect_invalid("v2 version 0", buf, n);
	buf[12] = 0x22;
	expect_invalid("v2 command 2", buf, n);
	buf[12] = 0x2f;
	expect_invalid("v2 command 15", buf, 13);

	memcpy(buf, good, n);
	buf[13] = 0x12;
	expect_invalid("v2 PROXY UDP over IPv4", buf, n);
	buf[13] = 0x22;
	expect_invalid("v2 PROXY UDP over IPv6", buf, 14);
	buf[13] = 0x31;
	expect_invalid("v2 PROXY UNIX stream", buf, n);
	buf[13] = 0x32;
	expect_invalid("v2 PROXY UNIX datagram", buf, n);
	buf[13] = 0x00;
	expect_invalid("v2 PROXY with unspecified family", buf, n);
	buf[13] = 0x41;
	expect_invalid("v2 PROXY with family 4", buf, n);
	buf[13] = 0x13;
	expect_invalid("v2 PROXY with transport 3", buf, n);

	memset(buf, 0, sizeof buf);
	n = v2_build(buf, 0x21, 0x11, 11, good + 16, 11);
	expect_invalid("v2 IPv4 address block of 11 bytes", buf, n);
	expect_invalid("v2 IPv4 address block of 11 bytes, early", buf, 16);
	n = v2_build(buf, 0x21, 0x21, 35, buf + 100, 35);
	expect_invalid("v2 IPv6 address block of 35 bytes", buf, n);
	n = v2_build(buf, 0x21, 0x21, 12, good + 16, 12);
	expect_invalid("v2 IPv6 with an IPv4-sized block", buf, n);
	n = v2_build(buf, 0x21, 0x11, 0, NULL, 0);
	expect_invalid("v2 PROXY with empty block", buf, n);

	n = v2_build(buf, 0x21, 0x11, 1025, NULL, 0);
	expect_invalid("v2 length 1025 (oversized), refused from the fixed part", buf, n);
	n = v2_build(buf, 0x20, 0x00, 0xffff, NULL, 0);
	expect_invalid("v2 LOCAL length 65535 (oversized)", buf, n);

	/* TLV framing after the addresses. */
	{
		static const unsigned char overrun[] = { 0x04, 0x00, 0x05, 0, 0 };
		static const unsigned char stub[] = { 0x04, 0x00 };

		n = v2_ipv4(buf, overrun, sizeof overrun);
		expect_invalid("v2 TLV longer than the header", buf, n);
		n = v2_ipv4(buf, stub, sizeof stub);
		expect_invalid("v2 truncated TLV header", buf, n);
		n = v2_ipv6(buf, some_tlvs, sizeof some_tlvs - 1);
		expect_invalid("v2 last TLV cut short", buf, n);
	}

	/* A header that announces more than it has only asks for more. */
	n = v2_ipv4(buf, some_tlvs, sizeof some_tlvs);
	expect_need_more("v2 truncated TLVs ask for more", buf, n - 1);
}

/* ---- proxy_header_read ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Forks a peer that writes the pieces (NULL-terminated, each written
 * separately, gap_ms apart), then, unless hang_up is set, stays connected
 * for linger_ms. Returns our end of the socketpair; *pid gets the peer. */
static int start_peer(const unsigned char *data, const size_t *piece_lens, int gap_ms,
                      int linger_ms, pid_t *pid)
{
	int sv[2];
	size_t off = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(2);
	}
	*pid = fork();
	if (*pid < 0) {
		perror("fork");
		exit(2);
	}
	if (*pid == 0) {
		close(sv[0]);
		for (; *piece_lens; piece_lens++) {
			if (off > 0 && gap_ms > 0)
				usleep((useconds_t)gap_ms * 1000);
			if (write(sv[1], data + off, *piece_lens) != (ssize_t)*piece_lens)
				_exit(1);
			off += *piece_lens;
		}
		if (linger_ms > 0)
			usleep((useconds_t)linger_ms * 1000);
		_exit(0);
	}
	close(sv[1]);
	return sv[0];
}

static void stop_peer(int fd, pid_t pid)
{
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Reads what is left on fd after the header, until the peer is gone. */
static size_t read_rest(int fd, char *buf, size_t size)
{
	size_t have = 0;
	ssize_t got;

	while (have < size - 1 && (got = read(fd, buf + have, size - 1 - have)) > 0)
		have += (size_t)got;
	buf[have] = '\0';
	return have;
}

/* The peer sends a header and the SSH banner in pieces; the reader must
 * return the header's addresses and leave the banner, intact, unread. */
static void expect_read_leaves_banner(const char *name, const unsigned char *header,
                                      size_t header_len, const size_t *pieces, int gap_ms,
                                      int want_local)
{
	unsigned char data[2048];
	char rest[256];
	struct proxy_header h;
	const char *why = NULL;
	pid_t pid;
	int fd, r;

	memcpy(data, header, header_len);
	memcpy(data + header_len, BANNER, strlen(BANNER));
	fd = start_peer(data, pieces, gap_ms, 0, &pid);
	r = proxy_header_read(fd, 5000, &h, &why);
	if (r != 0) {
		fail(name, "returned %d (%s)", r, why ? why : "-");
	} else if (h.local != want_local) {
		fail(name, "local is %d", h.local);
	} else if (!want_local && h.source.ss_family != AF_INET && h.source.ss_family != AF_INET6) {
		fail(name, "source family is %d", h.source.ss_family);
	} else {
		read_rest(fd, rest, sizeof rest);
		if (strcmp(rest, BANNER) != 0)
			fail(name, "left \"%s\" unread, expected the banner", rest);
		else
			pass(name);
	}
	stop_peer(fd, pid);
}

static void test_read_exact(void)
{
	static const char v1[] = "PROXY TCP6 2001:db8::1 ::1 65535 22\r\n";
	static const char v1_unknown[] = "PROXY UNKNOWN\r\n";
	unsigned char v2[600];
	size_t n, len = strlen(BANNER);
	size_t whole[3], split[5];

	whole[0] = strlen(v1) + len;
	whole[1] = 0;
	expect_read_leaves_banner("read v1 in one write, banner left unread",
	                          (const unsigned char *)v1, strlen(v1), whole, 0, 0);
	whole[0] = strlen(v1_unknown) + len;
	expect_read_leaves_banner("read shortest v1 (UNKNOWN), banner left unread",
	                          (const unsigned char *)v1_unknown, strlen(v1_unknown), whole, 0, 1);
	split[0] = 3;
	split[1] = 20;
	split[2] = strlen(v1) - 23;
	split[3] = len;
	split[4] = 0;
	expect_read_leaves_banner("read v1 in pieces, banner left unread",
	                          (const unsigned char *)v1, strlen(v1), split, 30, 0);

	n = v2_ipv4(v2, some_tlvs, sizeof some_tlvs);
	whole[0] = n + len;
	expect_read_leaves_banner("read v2 with TLVs in one write, banner left unread",
	                          v2, n, whole, 0, 0);
	split[0] = 5;
	split[1] = 11;
	split[2] = 7;
	split[3] = n - 23 + len;
	expect_read_leaves_banner("read v2 in pieces, banner left unread", v2, n, split, 30, 0);
	n = v2_build(v2, 0x20, 0x00, 0, NULL, 0);
	whole[0] = n + len;
	expect_read_leaves_banner("read v2 LOCAL, banner left unread", v2, n, whole, 0, 1);
}

/* Runs proxy_header_read against a peer and expects -1 within the given
 * time window; returns the reason. */
static const char *expect_read_fails(const char *name, const char *data, const size_t *pieces,
                                     int gap_ms, int linger_ms, int timeout_ms,
                                     double min_ms, double max_ms, size_t *left)
{
	struct proxy_header h;
	const char *why = NULL;
	char rest[512];
	double start, elapsed;
	pid_t pid;
	int fd, r;

	fd = start_peer((const unsigned char *)data, pieces, gap_ms, linger_ms, &pid);
	start = now_ms();
	r = proxy_header_read(fd, timeout_ms, &h, &why);
	elapsed = now_ms() - start;
	if (left) {
		kill(pid, SIGKILL);
		*left = read_rest(fd, rest, sizeof rest);
	}
	stop_peer(fd, pid);
	if (r != -1) {
		fail(name, "returned %d", r);
		return NULL;
	}
	if (!why || !*why) {
		fail(name, "no reason given");
		return NULL;
	}
	if (elapsed < min_ms || elapsed > max_ms) {
		fail(name, "took %.0f ms, expected %.0f..%.0f (%s)", elapsed, min_ms, max_ms, why);
		return NULL;
	}
	return why;
}

static void expect_reason(const char *name, const char *why, const char *word)
{
	if (!why)
		return;
	if (!strstr(why, word))
		fail(name, "reason \"%s\" does not say \"%s\"", why, word);
	else
		pass(name);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void test_read_failures(void)
{
	static const char partial_v1[] = "PROXY TCP4 1.2.3.4";
	static const char drip[] = "PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	char long_line[300];
	size_t none[1] = { 0 }, partial[2] = { 0, 0 }, drops[64], left = 0;
	struct sigaction sa;
	struct itimerval tick;
	const char *why;
	size_t i;

	why = expect_read_fails("read times out on a silent peer", "", none, 0, 3000,
	                        300, 290, 1500, NULL);
	expect_reason("read times out on a silent peer", why, "timed out");

	partial[0] = strlen(partial_v1);
	why = expect_read_fails("read times out on a half header", partial_v1, partial, 0, 3000,
	                        300, 290, 1500, NULL);
	expect_reason("read times out on a half header", why, "timed out");

	/* One byte every 40 ms: the timeout is for the whole header. */
	for (i = 0; i < strlen(drip); i++)
		drops[i] = 1;
	drops[i] = 0;
	why = expect_read_fails("read timeout is total, not per byte", drip, drops, 40, 3000,
	                        300, 290, 1500, NULL);
	expect_reason("read timeout is total, not per byte", why, "timed out");

	why = expect_read_fails("read fails on a closed peer", "", none, 0, 0,
	                        3000, 0, 1500, NULL);
	expect_reason("read fails on a closed peer", why, "closed");
	why = expect_read_fails("read fails on a peer closing mid-header", partial_v1, partial,
	                        0, 0, 3000, 0, 1500, NULL);
	expect_reason("read fails on a peer closing mid-header", why, "closed");

	partial[0] = strlen(BANNER);
	why = expect_read_fails("read refuses an SSH banner", BANNER, partial, 0, 3000,
	                        3000, 0, 1500, NULL);
	expect_reason("read refuses an SSH banner", why, "PROXY");

	/* A line without CRLF: refused after at most 107 bytes, the rest unread. */
	memset(long_line, 'x', sizeof long_line);
	memcpy(long_line, "PROXY UNKNOWN ", 14);
	partial[0] = sizeof long_line;
	why = expect_read_fails("read refuses a v1 line without CRLF", long_line, partial, 0,
	                        3000, 3000, 0, 1500, &left);
	if (why && left < sizeof long_line - 107)
		fail("read refuses a v1 line without CRLF", "read %zu bytes, more than 107",
		     sizeof long_line - left);
	else
		expect_reason("read refuses a v1 line without CRLF", why, "107");

	/* Signals interrupt poll() every 10 ms: the wait goes on to the deadline. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);    /* no SA_RESTART: poll fails with EINTR */
	memset(&tick, 0, sizeof tick);
	tick.it_interval.tv_usec = 10000;
	tick.it_value.tv_usec = 10000;
	setitimer(ITIMER_REAL, &tick, NULL);
	why = expect_read_fails("read goes on after EINTR until the deadline", "", none, 0, 3000,
	                        300, 290, 1500, NULL);
	memset(&tick, 0, sizeof tick);
	setitimer(ITIMER_REAL, &tick, NULL);
	expect_reason("read goes on after EINTR until the deadline", why, "timed out");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_v1_valid();
	test_v1_invalid();
	test_v2_valid();
	test_v2_invalid();
	test_read_exact();
	test_read_failures();
	return unit_exit_status();
}
