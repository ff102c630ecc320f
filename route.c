/* route.c: a user name to a route target.
 *
 * route.ini (config.c) says which routes there are; this file picks the
 * one for a user (an exact route wins over patterns), expands %u for names
 * that pass the %u rule, orders a route's upstream list (first, by
 * rendezvous hashing on the user, or random), and applies a lookup
 * program's answer (run by lookup.c) with the same checks as route.ini. */
#include "route.h"

#include <ctype.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lookup.h"

/* ---- lookup ---- */

/* A name may not start with '-': %u also goes into the argv of lookup
 * programs, where "-x" would be read as an option (and GNU getopt takes
 * options from anywhere on the command line). */
int user_name_is_safe(const char *name)
{
	size_t n;

	if (name[0] == '-')
		return 0;
	for (n = 0; name[n]; n++) {
		unsigned char c = (unsigned char)name[n];

		if (n >= USER_NAME_MAX)
			return 0;
		if (!isascii(c) || !(isalnum(c) || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

/* "." and ".." are safe names, but in a path they would climb out of the
 * directory %u was meant to pick a file from. */
static int is_dot_or_dotdot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static int route_matches(const struct route *r, const char *user)
{
	if (r->n_upstreams == 0 && r->lookup == NULL)
		return 0;   /* its upstream or lookup was bad: reported at load time */
	if (r->uses_u && !user_name_is_safe(user))
		return 0;
	if (r->authorized_keys != NULL && template_uses_u(r->authorized_keys) && is_dot_or_dotdot(user))
		return 0;
	if (r->is_glob)
		return fnmatch(r->pattern, user, 0) == 0;
	return strcmp(r->pattern, user) == 0;
}

static const struct route *find_route(const struct config *cfg, const char *user, int globs)
{
	size_t i;

	for (i = 0; i < cfg->n_routes; i++)
		if (cfg->routes[i].is_glob == globs && route_matches(&cfg->routes[i], user))
			return &cfg->routes[i];
	return NULL;
}

/* ---- upstream lists ---- */

/* A host's weight for user in rendezvous (highest random weight) hashing:
 * the first 8 bytes of SHA-256 over user, a NUL and host:port. Each user
 * ranks the hosts in an order of its own, the same every time; removing a
 * host moves only the users who ranked it first. */
static uint64_t rendezvous_weight(const char *user, const struct upstream_host *h)
{
	unsigned char digest[32];
	char host_port[ROUTE_HOST_MAX + 8];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t w = 0;
	int i;

	snprintf(host_port, sizeof(host_port), "%s:%d", h->host, h->port);
	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, user, strlen(user) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, host_port, strlen(host_port)) == 1 &&
	    EVP_DigestFinal_ex(ctx, digest, NULL) == 1)
		for (i = 0; i < 8; i++)
			w = w << 8 | digest[i];
	EVP_MD_CTX_free(ctx);
	return w;
}

/* balance = user: heaviest first (a short list: insertion sort). */
static void order_by_user(struct route_target *out, const char *user)
{
	uint64_t weight[UPSTREAMS_MAX], w;
	struct upstream_host h;
	size_t i, j;

	for (i = 0; i < out->n_hosts; i++)
		weight[i] = rendezvous_weight(user, &out->hosts[i]);
	for (i = 1; i < out->n_hosts; i++) {
		h = out->hosts[i];
		w = weight[i];
		for (j = i; j > 0 && weight[j - 1] < w; j--) {
			out->hosts[j] = out->hosts[j - 1];
			weight[j] = weight[j - 1];
		}
		out->hosts[j] = h;
		weight[j] = w;
	}
}

/* balance = random: a Fisher-Yates shuffle. */
static void order_at_random(struct route_target *out)
{
	struct upstream_host h;
	uint32_t r;
	size_t i, j;

	for (i = out->n_hosts; i > 1; i--) {
		if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
			return;   /* no randomness: the order as written */
		j = r % i;
		h = out->hosts[i - 1];
		out->hosts[i - 1] = out->hosts[j];
		out->hosts[j] = h;
	}
}

/* The route's upstream list expanded for user, in the order to try it;
 * out->host and out->port are the first. */
static int expand_upstreams(const struct route *r, const char *user, struct route_target *out)
{
	size_t i;

	for (i = 0; i < r->n_upstreams; i++) {
		if (expand_template(r->upstreams[i].host, user, out->hosts[i].host,
		                    sizeof(out->hosts[i].host)) < 0)
			return -1;
		out->hosts[i].port = r->upstreams[i].port;
	}
	out->n_hosts = r->n_upstreams;
	if (r->balance == BALANCE_USER)
		order_by_user(out, user);
	else if (r->balance == BALANCE_RANDOM)
		order_at_random(out);
	if (out->n_hosts > 0) {
		memcpy(out->host, out->hosts[0].host, sizeof(out->host));
		out->port = out->hosts[0].port;
	} else {
		out->port = DEFAULT_PORT;
	}
	return 0;
}

/* The more specific setting wins: a route's CA, else the route's own
 * identity, else [server]'s CA, else [server]'s identity. Within one
 * section the CA wins over the identity. */
static void choose_certificate_authority(const struct config *cfg, const struct route *r,
                                         struct route_target *out)
{
	if (r->certificate_authority != NULL)
		out->certificate_authority = r->certificate_authority;
	else if (r->identity == NULL)
		out->certificate_authority = cfg->certificate_authority;
	out->certificate_validity = r->certificate_validity ? r->certificate_validity
	                                                    : cfg->certificate_validity;
}

static int expand_route(const struct config *cfg, const struct route *r, const char *user,
                        struct route_target *out)
{
	memset(out, 0, sizeof(*out));
	out->route = r;
	out->identity = r->identity != NULL ? r->identity : cfg->identity;
	out->connect_timeout = r->connect_timeout ? r->connect_timeout : cfg->connect_timeout;
	choose_certificate_authority(cfg, r, out);
	out->record = r->record;
	out->record_input = r->record_input;
	out->max_session_time = r->max_session_time >= 0 ? r->max_session_time : cfg->max_session_time;
	out->forward = (r->forward & r->forward_set) | (cfg->forward & ~r->forward_set);
	out->auth = r->auth;
	/* No upstream: a lookup route whose answer gives it; out->host stays "". */
	if (expand_upstreams(r, user, out) < 0)
		return -1;
	if (r->authorized_keys == NULL)
		out->auth &= ~AUTH_PUBLICKEY;   /* no keys to check against */
	else if (expand_template(r->authorized_keys, user, out->authorized_keys,
	                         sizeof(out->authorized_keys)) < 0)
		return -1;
	if (r->user == NULL) {
		if (strlen(user) >= sizeof(out->user))
			return -1;
		/* NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy): length checked above */
		strcpy(out->user, user);
		return 0;
	}
	return expand_template(r->user, user, out->user, sizeof(out->user));
}

int route_match(const struct config *cfg, const char *user, struct route_target *out)
{
	const struct route *r = find_route(cfg, user, 0);

	if (r == NULL)
		r = find_route(cfg, user, 1);
	if (r == NULL)
		return -1;
	return expand_route(cfg, r, user, out);
}

/* A problem with an answer that route.ini's checks passed, reported as
 * config.c reports the others. */
static int report_answer(config_report_fn report_fn, void *ctx, const char *user,
                         const char *message)
{
	char text[512];

	snprintf(text, sizeof(text), "lookup for %s: %s", user, message);
	if (report_fn != NULL)
		report_fn(text, ctx);
	return 1;
}

/* The route with what the answer set (a) put over it, expanded into out;
 * the number of problems, out untouched when there are any. */
static int fill_target(const struct config *cfg, const struct route *r, const struct route *a,
                       const char *user, struct route_target *out,
                       config_report_fn report_fn, void *ctx)
{
	struct route merged = *r;
	struct route_target *t = malloc(sizeof(*t));
	int problems = 0;

	if (t == NULL)
		return report_answer(report_fn, ctx, user, "out of memory");
	if (a->n_upstreams > 0) {
		memcpy(merged.upstreams, a->upstreams, sizeof(merged.upstreams));
		merged.n_upstreams = a->n_upstreams;
	}
	merged.user = a->user ? a->user : r->user;
	merged.authorized_keys = a->authorized_keys ? a->authorized_keys : r->authorized_keys;
	merged.identity = a->identity ? a->identity : r->identity;
	if (expand_route(cfg, &merged, user, t) < 0)
		problems = report_answer(report_fn, ctx, user,
		                         "the user name does not fit the upstream user or authorized_keys");
	else if (a->identity != NULL && strlen(a->identity) >= sizeof(t->identity_buf))
		problems = report_answer(report_fn, ctx, user, "identity path too long");
	if (problems == 0) {
		*out = *t;
		out->route = r;
		/* The answer's strings are freed on return: keep a copy. */
		if (a->identity != NULL)
			/* NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy): length checked above */
			out->identity = strcpy(out->identity_buf, a->identity);
	}
	free(t);
	return problems;
}

int route_apply_answer(const struct config *cfg, const struct route *r, const char *user,
                       const char *answer, struct route_target *out,
                       config_report_fn report_fn, void *ctx)
{
	struct route draft;
	int problems = config_read_answer(cfg, r, user, answer, &draft, report_fn, ctx);

	if (problems == 0)
		problems = fill_target(cfg, r, &draft, user, out, report_fn, ctx);
	config_free_answer(&draft);
	return problems;
}

enum route_found route_resolve(const struct config *cfg, const char *user,
                               const char *client_addr, int client_port,
                               struct route_target *out, config_report_fn report, void *ctx)
{
	enum route_found found;
	char *answer;

	if (route_match(cfg, user, out) < 0)
		return ROUTE_NONE;
	if (out->route->lookup == NULL)
		return ROUTE_FOUND;
	switch (lookup_run(out->route, user, client_addr, client_port, &answer, report, ctx)) {
	case LOOKUP_NO_USER:
		return ROUTE_NONE;
	case LOOKUP_FAILED:
		return ROUTE_FAILED;
	case LOOKUP_ANSWER:
		break;
	}
	found = route_apply_answer(cfg, out->route, user, answer, out, report, ctx) == 0 ? ROUTE_FOUND
	                                                                              : ROUTE_FAILED;
	free(answer);
	return found;
}
