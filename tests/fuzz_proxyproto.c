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
 * With FUZZ_STANDALONE defined, a small main replaces libFuzzer (for gcc):
 * it runs the files named on its command line, or with none, mutations of
 * built-in seeds for a fixed number of iterations. */
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

#ifdef FUZZ_STANDALONE
/* ---- a driver for compilers without libFuzzer ---- */

#define STANDALONE_ITERATIONS 2000000
#define STANDALONE_MAX_INPUT 1200

static const char *const seeds[] = {
	"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
	"PROXY TCP6 2001:db8::1 ::1 65535 0\r\n",
	"PROXY UNKNOWN\r\n",
	"PROXY UNKNOWN ffff::1 ::2 1 2\r\n",
	"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x0c\xc0\0\2\x0a\xc6\x33\x64\7\xc8\x22\0\x16",
	"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x11\xc0\0\2\x0a\xc6\x33\x64\7\xc8\x22\0\x16\4\0\2\0\0",
	"\r\n\r\n\0\r\nQUIT\n\x20\0\0\0",
};
/* The v2 seeds hold NUL bytes: their lengths are given here. */
static const size_t seed_lens[] = { 0, 0, 0, 0, 28, 33, 16 };

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: fast, and the same run every time. */
static unsigned long next_random(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned long)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* Changes a few bytes of buf: flips, replaces with interesting bytes,
 * inserts, deletes, or cuts. */
static size_t mutate(unsigned char *buf, size_t len)
{
	static const unsigned char interesting[] = { 0, ' ', '\r', '\n', '0', '9', ':', '.', 0xff, 0x7f };
	int rounds = 1 + (int)(next_random() % 4);
	size_t at;

	while (rounds-- > 0 && len > 0) {
		at = next_random() % len;
		switch (next_random() % 5) {
		case 0:
			buf[at] ^= (unsigned char)(1u << (next_random() % 8));
			break;
		case 1:
			buf[at] = interesting[next_random() % sizeof interesting];
			break;
		case 2:
			if (len < STANDALONE_MAX_INPUT) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = (unsigned char)next_random();
				len++;
			}
			break;
		case 3:
			memmove(buf + at, buf + at + 1, len - at - 1);
			len--;
			break;
		default:
			len = at;
			break;
		}
	}
	return len;
}

/* Runs one file as an input. */
static void run_file(const char *path)
{
	static unsigned char buf[1 << 16];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		exit(2);
	}
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
}

int main(int argc, char **argv)
{
	size_t n_seeds = sizeof seeds / sizeof seeds[0];
	unsigned char buf[STANDALONE_MAX_INPUT + 1];
	unsigned char *input;
	unsigned long i;
	size_t len, s;
	int a;

	for (a = 1; a < argc; a++)
		run_file(argv[a]);
	if (argc > 1)
		return 0;
	/* The seeds must be valid headers, or the mutations miss the paths
	 * that matter. */
	for (s = 0; s < n_seeds; s++) {
		struct proxy_header h;
		const char *why;

		len = seed_lens[s] ? seed_lens[s] : strlen(seeds[s]);
		if (proxy_header_parse((const unsigned char *)seeds[s], len, &h, &why) != (int)len) {
			fprintf(stderr, "fuzz_proxyproto: seed %zu is not a valid header\n", s);
			return 2;
		}
	}
	for (i = 0; i < STANDALONE_ITERATIONS; i++) {
		s = i % n_seeds;
		len = seed_lens[s] ? seed_lens[s] : strlen(seeds[s]);
		memcpy(buf, seeds[s], len);
		len = mutate(buf, len);
		/* An exact-size copy, so that reading past len is caught. */
		input = malloc(len ? len : 1);
		if (!input)
			return 2;
		memcpy(input, buf, len);
		LLVMFuzzerTestOneInput(input, len);
		free(input);
	}
	printf("ok - fuzz_proxyproto: %lu mutated inputs, no broken promise\n", i);
	return 0;
}
#endif
