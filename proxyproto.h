/* proxyproto.h: the PROXY protocol header (HAProxy's, versions 1 and 2)
 * that a load balancer sends before the client's first byte, naming the
 * real client. Specification:
 * https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt */
#ifndef SSHROUTE_PROXYPROTO_H
#define SSHROUTE_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

/* The longest header accepted, in bytes: a v2 header whose address block
 * and TLVs take at most 1024 bytes after the 16-byte fixed part. A v1 line
 * is at most 107 bytes. */
#define PROXY_HEADER_MAX (16 + 1024)

/* What a PROXY header said. */
struct proxy_header {
	int local;                        /* v2 LOCAL command or v1 "UNKNOWN": no address; use the socket's */
	struct sockaddr_storage source;   /* the real client: AF_INET or AF_INET6 */
	struct sockaddr_storage destination;
};

/* Parses a header at the start of buf (len bytes). Returns the header's
 * length (> 0) when buf holds a complete, valid header; 0 when more bytes
 * are needed (buf is a valid prefix so far); -1 when it is not a valid
 * header (with a short reason in *why). out is written only when > 0 is
 * returned; when local is set, source and destination are AF_UNSPEC. */
int proxy_header_parse(const unsigned char *buf, size_t len, struct proxy_header *out, const char **why);

/* Reads exactly one header from fd (blocking socket) without reading a
 * byte past it, within timeout_ms milliseconds in total. Returns 0 and
 * fills out, or -1 with a reason in *why (timeout, closed, invalid, too
 * long); errno tells more when a system call failed. */
int proxy_header_read(int fd, int timeout_ms, struct proxy_header *out, const char **why);

#endif
