#!/bin/bash
# The command line without a connection: -t on good and broken files
# (exit 3, every problem as file:line), -T (the route a user would take),
# -V, usage errors, and refusing to run on something that is not a
# connected stream socket (exit 4).

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute

make_gateway_key
echo "[127.0.0.1]:2222 $(cut -d' ' -f1-2 "$GW_KEY.pub")" >"$T/known_hosts"

# run_sshroute ARGS...: sets RC, OUT (stdout) and ERR (stderr).
run_sshroute() {
	OUT=$(timeout -k 5 20 "$SSHROUTE" "$@" </dev/null 2>"$T/stderr")
	RC=$?
	ERR=$(cat "$T/stderr")
}

# ---------------------------------------------------------------- -t, good file

cat >"$T/good.ini" <<EOF
# a comment
; another comment
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts   ; inline comment
login_grace_time = 30
max_auth_tries = 6
log_level = verbose

[route alice]
upstream = host-alice.example.net
user = alice

[route team-*]
upstream = %u.teams.example.net:2222

[route v6]
upstream = [2001:db8::1]:2200

[route *]
upstream = fallback.example.net
EOF
run_sshroute -t -f "$T/good.ini"
expect_eq "-t good file: exit 0" 0 "$RC"
expect_eq "-t good file: says configuration OK" "configuration OK" "$OUT"

# The commented sample: its only problems may be the key files it names,
# which are not installed here.
run_sshroute -t -f "$SRT_ROOT/route.ini"
other=$(printf '%s\n' "$ERR" | grep -E 'route\.ini:[0-9]+:' | grep -v -e '/etc/sshroute/' -e 'cannot read host key [^ ]*/ssh_host_ed25519_key' -e 'cannot read known_hosts [^ ]*/known_hosts')
if { [ "$RC" = 0 ] || [ "$RC" = 3 ]; } && [ -z "$other" ]; then
	ok "-t on the sample route.ini: no problem besides the key files"
else
	not_ok "-t on the sample route.ini" "exit $RC, stderr '$ERR'"
fi

# ---------------------------------------------------------------- -t, broken files

# broken NAME LINE BODY: route.ini BODY (with @KEY@ and @KH@ standing for a
# good host key and known_hosts) must fail -t with exit 3 and a message
# "FILE:LINE:" on stderr. LINE "-" only asks for the file name.
broken() {
	local name=$1 line=$2 ini=$T/broken-$N_OK-$N_NOT_OK.ini
	printf '%s\n' "$3" | sed "s|@KEY@|$GW_KEY|; s|@KH@|$T/known_hosts|" >"$ini"
	run_sshroute -t -f "$ini"
	local want="$ini:$line:"
	[ "$line" = - ] && want=$ini
	if [ "$RC" = 3 ] && printf '%s' "$ERR" | grep -qF -- "$want"; then
		ok "-t $name: exit 3, reported at line $line"
	else
		not_ok "-t $name" "want exit 3 and '$want' on stderr; got exit $RC, stderr '$ERR', stdout '$OUT'"
	fi
}

SERVER='[server]
host_key = @KEY@
known_hosts = @KH@'
ROUTE='[route alice]
upstream = host-alice.example.net'

broken "unknown key in [server]" 4 "$SERVER
colour = blue

$ROUTE"
broken "unknown key in a route" 7 "$SERVER

$ROUTE
colour = blue"
broken "unknown section" 5 "$SERVER

[router alice]
upstream = x

$ROUTE"
broken "route without upstream" 5 "$SERVER

[route bob]
user = bob

$ROUTE"
broken "duplicate route" 8 "$SERVER

$ROUTE

[route alice]
upstream = other.example.net"
broken "port out of range" 6 "$SERVER

[route alice]
upstream = host-alice.example.net:99999"
broken "port 0" 6 "$SERVER

[route alice]
upstream = host-alice.example.net:0"
broken "port not a number" 6 "$SERVER

[route alice]
upstream = host-alice.example.net:ssh"
broken "bad IPv6 upstream syntax" 6 "$SERVER

[route alice]
upstream = [2001:db8::1:2222"
broken "unknown %-sequence" 6 "$SERVER

[route alice]
upstream = %h.example.net"
broken "empty value" 7 "$SERVER

$ROUTE
user ="
broken "key given twice" 4 "$SERVER
known_hosts = @KH@

$ROUTE"
broken "bad log_level" 4 "$SERVER
log_level = loud

$ROUTE"
broken "max_auth_tries 0" 4 "$SERVER
max_auth_tries = 0

$ROUTE"
broken "login_grace_time not a number" 4 "$SERVER
login_grace_time = soon

$ROUTE"
broken "missing host key file" 2 "[server]
host_key = $T/no-such-key
known_hosts = @KH@

$ROUTE"
cp "$GW_KEY" "$T/open_key"
chmod 644 "$T/open_key"
broken "world-readable host key" 2 "[server]
host_key = $T/open_key
known_hosts = @KH@

$ROUTE"
cp "$GW_KEY" "$T/group_key"
chmod 640 "$T/group_key"
broken "group-readable host key" 2 "[server]
host_key = $T/group_key
known_hosts = @KH@

$ROUTE"
echo "this is not a key" >"$T/junk_key"
chmod 600 "$T/junk_key"
broken "host key file that holds no key" 2 "[server]
host_key = $T/junk_key
known_hosts = @KH@

$ROUTE"
broken "missing known_hosts file" 3 "[server]
host_key = @KEY@
known_hosts = $T/no-such-known-hosts

$ROUTE"
broken "no host_key" - "[server]
known_hosts = @KH@

$ROUTE"
broken "no known_hosts" - "[server]
host_key = @KEY@

$ROUTE"
broken "no routes" - "$SERVER"
broken "line too long" 6 "$SERVER

[route alice]
upstream = host-$(head -c 5000 /dev/zero | tr '\0' a).example.net"
broken "text outside key = value" 4 "$SERVER
just some words

$ROUTE"

# One authorized_keys for a whole pattern, the upstream user following the
# client's name: every key in it could log in as every matching account.
ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/id_shared" || die "ssh-keygen"
: >"$T/ak_shared"
broken "pattern route with one authorized_keys and the client's name" 8 "$SERVER
identity = $T/id_shared

[route team-*]
upstream = teams.example.net
authorized_keys = $T/ak_shared"
if printf '%s' "$ERR" | grep -qF "has no %u and user defaults to the client's name, so every key in it could log in as every matching account: add %u to the path or set user"; then
	ok "-t pattern route with one authorized_keys: the message says what to do"
else
	not_ok "-t pattern route with one authorized_keys: the message says what to do" "stderr '$ERR'"
fi

run_sshroute -t -f "$T/no-such-file.ini"
if [ "$RC" = 3 ] && printf '%s' "$ERR" | grep -qF "$T/no-such-file.ini"; then
	ok "-t missing file: exit 3, names the file"
else
	not_ok "-t missing file" "exit $RC, stderr '$ERR'"
fi

# All problems are found in one pass, not just the first.
printf '%s\n' "$SERVER" "colour = blue" "" "[route alice]" "upstream = h:0" "" "[route bob]" "upstream = %x" |
	sed "s|@KEY@|$GW_KEY|; s|@KH@|$T/known_hosts|" >"$T/many.ini"
run_sshroute -t -f "$T/many.ini"
missing=
for line in 4 7 10; do
	printf '%s' "$ERR" | grep -qF "$T/many.ini:$line:" || missing="$missing $line"
done
if [ "$RC" = 3 ] && [ -z "$missing" ]; then
	ok "-t reports every problem of a file (lines 4, 7, 10)"
else
	not_ok "-t reports every problem of a file" "exit $RC, lines not reported:${missing:- none}; stderr '$ERR'"
fi

# ---------------------------------------------------------------- -T

cat >"$T/routes.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts

[route alice]
upstream = host-alice.example.net
user = alice-up

[route team-*]
upstream = %u.teams.example.net:2222

[route team-blue]
upstream = blue.example.net:2200

[route t*]
upstream = t.example.net
user = t-%u

[route v6]
upstream = [2001:db8::1]:2200

[route v6-default-port]
upstream = [2001:db8::2]

[route pct]
upstream = pct.example.net
user = 100%%

[route te*]
upstream = te.example.net

[route -*]
upstream = %u.dash.example.net
EOF

# What -T prints of a route that sets no recording, time or forwarding.
DEFAULT_POLICY='record: no
max_session_time: 0 (no limit)
allow_tcp_forwarding: yes
allow_agent_forwarding: yes
x11_forwarding: yes'

# route_of NAME USER EXPECTED_ROUTE_LINE HOST PORT UPSTREAM_USER
route_of() {
	local want got first
	run_sshroute -T "$2" -f "$T/routes.ini"
	first=$(printf '%s\n' "$OUT" | head -n 1)
	want=$(printf 'upstream: %s\nport: %s\nuser: %s\nmethods: password,keyboard-interactive\n%s' \
		"$4" "$5" "$6" "$DEFAULT_POLICY")
	got=$(printf '%s\n' "$OUT" | tail -n +2)
	if [ "$RC" = 0 ] && printf '%s' "$first" | grep -Eq "^route: $3\$" && [ "$got" = "$want" ]; then
		ok "-T $1"
	else
		not_ok "-T $1" "exit $RC, stdout '$OUT', stderr '$ERR'"
	fi
}

ini='\(([^ ]*/)?routes\.ini'
route_of "exact route, user rewritten" alice "alice +$ini:5\)" host-alice.example.net 22 alice-up
route_of "pattern with %u in upstream" team-red "team-\* +$ini:9\)" team-red.teams.example.net 2222 team-red
route_of "exact route wins over an earlier pattern" team-blue "team-blue +$ini:12\)" blue.example.net 2200 team-blue
route_of "first matching pattern wins" teddy "t\* +$ini:15\)" t.example.net 22 t-teddy
route_of "name unsafe for %u skips the %u routes" 'team-a+b' "te\* +$ini:29\)" te.example.net 22 'team-a+b'
route_of "IPv6 upstream shown without brackets" v6 "v6 +$ini:19\)" 2001:db8::1 2200 v6
route_of "IPv6 upstream, default port" v6-default-port "v6-default-port +$ini:22\)" 2001:db8::2 22 v6-default-port
route_of "%% is a literal %" pct "pct +$ini:25\)" pct.example.net 22 '100%'

run_sshroute -T zed -f "$T/routes.ini"
if [ "$RC" = 1 ] && [ -z "$OUT" ] && printf '%s' "$ERR" | grep -q 'no route for user zed'; then
	ok "-T user without a route: exit 1, says so"
else
	not_ok "-T user without a route" "exit $RC, stdout '$OUT', stderr '$ERR'"
fi

# %u never expands to a name starting with "-": it would be an option in a
# lookup program's argv. The only route that matches such a name uses %u.
run_sshroute -T -oProxyCommand=x -f "$T/routes.ini"
if [ "$RC" = 1 ] && [ -z "$OUT" ] && printf '%s' "$ERR" | grep -q 'no route for user -oProxyCommand=x'; then
	ok "-T a name starting with - skips the %u routes: exit 1"
else
	not_ok "-T a name starting with - skips the %u routes" "exit $RC, stdout '$OUT', stderr '$ERR'"
fi

# ---------------------------------------------------------------- other options

run_sshroute -V
if [ "$RC" = 0 ] && printf '%s' "$OUT" | grep -Eq '^sshroute [0-9]+\.[0-9]+'; then
	ok "-V prints the version"
else
	not_ok "-V prints the version" "exit $RC, stdout '$OUT'"
fi

run_sshroute -Z
expect_eq "unknown option: usage error, exit 2" 2 "$RC"
run_sshroute -T
expect_eq "-T without a user: usage error, exit 2" 2 "$RC"
run_sshroute -f "$T/good.ini" extra-argument
expect_eq "extra argument: usage error, exit 2" 2 "$RC"

# ---------------------------------------------------------------- not a socket

# not_a_socket NAME CMD...: sshroute started on something that is not a
# connected stream socket exits 4 with one line on stderr.
not_a_socket() {
	local name=$1 rc lines
	shift
	timeout -k 5 20 "$@" >"$T/stdout" 2>"$T/stderr"
	rc=$?
	lines=$(grep -c . "$T/stderr")
	if [ "$rc" = 4 ] && [ "$lines" = 1 ] && [ ! -s "$T/stdout" ]; then
		ok "$name: exit 4, one line: $(cat "$T/stderr")"
	else
		not_ok "$name" "exit $rc, $lines line(s) on stderr: '$(cat "$T/stderr")', stdout '$(cat "$T/stdout")'"
	fi
}

not_a_socket "fd 0 is /dev/null" "$SSHROUTE" -f "$T/good.ini" </dev/null
# With LISTEN_FDS=1 for this very process, fd 3 is used; make it a plain file.
not_a_socket "fd 3 (LISTEN_FDS=1) is a file" \
	sh -c 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -f "$1" 3<"$1" </dev/null' "$SSHROUTE" "$T/good.ini"
# A connected datagram socket is a socket, but not a stream.
exec 9<>/dev/udp/127.0.0.1/9 && not_a_socket "fd 0 is a UDP socket" "$SSHROUTE" -f "$T/good.ini" <&9
exec 9<&-

finish
