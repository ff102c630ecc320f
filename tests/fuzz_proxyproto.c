/* fuzz_proxyproto.c: libFuzzer target for proxy_header_parse (proxyproto.c).
 *
 * The parser reads bytes from whoever connects first, so besides the
 * sanitizers' memory checks it holds the promises of its interface:
 * - the result is -1, 0, or a length within the input and the limit; -1
 *   comes with a reason;
 * - a header, once found, is AF_INET or AF_INET6 on both ends (or AF_UNSPEC
 *   on both when local), and does not depend on the bytes after it;
 * - it is incremental: when the input is not refused, no shorter prefix of
 *   it is refused or complete (so proxy_header_read, which feeds it byte
 *   by byte, never drops a good header or stops early).
 * A broken promise aborts, which libFuzzer reports with the input.
 *
 * With clang:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *       -o tests/fuzz_proxyproto tests/fuzz_proxyproto.c proxyproto.c
 *   tests/fuzz_proxyproto -max_total_time=60 CORPUS_DIR
 * With gcc, tests/fuzz_standalone.c supplies main: the seeds in
 * tests/corpus/proxyproto and a fixed number of their mutations. */
#include "proxyproto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with what was broken, so the fuzzer saves the input. */
static void broken(const char *promise, size_t size, int result)
{
	fprintf(stderr, "fuzz_proxyproto: %s (input of %zu bytes, result %d)\n",
	        promise, size, result);
	abort();
}

/* A header that was found: families as documented. */
static void check_header(const struct proxy_header *h, size_t size, int r)
{
	int src = h->source.ss_family, dst = h->destination.ss_family;

	if (h->local != 0 && h->local != 1)
		broken("local is neither 0 nor 1", size, r);
	if (h->local && (src != AF_UNSPEC || dst != AF_UNSPEC))
		broken("local header with addresses", size, r);
	if (!h->local && (src != AF_INET && src != AF_INET6))
		broken("source family is not AF_INET or AF_INET6", size, r);
	if (!h->local && dst != src)
		broken("destination family differs from source", size, r);
}

/* When the whole input is not refused, its prefixes are not refused
 * either, and none of them holds a complete header. */
static void check_prefixes(const uint8_t *data, size_t size, int r)
{
	struct proxy_header h;
	const char *why;
	size_t k, end = r > 0 ? (size_t)r : size;

	for (k = 0; k < end; k++)
		if (proxy_header_parse(data, k, &h, &why) != 0)
			broken("a shorter prefix is refused or complete", k, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h, again;
	const char *why = NULL;
	int r;

	r = proxy_header_parse(data, size, &h, &why);
	if (r < -1 || (r > 0 && (size_t)r > size) || r > PROXY_HEADER_MAX)
		broken("result out of range", size, r);
	if (r == -1 && (!why || !*why))
		broken("refused without a reason", size, r);
	if (r > 0) {
		check_header(&h, size, r);
		if (proxy_header_parse(data, (size_t)r, &again, &why) != r ||
		    memcmp(&h, &again, sizeof h) != 0)
			broken("header changes with the bytes after it", size, r);
	}
	if (r >= 0)
		check_prefixes(data, size, r);
	return 0;
}
