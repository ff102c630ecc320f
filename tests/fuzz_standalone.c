/* fuzz_standalone.c: a main for libFuzzer targets (tests/fuzz_*.c), for
 * compilers without libFuzzer: make check builds the targets with gcc and
 * the sanitizers, and this driver runs them.
 *
 * FUZZ_NAME names the seed corpus, tests/corpus/FUZZ_NAME, found next to
 * the program (DIR/corpus/FUZZ_NAME where DIR holds the program). Every
 * seed is run as it is, then FUZZ_ITERATIONS mutations of them (flipped,
 * replaced, inserted and deleted bytes, cuts, pieces of other seeds),
 * from a fixed random seed: the same inputs every run. With file names as
 * arguments, it runs just those files (to replay a crash libFuzzer saved).
 * Prints one "ok - " line, or aborts on a broken promise. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_NAME
#error "define FUZZ_NAME, the seed corpus directory name"
#endif
#ifndef FUZZ_ITERATIONS
#define FUZZ_ITERATIONS 20000
#endif
#define FUZZ_MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seed {
	unsigned char *data;
	size_t len;
};

static struct seed *seeds;
static size_t n_seeds;
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: fast, and the same run every time. */
static unsigned long next_random(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned long)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* Runs data as an input from an exact-size copy, so that reading past the
 * end is caught. */
static void run_input(const unsigned char *data, size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);

	if (copy == NULL) {
		fprintf(stderr, "fuzz_%s: out of memory\n", FUZZ_NAME);
		exit(2);
	}
	if (len > 0)
		memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

static int read_file(const char *path, struct seed *out)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	out->data = malloc(FUZZ_MAX_INPUT);
	if (out->data == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(out->data, 1, FUZZ_MAX_INPUT, f);
	fclose(f);
	out->len = n;
	return 0;
}

static int not_hidden(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Loads DIR/corpus/FUZZ_NAME, DIR being where argv0 lives. */
static int load_corpus(const char *argv0, char *corpus, size_t size)
{
	const char *slash = strrchr(argv0, '/');
	struct dirent **names;
	char path[4096 + 256 + 2];
	int n, i;

	snprintf(corpus, size, "%.*s/corpus/%s", slash ? (int)(slash - argv0) : 1,
	         slash ? argv0 : ".", FUZZ_NAME);
	n = scandir(corpus, &names, not_hidden, alphasort);
	if (n <= 0)
		return -1;
	seeds = calloc((size_t)n, sizeof(*seeds));
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", corpus, names[i]->d_name);
		if (seeds != NULL && read_file(path, &seeds[n_seeds]) == 0)
			n_seeds++;
		free(names[i]);
	}
	free(names);
	return n_seeds > 0 ? 0 : -1;
}

/* Changes a few bytes of buf (len bytes used, FUZZ_MAX_INPUT room). */
static size_t mutate(unsigned char *buf, size_t len)
{
	static const unsigned char interesting[] = { 0, ' ', '\t', '\r', '\n', '[', ']', '=', '%',
		'u', ';', '#', '*', ':', '/', '"', ',', '0', '9', 0x80, 0xff, 0x7f, 0x1b };
	int rounds = 1 + (int)(next_random() % 4);
	const struct seed *other;
	size_t at, from, n;

	while (rounds-- > 0 && len > 0) {
		at = next_random() % len;
		switch (next_random() % 6) {
		case 0:
			buf[at] ^= (unsigned char)(1u << (next_random() % 8));
			break;
		case 1:
			buf[at] = interesting[next_random() % sizeof(interesting)];
			break;
		case 2:
			if (len < FUZZ_MAX_INPUT) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = interesting[next_random() % sizeof(interesting)];
				len++;
			}
			break;
		case 3:
			n = 1 + next_random() % 8;
			n = n < len - at ? n : len - at;
			memmove(buf + at, buf + at + n, len - at - n);
			len -= n;
			break;
		case 4:   /* a piece of another seed, inserted */
			other = &seeds[next_random() % n_seeds];
			if (other->len == 0)
				break;
			from = next_random() % other->len;
			n = 1 + next_random() % 64;
			n = n < other->len - from ? n : other->len - from;
			if (len + n > FUZZ_MAX_INPUT)
				break;
			memmove(buf + at + n, buf + at, len - at);
			memcpy(buf + at, other->data + from, n);
			len += n;
			break;
		default:
			len = at;
			break;
		}
	}
	return len;
}

int main(int argc, char **argv)
{
	static unsigned char buf[FUZZ_MAX_INPUT];
	char corpus[4096];
	struct seed s;
	unsigned long i;
	size_t len, k;
	int a;

	for (a = 1; a < argc; a++) {
		if (read_file(argv[a], &s) < 0) {
			perror(argv[a]);
			return 2;
		}
		run_input(s.data, s.len);
		free(s.data);
	}
	if (argc > 1)
		return 0;
	if (load_corpus(argv[0], corpus, sizeof(corpus)) < 0) {
		printf("not ok - fuzz_%s: no seed corpus in %s\n", FUZZ_NAME, corpus);
		return 1;
	}
	for (k = 0; k < n_seeds; k++)
		run_input(seeds[k].data, seeds[k].len);
	for (i = 0; i < FUZZ_ITERATIONS; i++) {
		k = next_random() % n_seeds;
		memcpy(buf, seeds[k].data, seeds[k].len);
		len = mutate(buf, seeds[k].len);
		run_input(buf, len);
	}
	printf("ok - fuzz_%s: %zu seeds and %lu mutated inputs, no broken promise\n", FUZZ_NAME,
	       n_seeds, i);
	for (k = 0; k < n_seeds; k++)
		free(seeds[k].data);
	free(seeds);
	return 0;
}
