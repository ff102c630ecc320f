#!/bin/bash
# Dynamic routes (issue 6): a route's lookup program decides the upstream.
# The shipped examples, contrib/lookup-sqlite against a real SQLite file and
# contrib/lookup-http against a small local HTTP API; lookup programs that
# hang, crash, print garbage or too much, or try to inject keys; user names
# with shell metacharacters; sshroute -T and -t with lookups.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
for cmd in sqlite3 curl jq; do
	command -v "$cmd" >/dev/null || die "$cmd is not installed (make deps)"
done
ensure_users
pick_net

PARAMIKO=$SRT_ROOT/tests/helpers/paramiko_client.py
UNAVAILABLE='sshroute: the server for this account is unavailable'

start_upstream alice "${NET}11" 2022
start_upstream bob "${NET}12" 2022
{
	known_hosts_entry alice
	known_hosts_entry bob
	# srt-lk-override's own upstream, which its lookup always replaces:
	# listed, so that -t has nothing to warn about
	echo "[${NET}99]:2022 $(cut -d' ' -f1-2 "${UP_DIR[alice]}/ssh_host_ed25519_key.pub")"
} >"$T/known_hosts"

# --- the SQLite routing table
DB=$T/routes.db
sqlite3 "$DB" <<EOF || die "sqlite3 $DB"
CREATE TABLE routes (name TEXT PRIMARY KEY, upstream TEXT NOT NULL, upstream_user TEXT);
INSERT INTO routes VALUES ('srt-alice', '${NET}11:2022', NULL);
INSERT INTO routes VALUES ('srt-bob', '${NET}12:2022', NULL);
INSERT INTO routes VALUES ('srt-dave', '${NET}11:2022', 'srt-carol');
EOF

# --- the HTTP API (tests/helpers/lookup_http_server.py): one file per answer
API=$T/api
mkdir -p "$API"
api_port=$(free_port "${NET}5" 8080) || die "no free port for the HTTP API"
printf '{"upstream": "%s", "user": "srt-carol"}\n' "${NET}12:2022" >"$API/srt-web-carol.json"
# A line break in a value must not add a key.
printf '{"upstream": "%s\\nauth = none"}\n' "${NET}11:2022" >"$API/srt-web-bad.json"
echo 500 >"$API/srt-web-err.status"
/usr/bin/python3 "$SRT_ROOT/tests/helpers/lookup_http_server.py" "${NET}5" "$api_port" "$API" \
	</dev/null >"$T/api.log" 2>&1 &
track_pid $!
wait_listening "${NET}5" "$api_port" $! || die "HTTP API on ${NET}5:$api_port: $(tail -n 5 "$T/api.log")"

# --- lookup programs that misbehave, and one that records what it got
LK=$T/lk
mkdir -p "$LK"
# lookup_program NAME BODY: an executable /bin/sh script $LK/NAME.
lookup_program() {
	printf '#!/bin/sh\n%s\n' "$2" >"$LK/$1"
	chmod 755 "$LK/$1"
}
lookup_program hang "echo \$\$ >>$T/hang.pids; sleep 300 & echo \$! >>$T/hang.pids; wait"
lookup_program crash 'echo "about to crash" >&2; kill -SEGV $$'
lookup_program garbage 'echo "this is not a route"'
lookup_program big 'head -c 10000000 /dev/zero | tr "\0" x'
lookup_program inject 'echo "upstream = %u"'
lookup_program auth "printf 'upstream = ${NET}11:2022\\nauth = password\\n'"
lookup_program nouser 'exit 1'
lookup_program exit3 "printf 'upstream = ${NET}11:2022\\n'; exit 3"
lookup_program override "printf '# only the upstream\\n\\nupstream = ${NET}12:2022\\n'"
lookup_program record "printf '%s\\n' \"\$SSHROUTE_USER\" >>$T/seen; env >$T/env.\$\$; exit 1"

make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
log_level = verbose

[route srt-lk-hang]
lookup = $LK/hang
lookup_timeout = 2

[route srt-lk-crash]
lookup = $LK/crash

[route srt-lk-garbage]
lookup = $LK/garbage

[route srt-lk-big]
lookup = $LK/big

[route srt-lk-inject]
lookup = $LK/inject

[route srt-lk-auth]
lookup = $LK/auth

[route srt-lk-nouser]
lookup = $LK/nouser

[route srt-lk-exit3]
lookup = $LK/exit3

; the section's upstream (nothing listens there) and user are defaults
; that the answer overrides: it names only the upstream
[route srt-lk-override]
upstream = ${NET}99:2022
user = srt-carol
lookup = $LK/override

[route srt-web-*]
lookup = $SRT_ROOT/contrib/lookup-http http://${NET}5:$api_port %u

; no %u: every name reaches the program, in SSHROUTE_USER
[route srt-x*]
lookup = $LK/record

[route *]
lookup = $SRT_ROOT/contrib/lookup-sqlite $DB %u
lookup_timeout = 10
EOF

start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3

# landing USER EXPECTED_HOST [EXPECTED_REMOTE_USER] [CASE]
landing() {
	local user=$1 host=$2 remote_user=${3:-$1} name=${4:-"$1 lands on $2 as ${3:-$1}"} out rc
	out=$(gw_ssh gw "$user" 'echo "$(hostname) $(whoami)"' </dev/null 2>"$T/err")
	rc=$?
	if [ "$rc" = 0 ] && [ "$out" = "$host $remote_user" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
}

# refused USER CASE: "Permission denied (...)", as for a wrong password;
# what ssh said is left in REFUSAL.
refused() {
	local out rc
	out=$(PW=$WRONG_PASSWORD gw_ssh gw "$1" hostname </dev/null 2>&1)
	rc=$?
	if [ "$rc" = 255 ] && printf '%s' "$out" | grep -q 'Permission denied ('; then
		ok "$2"
	else
		not_ok "$2" "exit $rc, output '$out'"
	fi
	REFUSAL=$(printf '%s' "$out" | grep 'Permission denied' | sed 's/^.*: Permission/Permission/')
}

# unavailable USER CASE: sshroute's disconnect message, nobody let in.
unavailable() {
	local out err rc
	out=$(LOGLEVEL=INFO PW=${PASSWORD[srt-alice]} gw_ssh gw "$1" hostname </dev/null 2>"$T/err")
	rc=$?
	err=$(cat "$T/err")
	if [ "$rc" = 255 ] && [ -z "$out" ] && printf '%s' "$err" | grep -qF "$UNAVAILABLE"; then
		ok "$2"
	else
		not_ok "$2" "exit $rc, stdout '$out', stderr '$err'"
	fi
}

# log_mark / log_since: the gateway's log lines written after the mark.
log_mark() { MARK=$(wc -l <"${GW_LOG[gw]}"); }
log_since() { tail -n "+$((MARK + 1))" "${GW_LOG[gw]}"; }

# check_new_log CASE WORD...: a line logged since the mark holds every WORD.
check_new_log() {
	local name=$1 lines word
	shift
	lines=$(log_since)
	for word in "$@"; do
		lines=$(printf '%s\n' "$lines" | grep -iF -- "$word")
	done
	if [ -n "$lines" ]; then ok "$name"; else not_ok "$name" "no new log line with: $*; new lines: $(log_since | tail -n 6)"; fi
}

# ------------------------------------------------------------ SQLite
landing srt-alice host-alice
landing srt-bob host-bob
PW=${PASSWORD[srt-carol]} landing srt-dave host-alice srt-carol "sqlite: upstream_user sets the upstream user"
refused srt-alice "sqlite: a wrong password is refused"
wrong=$REFUSAL
refused srt-nobody "sqlite: a user without a row is refused"
expect_eq "sqlite: no row looks the same as a wrong password" "$wrong" "$REFUSAL"

gw_pid=${GW_PID[gw]}
sqlite3 "$DB" "UPDATE routes SET upstream = '${NET}12:2022' WHERE name = 'srt-alice';
	INSERT INTO routes VALUES ('srt-team-red', '${NET}11:2022', NULL);
	DELETE FROM routes WHERE name = 'srt-dave';" || die "sqlite3 UPDATE"
landing srt-alice host-bob srt-alice "sqlite: after an UPDATE, srt-alice lands on her new host"
landing srt-team-red host-alice srt-team-red "sqlite: an INSERTed user is routed"
refused srt-dave "sqlite: a DELETEd user is refused"
if [ "${GW_PID[gw]}" = "$gw_pid" ] && alive "$gw_pid"; then
	ok "sqlite: no restart was needed"
else
	not_ok "sqlite: no restart was needed" "the listener $gw_pid is gone"
fi
if grep -F 'user=srt-alice' "${GW_LOG[gw]}" | grep -qF "upstream=${NET}12:2022"; then
	ok "sqlite: the log names the upstream the lookup chose"
else
	not_ok "sqlite: the log names the upstream the lookup chose" "no route line for srt-alice to ${NET}12:2022"
fi

# The contrib script on its own: names never become SQL.
for evil in "x' OR '1'='1" "srt-bob'; DROP TABLE routes; --" "srt-bob' --"; do
	out=$("$SRT_ROOT/contrib/lookup-sqlite" "$DB" "$evil" 2>&1)
	expect_eq "lookup-sqlite: \"$evil\" finds nothing (exit 1, no output)" "1:" "$?:$out"
done
expect_eq "lookup-sqlite: the table is intact" 3 "$(sqlite3 "$DB" 'SELECT count(*) FROM routes')"
"$SRT_ROOT/contrib/lookup-sqlite" "$T/no-such.db" srt-bob >/dev/null 2>&1
expect_eq "lookup-sqlite: a missing database is a failure (exit 2), not 'no such user'" 2 "$?"
expect_eq "lookup-sqlite: a missing database is not created" no "$([ -e "$T/no-such.db" ] && echo yes || echo no)"
sqlite3 "$T/nl.db" "CREATE TABLE routes (name TEXT PRIMARY KEY, upstream TEXT NOT NULL, upstream_user TEXT);
	INSERT INTO routes VALUES ('srt-bob', 'h1' || char(10) || 'auth = none', NULL);" || die "sqlite3 nl.db"
out=$("$SRT_ROOT/contrib/lookup-sqlite" "$T/nl.db" srt-bob 2>/dev/null)
expect_eq "lookup-sqlite: a value with a line break is refused (exit 2, no output)" "2:" "$?:$out"

# ------------------------------------------------------------ HTTP
PW=${PASSWORD[srt-carol]} landing srt-web-carol host-bob srt-carol "http: the API's answer routes the user"
refused srt-web-none "http: a 404 is refused like a user without a route"
expect_eq "http: 404 looks the same as a wrong password" "$wrong" "$REFUSAL"
log_mark
unavailable srt-web-bad "http: a line break in a JSON value: unavailable"
check_new_log "http: a line break in a JSON value: the log says why" srt-web-bad "bad upstream"
log_mark
unavailable srt-web-err "http: status 500: unavailable"
check_new_log "http: status 500: the log says why" "status 500"
expect_match "http: the API was asked for the user" "^/route/srt-web-carol$" "$(cat "$API/requests.log")"
out=$("$SRT_ROOT/contrib/lookup-http" "http://${NET}99:9" srt-bob 2>/dev/null)
expect_eq "lookup-http: API down is a failure (exit 2), not 'no such user'" "2:" "$?:$out"
out=$("$SRT_ROOT/contrib/lookup-http" "http://${NET}5:$api_port" "../srt-web-carol" 2>&1)
expect_eq "lookup-http: a name with / or .. is never sent" "1:" "$?:$out"

# ------------------------------------------------------------ broken lookups
# failing USER WHAT LOGWORD: the client is told "unavailable", the log says
# why, and the next client is served.
failing() {
	log_mark
	unavailable "$1" "$2: the client is told the server is unavailable"
	check_new_log "$2: the log says why" "$1" "$3"
	landing srt-bob host-bob srt-bob "$2: the next login works"
}

start=$(date +%s%N)
failing srt-lk-hang "lookup hangs" timeout
elapsed=$((($(date +%s%N) - start) / 1000000))
# The whole case includes one good login after the timeout of 2 s.
if [ "$elapsed" -ge 1900 ] && [ "$elapsed" -lt 12000 ]; then
	ok "lookup hangs: killed at lookup_timeout (${elapsed} ms)"
else
	not_ok "lookup hangs: killed at lookup_timeout" "the case took ${elapsed} ms"
fi
# shellcheck disable=SC2046
expect_gone "lookup hangs: the program and its child are gone" 5 $(cat "$T/hang.pids" 2>/dev/null)
failing srt-lk-crash "lookup crashes (SIGSEGV)" "signal"
check_new_log "lookup crashes (SIGSEGV): what it said on stderr is logged" "srt-lk-crash" "said" "about to crash"
failing srt-lk-garbage "lookup prints garbage" "key = value"
failing srt-lk-big "lookup prints 10 MB" "64 KiB"
failing srt-lk-inject "lookup answers upstream = %u" "%"
failing srt-lk-auth "lookup answers auth = password" "auth"
failing srt-lk-exit3 "lookup exits 3 after a good answer" "status 3"

log_mark
refused srt-lk-nouser "lookup exits 1 silently: refused"
expect_eq "lookup exits 1 silently: looks the same as an unknown user" "$wrong" "$REFUSAL"
check_new_log "lookup exits 1 silently: logged as no such user" srt-lk-nouser "no such user"

PW=${PASSWORD[srt-carol]} landing srt-lk-override host-bob srt-carol \
	"the answer's upstream overrides the section's, the section's user stays"

# ------------------------------------------------------------ hostile names
# Sent with paramiko: OpenSSH refuses some of these names. srt-x* names go
# to a lookup without %u (in SSHROUTE_USER); the last one only matches the
# %u route, which it fails.
names=(
	"srt-x;touch $T/mark1"
	"srt-x\$(touch $T/mark2)"
	"srt-x\`touch $T/mark3\`"
	"srt-x' || touch $T/mark4 '"
	"\$(touch $T/mark5)"
)
pids=()
i=0
for name in "${names[@]}"; do
	i=$((i + 1))
	timeout -k 5 "$CLIENT_TIMEOUT" /usr/bin/python3 "$PARAMIKO" "${NET}1" 2222 "$name" \
		"$T/client_known_hosts" --password "$WRONG_PASSWORD" hostname \
		>"$T/pm$i.out" 2>&1 </dev/null &
	pids+=($!)
done
i=0
for name in "${names[@]}"; do
	i=$((i + 1))
	wait "${pids[$((i - 1))]}"
	rc=$?
	if [ "$rc" = 5 ] && grep -q 'AUTH FAILED' "$T/pm$i.out"; then
		ok "name $i ($name): refused"
	else
		not_ok "name $i ($name): refused" "exit $rc: $(cat "$T/pm$i.out")"
	fi
done
marks=$(ls "$T"/mark* 2>/dev/null)
expect_eq "names with shell metacharacters never reach a shell (no marker file)" "" "$marks"
for name in "${names[@]:0:4}"; do
	if grep -qxF -- "$name" "$T/seen" 2>/dev/null; then
		ok "the lookup got ($name) intact in SSHROUTE_USER"
	else
		not_ok "the lookup got ($name) intact in SSHROUTE_USER" "seen: $(cat "$T/seen" 2>/dev/null)"
	fi
done
if grep -qF -- "${names[4]}" "$T/seen" 2>/dev/null; then
	not_ok "a name failing the %u rule skips the %u route" "the record program saw it"
else
	ok "a name failing the %u rule skips the %u route"
fi
# One file per run of the program (the clients above ran at once).
env_file=$(ls "$T"/env.* 2>/dev/null | head -n 1)
# (PWD is dash's own.)
env_names=$(cut -d= -f1 "$env_file" 2>/dev/null | grep -v '^PWD$' | sort | tr '\n' ' ')
expect_eq "the lookup's environment is clean" \
	"PATH SSHROUTE_CLIENT_ADDR SSHROUTE_CLIENT_PORT SSHROUTE_USER " "$env_names"
expect_eq "the lookup's PATH" "PATH=/usr/local/bin:/usr/bin:/bin" "$(grep '^PATH=' "$env_file" 2>/dev/null)"
expect_match "the lookup gets the client's address and port" \
	'SSHROUTE_CLIENT_ADDR=127\.[0-9.]+ SSHROUTE_CLIENT_PORT=[1-9][0-9]*$' \
	"$(grep '^SSHROUTE_CLIENT_' "$env_file" 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"

# ------------------------------------------------------------ sshroute -T
out=$("$SSHROUTE" -T srt-bob -f "$T/route.ini" 2>&1)
rc=$?
expect_eq "-T: a user found by the lookup: exit 0" 0 "$rc"
expect_match "-T: shows the lookup command" "^lookup: $SRT_ROOT/contrib/lookup-sqlite $DB" "$out"
expect_match "-T: shows the lookup's upstream" "^upstream: ${NET}12\$" "$out"
expect_match "-T: shows the lookup's port" '^port: 2022$' "$out"
out=$("$SSHROUTE" -T srt-web-carol -f "$T/route.ini" 2>&1)
expect_match "-T: shows the lookup's user" '^user: srt-carol$' "$out"
"$SSHROUTE" -T srt-nobody -f "$T/route.ini" >/dev/null 2>&1
expect_eq "-T: no such user: exit 1" 1 "$?"
"$SSHROUTE" -T srt-lk-nouser -f "$T/route.ini" >/dev/null 2>&1
expect_eq "-T: the lookup exits 1: exit 1" 1 "$?"
err=$("$SSHROUTE" -T srt-lk-exit3 -f "$T/route.ini" 2>&1 >/dev/null)
rc=$?
expect_eq "-T: the lookup fails: exit 6" 6 "$rc"
expect_match "-T: the lookup fails: the reason on stderr" "status 3" "$err"
err=$("$SSHROUTE" -T srt-lk-inject -f "$T/route.ini" 2>&1 >/dev/null)
expect_eq "-T: a refused answer: exit 6" 6 "$?"

# ------------------------------------------------------------ sshroute -t
out=$("$SSHROUTE" -t -f "$T/route.ini" 2>&1)
expect_eq "-t: the table with lookups is OK" "configuration OK" "$out"
printf 'this is not a program\n' >"$LK/noexec"
chmod 644 "$LK/noexec"
# bad_lookup CASE LINES: -t refuses a table whose one route has LINES.
bad_lookup() {
	local ini=$T/bad-$RANDOM.ini out rc
	printf '[server]\nhost_key = %s\nknown_hosts = %s\n\n[route *]\n%s\n' \
		"$GW_KEY" "$T/known_hosts" "$2" >"$ini"
	out=$("$SSHROUTE" -t -f "$ini" 2>&1)
	rc=$?
	if [ "$rc" = 3 ] && printf '%s' "$out" | grep -qF "$ini:6:"; then
		ok "-t: $1"
	else
		not_ok "-t: $1" "exit $rc, output '$out'"
	fi
}
bad_lookup "refuses a relative lookup program" "lookup = contrib/lookup-sqlite $DB %u"
bad_lookup "refuses a lookup program that is not executable" "lookup = $LK/noexec"
bad_lookup "refuses a lookup program that does not exist" "lookup = $LK/missing %u"
bad_lookup "refuses a directory as lookup program" "lookup = $LK"
bad_lookup "refuses lookup_timeout = 0" "lookup_timeout = 0
lookup = $LK/nouser"
bad_lookup "refuses lookup_timeout = 301" "lookup_timeout = 301
lookup = $LK/nouser"

# ------------------------------------------------------------ the end
leftover=$(pgrep -f "^/bin/sh $LK/" 2>/dev/null | tr '\n' ' ')
expect_eq "no lookup program is left running" "" "$leftover"
check_no_passwords "no password in the log" "${GW_LOG[gw]}"
# Key probes (a key without a signature) run no lookup program: OpenSSH's
# ssh with only a public key probes it, and cannot sign.
ssh-keygen -q -t ed25519 -N '' -C probe -f "$T/probe" || die "ssh-keygen"
rm -f "$T/probe"
pk_ok=0
for i in $(seq 10); do
	timeout -k 5 20 ssh -F /dev/null -v -o UserKnownHostsFile="$T/client_known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
		-o PreferredAuthentications=publickey -o IdentitiesOnly=yes -o IdentityFile="$T/probe.pub" \
		-o IdentityAgent=none "${GSSAPI_OFF[@]}" -p 2222 -l "srt-xprobe-$i" "${NET}1" true \
		</dev/null >/dev/null 2>"$T/probe.err"
	grep -q "Server accepts key" "$T/probe.err" && pk_ok=$((pk_ok + 1))
done
expect_eq "10 key probes on a lookup route: each answered PK_OK, so that a client may sign" 10 "$pk_ok"
if grep -q "srt-xprobe" "$T/seen" 2>/dev/null; then
	not_ok "... and none runs the lookup program" "it ran for: $(grep srt-xprobe "$T/seen" | tr '\n' ' ')"
else
	ok "... and none runs the lookup program"
fi

check_no_leftovers "no sshroute process left after the sessions" gw

[ "$N_NOT_OK" = 0 ] || show_log gw 30
finish
