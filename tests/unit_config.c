/* unit_config.c: unit tests for the routing table (config.c).
 *
 * Writes route.ini files into a temporary directory (with real host keys
 * made by ssh-keygen), loads them with config_load and checks the problems
 * reported and the routes found. Prints one line per case, "ok - NAME" or
 * "not ok - NAME: detail", and exits 1 when any case failed. */
#include "config.h"
#include "lookup.h"
#include "route.h"

#include <ftw.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

/* The [server] section every file below starts with: lines 1 to 3. */
#define SERVER "[server]\nhost_key = hk\nknown_hosts = known_hosts\n"
/* The same with a default identity: lines 1 to 4. */
#define SERVER_ID SERVER "identity = id\n"

#define MAX_MESSAGES 64

struct messages {
	char *text[MAX_MESSAGES];
	int n;
};

/* One expected problem: reported at line (0: no line) and containing text. */
struct want {
	int line;
	const char *text;
};

#define WANT(...) (struct want[]){ __VA_ARGS__ }, \
	sizeof((struct want[]){ __VA_ARGS__ }) / sizeof(struct want)
#define NO_PROBLEMS NULL, 0

/* Not under /tmp: sshroute trusts no key file below a directory that
 * others may write to (keys.c, key_file_is_trusted). */
static char tmpdir[] = "/run/unit_config.XXXXXX";

/* ---- files ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
	chmod(path, mode);
}

static void make_fixtures(void)
{
	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) != 0) {
		perror(tmpdir);
		exit(2);
	}
	run("ssh-keygen -q -t ed25519 -N '' -C '' -f hk");
	run("ssh-keygen -q -t ecdsa -N '' -C '' -f hk2");
	run("ssh-keygen -q -t ed25519 -N secret -C '' -f hkpw");
	run("cp hk hk644");
	chmod("hk", 0600);
	chmod("hk2", 0600);
	chmod("hkpw", 0600);
	chmod("hk644", 0644);
	write_file("notakey", "this is not a key\n", 0600);
	write_file("known_hosts", "", 0644);
	write_file("hk000", "", 0000);
	write_file("kh000", "", 0000);
	mkdir("adir", 0700);
	run("ssh-keygen -q -t ed25519 -N '' -C '' -f id");
	run("cp hk2 id2");
	chmod("id", 0600);
	chmod("id2", 0600);
	run("cp id id640");
	chmod("id640", 0640);
	run("ssh-keygen -q -t ed25519 -N '' -C '' -f ca");
	run("ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C '' -f capem");
	chmod("ca", 0600);
	chmod("capem", 0600);
	write_file("ak", "", 0644);
	write_file("ak%u", "", 0644);
	write_file("ak000", "", 0000);
	write_file("lookup-ok", "#!/bin/sh\necho upstream = h\n", 0755);
	write_file("lookup-noexec", "#!/bin/sh\n", 0644);
	write_file("lookup-100%", "#!/bin/sh\n", 0755);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void remove_fixtures(void)
{
	if (chdir("/") != 0)
		perror("/");
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- loading ---- */

static void collect(const char *message, void *ctx)
{
	struct messages *m = ctx;

	if (m->n < MAX_MESSAGES)
		m->text[m->n++] = strdup(message);
}

static void free_messages(struct messages *m)
{
	int i;

	for (i = 0; i < m->n; i++)
		free(m->text[i]);
	m->n = 0;
}

static void join_messages(const struct messages *m, char *out, size_t size)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < m->n && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s[%s]", i ? " " : "", m->text[i]);
}

/* Loads path; a mismatch between return value and reports is a failure. */
static int load_file(const char *name, const char *path, struct config *cfg, struct messages *m)
{
	int rc;

	m->n = 0;
	rc = config_load(path, cfg, collect, m);
	if (rc != m->n) {
		fail(name, "config_load returned %d but reported %d problems", rc, m->n);
		return -1;
	}
	return 0;
}

static int load_text(const char *name, const char *text, struct config *cfg, struct messages *m)
{
	write_file("route.ini", text, 0644);
	return load_file(name, "route.ini", cfg, m);
}

/* Problems come from route.ini, or from a lookup answer for answer_user. */
static const char *answer_user;

static int message_matches(const char *message, const struct want *w)
{
	char prefix[128];

	if (answer_user != NULL && w->line > 0)
		snprintf(prefix, sizeof(prefix), "lookup for %s: line %d: ", answer_user, w->line);
	else if (answer_user != NULL)
		snprintf(prefix, sizeof(prefix), "lookup for %s: ", answer_user);
	else if (w->line > 0)
		snprintf(prefix, sizeof(prefix), "route.ini:%d: ", w->line);
	else
		snprintf(prefix, sizeof(prefix), "route.ini: ");
	return strncmp(message, prefix, strlen(prefix)) == 0 && strstr(message, w->text) != NULL;
}

/* Every wanted problem must be reported, each by its own message, and
 * nothing else. */
static int check_messages(const char *name, const struct messages *m,
                          const struct want *wants, size_t n_wants)
{
	char got[4096];
	int used[MAX_MESSAGES] = { 0 };
	size_t i;
	int j;

	join_messages(m, got, sizeof(got));
	for (i = 0; i < n_wants; i++) {
		for (j = 0; j < m->n; j++)
			if (!used[j] && message_matches(m->text[j], &wants[i]))
				break;
		if (j == m->n) {
			fail(name, "missing line %d \"%s\"; got %s", wants[i].line, wants[i].text, got);
			return -1;
		}
		used[j] = 1;
	}
	if ((size_t)m->n != n_wants) {
		fail(name, "expected %zu problems, got %d: %s", n_wants, m->n, got);
		return -1;
	}
	return 0;
}

static void expect_problems(const char *name, const char *text,
                            const struct want *wants, size_t n_wants)
{
	struct config cfg;
	struct messages m;

	if (load_text(name, text, &cfg, &m) == 0 && check_messages(name, &m, wants, n_wants) == 0)
		pass(name);
	free_messages(&m);
	config_free(&cfg);
}

/* ---- lookups ---- */

static void expect_route(const char *name, const struct config *cfg, const char *user,
                         const char *host, int port, const char *upstream_user)
{
	struct route_target t;

	if (route_match(cfg, user, &t) != 0)
		fail(name, "no route for \"%s\"", user);
	else if (strcmp(t.host, host) != 0 || t.port != port || strcmp(t.user, upstream_user) != 0)
		fail(name, "\"%s\" went to %s port %d as %s (route %s), expected %s port %d as %s",
		     user, t.host, t.port, t.user, t.route->pattern, host, port, upstream_user);
	else
		pass(name);
}

static void expect_no_route(const char *name, const struct config *cfg, const char *user)
{
	struct route_target t;

	if (route_match(cfg, user, &t) == 0)
		fail(name, "\"%s\" went to %s via [route %s]", user, t.host, t.route->pattern);
	else
		pass(name);
}

/* Loads a file that must be free of problems, for lookup tests. */
static int load_good(const char *name, const char *text, struct config *cfg)
{
	struct messages m;
	int ok = load_text(name, text, cfg, &m) == 0 && check_messages(name, &m, NO_PROBLEMS) == 0;

	free_messages(&m);
	return ok ? 0 : -1;
}

/* snprintf into buf, for files that name tmpdir (absolute paths). */
__attribute__((format(printf, 3, 4)))
static const char *format_text(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return buf;
}

static int same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Looks user up and checks the key-mapping fields of the target. */
static void expect_keys(const char *name, const struct config *cfg, const char *user,
                        const char *authorized_keys, const char *identity, int auth)
{
	struct route_target t;

	if (route_match(cfg, user, &t) != 0)
		fail(name, "no route for \"%s\"", user);
	else if (strcmp(t.authorized_keys, authorized_keys) != 0 || !same_string(t.identity, identity) ||
	         t.auth != auth)
		fail(name, "\"%s\" got authorized_keys \"%s\" identity %s auth %d (route %s), "
		     "expected \"%s\" %s %d", user, t.authorized_keys, t.identity ? t.identity : "NULL",
		     t.auth, t.route->pattern, authorized_keys, identity ? identity : "NULL", auth);
	else
		pass(name);
}

/* Looks user up and checks which CA (NULL: none, the identity is used)
 * and validity the target has. */
static void expect_ca(const char *name, const struct config *cfg, const char *user,
                      const char *ca, int validity)
{
	struct route_target t;

	if (route_match(cfg, user, &t) != 0)
		fail(name, "no route for \"%s\"", user);
	else if (!same_string(t.certificate_authority, ca) || t.certificate_validity != validity)
		fail(name, "\"%s\" got CA %s validity %d, expected %s %d", user,
		     t.certificate_authority ? t.certificate_authority : "NULL", t.certificate_validity,
		     ca ? ca : "NULL", validity);
	else
		pass(name);
}

/* ---- cases: valid files ---- */

static void test_valid_file(void)
{
	const char *name = "valid file reports no problems";
	struct config cfg;

	if (load_good(name, "; sample\n"
	              "# another comment\n"
	              "[server]   ; inline comment\n"
	              "host_key = hk\n"
	              "host_key = hk2   ; a second key is fine\n"
	              "  known_hosts = known_hosts\n"
	              "login_grace_time = 0\n"
	              "max_auth_tries = 100\n"
	              "log_level = debug\n"
	              "\n"
	              "[route alice]\n"
	              "\tupstream = host-alice.example.net\n"
	              "  user = alice2\n"
	              "[route team-[ab]*]\n"
	              "upstream: %u.teams.example.net:2222\n", &cfg) < 0)
		goto out;
	if (cfg.n_host_keys != 2 || strcmp(cfg.host_keys[0], "hk") || strcmp(cfg.host_keys[1], "hk2"))
		fail(name, "host keys not read");
	else if (!cfg.known_hosts || strcmp(cfg.known_hosts, "known_hosts"))
		fail(name, "known_hosts not read");
	else if (cfg.login_grace_time != 0 || cfg.max_auth_tries != 100 || cfg.log_level != LOG_LEVEL_DEBUG)
		fail(name, "numbers or log_level not read: %d %d %d",
		     cfg.login_grace_time, cfg.max_auth_tries, (int)cfg.log_level);
	else if (cfg.n_routes != 2 || cfg.routes[0].line != 11 || cfg.routes[1].line != 14 ||
	         cfg.routes[0].is_glob || !cfg.routes[1].is_glob || cfg.routes[0].uses_u || !cfg.routes[1].uses_u)
		fail(name, "routes not read as expected");
	else
		pass(name);
	expect_route("bracket glob in a header", &cfg, "team-b2", "team-b2.teams.example.net", 2222, "team-b2");
out:
	config_free(&cfg);
}

static void test_defaults(void)
{
	const char *name = "defaults: grace 60, tries 6, log info, 64 channels";
	struct config cfg;

	if (load_good(name, SERVER "[route bob]\nupstream = bob.example\n", &cfg) == 0) {
		if (cfg.login_grace_time != 60 || cfg.max_auth_tries != 6 || cfg.log_level != LOG_LEVEL_INFO ||
		    cfg.max_channels != 64)
			fail(name, "got %d %d %d %d", cfg.login_grace_time, cfg.max_auth_tries,
			     (int)cfg.log_level, cfg.max_channels);
		else
			pass(name);
		expect_route("default port 22 and default user = client name", &cfg, "bob", "bob.example", 22, "bob");
		if (cfg.identity != NULL || cfg.routes[0].authorized_keys != NULL ||
		    cfg.routes[0].identity != NULL || cfg.routes[0].auth != AUTH_ALL)
			fail("defaults: no keys, no identity, auth all", "got %p %p %p %d",
			     (void *)cfg.identity, (void *)cfg.routes[0].authorized_keys,
			     (void *)cfg.routes[0].identity, cfg.routes[0].auth);
		else
			pass("defaults: no keys, no identity, auth all");
		expect_keys("default target: no keys, no identity, publickey cleared", &cfg, "bob",
		            "", NULL, AUTH_PASSWORD | AUTH_KBDINT);
	}
	config_free(&cfg);
}

static void test_crlf_and_bom(void)
{
	struct config cfg;

	if (load_good("CRLF line endings and a BOM are accepted",
	              "\xEF\xBB\xBF[server]\r\nhost_key = hk\r\nknown_hosts = known_hosts\r\n"
	              "[route a]\r\nupstream = a.example:2200\r\n", &cfg) == 0) {
		pass("CRLF line endings and a BOM are accepted");
		expect_route("CRLF values are trimmed", &cfg, "a", "a.example", 2200, "a");
	}
	config_free(&cfg);
}

/* ---- cases: matching ---- */

static void test_exact_beats_pattern(void)
{
	struct config cfg;

	if (load_good("exact beats pattern: file", SERVER
	              "[route *]\nupstream = star.example\n"
	              "[route alice]\nupstream = alice.example\n", &cfg) == 0) {
		expect_route("exact beats an earlier pattern", &cfg, "alice", "alice.example", 22, "alice");
		expect_route("others take the pattern", &cfg, "bob", "star.example", 22, "bob");
	}
	config_free(&cfg);
}

static void test_first_pattern_wins(void)
{
	struct config cfg;

	if (load_good("first pattern wins: file", SERVER
	              "[route team-*]\nupstream = %u.teams.example.net:2222\nuser = x-%u\n"
	              "[route team-r*]\nupstream = red-second.example\n"
	              "[route *]\nupstream = star.example\n", &cfg) == 0) {
		expect_route("first pattern wins, %u in upstream and user", &cfg, "team-red",
		             "team-red.teams.example.net", 2222, "x-team-red");
		expect_route("later catch-all", &cfg, "zed", "star.example", 22, "zed");
	}
	config_free(&cfg);
}

static void test_percent_u_rule(void)
{
	static const char *const unsafe[] = {
		"a/b", "a b", "a;b", "a$b", "a@b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 33 */, "",
		"-x", "-oProxyCommand=x", "--",
	};
	const char *name32 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	struct config cfg;
	char case_name[128];
	size_t i;

	/* "**" is a second catch-all (a different pattern string than "*")
	 * that does not use %u. */
	if (load_good("%u rule: file", SERVER
	              "[route a@b]\nupstream = %u.exact.example\n"
	              "[route x*]\nupstream = fixed.example\nuser = up-%u\n"
	              "[route *]\nupstream = %u.int.example\n"
	              "[route **]\nupstream = fallback.example\n", &cfg) < 0)
		goto out;
	for (i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		snprintf(case_name, sizeof(case_name), "unsafe name \"%.40s\" skips %%u routes", unsafe[i]);
		expect_route(case_name, &cfg, unsafe[i], "fallback.example", 22, unsafe[i]);
	}
	expect_route("safe name expands %u", &cfg, "bob", "bob.int.example", 22, "bob");
	expect_route("32 characters are safe", &cfg, name32,
	             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.int.example", 22, name32);
	expect_route("%u only in user", &cfg, "xavier", "fixed.example", 22, "up-xavier");
	expect_route("unsafe name skips a route with %u only in user", &cfg, "x y",
	             "fallback.example", 22, "x y");
	if (user_name_is_safe("") || user_name_is_safe("a/b") || user_name_is_safe("\xc3\xa9") ||
	    user_name_is_safe("-a") || !user_name_is_safe("a-") ||
	    !user_name_is_safe("A-z_0.9") || !user_name_is_safe(name32))
		fail("user_name_is_safe", "wrong answer");
	else
		pass("user_name_is_safe");
out:
	config_free(&cfg);
}

static void test_no_match(void)
{
	struct config cfg;

	if (load_good("no route: file", SERVER "[route *]\nupstream = %u.example\n", &cfg) == 0) {
		expect_no_route("unsafe name and only %u routes: no route", &cfg, "a/b");
		expect_no_route("empty name and only %u routes: no route", &cfg, "");
	}
	config_free(&cfg);
	if (load_good("no route: file 2", SERVER "[route alice]\nupstream = a.example\n", &cfg) == 0)
		expect_no_route("name without a route", &cfg, "alicia");
	config_free(&cfg);
}

static void test_percent_percent(void)
{
	struct config cfg;

	if (load_good("%% file", SERVER "[route pct]\nupstream = h.example\nuser = a%%b%%u\n", &cfg) == 0) {
		expect_route("%% is a literal %, %%u is not %u", &cfg, "pct", "h.example", 22, "a%b%u");
		if (cfg.n_routes != 1 || cfg.routes[0].uses_u)
			fail("%%u does not count as %u", "uses_u set");
		else
			pass("%%u does not count as %u");
	}
	config_free(&cfg);
}

static void test_upstream_forms(void)
{
	struct config cfg;

	if (load_good("upstream forms: file", SERVER
	              "[route v6a]\nupstream = [::1]\n"
	              "[route v6b]\nupstream = [2001:db8::1]:2200\n"
	              "[route v4]\nupstream = 192.0.2.1:65535\n"
	              "[route name]\nupstream = host_1-a.example:1\n", &cfg) == 0) {
		expect_route("[v6] gets port 22, no brackets", &cfg, "v6a", "::1", 22, "v6a");
		expect_route("[v6]:port", &cfg, "v6b", "2001:db8::1", 2200, "v6b");
		expect_route("ipv4:port", &cfg, "v4", "192.0.2.1", 65535, "v4");
		expect_route("host:port", &cfg, "name", "host_1-a.example", 1, "name");
	}
	config_free(&cfg);
}

/* ---- cases: key mapping ---- */

static void test_key_mapping(void)
{
	const char *name = "key mapping: file read";
	char text[2048], ak[256], team[256];
	struct config cfg;
	const struct route *r;

	format_text(text, sizeof(text), SERVER_ID          /* 1-4 */
	            "[route alice]\n"                      /* 5 */
	            "upstream = a.example\n"
	            "authorized_keys = %s/ak   ; shared\n"
	            "auth = publickey , password\n"
	            "[route team-*]\n"                     /* 9 */
	            "upstream = t.example\n"
	            "authorized_keys = %s/keys/%%u\n"
	            "identity = id2\n"
	            "auth = keyboard-interactive,publickey,password\n"
	            "[route bob]\n"                        /* 14 */
	            "upstream = b.example\n"
	            "auth = keyboard-interactive\n"
	            "[route pct]\n"                        /* 17 */
	            "upstream = p.example\n"
	            "authorized_keys = %s/ak%%%%u\n", tmpdir, tmpdir, tmpdir);
	if (load_good(name, text, &cfg) < 0)
		goto out;
	r = cfg.routes;
	if (!same_string(cfg.identity, "id"))
		fail(name, "[server] identity not read");
	else if (cfg.n_routes != 4 || !r[0].authorized_keys || strcmp(r[0].authorized_keys + strlen(tmpdir), "/ak") ||
	         r[0].identity != NULL || r[0].auth != (AUTH_PUBLICKEY | AUTH_PASSWORD) || r[0].uses_u)
		fail(name, "[route alice] not read as expected");
	else if (!r[1].uses_u || !same_string(r[1].identity, "id2") || r[1].auth != AUTH_ALL)
		fail(name, "[route team-*] not read as expected");
	else if (r[2].authorized_keys != NULL || r[2].auth != AUTH_KBDINT || r[2].identity != NULL)
		fail(name, "[route bob] not read as expected");
	else if (r[3].uses_u)
		fail(name, "%%%%u in authorized_keys counted as %%u");
	else
		pass(name);
	snprintf(ak, sizeof(ak), "%s/ak", tmpdir);
	expect_keys("target: authorized_keys, [server] identity, auth list", &cfg, "alice",
	            ak, "id", AUTH_PUBLICKEY | AUTH_PASSWORD);
	snprintf(team, sizeof(team), "%s/keys/team-red", tmpdir);
	expect_keys("target: %u expanded in authorized_keys, route identity wins", &cfg, "team-red",
	            team, "id2", AUTH_ALL);
	expect_keys("target: no authorized_keys, [server] identity still given", &cfg, "bob",
	            "", "id", AUTH_KBDINT);
	snprintf(ak, sizeof(ak), "%s/ak%%u", tmpdir);
	expect_keys("target: %% in authorized_keys is a literal %", &cfg, "pct", ak, "id", AUTH_ALL);
out:
	config_free(&cfg);
}

static void test_authorized_keys_percent_u_rule(void)
{
	struct config cfg;

	/* A route whose only %u is in authorized_keys counts as using %u. */
	if (load_good("%u only in authorized_keys: file", SERVER_ID
	              "[route *]\nupstream = keyed.example\nauthorized_keys = /nonexistent/%u\n"
	              "[route **]\nupstream = fallback.example\n", &cfg) < 0)
		goto out;
	if (cfg.n_routes != 2 || !cfg.routes[0].uses_u)
		fail("%u in authorized_keys sets uses_u", "uses_u not set");
	else
		pass("%u in authorized_keys sets uses_u");
	expect_route("safe name takes the keyed route", &cfg, "bob", "keyed.example", 22, "bob");
	expect_keys("safe name: path expanded", &cfg, "bob", "/nonexistent/bob", "id", AUTH_ALL);
	expect_route("unsafe name skips a route with %u only in authorized_keys", &cfg, "a/b",
	             "fallback.example", 22, "a/b");
	expect_route("\"..\" skips a route with %u in authorized_keys", &cfg, "..",
	             "fallback.example", 22, "..");
	expect_route("\".\" skips a route with %u in authorized_keys", &cfg, ".",
	             "fallback.example", 22, ".");
	expect_route("\"...\" is an ordinary name", &cfg, "...", "keyed.example", 22, "...");
out:
	config_free(&cfg);
}

static void test_identity_order(void)
{
	struct config cfg;
	char text[1024];

	format_text(text, sizeof(text), "[route a]\nupstream = h\nauthorized_keys = %s/ak\n"
	            "[server]\nhost_key = hk\nknown_hosts = known_hosts\nidentity = id\n", tmpdir);
	if (load_good("[server] identity after the routes that need it", text, &cfg) == 0)
		pass("[server] identity after the routes that need it");
	config_free(&cfg);
	format_text(text, sizeof(text), SERVER "[route a]\nupstream = h\nauthorized_keys = %s/ak\n"
	            "identity = id\n", tmpdir);
	if (load_good("route identity without a [server] one", text, &cfg) == 0)
		expect_keys("route identity without a [server] one", &cfg, "a",
		            cfg.routes[0].authorized_keys, "id", AUTH_ALL);
	config_free(&cfg);
}

static void expect_eq_str(const char *name, const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		pass(name);
	else
		fail(name, "got \"%s\", expected \"%s\"", got, want);
}

/* Looks user up and checks recording, time limit and forwarding. */
static void expect_policy(const char *name, const struct config *cfg, const char *user,
                          int record, int record_input, int max_session_time, int forward)
{
	struct route_target t;

	if (route_match(cfg, user, &t) != 0)
		fail(name, "no route for \"%s\"", user);
	else if (t.record != record || t.record_input != record_input ||
	         t.max_session_time != max_session_time || t.forward != forward)
		fail(name, "\"%s\" got record %d/%d time %d forward %d, expected %d/%d %d %d", user,
		     t.record, t.record_input, t.max_session_time, t.forward, record, record_input,
		     max_session_time, forward);
	else
		pass(name);
}

/* The hosts of user's target, "h:p h:p ...", in the order to try them. */
static void target_hosts(const struct config *cfg, const char *user, char *out, size_t size,
                         int *connect_timeout)
{
	struct route_target t;
	size_t i, len;

	out[0] = '\0';
	if (route_match(cfg, user, &t) != 0)
		return;
	for (i = 0; i < t.n_hosts; i++) {
		len = strlen(out);
		snprintf(out + len, size - len, "%s%s:%d", i ? " " : "", t.hosts[i].host, t.hosts[i].port);
	}
	*connect_timeout = t.connect_timeout;
}

/* Upstream lists, balance and connect_timeout (issue 17). */
static void test_upstream_lists(void)
{
	char got[1024], again[1024], name[32];
	struct config cfg;
	int timeout = 0, i, first_seen[3] = { 0, 0, 0 };

	if (load_good("upstream lists", SERVER "connect_timeout = 7\n"
	              "[route a]\nupstream = h1, h2:2222 ,[2001:db8::1]:2200\n"
	              "[route u*]\nupstream = %u-1, %u-2:22, h3\nbalance = user\nconnect_timeout = 2\n"
	              "[route r]\nupstream = h1, h2, h3\nbalance = random\n", &cfg) == 0) {
		target_hosts(&cfg, "a", got, sizeof(got), &timeout);
		expect_eq_str("list: in the order written, ports and IPv6", got,
		              "h1:22 h2:2222 2001:db8::1:2200");
		if (timeout == 7)
			pass("connect_timeout: [server]'s");
		else
			fail("connect_timeout: [server]'s", "got %d", timeout);
		for (i = 0; i < 24; i++) {
			snprintf(name, sizeof(name), "u%d", i);
			target_hosts(&cfg, name, got, sizeof(got), &timeout);
			target_hosts(&cfg, name, again, sizeof(again), &timeout);
			if (strcmp(got, again) != 0)
				fail("balance = user: the same order every time", "%s then %s", got, again);
			first_seen[strncmp(got, "h3:", 3) == 0 ? 2 : got[strlen(name) + 1] == '1' ? 0 : 1] = 1;
		}
		if (first_seen[0] && first_seen[1] && first_seen[2])
			pass("balance = user: names spread over every host, each its own order");
		else
			fail("balance = user: names spread over every host", "%d %d %d", first_seen[0],
			     first_seen[1], first_seen[2]);
		if (timeout == 2)
			pass("connect_timeout: a route's own");
		else
			fail("connect_timeout: a route's own", "got %d", timeout);
	}
	config_free(&cfg);
	expect_problems("upstream list errors", SERVER
	                "[route a]\nupstream = h1,,h2\n"                                /* 5 */
	                "[route b]\nupstream = h1, h1\n"                                /* 7 */
	                "[route c]\nupstream = a,b,c,d,e,f,g,h,i\n"                     /* 9 */
	                "[route d]\nupstream = h1, bad host\n"                          /* 11 */
	                "[route e]\nupstream = h1\nbalance = round-robin\n"            /* 14 */
	                "[route f]\nupstream = h1\nconnect_timeout = 0\n",             /* 17 */
	                WANT({ 5, "empty item in upstream \"h1,,h2\"" },
	                     { 7, "upstream \"h1, h1\" lists h1 twice" },
	                     { 9, "lists more than 8 hosts" },
	                     { 11, "bad host" },
	                     { 14, "bad balance \"round-robin\" (first, user or random)" },
	                     { 17, "connect_timeout \"0\" is out of range" }));
}

/* record, record_input, max_session_time and the forwarding switches
 * (issue 16): a route's own setting, else [server]'s. */
static void test_session_policy(void)
{
	struct config cfg;

	if (load_good("recording, time and forwarding keys", SERVER
	              "record_dir = /var/log/x\nrecord_max_size = 4096\nmax_session_time = 60\n"
	              "allow_tcp_forwarding = remote\nx11_forwarding = no\n"
	              "[route a]\nupstream = h\n"
	              "[route b]\nupstream = h\nrecord = yes\nrecord_input = yes\n"
	              "max_session_time = 0\nallow_tcp_forwarding = yes\nallow_agent_forwarding = no\n"
	              "[route c]\nupstream = h\nallow_tcp_forwarding = local\nx11_forwarding = yes\n"
	              "record = no\n", &cfg) == 0) {
		expect_policy("policy: [server]'s defaults", &cfg, "a", 0, 0, 60,
		              FORWARD_REMOTE | FORWARD_AGENT);
		expect_policy("policy: a route's own settings win", &cfg, "b", 1, 1, 0,
		              FORWARD_LOCAL | FORWARD_REMOTE);
		expect_policy("policy: allow_tcp_forwarding = local", &cfg, "c", 0, 0, 60,
		              FORWARD_LOCAL | FORWARD_AGENT | FORWARD_X11);
		if (!same_string(cfg.record_dir, "/var/log/x") || cfg.record_max_size != 4096)
			fail("policy: record_dir and record_max_size", "got %s %lld",
			     cfg.record_dir ? cfg.record_dir : "NULL", cfg.record_max_size);
		else
			pass("policy: record_dir and record_max_size");
	}
	config_free(&cfg);
	if (load_good("policy defaults", SERVER "[route a]\nupstream = h\n", &cfg) == 0)
		expect_policy("policy defaults: no recording, no limit, all forwarding", &cfg, "a", 0, 0, 0,
		              FORWARD_ALL);
	config_free(&cfg);
	expect_problems("policy errors", SERVER
	                "record_dir = rel\nrecord_max_size = 100\nmax_session_time = -1\n"  /* 4-6 */
	                "x11_forwarding = maybe\n"                                           /* 7 */
	                "[route a]\nupstream = h\nrecord = on\nrecord_input = 1\n"          /* 10, 11 */
	                "allow_tcp_forwarding = both\nallow_agent_forwarding = local\n"      /* 12, 13 */
	                "max_session_time = 604801\n",                                       /* 14 */
	                WANT({ 4, "record_dir \"rel\" is not an absolute path" },
	                     { 5, "record_max_size \"100\" is out of range" },
	                     { 6, "max_session_time \"-1\" is out of range" },
	                     { 7, "bad x11_forwarding \"maybe\" (yes or no)" },
	                     { 10, "bad record \"on\" (yes or no)" },
	                     { 11, "bad record_input \"1\" (yes or no)" },
	                     { 12, "bad allow_tcp_forwarding \"both\" (yes, no, local or remote)" },
	                     { 13, "bad allow_agent_forwarding \"local\" (yes or no)" },
	                     { 14, "max_session_time \"604801\" is out of range" }));
}

/* certificate_authority and certificate_validity (issue 15): which of
 * CA and identity a route uses. */
static void test_certificate_authority(void)
{
	char text[2048];
	struct config cfg;

	format_text(text, sizeof(text), SERVER_ID "certificate_authority = ca\n"
	            "[route a]\nupstream = h\nauthorized_keys = %s/ak\n"
	            "[route b]\nupstream = h\nauthorized_keys = %s/ak\nidentity = id2\n"
	            "[route c]\nupstream = h\nauthorized_keys = %s/ak\nidentity = id2\n"
	            "certificate_authority = ca\ncertificate_validity = 3600\n"
	            "[route d]\nupstream = h\n", tmpdir, tmpdir, tmpdir);
	if (load_good("certificate_authority in [server] and a route", text, &cfg) == 0) {
		expect_ca("CA: [server]'s wins over [server]'s identity, validity 120", &cfg, "a", "ca", 120);
		expect_ca("CA: a route's identity wins over [server]'s CA", &cfg, "b", NULL, 120);
		expect_ca("CA: within a route the CA wins, with the route's validity", &cfg, "c", "ca", 3600);
	}
	config_free(&cfg);
	format_text(text, sizeof(text), SERVER "certificate_authority = ca\ncertificate_validity = 10\n"
	            "[route a]\nupstream = h\nauthorized_keys = %s/ak\n", tmpdir);
	if (load_good("a CA alone serves routes with keys", text, &cfg) == 0)
		expect_ca("CA: [server]'s validity", &cfg, "a", "ca", 10);
	config_free(&cfg);
	expect_problems("certificate_authority errors",
	                SERVER "certificate_authority = capem\ncertificate_validity = 9\n" /* 4, 5 */
	                "[route a]\nupstream = h\ncertificate_authority = keys/%u\n"      /* 8 */
	                "certificate_validity = 3601\n"                                    /* 9 */
	                "[route b]\nupstream = h\ncertificate_authority = hkpw\n"         /* 12 */
	                "[route c]\nupstream = h\ncertificate_authority = ca\n"
	                "certificate_authority = ca\n",                                    /* 16 */
	                WANT({ 4, "certificate_authority capem cannot sign certificates: it is not in "
	                          "OpenSSH's private key format" },
	                     { 5, "certificate_validity" },
	                     { 8, "certificate_authority \"keys/%u\" may not contain %u" },
	                     { 9, "certificate_validity" },
	                     { 12, "certificate_authority hkpw is not a usable private key" },
	                     { 16, "\"certificate_authority\" given twice" }));
}

/* ---- cases: errors ---- */

static void test_section_errors(void)
{
	expect_problems("unknown section", SERVER
	                "[route a]\nupstream = h\n[foo]\nx = 1\n[Server]\n",
	                WANT({ 6, "unknown section [foo]" }, { 8, "unknown section [Server]" }));
	expect_problems("key outside any section",
	                "upstream = h\n" SERVER "[route a]\nupstream = h\n",
	                WANT({ 1, "key \"upstream\" outside any section" }));
	expect_problems("route without a name", SERVER
	                "[route]\nupstream = h\n[route a b]\nupstream = h\n[route c]\nupstream = h\n",
	                WANT({ 4, "[route] needs a user name" }, { 6, "bad route name \"a b\"" }));
	expect_problems("route without upstream", SERVER
	                "[route a]\nuser = x\n[route b]\nupstream = h\n[route c]\n",
	                WANT({ 4, "[route a] has no upstream" }, { 8, "[route c] has no upstream" }));
	expect_problems("duplicate route", SERVER
	                "[route a]\nupstream = h\n[route b*]\nupstream = h\n"
	                "[route a]\nupstream = h\n[route b*]\nupstream = h\n",
	                WANT({ 8, "duplicate [route a] (first at line 4)" },
	                     { 10, "duplicate [route b*] (first at line 6)" }));
	expect_problems("no routes", SERVER,
	                WANT({ 0, "no [route NAME] section" }));
}

static void test_key_errors(void)
{
	expect_problems("unknown key", SERVER
	                "colour = red\n[route alice]\nupstreem = h\nupstream = h\n",
	                WANT({ 4, "unknown key \"colour\" in [server]" },
	                     { 6, "unknown key \"upstreem\" in [route alice]" }));
	expect_problems("empty value", SERVER
	                "log_level =\n[route a]\nupstream =\n[route b]\nupstream = h\nuser = ; comment\n",
	                WANT({ 4, "empty value for \"log_level\" in [server]" },
	                     { 6, "empty value for \"upstream\" in [route a]" },
	                     { 9, "empty value for \"user\" in [route b]" }));
	expect_problems("key given twice (host_key may repeat)", SERVER
	                "host_key = hk\nknown_hosts = known_hosts\nlog_level = info\n[route a]\n"
	                "upstream = h\nuser = u\nupstream = h2\n[server]\nlog_level = error\n",
	                WANT({ 5, "\"known_hosts\" given twice in [server] (first at line 3)" },
	                     { 10, "\"upstream\" given twice in [route a] (first at line 8)" },
	                     { 12, "\"log_level\" given twice in [server] (first at line 6)" }));
	expect_problems("bad log_level", SERVER "log_level = warn\n[route a]\nupstream = h\n",
	                WANT({ 4, "bad log_level \"warn\"" }));
}

static void test_number_errors(void)
{
	expect_problems("login_grace_time not an integer", SERVER
	                "login_grace_time = 30s\n[route a]\nupstream = h\n",
	                WANT({ 4, "login_grace_time \"30s\" is not an integer" }));
	expect_problems("login_grace_time out of range", SERVER
	                "login_grace_time = 86401\n[server]\nlogin_grace_time = -1\n[route a]\nupstream = h\n",
	                WANT({ 4, "login_grace_time \"86401\" is out of range (0..86400)" },
	                     { 6, "\"login_grace_time\" given twice" }));
	expect_problems("login_grace_time negative", SERVER
	                "login_grace_time = -1\n[route a]\nupstream = h\n",
	                WANT({ 4, "login_grace_time \"-1\" is out of range" }));
	expect_problems("max_auth_tries 0", SERVER "max_auth_tries = 0\n[route a]\nupstream = h\n",
	                WANT({ 4, "max_auth_tries \"0\" is out of range (1..100)" }));
	expect_problems("max_auth_tries 101", SERVER "max_auth_tries = 101\n[route a]\nupstream = h\n",
	                WANT({ 4, "max_auth_tries \"101\" is out of range (1..100)" }));
	expect_problems("max_auth_tries huge", SERVER
	                "max_auth_tries = 99999999999999999999\n[route a]\nupstream = h\n",
	                WANT({ 4, "is out of range" }));
	expect_problems("max_channels 0", SERVER "max_channels = 0\n[route a]\nupstream = h\n",
	                WANT({ 4, "max_channels \"0\" is out of range (1..256)" }));
	expect_problems("max_channels 257", SERVER "max_channels = 257\n[route a]\nupstream = h\n",
	                WANT({ 4, "max_channels \"257\" is out of range (1..256)" }));
	expect_problems("max_auth_tries hex", SERVER "max_auth_tries = 0x10\n[route a]\nupstream = h\n",
	                WANT({ 4, "max_auth_tries \"0x10\" is not an integer" }));
}

static void test_upstream_errors(void)
{
	expect_problems("bad port", SERVER
	                "[route a]\nupstream = h:99999\n[route b]\nupstream = h:0\n"
	                "[route c]\nupstream = h:\n[route d]\nupstream = h:2x\n"
	                "[route e]\nupstream = [::1]:70000\n[route f]\nupstream = h:-22\n",
	                WANT({ 5, "bad port \"99999\" (1..65535)" }, { 7, "bad port \"0\"" },
	                     { 9, "bad port \"\"" }, { 11, "bad port \"2x\"" },
	                     { 13, "bad port \"70000\"" }, { 15, "bad port \"-22\"" }));
	expect_problems("bare IPv6 needs brackets", SERVER
	                "[route a]\nupstream = ::1\n[route b]\nupstream = 2001:db8::1:22\n",
	                WANT({ 5, "in brackets" }, { 7, "in brackets" }));
	expect_problems("bad bracket syntax", SERVER
	                "[route a]\nupstream = [::1\n[route b]\nupstream = [::1]x\n"
	                "[route c]\nupstream = [host.example]:22\n[route d]\nupstream = [%u]\n",
	                WANT({ 5, "missing \"]\"" }, { 7, "expected \":PORT\" after \"]\"" },
	                     { 9, "is not an IPv6 address" }, { 11, "is not an IPv6 address" }));
	expect_problems("bad host characters", SERVER
	                "[route a]\nupstream = :22\n[route b]\nupstream = h;x\n"
	                "[route c]\nupstream = %%.example\n[route d]\nupstream = h/x:22\n"
	                "[route e]\nupstream = h x\n",
	                WANT({ 5, "no host name" }, { 7, "invalid character \";\"" },
	                     { 9, "invalid character \"%\"" }, { 11, "invalid character \"/\"" },
	                     { 13, "invalid character \" \"" }));
	expect_problems("unknown %-sequence", SERVER
	                "[route a]\nupstream = %h.example\n[route b]\nupstream = h\nuser = %x\n"
	                "[route c]\nupstream = h\nuser = abc%\n",
	                WANT({ 5, "unknown %-sequence \"%h\"" }, { 8, "unknown %-sequence \"%x\"" },
	                     { 11, "lone \"%\"" }));
	expect_problems("bad user characters", SERVER
	                "[route a]\nupstream = h\nuser = a b\n[route b]\nupstream = h\nuser = a\tb\n",
	                WANT({ 6, "invalid character \" \" in user" },
	                     { 9, "invalid character 0x09 in user" }));
}

static void test_host_key_errors(void)
{
	expect_problems("missing host key",
	                "[server]\nhost_key = nokey\nknown_hosts = known_hosts\n[route a]\nupstream = h\n",
	                WANT({ 2, "cannot read host key nokey: No such file" }));
	expect_problems("group-readable host key",
	                "[server]\nhost_key = hk644\nknown_hosts = known_hosts\n[route a]\nupstream = h\n",
	                WANT({ 2, "host key hk644 is readable by group or others" }));
	expect_problems("unparseable host key",
	                "[server]\nknown_hosts = known_hosts\nhost_key = notakey\n[route a]\nupstream = h\n",
	                WANT({ 3, "host key notakey is not a usable private key" }));
	expect_problems("passphrase-protected host key",
	                "[server]\nknown_hosts = known_hosts\nhost_key = hkpw\n[route a]\nupstream = h\n",
	                WANT({ 3, "host key hkpw is not a usable private key" }));
	expect_problems("host key is a directory",
	                "[server]\nknown_hosts = known_hosts\nhost_key = adir\n[route a]\nupstream = h\n",
	                WANT({ 3, "host key adir is not a regular file" }));
	expect_problems("one bad host key among good ones",
	                "[server]\nhost_key = hk\nhost_key = hk644\nhost_key = hk2\n"
	                "known_hosts = known_hosts\n[route a]\nupstream = h\n",
	                WANT({ 3, "hk644" }));
	expect_problems("no host_key", "[server]\nknown_hosts = known_hosts\n[route a]\nupstream = h\n",
	                WANT({ 1, "[server] has no host_key" }));
}

static void test_known_hosts_errors(void)
{
	expect_problems("no known_hosts", "[server]\nhost_key = hk\n[route a]\nupstream = h\n",
	                WANT({ 1, "[server] has no known_hosts" }));
	expect_problems("missing known_hosts",
	                "[server]\nhost_key = hk\nknown_hosts = nothere\n[route a]\nupstream = h\n",
	                WANT({ 3, "cannot read known_hosts nothere: No such file" }));
	expect_problems("known_hosts is a directory",
	                "[server]\nhost_key = hk\nknown_hosts = adir\n[route a]\nupstream = h\n",
	                WANT({ 3, "known_hosts adir is not a regular file" }));
	write_file("kh-ca", "# CA\n@cert-authority *.example.net ssh-ed25519 "
	           "AAAAC3NzaC1lZDI1NTE5AAAAILzOZnhW2la6N1aQacDRKCYXPXnX0gmfNBHC/+pHgOlm\n", 0644);
	expect_problems("known_hosts with @cert-authority: not supported, named with its line",
	                "[server]\nhost_key = hk\nknown_hosts = kh-ca\n[route a]\nupstream = h\n",
	                WANT({ 3, "known_hosts kh-ca line 2: @cert-authority lines are not supported" }));
	expect_problems("no [server] section", "[route a]\nupstream = h\n",
	                WANT({ 0, "no [server] section" }));
}

static void test_syntax_errors(void)
{
	char text[1024];
	char long_line[301];

	memset(long_line, 'x', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	snprintf(text, sizeof(text), SERVER "# %s\n[route a]\nupstream = h\n", long_line);
	expect_problems("line too long", text, WANT({ 4, "line too long" }));
	snprintf(text, sizeof(text), SERVER "[route a]\nupstream = h\n[route %s]\nupstream = h\nbogus = 1\n",
	         long_line);
	expect_problems("too long header: its keys are skipped", text, WANT({ 6, "line too long" }));
	snprintf(text, sizeof(text), SERVER "[route a]\nupstream = h\n#%s\n[route b] junk\nnonsense\n",
	         long_line);
	expect_problems("each malformed line reported once", text,
	                WANT({ 6, "line too long" }, { 7, "bad section header" }, { 8, "expected" }));
	expect_problems("line without =", SERVER "[route a]\nupstream = h\njust some words\n",
	                WANT({ 6, "expected \"key = value\"" }));
	expect_problems("unterminated header", SERVER "[route a\nupstream = h\n[route b]\nupstream = h\n",
	                WANT({ 4, "bad section header" }));
	expect_problems("text after a header", SERVER "[route a] x\nupstream = h\n[route b]\nupstream = h\n",
	                WANT({ 4, "bad section header" }));
	expect_problems("missing key name", SERVER "[route a]\nupstream = h\n= h2\n",
	                WANT({ 6, "missing key name" }));
	{
		/* fputs would stop at the NUL: write this one by hand. */
		static const char body[] = SERVER "[route a]\nupstream = h\nuser = a\0b\n";
		FILE *f = fopen("route.ini", "w");
		struct config cfg;
		struct messages m;

		fwrite(body, 1, sizeof(body) - 1, f);
		fclose(f);
		if (load_file("NUL byte in a line", "route.ini", &cfg, &m) == 0 &&
		    check_messages("NUL byte in a line", &m, WANT({ 6, "NUL byte" })) == 0)
			pass("NUL byte in a line");
		free_messages(&m);
		config_free(&cfg);
	}
}

static void test_authorized_keys_errors(void)
{
	char text[2048];

	format_text(text, sizeof(text), SERVER_ID
	            "[route a]\nupstream = h\nauthorized_keys = ak\n"                     /* 7 */
	            "[route b]\nupstream = h\nauthorized_keys = %s/nothere\n"             /* 10 */
	            "[route c]\nupstream = h\nauthorized_keys = %s/adir\n"                /* 13 */
	            "[route d]\nupstream = h\nauthorized_keys = /keys/%%h\n"              /* 16 */
	            "[route e]\nupstream = h\nauthorized_keys = %s/ak\nauthorized_keys = %s/ak\n" /* 20 */
	            "[route f]\nupstream = h\nauthorized_keys = /keys/%%u\x01\n",          /* 23 */
	            tmpdir, tmpdir, tmpdir, tmpdir);
	expect_problems("authorized_keys errors", text,
	                WANT({ 7, "authorized_keys \"ak\" is not an absolute path" },
	                     { 10, "cannot read authorized_keys /run/" },
	                     { 13, "/adir is not a regular file" },
	                     { 16, "unknown %-sequence \"%h\" in authorized_keys" },
	                     { 20, "\"authorized_keys\" given twice in [route e] (first at line 19)" },
	                     { 23, "invalid character 0x01 in authorized_keys" }));
	format_text(text, sizeof(text), SERVER_ID "[route a]\nupstream = h\nauthorized_keys = %s/nothere\n",
	            tmpdir);
	expect_problems("missing authorized_keys: the reason is given", text,
	                WANT({ 7, "nothere: No such file or directory" }));
	expect_problems("authorized_keys with %u need not exist yet", SERVER_ID
	                "[route *]\nupstream = h\nauthorized_keys = /nonexistent/%u/keys\n", NO_PROBLEMS);
	expect_problems("empty authorized_keys", SERVER_ID "[route a]\nupstream = h\nauthorized_keys =\n",
	                WANT({ 7, "empty value for \"authorized_keys\" in [route a]" }));
}

static void test_identity_errors(void)
{
	char text[2048];

	expect_problems("identity errors in routes", SERVER_ID
	                "[route a]\nupstream = h\nidentity = noid\n"       /* 7 */
	                "[route b]\nupstream = h\nidentity = id640\n"      /* 10 */
	                "[route c]\nupstream = h\nidentity = notakey\n"    /* 13 */
	                "[route d]\nupstream = h\nidentity = hkpw\n"       /* 16 */
	                "[route e]\nupstream = h\nidentity = adir\n"       /* 19 */
	                "[route f]\nupstream = h\nidentity = keys/%u\n"    /* 22 */
	                "[route g]\nupstream = h\nidentity = id\nidentity = id2\n", /* 26 */
	                WANT({ 7, "cannot read identity noid: No such file" },
	                     { 10, "identity id640 is readable by group or others (mode 0640; chmod 600)" },
	                     { 13, "identity notakey is not a usable private key" },
	                     { 16, "identity hkpw is not a usable private key" },
	                     { 19, "identity adir is not a regular file" },
	                     { 22, "identity \"keys/%u\" may not contain %u" },
	                     { 26, "\"identity\" given twice in [route g] (first at line 25)" }));
	expect_problems("identity errors in [server]",
	                SERVER "identity = hk644\n[route a]\nupstream = h\n[server]\nidentity = id\n",
	                WANT({ 4, "identity hk644 is readable by group or others (mode 0644; chmod 600)" },
	                     { 8, "\"identity\" given twice in [server] (first at line 4)" }));
	format_text(text, sizeof(text), SERVER
	            "[route a]\nupstream = h\nauthorized_keys = %s/ak\n"                  /* 4 */
	            "[route b]\nupstream = h\n"                                           /* 7 */
	            "[route c*]\nupstream = h\nauthorized_keys = /k/%%u\n"                /* 9 */
	            "[route d]\nupstream = h\nauthorized_keys = %s/ak\nidentity = id\n",  /* 12 */
	            tmpdir, tmpdir);
	expect_problems("authorized_keys without any identity", text,
	                WANT({ 4, "[route a] has authorized_keys but no identity or certificate_authority "
	                          "(set one here or in [server])" },
	                     { 9, "[route c*] has authorized_keys but no identity" }));
	format_text(text, sizeof(text), SERVER
	            "[route a]\nupstream = h\nauthorized_keys = %s/ak\nidentity = id640\n"
	            "[route b]\nupstream = h\nauthorized_keys = relative\n"
	            "[server]\nidentity = notakey\n", tmpdir);
	expect_problems("a bad identity is reported once, not also as missing", text,
	                WANT({ 7, "identity id640 is readable" },
	                     { 10, "authorized_keys \"relative\" is not an absolute path" },
	                     { 12, "identity notakey is not a usable private key" }));
}

static void test_auth_errors(void)
{
	char text[1024];

	expect_problems("auth errors", SERVER
	                "[route a]\nupstream = h\nauth = publickey,,password\n"          /* 6 */
	                "[route b]\nupstream = h\nauth = password, pasword\n"           /* 9 */
	                "[route c]\nupstream = h\nauth = password , password\n"         /* 12 */
	                "[route d]\nupstream = h\nauth = ,\n"                           /* 15 */
	                "[route e]\nupstream = h\nauth = Password,kbdint\n"             /* 18 */
	                "[route f]\nupstream = h\nauth = password keyboard-interactive\n" /* 21 */
	                "[route g]\nupstream = h\nauth = password,\n",                  /* 24 */
	                WANT({ 6, "empty item in auth \"publickey,,password\"" },
	                     { 9, "unknown method \"pasword\" in auth" },
	                     { 12, "\"password\" given twice in auth" },
	                     { 15, "empty item in auth" },
	                     { 18, "unknown method \"Password\"" },
	                     { 18, "unknown method \"kbdint\"" },
	                     { 21, "unknown method \"password keyboard-interactive\"" },
	                     { 24, "empty item in auth" }));
	expect_problems("auth = publickey without authorized_keys", SERVER_ID
	                "[route a]\nupstream = h\nauth = publickey\n"
	                "[route b]\nupstream = h\nauth = publickey, password\n",
	                WANT({ 5, "[route a] allows only publickey but has no authorized_keys" }));
	format_text(text, sizeof(text), SERVER_ID "[route a]\nupstream = h\nauthorized_keys = %s/ak\n"
	            "auth = publickey\n", tmpdir);
	expect_problems("auth = publickey with authorized_keys", text, NO_PROBLEMS);
}

static void test_unreadable_file(void)
{
	struct config cfg;
	struct messages m;

	if (load_file("missing file", "nothere.ini", &cfg, &m) == 0) {
		if (m.n == 1 && strcmp(m.text[0], "nothere.ini: cannot read: No such file or directory") == 0)
			pass("missing file");
		else
			fail("missing file", "got %d problems, first: %s", m.n, m.n ? m.text[0] : "none");
	}
	free_messages(&m);
	config_free(&cfg);
	if (load_file("file is a directory", "adir", &cfg, &m) == 0) {
		if (m.n == 1 && strstr(m.text[0], "adir: cannot read: Is a directory"))
			pass("file is a directory");
		else
			fail("file is a directory", "got %d problems, first: %s", m.n, m.n ? m.text[0] : "none");
	}
	free_messages(&m);
	config_free(&cfg);
}

static void test_all_errors_in_one_pass(void)
{
	static const char text[] =
		"[server]\n"                    /* 1 */
		"host_key = hk644\n"            /* 2: group-readable */
		"known_hosts = known_hosts\n"   /* 3 */
		"max_auth_tries = 0\n"          /* 4: out of range */
		"[route alice]\n"               /* 5 */
		"upstreem = h\n"                /* 6: unknown key, and no upstream (5) */
		"[route bob]\n"                 /* 7 */
		"upstream = h:99999\n"          /* 8: bad port */
		"[route alice]\n"               /* 9: duplicate */
		"upstream = h\n"                /* 10 */
		"nonsense\n"                    /* 11: parse error */
		"[bogus]\n";                    /* 12: unknown section */
	static const int lines[] = { 2, 4, 5, 6, 8, 9, 11, 12 };
	const char *name = "several errors: all reported, in line order";
	struct config cfg;
	struct messages m;
	char prefix[32];
	size_t i;

	if (load_text(name, text, &cfg, &m) == 0 &&
	    check_messages(name, &m, WANT({ 2, "hk644" }, { 4, "max_auth_tries" },
	                                  { 5, "[route alice] has no upstream" },
	                                  { 6, "unknown key \"upstreem\" in [route alice]" },
	                                  { 8, "bad port \"99999\"" },
	                                  { 9, "duplicate [route alice] (first at line 5)" },
	                                  { 11, "expected" }, { 12, "unknown section [bogus]" })) == 0) {
		for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			snprintf(prefix, sizeof(prefix), "route.ini:%d: ", lines[i]);
			if (strncmp(m.text[i], prefix, strlen(prefix)) != 0)
				break;
		}
		if (i < sizeof(lines) / sizeof(lines[0]))
			fail(name, "message %zu is \"%s\", expected line %d", i, m.text[i], lines[i]);
		else
			pass(name);
	}
	free_messages(&m);
	config_free(&cfg);
}

/* Relative file names: next to route.ini, or in $CREDENTIALS_DIRECTORY
 * when systemd passed credentials. */
static void test_relative_paths(void)
{
	struct config cfg;
	struct messages m;
	char want[4096];

	mkdir("conf", 0700);
	run("cp hk conf/hk && cp known_hosts conf/known_hosts && chmod 600 conf/hk");
	write_file("conf/route.ini", SERVER "[route a]\nupstream = h\n", 0644);
	if (load_file("relative paths: next to route.ini", "conf/route.ini", &cfg, &m) == 0 &&
	    check_messages("relative paths: next to route.ini", &m, NO_PROBLEMS) == 0) {
		if (cfg.n_host_keys == 1 && strcmp(cfg.host_keys[0], "conf/hk") == 0 &&
		    strcmp(cfg.known_hosts, "conf/known_hosts") == 0)
			pass("relative paths: next to route.ini");
		else
			fail("relative paths: next to route.ini", "got %s %s",
			     cfg.n_host_keys ? cfg.host_keys[0] : "-", cfg.known_hosts);
	}
	free_messages(&m);
	config_free(&cfg);

	/* as systemd makes it: the directory owned by the service's user, 0500 */
	mkdir("creds", 0700);
	run("cp hk creds/credkey && chmod 400 creds/credkey && chmod 500 creds");
	snprintf(want, sizeof(want), "%s/creds", tmpdir);
	setenv("CREDENTIALS_DIRECTORY", want, 1);
	write_file("conf/route.ini",
	           "[server]\nhost_key = credkey\nknown_hosts = known_hosts\n[route a]\nupstream = h\n",
	           0644);
	snprintf(want, sizeof(want), "%s/creds/credkey", tmpdir);
	if (load_file("relative paths: in $CREDENTIALS_DIRECTORY", "conf/route.ini", &cfg, &m) == 0 &&
	    check_messages("relative paths: in $CREDENTIALS_DIRECTORY", &m, NO_PROBLEMS) == 0) {
		if (cfg.n_host_keys == 1 && strcmp(cfg.host_keys[0], want) == 0)
			pass("relative paths: in $CREDENTIALS_DIRECTORY");
		else
			fail("relative paths: in $CREDENTIALS_DIRECTORY", "got %s",
			     cfg.n_host_keys ? cfg.host_keys[0] : "-");
	}
	unsetenv("CREDENTIALS_DIRECTORY");
	free_messages(&m);
	config_free(&cfg);
}

/* sshd's StrictModes rule for the key files route.ini names: the file and
 * every directory above it owned by root (or the user sshroute runs as)
 * and not writable by group or others. Host keys and identities make the
 * configuration unusable; an authorized_keys does not: it refuses its own
 * keys at login (keys.c), and sshroute -t warns of it. */
static void test_untrusted_files(void)
{
	char text[4096], gw_dir[512], gw_hk[1024], gw_id[1024];
	const char *why = "directory %s is writable by group or others; chmod go-w %s";

	mkdir("gw", 0700);
	run("cp hk gw/hk && cp id gw/id && cp ak gw/ak && cp ak akgw && chmod 600 gw/hk gw/id && "
	    "chmod 664 akgw && chmod 775 gw");
	format_text(gw_dir, sizeof(gw_dir), "%s/gw", tmpdir);
	format_text(text, sizeof(text), why, gw_dir, gw_dir);
	format_text(gw_hk, sizeof(gw_hk), "host key gw/hk: %s", text);
	format_text(gw_id, sizeof(gw_id), "identity gw/id: %s", text);
	format_text(text, sizeof(text),
	            "[server]\nhost_key = gw/hk\nknown_hosts = known_hosts\nidentity = id\n" /* 1-4 */
	            "[route a]\nupstream = h\nauthorized_keys = %s/ak\n"       /* 7 */
	            "[route b]\nupstream = h\nauthorized_keys = %s/akgw\n"     /* 10 */
	            "[route c]\nupstream = h\nauthorized_keys = %s/ak\nidentity = gw/id\n" /* 13, 14 */
	            "[route d]\nupstream = h\nauthorized_keys = %s/%%u\n",      /* 17: checked at login */
	            gw_dir, tmpdir, tmpdir, gw_dir);
	expect_problems("untrusted host key and identity: each reported with its fix; an "
	                "untrusted authorized_keys locks nobody out", text,
	                WANT({ 2, gw_hk }, { 14, gw_id }));
	chmod("gw", 0755);
	expect_problems("the same files in a safe directory", text, NO_PROBLEMS);
}

/* One authorized_keys for every account a pattern matches, with the
 * upstream user following the client's name: every key could log in as
 * every account. */
static void test_shared_keys(void)
{
	char text[2048];

	format_text(text, sizeof(text), SERVER_ID
	            "[route team-*]\nupstream = h\nauthorized_keys = %s/ak\n"              /* 5, 7 */
	            "[route ops-?]\nupstream = h\nuser = ops-%%u\nauthorized_keys = %s/ak\n" /* 8, 11 */
	            "[route dev-*]\nupstream = h\nuser = dev\nauthorized_keys = %s/ak\n"     /* 12: fine */
	            "[route qa-*]\nupstream = h\nauthorized_keys = %s/keys/%%u\n"           /* 16: fine */
	            "[route alice]\nupstream = h\nauthorized_keys = %s/ak\n"                /* 19: fine */
	            "[route web-*]\nlookup = %s/lookup-ok\nauthorized_keys = %s/ak\n",      /* 22: at answer */
	            tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
	expect_problems("pattern route with a shared authorized_keys and the client's name", text,
	                WANT({ 7, "route team-*: authorized_keys " },
	                     { 11, "route ops-?: authorized_keys " }));
	format_text(text, sizeof(text), SERVER_ID "[route t*]\nupstream = h\nauthorized_keys = %s/ak\n",
	            tmpdir);
	expect_problems("shared authorized_keys: the message says what to do", text,
	                WANT({ 7, "has no %u and user defaults to the client's name, so every key in "
	                          "it could log in as every matching account: add %u to the path or "
	                          "set user" }));
}

static void test_proxy_protocol(void)
{
	struct config cfg;

	if (load_good("proxy_protocol = on", SERVER "proxy_protocol = on\n[route a]\nupstream = h\n",
	              &cfg) == 0) {
		if (cfg.proxy_protocol == 1)
			pass("proxy_protocol = on is read");
		else
			fail("proxy_protocol = on is read", "got %d", cfg.proxy_protocol);
	}
	config_free(&cfg);
	if (load_good("proxy_protocol defaults to off", SERVER "[route a]\nupstream = h\n", &cfg) == 0) {
		if (cfg.proxy_protocol == 0)
			pass("proxy_protocol is off by default");
		else
			fail("proxy_protocol is off by default", "got %d", cfg.proxy_protocol);
	}
	config_free(&cfg);
	if (load_good("idle_timeout", SERVER "idle_timeout = 600\n[route a]\nupstream = h\n", &cfg) == 0) {
		if (cfg.idle_timeout == 600)
			pass("idle_timeout is read");
		else
			fail("idle_timeout is read", "got %d", cfg.idle_timeout);
	}
	config_free(&cfg);
	expect_problems("idle_timeout out of range", SERVER "idle_timeout = -1\n[route a]\nupstream = h\n",
	                WANT({ 4, "idle_timeout" }));
	expect_problems("bad proxy_protocol", SERVER "proxy_protocol = yes\n[route a]\nupstream = h\n",
	                WANT({ 4, "bad proxy_protocol \"yes\"" }));
	if (load_good("max_sessions defaults to 10", SERVER "[route a]\nupstream = h\n", &cfg) == 0) {
		if (cfg.max_sessions == 10)
			pass("max_sessions is 10 by default");
		else
			fail("max_sessions is 10 by default", "got %d", cfg.max_sessions);
	}
	config_free(&cfg);
	if (load_good("max_sessions", SERVER "max_sessions = 3\n[route a]\nupstream = h\n", &cfg) == 0) {
		if (cfg.max_sessions == 3)
			pass("max_sessions is read");
		else
			fail("max_sessions is read", "got %d", cfg.max_sessions);
	}
	config_free(&cfg);
	expect_problems("max_sessions 0 is out of range", SERVER "max_sessions = 0\n[route a]\nupstream = h\n",
	                WANT({ 4, "max_sessions" }));
	expect_problems("max_sessions 65 is out of range", SERVER "max_sessions = 65\n[route a]\nupstream = h\n",
	                WANT({ 4, "max_sessions" }));
}

/* ---- cases: lookup ---- */

static void test_lookup_parsing(void)
{
	const char *name = "lookup: file read";
	char text[2048], want[512];
	struct config cfg;
	const struct route *r;

	format_text(text, sizeof(text), SERVER
	            "[route *]\n"                                        /* 4 */
	            "lookup = %s/lookup-ok %%u\t--x=%%%%   ; comment\n"
	            "lookup_timeout = 3\n"
	            "[route fixed]\n"                                    /* 7 */
	            "upstream = h:2200\n"
	            "lookup = %s/lookup-100%%%%\n", tmpdir, tmpdir);
	if (load_good(name, text, &cfg) < 0)
		goto out;
	r = cfg.routes;
	snprintf(want, sizeof(want), "%s/lookup-ok %%u\t--x=%%%%", tmpdir);
	if (cfg.n_routes != 2 || !same_string(r[0].lookup, want))
		fail(name, "lookup not read: %s", cfg.n_routes ? r[0].lookup : "no routes");
	else if (r[0].lookup_timeout != 3 || !r[0].uses_u || r[0].n_upstreams != 0)
		fail(name, "[route *]: timeout %d uses_u %d upstreams %zu", r[0].lookup_timeout,
		     r[0].uses_u, r[0].n_upstreams);
	else if (r[1].lookup_timeout != LOOKUP_TIMEOUT_DEFAULT || r[1].uses_u ||
	         r[1].n_upstreams != 1 || !same_string(r[1].upstreams[0].host, "h") ||
	         r[1].upstreams[0].port != 2200)
		fail(name, "[route fixed] not read as expected");
	else
		pass(name);
out:
	config_free(&cfg);
}

/* Program and n - 1 arguments "a". */
static void lookup_line(char *out, size_t size, int n)
{
	size_t used = (size_t)snprintf(out, size, "lookup = %s/lookup-ok", tmpdir);

	while (--n > 0 && used < size)
		used += (size_t)snprintf(out + used, size - used, " a");
	snprintf(out + used, size - used, "\n");
}

static void test_lookup_errors(void)
{
	char text[4096], line[512];

	format_text(text, sizeof(text), SERVER
	            "[route a]\nlookup = lookup-ok\n"                            /* 5 */
	            "[route b]\nlookup = %s/lookup-noexec\n"                     /* 7 */
	            "[route c]\nlookup = %s/nothere %%u\n"                       /* 9 */
	            "[route d]\nlookup = %s/adir\n"                              /* 11 */
	            "[route e]\nlookup = %s/lookup-ok %%h\n"                     /* 13 */
	            "[route f]\nlookup = %s/%%u/lookup\n"                        /* 15 */
	            "[route g]\nlookup = %s/lookup-ok\nlookup_timeout = 0\n"     /* 18 */
	            "[route h]\nlookup = %s/lookup-ok\nlookup_timeout = 301\n"   /* 21 */
	            "[route i]\nlookup = %s/lookup-ok\nlookup_timeout = 5s\n"    /* 24 */
	            "[route j]\nupstream = h\nlookup_timeout = 5\n"              /* 27 */
	            "[route k]\nuser = x\n"                                      /* 28 */
	            "[route l]\nlookup = %s/lookup-ok\nlookup = %s/lookup-ok\n", /* 32 */
	            tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
	expect_problems("lookup errors", text,
	                WANT({ 5, "lookup program \"lookup-ok\" is not an absolute path" },
	                     { 7, "lookup-noexec is not executable" },
	                     { 9, "nothere: No such file or directory" },
	                     { 11, "/adir is not a regular file" },
	                     { 13, "unknown %-sequence \"%h\" in lookup" },
	                     { 15, "may not contain %u (one program serves every user)" },
	                     { 18, "lookup_timeout \"0\" is out of range (1..300)" },
	                     { 21, "lookup_timeout \"301\" is out of range (1..300)" },
	                     { 24, "lookup_timeout \"5s\" is not an integer" },
	                     { 27, "lookup_timeout without lookup in [route j]" },
	                     { 28, "[route k] has no upstream" },
	                     { 32, "\"lookup\" given twice in [route l] (first at line 31)" }));
	lookup_line(line, sizeof(line), LOOKUP_ARGS_MAX);
	format_text(text, sizeof(text), SERVER "[route a]\n%s", line);
	expect_problems("lookup with LOOKUP_ARGS_MAX words", text, NO_PROBLEMS);
	lookup_line(line, sizeof(line), LOOKUP_ARGS_MAX + 1);
	format_text(text, sizeof(text), SERVER "[route a]\n%s", line);
	expect_problems("lookup with too many words", text,
	                WANT({ 5, "lookup has more than 32 words" }));
	format_text(text, sizeof(text), SERVER_ID "[route a]\nlookup = %s/lookup-ok\nauth = publickey\n",
	            tmpdir);
	expect_problems("auth = publickey with lookup: the answer may give authorized_keys", text,
	                NO_PROBLEMS);
}

static void test_lookup_matching(void)
{
	struct config cfg;
	struct messages m;
	char text[1024];

	format_text(text, sizeof(text), SERVER
	            "[route alice]\nlookup = %s/lookup-ok\n"
	            "[route team-*]\nlookup = %s/lookup-ok %%u\n"
	            "[route *]\nupstream = fallback.example\n", tmpdir, tmpdir);
	if (load_good("lookup matching: file", text, &cfg) == 0) {
		expect_route("route with lookup and no upstream matches", &cfg, "alice", "", 22, "alice");
		expect_route("lookup with %u: safe name matches", &cfg, "team-red", "", 22, "team-red");
		expect_route("lookup with %u: unsafe name skips the route", &cfg, "team-a b",
		             "fallback.example", 22, "team-a b");
		expect_route("lookup with %u: shell metacharacters skip the route", &cfg, "team-$(id)",
		             "fallback.example", 22, "team-$(id)");
		if (cfg.routes[0].uses_u || !cfg.routes[1].uses_u)
			fail("%u in lookup sets uses_u", "got %d %d", cfg.routes[0].uses_u,
			     cfg.routes[1].uses_u);
		else
			pass("%u in lookup sets uses_u");
	}
	config_free(&cfg);

	format_text(text, sizeof(text), SERVER
	            "[route a]\nupstream = h\nlookup = relative\n"           /* 4-6 */
	            "[route b]\nupstream = h:0\nlookup = %s/lookup-ok\n"     /* 7-9 */
	            "[route *]\nupstream = fallback.example\n", tmpdir);
	if (load_text("broken lookup routes: file", text, &cfg, &m) == 0 &&
	    check_messages("broken lookup routes: file", &m,
	                   WANT({ 6, "not an absolute path" }, { 8, "bad port \"0\"" })) == 0) {
		expect_route("a bad lookup never falls back to the upstream", &cfg, "a",
		             "fallback.example", 22, "a");
		expect_route("a bad upstream next to a lookup is not matched", &cfg, "b",
		             "fallback.example", 22, "b");
	}
	free_messages(&m);
	config_free(&cfg);
}

/* ---- cases: lookup_argv ---- */

/* want: the expected words, NULL-terminated; want_argc -1 for a refusal.
 * buf is malloc'd at exactly size bytes, so that valgrind sees overruns. */
static void expect_argv(const char *name, const char *lookup, const char *user, size_t size,
                        int want_argc, const char *const *want)
{
	struct route r;
	char *buf = malloc(size ? size : 1), *argv[LOOKUP_ARGS_MAX + 1];
	int argc, i;

	memset(&r, 0, sizeof(r));
	r.lookup = (char *)lookup;
	argc = lookup_argv(&r, user, buf, size, argv);
	if (argc != want_argc) {
		fail(name, "argc %d, expected %d", argc, want_argc);
		goto out;
	}
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], want[i]) != 0) {
			fail(name, "argv[%d] is \"%s\", expected \"%s\"", i, argv[i], want[i]);
			goto out;
		}
	}
	if (argc >= 0 && argv[argc] != NULL)
		fail(name, "argv[%d] is not NULL", argc);
	else
		pass(name);
out:
	free(buf);
}

static void test_lookup_argv(void)
{
	static const char *const plain[] = { "/bin/prog", NULL };
	static const char *const expanded[] = { "/bin/prog", "bob", "--name=bob-x", "100%", "a%u", NULL };
	static const char *const no_shell[] = { "/bin/prog", "a;b", "$(reboot)", "'q", "r'", "\"", NULL };
	static const char *const pb[] = { "/p", "bob", NULL };
	const char *many[LOOKUP_ARGS_MAX + 2];
	char line[512];
	size_t used;
	int i;

	expect_argv("argv: program alone", "/bin/prog", "bob", 64, 1, plain);
	expect_argv("argv: blanks split, %u and %% expanded",
	            "  /bin/prog  %u\t--name=%u-x 100%% a%%u \t", "bob", 4096, 5, expanded);
	expect_argv("argv: no shell, no quoting", "/bin/prog a;b $(reboot) 'q r' \"", "bob", 4096, 6,
	            no_shell);
	expect_argv("argv: exact fit", "/p %u", "bob", 7, 2, pb);
	expect_argv("argv: one byte short", "/p %u", "bob", 6, -1, NULL);
	expect_argv("argv: no room at all", "/p %u", "bob", 0, -1, NULL);
	expect_argv("argv: %u expansion overflows", "/p %u %u %u",
	            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 64, -1, NULL);
	expect_argv("argv: unsafe name refused for %u", "/p %u", "a b", 64, -1, NULL);
	expect_argv("argv: a name starting with - is refused for %u", "/p %u", "-oX=y", 64, -1, NULL);
	expect_argv("argv: unsafe name fine without %u", "/bin/prog", "a b", 64, 1, plain);
	expect_argv("argv: no lookup", NULL, "bob", 64, -1, NULL);
	expect_argv("argv: blanks only", " \t ", "bob", 64, -1, NULL);
	used = (size_t)snprintf(line, sizeof(line), "/p");
	many[0] = "/p";
	for (i = 1; i <= LOOKUP_ARGS_MAX; i++) {
		used += (size_t)snprintf(line + used, sizeof(line) - used, " w");
		many[i] = "w";
	}
	many[LOOKUP_ARGS_MAX + 1] = NULL;
	expect_argv("argv: too many words", line, "bob", 4096, -1, NULL);
	line[used - 2] = '\0';
	many[LOOKUP_ARGS_MAX] = NULL;
	expect_argv("argv: LOOKUP_ARGS_MAX words", line, "bob", 4096, LOOKUP_ARGS_MAX, many);
}

/* ---- cases: route_apply_answer ---- */

static const struct route *route_named(const struct config *cfg, const char *pattern)
{
	size_t i;

	for (i = 0; i < cfg->n_routes; i++)
		if (strcmp(cfg->routes[i].pattern, pattern) == 0)
			return &cfg->routes[i];
	fprintf(stderr, "no [route %s]\n", pattern);
	exit(2);
}

/* Applies answer over [route pattern] for user and checks the problems;
 * out must stay untouched when there are any. */
static int apply_answer(const char *name, const struct config *cfg, const char *pattern,
                        const char *user, const char *answer, struct route_target *t,
                        const struct want *wants, size_t n_wants)
{
	struct messages m = { .n = 0 };
	int rc, ok = 0;

	memset(t, 0, sizeof(*t));
	strcpy(t->host, "untouched");
	rc = route_apply_answer(cfg, route_named(cfg, pattern), user, answer, t, collect, &m);
	answer_user = user;
	if (rc != m.n)
		fail(name, "route_apply_answer returned %d but reported %d problems", rc, m.n);
	else if (check_messages(name, &m, wants, n_wants) == 0)
		ok = 1;
	answer_user = NULL;
	if (ok && n_wants > 0 && strcmp(t->host, "untouched") != 0) {
		fail(name, "out was changed although the answer was refused");
		ok = 0;
	}
	free_messages(&m);
	return ok ? 0 : -1;
}

static void expect_answer(const char *name, const struct config *cfg, const char *pattern,
                          const char *user, const char *answer, const char *host, int port,
                          const char *upstream_user)
{
	struct route_target t;

	if (apply_answer(name, cfg, pattern, user, answer, &t, NO_PROBLEMS) < 0)
		return;
	if (t.route != route_named(cfg, pattern))
		fail(name, "out->route is not [route %s]", pattern);
	else if (strcmp(t.host, host) != 0 || t.port != port || strcmp(t.user, upstream_user) != 0)
		fail(name, "went to %s port %d as %s, expected %s port %d as %s",
		     t.host, t.port, t.user, host, port, upstream_user);
	else
		pass(name);
}

static void expect_answer_keys(const char *name, const struct config *cfg, const char *pattern,
                               const char *user, const char *answer, const char *authorized_keys,
                               const char *identity, int auth)
{
	struct route_target t;

	if (apply_answer(name, cfg, pattern, user, answer, &t, NO_PROBLEMS) < 0)
		return;
	if (strcmp(t.authorized_keys, authorized_keys) != 0 || !same_string(t.identity, identity) ||
	    t.auth != auth)
		fail(name, "got authorized_keys \"%s\" identity %s auth %d, expected \"%s\" %s %d",
		     t.authorized_keys, t.identity ? t.identity : "NULL", t.auth, authorized_keys,
		     identity ? identity : "NULL", auth);
	else
		pass(name);
}

static void expect_bad_answer(const char *name, const struct config *cfg, const char *pattern,
                              const char *user, const char *answer,
                              const struct want *wants, size_t n_wants)
{
	struct route_target t;

	if (apply_answer(name, cfg, pattern, user, answer, &t, wants, n_wants) == 0)
		pass(name);
}

/* The file the answer tests apply their answers over. */
static int load_answer_routes(struct config *cfg)
{
	char text[2048];

	format_text(text, sizeof(text), SERVER_ID          /* 1-4 */
	            "[route *]\n"
	            "lookup = %s/lookup-ok %%u\n"
	            "user = def-%%u\n"
	            "auth = password,publickey\n"
	            "[route carol]\n"
	            "upstream = default.example:2200\n"
	            "lookup = %s/lookup-ok\n"
	            "authorized_keys = %s/ak\n"
	            "identity = id2\n"
	            "[route keyonly]\n"
	            "lookup = %s/lookup-ok\n"
	            "auth = publickey\n", tmpdir, tmpdir, tmpdir, tmpdir);
	return load_good("answers: file", text, cfg);
}

static void test_answer_good(void)
{
	char answer[1024], ak[512], id2[512];
	struct config cfg;

	if (load_answer_routes(&cfg) < 0)
		goto out;
	snprintf(ak, sizeof(ak), "%s/ak", tmpdir);
	snprintf(id2, sizeof(id2), "%s/id2", tmpdir);
	expect_answer("answer overrides upstream and user", &cfg, "*", "bob",
	              "upstream = new.example:2222\nuser = other\n", "new.example", 2222, "other");
	expect_answer("answer: user from the section (%u expanded)", &cfg, "*", "bob",
	              "upstream = h\n", "h", 22, "def-bob");
	expect_answer_keys("answer: auth from the section, publickey cleared without keys", &cfg, "*",
	                   "bob", "upstream = h\n", "", "id", AUTH_PASSWORD);
	expect_answer("empty answer: the section's upstream, the client's name", &cfg, "carol",
	              "carol", "", "default.example", 2200, "carol");
	expect_answer_keys("empty answer: the section's keys and identity", &cfg, "carol", "carol", "",
	                   ak, "id2", AUTH_ALL);
	expect_answer("answer: comments, blank lines, CRLF, inline comment", &cfg, "carol", "carol",
	              "# a comment\n\n  ; another\r\n\tuser = u2   ; inline\r\n",
	              "default.example", 2200, "u2");
	expect_answer("answer: an upstream list, its first host in use", &cfg, "*", "bob",
	              "upstream = a.example, b.example:2200\n", "a.example", 22, "def-bob");
	expect_answer("answer: bracketed IPv6 upstream", &cfg, "*", "bob",
	              "upstream = [2001:db8::1]:2200\n", "2001:db8::1", 2200, "def-bob");
	expect_answer("answer: UTF-8 user name", &cfg, "carol", "carol",
	              "user = \xc3\xa9t\xc3\xa9\n", "default.example", 2200, "\xc3\xa9t\xc3\xa9");
	expect_answer("answer: last line without newline", &cfg, "*", "bob", "upstream = last.example",
	              "last.example", 22, "def-bob");
	format_text(answer, sizeof(answer), "upstream = h\nauthorized_keys = %s/ak\nidentity = %s/id2\n"
	            "user = bob\n", tmpdir, tmpdir);
	expect_answer_keys("answer gives authorized_keys, identity and user", &cfg, "*", "bob", answer,
	                   ak, id2, AUTH_PASSWORD | AUTH_PUBLICKEY);
	expect_answer_keys("answer: relative identity next to route.ini", &cfg, "*", "bob",
	                   "upstream = h\nidentity = id\n", "", "id", AUTH_PASSWORD);
	format_text(answer, sizeof(answer), "upstream = h\nauthorized_keys = %s/ak\n", tmpdir);
	expect_answer_keys("answer gives the keys a publickey-only route needs", &cfg, "keyonly",
	                   "keyonly", answer, ak, "id", AUTH_PUBLICKEY);
out:
	config_free(&cfg);
}

static void test_answer_refused(void)
{
	char answer[1024];
	struct config cfg;

	if (load_answer_routes(&cfg) < 0)
		goto out;
	format_text(answer, sizeof(answer), "upstream = h\nauthorized_keys = %s/ak\n", tmpdir);
	expect_bad_answer("answer: a pattern route's keys without user are refused", &cfg, "*", "bob",
	                  answer, WANT({ 0, "has no %u and user follows the client's name (%u), so "
	                                    "every key in it could log in as every matching account" }));
	expect_bad_answer("answer: upstream = %u is refused", &cfg, "*", "bob", "upstream = %u\n",
	                  WANT({ 1, "an answer may not contain %" }));
	expect_bad_answer("answer: no % anywhere, not even %%", &cfg, "*", "bob",
	                  "upstream = h\nuser = 100%%\n", WANT({ 2, "an answer may not contain %" }));
	expect_bad_answer("answer: a refused key still counts for twice", &cfg, "*", "bob",
	                  "upstream = %u.example\nupstream = h\n",
	                  WANT({ 1, "may not contain %" },
	                       { 2, "\"upstream\" given twice in the answer (first at line 1)" }));
	expect_bad_answer("answer: a section line", &cfg, "*", "bob", "[route x]\nupstream = h\n",
	                  WANT({ 1, "an answer has no sections" }));
	expect_bad_answer("answer: auth is not allowed", &cfg, "*", "bob",
	                  "upstream = h\nauth = password\n",
	                  WANT({ 2, "key \"auth\" is not allowed in an answer" }));
	expect_bad_answer("answer: lookup and lookup_timeout are not allowed", &cfg, "*", "bob",
	                  "lookup = /bin/sh\nupstream = h\nlookup_timeout = 1\n",
	                  WANT({ 1, "key \"lookup\" is not allowed" },
	                       { 3, "key \"lookup_timeout\" is not allowed" }));
	expect_bad_answer("answer: certificate_authority is not allowed", &cfg, "*", "bob",
	                  "upstream = h\ncertificate_authority = ca\n",
	                  WANT({ 2, "key \"certificate_authority\" is not allowed" }));
	expect_bad_answer("answer: an identity route.ini does not name (the host key)", &cfg, "*",
	                  "bob", "upstream = h\nidentity = hk\n",
	                  WANT({ 2, "identity hk is not one that route.ini names" }));
	expect_bad_answer("answer: unknown key", &cfg, "*", "bob", "upstream = h\ncolour = red\n",
	                  WANT({ 2, "key \"colour\" is not allowed" }));
	expect_bad_answer("answer: key given twice", &cfg, "*", "bob", "upstream = a\nupstream = b\n",
	                  WANT({ 2, "\"upstream\" given twice in the answer (first at line 1)" }));
	expect_bad_answer("answer without upstream over a route without one", &cfg, "*", "bob",
	                  "user = x\n", WANT({ 0, "the answer has no upstream" }));
	expect_bad_answer("empty answer over a route without upstream", &cfg, "*", "bob", "",
	                  WANT({ 0, "the answer has no upstream" }));
	expect_bad_answer("answer: line without =", &cfg, "carol", "carol", "upstream h\nuser: x\n",
	                  WANT({ 1, "expected \"key = value\"" }, { 2, "expected \"key = value\"" }));
	expect_bad_answer("answer: missing key name", &cfg, "carol", "carol", "= h\n",
	                  WANT({ 1, "missing key name" }));
	expect_bad_answer("answer: empty value", &cfg, "carol", "carol", "user =\n",
	                  WANT({ 1, "empty value for \"user\" in the answer" }));
	expect_bad_answer("answer: the only publickey route gets no keys", &cfg, "keyonly", "keyonly",
	                  "upstream = h\n",
	                  WANT({ 0, "[route keyonly] allows only publickey and the answer gives no "
	                            "authorized_keys" }));
	{
		char user[301];

		memset(user, 'u', sizeof(user) - 1);
		user[sizeof(user) - 1] = '\0';
		expect_bad_answer("answer: a name too long for the upstream user", &cfg, "carol", user, "",
		                  WANT({ 0, "does not fit" }));
	}
out:
	config_free(&cfg);
}

/* Values go through route.ini's own checks. */
static void test_answer_values(void)
{
	char answer[1024];
	struct config cfg;

	if (load_answer_routes(&cfg) < 0)
		goto out;
	expect_bad_answer("answer: bad upstreams", &cfg, "carol", "carol",
	                  "upstream = h:0\n", WANT({ 1, "bad port \"0\"" }));
	expect_bad_answer("answer: bare IPv6", &cfg, "carol", "carol",
	                  "upstream = ::1\n", WANT({ 1, "in brackets" }));
	expect_bad_answer("answer: bad host character", &cfg, "carol", "carol",
	                  "upstream = h/x\n", WANT({ 1, "invalid character \"/\" in upstream host" }));
	expect_bad_answer("answer: bad user character", &cfg, "carol", "carol",
	                  "user = a b\n", WANT({ 1, "invalid character \" \" in user" }));
	expect_bad_answer("answer: relative authorized_keys", &cfg, "carol", "carol",
	                  "authorized_keys = ak\n", WANT({ 1, "authorized_keys \"ak\" is not an absolute path" }));
	format_text(answer, sizeof(answer), "authorized_keys = %s/nothere\n", tmpdir);
	expect_bad_answer("answer: missing authorized_keys", &cfg, "carol", "carol", answer,
	                  WANT({ 1, "nothere: No such file or directory" }));
	expect_bad_answer("answer: group-readable identity", &cfg, "carol", "carol",
	                  "identity = id640\n", WANT({ 1, "identity id640 is readable by group or others" }));
	expect_bad_answer("answer: identity is not a key", &cfg, "carol", "carol",
	                  "identity = notakey\n", WANT({ 1, "identity notakey is not a usable private key" }));
	expect_bad_answer("answer: several problems, in line order", &cfg, "*", "bob",
	                  "colour = red\nupstream = h:0\n[x]\n",
	                  WANT({ 1, "colour" }, { 2, "bad port" }, { 3, "no sections" }));
out:
	config_free(&cfg);
	format_text(answer, sizeof(answer), SERVER "[route n]\nlookup = %s/lookup-ok\n", tmpdir);
	if (load_good("answers without any identity: file", answer, &cfg) == 0) {
		format_text(answer, sizeof(answer), "upstream = h\nauthorized_keys = %s/ak\n", tmpdir);
		expect_bad_answer("answer: authorized_keys with no identity anywhere", &cfg, "n", "n",
		                  answer, WANT({ 2, "authorized_keys but no identity" }));
	}
	config_free(&cfg);
}

/* Program output is untrusted bytes. */
static void test_answer_bytes(void)
{
	size_t max = (size_t)ini_max_line - 3, big = 100000;
	struct config cfg;
	char *answer;

	if (load_answer_routes(&cfg) < 0)
		goto out;
	expect_bad_answer("answer: invalid UTF-8", &cfg, "*", "bob", "upstream = h\xff\n",
	                  WANT({ 1, "not valid UTF-8" }, { 0, "the answer has no upstream" }));
	expect_bad_answer("answer: overlong UTF-8", &cfg, "carol", "carol", "user = \xc0\xaf\n",
	                  WANT({ 1, "not valid UTF-8" }));
	expect_bad_answer("answer: UTF-8 surrogate", &cfg, "carol", "carol", "user = \xed\xa0\x80\n",
	                  WANT({ 1, "not valid UTF-8" }));
	expect_bad_answer("answer: truncated UTF-8", &cfg, "carol", "carol", "user = a\xc3",
	                  WANT({ 1, "not valid UTF-8" }));
	expect_bad_answer("answer: C1 control character", &cfg, "carol", "carol", "user = a\xc2\x9b\n",
	                  WANT({ 1, "not valid UTF-8" }));
	expect_bad_answer("answer: control character", &cfg, "*", "bob", "upstream = h\x01x\n",
	                  WANT({ 1, "control character 0x01" }, { 0, "no upstream" }));
	expect_bad_answer("answer: escape sequence", &cfg, "carol", "carol", "user = \x1b[31mred\n",
	                  WANT({ 1, "control character 0x1b" }));
	expect_bad_answer("answer: CR inside a line", &cfg, "carol", "carol", "user = a\rb\n",
	                  WANT({ 1, "control character 0x0d" }));
	expect_bad_answer("answer: binary garbage", &cfg, "*", "bob", "\x89PNG\r\n\x1a\n\x7f\x80\x81\n",
	                  WANT({ 1, "not valid UTF-8" }, { 2, "control character 0x1a" },
	                       { 3, "control character 0x7f" }, { 0, "no upstream" }));
	answer = malloc(big + 32);
	if (answer == NULL)
		exit(2);
	memset(answer, '#', max);
	strcpy(answer + max, "\nupstream = h\n");
	expect_answer("answer: a line of the longest length route.ini takes", &cfg, "*", "bob", answer,
	              "h", 22, "def-bob");
	memset(answer, '#', max + 1);
	strcpy(answer + max + 1, "\r\nupstream = h\n");
	expect_bad_answer("answer: one character longer is too long", &cfg, "*", "bob", answer,
	                  WANT({ 1, "line too long" }));
	strcpy(answer, "upstream = ");
	memset(answer + 11, 'x', big);
	strcpy(answer + 11 + big, "\n");
	expect_bad_answer("answer: a very long line", &cfg, "*", "bob", answer,
	                  WANT({ 1, "line too long" }, { 0, "no upstream" }));
	free(answer);
out:
	config_free(&cfg);
}

/* Files sshroute cannot read. Root reads any file, so as root these run
 * in a child that tests/unit_config starts again under setpriv without
 * the capabilities that let root past file modes (CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH): the fixtures stay root's, and a mode 000 file is
 * then as unreadable as for any other user. */
static void test_unreadable_files(void)
{
	char text[1024];

	expect_problems("unreadable host key",
	                "[server]\nknown_hosts = known_hosts\nhost_key = hk000\n[route a]\nupstream = h\n",
	                WANT({ 3, "cannot read host key hk000" }));
	expect_problems("unreadable known_hosts",
	                "[server]\nhost_key = hk\nknown_hosts = kh000\n[route a]\nupstream = h\n",
	                WANT({ 3, "cannot read known_hosts kh000" }));
	format_text(text, sizeof(text), SERVER_ID "[route a]\nupstream = h\nauthorized_keys = %s/ak000\n",
	            tmpdir);
	expect_problems("unreadable authorized_keys", text, WANT({ 7, "cannot read authorized_keys" }));
	expect_problems("unreadable identity", SERVER "identity = hk000\n[route a]\nupstream = h\n",
	                WANT({ 4, "cannot read identity hk000" }));
}

/* As root: test_unreadable_files in this program run again, without the
 * capabilities that read any file, in the fixture directory. */
static void test_unreadable_files_as_root(void)
{
	char self[4096], command[8192];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0) {
		fail("unreadable files", "cannot find this program");
		return;
	}
	self[n] = '\0';
	fflush(stdout);
	snprintf(command, sizeof(command), "setpriv --bounding-set=-dac_override,-dac_read_search "
	         "--inh-caps=-all '%s' --unreadable '%s'", self, tmpdir);
	if (system(command) != 0)
		fail("unreadable files", "the run without CAP_DAC_OVERRIDE failed");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "--unreadable") == 0) {
		snprintf(tmpdir, sizeof(tmpdir), "%s", argv[2]);
		if (chdir(tmpdir) != 0)
			return 2;
		test_unreadable_files();
		return unit_exit_status();
	}
	make_fixtures();
	if (geteuid() == 0)
		test_unreadable_files_as_root();
	else
		test_unreadable_files();

	test_valid_file();
	test_defaults();
	test_crlf_and_bom();
	test_exact_beats_pattern();
	test_first_pattern_wins();
	test_percent_u_rule();
	test_no_match();
	test_percent_percent();
	test_upstream_forms();
	test_key_mapping();
	test_authorized_keys_percent_u_rule();
	test_identity_order();
	test_relative_paths();
	test_untrusted_files();
	test_shared_keys();
	test_proxy_protocol();
	test_lookup_parsing();
	test_lookup_matching();
	test_lookup_argv();
	test_answer_good();
	test_answer_refused();
	test_answer_values();
	test_answer_bytes();
	test_certificate_authority();
	test_session_policy();
	test_upstream_lists();

	test_section_errors();
	test_key_errors();
	test_number_errors();
	test_upstream_errors();
	test_host_key_errors();
	test_known_hosts_errors();
	test_authorized_keys_errors();
	test_identity_errors();
	test_auth_errors();
	test_lookup_errors();
	test_syntax_errors();
	test_unreadable_file();
	test_all_errors_in_one_pass();

	remove_fixtures();
	return unit_exit_status();
}
