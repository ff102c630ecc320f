/* config.h: the routing table (route.ini) and route lookup. */
#ifndef SSHROUTE_CONFIG_H
#define SSHROUTE_CONFIG_H

#include <stddef.h>

#include "log.h"

/* login_grace_time's default; also the time a PROXY header may take when
 * login_grace_time is 0 (no limit). */
#define DEFAULT_LOGIN_GRACE_TIME 60

/* Longest user name that %u accepts, and buffer sizes for an expanded route. */
#define USER_NAME_MAX 32
#define DEFAULT_PORT 22  /* an upstream's, when route.ini gives none */
#define ROUTE_HOST_MAX 256
#define ROUTE_USER_MAX 256

/* Authentication methods a route allows (route key "auth"). */
#define AUTH_PUBLICKEY 1
#define AUTH_PASSWORD 2
#define AUTH_KBDINT 4
#define AUTH_ALL (AUTH_PUBLICKEY | AUTH_PASSWORD | AUTH_KBDINT)
#define ROUTE_PATH_MAX 4096

/* Highest max_sessions and max_channels (channels of any kind, sessions
 * among them, open at once on one connection). */
#define MAX_SESSIONS_LIMIT 64
#define MAX_CHANNELS_LIMIT 256

/* An upstream list ("upstream = a, b:2222, c") holds at most this many
 * hosts; connect_timeout's default. */
#define UPSTREAMS_MAX 8
#define CONNECT_TIMEOUT_DEFAULT 5

/* How a route orders its upstream list (route key "balance"). */
enum balance { BALANCE_FIRST, BALANCE_USER, BALANCE_RANDOM };

/* One host of an upstream list, as written (host may hold %u). */
struct upstream_template {
	char *host;      /* IPv6 without brackets */
	int port;        /* 1..65535, 22 by default */
};

/* Highest max_session_time: a week. */
#define MAX_SESSION_TIME_LIMIT 604800

/* What a route lets the client forward (allow_tcp_forwarding,
 * allow_agent_forwarding, x11_forwarding); FORWARD_ALL by default. */
#define FORWARD_LOCAL 1    /* direct-tcpip: ssh -L, -D, -W, ProxyJump */
#define FORWARD_REMOTE 2   /* tcpip-forward: ssh -R */
#define FORWARD_AGENT 4    /* ssh -A */
#define FORWARD_X11 8      /* ssh -X, -Y */
#define FORWARD_ALL (FORWARD_LOCAL | FORWARD_REMOTE | FORWARD_AGENT | FORWARD_X11)

/* Route key "lookup": at most this many words (program and arguments), and
 * the default of "lookup_timeout". */
#define LOOKUP_ARGS_MAX 32
#define LOOKUP_TIMEOUT_DEFAULT 5

/* One [route NAME] section, as written in the file. */
struct route {
	char *pattern;   /* NAME of [route NAME] */
	int line;        /* line of the section header */
	int is_glob;     /* NAME contains * ? or [ : matched with fnmatch(3) */
	struct upstream_template upstreams[UPSTREAMS_MAX];  /* in the order written; */
	size_t n_upstreams;  /* none only in a route with lookup (the answer gives them) */
	enum balance balance;
	int connect_timeout; /* seconds, 0: the server's */
	char *user;      /* upstream user template (may hold %u), NULL: the client's name */
	char *authorized_keys;  /* client keys file template (may hold %u), NULL: none */
	char *identity;  /* private key for the upstream, NULL: use the server's */
	char *certificate_authority;  /* CA key for upstream certificates, NULL: none here */
	int certificate_validity;     /* seconds, 0: the server's */
	int record;                   /* record = yes: session channels are recorded */
	int record_input;             /* record_input = yes: the client's input too */
	int max_session_time;         /* seconds after login, -1: the server's */
	int forward_set;              /* FORWARD_* bits the route decides itself */
	int forward;                  /* of those, the allowed ones */
	int auth;        /* AUTH_* bits, default AUTH_ALL */
	char *lookup;          /* lookup command line (may hold %u), NULL: none */
	int lookup_timeout;    /* seconds, 1..300, default LOOKUP_TIMEOUT_DEFAULT */
	int uses_u;      /* an upstream, user, authorized_keys or lookup contains %u */
};

struct config {
	char *path;
	char **host_keys;            /* host_key paths, in file order */
	size_t n_host_keys;
	char *known_hosts;
	char *identity;              /* default private key for the upstream, NULL = none */
	char *certificate_authority; /* default CA key for upstream certificates, NULL = none */
	int certificate_validity;    /* seconds; default CERT_VALIDITY_DEFAULT (cert.h) */
	char *record_dir;            /* NULL: RECORD_DIR_DEFAULT (record.h) */
	long long record_max_size;   /* bytes per recording */
	long long record_keep_free;  /* bytes record_dir's file system keeps free */
	int max_session_time;        /* seconds after login, 0 = no limit */
	int forward;                 /* FORWARD_* bits allowed by default */
	int login_grace_time;        /* seconds, 0 = no limit; default 60 */
	int max_auth_tries;          /* default 6 */
	int max_sessions;            /* session channels open at once; default 10 */
	int max_channels;            /* channels of any kind open at once; default 64 */
	enum log_level log_level;    /* default LOG_LEVEL_INFO */
	int proxy_protocol;          /* connections start with a PROXY header */
	int idle_timeout;            /* seconds without channel data, 0 = no limit */
	int connect_timeout;         /* seconds to reach an upstream; default 5 */
	struct route *routes;        /* in file order */
	size_t n_routes;
};

/* One host of an upstream list, expanded. */
struct upstream_host {
	char host[ROUTE_HOST_MAX];
	int port;
};

/* A route resolved for one user: templates expanded. */
struct route_target {
	const struct route *route;
	char host[ROUTE_HOST_MAX];   /* the upstream in use: the first to try, then the */
	int port;                    /* one that answered (upstream_connect) */
	struct upstream_host hosts[UPSTREAMS_MAX];  /* in the order they are tried */
	size_t n_hosts;
	int connect_timeout;
	char user[ROUTE_USER_MAX];
	char authorized_keys[ROUTE_PATH_MAX];  /* expanded, "" = none */
	const char *identity;  /* the route's or else the server's path, NULL = none
	                        * (or identity_buf, when a lookup answer gave it) */
	const char *certificate_authority;  /* the CA that signs a certificate for the
	                        * upstream login instead of identity, NULL = none: the
	                        * route's CA, else the route's identity, else the
	                        * server's CA, else the server's identity is used */
	int certificate_validity;           /* seconds */
	int record, record_input;           /* the route's record and record_input */
	int max_session_time;               /* seconds after login, 0 = no limit */
	int forward;                        /* FORWARD_* bits allowed */
	int auth;              /* the route's AUTH_* bits; AUTH_PUBLICKEY is cleared
	                        * when there is no authorized_keys */
	char identity_buf[ROUTE_PATH_MAX];  /* holds an identity from a lookup answer:
	                        * so do not copy a route_target by assignment */
};

/* Called once per problem found, with a ready line "file:line: message"
 * (or "file: message" when no line applies). */
typedef void (*config_report_fn)(const char *message, void *ctx);

/* Reads and checks path into cfg (always initialised, so config_free is
 * always safe). Reports every problem through report and returns their
 * number: 0 means the configuration is usable. */
int config_load(const char *path, struct config *cfg, config_report_fn report, void *ctx);

/* With on (the default), config_load reads each identity and CA key to
 * check that it is usable. A connection's process turns that off before it
 * loads the table: those keys are then checked for their modes and owners
 * only, and read only after a client has logged in, for the route that
 * needs them (auth.c), so that no stranger's connection holds them in
 * memory. sshroute -t and -T check them whole. */
void config_read_secret_keys(int on);
void config_free(struct config *cfg);

/* 1 when name may be put into a %u template: [A-Za-z0-9._-]{1,USER_NAME_MAX},
 * not starting with '-'. */
int user_name_is_safe(const char *name);

/* Expands %u (to name) and %% in the first len characters of tmpl, which
 * need not be NUL-terminated (a word of a lookup line), into out; -1 when
 * it does not fit. The caller has checked name (user_name_is_safe). */
int expand_span(const char *tmpl, size_t len, const char *name, char *out, size_t size);

/* expand_span over the whole of tmpl. */
int expand_template(const char *tmpl, const char *name, char *out, size_t size);

/* 1 when %u appears in tmpl (%%u is a literal "%u", not a use). */
int template_uses_u(const char *tmpl);

/* Reads a lookup program's answer for user over route r: route.ini key
 * lines (upstream, user, authorized_keys, identity; blank lines and # or
 * ; comments allowed), checked as route.ini is. What it sets goes into
 * *draft, to be freed with config_free_answer. Every problem is reported
 * through report as "lookup for USER: line N: message"; the return value
 * is their number. answer is a C string: the caller must refuse output
 * that holds a NUL byte. */
int config_read_answer(const struct config *cfg, const struct route *r, const char *user,
                       const char *answer, struct route *draft, config_report_fn report_fn,
                       void *ctx);
void config_free_answer(struct route *draft);

/* The next word of a lookup line: skips blanks at *s and returns the
 * word's length there (0 at the end). */
size_t config_lookup_word(const char **s);


#endif
