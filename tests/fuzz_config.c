/* fuzz_config.c: libFuzzer target for route.ini and the routes it gives
 * (config.c): config_load, route_match (exact and glob routes, %u
 * expansion), lookup_argv and route_apply_answer.
 *
 * The input is split at NUL bytes (which route.ini may not hold, and user
 * names cannot): the first part is route.ini, the second a lookup
 * program's answer, every further part a user name. "@DIR@" anywhere in
 * the input stands for a directory made at start-up (in /run, else /tmp,
 * where no key file is trusted: keys.c's StrictModes rule), which holds a host key and an identity ("hk" and "id", ed25519,
 * mode 600), an empty "known_hosts" and "authorized_keys", and an
 * executable "lookup"; route.ini is written there too, so relative file
 * names in it find those files.
 *
 * Besides the sanitizers' memory and leak checks, every promise of
 * config.h is held against a model written from the documentation, not
 * from config.c:
 * - config_load reports each problem once, as "PATH:..." without control
 *   characters, and returns their number; with none, the configuration
 *   has a host key, known_hosts and routes that are all complete;
 * - route_match picks the route the rules pick (an exact route wins,
 *   then the first matching pattern; a route using %u never matches a
 *   name outside [A-Za-z0-9._-]{1,32} or one that
 *   starts with '-'; an authorized_keys with %u never
 *   matches "." or ".."), fails only when an expansion does not fit, and
 *   expands %u and %% exactly; an upstream host holds no byte beyond
 *   [A-Za-z0-9._:-];
 * - lookup_argv splits at blanks, never puts an unsafe name into a
 *   %u word, and keeps within its buffer;
 * - route_apply_answer leaves its output untouched when it reports
 *   problems, and never lets an answer's text become a template.
 * A broken promise aborts, which libFuzzer reports with the input.
 *
 * With clang: make tests/fuzz_config, then
 *   tests/fuzz_config -runs=20000 WORK_DIR tests/corpus/config
 * With FUZZ_STANDALONE (gcc), tests/fuzz_standalone.c supplies main. */
#include "config.h"
#include "keys.h"
#include "lookup.h"
#include "route.h"

#include <fnmatch.h>
#include <libssh/libssh.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_USERS 40
#define MAX_PATTERN_USERS 16

static char dir[64];   /* the fixture directory, on a tmpfs when there is one */
static char ini_path[sizeof(dir) + 16];
static int ready;

struct reports {
	const char *prefix;   /* every message starts with it */
	int n;
	size_t size;          /* input size, for messages */
};

static void broken(const char *promise, const char *detail, size_t size)
{
	fprintf(stderr, "fuzz_config: %s%s%s (input of %zu bytes)\n", promise,
	        detail ? ": " : "", detail ? detail : "", size);
	abort();
}

static void fatal(const char *what)
{
	fprintf(stderr, "fuzz_config: setup: %s\n", what);
	abort();
}

/* ---- the fixture directory ---- */

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[sizeof(dir) + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) < 0)
		fatal(path);
}

static void write_key(const char *name, ssh_key k)
{
	char path[sizeof(dir) + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (ssh_pki_export_privkey_file(k, NULL, NULL, NULL, path) != SSH_OK || chmod(path, 0600) < 0)
		fatal(path);
}

static void remove_fixture(void)
{
	static const char *const names[] = { "hk", "id", "known_hosts", "authorized_keys",
		"lookup", "route.ini" };
	char path[sizeof(dir) + 32];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void setup(void)
{
	ssh_key k = NULL;

	if (ready)
		return;
	ready = 1;
	unsetenv("CREDENTIALS_DIRECTORY");
	snprintf(dir, sizeof(dir), "%s/fuzz_config.XXXXXX", access("/run", W_OK) == 0 ? "/run" : "/tmp");
	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	atexit(remove_fixture);
	if (key_generate_ed25519(&k) != SSH_OK)
		fatal("key_generate_ed25519");
	write_key("hk", k);
	write_key("id", k);
	ssh_key_free(k);
	write_file("known_hosts", "", 0644);
	write_file("authorized_keys", "", 0644);
	write_file("lookup", "#!/bin/sh\nexit 1\n", 0755);
	snprintf(ini_path, sizeof(ini_path), "%s/route.ini", dir);
}

/* The input with every "@DIR@" replaced by the fixture directory; *len
 * is updated. */
static uint8_t *expand_dir(const uint8_t *data, size_t *len)
{
	size_t dlen = strlen(dir), n = 0, i;
	uint8_t *out = malloc(*len / 5 * dlen + *len + 1);

	if (out == NULL)
		fatal("out of memory");
	for (i = 0; i < *len; i++) {
		if (*len - i >= 5 && memcmp(data + i, "@DIR@", 5) == 0) {
			memcpy(out + n, dir, dlen);
			n += dlen;
			i += 4;
		} else {
			out[n++] = data[i];
		}
	}
	*len = n;
	return out;
}

static void write_ini(const uint8_t *text, size_t len)
{
	FILE *f = fopen(ini_path, "w");

	if (f == NULL || (len > 0 && fwrite(text, 1, len, f) != len) || fclose(f) != 0)
		fatal(ini_path);
}

/* ---- the model: config.h's rules, written again ---- */

static int model_safe(const char *name)
{
	size_t n = strlen(name), i;

	if (n < 1 || n > USER_NAME_MAX || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", name[i]))
			return 0;
	return 1;
}

static int model_uses_u(const char *tmpl)
{
	size_t i;

	if (tmpl == NULL)
		return 0;
	for (i = 0; tmpl[i]; i++) {
		if (tmpl[i] == '%' && tmpl[i + 1] == 'u')
			return 1;
		if (tmpl[i] == '%' && tmpl[i + 1] == '%')
			i++;
	}
	return 0;
}

/* The expansion of tmpl for name, malloc'd ("" for NULL). */
static char *model_expand(const char *tmpl, const char *name)
{
	size_t cap = 1, n = 0, i;
	char *out;

	for (i = 0; tmpl && tmpl[i]; i++)
		cap += 1 + strlen(name);
	out = malloc(cap);
	if (out == NULL)
		fatal("out of memory");
	for (i = 0; tmpl && tmpl[i]; i++) {
		if (tmpl[i] == '%' && tmpl[i + 1] == 'u') {
			memcpy(out + n, name, strlen(name));
			n += strlen(name);
			i++;
		} else {
			if (tmpl[i] == '%' && tmpl[i + 1] == '%')
				i++;
			out[n++] = tmpl[i];
		}
	}
	out[n] = '\0';
	return out;
}

static int route_uses_u(const struct route *r)
{
	size_t i;

	for (i = 0; i < r->n_upstreams; i++)
		if (model_uses_u(r->upstreams[i].host))
			return 1;
	return model_uses_u(r->user) || model_uses_u(r->authorized_keys) || model_uses_u(r->lookup);
}

static int model_matches(const struct route *r, const char *user)
{
	if (r->n_upstreams == 0 && r->lookup == NULL)
		return 0;
	if (route_uses_u(r) && !model_safe(user))
		return 0;
	if (model_uses_u(r->authorized_keys) && (strcmp(user, ".") == 0 || strcmp(user, "..") == 0))
		return 0;
	return r->is_glob ? fnmatch(r->pattern, user, 0) == 0 : strcmp(r->pattern, user) == 0;
}

static const struct route *model_route(const struct config *cfg, const char *user)
{
	size_t i;

	for (i = 0; i < cfg->n_routes; i++)
		if (!cfg->routes[i].is_glob && model_matches(&cfg->routes[i], user))
			return &cfg->routes[i];
	for (i = 0; i < cfg->n_routes; i++)
		if (cfg->routes[i].is_glob && model_matches(&cfg->routes[i], user))
			return &cfg->routes[i];
	return NULL;
}

static int host_chars_ok(const char *host)
{
	for (; *host; host++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-", *host))
			return 0;
	return 1;
}

/* ---- checks ---- */

static void on_report(const char *message, void *ctx)
{
	struct reports *rep = ctx;
	const char *s;

	rep->n++;
	if (message == NULL || *message == '\0')
		broken("empty problem message", NULL, rep->size);
	if (strncmp(message, rep->prefix, strlen(rep->prefix)) != 0 &&
	    strncmp(message, "out of memory", 13) != 0)
		broken("problem message without its prefix", message, rep->size);
	for (s = message; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			broken("control character in a problem message", message, rep->size);
}

static void check_usable(const struct config *cfg, size_t size)
{
	size_t i, k;

	if (cfg->n_host_keys == 0 || cfg->known_hosts == NULL || cfg->n_routes == 0)
		broken("usable configuration without host key, known_hosts or routes", NULL, size);
	for (i = 0; i < cfg->n_routes; i++) {
		const struct route *r = &cfg->routes[i];
		const char *s;

		if (r->pattern == NULL || r->pattern[0] == '\0')
			broken("route without a name", NULL, size);
		if (r->n_upstreams == 0 && r->lookup == NULL)
			broken("usable route without upstream or lookup", r->pattern, size);
		if (r->n_upstreams > UPSTREAMS_MAX || r->auth < 1 || r->auth > AUTH_ALL ||
		    r->lookup_timeout < 1 || r->lookup_timeout > 300)
			broken("route setting out of range", r->pattern, size);
		if (r->uses_u != route_uses_u(r))
			broken("uses_u differs from the templates", r->pattern, size);
		for (k = 0; k < r->n_upstreams; k++) {
			if (r->upstreams[k].port < 1 || r->upstreams[k].port > 65535)
				broken("upstream port out of range", r->pattern, size);
			for (s = r->upstreams[k].host; s && *s; s++)
				if (*s == '%' ? s[1] != 'u' : !host_chars_ok((char[]){ *s, 0 }))
					broken("upstream template holds a bad character", r->upstreams[k].host,
					       size);
		}
	}
}

/* The route's k-th upstream host, expanded ("" when it has none). */
static char *model_host(const struct route *m, size_t k, const char *user)
{
	return model_expand(k < m->n_upstreams ? m->upstreams[k].host : NULL, user);
}

/* out holds want's expansion, or route_match had to fail. */
static int fits(const struct route *m, const char *user)
{
	char *keys = model_expand(m->authorized_keys, user), *host;
	char *u = m->user ? model_expand(m->user, user) : strdup(user);
	int ok = u != NULL && strlen(keys) < ROUTE_PATH_MAX && strlen(u) < ROUTE_USER_MAX;
	size_t k;

	for (k = 0; k < m->n_upstreams; k++) {
		host = model_host(m, k, user);
		ok &= strlen(host) < ROUTE_HOST_MAX;
		free(host);
	}
	free(keys);
	free(u);
	return ok;
}

/* t's hosts are the route's, expanded, each once (in the order written
 * for balance = first), and the host in use is the first. */
static int same_hosts(const struct route *m, const char *user, const struct route_target *t)
{
	char *host;
	size_t k, j;
	int ok = t->n_hosts == m->n_upstreams;

	for (k = 0; ok && k < m->n_upstreams; k++) {
		host = model_host(m, k, user);
		for (j = 0; j < t->n_hosts; j++)
			if (strcmp(t->hosts[j].host, host) == 0 && t->hosts[j].port == m->upstreams[k].port &&
			    (m->balance != BALANCE_FIRST || j == k))
				break;
		ok = j < t->n_hosts;
		free(host);
	}
	if (t->n_hosts > 0)
		ok &= strcmp(t->host, t->hosts[0].host) == 0 && t->port == t->hosts[0].port;
	else
		ok &= t->host[0] == '\0' && t->port == 22;
	return ok;
}

static void check_target(const struct config *cfg, const struct route *m, const char *user,
                         const struct route_target *t, size_t size)
{
	char *keys = model_expand(m->authorized_keys, user);
	char *u = m->user ? model_expand(m->user, user) : strdup(user);
	int auth = m->authorized_keys ? m->auth : (m->auth & ~AUTH_PUBLICKEY);
	size_t k;

	if (t->route != m)
		broken("route_match picked another route than the rules", user, size);
	if (u == NULL || !same_hosts(m, user, t) || strcmp(t->user, u) != 0 ||
	    strcmp(t->authorized_keys, keys) != 0)
		broken("expansion differs from %u and %% replaced", user, size);
	if (t->auth != auth || t->identity != (m->identity ? m->identity : cfg->identity))
		broken("methods or identity differ from the route's", user, size);
	for (k = 0; k < t->n_hosts; k++)
		if (!host_chars_ok(t->hosts[k].host))
			broken("upstream host holds a bad character", t->hosts[k].host, size);
	free(keys);
	free(u);
}

static void check_argv(const struct route *m, const char *user, size_t size)
{
	char buf[2048], *argv[LOOKUP_ARGS_MAX + 1];
	int argc = lookup_argv(m, user, buf, sizeof(buf), argv), i;

	if (argc < 0)
		return;
	if (model_uses_u(m->lookup) && !model_safe(user))
		broken("an unsafe name reached a lookup command line", user, size);
	if (argc == 0 || argc > LOOKUP_ARGS_MAX || argv[argc] != NULL || argv[0][0] != '/')
		broken("bad lookup argv", m->lookup, size);
	for (i = 0; i < argc; i++)
		if (argv[i] < buf || argv[i] + strlen(argv[i]) >= buf + sizeof(buf) ||
		    argv[i][0] == '\0' || strpbrk(argv[i], " \t") != NULL)
			broken("bad lookup argument", m->lookup, size);
}

static void check_answer(const struct config *cfg, const struct route *m, const char *user,
                         const char *answer, size_t size)
{
	struct route_target *t = malloc(sizeof(*t)), *before = malloc(sizeof(*t));
	struct reports rep = { "lookup for ", 0, size };
	char *host, *u;
	int n;

	if (t == NULL || before == NULL)
		fatal("out of memory");
	memset(t, 0xa5, sizeof(*t));
	memcpy(before, t, sizeof(*t));
	n = route_apply_answer(cfg, m, user, answer, t, on_report, &rep);
	if (n != rep.n)
		broken("route_apply_answer's count differs from its reports", NULL, size);
	if (n > 0 && memcmp(t, before, sizeof(*t)) != 0)
		broken("a refused answer changed the route", NULL, size);
	if (n == 0) {
		if (t->route != m || t->host[0] == '\0' || !host_chars_ok(t->host) ||
		    !memchr(t->user, '\0', sizeof(t->user)) ||
		    !memchr(t->authorized_keys, '\0', sizeof(t->authorized_keys)))
			broken("bad route from an answer", t->host, size);
		/* Each part is the route's own, expanded, or the answer's text,
		 * taken literally. */
		host = model_host(m, 0, user);
		u = m->user ? model_expand(m->user, user) : strdup(user);
		if (u == NULL)
			fatal("out of memory");
		if (!same_hosts(m, user, t) && (strchr(t->host, '%') || !strstr(answer, t->host)))
			broken("upstream host neither the route's nor the answer's", t->host, size);
		if (strcmp(t->user, u) != 0 && (strchr(t->user, '%') || !strstr(answer, t->user)))
			broken("upstream user neither the route's nor the answer's", t->user, size);
		free(host);
		free(u);
	}
	free(t);
	free(before);
}

static void check_user(const struct config *cfg, const char *user, const char *answer, size_t size)
{
	struct route_target *t = malloc(sizeof(*t));
	const struct route *m = model_route(cfg, user);
	int rc;

	if (t == NULL)
		fatal("out of memory");
	if (user_name_is_safe(user) != model_safe(user))
		broken("user_name_is_safe differs from [A-Za-z0-9._-]{1,32}, no leading -", user, size);
	rc = route_match(cfg, user, t);
	if (rc != 0 && rc != -1)
		broken("route_match returned neither 0 nor -1", user, size);
	if (m == NULL && rc == 0)
		broken("route_match found a route the rules do not give", user, size);
	if (m != NULL && rc != (fits(m, user) ? 0 : -1))
		broken("route_match failed although the route fits, or the reverse", user, size);
	if (rc == 0) {
		check_target(cfg, m, user, t, size);
		if (m->lookup != NULL) {
			check_argv(m, user, size);
			check_answer(cfg, m, user, answer, size);
		}
	}
	free(t);
}

/* ---- the target ---- */

/* The names every input is tried with, besides its own. */
static const char *const fixed_users[] = {
	"alice", "bob", "team-red", "a", "", ".", "..", "%u", "a%%b", "root",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"../etc/passwd", "a b", "\x1b[31mred", "ümlaut", "a/b", "-oProxyCommand=x",
};

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
	static char long_name[5001];
	const char *users[MAX_USERS + MAX_PATTERN_USERS + sizeof(fixed_users) / sizeof(fixed_users[0]) + 1];
	struct reports rep = { NULL, 0, size };
	const uint8_t *nul;
	uint8_t *data;
	struct config cfg;
	char *rest = NULL, *answer = "", *s;
	size_t n_users = 0, i, rest_len;
	int n;

	setup();
	data = expand_dir(input, &size);
	nul = memchr(data, '\0', size);
	write_ini(data, nul ? (size_t)(nul - data) : size);
	rep.prefix = ini_path;
	n = config_load(ini_path, &cfg, on_report, &rep);
	if (n != rep.n)
		broken("config_load's count differs from its reports", NULL, size);
	if (n == 0)
		check_usable(&cfg, size);

	/* The answer and the user names: NUL-separated, after route.ini. */
	if (nul != NULL) {
		rest_len = size - (size_t)(nul - data) - 1;
		rest = malloc(rest_len + 1);
		if (rest == NULL)
			fatal("out of memory");
		memcpy(rest, nul + 1, rest_len);
		rest[rest_len] = '\0';
		answer = rest;
		for (s = rest + strlen(rest); s < rest + rest_len && n_users < MAX_USERS; s += strlen(s))
			users[n_users++] = ++s;
	}
	for (i = 0; i < cfg.n_routes && i < MAX_PATTERN_USERS; i++)
		users[n_users++] = cfg.routes[i].pattern;
	for (i = 0; i < sizeof(fixed_users) / sizeof(fixed_users[0]); i++)
		users[n_users++] = fixed_users[i];
	if (long_name[0] == '\0')
		memset(long_name, 'x', sizeof(long_name) - 1);
	users[n_users++] = long_name;

	for (i = 0; i < n_users; i++)
		check_user(&cfg, users[i], answer, size);
	config_free(&cfg);
	free(rest);
	free(data);
	return 0;
}
